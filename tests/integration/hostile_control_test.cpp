// asicmon-control under hostile REST input, as a real process with
// asicmon-store and asicmon-fakefarm (web UI on, every privileged command
// and web action in its action log): each bad request gets its exact 4xx,
// no command reaches a miner (the action log stays empty until the one valid
// command each test ends with, which shows the log would have told), and
// control answers /healthz after every barrage.
// Requests go over raw sockets, so they reach control exactly as written.
// Loopback range: 127.47.0.0/16, a /24 per test (N): farm 127.47.N.1-2,
// control 127.47.N.100, clients from 127.47.N.200-250.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "test_database.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kToken[] = "hostile-t0ken-0123456789";
// Control's memory after the flood stays below this. Under ASan freed memory
// waits in its quarantine (256 MB by default) before it is reused.
#ifdef __SANITIZE_ADDRESS__
constexpr int64_t kRssBoundKib = (200 + 300) * 1024;
#else
constexpr int64_t kRssBoundKib = 200 * 1024;
#endif

struct Reply {
  int status = 0;  // 0: no HTTP answer (closed, or nothing within the timeout)
  std::string head;
  std::string body;
};

// Reads one HTTP response from `fd`: the head, then Content-Length bytes.
// Pistache keeps the connection open after answering, so EOF cannot end it.
Reply ReadReply(int fd) {
  Reply reply;
  std::string in;
  char buf[16384];
  size_t body_at = std::string::npos;
  size_t length = 0;
  while (true) {
    if (body_at == std::string::npos) {
      const size_t end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        body_at = end + 4;
        reply.head = in.substr(0, end);
        std::string lower = reply.head;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const size_t cl = lower.find("content-length:");
        if (cl != std::string::npos) length = std::stoul(lower.substr(cl + 15));
        if (reply.head.rfind("HTTP/1.", 0) == 0 && reply.head.size() > 12) {
          reply.status = std::stoi(reply.head.substr(9, 3));
        }
      }
    }
    if (body_at != std::string::npos && in.size() >= body_at + length) {
      reply.body = in.substr(body_at, length);
      return reply;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    in.append(buf, static_cast<size_t>(n));
  }
  if (body_at == std::string::npos) reply.status = 0;
  return reply;
}

