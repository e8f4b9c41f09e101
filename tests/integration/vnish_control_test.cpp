// The vnish driver against the fake farm's Vnish S21 Pros over Vnish's HTTP
// API: each action reaches exactly the miner it is for (the farm's action
// log) and reads back (ReadSettings, and a poll of the cgminer API); a wrong
// password is refused at unlock with nothing else sent; a request without
// the bearer is 401; an action Vnish lacks is refused with nothing sent.
// Then the same through asicmon-control's REST API (VnishRestTest).
//
// One farm serves every test the process runs (each test acts on its own
// pair of miners; ctest runs each test alone, under LOCK): 127.96.0.1-20 (testlib.h). Run time:
// about 10 s.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "asicmon/driver.h"
#include "asicmon/poller.h"
#include "control_process.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::BinPath;
using asicmon::testing::Http;
using asicmon::testing::HttpReply;
using asicmon::testing::ReadActionLog;
using asicmon::testing::StartFakeFarm;
using asicmon::testing::Subprocess;
using driver::Context;
using driver::Failure;
using driver::PowerMode;
using namespace std::chrono_literals;

constexpr int kWebPort = 18096;
constexpr char kNet[] = "127.96.0.";

bool Eventually(const std::function<bool()>& done, std::chrono::seconds bound = 20s) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

class VnishControlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log_path_ = new std::string((std::filesystem::temp_directory_path() /
                                 ("vnish_control_" + std::to_string(getpid()) + ".log"))
                                    .string());
    std::filesystem::remove(*log_path_);
    farm_ = new testing::FakeFarm(StartFakeFarm({"--base",         std::string(kNet) + "1",
                                                 "--count",        "20",
                                                 "--models",       "vnish-s21pro",
                                                 "--seed",         "7",
                                                 "--http-port",    std::to_string(kWebPort),
                                                 "--action-log",   *log_path_,
                                                 "--power-ramp-s", "1",
                                                 "--wake-idle-s",  "0.5",
                                                 "--wake-ramp-s",  "1",
                                                 "--reboot-s",     "1",
                                                 "--restart-s",    "1"}));
  }
  static void TearDownTestSuite() {
    delete farm_;
    farm_ = nullptr;
    std::filesystem::remove(*log_path_);
    delete log_path_;
  }

  void SetUp() override {
    driver_ = driver::FindDriver("vnish");
    ASSERT_NE(driver_, nullptr);
    record_.family = "vnish";
    record_.model = "Antminer S21 Pro";
    record_.firmware = "Vnish 1.2.7";
    options_.http_port = kWebPort;
    options_.http_timeout = 5000ms;
    options_.http_write_timeout = 5000ms;
  }
  // The test's own pair: target_ is acted on, other_ must stay untouched.
  void Use(int first) {
    target_ = kNet + std::to_string(first);
    other_ = kNet + std::to_string(first + 1);
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
    return PollOnce({ip, kMinerApiPort}, "vnish", options_.api).record;
  }
  // The action log's lines for this test's two miners, "ip command parameter result".
  std::vector<std::string> Actions() const {
    std::vector<std::string> lines;
    for (const nlohmann::json& a : ReadActionLog(*log_path_)) {
      const std::string ip = a["ip"].get<std::string>();
      if (ip != target_ && ip != other_) continue;
      EXPECT_EQ(a["port"], kWebPort);
      lines.push_back(ip + " " + a["command"].get<std::string>() + " " +
                      a["parameter"].get<std::string>() + " " + a["result"].get<std::string>());
    }
    return lines;
  }

  static testing::FakeFarm* farm_;
  static std::string* log_path_;
  std::string target_;
  std::string other_;
  const driver::MinerDriver* driver_ = nullptr;
  Record record_;
  driver::DriverOptions options_;
  driver::Credentials stock_ = {"", "admin"};
};
testing::FakeFarm* VnishControlTest::farm_ = nullptr;
std::string* VnishControlTest::log_path_ = nullptr;

TEST_F(VnishControlTest, TheFarmReadsAsVnish) {
  Use(15);
  const Record r = Poll(target_);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "vnish");
  EXPECT_EQ(r.firmware, "Vnish 1.2.7");
  EXPECT_EQ(driver_->StockCredentials().password, "admin");
}

