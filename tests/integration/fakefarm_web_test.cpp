// The fake farm's web interface (--http-port) as the control service will
// use it: libcurl with CURLAUTH_DIGEST against a real asicmon-fakefarm
// process, reboot taking a miner off the network, the configuration round
// trip changing what the CGMiner API reports, sleep and wake and the fault
// light as control drives them, and hostile HTTP clients.
//
// Loopback ranges (see testlib.h), one /24 per test: 127.38.0.0/16; the
// sleep and locate tests 127.52.0.0/16.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::FakeFarm;
using asicmon::testing::StartFakeFarm;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint16_t kHttpPort = 8080;
constexpr uint16_t kApiPort = 4028;

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

struct HttpResult {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string headers;  // of every response, the 401 of the Digest handshake included
  std::string body;
};

size_t Append(char* data, size_t size, size_t count, void* into) {
  static_cast<std::string*>(into)->append(data, size * count);
  return size * count;
}

// One request as the control client makes it: Digest auth when `userpwd`
// is given, a POST of `form` when it is (urlencoded unless `content_type`
// says otherwise).
HttpResult Request(const std::string& ip, const std::string& path, const std::string& userpwd,
                   const std::string* form = nullptr, const char* content_type = nullptr) {
  static CurlGlobal global;
  HttpResult r;
  CURL* curl = curl_easy_init();
  const std::string url = "http://" + ip + ":" + std::to_string(kHttpPort) + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
  if (!userpwd.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_DIGEST);
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd.c_str());
  }
  if (form) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form->c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(form->size()));
  }
  curl_slist* headers = nullptr;
  if (content_type) {
    headers = curl_slist_append(headers, fmt::format("Content-Type: {}", content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  r.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  return r;
}

std::string Escape(const std::string& s) {
  char* escaped = curl_easy_escape(nullptr, s.c_str(), static_cast<int>(s.size()));
  std::string out(escaped);
  curl_free(escaped);
  return out;
}

// Reads until the server closes (or `until` appears); the errno that ended it, 0 for EOF.
int ReadAll(int fd, std::string& into, std::string_view until = {}) {
  char buf[65536];
  while (until.empty() || into.find(until) == std::string::npos) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return n == 0 ? 0 : errno;
    into.append(buf, static_cast<size_t>(n));
  }
  return 0;
}

struct RawReply {
  std::string bytes;
  int error = 0;  // errno of the connect or the read that ended it; 0 for EOF
};

// Sends `request` over a plain TCP connection and reads until the server closes.
RawReply Raw(const std::string& ip, uint16_t port, const std::string& request) {
  RawReply r;
  const int fd = testing::ConnectTcp(ip, port);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  r.error = ReadAll(fd, r.bytes);
  close(fd);
  return r;
}

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

json Api(const std::string& ip, const std::string& command) {
  const RawReply reply = Raw(ip, kApiPort, R"({"command":")" + command + R"("})");
  EXPECT_EQ(reply.error, 0) << std::strerror(reply.error);
  auto parsed = testing::ParseMinerJson(reply.bytes);
  EXPECT_OK(parsed);
  return parsed.ok() ? *parsed : json();
}

int64_t Uptime(const std::string& ip) {
  const json summary = Api(ip, "summary");
  return summary.contains("SUMMARY") ? summary["SUMMARY"][0]["Elapsed"].get<int64_t>() : -1;
}

std::vector<json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
  return lines;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/fakefarm_web_test_" + std::to_string(getpid()) + "_" + name;
}

FakeFarm WebFarm(const std::string& base, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--base", base, "--count", "3", "--models", "s19pro,s9",
                                   "--http-port", std::to_string(kHttpPort), "--reboot-s", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return StartFakeFarm(args);
}

