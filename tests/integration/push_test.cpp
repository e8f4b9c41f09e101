// asicmon-store and asicmon-push as real processes, records injected at
// store's ingest, and a real HTTP receiver in the test (127.37.0.x, one
// address per test): every record published while the receiver is away
// arrives exactly once after it is back; kill -9 of push loses none; 400
// goes to the dead letter without retry; Retry-After is honoured; a slow
// receiver does not grow push's memory; records push missed on the bus are
// fetched back from the store.
//
// The outage lasts ASICMON_PUSH_OUTAGE_S seconds (default 8; ASICMON_SOAK=1
// makes it the 60).
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/record.h"
#include "http_server.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::HttpAnswer;
using asicmon::testing::HttpRequest;
using asicmon::testing::StatValue;
using asicmon::testing::Subprocess;
using asicmon::testing::TestHttpServer;
using nlohmann::json;
using namespace std::chrono_literals;

// Records 10 ms apart, one miner per seq (a thousand workers).
Record MakeRecord(const std::string& producer, uint64_t seq) {
  return testing::RecentSampleRecord(producer, seq);
}

bool SendRecord(zmq::socket_t& socket, const Record& r) {
  const std::string body = EncodeRecord(r);
  return socket.send(zmq::buffer(bus::kTopicRecord), zmq::send_flags::sndmore) &&
         socket.send(zmq::buffer(body), zmq::send_flags::none);
}

// What the receiver holds, as a receiver that drops repeated idempotency
// keys would: per producer, how often each seq was accepted. Updated from the
// server's requests incrementally (a flood is tens of MB of JSON).
struct Delivered {
  std::map<std::string, std::map<uint64_t, int>> seqs;
  size_t requests = 0;       // accepted requests
  size_t repeated_keys = 0;  // accepted again under a key already accepted
  std::set<std::string> keys;
  size_t next = 0;               // first request index not looked at
  std::set<size_t> unanswered;   // looked at, no answer yet (in flight or hanging)

  size_t Distinct(const std::string& producer) const {
    auto it = seqs.find(producer);
    return it == seqs.end() ? 0 : it->second.size();
  }

  void Add(const HttpRequest& r) {
    if (r.answered < 200 || r.answered >= 300) return;
    ++requests;
    if (!keys.insert(r.Header("idempotency-key")).second) {
      ++repeated_keys;
      return;
    }
    const json batch = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!batch.is_array()) return;
    for (const json& record : batch) {
      ++seqs[record["producer_id"].get<std::string>()][record["seq"].get<uint64_t>()];
    }
  }

  void Update(const TestHttpServer& server) {
    for (auto it = unanswered.begin(); it != unanswered.end();) {
      HttpRequest r = server.Request(*it);
      if (r.answered == 0) {
        ++it;
        continue;
      }
      Add(r);
      it = unanswered.erase(it);
    }
    for (const HttpRequest& r : server.Requests(next)) {
      if (r.answered == 0) {
        unanswered.insert(next);
      } else {
        Add(r);
      }
      ++next;
    }
  }
};

// Every seq of `producer` in [1, n] exactly once, none other.
void ExpectExactlyOnce(const Delivered& d, const std::string& producer, uint64_t n) {
  auto it = d.seqs.find(producer);
  ASSERT_NE(it, d.seqs.end()) << producer << ": nothing delivered";
  uint64_t missing = 0;
  uint64_t duplicated = 0;
  for (uint64_t seq = 1; seq <= n; ++seq) {
    auto s = it->second.find(seq);
    if (s == it->second.end()) {
      if (++missing <= 5) ADD_FAILURE() << producer << " seq " << seq << " never arrived";
    } else if (s->second != 1) {
      if (++duplicated <= 5) ADD_FAILURE() << producer << " seq " << seq << " arrived " << s->second << " times";
    }
  }
  EXPECT_EQ(missing, 0u) << producer;
  EXPECT_EQ(duplicated, 0u) << producer;
  EXPECT_EQ(it->second.size(), n) << producer << ": seqs outside 1.." << n;
}

class PushTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("push_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    spool_dir_ = dir_ / "spool";
    ingest_ = "ipc://" + (dir_ / "run" / "ingest.sock").string();
    // The children inherit this environment.
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("PUSH_SPOOL_DIR", spool_dir_.c_str(), 1);
    for (const char* var : {"ENABLE_DB", "ASICMON_INGEST", "ASICMON_PUBLISH", "ASICMON_JOBS",
                            "STATS_INTERVAL", "LOG_LEVEL", "API_URL", "API_KEY", "API_TIMEOUT",
                            "API_CA_FILE", "PUSH_BATCH", "PUSH_FLUSH_MS", "PUSH_FORMAT",
                            "PUSH_SPOOL_MAX_MB", "PUSH_RETRY_MAX"}) {
      unsetenv(var);
    }
    // push flushes often and retries at least once a second, so tests are quick.
    setenv("PUSH_FLUSH_MS", "100", 1);
    setenv("PUSH_RETRY_MAX", "1", 1);
    setenv("API_TIMEOUT", "2", 1);
  }
  void TearDown() override {
    push_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The receiver on 127.37.0.<n>: each test its own address.
  void StartReceiver(int n) {
    receiver_ = std::make_unique<TestHttpServer>("127.37.0." + std::to_string(n));
  }
  void StartStore() {
    store_ = std::make_unique<Subprocess>(
        std::vector<std::string>{BinPath("asicmon-store"), "--stats-interval", "1"},
        /*capture_stderr=*/true);
  }
  void StartPush(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {BinPath("asicmon-push"), "--api-url", receiver_->Url(),
                               "--stats-interval", "1"});
    push_ = std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
  }

  zmq::socket_t Pusher() {
    zmq::socket_t socket(context_, zmq::socket_type::push);
    socket.set(zmq::sockopt::sndhwm, 200000);
    socket.set(zmq::sockopt::sndtimeo, 10000);
    socket.set(zmq::sockopt::linger, 0);
    socket.connect(ingest_);
    return socket;
  }

  // Keeps the children's stderr pipes drained (a full pipe would stall them).
  void Drain() {
    if (push_) push_->stderr_text();
    if (store_) store_->stderr_text();
  }

  // Sends records of producer "warmup" until the receiver has one: store is
  // up and push's subscription reached it.
  void WarmUp(zmq::socket_t& push) {
    for (uint64_t seq = 1; seq <= 300; ++seq) {
      ASSERT_TRUE(SendRecord(push, MakeRecord("warmup", seq)));
      if (receiver_->WaitFor(
              [](const std::vector<HttpRequest>& rs) {
                for (const HttpRequest& r : rs) {
                  if (r.answered == 200 && r.body.find("\"warmup\"") != std::string::npos) return true;
                }
                return false;
              },
              100ms)) {
        return;
      }
      Drain();
    }
    FAIL() << "the receiver got nothing; push stderr: " << push_->stderr_text();
  }

  const Delivered& Collect() {
    delivered_.Update(*receiver_);
    return delivered_;
  }

  // Waits until the receiver holds `n` distinct seqs of `producer`.
  bool WaitDelivered(const std::string& producer, size_t n, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (Collect().Distinct(producer) < n) {
      if (std::chrono::steady_clock::now() >= end) return false;
      Drain();
      std::this_thread::sleep_for(100ms);
    }
    return true;
  }

  bool WaitForStat(Subprocess& p, const std::string& key, uint64_t at_least,
                   std::chrono::milliseconds timeout = 20s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (StatValue(p, key) < at_least) {
      if (std::chrono::steady_clock::now() >= end) return false;
      Drain();
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  bool WaitForStderr(Subprocess& p, const std::string& needle,
                     std::chrono::milliseconds timeout = 20s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (p.stderr_text().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= end) return false;
      Drain();
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }

  static size_t Count(const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

  // SIGTERM, then the exit code; fails the test unless it came within 8 s
  // (push's grace is 5 s).
  static int Terminate(Subprocess& p) {
    const auto start = std::chrono::steady_clock::now();
    p.Signal(SIGTERM);
    const int code = p.Wait(15s);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 8s) << "slow to stop on SIGTERM";
    return code;
  }

  std::filesystem::path dir_;
  std::filesystem::path spool_dir_;
  std::string ingest_;
  zmq::context_t context_{1};
  std::unique_ptr<TestHttpServer> receiver_;
  Delivered delivered_;
  std::unique_ptr<Subprocess> store_;
  std::unique_ptr<Subprocess> push_;
};

std::chrono::seconds OutageLength() {
  if (const char* s = std::getenv("ASICMON_PUSH_OUTAGE_S")) return std::chrono::seconds(std::atoi(s));
  if (const char* soak = std::getenv("ASICMON_SOAK"); soak && std::string(soak) == "1") return 60s;
  return 8s;
}

TEST_F(PushTest, EveryRecordOfAnOutageArrivesExactlyOnceAfterRecovery) {
  StartReceiver(1);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));

  receiver_->Refuse();
  const auto outage = OutageLength();
  constexpr int kPerSecond = 200;
  const auto start = std::chrono::steady_clock::now();
  uint64_t sent = 0;
  while (std::chrono::steady_clock::now() - start < outage) {
    for (int i = 0; i < kPerSecond / 10; ++i) ASSERT_TRUE(SendRecord(push, MakeRecord("outage", ++sent)));
    Drain();
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(WaitForStat(*push_, "spooled", sent)) << push_->stderr_text();
  EXPECT_GE(StatValue(*push_, "spool_pending"), sent / 2);
  EXPECT_GT(StatValue(*push_, "retried"), 0u);
  const size_t during = Collect().Distinct("outage");
  EXPECT_EQ(during, 0u) << "delivered while refusing?";

  receiver_->Listen();
  ASSERT_TRUE(WaitDelivered("outage", sent, 60s)) << push_->stderr_text();
  std::this_thread::sleep_for(500ms);  // nothing more should come
  const Delivered& delivered = Collect();
  ExpectExactlyOnce(delivered, "outage", sent);
  ASSERT_TRUE(WaitForStat(*push_, "sent", sent));
  EXPECT_EQ(StatValue(*push_, "dropped"), 0u);
  EXPECT_EQ(StatValue(*push_, "dead_lettered"), 0u);
  EXPECT_EQ(StatValue(*push_, "bus_gaps"), 0u);
  EXPECT_NE(push_->stderr_text().find("receiver accepts again"), std::string::npos);
  std::cerr << "outage of " << outage.count() << " s: " << sent << " records, "
            << delivered.requests << " accepted requests, " << delivered.repeated_keys
            << " repeated keys\n";
  EXPECT_EQ(Terminate(*push_), 0);
}