TEST_F(VnishControlTest, StopAndStartReachOnlyThatMinerAndReadBack) {
  Use(1);
  EXPECT_EQ(Read(target_).sleeping, false);
  const driver::Outcome slept = driver_->Sleep(Ctx(target_), true);
  ASSERT_TRUE(slept.ok()) << slept.step << ": " << slept.detail;
  EXPECT_EQ(slept.step, "POST /api/v1/mining/stop");
  EXPECT_EQ(Read(target_).sleeping, true);  // shutting down, then stopped
  EXPECT_EQ(Read(other_).sleeping, false);
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.status == MinerStatus::kOk && r.sleeping && r.hashrate.value_or(-1) == 0;
  }));
  const driver::Outcome woke = driver_->Sleep(Ctx(target_), false);
  ASSERT_TRUE(woke.ok()) << woke.step << ": " << woke.detail;
  EXPECT_EQ(Read(target_).sleeping, false);
  EXPECT_TRUE(Eventually([&] { return Poll(target_).hashrate.value_or(0) > 200e12; }));
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " mining/stop  ok",
                                                 target_ + " mining/start  ok"}));
}

TEST_F(VnishControlTest, LocateTogglesOnlyToChange) {
  Use(3);
  EXPECT_EQ(Read(target_).locate_on, false);
  ASSERT_TRUE(driver_->Locate(Ctx(target_), true).ok());
  EXPECT_EQ(Read(target_).locate_on, true);
  EXPECT_EQ(Read(other_).locate_on, false);
  // Already on: nothing is pressed.
  EXPECT_EQ(driver_->Locate(Ctx(target_), true).step, "find-miner (already so)");
  ASSERT_TRUE(driver_->Locate(Ctx(target_), false).ok());
  EXPECT_EQ(Read(target_).locate_on, false);
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " find-miner on ok",
                                                 target_ + " find-miner off ok"}));
}

TEST_F(VnishControlTest, PowerModesArePresetsThatMoveTheDraw) {
  Use(5);
  EXPECT_EQ(Read(target_).power_mode, PowerMode::kNormal);  // stock clocks
  EXPECT_GT(Poll(target_).power_w.value_or(0), 3400);
  const driver::Outcome low = driver_->SetPowerMode(Ctx(target_), PowerMode::kLow);
  ASSERT_TRUE(low.ok()) << low.step << ": " << low.detail;
  EXPECT_EQ(low.step, "settings preset 2550");
  EXPECT_EQ(Read(target_).power_mode, PowerMode::kLow);
  EXPECT_EQ(Read(other_).power_mode, PowerMode::kNormal);
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.power_w && *r.power_w < 2600 && r.hashrate && *r.hashrate < 180e12;
  }));
  ASSERT_TRUE(driver_->SetPowerMode(Ctx(target_), PowerMode::kHigh).ok());
  EXPECT_EQ(Read(target_).power_mode, PowerMode::kHigh);
  ASSERT_TRUE(driver_->SetPowerMode(Ctx(target_), PowerMode::kNormal).ok());
  EXPECT_EQ(Read(target_).power_mode, PowerMode::kNormal);
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " settings preset 2550 ok",
                                                 target_ + " settings preset 4690 ok",
                                                 target_ + " settings preset disabled ok"}));
}

TEST_F(VnishControlTest, PoolsReplaceTheListInPriorityOrder) {
  Use(7);
  // Pool addresses from the data-only range (testlib.h): nothing contacts them.
  const std::vector<driver::PoolSetting> pools = {
      {"stratum+tcp://127.41.0.1:3333", "farm.first", "x"},
      {"stratum+tcp://127.41.0.2:3333", "farm.second", "x"}};
  const driver::Outcome set = driver_->SetPools(Ctx(target_), pools);
  ASSERT_TRUE(set.ok()) << set.step << ": " << set.detail;
  // Vnish lists them without the scheme, its DevFee pool after them.
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.pools.size() >= 2 && r.pools[0].url.ends_with("127.41.0.1:3333") &&
           r.pools[0].user == "farm.first" && r.pools[1].url.ends_with("127.41.0.2:3333") &&
           r.pools[1].user == "farm.second";
  }));
  EXPECT_EQ(Actions(), std::vector<std::string>{
                           target_ + " settings pools stratum+tcp://127.41.0.1:3333,farm.first,x;"
                                     "stratum+tcp://127.41.0.2:3333,farm.second,x ok"});
}