TEST(FakefarmWebTest, LibcurlDigestAuthSucceedsAndBadCredentialsGet401) {
  FakeFarm farm = WebFarm("127.38.1.1");
  ASSERT_EQ(farm.miners.size(), 3u);
  EXPECT_EQ(farm.miners["127.38.1.2"]["http_port"], kHttpPort);
  const std::string ip = "127.38.1.2";

  const HttpResult ok = Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root");
  ASSERT_EQ(ok.code, CURLE_OK) << curl_easy_strerror(ok.code);
  EXPECT_EQ(ok.status, 200) << ok.headers;
  // libcurl got the challenge first, then answered it.
  EXPECT_NE(ok.headers.find("HTTP/1.1 401"), std::string::npos);
  const json conf = json::parse(ok.body);
  ASSERT_EQ(conf["pools"].size(), 3u);
  EXPECT_EQ(conf["pools"][0]["user"], farm.miners[ip]["worker"]);

  const HttpResult none = Request(ip, "/cgi-bin/get_miner_conf.cgi", "");
  EXPECT_EQ(none.status, 401);
  const std::string prefix =
      "\r\nWWW-Authenticate: Digest realm=\"antMiner Configuration\", nonce=\"";
  const size_t at = none.headers.find(prefix);
  ASSERT_NE(at, std::string::npos) << none.headers;
  const std::string nonce = none.headers.substr(at + prefix.size(), 32);
  EXPECT_TRUE(std::all_of(nonce.begin(), nonce.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  })) << nonce;
  const std::string suffix = "\", qop=\"auth\"\r\n";
  EXPECT_EQ(none.headers.substr(at + prefix.size() + 32, suffix.size()), suffix);
  // One nonce per farm: every miner gives the same.
  const HttpResult other = Request("127.38.1.3", "/cgi-bin/reboot.cgi", "");
  EXPECT_EQ(other.status, 401);
  EXPECT_NE(other.headers.find("nonce=\"" + nonce + "\""), std::string::npos);

  for (const char* userpwd : {"root:admin", "admin:root", "root:"}) {
    SCOPED_TRACE(userpwd);
    const HttpResult wrong = Request(ip, "/cgi-bin/get_miner_conf.cgi", userpwd);
    EXPECT_EQ(wrong.code, CURLE_OK);
    EXPECT_EQ(wrong.status, 401);
    EXPECT_EQ(wrong.body.find("pools"), std::string::npos);
  }
  EXPECT_EQ(Request(ip, "/cgi-bin/nothing.cgi", "root:root").status, 404);
}

TEST(FakefarmWebTest, OwnCredentialsReplaceTheDefault) {
  FakeFarm farm = WebFarm("127.38.2.1", {"--http-user", "admin", "--http-password", "s3cr:t"});
  EXPECT_EQ(Request("127.38.2.1", "/cgi-bin/get_miner_conf.cgi", "admin:s3cr:t").status, 200);
  EXPECT_EQ(Request("127.38.2.1", "/cgi-bin/get_miner_conf.cgi", "root:root").status, 401);
}

TEST(FakefarmWebTest, RebootRefusesConnectionsThenComesBackWithUptimeReset) {
  const std::string log_path = TempPath("reboot.jsonl");
  unlink(log_path.c_str());
  FakeFarm farm = WebFarm("127.38.3.1", {"--action-log", log_path});
  const std::string ip = "127.38.3.2";
  const std::string neighbour = "127.38.3.3";
  ASSERT_GE(Uptime(ip), 3600);

  const auto t0 = std::chrono::steady_clock::now();
  const HttpResult reboot = Request(ip, "/cgi-bin/reboot.cgi", "root:root");
  ASSERT_EQ(reboot.code, CURLE_OK) << curl_easy_strerror(reboot.code);
  EXPECT_EQ(reboot.status, 200);
  EXPECT_NE(reboot.body.find("<html>"), std::string::npos);

  // Down: both ports refuse; the other miners carry on.
  EXPECT_EQ(Raw(ip, kApiPort, "summary").error, ECONNREFUSED);
  EXPECT_EQ(Raw(ip, kHttpPort, "GET / HTTP/1.0\r\n\r\n").error, ECONNREFUSED);
  EXPECT_GE(Uptime(neighbour), 3600);
  EXPECT_EQ(Request(neighbour, "/cgi-bin/get_miner_conf.cgi", "root:root").status, 200);

  ASSERT_TRUE(testing::WaitForListen(ip, kApiPort, 5s));
  const double down_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(down_s, 0.9);
  EXPECT_LT(down_s, 3.0);
  EXPECT_LE(Uptime(ip), 2);
  EXPECT_EQ(Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root").status, 200);

  const std::vector<json> actions = ReadLines(log_path);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0]["ip"], ip);
  EXPECT_EQ(actions[0]["port"], kHttpPort);
  EXPECT_EQ(actions[0]["command"], "reboot");
  EXPECT_EQ(actions[0]["result"], "ok");
  unlink(log_path.c_str());
}

