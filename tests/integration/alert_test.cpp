// Health events end to end: records pushed into a real asicmon-store make
// the health rules fire and clear (stored, published), and a real
// asicmon-alert POSTs each to a webhook on 127.45.0.1, retrying through
// 503s under one Idempotency-Key, in order, once each.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/clock.h"
#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "http_server.h"
#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::BinPath;
using testing::Subprocess;

constexpr const char* kWebhookIp = "127.45.0.1";

class AlertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) / ("alert_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("SCAN_INTERVAL", "30", 1);
    setenv("PUSH_RETRY_MAX", "0.2", 1);  // retries within the test's time
    for (const char* var :
         {"ASICMON_INGEST", "ASICMON_PUBLISH", "ENABLE_DB", "ALERT_OFFLINE_POLLS"}) {
      unsetenv(var);
    }
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool Send(zmq::socket_t& push, const Record& r) {
    return bus::TrySend(push, bus::kTopicRecord, EncodeRecord(r));
  }

  std::filesystem::path dir_;
  zmq::context_t context_{1};
};

// Events the webhook accepted (answered 200), as "ip kind/state", in order.
std::vector<std::string> Accepted(const std::vector<testing::HttpRequest>& requests,
                                  const std::string& ip) {
  std::vector<std::string> out;
  for (const testing::HttpRequest& r : requests) {
    if (r.answered != 200) continue;
    const json e = json::parse(r.body, nullptr, false);
    if (e.is_discarded() || e.value("ip", "") != ip) continue;
    out.push_back(e.value("kind", "") + "/" + e.value("state", ""));
  }
  return out;
}