TEST_F(PushTest, KillDashNineMidOutageLosesNothing) {
  StartReceiver(2);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  const uint64_t warmups = StatValue(*push_, "spooled");

  receiver_->Refuse();
  for (uint64_t seq = 1; seq <= 2000; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("crash", seq)));
  ASSERT_TRUE(WaitForStat(*push_, "spooled", warmups + 2000)) << push_->stderr_text();
  push_->Signal(SIGKILL);
  ASSERT_EQ(push_->Wait(5s), 128 + SIGKILL);

  // Published while push is dead: missed on the bus, in the store.
  for (uint64_t seq = 2001; seq <= 3000; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("crash", seq)));
  ASSERT_TRUE(WaitForStat(*store_, "stored", warmups + 3000)) << store_->stderr_text();

  StartPush();
  // Keep publishing after the restart, so push sees the gap.
  for (uint64_t seq = 3001; seq <= 3100; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("crash", seq)));
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WaitForStat(*push_, "spooled", 1)) << push_->stderr_text();
  receiver_->Listen();
  ASSERT_TRUE(WaitDelivered("crash", 3100, 60s)) << push_->stderr_text();
  std::this_thread::sleep_for(500ms);
  ExpectExactlyOnce(Collect(), "crash", 3100);
  ASSERT_TRUE(WaitForStat(*push_, "backfilled", 1000)) << push_->stderr_text();
  EXPECT_NE(push_->stderr_text().find("resuming:"), std::string::npos) << push_->stderr_text();
  EXPECT_EQ(StatValue(*push_, "backfill_missing"), 0u);
  EXPECT_EQ(Terminate(*push_), 0);
}