TEST_F(VnishControlTest, RestartAndRebootComeBack) {
  Use(9);
  const driver::Outcome restarted = driver_->Restart(Ctx(target_));
  ASSERT_TRUE(restarted.ok()) << restarted.step << ": " << restarted.detail;
  EXPECT_TRUE(Eventually([&] {
    const Record r = Poll(target_);
    return r.status == MinerStatus::kOk && r.uptime_s.value_or(1'000'000) < 60;
  }));
  const driver::Outcome rebooted = driver_->Reboot(Ctx(target_));
  ASSERT_TRUE(rebooted.ok()) << rebooted.step << ": " << rebooted.detail;
  EXPECT_TRUE(Eventually([&] { return driver_->ReadSettings(Ctx(target_)).ok(); }));
  EXPECT_EQ(Actions(), (std::vector<std::string>{target_ + " mining/restart  ok",
                                                 target_ + " system/reboot  ok"}));
}

TEST_F(VnishControlTest, WrongPasswordIsRefusedAtUnlockWithNothingSent) {
  Use(11);
  const driver::Credentials wrong = {"", "not-admin"};
  const driver::Outcome refused = driver_->Sleep(Ctx(target_, wrong), true);
  EXPECT_EQ(refused.failure, Failure::kCredentials);
  EXPECT_EQ(refused.step, "unlock");
  EXPECT_NE(refused.detail.find("wrong password"), std::string::npos) << refused.detail;
  EXPECT_FALSE(driver_->ReadSettings(Ctx(target_, wrong)).ok());
  EXPECT_EQ(Read(target_).sleeping, false);
  // Without a bearer the firmware answers 401 and does nothing.
  const std::string api = "http://" + target_ + ":" + std::to_string(kWebPort) + "/api/v1/";
  EXPECT_EQ(Http("POST", api + "mining/stop").status, 401);
  EXPECT_EQ(Http("POST", api + "mining/stop", "", "made-up-token").status, 401);
  EXPECT_EQ(Read(target_).sleeping, false);
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{target_ + " unlock  denied", target_ + " unlock  denied"}));
}

// Wrong passwords in a row lock unlock out (Vnish's 429 with unlock_timeout):
// even the right password is refused then, and the driver says why.
TEST_F(VnishControlTest, WrongPasswordsInARowLockUnlockOut) {
  Use(20);
  const driver::Credentials wrong = {"", "not-admin"};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(driver_->Sleep(Ctx(target_, wrong), true).failure, Failure::kCredentials);
  }
  const driver::Outcome locked = driver_->Sleep(Ctx(target_, driver_->StockCredentials()), true);
  EXPECT_FALSE(locked.ok());
  EXPECT_EQ(locked.step, "unlock");
  EXPECT_NE(locked.detail.find("429"), std::string::npos) << locked.detail;
  // Read through the cgminer API: a read-back unlocks too, and is locked out.
  EXPECT_FALSE(driver_->ReadSettings(Ctx(target_)).ok());
  EXPECT_FALSE(Poll(target_).sleeping);
  const std::string api = "http://" + target_ + ":" + std::to_string(kWebPort) + "/api/v1/";
  const HttpReply again = Http("POST", api + "unlock", R"({"pw": "admin"})");
  EXPECT_EQ(again.status, 429);
  EXPECT_GT(again.Json()["unlock_timeout"].get<int>(), 0) << again.body;
}

TEST_F(VnishControlTest, UnsupportedActionsAreRefusedWithNothingSent) {
  Use(13);
  const driver::Capabilities caps = driver_->Describe(record_);
  EXPECT_FALSE(caps.Supports(driver::Action::kPowerLimit));
  const driver::Outcome limit = driver_->SetPowerLimit(Ctx(target_), 3000);
  EXPECT_EQ(limit.failure, Failure::kUnsupported);
  EXPECT_NE(limit.detail.find("presets"), std::string::npos) << limit.detail;
  // Vnish 3.x (the S9's) has no such API: control refuses every action
  // before the driver is called (Capabilities, 501).
  Record old = record_;
  old.firmware = "Vnish 3.8.6";
  EXPECT_TRUE(driver_->Describe(old).Names().empty());
  EXPECT_TRUE(Actions().empty());
}

