// Bulk requests and selection, the remediation rules file, and what the
// rules engine decides, with a real CommandGate whose miners do not answer
// (a closed port on 127.53.0.1): the actions fail fast, for real.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "asicmon/targets.h"
#include "fleet.h"
#include "jobs.h"
#include "remediation.h"
#include "testlib.h"

namespace asicmon::control {
namespace {

using nlohmann::json;

std::string Message(const Status& s) { return s.message(); }

TEST(BulkRequestTest, AcceptsAPoolChangeOverASelection) {
  Result<BulkRequest> r = ParseBulkRequest(R"({"action": "pool",
      "select": {"cidr": "10.1.2.0/24", "model": "Antminer S19 Pro", "worker_prefix": "row3."},
      "params": {"url": "stratum+tcp://pool.example.com:3333", "user": "farm.new", "password": "x"},
      "max_parallel": 20})");
  ASSERT_OK(r);
  EXPECT_EQ(r->kind, ActionKind::kPool);
  ASSERT_EQ(r->pool.pools.size(), 1u);
  EXPECT_EQ(r->pool.pools[0].user, "farm.new");
  EXPECT_EQ(r->max_parallel, 20);
  EXPECT_FALSE(r->dry_run);
  EXPECT_EQ(r->select.ToJson(), json::parse(R"({"cidr": "10.1.2.0/24", "model": "Antminer S19 Pro",
                                                 "worker_prefix": "row3."})"));
}

TEST(BulkRequestTest, AcceptsThreePoolsInPriorityOrderAndAPowerChange) {
  Result<BulkRequest> pools = ParseBulkRequest(R"({"action": "pool", "select": {"ips": ["10.0.0.1"]},
      "params": {"pools": [{"url": "stratum+tcp://a.example:3333", "user": "w1"},
                           {"url": "stratum+tcp://b.example:3333", "user": "w2", "password": "p"},
                           {"url": "stratum+tcp://c.example:3333", "user": "w3"}]}})");
  ASSERT_OK(pools);
  ASSERT_EQ(pools->pool.pools.size(), 3u);
  EXPECT_EQ(pools->pool.pools[1].url, "stratum+tcp://b.example:3333");
  EXPECT_EQ(pools->pool.pools[1].password, "p");
  EXPECT_FALSE(pools->ParamsJson(false)["pools"][1].contains("password"));

  Result<BulkRequest> mode = ParseBulkRequest(
      R"({"action": "power", "select": {"ips": ["10.0.0.1"]}, "params": {"mode": "low"}})");
  ASSERT_OK(mode);
  EXPECT_EQ(mode->power.mode, asicmon::driver::PowerMode::kLow);
  EXPECT_FALSE(mode->power.limit_w);
  Result<BulkRequest> limit = ParseBulkRequest(
      R"({"action": "power", "select": {"ips": ["10.0.0.1"]}, "params": {"limit_w": 2800}})");
  ASSERT_OK(limit);
  EXPECT_EQ(limit->power.limit_w, 2800);
  EXPECT_EQ(limit->ParamsJson(false), json::parse(R"({"limit_w": 2800})"));

  const std::pair<const char*, const char*> refused[] = {
      {R"({"action": "pool", "select": {"ips": ["10.0.0.1"]}, "params": {"pools": []}})", "1 to 3"},
      {R"({"action": "pool", "select": {"ips": ["10.0.0.1"]}, "params": {"pools": [
          {"url": "stratum+tcp://a:1", "user": "a"}, {"url": "stratum+tcp://a:1", "user": "a"},
          {"url": "stratum+tcp://a:1", "user": "a"}, {"url": "stratum+tcp://a:1", "user": "a"}]}})",
       "1 to 3"},
      {R"({"action": "pool", "select": {"ips": ["10.0.0.1"]}, "params": {"pools": [
          {"url": "stratum+tcp://a:1", "user": "a", "priority": 1}]}})", "unknown pool field"},
      {R"({"action": "power", "select": {"ips": ["10.0.0.1"]}, "params": {"mode": "turbo"}})",
       "\"mode\""},
      {R"({"action": "power", "select": {"ips": ["10.0.0.1"]}, "params": {"limit_w": 0}})",
       "limit_w"},
      {R"({"action": "power", "select": {"ips": ["10.0.0.1"]},
          "params": {"mode": "low", "limit_w": 3000}})", "limit_w"},
      {R"({"action": "power", "select": {"ips": ["10.0.0.1"]}, "params": {"limit_w": 2.5}})",
       "limit_w"},
  };
  for (const auto& [body, why] : refused) {
    Result<BulkRequest> r = ParseBulkRequest(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(Message(r.status()).find(why), std::string::npos) << Message(r.status());
  }
}