TEST_F(PushTest, A400GoesToTheDeadLetterFileWithoutRetry) {
  StartReceiver(3);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));

  receiver_->Answer(HttpAnswer::Status(400, "{\"error\":\"field hashrate: bad\"}"));
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("rejected", seq)));
    if (seq % 10 == 0) std::this_thread::sleep_for(150ms);  // several batches
  }
  ASSERT_TRUE(WaitForStat(*push_, "dead_lettered", 50)) << push_->stderr_text();
  std::this_thread::sleep_for(2500ms);  // a retry, were there one, would come by now

  std::map<std::string, int> attempts;
  for (const HttpRequest& r : receiver_->Requests()) {
    if (r.body.find("\"rejected\"") != std::string::npos) ++attempts[r.Header("idempotency-key")];
  }
  EXPECT_GE(attempts.size(), 2u);
  for (const auto& [key, n] : attempts) EXPECT_EQ(n, 1) << key << " was retried";
  EXPECT_EQ(StatValue(*push_, "retried"), 0u);

  std::ifstream in(spool_dir_ / "dead-letter.jsonl");
  ASSERT_TRUE(in) << "no dead-letter file";
  std::set<uint64_t> dead;
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    EXPECT_EQ(j["http_status"], 400);
    EXPECT_EQ(j["response"], "{\"error\":\"field hashrate: bad\"}");
    EXPECT_TRUE(attempts.count(j["idempotency_key"].get<std::string>()));
    for (const json& r : j["records"]) dead.insert(r["seq"].get<uint64_t>());
  }
  EXPECT_EQ(dead.size(), 50u);
  // Logged once, not per batch.
  EXPECT_EQ(Count(push_->stderr_text(), "receiver rejected batch"), 1u) << push_->stderr_text();
  EXPECT_NE(push_->stderr_text().find("field hashrate: bad"), std::string::npos);

  receiver_->Answer(HttpAnswer{});
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("after", seq)));
  ASSERT_TRUE(WaitDelivered("after", 10, 20s)) << push_->stderr_text();
}

TEST_F(PushTest, RetryAfterIsHonouredAnd5xxIsRetriedUnderTheSameKey) {
  StartReceiver(4);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));

  std::atomic<int> throttled{0};
  std::atomic<int> failed{0};
  receiver_->Answer([&](const HttpRequest& r) {
    if (r.body.find("\"throttled\"") != std::string::npos && throttled++ == 0) {
      return HttpAnswer::Status(429, "slow down", {{"Retry-After", "3"}});
    }
    if (r.body.find("\"flaky\"") != std::string::npos && failed++ < 2) {
      return HttpAnswer::Status(500, "oops");
    }
    return HttpAnswer{};
  });
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("throttled", seq)));
  ASSERT_TRUE(WaitDelivered("throttled", 10, 20s)) << push_->stderr_text();
  for (uint64_t seq = 1; seq <= 10; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("flaky", seq)));
  ASSERT_TRUE(WaitDelivered("flaky", 10, 20s)) << push_->stderr_text();

  std::vector<HttpRequest> throttled_requests;
  std::vector<HttpRequest> flaky_requests;
  for (const HttpRequest& r : receiver_->Requests()) {
    if (r.body.find("\"throttled\"") != std::string::npos) throttled_requests.push_back(r);
    if (r.body.find("\"flaky\"") != std::string::npos) flaky_requests.push_back(r);
  }
  ASSERT_GE(throttled_requests.size(), 2u);
  EXPECT_EQ(throttled_requests[0].answered, 429);
  EXPECT_EQ(throttled_requests[1].answered, 200);
  EXPECT_EQ(throttled_requests[0].Header("idempotency-key"),
            throttled_requests[1].Header("idempotency-key"));
  // Retry-After: 3, although the backoff is capped at 1 s here.
  EXPECT_GE(throttled_requests[1].received - throttled_requests[0].received, 2900ms);

  ASSERT_GE(flaky_requests.size(), 3u);
  EXPECT_EQ(flaky_requests[0].answered, 500);
  EXPECT_EQ(flaky_requests[1].answered, 500);
  EXPECT_EQ(flaky_requests[2].answered, 200);
  for (const HttpRequest& r : flaky_requests) {
    EXPECT_EQ(r.Header("idempotency-key"), flaky_requests[0].Header("idempotency-key"));
  }
  ExpectExactlyOnce(Collect(), "flaky", 10);
  EXPECT_TRUE(WaitForStat(*push_, "retried", 3)) << push_->stderr_text();
}

