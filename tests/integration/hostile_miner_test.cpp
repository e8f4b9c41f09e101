// The miner client and asicmon-collect against hostile miners, written here
// as threads on raw sockets: one that dribbles a never-ending reply a byte
// every 100 ms (slowloris), one that sends 100 MB as fast as it can and keeps
// the connection, two that speak HTTP on the API port, one that accepts and
// never reads nor answers, and two that follow a valid reply with megabytes
// of garbage. Each poll ends in its non-ok status within the poll timeout
// (plus a margin: a bound on correctness, not a benchmark), the reply held is
// capped by max_reply_bytes, and a real collect process polling them beside
// good fake miners keeps recording the good ones in bounded memory.
// Loopback range: 127.48.0.0/16, two /24 per test (N = 0, 2): hostile miners
// 127.48.N.1-7, fakefarm 127.48.N+1.1-2.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/clock.h"
#include "asicmon/miner_api.h"
#include "asicmon/record.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum class Hostility {
  kSlowloris,        // a byte of a never-ending valid-looking reply every 100 ms
  kFlood,            // 100 MB as fast as it goes, then holds the connection
  kHttpError,        // "HTTP/1.1 400 Bad Request" and an HTML page, then closes
  kHttpJson,         // "HTTP/1.1 200 OK" and a real miner reply as its body, then closes
  kSilent,           // accepts, never reads, never answers
  kTrailingGarbage,  // a real reply, then 8 MB of garbage and no NUL, then closes
  kGarbageAfterNul,  // a real reply ended by NUL as cgminer does, then 8 MB of garbage
};

std::string_view Name(Hostility h) {
  switch (h) {
    case Hostility::kSlowloris:
      return "slowloris";
    case Hostility::kFlood:
      return "flood 100 MB";
    case Hostility::kHttpError:
      return "HTTP 400 + HTML";
    case Hostility::kHttpJson:
      return "HTTP 200 + JSON";
    case Hostility::kSilent:
      return "silent";
    case Hostility::kTrailingGarbage:
      return "reply + 8 MB garbage";
    case Hostility::kGarbageAfterNul:
      return "reply + NUL + 8 MB garbage";
  }
  return "?";
}

// 8 MB that are never NUL, made once for every server before it listens: made per connection,
// a server spent the poll's time making them, not sending (test code builds at -O0, and on a
// loaded machine that outlasted the 2 s poll timeout: a timeout instead of too_large).
const std::string& Garbage() {
  static const std::string garbage = [] {
    std::string bytes(size_t{8} << 20, '\0');
    uint32_t x = 12345;
    for (char& c : bytes) {
      x = x * 1103515245 + 12345;
      c = static_cast<char>(1 + (x >> 16) % 255);
    }
    return bytes;
  }();
  return garbage;
}

