// The Whatsminer drivers (common/driver/src/whatsminer.cpp, whatsminer3.cpp)
// against the fake farm's Whatsminers (an M31S on 2021 btminer, an M60S on
// 2025 firmware): btminer's privileged API v2 on 4028 for both, API v3 on
// 4433 for the M60S. Each action reaches exactly that miner on that port
// (the farm's --action-log) and reads back as the firmware reports it; a
// wrong password is refused naming the step, with nothing changed.
// Loopback range: 127.81.0.0/16.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "asicmon/driver.h"
#include "asicmon/poller.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::ReadActionLog;
using asicmon::testing::StartFakeFarm;
using driver::Failure;
using driver::PowerMode;
using nlohmann::json;
using namespace std::chrono_literals;

// Bounded: true once `done` holds, false when it never did within `limit`.
bool Within(std::chrono::seconds limit, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

class WhatsminerControl : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = (std::filesystem::temp_directory_path() /
            ("wm-actions-" + std::to_string(getpid()) + ".jsonl"))
               .string();
    std::filesystem::remove(log_);
    // Short reboots, restarts and retunes: the shapes are the firmware's,
    // the lengths are the test's.
    farm_ = StartFakeFarm({"--base",        "127.81.0.1", "--count",       "2",
                           "--models",      "m31s,m60s",  "--seed",        "8",
                           "--action-log",  log_,         "--reboot-s",    "1",
                           "--restart-s",   "1",          "--wake-idle-s", "1",
                           "--wake-ramp-s", "1",          "--halt-s",      "1"});
    options_.api.deadline = 5000ms;
  }
  void TearDown() override { std::filesystem::remove(log_); }

  // The API v2 port alone: the M60S's v3 port stays up while btminer restarts.
  Record Poll(const std::string& ip) {
    PollerOptions only_v2;
    only_v2.ports.clear();
    return PollOnce({ip, kMinerApiPort}, "whatsminer", options_.api, only_v2).record;
  }
  driver::Settings Read(const std::string& ip, const Record& record) {
    const driver::Context ctx{ip, record, options_, credentials_};
    auto settings = driver_->ReadSettings(ctx);
    EXPECT_TRUE(settings.ok()) << settings.status().ToString();
    return settings.ok() ? *settings : driver::Settings{};
  }
  Record PollV3(const std::string& ip) {
    return PollOnce({ip, kWhatsminerV3Port}, "whatsminer3", options_.api).record;
  }
  driver::Settings ReadV3(const std::string& ip, const Record& record) {
    const driver::Context ctx{ip, record, options_, v3_credentials_};
    auto settings = v3_->ReadSettings(ctx);
    EXPECT_TRUE(settings.ok()) << settings.status().ToString();
    return settings.ok() ? *settings : driver::Settings{};
  }
  // The log's entries since `from`; every one must be this miner's `port`.
  std::vector<json> NewActions(size_t from, const std::string& ip, uint16_t port = kMinerApiPort) {
    std::vector<json> all = ReadActionLog(log_);
    std::vector<json> fresh(all.begin() + static_cast<std::ptrdiff_t>(std::min(from, all.size())),
                            all.end());
    for (const json& a : fresh) {
      EXPECT_EQ(a["ip"], ip) << a.dump();
      EXPECT_EQ(a["port"], port) << a.dump();
    }
    return fresh;
  }

  const driver::MinerDriver* driver_ = driver::FindDriver("whatsminer");
  const driver::MinerDriver* v3_ = driver::FindDriver("whatsminer3");
  driver::Credentials v3_credentials_{"super", "super"};
  driver::DriverOptions options_;
  driver::Credentials credentials_{"admin", "admin"};
  asicmon::testing::FakeFarm farm_;
  std::string log_;
};