TEST(FakefarmWebTest, ConfigurationRoundTripChangesTheApisPoolsOnAReadOnlyMiner) {
  const std::string log_path = TempPath("conf.jsonl");
  unlink(log_path.c_str());
  FakeFarm farm = WebFarm("127.38.4.1", {"--deny-privileged", "all", "--action-log", log_path});
  const std::string ip = "127.38.4.1";
  // The API is read-only, as stock firmware ships: addpool is denied.
  EXPECT_EQ(Api(ip, "addpool")["STATUS"][0]["Code"], 45);
  ASSERT_GE(Uptime(ip), 3600);

  const std::string form =
      "_ant_pool1url=" + Escape("stratum+tcp://new-pool.example:3333") +
      "&_ant_pool1user=" + Escape("acct.rig 1") + "&_ant_pool1pw=" + Escape("p&w=1") +
      "&_ant_pool2url=" + Escape("stratum+tcp://backup.example:443") +
      "&_ant_pool2user=acct.rig1&_ant_pool2pw=x&_ant_pool3url=&_ant_pool3user=&_ant_pool3pw="
      "&_ant_nobeeper=false&_ant_notempoverctrl=false&_ant_fan_customize_switch=false"
      "&_ant_fan_customize_value=&_ant_freq=600&_ant_voltage=0706";
  const HttpResult set = Request(ip, "/cgi-bin/set_miner_conf.cgi", "root:root", &form);
  ASSERT_EQ(set.code, CURLE_OK) << curl_easy_strerror(set.code);
  EXPECT_EQ(set.status, 200);
  EXPECT_EQ(set.body, "ok");

  // The mining software restarts with the new config: its API is gone for
  // --restart-s, the web interface stays up.
  EXPECT_EQ(Raw(ip, kApiPort, "summary").error, ECONNREFUSED);
  EXPECT_EQ(Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root").status, 200);
  ASSERT_TRUE(testing::WaitForListen(ip, kApiPort, 20s));
  const json pools = Api(ip, "pools")["POOLS"];
  ASSERT_EQ(pools.size(), 2u);
  EXPECT_EQ(pools[0]["URL"], "stratum+tcp://new-pool.example:3333");
  EXPECT_EQ(pools[0]["User"], "acct.rig 1");
  EXPECT_EQ(pools[0]["Stratum Active"], true);
  EXPECT_EQ(pools[1]["URL"], "stratum+tcp://backup.example:443");
  EXPECT_LE(Uptime(ip), 2);

  const json conf = json::parse(Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root").body);
  ASSERT_EQ(conf["pools"].size(), 2u);
  EXPECT_EQ(conf["pools"][0]["pass"], "p&w=1");
  EXPECT_EQ(conf["pools"][1]["user"], "acct.rig1");
  // The neighbours keep theirs.
  EXPECT_EQ(Api("127.38.4.2", "pools")["POOLS"].size(), 3u);

  // A url that is not stratum+tcp://host:port: answered alike, nothing changes.
  const std::string bad = "_ant_pool1url=" + Escape("http://new-pool.example") + "&_ant_pool1user=a";
  const HttpResult refused = Request(ip, "/cgi-bin/set_miner_conf.cgi", "root:root", &bad);
  EXPECT_EQ(refused.status, 200);
  EXPECT_EQ(refused.body, "ok");
  const json kept = Api(ip, "pools")["POOLS"];
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0]["URL"], "stratum+tcp://new-pool.example:3333");
  EXPECT_EQ(kept[1]["URL"], "stratum+tcp://backup.example:443");

  const std::vector<json> actions = ReadLines(log_path);
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0]["command"], "addpool");
  EXPECT_EQ(actions[0]["result"], "denied");
  EXPECT_EQ(actions[1]["command"], "set_miner_conf");
  EXPECT_EQ(actions[1]["ip"], ip);
  EXPECT_EQ(actions[1]["parameter"],
            "stratum+tcp://new-pool.example:3333,acct.rig 1,p&w=1;"
            "stratum+tcp://backup.example:443,acct.rig1,x");
  EXPECT_EQ(actions[1]["result"], "ok");
  EXPECT_EQ(actions[2]["result"], "error");
  unlink(log_path.c_str());
}

