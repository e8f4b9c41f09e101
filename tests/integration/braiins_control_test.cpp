// The braiins driver against the fake farm's Braiins OS miners over the
// public gRPC API: each action reaches exactly the miner it is for (the
// farm's action log) and reads back (ReadSettings, and a poll of the
// cgminer API where the firmware shows it there); a wrong password is
// refused at Login, nothing else sent; an action Braiins OS lacks, or a
// power target outside its range, is refused with nothing sent. Then the
// same through asicmon-control's REST API (BraiinsRestTest).
//
// Loopback range (see testlib.h): 127.67.0.0/16, one /24 per test (ctest
// runs the cases side by side): miners at 127.67.N.1-3.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "asicmon/driver.h"
#include "asicmon/poller.h"
#include "control_process.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::Http;
using asicmon::testing::HttpReply;
using asicmon::testing::ReadActionLog;
using asicmon::testing::StartFakeFarm;
using driver::Context;
using driver::Failure;
using namespace std::chrono_literals;

// Polls `done` every 100 ms for up to `bound`: the fake's ramps take a
// second or two; the bound only keeps a broken build from hanging.
bool Eventually(const std::function<bool()>& done, std::chrono::seconds bound = 20s) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

class BraiinsControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    driver_ = driver::FindDriver("braiins");
    ASSERT_NE(driver_, nullptr);
    record_.family = "braiins";
    record_.model = "Antminer S19 XP";
    options_.http_timeout = 5000ms;
    options_.http_write_timeout = 5000ms;
  }
  // Three Braiins OS miners at 127.67.<subnet>.1-3: target_ is the middle one.
  void StartFarm(int subnet) {
    net_ = "127.67." + std::to_string(subnet) + ".";
    target_ = net_ + "2";
    other_ = net_ + "3";
    log_path_ =
        (std::filesystem::temp_directory_path() /
         ("braiins_control_" + std::to_string(getpid()) + "_" + std::to_string(subnet) + ".log"))
            .string();
    std::filesystem::remove(log_path_);
    farm_ = StartFakeFarm({"--base",        net_ + "1",  "--count",        "3",
                           "--models",      "bos-s19xp", "--seed",         "7",
                           "--action-log",  log_path_,   "--power-ramp-s", "1",
                           "--wake-idle-s", "0",         "--wake-ramp-s",  "1",
                           "--reboot-s",    "1",         "--restart-s",    "1"});
  }
  void TearDown() override {
    if (!log_path_.empty()) std::filesystem::remove(log_path_);
  }

  Context Ctx(const std::string& ip, const driver::Credentials& credentials) const {
    return Context{ip, record_, options_, credentials};
  }
  Context Ctx(const std::string& ip) const { return Ctx(ip, stock_); }

  driver::Settings Read(const std::string& ip) const {
    auto settings = driver_->ReadSettings(Ctx(ip));
    EXPECT_OK(settings);
    return settings.ok() ? *settings : driver::Settings{};
  }
  Record Poll(const std::string& ip) const {
    return PollOnce({ip, kMinerApiPort}, "braiins", options_.api).record;
  }
  // The action log's commands, each "ip command parameter result".
  std::vector<std::string> Actions() const {
    std::vector<std::string> lines;
    for (const nlohmann::json& a : ReadActionLog(log_path_)) {
      EXPECT_EQ(a["port"], 50051);
      lines.push_back(a["ip"].get<std::string>() + " " + a["command"].get<std::string>() + " " +
                      a["parameter"].get<std::string>() + " " + a["result"].get<std::string>());
    }
    return lines;
  }

  std::string net_;     // "127.67.N."
  std::string target_;  // the miner acted on
  std::string other_;   // its neighbour, which nothing may reach
  std::string log_path_;
  testing::FakeFarm farm_;
  const driver::MinerDriver* driver_ = nullptr;
  Record record_;
  driver::DriverOptions options_;
  driver::Credentials stock_ = {"root", "root"};
};

TEST_F(BraiinsControlTest, StockCredentialsAreTheFirmwares) {
  EXPECT_EQ(driver_->StockCredentials().user, "root");
  EXPECT_EQ(driver_->StockCredentials().password, "root");
}