TEST_F(WhatsminerControl, EachActionReachesThatMinerAndReadsBack) {
  ASSERT_NE(driver_, nullptr);
  EXPECT_EQ(driver_->StockCredentials().user, "admin");
  ASSERT_EQ(farm_.miners.size(), 2u);
  for (const auto& [ip, m] : farm_.miners) {
    SCOPED_TRACE(ip + " " + m["model"].get<std::string>());
    const bool m60s = m["model"] == "Whatsminer M60S";
    Record record = Poll(ip);
    ASSERT_EQ(record.status, MinerStatus::kOk) << record.error;
    ASSERT_EQ(record.family, "whatsminer");
    const driver::Context ctx{ip, record, options_, credentials_};
    EXPECT_EQ(driver_->Describe(record).Names().size(), std::size(driver::kAllActions));
    size_t seen = ReadActionLog(log_).size();
    auto expect_one = [&](const char* command) {
      const std::vector<json> fresh = NewActions(seen, ip);
      ASSERT_EQ(fresh.size(), 1u);
      EXPECT_EQ(fresh[0]["command"], command);
      EXPECT_EQ(fresh[0]["result"], "ok");
      seen += fresh.size();
    };

    // Locate: only 2023+ firmware answers get_miner_info's ledstat.
    driver::Outcome done = driver_->Locate(ctx, true);
    EXPECT_TRUE(done.ok()) << done.step << ": " << done.detail;
    expect_one("set_led");
    EXPECT_EQ(Read(ip, record).locate_on, m60s ? std::optional<bool>(true) : std::nullopt);
    EXPECT_TRUE(driver_->Locate(ctx, false).ok());
    expect_one("set_led");
    if (m60s) {
      EXPECT_EQ(Read(ip, record).locate_on, false);
    }

    // Power mode: the setting at once, the watts after the retune.
    const double watts = record.power_w.value_or(0);
    ASSERT_GT(watts, 0);
    EXPECT_TRUE(driver_->SetPowerMode(ctx, PowerMode::kLow).ok());
    expect_one("set_low_power");
    EXPECT_EQ(Read(ip, record).power_mode, PowerMode::kLow);
    EXPECT_TRUE(Within(20s, [&] { return Poll(ip).power_w.value_or(watts) < watts * 0.95; }));
    EXPECT_TRUE(driver_->SetPowerMode(ctx, PowerMode::kNormal).ok());
    expect_one("set_normal_power");
    EXPECT_EQ(Read(ip, record).power_mode, PowerMode::kNormal);

    // Sleep and wake: power_off / power_on, status's btmineroff or mineroff;
    // btminer answers first and winds down after (--halt-s).
    EXPECT_TRUE(driver_->Sleep(ctx, true).ok());
    expect_one("power_off");
    EXPECT_TRUE(Within(20s, [&] { return Read(ip, record).sleeping == true; }));
    const Record asleep = Poll(ip);
    EXPECT_TRUE(asleep.sleeping);
    EXPECT_EQ(asleep.hashrate.value_or(-1), 0);
    for (const BoardStats& b : asleep.boards) EXPECT_EQ(b.hashrate.value_or(-1), 0);
    EXPECT_TRUE(driver_->Sleep(ctx, false).ok());
    expect_one("power_on");
    EXPECT_EQ(Read(ip, record).sleeping, false);
    EXPECT_TRUE(Within(20s, [&] { return Poll(ip).hashrate.value_or(0) > 0; }));

    // Pools: the list in order.
    const std::vector<driver::PoolSetting> pools = {
        {"stratum+tcp://one.example:3333", "farm.a", "x"},
        {"stratum+tcp://two.example:3333", "farm.b", "x"}};
    EXPECT_TRUE(driver_->SetPools(ctx, pools).ok());
    expect_one("update_pools");
    const Record repooled = Poll(ip);
    ASSERT_EQ(repooled.pools.size(), 2u);
    EXPECT_EQ(repooled.pools[0].url, pools[0].url);
    EXPECT_EQ(repooled.pools[1].user, pools[1].user);

    // Restart: btminer's API goes down for --restart-s and comes back.
    EXPECT_TRUE(driver_->Restart(ctx).ok());
    expect_one("restart_btminer");
    EXPECT_TRUE(Within(20s, [&] { return Poll(ip).status == MinerStatus::kOk; }));

    // Power limit: btminer reboots to apply it.
    done = driver_->SetPowerLimit(ctx, 3000);
    EXPECT_TRUE(done.ok()) << done.step << ": " << done.detail;
    expect_one("adjust_power_limit");
    EXPECT_TRUE(Within(20s, [&] {
      const Record r = Poll(ip);
      return r.status == MinerStatus::kOk && Read(ip, r).power_limit_w == 3000;
    }));

    // Reboot: taken, down, back.
    EXPECT_TRUE(driver_->Reboot(ctx).ok());
    expect_one("reboot");
    EXPECT_TRUE(Within(20s, [&] { return Poll(ip).status == MinerStatus::kOk; }));
  }
}

TEST_F(WhatsminerControl, AWrongPasswordIsRefusedNamingTheStepAndChangesNothing) {
  for (const auto& [ip, m] : farm_.miners) {
    SCOPED_TRACE(ip);
    const Record record = Poll(ip);
    ASSERT_EQ(record.status, MinerStatus::kOk) << record.error;
    const driver::Credentials wrong{"admin", "not-the-password"};
    const driver::Context ctx{ip, record, options_, wrong};
    const size_t seen = ReadActionLog(log_).size();
    const driver::Outcome refused = driver_->Sleep(ctx, true);
    EXPECT_EQ(refused.failure, Failure::kCredentials);
    EXPECT_EQ(refused.step, "power_off");
    EXPECT_NE(refused.detail.find("Code 23"), std::string::npos) << refused.detail;
    const std::vector<json> fresh = NewActions(seen, ip);
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh[0]["result"], "denied");
    EXPECT_EQ(Read(ip, record).sleeping, false);
  }
}