TEST_F(PushTest, ASlowReceiverDoesNotGrowPushsMemory) {
  StartReceiver(5);
  StartStore();
#ifdef __SANITIZE_ADDRESS__
  // ASan keeps up to 256 MB of freed memory in quarantine: that is ASan's
  // memory, not push's. A small quarantine still catches use-after-free.
  const char* asan = std::getenv("ASAN_OPTIONS");
  setenv("ASAN_OPTIONS",
         ((asan != nullptr ? std::string(asan) + ":" : std::string()) + "quarantine_size_mb=4")
             .c_str(),
         1);
#endif
  StartPush({"--api-timeout", "1"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  std::this_thread::sleep_for(500ms);
  const int64_t baseline_kib = testing::ProcStatusKib(push_->pid(), "VmRSS");
  const uint64_t warmups = StatValue(*push_, "spooled");

  receiver_->Answer(HttpAnswer::Hang());
  constexpr uint64_t kN = 100000;  // ~48 MB of msgpack
  int64_t peak_kib = baseline_kib;
  for (uint64_t seq = 1; seq <= kN; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("flood", seq)));
    if (seq % 5000 == 0) {
      peak_kib = std::max(peak_kib, testing::ProcStatusKib(push_->pid(), "VmRSS"));
      Drain();
    }
  }
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (StatValue(*push_, "spooled") + StatValue(*push_, "bus_gaps") < warmups + kN &&
         std::chrono::steady_clock::now() < end) {
    peak_kib = std::max(peak_kib, testing::ProcStatusKib(push_->pid(), "VmRSS"));
    Drain();
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(StatValue(*push_, "spooled"), warmups + kN / 2) << push_->stderr_text();
  EXPECT_TRUE(WaitForStat(*push_, "spool_mb", 21)) << "records are not in the spool";
  const int64_t growth_kib = peak_kib - baseline_kib;
  std::cerr << "push VmRSS " << baseline_kib / 1024 << " MiB before, peak " << peak_kib / 1024
            << " MiB while ~" << kN * 480 / (1 << 20) << " MiB of records went to the spool\n";
  EXPECT_LT(growth_kib, 24 * 1024) << "push holds records in memory";

  // And all of it goes out once the receiver answers.
  receiver_->Answer(HttpAnswer{});
  ASSERT_TRUE(WaitDelivered("flood", kN, 120s)) << push_->stderr_text();
  ExpectExactlyOnce(Collect(), "flood", kN);
}

TEST_F(PushTest, AFullSpoolDropsTheOldestAndCountsThem) {
  StartReceiver(11);
  StartStore();
  StartPush({"--spool-max-mb", "1"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  receiver_->Refuse();
  constexpr uint64_t kN = 10000;  // ~5 MB into a 1 MB spool
  for (uint64_t seq = 1; seq <= kN; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("full", seq)));
  ASSERT_TRUE(WaitForStderr(*push_, "spool full (1 MB)")) << push_->stderr_text();
  ASSERT_TRUE(WaitForStat(*push_, "spooled", kN)) << push_->stderr_text();
  std::this_thread::sleep_for(1500ms);  // the last housekeeping pass
  EXPECT_LE(StatValue(*push_, "spool_mb"), 2u);

  receiver_->Listen();
  // Every record spooled (warm-up ones too) is delivered or counted as dropped.
  const uint64_t spooled = StatValue(*push_, "spooled");
  const auto end = std::chrono::steady_clock::now() + 30s;
  uint64_t dropped = 0;
  auto delivered_all = [&] { return Collect().Distinct("full") + Collect().Distinct("warmup"); };
  while (delivered_all() + (dropped = StatValue(*push_, "dropped")) < spooled &&
         std::chrono::steady_clock::now() < end) {
    Drain();
    std::this_thread::sleep_for(100ms);
  }
  const Delivered& delivered = Collect();
  EXPECT_GT(dropped, kN / 2);
  EXPECT_EQ(delivered_all() + dropped, spooled) << "every record delivered or counted";
  // The newest survive, none twice.
  const auto& seqs = delivered.seqs.at("full");
  EXPECT_EQ(seqs.rbegin()->first, kN);
  for (const auto& [seq, times] : seqs) EXPECT_EQ(times, 1) << seq;
}

TEST_F(PushTest, RecordsMissedWhilePushWasDownAreFetchedFromTheStore) {
  StartReceiver(6);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  for (uint64_t seq = 1; seq <= 100; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("missed", seq)));
  ASSERT_TRUE(WaitDelivered("missed", 100, 20s)) << push_->stderr_text();
  EXPECT_EQ(Terminate(*push_), 0) << push_->stderr_text();
  EXPECT_NE(push_->stderr_text().find("stopped cleanly"), std::string::npos);

  const uint64_t stored = StatValue(*store_, "stored");
  for (uint64_t seq = 101; seq <= 600; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("missed", seq)));
  ASSERT_TRUE(WaitForStat(*store_, "stored", stored + 500));

  StartPush();
  for (uint64_t seq = 601; seq <= 700; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("missed", seq)));
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WaitDelivered("missed", 700, 30s)) << push_->stderr_text();
  std::this_thread::sleep_for(500ms);
  ExpectExactlyOnce(Collect(), "missed", 700);
  ASSERT_TRUE(WaitForStat(*push_, "backfilled", 500));
  EXPECT_GE(StatValue(*push_, "bus_gaps"), 500u);
  EXPECT_NE(push_->stderr_text().find("fetching them from the store"), std::string::npos);
}