// A listener on ip:4028 that treats every connection as `hostility` says,
// each on its own thread, until destroyed.
class HostileMiner {
 public:
  HostileMiner(std::string ip, Hostility hostility, std::string real_reply)
      : ip_(std::move(ip)),
        hostility_(hostility),
        real_reply_(std::move(real_reply)),
        garbage_(Garbage()) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kMinerApiPort);
    inet_pton(AF_INET, ip_.c_str(), &addr.sin_addr);
    listening_ = bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                 listen(listen_fd_, 64) == 0;
    if (listening_) acceptor_ = std::thread([this] { Accept(); });
  }
  ~HostileMiner() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (acceptor_.joinable()) acceptor_.join();
    close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (std::thread& t : connections_) t.join();
  }
  bool listening() const { return listening_; }
  const std::string& ip() const { return ip_; }
  Hostility hostility() const { return hostility_; }

 private:
  void Accept() {
    while (!stop_) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;  // shut down, or a transient error
      // Blocking sends wake up now and then to see whether the test ended.
      timeval tv{0, 200000};
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      std::lock_guard lock(mutex_);
      connections_.emplace_back([this, fd] {
        Serve(fd);
        close(fd);
      });
    }
  }

  // Sends all of `bytes`; false once the client is gone or the test ends.
  bool SendAll(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !stop_) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return !stop_;
  }
  // Keeps the connection open, reading nothing, until the client closes it.
  void Hold(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    while (!stop_) {
      if (poll(&p, 1, 100) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
    }
  }
  void ReadRequest(int fd) {
    pollfd p{fd, POLLIN, 0};
    char buf[4096];
    if (poll(&p, 1, 1000) > 0) (void)recv(fd, buf, sizeof buf, 0);
  }
  void Serve(int fd) {
    switch (hostility_) {
      case Hostility::kSlowloris: {
        ReadRequest(fd);
        const std::string start =
            R"({"STATUS":[{"STATUS":"S","When":1,"Code":11,"Msg":"Summary"}],"SUMMARY":[{"Elapsed":1)";
        const std::string more = R"(,"GHS 5s":13500.1)";
        for (size_t i = 0; !stop_; ++i) {
          const char c = i < start.size() ? start[i] : more[(i - start.size()) % more.size()];
          if (!SendAll(fd, std::string_view(&c, 1))) return;
          std::this_thread::sleep_for(100ms);
        }
        return;
      }
      case Hostility::kFlood: {
        ReadRequest(fd);
        std::string chunk = R"({"STATUS":[{"STATUS":"S"}],"STATS":[)";
        while (chunk.size() < (64 << 10)) chunk += R"({"chain_rate1":"4500.12","temp1":60},)";
        for (size_t sent = 0; sent < (size_t{100} << 20); sent += chunk.size()) {
          if (!SendAll(fd, chunk)) return;
        }
        Hold(fd);
        return;
      }
      case Hostility::kHttpError: {
        ReadRequest(fd);
        const std::string page =
            "<html><head><title>400 Bad Request</title></head><body><h1>Bad Request</h1>"
            "</body></html>";
        SendAll(fd, fmt::format("HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\n"
                                "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                                page.size(), page));
        return;
      }
      case Hostility::kHttpJson:
        ReadRequest(fd);
        SendAll(fd, fmt::format("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                                real_reply_.size(), real_reply_));
        return;
      case Hostility::kSilent:
        Hold(fd);
        return;
      case Hostility::kTrailingGarbage:
        ReadRequest(fd);
        if (SendAll(fd, real_reply_)) SendAll(fd, garbage_);
        return;
      case Hostility::kGarbageAfterNul:
        ReadRequest(fd);
        if (SendAll(fd, real_reply_ + '\0')) SendAll(fd, garbage_);
        return;
    }
  }

  const std::string ip_;
  const Hostility hostility_;
  const std::string real_reply_;
  const std::string& garbage_;
  int listen_fd_ = -1;
  bool listening_ = false;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<std::thread> connections_;
};

const Hostility kAll[] = {Hostility::kSlowloris,      Hostility::kFlood,
                          Hostility::kHttpError,      Hostility::kHttpJson,
                          Hostility::kSilent,         Hostility::kTrailingGarbage,
                          Hostility::kGarbageAfterNul};

MinerStatus ExpectedStatus(Hostility h) {
  switch (h) {
    case Hostility::kSlowloris:
    case Hostility::kSilent:
      return MinerStatus::kTimeout;
    case Hostility::kFlood:
    case Hostility::kTrailingGarbage:
      return MinerStatus::kTooLarge;
    case Hostility::kHttpError:
    case Hostility::kHttpJson:
      return MinerStatus::kParseError;
    case Hostility::kGarbageAfterNul:
      return MinerStatus::kOk;  // the reply ends at its NUL; what follows is never read
  }
  return MinerStatus::kOk;
}

class HostileMinerTest : public ::testing::Test {
 protected:
  // Hostile miners on 127.48.<subnet>, the farm on the next /24: each test
  // its own, since ctest runs them side by side.
  void Start(int subnet) {
    good_ip_ = fmt::format("127.48.{}.1", subnet + 1);
    farm_ = testing::StartFakeFarm({"--base", good_ip_, "--count", "2", "--models", "s9"});
    ASSERT_EQ(farm_.miners.size(), 2u);
    // What a good miner answers a poll, for the hostile miners that wrap it.
    ExchangeResult good =
        ExchangeOnce({good_ip_, kMinerApiPort}, BuildRequest(kPollCommand), ExchangeOptions{});
    ASSERT_EQ(good.status, MinerStatus::kOk) << good.error;
    real_reply_ = good.reply;
    int host = 1;
    for (Hostility h : kAll) {
      miners_.push_back(std::make_unique<HostileMiner>(fmt::format("127.48.{}.{}", subnet, host++),
                                                       h, real_reply_));
      ASSERT_TRUE(miners_.back()->listening()) << miners_.back()->ip();
    }
  }

  std::string good_ip_;  // the farm's first miner
  testing::FakeFarm farm_;
  std::string real_reply_;
  std::vector<std::unique_ptr<HostileMiner>> miners_;
};

TEST_F(HostileMinerTest, EveryPollEndsInItsStatusByTheDeadlineWithTheReplyCapped) {
  ASSERT_NO_FATAL_FAILURE(Start(0));
  ExchangeOptions options;
  options.connect_timeout = 1000ms;
  options.deadline = 2000ms;
  options.max_reply_bytes = 256 << 10;
  auto client = MinerClient::Create(options);
  ASSERT_OK(client);
  // All at once, with a good miner among them, as a collector polls.
  std::map<std::string, ExchangeResult> results;
  std::vector<MinerEndpoint> endpoints = {{good_ip_, kMinerApiPort}};
  for (const auto& m : miners_) endpoints.push_back({m->ip(), kMinerApiPort});
  for (const MinerEndpoint& e : endpoints) {
    (*client)->Start(e, BuildRequest(kPollCommand),
                     [&results, ip = e.ip](ExchangeResult&& r) { results[ip] = std::move(r); });
  }
  (*client)->RunUntilIdle();
  ASSERT_EQ(results.size(), endpoints.size());

  const double bound_ms = 2000 + 3000;
  Record good = RecordFromExchange(endpoints[0], std::move(results[good_ip_]));
  EXPECT_EQ(good.status, MinerStatus::kOk) << good.error;
  EXPECT_LE(good.poll_ms.value_or(1e9), bound_ms);
  for (const auto& m : miners_) {
    SCOPED_TRACE(std::string(Name(m->hostility())));
    ExchangeResult& r = results[m->ip()];
    EXPECT_LE(r.reply.size(), options.max_reply_bytes + 1) << "the reply held is capped";
    const size_t held = r.reply.size();
    Record record = RecordFromExchange({m->ip(), kMinerApiPort}, std::move(r));
    const double poll_ms = record.poll_ms.value_or(1e9);  // always set: a miss fails below
    std::printf("%-28s %-12s %7.0f ms  %8zu bytes held\n",
                std::string(Name(m->hostility())).c_str(),
                std::string(ToString(record.status)).c_str(), poll_ms, held);
    EXPECT_EQ(record.status, ExpectedStatus(m->hostility())) << record.error;
    EXPECT_LE(poll_ms, bound_ms);
    if (record.status == MinerStatus::kTimeout) {
      EXPECT_GE(poll_ms, 1900);
    }
    if (m->hostility() == Hostility::kGarbageAfterNul) {
      EXPECT_EQ(record.model, good.model);
      EXPECT_EQ(record.worker, good.worker);
    }
  }
  // Only what the caps allowed was read: not the 100 MB, nor the 8 MB tails.
  EXPECT_LE((*client)->counters().bytes_received, 3 * (options.max_reply_bytes + 16384));
}

// Counts of records per ip and status, and the longest poll seen per ip.
struct Seen {
  std::map<std::string, std::map<MinerStatus, int>> statuses;
  std::map<std::string, double> max_poll_ms;
};

TEST_F(HostileMinerTest, CollectKeepsRecordingGoodMinersInBoundedMemory) {
  ASSERT_NO_FATAL_FAILURE(Start(2));
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("hostile_miner_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "run");
  zmq::context_t context(1);
  bus::SocketOptions socket_options;
  socket_options.linger_ms = 0;
  socket_options.rcvhwm = 100000;
  const std::string run = (dir / "run").string();
  auto jobs =
      bus::Bind(context, zmq::socket_type::push, "ipc://" + run + "/jobs.sock", socket_options);
  ASSERT_OK(jobs);
  auto ingest =
      bus::Bind(context, zmq::socket_type::pull, "ipc://" + run + "/ingest.sock", socket_options);
  ASSERT_OK(ingest);
  setenv("ASICMON_RUN_DIR", run.c_str(), 1);
  Subprocess collect({BinPath("asicmon-collect"), "--timeout", "2", "--connect-timeout", "1"},
                     /*capture_stderr=*/true);
  unsetenv("ASICMON_RUN_DIR");

  std::vector<std::string> targets;
  for (const auto& [ip, manifest] : farm_.miners) targets.push_back(ip);
  for (const auto& m : miners_) targets.push_back(m->ip());
  Seen seen;
  int64_t max_rss_kib = 0;
  uint64_t seq = 0;
  const auto end = Clock::now() + 10s;
  auto next_round = Clock::now();
  while (Clock::now() < end) {
    if (Clock::now() >= next_round) {
      for (const std::string& ip : targets) {
        PollJob job;
        job.producer_id = "hostile-test";
        job.seq = ++seq;
        job.ts = UnixNow();
        job.expires_ts = job.ts + 1;
        job.ip = ip;
        std::string body;
        EncodePollJob(job, body);
        (void)bus::TrySend(*jobs, bus::kTopicJob, body);  // refused until collect connects
      }
      next_round += 500ms;
    }
    zmq::pollitem_t item{ingest->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    while (true) {
      auto message = bus::TryReceive(*ingest);
      ASSERT_OK(message);
      if (!message->has_value()) break;
      Result<Record> record = DecodeRecord((*message)->body);
      ASSERT_OK(record);
      ++seen.statuses[record->ip][record->status];
      seen.max_poll_ms[record->ip] =
          std::max(seen.max_poll_ms[record->ip], record->poll_ms.value_or(1e9));
    }
    max_rss_kib = std::max(max_rss_kib, testing::ProcStatusKib(collect.pid(), "VmRSS"));
  }
  ASSERT_EQ(collect.Wait(0ms), -1) << "collect exited: " << collect.stderr_text();

  std::printf("collect: max VmRSS %lld KiB over 10 s of polls every 0.5 s\n",
              static_cast<long long>(max_rss_kib));
  for (const std::string& ip : targets) {
    std::string line;
    for (const auto& [status, count] : seen.statuses[ip]) {
      line += fmt::format(" {}={}", ToString(status), count);
    }
    std::printf("  %-12s%s, longest poll %.0f ms\n", ip.c_str(), line.c_str(),
                seen.max_poll_ms[ip]);
  }
  for (const auto& [ip, manifest] : farm_.miners) {
    EXPECT_GE(seen.statuses[ip][MinerStatus::kOk], 10) << ip << ": good miners keep being recorded";
    EXPECT_EQ(seen.statuses[ip].size(), 1u) << ip << ": and only as ok";
  }
  for (const auto& m : miners_) {
    SCOPED_TRACE(std::string(Name(m->hostility())));
    EXPECT_GE(seen.statuses[m->ip()][ExpectedStatus(m->hostility())], 3);
    EXPECT_EQ(seen.statuses[m->ip()].size(), 1u);
    EXPECT_LE(seen.max_poll_ms[m->ip()], 2000 + 3000);
  }
  EXPECT_LT(max_rss_kib, 200 * 1024);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace asicmon