TEST(BulkRequestTest, RefusesEveryBadPartWithAClearMessage) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "JSON object"},
      {R"([1, 2])", "JSON object"},
      {R"({"action": "explode", "select": {"cidr": "10.0.0.0/8"}})", "reset, reboot, pool"},
      {R"({"action": "reboot"})", "'select' is required"},
      {R"({"action": "reboot", "select": {}})", "at least one"},
      {R"({"action": "reboot", "select": {"rack": "3"}})", "no criterion 'rack'"},
      {R"({"action": "reboot", "select": {"ips": ["10.0.0.1", "010.0.0.2"]}})", "010.0.0.2"},
      {R"({"action": "reboot", "select": {"ips": []}})", "list of 1.."},
      {R"({"action": "reboot", "select": {"cidr": "10.0.0.0/33"}})", "prefix length"},
      {R"({"action": "reboot", "select": {"cidr": 10}})", "select.cidr must be a non-empty"},
      // Found by fuzz_fleet_request: empty criteria used to select every miner.
      {R"({"action": "reboot", "select": {"model": ""}})", "select.model must be a non-empty"},
      {R"({"action": "reboot", "select": {"cidr": "", "status": ""}})", "select.cidr must be"},
      {R"({"action": "reboot", "select": {"worker_prefix": ""}})", "select.worker_prefix"},
      {R"({"action": "reboot", "select": {"status": "sleepy"}})", "select.status"},
      {R"({"action": "reboot", "select": {"cidr": "10.0.0.0/8"}, "params": {"force": true}})",
       "never forces"},
      {R"({"action": "locate", "select": {"cidr": "10.0.0.0/8"}})", "params.on"},
      {R"({"action": "locate", "select": {"cidr": "10.0.0.0/8"}, "params": {"on": "yes"}})",
       "params.on must be true or false"},
      {R"({"action": "pool", "select": {"cidr": "10.0.0.0/8"},
           "params": {"url": "stratum+tcp://p.example.com:1", "user": "a,b"}})", "user"},
      {R"({"action": "sleep", "select": {"cidr": "10.0.0.0/8"}, "params": {"x": 1}})",
       "sleep takes no params"},
      {R"({"action": "wake", "select": {"cidr": "10.0.0.0/8"}, "max_parallel": 0})", "1..200"},
      {R"({"action": "wake", "select": {"cidr": "10.0.0.0/8"}, "max_parallel": 201})", "1..200"},
      {R"({"action": "wake", "select": {"cidr": "10.0.0.0/8"}, "dry_run": 1})", "dry_run"},
      {R"({"action": "wake", "select": {"cidr": "10.0.0.0/8"}, "when": "now"})", "unknown field"},
  };
  for (const auto& [body, want] : cases) {
    Result<BulkRequest> r = ParseBulkRequest(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(Message(r.status()).find(want), std::string::npos)
        << body << " -> " << r.status().message();
  }
}

Record At(const std::string& ip, const std::string& model, const std::string& worker, double ts,
          MinerStatus status = MinerStatus::kOk) {
  Record r;
  r.ip = ip;
  r.model = model;
  r.worker = worker;
  r.ts = ts;
  r.status = status;
  return r;
}

