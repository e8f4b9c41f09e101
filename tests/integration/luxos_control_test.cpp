// The LuxOS control driver against the fake farm's LuxOS S19s: each action
// reaches only the miner it names (the farm's action log), through a session
// opened and closed around it, and reads back as the firmware reports it.
// Loopback range: 127.93.0.0/16.
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

class LuxosControl : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = ::testing::TempDir() + "luxos-actions-" + std::to_string(getpid()) + ".jsonl";
    std::remove(log_.c_str());
    farm_ = StartFakeFarm({"--base",        "127.93.0.1", "--count",       "2",
                           "--models",      "luxos-s19",  "--seed",        "3",
                           "--action-log",  log_,         "--wake-idle-s", "0",
                           "--wake-ramp-s", "1",          "--reboot-s",    "1",
                           "--restart-s",   "1",          "--halt-s",      "1"});
    ASSERT_EQ(farm_.miners.size(), 2u);
    driver_ = driver::FindDriver("luxos");
    ASSERT_NE(driver_, nullptr);
    options_.api.deadline = 5s;
  }
  void TearDown() override { std::remove(log_.c_str()); }

  Record Poll() const { return PollOnce({kTarget, 4028}, "luxos", options_.api).record; }
  // Polls until `done` holds of the record, for at most 20 s; the last record.
  Record PollUntil(const std::function<bool(const Record&)>& done) const {
    Record r = Poll();
    for (int i = 0; i < 80 && !done(r); ++i) {
      std::this_thread::sleep_for(250ms);
      r = Poll();
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
  // `commands` reached the target, in that order, each taken.
  void ExpectActions(const std::vector<std::string>& commands) {
    const std::vector<json> got = NewActions();
    ASSERT_EQ(got.size(), commands.size()) << json(got).dump();
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i]["ip"], kTarget);
      EXPECT_EQ(got[i]["command"], commands[i]);
      EXPECT_EQ(got[i]["result"], "ok") << got[i].dump();
    }
  }

  static constexpr const char* kTarget = "127.93.0.1";
  std::string log_;
  asicmon::testing::FakeFarm farm_;
  const driver::MinerDriver* driver_ = nullptr;
  driver::DriverOptions options_;
  driver::Credentials credentials_ = {"root", "root"};
  size_t seen_ = 0;
};

TEST_F(LuxosControl, SleepWakeAndPowerModesReadBack) {
  const Record first = Poll();
  ASSERT_EQ(first.status, MinerStatus::kOk) << first.error;
  ASSERT_EQ(first.family, "luxos");
  ASSERT_TRUE(first.power_w.has_value());
  const double nominal_w = *first.power_w;
  const driver::Context ctx{kTarget, first, options_, credentials_};

  const driver::Capabilities caps = driver_->Describe(first);
  EXPECT_EQ(caps.Names(), (std::vector<std::string>{"reset", "reboot", "pool", "locate", "sleep",
                                                    "wake", "power_mode"}));

  auto settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->power_mode, PowerMode::kNormal);

  driver::Outcome o = driver_->Sleep(ctx, true);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"curtail", "logoff"});
  // Answered first, asleep once the boards are off (--halt-s).
  Record r = PollUntil([](const Record& p) { return p.sleeping && p.hashrate == 0.0; });
  EXPECT_TRUE(r.sleeping);
  EXPECT_EQ(r.hashrate, 0.0);
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->sleeping, true);
  // Curtail sleep turns the PSU off: the fake's power reads 0, which the
  // reader reports as no reading.
  EXPECT_EQ(r.power_w.value_or(0), 0.0);

  o = driver_->Sleep(ctx, false);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"curtail", "logoff"});
  r = PollUntil([&](const Record& p) { return p.power_w && *p.power_w > nominal_w * 0.97; });
  EXPECT_GT(r.hashrate.value_or(0), 0);

  o = driver_->SetPowerMode(ctx, PowerMode::kLow);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"profileset", "logoff"});
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->power_mode, PowerMode::kLow);
  // The watts ramp down to the low profile's, about four fifths of nominal.
  r = PollUntil([&](const Record& p) { return p.power_w && *p.power_w < nominal_w * 0.85; });
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, nominal_w * 0.8, nominal_w * 0.05);

  o = driver_->SetPowerMode(ctx, PowerMode::kHigh);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"profileset", "logoff"});
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->power_mode, PowerMode::kHigh);
  r = PollUntil([&](const Record& p) { return p.power_w && *p.power_w > nominal_w * 1.02; });
  EXPECT_GT(r.power_w.value_or(0), nominal_w);

  o = driver_->SetPowerMode(ctx, PowerMode::kNormal);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"profileset", "logoff"});
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->power_mode, PowerMode::kNormal);

  // The other miner heard none of it.
  for (const json& a : ReadActionLog(log_)) EXPECT_EQ(a["ip"], kTarget) << a.dump();
}