TEST_F(WhatsminerControl, ALimitOutsideTheRangeIsRefusedWithNothingSent) {
  const auto& [ip, m] = *farm_.miners.begin();
  const Record record = Poll(ip);
  const driver::Context ctx{ip, record, options_, credentials_};
  const size_t seen = ReadActionLog(log_).size();
  const driver::Outcome refused = driver_->SetPowerLimit(ctx, 0);
  EXPECT_EQ(refused.failure, Failure::kRefused);
  EXPECT_EQ(refused.step, "adjust_power_limit");
  EXPECT_TRUE(NewActions(seen, ip).empty());
}

TEST_F(WhatsminerControl, ApiV3ActionsReachTheM60SOn4433AndReadBack) {
  ASSERT_NE(v3_, nullptr);
  EXPECT_EQ(v3_->StockCredentials().user, "super");
  const auto it = std::find_if(farm_.miners.begin(), farm_.miners.end(), [](const auto& m) {
    return m.second["model"] == "Whatsminer M60S";
  });
  ASSERT_NE(it, farm_.miners.end());
  const std::string ip = it->first;
  const Record record = PollV3(ip);
  ASSERT_EQ(record.status, MinerStatus::kOk) << record.error;
  ASSERT_EQ(record.family, "whatsminer3");
  const driver::Context ctx{ip, record, options_, v3_credentials_};
  size_t seen = ReadActionLog(log_).size();
  auto expect_one = [&](const char* command) {
    const std::vector<json> fresh = NewActions(seen, ip, kWhatsminerV3Port);
    ASSERT_EQ(fresh.size(), 1u);
    EXPECT_EQ(fresh[0]["command"], command);
    EXPECT_EQ(fresh[0]["result"], "ok");
    seen += fresh.size();
  };
  auto ok = [](const driver::Outcome& o) { EXPECT_TRUE(o.ok()) << o.step << ": " << o.detail; };

  EXPECT_EQ(ReadV3(ip, record).power_mode, PowerMode::kNormal);
  EXPECT_EQ(ReadV3(ip, record).locate_on, false);
  ok(v3_->Locate(ctx, true));
  expect_one("set.system.led");
  EXPECT_EQ(ReadV3(ip, record).locate_on, true);
  ok(v3_->Locate(ctx, false));
  expect_one("set.system.led");
  EXPECT_EQ(ReadV3(ip, record).locate_on, false);

  const double watts = record.power_w.value_or(0);
  ASSERT_GT(watts, 0);
  ok(v3_->SetPowerMode(ctx, PowerMode::kHigh));
  expect_one("set.miner.power_mode");
  EXPECT_EQ(ReadV3(ip, record).power_mode, PowerMode::kHigh);
  // The v3 document: the device restarts to apply a power limit.
  ok(v3_->SetPowerLimit(ctx, 2800));
  expect_one("set.miner.power_limit");
  EXPECT_TRUE(Within(20s, [&] {
    const Record r = PollV3(ip);
    return r.status == MinerStatus::kOk && r.power_w.value_or(watts) <= 2800;
  }));
  EXPECT_EQ(ReadV3(ip, record).power_limit_w, 2800);

  ok(v3_->Sleep(ctx, true));
  expect_one("set.miner.service");
  EXPECT_TRUE(Within(20s, [&] { return ReadV3(ip, record).sleeping == true; }));
  const Record asleep = PollV3(ip);
  EXPECT_TRUE(asleep.sleeping);
  EXPECT_EQ(asleep.hashrate.value_or(-1), 0);
  ok(v3_->Sleep(ctx, false));
  expect_one("set.miner.service");
  EXPECT_EQ(ReadV3(ip, record).sleeping, false);

  const std::vector<driver::PoolSetting> pools = {
      {"stratum+tcp://v3-one.example:3333", "farm.c", "x"},
      {"stratum+tcp://v3-two.example:443", "farm.d", "y"},
      {"stratum+tcp://v3-three.example:700", "farm.e", "z"}};
  ok(v3_->SetPools(ctx, pools));
  expect_one("set.miner.pools");
  const Record repooled = PollV3(ip);
  ASSERT_EQ(repooled.pools.size(), 3u);
  for (size_t i = 0; i < pools.size(); ++i) {
    EXPECT_EQ(repooled.pools[i].url, pools[i].url);
    EXPECT_EQ(repooled.pools[i].user, pools[i].user);
  }

  ok(v3_->Restart(ctx));
  expect_one("set.miner.service");
  ok(v3_->Reboot(ctx));
  expect_one("set.system.reboot");
  EXPECT_TRUE(Within(20s, [&] { return PollV3(ip).status == MinerStatus::kOk; }));

  // A wrong password: the token does not match, refused, nothing changed.
  const driver::Credentials wrong{"super", "not-the-password"};
  const driver::Context bad{ip, record, options_, wrong};
  const driver::Outcome refused = v3_->Sleep(bad, true);
  EXPECT_EQ(refused.failure, Failure::kCredentials);
  EXPECT_EQ(refused.step, "set.miner.service");
  const std::vector<json> denied = NewActions(seen, ip, kWhatsminerV3Port);
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0]["result"], "denied");
  EXPECT_EQ(ReadV3(ip, record).sleeping, false);
}

}  // namespace
}  // namespace asicmon