TEST_F(PushTest, GapsTheStoreLacksTooAreCountedAsMissing) {
  StartReceiver(7);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    if (seq > 10 && seq <= 20) continue;  // lost before the store, as if collect crashed mid-send
    ASSERT_TRUE(SendRecord(push, MakeRecord("gappy", seq)));
  }
  ASSERT_TRUE(WaitDelivered("gappy", 20, 20s)) << push_->stderr_text();
  ASSERT_TRUE(WaitForStat(*push_, "backfill_missing", 10)) << push_->stderr_text();
  EXPECT_EQ(StatValue(*push_, "bus_gaps"), 10u);
  EXPECT_EQ(StatValue(*push_, "backfilled"), 0u);
  EXPECT_NE(push_->stderr_text().find("are not in the store either"), std::string::npos);
}

// A restarted store gets what its predecessor lost from the collectors'
// outboxes just after their newer records (outbox.h): push sees the gap,
// then the records that fill it, and neither fetches them back nor calls
// them missing. They follow within milliseconds; push waits 3 s.
TEST_F(PushTest, RecordsResentToARestartedStoreFillTheirGap) {
  StartReceiver(10);
  StartStore();
  StartPush();
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    if (seq > 10 && seq <= 20) continue;
    ASSERT_TRUE(SendRecord(push, MakeRecord("resent", seq)));
  }
  for (uint64_t seq = 11; seq <= 20; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("resent", seq)));
  ASSERT_TRUE(WaitDelivered("resent", 30, 20s)) << push_->stderr_text();
  ASSERT_TRUE(WaitForStat(*push_, "late", 10)) << push_->stderr_text();
  EXPECT_EQ(StatValue(*push_, "bus_gaps"), 10u);
  EXPECT_EQ(StatValue(*push_, "backfilled"), 0u);
  EXPECT_EQ(StatValue(*push_, "backfill_missing"), 0u);
  EXPECT_EQ(StatValue(*push_, "gaps_open"), 0u);
  ExpectExactlyOnce(Collect(), "resent", 30);
}

TEST_F(PushTest, WithoutTheStoreGapsAreCountedAndLogged) {
  StartReceiver(8);
  StartStore();
  StartPush({"--no-backfill"});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  for (uint64_t seq = 1; seq <= 50; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("nodb", seq)));
  ASSERT_TRUE(WaitDelivered("nodb", 50, 20s));
  EXPECT_EQ(Terminate(*push_), 0);
  const uint64_t stored = StatValue(*store_, "stored");
  for (uint64_t seq = 51; seq <= 150; ++seq) ASSERT_TRUE(SendRecord(push, MakeRecord("nodb", seq)));
  ASSERT_TRUE(WaitForStat(*store_, "stored", stored + 100));
  StartPush({"--no-backfill"});
  for (uint64_t seq = 151; seq <= 200; ++seq) {
    ASSERT_TRUE(SendRecord(push, MakeRecord("nodb", seq)));
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WaitForStat(*push_, "bus_gaps", 100)) << push_->stderr_text();
  EXPECT_EQ(StatValue(*push_, "backfilled"), 0u);
  EXPECT_NE(push_->stderr_text().find("not recoverable (ENABLE_DB=false)"), std::string::npos);
}

