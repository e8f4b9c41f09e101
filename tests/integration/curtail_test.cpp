// Farm curtailment over the whole pipeline (discover, collect, store,
// control) and a mixed fake farm of 300 miners on 127.61.0.x-1.x (S17 Pro,
// S19 Pro, S19j Pro on stock firmware, which sleep, and S19 XP on Braiins
// OS+, which take a power target), 75 of each:
// a target at 60 % of the farm's draw is reached and held, then lifted
// with DELETE, every miner it slept is awake and hashing again, and the
// store holds no fault event for any of it (control announces each sleep
// and wake, CommandGate::RunHeld).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

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

constexpr char kToken[] = "curtail-t0ken";

TEST(CurtailTest, SixtyPercentIsReachedHeldThenLiftedWithEveryMinerBackAndNoFault) {
  const auto dir =
      std::filesystem::path(::testing::TempDir()) / ("curtail_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  setenv("ASICMON_RUN_DIR", (dir / "run").c_str(), 1);
  setenv("ASICMON_DB", (dir / "asicmon.db").c_str(), 1);
  setenv("CONTROL_BIND", "127.0.0.1:0", 1);
  setenv("CONTROL_TOKEN", kToken, 1);
  setenv("POLL_TIMEOUT", "2", 1);
  setenv("AUTO_ACTIONS", "true", 1);
  setenv("SUBNET", "127.61.0.1-127.61.1.44", 1);
  setenv("SCAN_INTERVAL", "3", 1);
  setenv("SWEEP_INTERVAL", "300", 1);

  testing::FakeFarm farm =
      testing::StartFakeFarm({"--base", "127.61.0.1", "--count", "300", "--http-port", "8080",
                              "--models", "s17pro,s19pro,s19jpro,bos-s19xp", "--power-ramp-s", "1",
                              "--restart-s", "1", "--wake-idle-s", "1", "--wake-ramp-s", "2",
                              "--action-log", (dir / "actions.jsonl").string()});
  ASSERT_TRUE(farm.process);
  Subprocess store({BinPath("asicmon-store")}, true);
  Subprocess collect({BinPath("asicmon-collect")}, true);
  Subprocess discover({BinPath("asicmon-discover")}, true);
  ASSERT_TRUE(store.WaitForStderr("pulling from", 20s)) << store.stderr_text();
  Subprocess control({BinPath("asicmon-control"), "--miner-http-port", "8080",
                      "--miner-back-timeout", "60", "--curtail-interval", "2"},
                     true);
  ASSERT_TRUE(control.WaitForStdout("READY", 20s)) << control.stderr_text();
  const std::string& out = control.stdout_text();
  const std::string base =
      "http://127.0.0.1:" + out.substr(out.find("READY ") + 6, out.find('\n') - 6);

  auto db = StoreDb::Open({.database = (dir / "asicmon.db").string()});
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
  auto wait_until = [](std::chrono::seconds limit, auto done) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1s);
    return done();
  };
  auto hashing = [](const Record& r) {
    return r.status == MinerStatus::kOk && !r.sleeping && r.hashrate_expected &&
           r.hashrate.value_or(0) >= 0.8 * *r.hashrate_expected;
  };
  auto state = [&] { return Http("GET", base + "/curtail").Json(); };

  ASSERT_TRUE(wait_until(90s,
                         [&] {
                           const auto now = latest();
                           return now.size() == 300 &&
                                  std::all_of(now.begin(), now.end(),
                                              [&](const auto& e) { return hashing(e.second); });
                         }))
      << "the farm was not polled: " << store.stderr_text();
  // The farm's draw as control counts it: the Antminers report no power,
  // so each at its model's nominal power; the Braiins OS miners report theirs.
  ASSERT_TRUE(wait_until(20s, [&] {
    const json s = state();
    return s.contains("plan") && s["plan"]["nominal_miners"] == 225 &&
           s["plan"]["measured_w"].get<double>() > 0;
  })) << state().dump();
  const double farm_kw = state()["farm_kw"].get<double>();
  EXPECT_NEAR(state()["plan"]["nominal_w"].get<double>(), 75 * (2094 + 3250 + 3050), 1);
  const double target_kw = 0.6 * farm_kw;

  // Nothing to lift yet; a hostile body is refused naming the field; a dry
  // run answers the plan and changes nothing.
  EXPECT_EQ(Http("DELETE", base + "/curtail", "", kToken).status, 404);
  EXPECT_EQ(Http("POST", base + "/curtail", json{{"target_kw", -5}}.dump(), kToken).status, 400);
  EXPECT_EQ(Http("POST", base + "/curtail", "{\"target_kw\": 5, \"\xff\xfe\": 1}", kToken).status,
            400);
  HttpReply dry = Http("POST", base + "/curtail",
                       json{{"target_kw", target_kw}, {"dry_run", true}}.dump(), kToken);
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_GE(dry.Json()["steps"].size(), 75u);
  EXPECT_EQ(state()["state"], "idle");

  HttpReply started = Http(
      "POST", base + "/curtail",
      json{{"target_kw", target_kw}, {"strategy", "least-efficient-first"}, {"max_parallel", 50}}
          .dump(),
      kToken);
  ASSERT_EQ(started.status, 202) << started.body;
  // A second one is refused while the first is active.
  EXPECT_EQ(Http("POST", base + "/curtail", json{{"target_kw", 1}}.dump(), kToken).status, 409);

  ASSERT_TRUE(wait_until(240s,
                         [&] {
                           const json s = state();
                           return s.value("at_target", false) && s["plan"]["steps"].empty();
                         }))
      << state().dump().substr(0, 4000) << control.stderr_text().substr(0, 4000);
  // Held over several more plans, and the store agrees: the slept miners asleep.
  std::set<std::string> held;
  for (int round = 0; round < 4; ++round) {
    std::this_thread::sleep_for(2s);
    const json s = state();
    EXPECT_TRUE(s["active"].get<bool>());
    EXPECT_LE(s["farm_kw"].get<double>(), target_kw) << s["plan"].dump();
    held.clear();
    for (const json& m : s["miners"]) {
      if (m["state"] == "held") held.insert(m["ip"].get<std::string>());
    }
  }
  // The least efficient went first: every S17 Pro (2,094 W at 53 TH/s).
  ASSERT_GE(held.size(), 75u);
  size_t s17 = 0;
  for (const std::string& ip : held) s17 += farm.miners[ip]["model"] == "Antminer S17 Pro";
  EXPECT_EQ(s17, 75u);
  const std::string metrics = Http("GET", base + "/metrics").body;
  EXPECT_NE(metrics.find("asicmon_curtailment_active 1"), std::string::npos);
  EXPECT_NE(metrics.find("asicmon_curtailment_miners " + std::to_string(held.size())),
            std::string::npos);
  ASSERT_TRUE(wait_until(30s, [&] {
    const auto now = latest();
    return std::all_of(held.begin(), held.end(),
                       [&](const std::string& ip) { return now.count(ip) && now.at(ip).sleeping; });
  }));

  ASSERT_EQ(Http("DELETE", base + "/curtail", "", kToken).status, 202);
  const double lifted = UnixNow();
  ASSERT_TRUE(wait_until(240s, [&] { return state()["state"] == "idle"; }))
      << state().dump().substr(0, 4000);
  for (const json& m : state()["miners"]) EXPECT_EQ(m["state"], "restored") << m.dump();
  ASSERT_TRUE(wait_until(120s, [&] {
    const auto now = latest();
    return std::all_of(now.begin(), now.end(),
                       [&](const auto& e) { return e.second.ts > lifted && hashing(e.second); });
  })) << "not every miner is back";

  // Each touched miner got exactly a sleep and a wake; no other miner anything.
  std::map<std::string, int> commands;
  for (const json& a : testing::ReadActionLog(dir / "actions.jsonl")) ++commands[a["ip"]];
  EXPECT_EQ(commands.size(), held.size());
  auto events = (*db)->Events({.since = 0, .ip = "", .kind = "", .limit = 10000});
  ASSERT_OK(events);
  for (const HealthEvent& e : *events) {
    EXPECT_EQ(e.severity, "info") << e.ip << " " << e.kind << " " << e.state << ": " << e.message;
  }
  for (const char* v :
       {"ASICMON_RUN_DIR", "ASICMON_DB", "CONTROL_BIND", "CONTROL_TOKEN", "POLL_TIMEOUT",
        "AUTO_ACTIONS", "SUBNET", "SCAN_INTERVAL", "SWEEP_INTERVAL"}) {
    unsetenv(v);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace asicmon