TEST(SelectTargetsTest, EveryCriterionMustHoldOneMinerPerAddress) {
  const std::vector<Record> latest = {
      At("10.0.1.2", "Antminer S19 Pro", "row1.a", 100),
      At("10.0.1.1", "Antminer S19 Pro", "row1.b", 100),
      At("10.0.1.1", "Antminer S19 Pro", "row1.b", 90),  // an older row of the same miner
      At("10.0.1.3", "Antminer S9", "row1.c", 100),
      At("10.0.2.1", "Antminer S19 Pro", "row2.a", 100),
      At("10.0.1.4", "Antminer S19 Pro", "row1.d", 100, MinerStatus::kTimeout),
  };
  MinerSelector select;
  select.cidr = *ParseCidr("10.0.1.0/24");
  select.model = "Antminer S19 Pro";
  std::vector<std::string> unknown;
  std::vector<JobTarget> targets = SelectTargets(select, latest, unknown);
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].ip, "10.0.1.1");  // by address
  EXPECT_EQ(targets[1].ip, "10.0.1.2");
  EXPECT_EQ(targets[2].ip, "10.0.1.4");
  EXPECT_TRUE(unknown.empty());

  select.status = "timeout";
  EXPECT_EQ(SelectTargets(select, latest, unknown).size(), 1u);

  MinerSelector listed;
  listed.ips = {"10.0.2.1", "10.9.9.9", "10.0.1.3"};
  listed.worker_prefix = "row2.";
  targets = SelectTargets(listed, latest, unknown);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].worker, "row2.a");
  EXPECT_EQ(unknown, std::vector<std::string>{"10.9.9.9"});
}

TEST(SelectTargetsTest, SleepingIsAStatusToSelectBy) {
  Record asleep = At("10.0.0.1", "Antminer S19", "w1", 100);
  asleep.sleeping = true;
  const std::vector<Record> latest = {asleep, At("10.0.0.2", "Antminer S19", "w2", 100)};
  MinerSelector select;
  select.status = "sleeping";
  std::vector<std::string> unknown;
  std::vector<JobTarget> targets = SelectTargets(select, latest, unknown);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].ip, "10.0.0.1");
}

TEST(SelectTargetsTest, AMinerDownAtItsLastPollKeepsItsIdentityFromTheInventory) {
  std::vector<Record> latest = {At("10.0.0.1", "", "", 100, MinerStatus::kRefused),
                                At("10.0.0.2", "", "", 100, MinerStatus::kTimeout)};
  InventoryRow known{.ip = "10.0.0.1", .port = 4028, .first_seen = 1, .last_seen = 1,
                     .identified = true, .model = "Antminer S19", .firmware = "",
                     .worker = "row1.a", .gone = false, .producer_id = "discover-1",
                     .family = "", .mac = "", .serial = "", .hostname = "", .previous_ip = ""};
  FillIdentity(latest, {known});
  EXPECT_EQ(latest[0].worker, "row1.a");
  EXPECT_EQ(latest[0].model, "Antminer S19");
  EXPECT_EQ(latest[1].worker, "");  // never identified: nothing to go by
  MinerSelector select;
  select.worker_prefix = "row1.";
  std::vector<std::string> unknown;
  ASSERT_EQ(SelectTargets(select, latest, unknown).size(), 1u);
}

TEST(CidrTest, NetworkAndMask) {
  Result<Cidr> c = ParseCidr("10.1.2.3/16");
  ASSERT_OK(c);
  EXPECT_TRUE(c->Contains(*ParseIpv4("10.1.255.1")));
  EXPECT_FALSE(c->Contains(*ParseIpv4("10.2.0.1")));
  Result<Cidr> all = ParseCidr("0.0.0.0/0");
  ASSERT_OK(all);
  EXPECT_TRUE(all->Contains(*ParseIpv4("192.168.1.1")));
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/x", "10.0.0/8", "10.0.0.0/-1",
                          "10.0.0.256/8", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(ParseCidr(bad).ok()) << bad;
  }
}