// A connection to ip:port from `source` (an address of this test's range).
int Connect(const std::string& ip, uint16_t port, const std::string& source) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
  // A bound for a hung control, not a race: control answers the slowest
  // case here (a body that never comes) after its 10 s body timeout, and a
  // loaded machine must not turn that answer into "no answer".
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes` as they are and reads the answer. Control may answer and
// stop reading before all is sent (a 413): the answer still counts. So the
// answer is read as soon as it arrives, not after the last byte is sent: the
// kernel discards received bytes not yet read when the peer's reset comes
// (control closes with our unread upload in its buffer), and on a loaded
// machine that reset can beat a late read.
Reply Exchange(const std::string& ip, uint16_t port, const std::string& bytes,
               const std::string& source) {
  const int fd = Connect(ip, port, source);
  if (fd < 0) return {};
  for (size_t sent = 0; sent < bytes.size();) {
    pollfd p{fd, POLLIN | POLLOUT, 0};
    if (poll(&p, 1, 60'000) <= 0 || (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) break;
    const ssize_t n = send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EAGAIN) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  Reply reply = ReadReply(fd);
  close(fd);
  return reply;
}

// One request as a well-behaved client would frame it (Content-Length true).
std::string Request(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& headers = "") {
  return fmt::format("{} {} HTTP/1.1\r\nHost: control\r\n{}Content-Length: {}\r\n\r\n{}", method,
                     target, headers, body.size(), body);
}
std::string Bearer(const std::string& token = kToken) {
  return "Authorization: Bearer " + token + "\r\n";
}

class HostileControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("hostile_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    database_ = std::make_unique<testing::TestDatabase>(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", database_->url().c_str(), 1);
    setenv("CONTROL_TOKEN", kToken, 1);
    for (const char* var : {"CONTROL_AUTH_READ", "ASICMON_INGEST", "ASICMON_PUBLISH",
                            "REBOOT_COOLDOWN_S", "MINER_HTTP_PORT", "POLL_TIMEOUT"}) {
      unsetenv(var);
    }
    action_log_ = (dir_ / "actions.jsonl").string();
  }

  // Starts the farm, store and control on 127.47.<subnet>: each test its
  // own, since ctest runs them side by side.
  void Start(int subnet) {
    net_ = fmt::format("127.47.{}", subnet);
    miner_ip_ = net_ + ".1";
    control_ip_ = net_ + ".100";
    setenv("CONTROL_BIND", (control_ip_ + ":0").c_str(), 1);
    farm_ = testing::StartFakeFarm({"--base", miner_ip_, "--count", "2", "--http-port", "8080",
                                    "--reboot-s", "1", "--action-log", action_log_});
    ASSERT_EQ(farm_.miners.size(), 2u);
    worker_ = farm_.miners[miner_ip_]["worker"].get<std::string>();
    store_ = std::make_unique<Subprocess>(std::vector<std::string>{BinPath("asicmon-store")},
                                          /*capture_stderr=*/true);
    control_ = std::make_unique<Subprocess>(
        std::vector<std::string>{BinPath("asicmon-control"), "--miner-http-port", "8080",
                                 "--poll-timeout", "2", "--miner-back-timeout", "10"},
        /*capture_stderr=*/true);
    ASSERT_TRUE(control_->WaitForStdout("READY", 20s)) << control_->stderr_text();
    const std::string& out = control_->stdout_text();
    port_ = static_cast<uint16_t>(std::stoi(out.substr(out.find("READY ") + 6)));
    miner_ = fmt::format("/miners/{}/{}", miner_ip_, worker_);
  }

  // `bytes` to control from client address number `client` (0-50).
  Reply Send(const std::string& bytes, int client = 0) const {
    return Exchange(control_ip_, port_, bytes, fmt::format("{}.{}", net_, 200 + client));
  }
  void TearDown() override {
    control_.reset();
    store_.reset();
    farm_.process.reset();
    database_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The privileged commands and web actions the farm received, one a line.
  std::vector<json> Actions() const { return testing::ReadActionLog(action_log_); }

  // Control is up and nothing reached a miner: after every barrage.
  void ExpectUpAndNothingSent(const std::string& after) {
    SCOPED_TRACE(after);
    EXPECT_EQ(Send(Request("GET", "/healthz")).status, 200);
    EXPECT_EQ(control_->Wait(0ms), -1) << "control exited: " << control_->stderr_text();
    EXPECT_TRUE(Actions().empty()) << "a command reached the miner: " << Actions().front().dump();
  }

  // `requests`, each answered with `status`.
  void ExpectEach(const std::vector<std::string>& requests, int status) {
    for (const std::string& r : requests) {
      const Reply reply = Send(r);
      EXPECT_EQ(reply.status, status) << r.substr(0, 300) << "\n-> " << reply.head << "\n"
                                      << reply.body.substr(0, 300);
    }
  }

  // asicmon_control_requests_total{route, code} from /metrics (0 when absent).
  double RequestsCounted(const std::string& route, int code) const {
    const Reply metrics = Send(Request("GET", "/metrics"));
    EXPECT_EQ(metrics.status, 200) << metrics.head;
    const std::string sample =
        fmt::format("asicmon_control_requests_total{{code=\"{}\",route=\"{}\"}} ", code, route);
    const size_t at = metrics.body.find(sample);
    return at == std::string::npos ? 0 : std::stod(metrics.body.substr(at + sample.size()));
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::TestDatabase> database_;
  std::string action_log_;
  testing::FakeFarm farm_;
  std::string worker_;
  std::unique_ptr<Subprocess> store_;
  std::unique_ptr<Subprocess> control_;
  std::string net_;  // "127.47.<subnet>"
  std::string miner_ip_;
  std::string control_ip_;
  uint16_t port_ = 0;
  std::string miner_;  // "/miners/<ip>/<its worker>": every command here would land
};

const std::string kValidPool =
    R"({"url":"stratum+tcp://pool.example.com:3333","user":"farm.new1","password":"x"})";

TEST_F(HostileControlTest, OversizedLyingAndChunkedBodies) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  const std::string pool = miner_ + "/pool";
  const std::string head = fmt::format("POST {} HTTP/1.1\r\nHost: control\r\n{}", pool, Bearer());
  // A body that promises more than it sends is waited for until control's
  // 10 s body timeout: run it alongside the rest.
  auto lying = std::async(std::launch::async,
                          [&] { return Send(head + "Content-Length: 100\r\n\r\n{\"url\":"); });

  std::string padded = kValidPool;
  padded.insert(1, "\"pad\":\"" + std::string(20 << 10, 'p') + "\",");
  ExpectEach(
      {Request("POST", pool, padded, Bearer()),
       Request("POST", pool, std::string(64 << 10, ' '), Bearer()),
       // over the limit by its declared length alone: refused before any byte
       head + "Content-Length: 16385\r\n\r\n{}", head + "Content-Length: 99999999999\r\n\r\n{}",
       head + "Content-Length: 18446744073709551615\r\n\r\n{}",
       head + "Content-Length: -5\r\n\r\n{}"},
      413);
  ExpectEach({head + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n",
              head + "Transfer-Encoding: chunked\r\n\r\n7fffffffffff\r\n{}",
              head + "Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n{}",
              head + "Transfer-Encoding: gzip\r\n\r\n{}"},
             411);
  // "abc" reads as 0: an empty body, which is not a pool change.
  ExpectEach({head + "Content-Length: abc\r\n\r\n"}, 400);
  // A huge body to a read answers 413 too.
  ExpectEach({Request("GET", "/miners", std::string(20 << 10, 'x'))}, 413);

  const Reply timed_out = lying.get();
  EXPECT_EQ(timed_out.status, 408) << timed_out.head;
  ExpectUpAndNothingSent("bodies");
  // Refused while parsed, before any route: each is still counted.
  EXPECT_EQ(RequestsCounted("unparsed", 413), 7);
  EXPECT_EQ(RequestsCounted("unparsed", 411), 4);
  EXPECT_EQ(RequestsCounted("pool", 400), 1);
}

TEST_F(HostileControlTest, MalformedJsonAndWrongTypes) {
  ASSERT_NO_FATAL_FAILURE(Start(2));
  const std::string pool = miner_ + "/pool";
  std::vector<std::string> bodies = {
      "",
      "not json",
      "{",
      R"({"url":"stratum+tcp://pool:3333","user":"w)",
      R"({"url":"stratum+tcp://pool:3333","user":"w"} trailing)",
      "[]",
      "\"a string\"",
      "42",
      "null",
      "true",
      std::string(7000, '[') + std::string(7000, ']'),
      R"({"url":7,"user":"w"})",
      R"({"url":"stratum+tcp://pool:3333","user":[]})",
      R"({"url":"stratum+tcp://pool:3333","user":null})",
      R"({"url":"stratum+tcp://pool:3333","user":"w","password":{}})",
      R"({"url":["stratum+tcp://pool:3333"],"user":"w"})",
      R"({"user":"w"})",
      R"({"url":true})",
      // NUL, escaped and raw; bytes that are not UTF-8; an overlong '/'
      R"({"url":"stratum+tcp://pool:3333","user":"w\u0000x"})",
      std::string(R"({"url":"stratum+tcp://pool:3333","user":"w)") + '\0' + "x\"}",
      "{\"url\":\"stratum+tcp://pool:3333\",\"user\":\"w\xff\xfe\"}",
      "{\"url\":\"stratum+tcp://pool:3333\",\"user\":\"w\xc0\xaf\"}",
      "{\"url\":\"stratum+tcp://po\xc3\xa9l:3333\",\"user\":\"w\"}",
      R"({"url":"stratum+tcp://pool:3333","user":"w\ud800"})",
  };
  // Nested as deep as 16 KiB allows, as objects: an object, but no url.
  std::string deep;
  for (int i = 0; i < 2500; ++i) deep += "{\"a\":";
  deep += "1" + std::string(2500, '}');
  bodies.push_back(deep);
  std::vector<std::string> requests;
  for (const std::string& body : bodies) requests.push_back(Request("POST", pool, body, Bearer()));
  ExpectEach(requests, 400);
  // 100,000 nested arrays are over the size limit before they are JSON.
  ExpectEach({Request("POST", pool, std::string(100000, '[') + std::string(100000, ']'), Bearer())},
             413);
  ExpectUpAndNothingSent("json");
}

TEST_F(HostileControlTest, PathAndQueryTricks) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  auto post = [&](const std::string& path) { return Request("POST", path, "", Bearer()); };
  auto get = [&](const std::string& path) { return Request("GET", path); };
  std::vector<std::string> bad_address;
  for (const char* ip :
       {"127.047.0.1", "0127.47.0.1", "0x7f.47.0.1", "127.47.0.256", "127.47.0", "127.47.0.1.",
        "2130706433", "127.1", "::1", "[::1]", "localhost", "miner.example.com", "%2e%2e", "..",
        "127.47.0.1%20", "-1.0.0.1", "127.47.0.1:4028", "1e2.0.0.1"}) {
    for (const char* action : {"reset", "reboot"}) {
      bad_address.push_back(post(fmt::format("/miners/{}/{}/{}", ip, worker_, action)));
    }
    bad_address.push_back(get(fmt::format("/miners/{}/{}/summary", ip, worker_)));
    bad_address.push_back(get(fmt::format("/miners/{}/history", ip)));
  }
  const std::vector<std::string> bad_workers = {
      "a,b",
      "a\"b",
      "a|b",
      "a\\b",
      "a\tb",
      "a\nb",
      "a\x01z",
      "a\x7f",
      "a\xff",
      std::string(129, 'w'),
      fmt::format("{}\"}},{{\"command\":\"restart", worker_)};
  for (const std::string& worker : bad_workers) {
    bad_address.push_back(post(fmt::format("/miners/{}/{}/reset", miner_ip_, worker)));
  }
  // Path segments are judged decoded (issue 17): encoded, the same bytes are
  // refused before any miner I/O, even at an address where no miner answers
  // (that used to be a 502 after trying it).
  for (const std::string& worker : {worker_ + "%2C1", worker_ + "%0A", worker_ + "%00",
                                    worker_ + "%22", std::string("w%0d%0aX:1"),
                                    std::string("w%7C1"), std::string("%ff")}) {
    bad_address.push_back(post(fmt::format("/miners/{}/{}/reset", miner_ip_, worker)));
    bad_address.push_back(post(fmt::format("/miners/{}.99/{}/reset", net_, worker)));
  }
  for (const char* ip : {"127.47.3.1%00", "127.47.3.1%0a", "127%2E47.3.1%2F"}) {
    bad_address.push_back(post(fmt::format("/miners/{}/{}/reset", ip, worker_)));
  }
  for (const char* query :
       {"/miners?limit=1e999", "/miners?limit=nan", "/miners?limit=-1",
        "/miners?limit=99999999999999999999", "/miners?offset=-1", "/miners?limit=%00",
        "/miners?sort=hashrate;drop%20table%20records", "/miners?status=ok%27--",
        "/miners?order=desc%0a", "/events?kind=x", "/events?since=-1", "/events?miner=..",
        "/audit?ip=127.47.0.1.5", "/farm/history?seconds=inf",
        "/miners/127.47.0.1/history?from=abc", "/miners/127.47.0.1/history?from=10&to=5"}) {
    bad_address.push_back(get(query));
  }
  ExpectEach(bad_address, 400);

  // A worker that is not the miner's, encoded or not, is a 404 after a look,
  // nothing done.
  std::vector<std::string> not_found;
  for (const std::string& worker :
       {std::string(".."), std::string("%2e%2e"), worker_ + "'", worker_ + "%27",
        worker_ + "%2541"}) {
    not_found.push_back(post(fmt::format("/miners/{}/{}/reset", miner_ip_, worker)));
  }
  const std::vector<std::string> not_found_paths = {
      "/miners/../healthz",
      miner_ + "/../reset",
      miner_ + "/reset/..",
      miner_ + "%2Freset",
      "/miners/" + miner_ip_ + "%2F" + worker_ + "/reset",
      miner_ + "/restart",
  };
  for (const std::string& path : not_found_paths) {
    not_found.push_back(post(path));
  }
  for (const char* path : {"/static/../openapi.json", "/static/%2e%2e%2fopenapi.json",
                           "/docs/..%2F..%2Fopenapi.json", "/static/.", "/docs/%00"}) {
    not_found.push_back(get(path));
  }
  ExpectEach(not_found, 404);

  // What the client meant is what is matched: the miner's worker sent with
  // every byte encoded is that miner (a read, so nothing reaches its log).
  std::string encoded_worker;
  for (char c : worker_) encoded_worker += fmt::format("%{:02X}", static_cast<unsigned char>(c));
  const Reply summary = Send(get(fmt::format("/miners/{}/{}/summary", miner_ip_, encoded_worker)));
  EXPECT_EQ(summary.status, 200) << summary.body;
  EXPECT_EQ(json::parse(summary.body, nullptr, false).value("worker", ""), worker_);

  ExpectEach({Request("GET", miner_ + "/reset"), Request("PUT", miner_ + "/reset", "", Bearer()),
              Request("DELETE", miner_ + "/pool", "", Bearer()), Request("POST", "/healthz"),
              // the router reads these as /miners, which only has GET
              Request("POST", "//miners"), Request("POST", "/miners/")},
             405);
  ExpectEach({"BREW " + miner_ + "/reset HTTP/1.1\r\n\r\n",
              "POST " + miner_ + "/reset HTTP/9.9\r\n" + Bearer() + "\r\n",
              "POST " + miner_ + "/reset\r\n" + Bearer() + "\r\n", "GET /healthz\n\n",
              "\x16\x03\x01\x02\xff\x01\xfe\x01\xfc\x03\x03\r\n\r\n",  // TLS to plain HTTP
              "garbage-without-spaces\r\n\r\n", "GET /healthz HTTP/1.1\r\nHost: :::::\r\n\r\n",
              "GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n"},
             400);
  // Whole, or still arriving (Pistache reads 4 KiB at a time: 20,000 bytes of
  // line are refused at 12 KiB, before the request's 16 KiB limit).
  ExpectEach({Request("GET", "/" + std::string(9000, 'a')),
              Request("POST", miner_ + "/reset?" + std::string(9000, 'q'), "", Bearer()),
              Request("GET", "/" + std::string(20000, 'a'))},
             414);
  std::string many_headers;
  for (int i = 0; i < 1000; ++i) many_headers += fmt::format("X-{}: a\r\n", i);
  ExpectEach({Request("GET", "/healthz", "", "X-Big: " + std::string(9000, 'h') + "\r\n"),
              Request("POST", miner_ + "/reset", "", Bearer() + many_headers)},
             431);
  ExpectUpAndNothingSent("paths");
}

TEST_F(HostileControlTest, InjectionInPoolFieldsIsRefusedBeforeTheMiner) {
  ASSERT_NO_FATAL_FAILURE(Start(4));
  const std::string pool = miner_ + "/pool";
  std::vector<std::string> requests;
  auto change = [&](const std::string& url, const std::string& user, const std::string& password) {
    requests.push_back(Request(
        "POST", pool, json{{"url", url}, {"user", user}, {"password", password}}.dump(), Bearer()));
  };
  const std::string url = "stratum+tcp://pool.example.com:3333";
  const std::vector<std::string> bad_fields = {"a,b",
                                               "a\"b",
                                               "a|b",
                                               "a\nb",
                                               "a\rb",
                                               "a\\b",
                                               "a b",
                                               "a\tb",
                                               "a;reboot",
                                               "$(reboot)",
                                               "`reboot`",
                                               "a&&reboot",
                                               "a||reboot",
                                               "a>/tmp/x",
                                               "a<b",
                                               "a'b",
                                               "a*",
                                               "{\"command\":\"x\"}",
                                               "restart|",
                                               "x,y,z",
                                               std::string("a\0b", 3),
                                               "\xc3\xa9",
                                               std::string(129, 'u')};
  for (const std::string& bad : bad_fields) {
    change(url, bad, "x");
    change(url, "farm.new1", bad);
  }
  change(url, "", "x");
  const std::vector<std::string> bad_urls = {"",
                                             "http://pool:80",
                                             "https://pool:443",
                                             "file:///etc/passwd",
                                             "stratum+tcp://",
                                             "stratum+tcp://pool",
                                             "stratum+tcp://pool:",
                                             "stratum+tcp://pool:0",
                                             "stratum+tcp://pool:65536",
                                             "stratum+tcp://pool:-1",
                                             "stratum+tcp://pool: 1",
                                             "stratum+tcp://:3333",
                                             "stratum+tcp://pool:3333,evil,x",
                                             "stratum+tcp://pool:3333|restart",
                                             "stratum+tcp://pool:3333\n",
                                             "stratum+tcp://pool:3333/path",
                                             "stratum+tcp://u:p@pool:3333",
                                             "stratum+tcp://[::1]:3333",
                                             "stratum+tcp://po\"ol:3333",
                                             "stratum+tcp://$(reboot):3333",
                                             "stratum+tcp://pool;reboot:3333",
                                             "stratum+tcp://-pool:3333",
                                             "stratum+tcp://.pool:3333",
                                             "STRATUM+TCP://pool:3333",
                                             " stratum+tcp://pool:3333",
                                             "stratum+tcp://" + std::string(250, 'p') + ":3333"};
  for (const std::string& bad_url : bad_urls) {
    change(bad_url, "farm.new1", "x");
  }
  ExpectEach(requests, 400);
  ExpectUpAndNothingSent("pool fields");
  EXPECT_EQ(control_->stderr_text().find("$(reboot)"), std::string::npos)
      << "a refused pool field was logged";

  // The same route takes a good change: the log above would have shown one.
  const Reply done = Send(Request("POST", pool, kValidPool, Bearer()));
  ASSERT_EQ(done.status, 200) << done.body;
  std::vector<json> actions = Actions();
  ASSERT_FALSE(actions.empty());
  EXPECT_EQ(actions.front()["command"], "addpool");
}

TEST_F(HostileControlTest, EveryWrongTokenIs401) {
  ASSERT_NO_FATAL_FAILURE(Start(5));
  const std::vector<std::string> wrong_auth = {
      std::string(),
      std::string("Authorization: Bearer\r\n"),
      std::string("Authorization: Bearer \r\n"),
      "Authorization: bearer " + std::string(kToken) + "\r\n",
      "Authorization: BEARER " + std::string(kToken) + "\r\n",
      "Authorization: Bearer  " + std::string(kToken) + "\r\n",
      "Authorization: Bearer " + std::string(kToken) + "x\r\n",
      "Authorization: Bearer " + std::string(kToken).substr(1) + "\r\n",
      "Authorization: Bearer " + std::string(kToken, sizeof kToken - 2) + "\r\n",
      "Authorization: Bearer " + std::string(sizeof kToken - 1, 'a') + "\r\n",
      "Authorization: Bearer " + std::string(6000, 't') + "\r\n",
      "Authorization: Bearer " + std::string(kToken) + std::string(1, '\0') + "\r\n",
      "Authorization: Basic " + std::string(kToken) + "\r\n",
      "Authorization: Token " + std::string(kToken) + "\r\n",
      "Authorization: " + std::string(kToken) + "\r\n",
      "X-Authorization: Bearer " + std::string(kToken) + "\r\n",
      "Cookie: token=" + std::string(kToken) + "\r\n"};
  // Each form from its own client address: five wrong keys in a row from one
  // address are answered 429 from then on (keys_roles_test).
  for (size_t i = 0; i < wrong_auth.size(); ++i) {
    for (const char* action : {"/reset", "/reboot?force=true", "/pool"}) {
      const std::string request =
          Request("POST", miner_ + action, action[1] == 'p' ? kValidPool : "", wrong_auth[i]);
      const Reply reply = Send(request, static_cast<int>(i) + 1);
      EXPECT_EQ(reply.status, 401) << request.substr(0, 300) << "\n-> " << reply.head;
    }
  }
  const Reply refused = Send(Request("POST", miner_ + "/reset"));
  EXPECT_NE(refused.head.find("WWW-Authenticate: Bearer"), std::string::npos) << refused.head;
  ExpectUpAndNothingSent("tokens");
  const Reply done = Send(Request("POST", miner_ + "/reset", "", Bearer()));
  ASSERT_EQ(done.status, 200) << done.body;
  ASSERT_EQ(Actions().size(), 1u);
  EXPECT_EQ(Actions().front()["command"], "restart");
}

TEST_F(HostileControlTest, AFloodOfGarbageAndReadsLeavesControlUp) {
  ASSERT_NO_FATAL_FAILURE(Start(6));
  constexpr int kThreads = 8;
  constexpr int kRequests = 20000;
  constexpr int kStalled = 64;
  const pid_t pid = control_->pid();
  const int64_t rss_before_kib = testing::ProcStatusKib(pid, "VmRSS");

  // Connections that send part of a request line and stall, held through the flood.
  std::vector<int> stalled;
  for (int i = 0; i < kStalled; ++i) {
    const int fd = Connect(control_ip_, port_, net_ + ".250");
    ASSERT_GE(fd, 0);
    const std::string partial = i % 2 ? "POST " + miner_ + "/res" : "GET /miners HTTP/1.1\r\nHo";
    ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(partial.size()));
    stalled.push_back(fd);
  }

  const std::vector<std::pair<std::string, std::vector<int>>> mix = {
      {Request("GET", "/healthz"), {200}},
      {Request("GET", "/miners?limit=5"), {200}},
      // A client's wrong keys hold back its address (429) for a while, good key or not.
      {Request("POST", miner_ + "/reset", "", "Authorization: Bearer wrong\r\n"), {401, 429}},
      {Request("POST", miner_ + "/pool", "{\"url\":", Bearer()), {400, 429}},
      {Request("POST", "/miners/999.0.0.1/w/reboot", "", Bearer()), {400, 429}},
      {"POST " + miner_ + "/pool HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{}", {413}},
      {Request("GET", "/nowhere/" + std::string(100, 'x')), {404}},
      {Request("PATCH", miner_ + "/reset"), {405}},
      {"garbage\r\n\r\n", {400}},
  };
  std::atomic<int> unexpected{0};
  std::atomic<int> no_answer{0};
  std::mutex first_mutex;
  std::string first_unexpected;
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = t; i < kRequests; i += kThreads) {
        std::string request;
        std::vector<int> expected;
        if (random() % 10 == 0) {  // random bytes, ended so control sees a whole "request"
          for (int b = 0; b < 200; ++b) request += static_cast<char>(random() % 256);
          request += "\r\n\r\n";
          expected = {400, 405, 413, 414, 431};
        } else {
          const auto& [text, statuses] = mix[random() % mix.size()];
          request = text;
          expected = statuses;
        }
        const Reply reply = Send(request, t + 1);
        if (reply.status == 0) {
          ++no_answer;
        } else if (std::find(expected.begin(), expected.end(), reply.status) == expected.end()) {
          if (unexpected++ == 0) {
            std::lock_guard lock(first_mutex);
            first_unexpected = reply.head + "\n for: " + request.substr(0, 200);
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t rss_after_kib = testing::ProcStatusKib(pid, "VmRSS");
  std::printf(
      "flood: %d requests from %d threads (+%d stalled connections) in %.1f s = %.0f req/s; "
      "control VmRSS %lld KiB before, %lld KiB after, peak %lld KiB\n",
      kRequests, kThreads, kStalled, seconds, kRequests / seconds,
      static_cast<long long>(rss_before_kib), static_cast<long long>(rss_after_kib),
      static_cast<long long>(testing::ProcStatusKib(pid, "VmHWM")));

  EXPECT_EQ(unexpected.load(), 0) << first_unexpected;
  EXPECT_EQ(no_answer.load(), 0) << "requests left without an answer";
  EXPECT_LT(rss_after_kib, kRssBoundKib);
  ExpectUpAndNothingSent("flood, stalled connections still open");
  for (int fd : stalled) close(fd);
  ExpectUpAndNothingSent("flood");
  const Reply done = Send(Request("POST", miner_ + "/reset", "", Bearer()));
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(Actions().size(), 1u);
}

}  // namespace
}  // namespace asicmon