TEST(FakefarmWebTest, HostileRequestsGet4xxAndTheFarmKeepsServing) {
  FakeFarm farm = WebFarm("127.38.5.1");
  const std::string ip = "127.38.5.1";
  const std::string head = "GET /cgi-bin/reboot.cgi HTTP/1.1\r\nHost: " + ip + "\r\n";
  struct Case {
    std::string name;
    std::string request;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"garbage", std::string("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 11), "400"},
      {"text", "hello miner\r\n\r\n", "400"},
      {"huge headers", head + "Cookie: " + std::string(20000, 'c') + "\r\n\r\n", "431"},
      {"endless header line", head + "X: " + std::string(30000, 'x'), "431"},
      {"bad content-length", head + "Content-Length: 12abc\r\n\r\n", "400"},
      {"body too large", head + "Content-Length: 100000000\r\n\r\n", "413"},
      {"chunked", head + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "501"},
      {"http/2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
      {"no host", "GET /cgi-bin/reboot.cgi HTTP/1.1\r\n\r\n", "400"},
      {"unknown path", "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n", "404"},
      {"wrong method", "DELETE /cgi-bin/get_miner_conf.cgi HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
      {"no auth", head + "\r\n", "401"},
      {"bad auth", head + "Authorization: Digest username=\"root\", response=\r\n\r\n", "401"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const RawReply reply = Raw(ip, kHttpPort, c.request);
    EXPECT_EQ(StatusLine(reply.bytes).substr(0, 12), "HTTP/1.1 " + c.status) << reply.bytes;
    EXPECT_NE(reply.bytes.find("\r\nConnection: close\r\n"), std::string::npos);
  }
  // A client that sends half a request and leaves, and one that only connects.
  {
    const int half = testing::ConnectTcp(ip, kHttpPort);
    ASSERT_GE(half, 0) << std::strerror(errno);
    send(half, head.data(), head.size(), MSG_NOSIGNAL);
    close(half);
    const int idle = testing::ConnectTcp(ip, kHttpPort);
    ASSERT_GE(idle, 0) << std::strerror(errno);
    close(idle);
  }
  // Expect: 100-continue gets its interim answer before the body is sent.
  {
    const int fd = testing::ConnectTcp(ip, kHttpPort);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const std::string headers =
        "POST /cgi-bin/set_miner_conf.cgi HTTP/1.1\r\nHost: x\r\n"
        "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    send(fd, headers.data(), headers.size(), MSG_NOSIGNAL);
    std::string interim;
    EXPECT_EQ(ReadAll(fd, interim, "\r\n\r\n"), 0);
    EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    send(fd, "a=b", 3, MSG_NOSIGNAL);
    std::string final_answer;
    EXPECT_EQ(ReadAll(fd, final_answer), 0);
    EXPECT_EQ(StatusLine(final_answer), "HTTP/1.1 401 Unauthorized");
    close(fd);
  }
  // The same miner and its neighbours still answer both ports; nothing rebooted.
  EXPECT_EQ(Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root").status, 200);
  EXPECT_EQ(Request("127.38.5.2", "/cgi-bin/get_miner_conf.cgi", "root:root").status, 200);
  EXPECT_GE(Uptime(ip), 3600);
  EXPECT_GE(Uptime("127.38.5.3"), 3600);
}

// STATS[1] of the API's stats reply: the figures.
json StatsOf(const std::string& ip) { return Api(ip, "stats")["STATS"][1]; }

// Sleep and wake as control does it on stock firmware: the X19 JSON form with
// miner-mode, read back from get_miner_conf.cgi, seen in the API.
TEST(FakefarmWebTest, SleepAndWakeThroughTheWebConfigShowInTheApi) {
  const std::string log_path = TempPath("sleep.jsonl");
  unlink(log_path.c_str());
  FakeFarm farm =
      StartFakeFarm({"--base", "127.52.1.1", "--count", "4", "--models", "s19pro,s17pro,s9,l3plus",
                     "--http-port", std::to_string(kHttpPort), "--action-log", log_path});
  const std::string s19 = "127.52.1.1";
  const std::string s17 = "127.52.1.2";
  const std::string s9 = "127.52.1.3";
  ASSERT_EQ(farm.miners[s19]["model"], "Antminer S19 Pro");
  ASSERT_EQ(farm.miners[s17]["model"], "Antminer S17 Pro");
  auto conf = [](const std::string& ip) {
    return json::parse(Request(ip, "/cgi-bin/get_miner_conf.cgi", "root:root").body);
  };
  auto set_mode = [](const std::string& ip, int mode) {
    const std::string body = fmt::format(R"({{"miner-mode":{}}})", mode);
    return Request(ip, "/cgi-bin/set_miner_conf.cgi", "root:root", &body, "application/json");
  };
  for (const std::string& ip : {s19, s17}) {
    SCOPED_TRACE(ip);
    EXPECT_EQ(conf(ip)["bitmain-work-mode"], "0");
    const HttpResult slept = set_mode(ip, 1);
    ASSERT_EQ(slept.code, CURLE_OK) << curl_easy_strerror(slept.code);
    EXPECT_EQ(slept.status, 200);
    EXPECT_EQ(json::parse(slept.body)["code"], "M000");
    EXPECT_EQ(conf(ip)["bitmain-work-mode"], "1");
    // As the field report of issue 17 has it: the mining software restarts
    // (no API for a few seconds) and comes back asleep with uptime reset.
    EXPECT_EQ(Raw(ip, kApiPort, "summary").error, ECONNREFUSED);
    ASSERT_TRUE(testing::WaitForListen(ip, kApiPort, 20s));
    EXPECT_LE(Uptime(ip), 2);
    const json summary = Api(ip, "summary")["SUMMARY"][0];
    EXPECT_EQ(std::stod(summary["GHS 5s"].is_string() ? summary["GHS 5s"].get<std::string>()
                                                       : summary["GHS 5s"].dump()),
              0.0);
    EXPECT_EQ(summary["GHS av"], 0.0);
  }
  EXPECT_EQ(StatsOf(s19)["Mode"], 2) << "an S19's API does not say it sleeps";
  EXPECT_EQ(StatsOf(s17)["Mode"], 254);
  EXPECT_GT(StatsOf(s19)["fan1"].get<int>(), 0) << "idle, not stopped";

  // S9: no sleep; the JSON form is refused and the config has no work mode.
  EXPECT_EQ(set_mode(s9, 1).status, 400);
  EXPECT_FALSE(conf(s9).contains("bitmain-work-mode"));
  EXPECT_GT(Api(s9, "summary")["SUMMARY"][0]["GHS av"].get<double>(), 0);

  EXPECT_EQ(set_mode(s19, 0).status, 200);
  EXPECT_EQ(conf(s19)["bitmain-work-mode"], "0");
  // Restarted again, then hashing nothing at first (chains up, every chip
  // 'o'), then ramping up.
  EXPECT_EQ(Raw(s19, kApiPort, "summary").error, ECONNREFUSED);
  ASSERT_TRUE(testing::WaitForListen(s19, kApiPort, 20s));
  EXPECT_EQ(Api(s19, "summary")["SUMMARY"][0]["GHS 5s"].get<double>(), 0);
  EXPECT_EQ(StatsOf(s19)["chain_acs1"].get<std::string>().find('x'), std::string::npos);
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (Api(s19, "summary")["SUMMARY"][0]["GHS 5s"].get<double>() <= 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GT(Api(s19, "summary")["SUMMARY"][0]["GHS 5s"].get<double>(), 0);
  EXPECT_EQ(StatsOf(s17)["Mode"], 254) << "the neighbour sleeps on";

  std::vector<std::string> logged;
  for (const json& a : ReadLines(log_path)) {
    logged.push_back(fmt::format("{} {} {}", a["ip"].get<std::string>(),
                                 a["command"].get<std::string>(), a["result"].get<std::string>()));
  }
  EXPECT_EQ(logged, (std::vector<std::string>{
                        s19 + " set_miner_conf ok", s19 + " sleep ok", s17 + " set_miner_conf ok",
                        s17 + " sleep ok", s19 + " set_miner_conf ok", s19 + " wake ok"}));
  unlink(log_path.c_str());
}

// The fault light: the X19 JSON form, the older form, and none on an L3+.
TEST(FakefarmWebTest, LocateLightsTheFaultLightWhereTheFirmwareHasOne) {
  const std::string log_path = TempPath("locate.jsonl");
  unlink(log_path.c_str());
  FakeFarm farm = StartFakeFarm({"--base", "127.52.2.1", "--count", "3", "--models",
                                 "s19pro,s9,l3plus", "--http-port", std::to_string(kHttpPort),
                                 "--action-log", log_path});
  const std::string s19 = "127.52.2.1";
  const std::string s9 = "127.52.2.2";
  const std::string l3 = "127.52.2.3";
  const std::string on = R"({"blink":true})";
  const HttpResult lit = Request(s19, "/cgi-bin/blink.cgi", "root:root", &on, "application/json");
  ASSERT_EQ(lit.code, CURLE_OK) << curl_easy_strerror(lit.code);
  EXPECT_EQ(lit.status, 200);
  EXPECT_EQ(json::parse(lit.body)["code"], "B000");
  EXPECT_EQ(json::parse(Request(s19, "/cgi-bin/get_blink_status.cgi", "root:root").body)["blink"],
            true);

  const std::string start = "action=startBlink";
  const std::string read = "action=onPageLoaded";
  EXPECT_EQ(json::parse(Request(s9, "/cgi-bin/blink.cgi", "root:root", &start).body)["isBlinking"],
            true);
  EXPECT_EQ(json::parse(Request(s9, "/cgi-bin/blink.cgi", "root:root", &read).body)["isBlinking"],
            true);
  EXPECT_EQ(Request(s9, "/cgi-bin/get_blink_status.cgi", "root:root").status, 404);

  EXPECT_EQ(Request(l3, "/cgi-bin/blink.cgi", "root:root", &start).status, 404);
  EXPECT_EQ(Request(l3, "/cgi-bin/blink.cgi", "root:root", &on, "application/json").status, 404);

  const std::string off = R"({"blink":false})";
  EXPECT_EQ(json::parse(Request(s19, "/cgi-bin/blink.cgi", "root:root", &off, "application/json")
                            .body)["code"],
            "B100");
  EXPECT_EQ(json::parse(Request(s19, "/cgi-bin/get_blink_status.cgi", "root:root").body)["blink"],
            false);
  const std::vector<json> actions = ReadLines(log_path);
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0]["ip"], s19);
  EXPECT_EQ(actions[0]["command"], "locate");
  EXPECT_EQ(actions[0]["parameter"], "on");
  EXPECT_EQ(actions[1]["ip"], s9);
  EXPECT_EQ(actions[1]["parameter"], "on");
  EXPECT_EQ(actions[2]["ip"], s19);
  EXPECT_EQ(actions[2]["parameter"], "off");
  unlink(log_path.c_str());
}

TEST(FakefarmWebTest, WithoutHttpPortThereIsNoWebInterface) {
  FakeFarm farm = StartFakeFarm({"--base", "127.38.6.1", "--count", "1"});
  ASSERT_EQ(farm.miners.size(), 1u);
  EXPECT_FALSE(farm.miners["127.38.6.1"].contains("http_port"));
  EXPECT_EQ(Raw("127.38.6.1", kHttpPort, "GET / HTTP/1.0\r\n\r\n").error, ECONNREFUSED);
  EXPECT_GE(Uptime("127.38.6.1"), 3600);
}

}  // namespace
}  // namespace asicmon