TEST(RemediationConfigTest, ParsesRulesLimitsAndQuietHours) {
  Result<RemediationConfig> c = ParseRemediationConfig(R"({"max_concurrent": 3,
      "quiet_hours": [{"from": "22:00", "to": "06:30"}],
      "rules": [{"name": "reboot-dead-board", "kind": "board_dead", "action": "reboot",
                 "hold_s": 0, "grace_s": 600, "max_per_miner_per_day": 2, "max_per_hour": 10},
                {"name": "low", "kind": "hashrate_low", "action": "reboot"}]})");
  ASSERT_OK(c);
  EXPECT_EQ(c->max_concurrent, 3);
  ASSERT_EQ(c->rules.size(), 2u);
  EXPECT_EQ(c->rules[0].max_per_miner_per_day, 2);
  EXPECT_EQ(c->rules[0].hold_s, 0);
  EXPECT_EQ(c->rules[1].hold_s, 900);  // defaults: 15 minutes, once a day
  EXPECT_EQ(c->rules[1].max_per_miner_per_day, 1);
  ASSERT_EQ(c->quiet_hours.size(), 1u);
  // 23:00 and 03:00 UTC are quiet, 12:00 is not (the window spans midnight).
  EXPECT_TRUE(c->quiet_hours[0].Contains(23 * 3600));
  EXPECT_TRUE(c->quiet_hours[0].Contains(86400 * 5 + 3 * 3600));
  EXPECT_FALSE(c->quiet_hours[0].Contains(12 * 3600));
  EXPECT_FALSE(c->quiet_hours[0].Contains(6 * 3600 + 30 * 60));
}

TEST(RemediationConfigTest, RefusesWhatCouldActWrongly) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "one JSON object"},
      {R"({"rulez": []})", "unknown field 'rulez'"},
      {R"({"rules": [{"name": "Bad Name", "kind": "offline", "action": "reboot"}]})", ".name"},
      {R"({"rules": [{"name": "a", "kind": "rebooted", "action": "reboot"}]})", ".kind"},
      {R"({"rules": [{"name": "a", "kind": "offline", "action": "pool"}]})", ".action"},
      {R"({"rules": [{"name": "a", "kind": "offline", "action": "reboot", "hold_s": -1}]})",
       "hold_s"},
      {R"({"rules": [{"name": "a", "kind": "offline", "action": "reboot",
                      "max_per_miner_per_day": 0}]})", "max_per_miner_per_day"},
      {R"({"rules": [{"name": "a", "kind": "offline", "action": "reboot", "when": 1}]})",
       "unknown field 'when'"},
      {R"({"rules": [{"name": "a", "kind": "offline", "action": "reboot"},
                     {"name": "a", "kind": "overheat", "action": "sleep"}]})", "twice"},
      {R"({"quiet_hours": [{"from": "25:00", "to": "06:00"}]})", "quiet_hours"},
      {R"({"max_concurrent": 0})", "max_concurrent"},
  };
  for (const auto& [text, want] : cases) {
    Result<RemediationConfig> c = ParseRemediationConfig(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(Message(c.status()).find(want), std::string::npos)
        << text << " -> " << c.status().message();
  }
}

// A rules engine over a gate whose miners refuse connections; the test runs
// the posted commands itself, so it sees what is running at each step.
class RemediationTest : public ::testing::Test {
 protected:
  RemediationTest()
      : actions_([] {
          ActionOptions o;
          o.api_port = testing::FreeTcpPort(kIp);  // nothing listens: refused at once
          o.api.deadline = std::chrono::milliseconds(2000);
          return o;
        }()),
        gate_(actions_, std::chrono::seconds(300), [this](AuditEntry e) { audit_.push_back(e); }) {}

