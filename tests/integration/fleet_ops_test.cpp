// Fleet operations against real processes on 127.53.x: bulk jobs in
// asicmon-control over asicmon-fakefarm (the farm's action log shows which
// miners were touched), cancellation, the rules file reloaded on SIGHUP, and
// a remediation rule over the whole pipeline (discover, collect, store)
// rebooting a miner whose board died, once, then escalating; and issue 17's
// bulk sleep and wake over the whole pipeline, which stores no fault.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "asicmon/clock.h"
#include "asicmon/store_db.h"
#include "testlib.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::BinPath;
using testing::Http;
using testing::HttpReply;
using testing::Subprocess;

constexpr char kToken[] = "fleet-t0ken";

class FleetOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("fleet_" + name.substr(0, 40) + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    setenv("ASICMON_RUN_DIR", (dir_ / "run").c_str(), 1);
    setenv("ASICMON_DB", (dir_ / "asicmon.db").c_str(), 1);
    setenv("CONTROL_BIND", "127.0.0.1:0", 1);
    setenv("CONTROL_TOKEN", kToken, 1);
    setenv("POLL_TIMEOUT", "2", 1);
  }
  void TearDown() override {
    control_.reset();
    for (const char* v : {"ASICMON_RUN_DIR", "ASICMON_DB", "CONTROL_BIND", "CONTROL_TOKEN",
                          "POLL_TIMEOUT", "SUBNET", "SCAN_INTERVAL", "SWEEP_INTERVAL",
                          "AUTO_ACTIONS", "REMEDIATION_RULES"}) {
      unsetenv(v);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void StartControl(std::vector<std::string> args = {}) {
    args.insert(args.begin(), BinPath("asicmon-control"));
    control_ = std::make_unique<Subprocess>(args, /*capture_stderr=*/true);
    ASSERT_TRUE(control_->WaitForStdout("READY", 20s)) << control_->stderr_text();
    const std::string& out = control_->stdout_text();
    base_ = "http://127.0.0.1:" + out.substr(out.find("READY ") + 6, out.find('\n') - 6);
  }

  // The store's latest state as discover + collect would leave it: one ok
  // record per miner of the farm's manifest.
  void StoreLatest(const testing::FakeFarm& farm) {
    auto db = StoreDb::Open({.database = (dir_ / "asicmon.db").string()});
    ASSERT_OK(db);
    std::vector<Record> records;
    for (const auto& [ip, m] : farm.miners) {
      Record r;
      r.producer_id = "fleet-test";
      r.seq = records.size() + 1;
      r.ts = UnixNow();
      r.ip = ip;
      r.model = m["model"];
      r.worker = m["worker"];
      r.hashrate = m["hashrate_nominal"].get<double>();
      records.push_back(std::move(r));
    }
    ASSERT_OK((*db)->WriteBatch(records));
  }

  // The farm's action log: ip -> commands received, in order.
  std::map<std::string, std::vector<std::string>> Actions() const {
    std::map<std::string, std::vector<std::string>> out;
    for (const json& a : testing::ReadActionLog(dir_ / "actions.jsonl")) {
      out[a["ip"]].push_back(a["command"]);
    }
    return out;
  }

  // GET /actions/{id} until the job is no longer running.
  json WaitForJob(const std::string& id, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    json job;
    while (std::chrono::steady_clock::now() < until) {
      job = Http("GET", base_ + "/actions/" + id).Json();
      if (job.value("state", "") != "running") break;
      std::this_thread::sleep_for(200ms);
    }
    return job;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Subprocess> control_;
  std::string base_;
};

TEST_F(FleetOpsTest, BulkPoolChangeTouchesExactlyTheSelectedAndReportsEachMiner) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.1.1", "--count", "220", "--models", "s19pro", "--fault", "silent=1",
       "--deny-privileged", "1", "--action-log", (dir_ / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  StoreLatest(farm);
  // 200 selected, the silent and the read-only miner among them; 20 healthy ones left out.
  std::string silent, read_only;
  std::vector<std::string> selected, left_out;
  for (const auto& [ip, m] : farm.miners) {
    if (m["fault"] == "silent") silent = ip;
    if (m["deny_privileged"] == true) read_only = ip;
    const bool plain = m["fault"] == "none" && m["deny_privileged"] == false;
    (plain && left_out.size() < 20 ? left_out : selected).push_back(ip);
  }
  ASSERT_FALSE(silent.empty());
  ASSERT_FALSE(read_only.empty());
  ASSERT_EQ(selected.size(), 200u);
  StartControl();

  json request = {{"action", "pool"},
                  {"select", {{"ips", selected}}},
                  {"params", {{"url", "stratum+tcp://bulk-pool.example.com:3333"},
                              {"user", "farm.bulk"},
                              {"password", "x"}}},
                  {"max_parallel", 20},
                  {"dry_run", true}};
  HttpReply dry = Http("POST", base_ + "/actions", request.dump(), kToken);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_EQ(dry.Json()["count"], 200);
  EXPECT_TRUE(Actions().empty()) << "a dry run touched a miner";
  EXPECT_EQ(Http("POST", base_ + "/actions", request.dump()).status, 401);

  request["dry_run"] = false;
  HttpReply started = Http("POST", base_ + "/actions", request.dump(), kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = started.Json()["id"];
  EXPECT_EQ(started.Json()["params"].contains("password"), false);
  const json job = WaitForJob(id, 90s);
  ASSERT_EQ(job["state"], "done") << job.dump();
  EXPECT_EQ(job["counts"]["total"], 200);
  EXPECT_EQ(job["counts"]["ok"], 198);
  EXPECT_EQ(job["counts"]["failed"], 2);
  std::map<std::string, json> by_ip;
  for (const json& m : job["miners"]) by_ip[m["ip"]] = m;
  ASSERT_EQ(by_ip.size(), 200u);
  EXPECT_EQ(by_ip[silent]["state"], "failed");
  EXPECT_EQ(by_ip[silent]["http_status"], 504);
  EXPECT_EQ(by_ip[read_only]["state"], "failed");
  EXPECT_EQ(by_ip[read_only]["http_status"], 502);  // API refused, and it has no web UI
  EXPECT_EQ(by_ip[read_only]["result"], "web unreachable");

  const auto actions = Actions();
  for (const std::string& ip : left_out) EXPECT_FALSE(actions.contains(ip)) << ip << " was touched";
  for (const std::string& ip : selected) {
    if (ip == silent) continue;
    ASSERT_TRUE(actions.contains(ip)) << ip << " was not touched";
    EXPECT_EQ(actions.at(ip).front(), "addpool") << ip;
  }
  for (const std::string& ip : {selected.front(), selected.back()}) {
    if (ip == silent || ip == read_only) continue;
    HttpReply now = Http("GET", base_ + "/miners/" + ip + "/farm.bulk/summary");
    ASSERT_EQ(now.status, 200) << now.body;
    EXPECT_EQ(now.Json()["pools"][0]["url"], "stratum+tcp://bulk-pool.example.com:3333");
  }
  // Every miner's command is audited under the job, the password nowhere.
  HttpReply audit = Http("GET", base_ + "/audit?ip=" + selected[1]);
  ASSERT_EQ(audit.status, 200);
  EXPECT_EQ(audit.Json()["audit"][0]["detail"], "job " + id);
  EXPECT_EQ(audit.Json()["audit"][0]["action"], "pool");
  EXPECT_EQ(Http("GET", base_ + "/actions").Json()["jobs"][0]["id"], id);
}

TEST_F(FleetOpsTest, LocateSleepAndWakeChangeTheMinerAndReadBack) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.4.1", "--count", "3", "--models", "s19pro,s17pro,l3plus", "--http-port",
       "8080", "--action-log", (dir_ / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  StoreLatest(farm);
  StartControl({"--miner-http-port", "8080", "--miner-back-timeout", "20"});
  auto url = [&](const std::string& ip, const std::string& what) {
    return base_ + "/miners/" + ip + "/" + farm.miners[ip]["worker"].get<std::string>() + "/" + what;
  };
  const std::string s19 = "127.53.4.1", s17 = "127.53.4.2", l3 = "127.53.4.3";

  HttpReply lit = Http("POST", url(s19, "locate"), R"({"on": true})", kToken);
  ASSERT_EQ(lit.status, 200) << lit.body;
  EXPECT_EQ(lit.Json()["via"], "blink.cgi json");
  HttpReply old_form = Http("POST", url(s17, "locate"), R"({"on": true})", kToken);
  ASSERT_EQ(old_form.status, 200) << old_form.body;
  EXPECT_EQ(old_form.Json()["via"], "blink.cgi form");
  EXPECT_EQ(Http("POST", url(s19, "locate"), R"({"on": false})", kToken).status, 200);
  EXPECT_EQ(Http("POST", url(l3, "locate"), R"({"on": true})", kToken).status, 501);
  EXPECT_EQ(Http("POST", url(s19, "locate"), R"({"on": "yes"})", kToken).status, 400);

  HttpReply asleep = Http("POST", url(s19, "sleep"), "", kToken);
  ASSERT_EQ(asleep.status, 200) << asleep.body;
  EXPECT_EQ(asleep.Json()["result"], "sleeping");
  EXPECT_EQ(asleep.Json()["record"]["hashrate"].get<double>(), 0);
  HttpReply summary = Http("GET", url(s19, "summary"));
  ASSERT_EQ(summary.status, 200);
  EXPECT_EQ(summary.Json()["hashrate"].get<double>(), 0);
  HttpReply awake = Http("POST", url(s19, "wake"), "", kToken);
  ASSERT_EQ(awake.status, 200) << awake.body;
  EXPECT_EQ(awake.Json()["result"], "awake");
  HttpReply no_sleep = Http("POST", url(l3, "sleep"), "", kToken);
  EXPECT_EQ(no_sleep.status, 501) << no_sleep.body;

  // In bulk, by model: only the S17 Pro sleeps.
  HttpReply job = Http("POST", base_ + "/actions",
                       json{{"action", "sleep"}, {"select", {{"model", "Antminer S17 Pro"}}}}.dump(),
                       kToken);
  ASSERT_EQ(job.status, 202) << job.body;
  const json done = WaitForJob(job.Json()["id"], 60s);
  EXPECT_EQ(done["counts"]["ok"], 1) << done.dump();
  EXPECT_EQ(done["miners"][0]["ip"], s17);
  EXPECT_EQ(Http("GET", url(s17, "summary")).Json()["hashrate"].get<double>(), 0);

  const auto actions = Actions();
  auto has = [&](const std::string& ip, const std::string& command) {
    return actions.contains(ip) &&
           std::count(actions.at(ip).begin(), actions.at(ip).end(), command) > 0;
  };
  EXPECT_TRUE(has(s19, "locate") && has(s19, "sleep") && has(s19, "wake"));
  EXPECT_TRUE(has(s17, "locate") && has(s17, "sleep"));
  EXPECT_FALSE(actions.contains(l3)) << "the L3+ was changed";
  HttpReply audit = Http("GET", base_ + "/audit?ip=" + l3);
  EXPECT_EQ(audit.Json()["audit"][0]["http_status"], 501);
}

// Issue 17's acceptance: a bulk sleep and then a bulk wake of every
// sleep-capable miner of a 60-miner farm polled every 5 s, through the whole
// pipeline (discover, collect, store, control) against the fake farm's
// firmware-like restarts (the API gone ~3 s after set_miner_conf, back asleep
// or hashing nothing yet, then ramping up). From the request until every one
// of them hashes again, the store keeps no fault event for any miner: only
// the restarts themselves ("rebooted", info), on the miners that slept.
TEST_F(FleetOpsTest, Issue17BulkSleepAndWakeStoreNoFaultEvent) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.6.1", "--count", "60", "--http-port", "8080", "--action-log",
       (dir_ / "actions.jsonl").string(), "--models", "s9,s17pro,s19pro,s19jpro,l3plus"});
  ASSERT_TRUE(farm.process);
  std::vector<std::string> capable;  // S17 and S19 families; S9 and L3+ have no sleep
  for (const auto& [ip, m] : farm.miners) {
    const std::string model = m["model"];
    if (model.starts_with("Antminer S17") || model.starts_with("Antminer S19")) {
      capable.push_back(ip);
    }
  }
  ASSERT_EQ(capable.size(), 36u);
  setenv("SUBNET", "127.53.6.1-127.53.6.60", 1);
  setenv("SCAN_INTERVAL", "5", 1);
  setenv("SWEEP_INTERVAL", "300", 1);
  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  // Once the store has made its database, which control then opens.
  ASSERT_TRUE(store.WaitForStderr("pulling from", 20s)) << store.stderr_text();
  StartControl({"--miner-http-port", "8080", "--miner-back-timeout", "60"});
  auto db = StoreDb::Open({.database = (dir_ / "asicmon.db").string()});
  ASSERT_OK(db);
  auto latest = [&] {
    std::map<std::string, Record> by_ip;
    LatestFilter all;
    all.limit = 1000;
    if (auto rows = (*db)->Latest(all); rows.ok()) {
      for (Record& r : *rows) by_ip[r.ip] = std::move(r);
    }
    return by_ip;
  };
  // Every miner of `ips` has a record newer than `since` for which `holds`.
  auto every = [&](const std::vector<std::string>& ips, double since, auto holds) {
    const auto now = latest();
    return std::all_of(ips.begin(), ips.end(), [&](const std::string& ip) {
      const auto it = now.find(ip);
      return it != now.end() && it->second.ts > since && holds(it->second);
    });
  };
  auto wait_until = [&](std::chrono::seconds limit, auto done) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(500ms);
    return done();
  };
  auto hashing = [](const Record& r) {
    return r.status == MinerStatus::kOk && r.hashrate_expected &&
           r.hashrate.value_or(0) >= 0.8 * *r.hashrate_expected;
  };
  std::vector<std::string> all;
  for (const auto& [ip, m] : farm.miners) all.push_back(ip);
  ASSERT_TRUE(wait_until(60s, [&] {
    return every(all, 0, [](const Record& r) { return r.status == MinerStatus::kOk; }) &&
           every(capable, 0, hashing);
  })) << "the farm was not polled: " << store.stderr_text();

  auto bulk = [&](const char* action) {
    HttpReply started = Http("POST", base_ + "/actions",
                             json{{"action", action},
                                  {"select", {{"ips", capable}}},
                                  {"max_parallel", 36}}.dump(),
                             kToken);
    EXPECT_EQ(started.status, 202) << started.body;
    const json job = WaitForJob(started.Json().value("id", ""), 180s);
    EXPECT_EQ(job["state"], "done") << job.dump();
    EXPECT_EQ(job["counts"]["ok"], 36) << job.dump();
    return UnixNow();
  };
  const double slept = bulk("sleep");
  // Each asleep, marked so by the store, a poll interval after the job; then the wake.
  ASSERT_TRUE(wait_until(60s, [&] {
    return every(capable, slept + 5, [](const Record& r) { return r.sleeping; });
  })) << "store: " << store.stderr_text();
  const double woken = bulk("wake");
  ASSERT_TRUE(wait_until(120s, [&] { return every(capable, woken, hashing); }))
      << "store: " << store.stderr_text();
  // And one more poll of each, hashing, so that anything the ramp-up made is stored.
  const double hashed = UnixNow();
  ASSERT_TRUE(wait_until(60s, [&] { return every(capable, hashed, hashing); }));

  auto events = (*db)->Events({.since = 0, .ip = "", .kind = "", .limit = 10000});
  ASSERT_OK(events);
  std::set<std::string> rebooted;
  for (const HealthEvent& e : *events) {
    EXPECT_EQ(e.kind, "rebooted") << e.ip << " " << e.kind << " " << e.state << ": " << e.message;
    EXPECT_EQ(e.severity, "info") << e.ip << " " << e.kind;
    rebooted.insert(e.ip);
  }
  EXPECT_EQ(rebooted, std::set<std::string>(capable.begin(), capable.end()));
  // The restarts were polled: the window the issue is about was really crossed.
  size_t refused = 0, marked = 0;
  for (const std::string& ip : capable) {
    auto history = (*db)->History(ip, slept - 600, UnixNow(), 1000);
    ASSERT_OK(history);
    for (const Record& r : *history) {
      refused += r.status == MinerStatus::kRefused;
      marked += r.sleeping;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GE(marked, 2 * capable.size());
}

TEST_F(FleetOpsTest, ACancelledJobStartsNoFurtherMiner) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.2.1", "--count", "30", "--http-port", "8080", "--reboot-s", "1",
       "--action-log", (dir_ / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  StoreLatest(farm);
  StartControl({"--miner-http-port", "8080", "--miner-back-timeout", "20"});
  const json request = {{"action", "reboot"},
                        {"select", {{"cidr", "127.53.2.0/24"}}},
                        {"params", {{"wait", true}}},
                        {"max_parallel", 2}};
  HttpReply started = Http("POST", base_ + "/actions", request.dump(), kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string id = started.Json()["id"];
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (Actions().empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  HttpReply cancel = Http("DELETE", base_ + "/actions/" + id, "", kToken);
  ASSERT_EQ(cancel.status, 202) << cancel.body;
  const json job = WaitForJob(id, 60s);
  ASSERT_EQ(job["state"], "cancelled") << job.dump();
  const int rebooted = job["counts"]["ok"];
  EXPECT_GE(rebooted, 1);
  EXPECT_GT(job["counts"]["cancelled"].get<int>(), 20);
  EXPECT_EQ(rebooted + job["counts"]["cancelled"].get<int>() + job["counts"]["failed"].get<int>(),
            30);
  EXPECT_EQ(static_cast<int>(Actions().size()), rebooted) << "a cancelled miner was rebooted";
  EXPECT_EQ(Http("DELETE", base_ + "/actions/" + id, "", kToken).status, 409);
  EXPECT_EQ(Http("GET", base_ + "/actions/123-456").status, 404);
  EXPECT_EQ(Http("GET", base_ + "/actions/..%2Fmetrics").status, 404);

  // The reboot cooldown holds across jobs: the rebooted miners are skipped now.
  HttpReply again = Http("POST", base_ + "/actions",
                         json{{"action", "reboot"}, {"select", {{"cidr", "127.53.2.0/24"}}},
                              {"max_parallel", 10}}.dump(),
                         kToken);
  ASSERT_EQ(again.status, 202) << again.body;
  const json second = WaitForJob(again.Json()["id"], 60s);
  EXPECT_EQ(second["counts"]["skipped"], rebooted) << second.dump();
}

// SIGTERM while a job waits for rebooted miners to come back: the waits end
// at once (503 in the audit, the reboot itself done), no further miner of the
// job is touched, and control exits cleanly long before MINER_BACK_TIMEOUT.
TEST_F(FleetOpsTest, ShutdownEndsWaitsAndStartsNoFurtherMiner) {
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.5.1", "--count", "10", "--http-port", "8080", "--reboot-s", "600",
       "--action-log", (dir_ / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  StoreLatest(farm);
  StartControl({"--miner-http-port", "8080", "--miner-back-timeout", "600"});
  const json request = {{"action", "reboot"},
                        {"select", {{"cidr", "127.53.5.0/24"}}},
                        {"params", {{"wait", true}}},
                        {"max_parallel", 2}};
  HttpReply started = Http("POST", base_ + "/actions", request.dump(), kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (Actions().size() < 2 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(Actions().size(), 2u);

  control_->Signal(SIGTERM);
  // A bound for a hung process, ten times what a stop takes, far below the 600 s waits.
  EXPECT_EQ(control_->Wait(60s), 0) << control_->stderr_text();
  EXPECT_NE(control_->stderr_text().find("cancelled, control is shutting down"), std::string::npos)
      << control_->stderr_text();
  EXPECT_EQ(Actions().size(), 2u) << "a miner was rebooted after SIGTERM";

  auto db = StoreDb::Open({.database = (dir_ / "asicmon.db").string()});
  ASSERT_OK(db);
  auto audit = (*db)->Audit("", 100);
  ASSERT_OK(audit);
  std::set<std::string> audited;
  for (const AuditEntry& e : *audit) {
    EXPECT_EQ(e.http_status, 503) << e.ip << " " << e.result;
    EXPECT_EQ(e.result, "shut down while waiting");
    audited.insert(e.ip);
  }
  std::set<std::string> rebooted;
  for (const auto& [ip, commands] : Actions()) rebooted.insert(ip);
  EXPECT_EQ(audited, rebooted);
}

TEST_F(FleetOpsTest, RulesReloadOnSighupAndABadFileKeepsTheOldOnes) {
  const std::string rules = (dir_ / "rules.json").string();
  std::ofstream(rules) << R"({"rules": [{"name": "a", "kind": "board_dead", "action": "reboot"}]})";
  StartControl({"--rules", rules});
  HttpReply status = Http("GET", base_ + "/remediation");
  ASSERT_EQ(status.status, 200);
  EXPECT_EQ(status.Json()["enabled"], false);  // AUTO_ACTIONS defaults to off
  EXPECT_EQ(status.Json()["rules"].size(), 1u);

  std::ofstream(rules) << R"({"rules": [{"name": "a", "kind": "board_dead", "action": "reboot"},
                                        {"name": "b", "kind": "overheat", "action": "sleep"}]})";
  control_->Signal(SIGHUP);
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (Http("GET", base_ + "/remediation").Json()["rules"].size() != 2 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(Http("GET", base_ + "/remediation").Json()["rules"].size(), 2u);

  std::ofstream(rules) << R"({"rules": [{"name": "c", "kind": "nonsense", "action": "reboot"}]})";
  control_->Signal(SIGHUP);
  EXPECT_TRUE(control_->WaitForStderr("rules not reloaded", 10s));
  EXPECT_EQ(Http("GET", base_ + "/remediation").Json()["rules"].size(), 2u);
  EXPECT_EQ(Http("GET", base_ + "/healthz").status, 200);
}

TEST_F(FleetOpsTest, ARuleRebootsADeadBoardOnceThenEscalates) {
  const std::string scenario = (dir_ / "scenario.jsonl").string();
  std::ofstream(scenario) << R"({"at_s": 3, "miner": 0, "dead_board": true})" << "\n";
  testing::FakeFarm farm = testing::StartFakeFarm(
      {"--base", "127.53.3.1", "--count", "2", "--models", "s19pro", "--http-port", "8080",
       "--reboot-s", "1", "--scenario", scenario, "--action-log",
       (dir_ / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  const std::string rules = (dir_ / "rules.json").string();
  std::ofstream(rules) << R"({"rules": [{"name": "reboot-dead-board", "kind": "board_dead",
      "action": "reboot", "hold_s": 2, "grace_s": 6, "max_per_miner_per_day": 1}]})";
  setenv("SUBNET", "127.53.3.1-127.53.3.2", 1);
  setenv("SCAN_INTERVAL", "1", 1);
  setenv("SWEEP_INTERVAL", "300", 1);
  setenv("AUTO_ACTIONS", "true", 1);
  setenv("REMEDIATION_RULES", rules.c_str(), 1);
  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  StartControl({"--miner-http-port", "8080", "--miner-back-timeout", "20"});

  // Escalated: the reboot did not bring the board back.
  auto escalated = [&] {
    HttpReply events = Http("GET", base_ + "/events?kind=remediation_failed&miner=127.53.3.1");
    return events.status == 200 && events.Json()["count"].get<int>() > 0;
  };
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (!escalated() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(escalated()) << "control: " << control_->stderr_text();
  std::this_thread::sleep_for(8s);  // longer than the grace: no second reboot, no second escalation

  const auto actions = Actions();
  ASSERT_TRUE(actions.contains("127.53.3.1"));
  EXPECT_EQ(std::count(actions.at("127.53.3.1").begin(), actions.at("127.53.3.1").end(), "reboot"),
            1);
  EXPECT_FALSE(actions.contains("127.53.3.2")) << "the healthy miner was touched";
  HttpReply audit = Http("GET", base_ + "/audit?ip=127.53.3.1");
  ASSERT_EQ(audit.Json()["count"], 1) << audit.body;
  EXPECT_EQ(audit.Json()["audit"][0]["actor"], "rule:reboot-dead-board");
  EXPECT_EQ(audit.Json()["audit"][0]["action"], "reboot");
  HttpReply events = Http("GET", base_ + "/events?kind=remediation_failed&miner=127.53.3.1");
  ASSERT_EQ(events.Json()["count"], 1) << events.body;
  EXPECT_EQ(events.Json()["events"][0]["state"], "fired");
  EXPECT_EQ(events.Json()["events"][0]["severity"], "critical");
  HttpReply status = Http("GET", base_ + "/remediation");
  EXPECT_EQ(status.Json()["enabled"], true);
  EXPECT_EQ(status.Json()["holding"][0]["rules"][0]["state"], "escalated") << status.body;
}

}  // namespace
}  // namespace asicmon