// asicmon-control acting on a Vnish miner through the vnish driver: the
// command identified by a live poll, confirmed by the driver's read-back.
class VnishRestTest : public VnishControlTest {
 protected:
  static constexpr const char* kToken = testing::ControlProcess::kToken;

  void SetUp() override {
    VnishControlTest::SetUp();
    control_ = std::make_unique<testing::ControlProcess>(
        std::string("vnishrest_") +
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { control_.reset(); }

  void StartControl(std::vector<std::string> args = {}) {
    args.insert(args.end(), {"--miner-http-port", std::to_string(kWebPort)});
    ASSERT_TRUE(control_->Start(args)) << control_->stderr_text();
    base_ = control_->base();
  }
  std::string MinerUrl() {
    return control_->MinerUrl(target_, farm_->miners[target_]["worker"].get<std::string>());
  }

  std::unique_ptr<testing::ControlProcess> control_;
  std::string base_;
};

TEST_F(VnishRestTest, SleepWakeLocatePowerModeAndPoolsAreConfirmed) {
  Use(17);
  StartControl();
  const HttpReply miner = Http("GET", base_ + "/miners/" + target_, "", kToken);
  ASSERT_EQ(miner.status, 200) << miner.body;
  EXPECT_EQ(miner.Json()["actions"],
            nlohmann::json({"reset", "reboot", "pool", "locate", "sleep", "wake", "power_mode"}));
  const HttpReply slept = Http("POST", MinerUrl() + "/sleep", "", kToken);
  ASSERT_EQ(slept.status, 200) << slept.body;
  EXPECT_EQ(Read(target_).sleeping, true);
  const HttpReply woke = Http("POST", MinerUrl() + "/wake", "", kToken);
  ASSERT_EQ(woke.status, 200) << woke.body;
  EXPECT_EQ(Read(target_).sleeping, false);
  const HttpReply lit = Http("POST", MinerUrl() + "/locate", R"({"on": true})", kToken);
  ASSERT_EQ(lit.status, 200) << lit.body;
  EXPECT_EQ(lit.Json()["read_back"], true);
  const HttpReply low = Http("POST", MinerUrl() + "/power", R"({"mode": "low"})", kToken);
  ASSERT_EQ(low.status, 200) << low.body;
  EXPECT_EQ(Read(target_).power_mode, PowerMode::kLow);
  // Vnish has no power limit: refused before anything is sent.
  const HttpReply limit = Http("POST", MinerUrl() + "/power", R"({"limit_w": 3000})", kToken);
  EXPECT_EQ(limit.status, 501) << limit.body;
  // Pools read back as Vnish lists them (no scheme, its DevFee pool last) are confirmed.
  const HttpReply pools = Http(
      "POST", MinerUrl() + "/pool",
      R"({"pools": [{"url": "stratum+tcp://127.41.0.1:3333", "user": ")" +
          farm_->miners[target_]["worker"].get<std::string>() + R"(", "password": "x"}]})",
      kToken);
  ASSERT_EQ(pools.status, 200) << pools.body;
  EXPECT_EQ(Actions(),
            (std::vector<std::string>{
                target_ + " mining/stop  ok", target_ + " mining/start  ok",
                target_ + " find-miner on ok", target_ + " settings preset 2550 ok",
                target_ + " settings pools stratum+tcp://127.41.0.1:3333," +
                    farm_->miners[target_]["worker"].get<std::string>() + ",x ok"}));
}

TEST_F(VnishRestTest, WrongCredentialsAreABadGatewayNamingUnlock) {
  Use(19);
  StartControl({"--credentials-file",
                control_->WriteCredentials(R"([{"family": "vnish", "password": "not-admin"}])")
                    .string()});
  const HttpReply refused = Http("POST", MinerUrl() + "/sleep", "", kToken);
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_EQ(refused.Json()["step"], "unlock");
  EXPECT_EQ(control_->stderr_text().find("not-admin"), std::string::npos)
      << "a password was logged";
  EXPECT_EQ(Actions(), std::vector<std::string>{target_ + " unlock  denied"});
}

}  // namespace
}  // namespace asicmon