TEST_F(PushTest, BadBusMessagesAreCountedAndSurvived) {
  StartReceiver(9);
  // push's own publisher in place of the store, so garbage reaches it.
  const std::string publish = "ipc://" + (dir_ / "fake-publish.sock").string();
  setenv("ASICMON_PUBLISH", publish.c_str(), 1);
  zmq::socket_t pub(context_, zmq::socket_type::pub);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind(publish);
  StartPush({"--no-backfill"});
  unsetenv("ASICMON_PUBLISH");

  auto send = [&](const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      pub.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  };
  // The subscription takes a moment to reach the publisher: repeat until seen.
  for (uint64_t seq = 1; seq <= 100 && Collect().Distinct("warmup") == 0; ++seq) {
    send({"record", EncodeRecord(MakeRecord("warmup", seq))});
    std::this_thread::sleep_for(100ms);
    Drain();
  }
  ASSERT_GT(Collect().Distinct("warmup"), 0u) << push_->stderr_text();
  const std::vector<std::vector<std::string>> garbage = {
      {"record"},
      {"record", "\xc1\xc1 not msgpack"},
      {"record", ""},
      {"record", EncodeRecord(MakeRecord("x", 1)), "extra"},
      {"record", std::string((1 << 20) + 1, 'x')},
  };
  for (const auto& frames : garbage) send(frames);
  for (uint64_t seq = 1; seq <= 5; ++seq) send({"record", EncodeRecord(MakeRecord("good", seq))});
  ASSERT_TRUE(WaitDelivered("good", 5, 20s)) << push_->stderr_text();
  ASSERT_TRUE(WaitForStat(*push_, "bad_messages", garbage.size())) << push_->stderr_text();
  EXPECT_EQ(StatValue(*push_, "bad_messages"), garbage.size());
  EXPECT_EQ(Count(push_->stderr_text(), "bad message on the bus"), 1u) << push_->stderr_text();
  EXPECT_EQ(Collect().Distinct("x"), 0u);
}

// --api-key is for trials (SECURITY.md), yet it must not sit in ps for every
// local user to read: push stars it out of its own command line once parsed.
TEST_F(PushTest, TheApiKeyFlagReachesTheReceiverButNotPs) {
  const std::string key = "flag-k3y-0123456789";
  StartReceiver(12);
  StartStore();
  StartPush({"--api-key", key});
  zmq::socket_t push = Pusher();
  ASSERT_NO_FATAL_FAILURE(WarmUp(push));
  const std::vector<HttpRequest> requests = receiver_->Requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(requests.back().Header("authorization"), "Bearer " + key);

  std::ifstream in("/proc/" + std::to_string(push_->pid()) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  EXPECT_EQ(cmdline.find(key), std::string::npos) << cmdline;
  EXPECT_NE(cmdline.find("--api-key " + std::string(key.size(), '*')), std::string::npos)
      << cmdline;
  EXPECT_EQ(Terminate(*push_), 0);
}

TEST_F(PushTest, WithoutApiUrlItSaysSoAndExitsZero) {
  Subprocess disabled({BinPath("asicmon-push")}, /*capture_stderr=*/true);
  EXPECT_EQ(disabled.Wait(10s), 0);
  EXPECT_NE(disabled.stderr_text().find("push is disabled"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(spool_dir_));

  setenv("PUSH_BATCH", "lots", 1);
  Subprocess bad_env({BinPath("asicmon-push"), "--api-url", "http://127.37.0.10:9/"},
                     /*capture_stderr=*/true);
  unsetenv("PUSH_BATCH");
  EXPECT_EQ(bad_env.Wait(10s), 2);
  EXPECT_NE(bad_env.stderr_text().find("PUSH_BATCH"), std::string::npos);
  Subprocess bad_url({BinPath("asicmon-push"), "--api-url", "gopher://x"}, true);
  EXPECT_EQ(bad_url.Wait(10s), 2);
}

}  // namespace
}  // namespace asicmon
