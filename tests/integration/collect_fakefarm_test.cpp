// asicmon-collect --once --json against a real asicmon-fakefarm process:
// every model normalises to the farm's values, every fault ends in its
// status by its deadline, and privileged commands reach the right miner.
// Loopback range: 127.32.0.0/16 (each test its own /24).
#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "asicmon/miner_api.h"
#include "asicmon/poller.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Subprocess;
using nlohmann::json;
using namespace std::chrono_literals;

using Farm = asicmon::testing::FakeFarm;
using asicmon::testing::StartFakeFarm;

// Runs collect over every miner of the farm; returns ip -> record.
std::map<std::string, json> CollectOnce(const Farm& farm, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {BinPath("asicmon-collect"), "--once", "--json"};
  for (const auto& [ip, m] : farm.miners) {
    args.push_back("--target");
    args.push_back(ip + ":" + std::to_string(m["port"].get<int>()));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  Subprocess collect(args);
  const std::string out = collect.ReadAllStdout(60s);
  EXPECT_EQ(collect.Wait(10s), 0);
  std::map<std::string, json> records;
  std::istringstream lines(out);
  size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    ++count;
    EXPECT_TRUE(json::accept(line)) << "stdout is not JSON lines: " << line;
    if (!json::accept(line)) continue;
    json r = json::parse(line);
    records[r["ip"].get<std::string>()] = r;
  }
  EXPECT_EQ(count, farm.miners.size()) << "one line per target";
  return records;
}

TEST(CollectFakefarm, EveryModelNormalisesToTheFarmsValues) {
  Farm farm = StartFakeFarm({"--base", "127.32.0.1", "--count", "14", "--models", "all", "--seed", "7"});
  ASSERT_EQ(farm.miners.size(), 14u);
  std::set<std::string> models;
  std::map<std::string, json> records = CollectOnce(farm);
  for (const auto& [ip, m] : farm.miners) {
    SCOPED_TRACE(ip + " " + m.dump());
    ASSERT_TRUE(records.count(ip));
    const json& r = records[ip];
    models.insert(m["model"].get<std::string>());
    EXPECT_EQ(r["status"], "ok") << r["error"];
    EXPECT_EQ(r["model"], m["model"]);
    EXPECT_EQ(r["worker"], m["worker"]);
    EXPECT_EQ(r["port"], 4028);
    ASSERT_TRUE(r["hashrate"].is_number());
    const double nominal = m["hashrate_nominal"].get<double>();
    EXPECT_NEAR(r["hashrate"].get<double>(), nominal, nominal * 0.1);  // H/s, whatever the algorithm
    EXPECT_EQ(r["boards"].size(), m["boards"].get<size_t>());
    EXPECT_TRUE(r["temp_max"].is_number());
    EXPECT_FALSE(r["fans"].empty());
    EXPECT_EQ(r["pools"].size(), 3u);
    EXPECT_GT(r["uptime_s"].get<int64_t>(), 0);
    EXPECT_FALSE(r["firmware"].get<std::string>().empty());
    EXPECT_FALSE(r["algorithm"].get<std::string>().empty());
  }
  EXPECT_EQ(models.size(), 14u) << "the farm serves fourteen models";
}