TEST_F(BraiinsControlTest, SleepAndWakeReachOnlyThatMinerAndReadBack) {
  StartFarm(1);
  const driver::Settings before = Read(target_);
  EXPECT_EQ(before.sleeping, false);

  const driver::Outcome slept = driver_->Sleep(Ctx(target_), true);
  ASSERT_TRUE(slept.ok()) << slept.step << ": " << slept.detail;
  EXPECT_EQ(slept.step, "grpc PauseMining");
  EXPECT_EQ(Read(target_).sleeping, true);
  EXPECT_EQ(Read(other_).sleeping, false);
  const Record asleep = Poll(target_);
  ASSERT_EQ(asleep.status, MinerStatus::kOk) << asleep.error;
  EXPECT_EQ(asleep.hashrate.value_or(-1), 0);

  const driver::Outcome woke = driver_->Sleep(Ctx(target_), false);
  ASSERT_TRUE(woke.ok()) << woke.step << ": " << woke.detail;
  EXPECT_EQ(Read(target_).sleeping, false);
  EXPECT_TRUE(Eventually([&] { return Poll(target_).hashrate.value_or(0) > 100e12; }));

  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " PauseMining  ok",
                                                 target_ + " ResumeMining  ok"}));
}

TEST_F(BraiinsControlTest, LocateTurnsTheLightOnAndOff) {
  StartFarm(2);
  EXPECT_EQ(Read(target_).locate_on, false);
  ASSERT_TRUE(driver_->Locate(Ctx(target_), true).ok());
  EXPECT_EQ(Read(target_).locate_on, true);
  EXPECT_EQ(Read(other_).locate_on, false);
  ASSERT_TRUE(driver_->Locate(Ctx(target_), false).ok());
  EXPECT_EQ(Read(target_).locate_on, false);
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " SetLocateDeviceStatus true ok",
                                                 target_ + " SetLocateDeviceStatus false ok"}));
}

TEST_F(BraiinsControlTest, PowerTargetMovesTheDrawAfterTheRamp) {
  StartFarm(3);
  const Record at_stock = Poll(target_);
  ASSERT_TRUE(at_stock.power_w.has_value());
  EXPECT_GT(*at_stock.power_w, 2800);

  const driver::Outcome set = driver_->SetPowerLimit(Ctx(target_), 1500);
  ASSERT_TRUE(set.ok()) << set.step << ": " << set.detail;
  EXPECT_EQ(Read(target_).power_limit_w, 1500);
  EXPECT_NE(Read(other_).power_limit_w, 1500);
  // The tuner's estimate follows over the ramp, the hashrate with it.
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.power_w && *r.power_w < 1600 && r.hashrate && *r.hashrate < 80e12;
  }));
  EXPECT_GT(Poll(other_).power_w.value_or(0), 2800);
  EXPECT_EQ(Actions(), std::vector<std::string>{target_ + " SetPowerTarget 1500 ok"});
}

TEST_F(BraiinsControlTest, PoolsReplaceTheListInPriorityOrder) {
  StartFarm(4);
  // Pool addresses from the data-only range (testlib.h): nothing contacts them.
  const std::vector<driver::PoolSetting> pools = {
      {"stratum+tcp://127.41.0.1:3333", "farm.first", "x"},
      {"stratum+tcp://127.41.0.2:3333", "farm.second", "x"}};
  const driver::Outcome set = driver_->SetPools(Ctx(target_), pools);
  ASSERT_TRUE(set.ok()) << set.step << ": " << set.detail;
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.pools.size() == 2 && r.pools[0].url == pools[0].url &&
           r.pools[0].user == "farm.first" && r.pools[1].url == pools[1].url &&
           r.pools[1].user == "farm.second";
  }));
  EXPECT_EQ(Actions(), std::vector<std::string>{
                           target_ + " SetPoolGroups stratum+tcp://127.41.0.1:3333,"
                                     "farm.first,stratum+tcp://127.41.0.2:3333,farm.second ok"});
}

TEST_F(BraiinsControlTest, RestartAndRebootComeBack) {
  StartFarm(5);
  ASSERT_TRUE(driver_->Restart(Ctx(target_)).ok());
  EXPECT_TRUE(Eventually([&] { return Poll(target_).status == MinerStatus::kOk; }));
  const driver::Outcome rebooted = driver_->Reboot(Ctx(target_));
  ASSERT_TRUE(rebooted.ok()) << rebooted.step << ": " << rebooted.detail;
  EXPECT_TRUE(Eventually([&] { return driver_->ReadSettings(Ctx(target_)).ok(); }));
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{target_ + " Restart  ok", target_ + " Reboot  ok"}));
}

TEST_F(BraiinsControlTest, WrongPasswordIsRefusedAtLoginWithNothingSent) {
  StartFarm(6);
  const driver::Credentials wrong = {"root", "not-the-password"};
  const driver::Outcome refused = driver_->Sleep(Ctx(target_, wrong), true);
  EXPECT_EQ(refused.failure, Failure::kCredentials);
  EXPECT_EQ(refused.step, "Login");
  EXPECT_NE(refused.detail.find("Bad credentials"), std::string::npos) << refused.detail;
  EXPECT_FALSE(driver_->ReadSettings(Ctx(target_, wrong)).ok());
  EXPECT_EQ(Read(target_).sleeping, false);
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " Login root denied",
                                                 target_ + " Login root denied"}));
}

