// The Avalon control driver against the fake farm's AvalonMiner 1246 and
// Avalon Q: each action reaches only the miner it names (the farm's action
// log) as Canaan's ascset, what each model lacks is refused with nothing
// sent, and every change reads back as the firmware reports it. Loopback
// range: 127.94.0.0/16.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

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

class AvalonControl : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = ::testing::TempDir() + "avalon-actions-" + std::to_string(getpid()) + ".jsonl";
    std::remove(log_.c_str());
    farm_ = StartFakeFarm({"--base", "127.94.0.1", "--count", "2", "--models", "avalon1246,avalonq",
                           "--seed", "5", "--action-log", log_, "--wake-idle-s", "0",
                           "--wake-ramp-s", "1", "--reboot-s", "1"});
    ASSERT_EQ(farm_.miners.size(), 2u);
    for (const auto& [ip, m] : farm_.miners) {
      (m["model"] == "Avalon Q" ? q_ : classic_) = ip;
    }
    ASSERT_FALSE(q_.empty());
    ASSERT_FALSE(classic_.empty());
    driver_ = driver::FindDriver("avalon");
    ASSERT_NE(driver_, nullptr);
  }
  void TearDown() override { std::remove(log_.c_str()); }

  Record Poll(const std::string& ip) const {
    return PollOnce({ip, 4028}, "avalon", options_.api).record;
  }
  // Polls until `done` holds of the record, for at most 30 s; the last record.
  Record PollUntil(const std::string& ip, const std::function<bool(const Record&)>& done) const {
    Record r = Poll(ip);
    for (int i = 0; i < 120 && !done(r); ++i) {
      std::this_thread::sleep_for(250ms);
      r = Poll(ip);
    }
    return r;
  }
  // The actions logged since the last call.
  std::vector<json> NewActions() {
    std::vector<json> all = ReadActionLog(log_);
    std::vector<json> fresh(all.begin() + static_cast<std::ptrdiff_t>(seen_), all.end());
    seen_ = all.size();
    return fresh;
  }
  // Exactly one action reached `ip`: `command` with `parameter` (a prefix of it
  // when `prefix`), taken.
  void ExpectAction(const std::string& ip, const std::string& command, const std::string& parameter,
                    bool prefix = false) {
    const std::vector<json> got = NewActions();
    ASSERT_EQ(got.size(), 1u) << json(got).dump();
    EXPECT_EQ(got[0]["ip"], ip);
    EXPECT_EQ(got[0]["command"], command);
    const std::string sent = got[0]["parameter"];
    if (prefix) {
      EXPECT_TRUE(sent.starts_with(parameter)) << sent;
    } else {
      EXPECT_EQ(sent, parameter);
    }
    EXPECT_EQ(got[0]["result"], "ok") << got[0].dump();
  }

  std::string log_;
  std::string q_;
  std::string classic_;
  asicmon::testing::FakeFarm farm_;
  const driver::MinerDriver* driver_ = nullptr;
  driver::DriverOptions options_;
  driver::Credentials credentials_ = {"root", "root"};
  size_t seen_ = 0;
};