// The fake Whatsminers (--models m31s,m60s): collect fingerprints each on
// 4028 to the API v2 family, which the 2021 and the 2025 firmware both
// answer whole, so the M60S reads as "whatsminer" there too; its API v3 on
// 4433 (the poller asked for that family) reads the same machine as
// "whatsminer3". MACs are the model's prefix and the address's low three
// bytes (127.32.9.x: 20:09:0x).
TEST(CollectFakefarm, WhatsminersReadAsTheirFamilies) {
  Farm farm = StartFakeFarm(
      {"--base", "127.32.9.1", "--count", "2", "--models", "m31s,m60s", "--seed", "4"});
  ASSERT_EQ(farm.miners.size(), 2u);
  const std::map<std::string, std::string> macs = {{"127.32.9.1", "c6:06:12:20:09:01"},
                                                   {"127.32.9.2", "ce:02:01:20:09:02"}};
  std::map<std::string, json> records = CollectOnce(farm);
  for (const auto& [ip, m] : farm.miners) {
    SCOPED_TRACE(ip + " " + m.dump());
    ASSERT_TRUE(records.count(ip));
    const json& r = records[ip];
    EXPECT_EQ(r["status"], "ok") << r["error"];
    EXPECT_EQ(r["family"], "whatsminer");
    EXPECT_EQ(r["model"], m["model"]);
    EXPECT_EQ(r["worker"], m["worker"]);
    // "MHS av"/"HS RT" are MH/s on the wire: H/s in the record.
    const double nominal = m["hashrate_nominal"].get<double>();
    ASSERT_TRUE(r["hashrate"].is_number());
    EXPECT_NEAR(r["hashrate"].get<double>(), nominal, nominal * 0.05);
    EXPECT_EQ(r["mac"], macs.at(ip));
    ASSERT_TRUE(r["power_w"].is_number());
    EXPECT_GT(r["power_w"].get<double>(), 3000);  // W: 3553 (M31S), 3156 (M60S) at nominal
    EXPECT_EQ(r["boards"].size(), 3u);
    EXPECT_EQ(r["pools"].size(), 3u);
    EXPECT_EQ(r["fans"].size(), 2u);
  }
  EXPECT_EQ(farm.miners.at("127.32.9.2")["model"], "Whatsminer M60S");
  EXPECT_EQ(farm.miners.at("127.32.9.2")["v3_port"], 4433);
  EXPECT_FALSE(farm.miners.at("127.32.9.1").contains("v3_port"));

  // A target on 4433 is fingerprinted as API v3 first (a cgminer request
  // there would wait out the deadline: the v3 framing never completes it);
  // named, as discover's PollJob::family carries it, it reads the same.
  ExchangeOptions fast;
  fast.deadline = std::chrono::milliseconds(3000);
  const PollResult fingerprinted = PollOnce({"127.32.9.2", 4433}, {}, fast);
  EXPECT_EQ(fingerprinted.record.status, MinerStatus::kOk) << fingerprinted.record.error;
  EXPECT_EQ(fingerprinted.record.family, "whatsminer3");
  EXPECT_LT(*fingerprinted.record.poll_ms, 1000);
  const PollResult v3 = PollOnce({"127.32.9.2", 4433}, "whatsminer3", fast);
  const Record& r = v3.record;
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "whatsminer3");
  EXPECT_EQ(r.model, "Whatsminer M60S");  // get.device.info "M60S_VK40"
  EXPECT_EQ(r.mac, "ce:02:01:20:09:02");
  EXPECT_EQ(r.hostname, "WhatsMiner-0002");
  EXPECT_EQ(r.serial, "BTM3CS40HD24083100000000000000002");
  ASSERT_TRUE(r.hashrate.has_value());
  EXPECT_NEAR(*r.hashrate, 170.8e12, 170.8e12 * 0.05);  // TH/s on the wire
  EXPECT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.power_w.has_value());
}