TEST_F(AlertTest, EventsFireOnceClearOnceAndReachTheWebhookThroughRetries) {
  testing::TestHttpServer hook(kWebhookIp);
  const std::string ip = testing::DataOnlyIp(700);
  // The first two attempts at the miner's first event meet an outage.
  std::atomic<int> refused = 0;
  hook.Answer([&](const testing::HttpRequest& r) {
    if (r.body.find(ip) != std::string::npos && refused < 2) {
      ++refused;
      return testing::HttpAnswer::Status(503, "busy");
    }
    return testing::HttpAnswer::Status(200, "ok");
  });
  auto store = std::make_unique<Subprocess>(
      std::vector<std::string>{BinPath("asicmon-store"), "--stats-interval", "1"}, true);
  setenv("ALERT_WEBHOOK_URL", hook.Url("/hook").c_str(), 1);
  auto alert = std::make_unique<Subprocess>(
      std::vector<std::string>{BinPath("asicmon-alert"), "--stats-interval", "1"}, true);
  unsetenv("ALERT_WEBHOOK_URL");
  ASSERT_TRUE(alert->WaitForStderr("posting health events", 10s)) << alert->stderr_text();

  zmq::socket_t push(context_, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, 0);
  push.connect("ipc://" + (dir_ / "run" / "ingest.sock").string());

  // Until alert's subscription reaches the store (SUB misses what came
  // before), a warm-up miner flips between hot and cool: an event each time.
  const std::string warm_ip = testing::DataOnlyIp(701);
  // Recent: the store also takes a miner silent for 3 intervals as offline.
  const double t0 = UnixNow() - 300;
  uint64_t warm_seq = 0;
  bool warmed = false;
  for (int i = 0; i < 100 && !warmed; ++i) {
    ++warm_seq;
    Record r = testing::SampleRecord("warmup", warm_seq, 701, t0 + static_cast<double>(warm_seq));
    r.temp_max = i % 2 == 0 ? 99 : 60;
    ASSERT_TRUE(Send(push, r));
    warmed = hook.WaitFor(
        [&](const std::vector<testing::HttpRequest>& rs) {
          for (const auto& q : rs) {
            if (q.body.find(warm_ip) != std::string::npos) return true;
          }
          return false;
        },
        200ms);
  }
  ASSERT_TRUE(warmed) << "store: " << store->stderr_text() << "\nalert: " << alert->stderr_text();

  // The miner: healthy, hot twice (one event), three timeouts (offline once),
  // back and cool (offline and overheat clear), rebooted.
  uint64_t seq = 0;
  auto poll = [&](double temp) {
    ++seq;
    Record r = testing::SampleRecord("collect-a", seq, 700, t0 + 30.0 * static_cast<double>(seq));
    r.temp_max = temp;
    return r;
  };
  auto timeout = [&]() {
    Record r;
    r.producer_id = "collect-a";
    r.seq = ++seq;
    r.ts = t0 + 30.0 * static_cast<double>(seq);
    r.ip = ip;
    r.status = MinerStatus::kTimeout;
    r.error = "no reply within 5 s";
    return r;
  };
  std::vector<Record> records = {poll(70),  poll(99),  poll(98), timeout(),
                                 timeout(), timeout(), poll(70)};
  Record rebooted = poll(70);
  rebooted.uptime_s = 12;
  records.push_back(rebooted);
  for (const Record& r : records) ASSERT_TRUE(Send(push, r));

  const std::vector<std::string> want = {"overheat/fired", "offline/fired", "offline/cleared",
                                         "overheat/cleared", "rebooted/fired"};
  EXPECT_TRUE(
      hook.WaitFor([&](const auto& rs) { return Accepted(rs, ip).size() >= want.size(); }, 20s))
      << "alert: " << alert->stderr_text();
  std::this_thread::sleep_for(300ms);  // nothing more may come
  EXPECT_EQ(Accepted(hook.Requests(), ip), want);

  // The refused attempts and the accepted one carry the same key.
  std::vector<std::string> first_keys;
  for (const testing::HttpRequest& r : hook.Requests()) {
    if (r.body.find(ip) == std::string::npos) continue;
    EXPECT_EQ(r.Header("content-type"), "application/json");
    first_keys.push_back(r.Header("idempotency-key"));
    if (r.answered == 200) break;
  }
  ASSERT_EQ(first_keys.size(), 3u);
  EXPECT_EQ(first_keys[0], first_keys[2]);
  EXPECT_NE(first_keys[0].find(":overheat:fired:"), std::string::npos) << first_keys[0];
  for (const testing::HttpRequest& r : hook.Requests()) {
    if (r.body.find(ip) == std::string::npos) continue;
    const json first = json::parse(r.body, nullptr, false);
    EXPECT_EQ(first.value("severity", ""), "critical");
    EXPECT_EQ(first.value("value", 0.0), 99);
    EXPECT_EQ(first.value("threshold", 0.0), 95);
    EXPECT_EQ(first.value("model", ""), "Antminer S19 Pro");
    break;
  }

  // Stored too, newest first.
  StoreOptions options;
  options.database = (dir_ / "asicmon.db").string();
  auto db = StoreDb::Open(options);
  ASSERT_OK(db);
  Result<std::vector<HealthEvent>> stored =
      (*db)->Events({.since = 0, .ip = ip, .kind = "", .limit = 100});
  ASSERT_OK(stored);
  std::vector<std::string> stored_kinds;
  for (auto it = stored->rbegin(); it != stored->rend(); ++it) {
    stored_kinds.push_back(it->kind + "/" + it->state);
  }
  EXPECT_EQ(stored_kinds, want);
  const auto until = std::chrono::steady_clock::now() + 5s;  // the next stats line
  while (testing::StatValue(*alert, "retries") < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(testing::StatValue(*alert, "retries"), 2u) << alert->stderr_text();
  EXPECT_TRUE(store->WaitForStderr("health: ", 1s));

  alert->Signal(SIGTERM);
  EXPECT_EQ(alert->Wait(5s), 0);
}

TEST_F(AlertTest, WithoutAWebhookItSaysSoAndExits) {
  unsetenv("ALERT_WEBHOOK_URL");
  Subprocess alert({BinPath("asicmon-alert")}, true);
  EXPECT_EQ(alert.Wait(5s), 0);
  EXPECT_NE(alert.stderr_text().find("ALERT_WEBHOOK_URL is empty"), std::string::npos);
}

}  // namespace
}  // namespace asicmon