TEST_F(AvalonControl, AvalonQWorkModesSoftOffAndReboot) {
  const Record first = Poll(q_);
  ASSERT_EQ(first.status, MinerStatus::kOk) << first.error;
  ASSERT_EQ(first.family, "avalon");
  ASSERT_EQ(first.model, "Avalon Q");
  ASSERT_TRUE(first.power_w.has_value());
  const double eco_w = *first.power_w;
  const driver::Context ctx{q_, first, options_, credentials_};
  EXPECT_EQ(driver_->Describe(first).Names(),
            (std::vector<std::string>{"reboot", "pool", "sleep", "wake", "power_mode"}));

  auto settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->power_mode, PowerMode::kLow);  // the capture's WORKMODE[0], eco
  EXPECT_EQ(settings->sleeping, false);

  driver::Outcome o = driver_->SetPowerMode(ctx, PowerMode::kHigh);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(q_, "ascset", "0,workmode,set,2");
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->power_mode, PowerMode::kHigh);
  // Super: Canaan's 90 TH/s rating against the eco 55 TH/s, watts alike.
  Record r = PollUntil(q_, [&](const Record& p) { return p.power_w && *p.power_w > eco_w * 1.5; });
  EXPECT_NEAR(r.power_w.value_or(0), eco_w * 90 / 55.03, eco_w * 0.1);

  o = driver_->SetPowerMode(ctx, PowerMode::kNormal);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(q_, "ascset", "0,workmode,set,1");
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->power_mode, PowerMode::kNormal);

  // Soft-off takes effect at the time asked, five seconds on: hashing until then.
  o = driver_->Sleep(ctx, true);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(q_, "ascset", "0,softoff,1:", true);
  r = PollUntil(q_, [](const Record& p) { return p.sleeping; });
  EXPECT_TRUE(r.sleeping);
  EXPECT_EQ(r.hashrate.value_or(-1), 0.0);
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->sleeping, true);

  o = driver_->Sleep(ctx, false);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(q_, "ascset", "0,softon,1:", true);
  r = PollUntil(q_, [](const Record& p) { return !p.sleeping && p.hashrate.value_or(0) > 0; });
  EXPECT_FALSE(r.sleeping);
  EXPECT_GT(r.hashrate.value_or(0), 0);

  // What the Q lacks is refused before anything is sent.
  o = driver_->Locate(ctx, true);
  EXPECT_EQ(o.failure, Failure::kUnsupported);
  EXPECT_EQ(o.step, "locate");
  o = driver_->Restart(ctx);
  EXPECT_EQ(o.failure, Failure::kUnsupported);
  o = driver_->SetPowerLimit(ctx, 800);
  EXPECT_EQ(o.failure, Failure::kUnsupported);
  EXPECT_TRUE(NewActions().empty());

  o = driver_->Reboot(ctx);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(q_, "ascset", "0,reboot,0");
  r = PollUntil(q_, [](const Record& p) { return p.status != MinerStatus::kOk; });
  EXPECT_NE(r.status, MinerStatus::kOk) << "down while rebooting";
  r = PollUntil(q_, [](const Record& p) { return p.status == MinerStatus::kOk; });
  EXPECT_EQ(r.status, MinerStatus::kOk) << "back from its reboot";

  for (const json& a : ReadActionLog(log_)) EXPECT_EQ(a["ip"], q_) << a.dump();
}

TEST_F(AvalonControl, Classic1246LightRestartPoolsAndSoftOff) {
  const Record first = Poll(classic_);
  ASSERT_EQ(first.status, MinerStatus::kOk) << first.error;
  ASSERT_EQ(first.model, "AvalonMiner 1246-83");
  const driver::Context ctx{classic_, first, options_, credentials_};
  EXPECT_EQ(driver_->Describe(first).Names(),
            (std::vector<std::string>{"reset", "reboot", "pool", "locate", "sleep", "wake"}));

  driver::Outcome o = driver_->Locate(ctx, true);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(classic_, "ascset", "0,led,1-1");
  auto settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->locate_on, true);
  o = driver_->Locate(ctx, false);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(classic_, "ascset", "0,led,1-0");
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->locate_on, false);

  // The work mode would need a restart: refused with nothing sent.
  o = driver_->SetPowerMode(ctx, PowerMode::kLow);
  EXPECT_EQ(o.failure, Failure::kUnsupported);
  EXPECT_NE(o.detail.find("restart"), std::string::npos) << o.detail;
  EXPECT_TRUE(NewActions().empty());

  const std::vector<driver::PoolSetting> pools = {
      {"stratum+tcp://canaan.example:3333", "farm.av1", "x"},
      {"stratum+tcp://backup.example:443", "farm.av1b", "x"},
      {"stratum+tcp://third.example:700", "farm.av1c", "x"}};
  o = driver_->SetPools(ctx, pools);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  Record r = Poll(classic_);
  ASSERT_EQ(r.pools.size(), pools.size());
  for (size_t i = 0; i < pools.size(); ++i) {
    EXPECT_EQ(r.pools[i].url, pools[i].url);
    EXPECT_EQ(r.pools[i].user, pools[i].user);
    EXPECT_EQ(r.pools[i].priority.value_or(static_cast<int32_t>(i)), static_cast<int32_t>(i));
  }
  EXPECT_TRUE(r.pools[0].active);
  for (const json& a : NewActions()) EXPECT_EQ(a["ip"], classic_) << a.dump();

  o = driver_->Restart(ctx);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(classic_, "restart", "");

  o = driver_->Sleep(ctx, true);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(classic_, "ascset", "0,softoff,1:", true);
  r = PollUntil(classic_, [](const Record& p) { return p.sleeping; });
  EXPECT_TRUE(r.sleeping);
  o = driver_->Sleep(ctx, false);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectAction(classic_, "ascset", "0,softon,1:", true);
  r = PollUntil(classic_, [](const Record& p) { return p.hashrate.value_or(0) > 0; });
  EXPECT_FALSE(r.sleeping);

  for (const json& a : ReadActionLog(log_)) EXPECT_EQ(a["ip"], classic_) << a.dump();
}

}  // namespace
}  // namespace asicmon