TEST(CollectFakefarm, EveryFaultEndsInItsStatusByTheDeadline) {
  Farm farm = StartFakeFarm({"--base", "127.32.1.1", "--count", "9", "--models", "all", "--seed", "3",
                         "--fault", "slow=1", "--fault", "silent=1", "--fault", "reset=1",
                         "--fault", "garbage=1", "--fault", "broken=1", "--fault", "huge=1",
                         "--fault", "deadboard=1", "--fault", "flapping=1", "--slow-ms", "1500",
                         "--flap-period-s", "600"});
  ASSERT_EQ(farm.miners.size(), 9u);
  const auto start = std::chrono::steady_clock::now();
  std::map<std::string, json> records = CollectOnce(farm, {"--timeout", "3"});
  const double run_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::set<std::string> faults_seen;
  for (const auto& [ip, m] : farm.miners) {
    const std::string fault = m["fault"].get<std::string>();
    SCOPED_TRACE(ip + " fault=" + fault);
    faults_seen.insert(fault);
    const json& r = records[ip];
    const double poll_ms = r["poll_ms"].get<double>();
    EXPECT_LT(poll_ms, 3000 + 500) << "every poll ends by its deadline";
    if (fault == "none") {
      EXPECT_EQ(r["status"], "ok") << r["error"];
    } else if (fault == "slow") {
      EXPECT_EQ(r["status"], "ok") << r["error"];  // slower than 1 s, inside the deadline
      EXPECT_GE(poll_ms, 1450);
    } else if (fault == "silent") {
      EXPECT_EQ(r["status"], "timeout");
      EXPECT_GE(poll_ms, 2900);
    } else if (fault == "reset") {
      EXPECT_EQ(r["status"], "reset") << r["error"];
    } else if (fault == "garbage" || fault == "broken") {
      EXPECT_EQ(r["status"], "parse_error") << r["error"];
      EXPECT_TRUE(r["hashrate"].is_null());
    } else if (fault == "huge") {
      EXPECT_EQ(r["status"], "too_large") << r["error"];
    } else if (fault == "deadboard") {
      EXPECT_EQ(r["status"], "ok") << r["error"];
      int dead = 0;
      for (const json& b : r["boards"]) {
        dead += (b["hashrate"].is_number() && b["hashrate"].get<double>() == 0) ||
                (b["chips_failed"].is_number() && b["chips_failed"].get<int>() > 0);
      }
      EXPECT_GE(dead, 1) << r["boards"].dump();
    } else if (fault == "flapping") {
      // Up or down depending on its phase; either way an honest status.
      EXPECT_TRUE(r["status"] == "ok" || r["status"] == "refused") << r["status"];
    }
    if (r["status"] != "ok") {
      EXPECT_FALSE(r["error"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(faults_seen.size(), 9u);
  // All at once, not one after another: the silent miner's 3 s bound the run.
  EXPECT_LT(run_s, 3.0 * 3);
}

TEST(CollectFakefarm, FlappingMinerIsRefusedWhileDownAndOkWhileUp) {
  Farm farm = StartFakeFarm({"--base", "127.32.2.1", "--count", "1", "--fault", "flapping=1",
                         "--flap-period-s", "1"});
  ASSERT_EQ(farm.miners.size(), 1u);
  const MinerEndpoint ep{farm.miners.begin()->first, 4028};
  std::set<std::string> seen;
  for (int i = 0; i < 30 && seen.size() < 2; ++i) {
    ExchangeOptions options;
    options.deadline = 800ms;
    Record r = RecordFromExchange(ep, ExchangeOnce(ep, BuildRequest(kPollCommand), options));
    seen.insert(std::string(ToString(r.status)));
    std::this_thread::sleep_for(150ms);
  }
  EXPECT_TRUE(seen.count("ok"));
  EXPECT_TRUE(seen.count("refused"));
}

TEST(CollectFakefarm, PrivilegedCommandsChangeTheRightMinerOnly) {
  const std::string log_path = ::testing::TempDir() + "/fakefarm-actions-" + std::to_string(getpid()) + ".jsonl";
  std::remove(log_path.c_str());
  Farm farm = StartFakeFarm({"--base", "127.32.3.1", "--count", "3", "--action-log", log_path});
  ASSERT_EQ(farm.miners.size(), 3u);
  const MinerEndpoint target{"127.32.3.2", 4028};
  ExchangeOptions options;

  CommandResult add = RunCommand(target, "addpool", "stratum+tcp://backup.pool:3333,farm.backup,x", options);
  ASSERT_EQ(add.status, MinerStatus::kOk) << add.error;
  Record after = RecordFromExchange(target, ExchangeOnce(target, BuildRequest(kPollCommand), options));
  ASSERT_EQ(after.status, MinerStatus::kOk) << after.error;
  ASSERT_EQ(after.pools.size(), 4u);
  EXPECT_EQ(after.pools[3].url, "stratum+tcp://backup.pool:3333");

  CommandResult sw = RunCommand(target, "switchpool", "3", options);
  ASSERT_EQ(sw.status, MinerStatus::kOk) << sw.error;
  after = RecordFromExchange(target, ExchangeOnce(target, BuildRequest(kPollCommand), options));
  EXPECT_EQ(after.worker, "farm.backup");

  // Stock cgminer's answer, {"RESTART","id":1}, is not even JSON: only the
  // uptime shows the restart.
  CommandResult restart = RunCommand(target, "restart", "", options);
  EXPECT_EQ(restart.status, MinerStatus::kParseError) << restart.error;
  after = RecordFromExchange(target, ExchangeOnce(target, BuildRequest(kPollCommand), options));
  ASSERT_TRUE(after.uptime_s.has_value());
  EXPECT_LT(*after.uptime_s, 5);

  // The neighbours are untouched.
  for (const char* other : {"127.32.3.1", "127.32.3.3"}) {
    Record r = RecordFromExchange({other, 4028}, ExchangeOnce({other, 4028}, BuildRequest(kPollCommand), options));
    EXPECT_EQ(r.pools.size(), 3u) << other;
  }

  // The action log names the target, and only it, for each command.
  std::this_thread::sleep_for(100ms);
  std::ifstream in(log_path);
  std::vector<json> actions;
  for (std::string line; std::getline(in, line);) actions.push_back(json::parse(line));
  ASSERT_EQ(actions.size(), 3u);
  EXPECT_EQ(actions[0]["command"], "addpool");
  EXPECT_EQ(actions[1]["command"], "switchpool");
  EXPECT_EQ(actions[2]["command"], "restart");
  for (const json& a : actions) {
    EXPECT_EQ(a["ip"], "127.32.3.2");
    EXPECT_EQ(a["result"], "ok");
  }
  std::remove(log_path.c_str());
}

TEST(CollectFakefarm, ReadOnlyFirmwareDeniesPrivilegedCommands) {
  Farm farm = StartFakeFarm({"--base", "127.32.4.1", "--count", "1", "--deny-privileged", "all"});
  const MinerEndpoint ep{"127.32.4.1", 4028};
  CommandResult r = RunCommand(ep, "restart", "", ExchangeOptions{});
  EXPECT_EQ(r.status, MinerStatus::kAuthError);
  EXPECT_NE(r.error.find("Access denied"), std::string::npos) << r.error;
  // Reads still work on a read-only API.
  Record rec = RecordFromExchange(ep, ExchangeOnce(ep, BuildRequest(kPollCommand), ExchangeOptions{}));
  EXPECT_EQ(rec.status, MinerStatus::kOk) << rec.error;
}

TEST(CollectFakefarm, DownMinerStillGetsARecordAndExitZero) {
  Subprocess collect({BinPath("asicmon-collect"), "--target", "127.32.5.1", "--once", "--json"}, true);
  const std::string out = collect.ReadAllStdout(20s);
  EXPECT_EQ(collect.Wait(5s), 0);
  json r = json::parse(out);
  EXPECT_EQ(r["status"], "refused");
  EXPECT_EQ(r["ip"], "127.32.5.1");
  // Logs go to stderr, never stdout.
  EXPECT_NE(collect.stderr_text().find("refused"), std::string::npos);
}

TEST(CollectFakefarm, BadConfigurationExitsTwo) {
  Subprocess bad_target({BinPath("asicmon-collect"), "--target", "not-an-ip", "--once"}, true);
  EXPECT_EQ(bad_target.Wait(10s), 2);
  Subprocess no_target({BinPath("asicmon-collect"), "--once"}, true);
  EXPECT_EQ(no_target.Wait(10s), 2);
  setenv("POLL_TIMEOUT", "soon", 1);
  Subprocess bad_env({BinPath("asicmon-collect"), "--target", "127.32.5.2", "--once"}, true);
  EXPECT_EQ(bad_env.Wait(10s), 2);
  EXPECT_NE(bad_env.stderr_text().find("POLL_TIMEOUT"), std::string::npos);
  unsetenv("POLL_TIMEOUT");
}

TEST(CollectFakefarm, HelpWorks) {
  for (const char* bin : {"asicmon-collect", "asicmon-fakefarm"}) {
    Subprocess help({BinPath(bin), "--help"});
    const std::string out = help.ReadAllStdout(10s);
    EXPECT_EQ(help.Wait(5s), 0) << bin;
    EXPECT_NE(out.find("--"), std::string::npos) << bin;
  }
}

}  // namespace
}  // namespace asicmon