TEST_F(LuxosControl, PoolsLocateRestartAndReboot) {
  const Record first = Poll();
  ASSERT_EQ(first.status, MinerStatus::kOk) << first.error;
  const driver::Context ctx{kTarget, first, options_, credentials_};

  const std::vector<driver::PoolSetting> pools = {
      {"stratum+tcp://luxor.example:700", "farm.a1", "x"},
      {"stratum+tcp://backup.example:3333", "farm.b1", "y"}};
  driver::Outcome o = driver_->SetPools(ctx, pools);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  Record r = Poll();
  ASSERT_EQ(r.pools.size(), 2u);
  for (size_t i = 0; i < pools.size(); ++i) {
    EXPECT_EQ(r.pools[i].url, pools[i].url);
    EXPECT_EQ(r.pools[i].user, pools[i].user);
  }
  EXPECT_TRUE(r.pools[0].active);
  for (const json& a : NewActions()) {
    EXPECT_EQ(a["ip"], kTarget);
    EXPECT_EQ(a["result"], "ok") << a.dump();
  }
  // Asked again, the list is already so: nothing is sent.
  o = driver_->SetPools(ctx, pools);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  EXPECT_TRUE(NewActions().empty());

  o = driver_->Locate(ctx, true);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  {
    const std::vector<json> got = NewActions();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0]["command"], "ledset");
    EXPECT_TRUE(got[0]["parameter"].get<std::string>().ends_with(",red,blink")) << got[0];
  }
  auto settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok()) << settings.status().ToString();
  EXPECT_EQ(settings->locate_on, true);
  o = driver_->Locate(ctx, false);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"ledset", "logoff"});
  settings = driver_->ReadSettings(ctx);
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->locate_on, false);

  const int64_t uptime = first.uptime_s.value_or(0);
  o = driver_->Restart(ctx);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"resetminer"});
  r = PollUntil([&](const Record& p) {
    return p.status == MinerStatus::kOk && p.uptime_s && *p.uptime_s < uptime;
  });
  EXPECT_LT(r.uptime_s.value_or(uptime), uptime) << "the mining software started over";

  o = driver_->Reboot(ctx);
  ASSERT_TRUE(o.ok()) << o.step << ": " << o.detail;
  ExpectActions({"rebootdevice"});
  r = PollUntil([](const Record& p) { return p.status != MinerStatus::kOk; });
  EXPECT_NE(r.status, MinerStatus::kOk) << "down while rebooting";
  r = PollUntil([](const Record& p) { return p.status == MinerStatus::kOk; });
  EXPECT_EQ(r.status, MinerStatus::kOk) << "back from its reboot";

  for (const json& a : ReadActionLog(log_)) EXPECT_EQ(a["ip"], kTarget) << a.dump();
}

TEST_F(LuxosControl, RefusalsNameTheStepAndSendNothing) {
  const Record first = Poll();
  ASSERT_EQ(first.status, MinerStatus::kOk) << first.error;
  const driver::Context ctx{kTarget, first, options_, credentials_};

  // No power limit on LuxOS: refused before anything is sent.
  driver::Outcome o = driver_->SetPowerLimit(ctx, 2500);
  EXPECT_EQ(o.failure, Failure::kUnsupported);
  EXPECT_EQ(o.step, "power_limit");
  EXPECT_NE(o.detail.find("profile"), std::string::npos) << o.detail;
  EXPECT_TRUE(NewActions().empty());

  // Someone else's session is open: LuxOS allows one, so the driver stops at logon.
  const CommandResult other = RunCommand({kTarget, 4028}, "logon", "", options_.api);
  ASSERT_EQ(other.status, MinerStatus::kOk) << other.error;
  o = driver_->Sleep(ctx, true);
  EXPECT_EQ(o.failure, Failure::kConflict);
  EXPECT_EQ(o.step, "logon");
  EXPECT_TRUE(NewActions().empty());

  // A stale or wrong session id is refused as LUXminer refuses it; the miner
  // keeps hashing.
  const CommandResult stale =
      RunCommand({kTarget, 4028}, "curtail", "nosuchid,sleep", options_.api);
  EXPECT_EQ(stale.status, MinerStatus::kAuthError) << stale.reply_json;
  const std::vector<json> got = NewActions();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["result"], "denied");
  EXPECT_GT(Poll().hashrate.value_or(0), 0);

  // A pool field with a comma (the API's separator) never reaches the miner.
  const std::vector<driver::PoolSetting> comma = {{"stratum+tcp://a.example:1", "w,1", "x"}};
  o = driver_->SetPools(ctx, comma);
  EXPECT_EQ(o.failure, Failure::kRefused);
  EXPECT_EQ(o.step, "addpool");
  EXPECT_TRUE(NewActions().empty());
}

}  // namespace
}  // namespace asicmon
