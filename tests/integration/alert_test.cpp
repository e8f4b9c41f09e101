// Health events end to end: records pushed into a real asicmon-store make
// the health rules fire and clear (stored, published), and a real
// asicmon-alert POSTs each to a webhook on 127.45.0.1, retrying through
// 503s under one Idempotency-Key, in order, once each. Then asicmon-alert
// alone, fed by the test's own publisher, sends to receivers on 127.45.0.2
// in each format (json, Slack, Telegram, PagerDuty) with the fields each
// requires, a burst of 200 offline events as one message per destination
// (one incident per kind for PagerDuty), past a receiver that never answers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/clock.h"
#include "asicmon/health.h"
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
    setenv("ALERT_GROUP_S", "0", 1);     // each event alone, as this file's first test counts them
    for (const char* var :
         {"ASICMON_INGEST", "ASICMON_PUBLISH", "ENABLE_DB", "ALERT_OFFLINE_POLLS",
          "ALERT_DESTINATIONS", "ALERT_FORMAT", "ALERT_QUIET_HOURS", "ALERT_WEBHOOK_URL"}) {
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

TEST_F(AlertTest, HostileConfigExitsTwoWithAClearMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[{\"name\":\"a\"", "not a JSON list"},
      {R"([{"name":"a","format":"teams","url":"http://127.45.0.2/"}])", "unknown format"},
      {R"([{"name":"a","format":"json","url":"http://127.45.0.2/","quiet_hours":"22-6"}])",
       "HH:MM-HH:MM"},
  };
  for (const auto& [value, why] : cases) {
    setenv("ALERT_DESTINATIONS", value.c_str(), 1);
    Subprocess alert({BinPath("asicmon-alert")}, true);
    EXPECT_EQ(alert.Wait(5s), 2) << value;
    EXPECT_NE(alert.stderr_text().find(why), std::string::npos) << alert.stderr_text();
  }
  unsetenv("ALERT_DESTINATIONS");
  setenv("ALERT_QUIET_HOURS", "25:00-06:00", 1);
  setenv("ALERT_WEBHOOK_URL", "http://127.45.0.2/hook", 1);
  Subprocess alert({BinPath("asicmon-alert")}, true);
  EXPECT_EQ(alert.Wait(5s), 2);
  EXPECT_NE(alert.stderr_text().find("ALERT_QUIET_HOURS"), std::string::npos);
}

// The requests of one receiver path (prefix), bodies parsed.
std::vector<json> Bodies(const std::vector<testing::HttpRequest>& requests,
                         const std::string& path_prefix) {
  std::vector<json> out;
  for (const testing::HttpRequest& r : requests) {
    if (r.target.rfind(path_prefix, 0) != 0) continue;
    out.push_back(json::parse(r.body, nullptr, false));
  }
  return out;
}

HealthEvent OfflineEvent(int n, const std::string& state) {
  HealthEvent e;
  e.ts = 1796000000.25 + n;
  e.ip = testing::DataOnlyIp(n);
  e.model = "Antminer S19 Pro";
  e.worker = "farm.rig" + std::to_string(n);
  e.kind = "offline";
  e.state = state;
  e.severity = "critical";
  e.message = state == "fired" ? "no answer for 3 polls" : "back online";
  return e;
}

TEST_F(AlertTest, EachFormatReachesItsReceiverAndABurstBecomesOneMessagePerDestination) {
  testing::TestHttpServer hook("127.45.0.2");
  hook.Answer([](const testing::HttpRequest& r) {
    if (r.target == "/stuck") return testing::HttpAnswer::Hang();  // holds only its own
    // PagerDuty answers 202 Accepted; Telegram {"ok":true,...}; Slack "ok".
    if (r.target == "/pd") return testing::HttpAnswer::Status(202, R"({"status":"success"})");
    if (r.target.rfind("/tg/", 0) == 0) return testing::HttpAnswer::Status(200, R"({"ok":true})");
    return testing::HttpAnswer::Status(200, "ok");
  });
  const std::string base = hook.Url("");
  const json destinations = json::array({
      {{"name", "script"}, {"format", "json"}, {"url", base + "/json"}, {"key", "k-script"}},
      {{"name", "ops"}, {"format", "slack"}, {"url", base + "/slack/T0/B0/s3cret"},
       {"min_severity", "critical"}},
      {{"name", "night"}, {"format", "telegram"}, {"url", base + "/tg"}, {"key", "123:T0KEN"},
       {"chat_id", "-100777"}},
      {{"name", "pager"}, {"format", "pagerduty"}, {"url", base + "/pd"},
       {"routing_key", "R0UT1NGKEY"}},
      {{"name", "stuck"}, {"format", "json"}, {"url", base + "/stuck"}},
  });
  std::filesystem::create_directories(dir_ / "run");
  zmq::socket_t pub(context_, zmq::socket_type::pub);
  pub.set(zmq::sockopt::sndhwm, 100000);
  pub.set(zmq::sockopt::linger, 0);
  pub.bind("ipc://" + (dir_ / "run" / "publish.sock").string());
  const std::filesystem::path file = dir_ / "destinations.json";
  std::ofstream(file) << destinations.dump();
  std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::owner_write);
  setenv("ALERT_DESTINATIONS", file.c_str(), 1);
  setenv("ALERT_GROUP_S", "0.5", 1);
  setenv("API_TIMEOUT", "60", 1);  // the stuck receiver's request hangs on
  Subprocess alert({BinPath("asicmon-alert"), "--stats-interval", "1"}, true);
  unsetenv("API_TIMEOUT");
  ASSERT_TRUE(alert.WaitForStderr("posting health events", 10s)) << alert.stderr_text();

  // Until the subscription is in place (SUB misses what came before), an
  // info event each 100 ms; the script's receiver takes them all.
  HealthEvent warm = OfflineEvent(900, "fired");
  warm.kind = "rebooted";
  warm.severity = "info";
  bool warmed = false;
  for (int i = 0; i < 100 && !warmed; ++i) {
    warm.ts = UnixNow();
    ASSERT_TRUE(bus::TrySend(pub, bus::kTopicEvent, EncodeHealthEvent(warm)));
    warmed = hook.WaitFor([](const auto& rs) { return !Bodies(rs, "/json").empty(); }, 100ms);
  }
  ASSERT_TRUE(warmed) << alert.stderr_text();

  for (int n = 1; n <= 200; ++n) {
    ASSERT_TRUE(bus::TrySend(pub, bus::kTopicEvent, EncodeHealthEvent(OfflineEvent(n, "fired"))));
  }
  auto offline_groups = [](const std::vector<json>& bodies) {
    return std::count_if(bodies.begin(), bodies.end(),
                         [](const json& b) { return b.value("kind", "") == "offline"; });
  };
  auto texts_with = [](const std::vector<json>& bodies, const std::string& part) {
    return std::count_if(bodies.begin(), bodies.end(), [&](const json& b) {
      return b.value("text", "").find(part) != std::string::npos;
    });
  };
  auto pd_actions = [](const std::vector<json>& bodies, const std::string& action) {
    return std::count_if(bodies.begin(), bodies.end(),
                         [&](const json& b) { return b.value("event_action", "") == action; });
  };
  const std::string burst = "[CRITICAL] 200 miners offline: " + testing::DataOnlyIp(1) + ", ";
  ASSERT_TRUE(hook.WaitFor(
      [&](const auto& rs) {
        return offline_groups(Bodies(rs, "/json")) >= 1 && texts_with(Bodies(rs, "/slack"), burst) >= 1 &&
               texts_with(Bodies(rs, "/tg/"), burst) >= 1 &&
               pd_actions(Bodies(rs, "/pd"), "trigger") >= 2;
      },
      10s))
      << alert.stderr_text();

  // One clear: today's object for the script; PagerDuty's incident stays
  // open while 199 are still offline.
  ASSERT_TRUE(bus::TrySend(pub, bus::kTopicEvent, EncodeHealthEvent(OfflineEvent(7, "cleared"))));
  ASSERT_TRUE(hook.WaitFor(
      [&](const auto& rs) {
        return texts_with(Bodies(rs, "/slack"), "offline cleared") >= 1 &&
               texts_with(Bodies(rs, "/tg/"), "offline cleared") >= 1 &&
               offline_groups(Bodies(rs, "/json")) >= 2;
      },
      10s))
      << alert.stderr_text();
  std::this_thread::sleep_for(300ms);  // nothing more may come
  const std::vector<testing::HttpRequest> requests = hook.Requests();

  // json: the burst as one group object of all 200, then the clear alone;
  // Bearer key and Idempotency-Key on each.
  std::vector<json> script;
  for (const testing::HttpRequest& r : requests) {
    if (r.target != "/json") continue;
    EXPECT_EQ(r.Header("authorization"), "Bearer k-script");
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_FALSE(r.Header("idempotency-key").empty());
    const json b = json::parse(r.body, nullptr, false);
    if (b.value("kind", "") == "offline") script.push_back(b);
  }
  ASSERT_EQ(script.size(), 2u);
  EXPECT_EQ(script[0].value("count", 0), 200);
  EXPECT_EQ(script[0]["events"].size(), 200u);
  EXPECT_EQ(script[1], HealthEventToJson(OfflineEvent(7, "cleared")));

  // Slack: {"text"} only, critical only (the info warm-up never came), one
  // message for the burst.
  const std::vector<json> slack = Bodies(requests, "/slack/T0/B0/s3cret");
  ASSERT_EQ(slack.size(), 2u);
  EXPECT_EQ(slack[0].size(), 1u);
  EXPECT_EQ(slack[0].value("text", "").rfind(burst, 0), 0u) << slack[0];
  EXPECT_NE(slack[0].value("text", "").find(" and 190 more"), std::string::npos);

  // Telegram: POST <base>/bot<token>/sendMessage with chat_id and text.
  size_t telegram_burst = 0;
  for (const testing::HttpRequest& r : requests) {
    if (r.target.rfind("/tg/", 0) != 0) continue;
    EXPECT_EQ(r.target, "/tg/bot123:T0KEN/sendMessage");
    EXPECT_EQ(r.Header("content-type"), "application/json");
    const json b = json::parse(r.body, nullptr, false);
    EXPECT_EQ(b.value("chat_id", ""), "-100777");
    EXPECT_FALSE(b.value("text", "").empty());
    if (b.value("text", "").rfind(burst, 0) == 0) ++telegram_burst;
  }
  EXPECT_EQ(telegram_burst, 1u);

  // PagerDuty: one trigger for the burst (one incident for the kind) with
  // routing_key, dedup_key and the payload's summary, source and severity;
  // no resolve while others of the kind are still offline.
  std::vector<json> offline_triggers;
  for (const json& b : Bodies(requests, "/pd")) {
    EXPECT_EQ(b.value("routing_key", ""), "R0UT1NGKEY");
    EXPECT_NE(b.value("event_action", ""), "resolve") << b;
    if (b["payload"].value("class", "") == "offline") offline_triggers.push_back(b);
  }
  ASSERT_EQ(offline_triggers.size(), 1u);
  const json& page = offline_triggers[0];
  EXPECT_EQ(page.value("event_action", ""), "trigger");
  EXPECT_EQ(page.value("dedup_key", ""), "asicmon:offline");
  EXPECT_EQ(page["payload"].value("summary", "").rfind(burst, 0), 0u) << page;
  EXPECT_EQ(page["payload"].value("severity", ""), "critical");
  EXPECT_EQ(page["payload"]["custom_details"].value("count", 0), 200);

  // The receiver that never answers got its first request and holds it.
  EXPECT_GE(Bodies(requests, "/stuck").size(), 1u);
  // A receiver records a request before it answers, and the counter follows the answer.
  ASSERT_TRUE(testing::WaitForStat(alert, "pager.sent", 2, 5s)) << alert.stderr_text();
  ASSERT_TRUE(testing::WaitForStat(alert, "ops.sent", 2, 5s)) << alert.stderr_text();
  EXPECT_EQ(testing::StatValue(alert, "ops.sent"), 2u);
  EXPECT_GE(testing::StatValue(alert, "ops.below_min"), 1u);
  EXPECT_EQ(testing::StatValue(alert, "stuck.sent"), 0u);

  alert.Signal(SIGTERM);
  EXPECT_EQ(alert.Wait(5s), 0);  // the hanging request is cut short
  EXPECT_NE(alert.stderr_text().find("destination stuck:"), std::string::npos);
  for (const char* secret : {"s3cret", "123:T0KEN", "R0UT1NGKEY", "k-script"}) {
    EXPECT_EQ(alert.stderr_text().find(secret), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace asicmon