TEST_F(BraiinsControlTest, UnsupportedActionsAreRefusedWithNothingSent) {
  StartFarm(7);
  const driver::Capabilities caps = driver_->Describe(record_);
  EXPECT_FALSE(caps.Supports(driver::Action::kPowerMode));
  EXPECT_TRUE(caps.Supports(driver::Action::kPowerLimit));
  ASSERT_TRUE(caps.power_limit.has_value());
  EXPECT_EQ(caps.power_limit->min_w, 100);
  EXPECT_EQ(caps.power_limit->max_w, 5000);

  const driver::Outcome mode = driver_->SetPowerMode(Ctx(target_), driver::PowerMode::kLow);
  EXPECT_EQ(mode.failure, Failure::kUnsupported);
  EXPECT_NE(mode.detail.find("power target"), std::string::npos) << mode.detail;
  const driver::Outcome too_low = driver_->SetPowerLimit(Ctx(target_), 50);
  EXPECT_EQ(too_low.failure, Failure::kRefused);
  EXPECT_TRUE(Actions().empty());
}

TEST_F(BraiinsControlTest, AMinerWithoutTheApiIsUnreachable) {
  StartFarm(8);
  // Nothing serves .9 of the farm's /24: the connection is refused.
  const driver::Outcome none = driver_->Locate(Ctx(net_ + "9"), true);
  EXPECT_EQ(none.failure, Failure::kUnreachable);
  EXPECT_EQ(none.step, "Login");
}

// asicmon-control acting on a Braiins OS miner through the braiins driver:
// the command identified by a live poll, confirmed by the driver's read-back.
class BraiinsRestTest : public BraiinsControlTest {
 protected:
  static constexpr const char* kToken = testing::ControlProcess::kToken;

  void SetUp() override {
    BraiinsControlTest::SetUp();
    control_ = std::make_unique<testing::ControlProcess>(
        "bosrest_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
  }
  void TearDown() override {
    control_.reset();
    BraiinsControlTest::TearDown();
  }

  void StartControl(std::vector<std::string> args = {}) {
    ASSERT_TRUE(control_->Start(std::move(args))) << control_->stderr_text();
  }
  std::string MinerUrl() {
    return control_->MinerUrl(target_, farm_.miners[target_]["worker"].get<std::string>());
  }

  std::unique_ptr<testing::ControlProcess> control_;
};

TEST_F(BraiinsRestTest, SleepWakeAndPowerLimitAreConfirmed) {
  StartFarm(20);
  StartControl();
  HttpReply slept = Http("POST", MinerUrl() + "/sleep", "", kToken);
  ASSERT_EQ(slept.status, 200) << slept.body;
  EXPECT_EQ(Read(target_).sleeping, true);
  HttpReply woke = Http("POST", MinerUrl() + "/wake", "", kToken);
  ASSERT_EQ(woke.status, 200) << woke.body;
  EXPECT_EQ(Read(target_).sleeping, false);
  HttpReply limited = Http("POST", MinerUrl() + "/power", R"({"limit_w": 2000})", kToken);
  ASSERT_EQ(limited.status, 200) << limited.body;
  EXPECT_EQ(Read(target_).power_limit_w, 2000);
  // Braiins OS has no power modes: refused before anything is sent.
  HttpReply mode = Http("POST", MinerUrl() + "/power", R"({"mode": "low"})", kToken);
  EXPECT_EQ(mode.status, 501) << mode.body;
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{target_ + " PauseMining  ok", target_ + " ResumeMining  ok",
                                      target_ + " SetPowerTarget 2000 ok"}));
}

TEST_F(BraiinsRestTest, WrongCredentialsAreABadGatewayNamingLogin) {
  StartFarm(21);
  const std::filesystem::path book = control_->WriteCredentials(
      R"([{"family": "braiins", "user": "root", "password": "not-root"}])");
  StartControl({"--credentials-file", book.string()});
  HttpReply refused = Http("POST", MinerUrl() + "/sleep", "", kToken);
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_EQ(refused.Json()["step"], "Login");
  EXPECT_NE(refused.Json()["detail"].get<std::string>().find("Bad credentials"), std::string::npos)
      << refused.body;
  EXPECT_EQ(control_->stderr_text().find("not-root"), std::string::npos) << "a password was logged";
  EXPECT_EQ(Actions(), std::vector<std::string>{target_ + " Login root denied"});
}

}  // namespace
}  // namespace asicmon