  std::unique_ptr<Remediation> Engine(bool enabled, const std::string& rules) {
    auto engine = std::make_unique<Remediation>(
        gate_, enabled, [this](std::function<void()> task) { posted_.push_back(std::move(task)); },
        [this](const HealthEvent& e) { published_.push_back(e); });
    Result<RemediationConfig> config = ParseRemediationConfig(rules);
    EXPECT_OK(config);
    engine->Configure(*config);
    return engine;
  }
  void RunPosted() {
    std::vector<std::function<void()>> tasks;
    tasks.swap(posted_);
    for (auto& t : tasks) t();
  }
  static HealthEvent Event(const std::string& kind, const std::string& state, double ts) {
    HealthEvent e;
    e.ts = ts;
    e.ip = kIp;
    e.worker = "farm.w1";
    e.model = "Antminer S19 Pro";
    e.kind = kind;
    e.state = state;
    e.severity = "critical";
    return e;
  }

  static constexpr const char* kIp = "127.53.0.1";
  static constexpr const char* kRules = R"({"rules": [{"name": "reboot-dead-board",
      "kind": "board_dead", "action": "reboot", "hold_s": 60, "grace_s": 300,
      "max_per_miner_per_day": 1}]})";
  MinerActions actions_;
  CommandGate gate_;
  std::vector<AuditEntry> audit_;
  std::vector<std::function<void()>> posted_;
  std::vector<HealthEvent> published_;
};

TEST_F(RemediationTest, OffByDefaultNothingActs) {
  auto engine = Engine(false, kRules);
  engine->Observe(Event("board_dead", "fired", 1000));
  engine->Tick(5000);
  EXPECT_TRUE(posted_.empty());
  EXPECT_TRUE(published_.empty());
  EXPECT_EQ(engine->StatusJson(5000)["enabled"], false);
}

TEST_F(RemediationTest, ActsAfterTheHoldOnceAndEscalatesWhenTheActionFails) {
  auto engine = Engine(true, kRules);
  engine->Observe(Event("overheat", "fired", 1000));  // no rule for it
  engine->Observe(Event("board_dead", "fired", 1000));
  engine->Tick(1059);
  EXPECT_TRUE(posted_.empty()) << "acted before the hold time";
  engine->Tick(1060);
  ASSERT_EQ(posted_.size(), 1u);
  EXPECT_EQ(engine->StatusJson(1060)["running"], 1);
  RunPosted();  // the miner refuses: the reboot fails
  ASSERT_EQ(audit_.size(), 1u);
  EXPECT_EQ(audit_[0].actor, "rule:reboot-dead-board");
  EXPECT_EQ(audit_[0].action, "reboot");
  EXPECT_EQ(audit_[0].http_status, 502);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].kind, "remediation_failed");
  EXPECT_EQ(published_[0].state, "fired");
  EXPECT_NE(published_[0].message.find("failed"), std::string::npos) << published_[0].message;

  for (double t : {1100.0, 2000.0, 50000.0}) engine->Tick(t);  // no loop: nothing more
  EXPECT_TRUE(posted_.empty());
  EXPECT_EQ(published_.size(), 1u);

  engine->Observe(Event("board_dead", "cleared", 60000));
  ASSERT_EQ(published_.size(), 2u);
  EXPECT_EQ(published_[1].kind, "remediation_failed");
  EXPECT_EQ(published_[1].state, "cleared");
}

TEST_F(RemediationTest, TheDailyLimitEscalatesInsteadOfActingAgain) {
  auto engine = Engine(true, kRules);
  engine->Observe(Event("board_dead", "fired", 1000));
  engine->Tick(1060);
  RunPosted();
  engine->Observe(Event("board_dead", "cleared", 1200));
  published_.clear();

  engine->Observe(Event("board_dead", "fired", 2000));  // back the same day
  engine->Tick(2100);
  EXPECT_TRUE(posted_.empty()) << "acted twice within max_per_miner_per_day 1";
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_NE(published_[0].message.find("last 24 h"), std::string::npos) << published_[0].message;

  engine->Observe(Event("board_dead", "cleared", 2200));
  engine->Observe(Event("board_dead", "fired", 1000 + 86400 + 10));  // a day later: allowed again
  engine->Tick(1000 + 86400 + 100);
  EXPECT_EQ(posted_.size(), 1u);
}

TEST_F(RemediationTest, QuietHoursAndTheFarmWideCapDelayWithoutDropping) {
  auto engine = Engine(true, R"({"max_concurrent": 1,
      "quiet_hours": [{"from": "00:00", "to": "01:00"}],
      "rules": [{"name": "r", "kind": "overheat", "action": "sleep", "hold_s": 0}]})");
  HealthEvent other = Event("overheat", "fired", 100);
  other.ip = "127.53.0.2";
  engine->Observe(Event("overheat", "fired", 100));
  engine->Observe(other);
  engine->Tick(600);  // 00:10 UTC
  EXPECT_TRUE(posted_.empty());
  EXPECT_EQ(engine->StatusJson(600)["quiet_now"], true);
  engine->Tick(3600);  // 01:00: one at a time
  EXPECT_EQ(posted_.size(), 1u);
  engine->Tick(3601);
  EXPECT_EQ(posted_.size(), 1u);
  RunPosted();
  engine->Tick(3602);
  EXPECT_EQ(posted_.size(), 1u);
}

TEST_F(RemediationTest, ARestartKeepsTheLimitsFromTheAudit) {
  auto engine = Engine(true, kRules);
  const double now = 100000;
  HealthEvent fired = Event("board_dead", "fired", now - 4000);
  AuditEntry done{.ts = now - 3000, .actor = "rule:reboot-dead-board", .action = "reboot",
                  .ip = kIp, .worker = "farm.w1", .detail = "", .http_status = 202,
                  .result = "ok"};
  engine->Restore({fired}, {done});
  engine->Tick(now);  // acted 3000 s ago, grace 300 s: it did not help
  EXPECT_TRUE(posted_.empty());
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_NE(published_[0].message.find("still holds"), std::string::npos) << published_[0].message;
}

// Sleep and wake are announced on the bus before anything reaches the
// miner (the store covers the miner's restart with it), with a bound the
// command cannot outlast; other actions and refusals are not.
TEST(CommandGateTest, AnnouncesSleepAndWakeBeforeActing) {
  const std::string ip = "127.53.0.2";
  ActionOptions options;
  options.api_port = testing::FreeTcpPort(ip);  // nothing listens: refused at once
  options.api.deadline = std::chrono::milliseconds(2000);
  const MinerActions actions(options);
  std::vector<std::string> seen;  // "announce sleep pending 202", "audit sleep ..."
  std::vector<std::chrono::seconds> bounds;
  CommandGate gate(
      actions, std::chrono::seconds(300),
      [&](AuditEntry e) {
        seen.push_back(fmt::format("audit {} {} {}", e.action, e.result, e.http_status));
      },
      [&](AuditEntry e, std::chrono::seconds bound) {
        seen.push_back(fmt::format("announce {} {} {}", e.action, e.result, e.http_status));
        EXPECT_EQ(e.ip, ip);
        EXPECT_EQ(e.actor, "token@127.0.0.1");
        bounds.push_back(bound);
      });
  ActionRequest request;
  request.ip = ip;
  request.worker = "farm.w1";
  request.actor = "token@127.0.0.1";
  for (ActionKind kind : {ActionKind::kSleep, ActionKind::kWake, ActionKind::kReboot}) {
    request.kind = kind;
    gate.Run(request);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "announce sleep pending 202", "audit sleep refused 502",
                      "announce wake pending 202", "audit wake refused 502",
                      "audit reboot refused 502"}));
  ASSERT_EQ(bounds.size(), 2u);
  EXPECT_EQ(bounds[0], SleepCommandBound(options));
  // The wait for the miner alone takes back_timeout: the bound is longer.
  EXPECT_GT(bounds[0], options.back_timeout);

  // Refused while another command holds the miner: nothing announced.
  seen.clear();
  request.kind = ActionKind::kSleep;
  ASSERT_FALSE(gate.TryAcquire(request));
  EXPECT_TRUE(gate.TryAcquire(request));
  EXPECT_EQ(seen, (std::vector<std::string>{"audit sleep busy 409"}));
  gate.RunHeld(request);
}

}  // namespace
}  // namespace asicmon::control
