// asicmon-control's REST API acting on Whatsminer (btminer API v2), LuxOS
// and Avalon miners of the fake farm through their family drivers: each
// command identified by a live poll, sent to that miner only, confirmed by
// read-back, and shown by GET /miners/{ip}; an action the firmware lacks is
// 501 with nothing sent; a wrong password is 502 naming the step, and the
// password stays out of control's log. (Braiins OS: braiins_control_test's
// BraiinsRestTest.)
//
// Loopback range (see testlib.h): 127.98.0.0/16, one /24 per test (ctest
// runs the cases side by side): the target at 127.98.N.1, its neighbour,
// which nothing may reach, at 127.98.N.2.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control_process.h"
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::ControlProcess;
using asicmon::testing::Http;
using asicmon::testing::HttpReply;
using asicmon::testing::ReadActionLog;
using asicmon::testing::StartFakeFarm;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kToken = ControlProcess::kToken;

// Polls `done` every 200 ms for up to 20 s: the fake's ramps take a second
// or two; the bound only keeps a broken build from hanging.
bool Eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return done();
}

// A sleep confirmed and shown: asleep, nothing hashing on any board.
void ExpectAsleep(const json& miner) {
  EXPECT_EQ(miner["sleeping"], true) << miner.dump();
  EXPECT_EQ(miner["hashrate"], 0.0);
  for (const json& b : miner["boards"]) EXPECT_EQ(b["hashrate"], 0.0) << b.dump();
}

class ControlRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    control_ = std::make_unique<ControlProcess>(
        "ctlrest_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    log_ = (control_->dir() / "actions.jsonl").string();
  }
  void TearDown() override { control_.reset(); }

  // Two miners of `models` at 127.98.<subnet>.1-2, firmware delays short.
  void StartFarm(int subnet, const std::string& models, std::vector<std::string> more = {}) {
    const std::string net = "127.98." + std::to_string(subnet) + ".";
    target_ = net + "1";
    other_ = net + "2";
    std::vector<std::string> args = {
        "--base",       target_, "--count",     "2", "--models",      models, "--seed",        "5",
        "--action-log", log_,    "--halt-s",    "1", "--wake-idle-s", "0",    "--wake-ramp-s", "1",
        "--reboot-s",   "1",     "--restart-s", "1"};
    args.insert(args.end(), more.begin(), more.end());
    farm_ = StartFakeFarm(args);
    ASSERT_EQ(farm_.miners.size(), 2u);
  }
  void StartControl(std::vector<std::string> args = {}) {
    ASSERT_TRUE(control_->Start(std::move(args))) << control_->stderr_text();
  }

  std::string Url(const std::string& action, const std::string& ip = "") {
    const std::string& miner = ip.empty() ? target_ : ip;
    return control_->MinerUrl(miner, farm_.miners[miner]["worker"].get<std::string>()) + "/" +
           action;
  }
  HttpReply Post(const std::string& action, const std::string& body = "") {
    return Http("POST", Url(action), body, kToken);
  }
  // GET /miners/{ip} of the target: its record and what it can do.
  json Miner() {
    const HttpReply got = Http("GET", control_->MinerInfoUrl(target_));
    EXPECT_EQ(got.status, 200) << got.body;
    return got.Json();
  }
  // Sleep, then wake, through control: each confirmed (200), and shown by
  // GET /miners/{ip} (asleep with nothing hashing, then awake).
  void SleepThenWake() {
    const HttpReply slept = Post("sleep");
    ASSERT_EQ(slept.status, 200) << slept.body;
    ExpectAsleep(Miner());
    const HttpReply woke = Post("wake");
    ASSERT_EQ(woke.status, 200) << woke.body;
    EXPECT_EQ(Miner()["sleeping"], false);
  }
  // "command parameter result" of each action logged, all the target's.
  std::vector<std::string> Actions() {
    std::vector<std::string> lines;
    for (const json& a : ReadActionLog(log_)) {
      EXPECT_EQ(a["ip"], target_) << a.dump();
      lines.push_back(a["command"].get<std::string>() + " " + a["parameter"].get<std::string>() +
                      " " + a["result"].get<std::string>());
    }
    return lines;
  }

  std::unique_ptr<ControlProcess> control_;
  asicmon::testing::FakeFarm farm_;
  std::string log_;
  std::string target_;
  std::string other_;
};

TEST_F(ControlRestTest, WhatsminerSleepWakePowerModeConfirmedAndShown) {
  StartFarm(1, "m31s");
  StartControl();
  const json before = Miner();
  EXPECT_EQ(before["family"], "whatsminer");
  EXPECT_EQ(before["actions"], (json{"reset", "reboot", "pool", "locate", "sleep", "wake",
                                     "power_mode", "power_limit"}));
  const double watts = before["power_w"].get<double>();

  // btminer answers power_off first and winds down after: control waits for it.
  const HttpReply slept = Post("sleep");
  ASSERT_EQ(slept.status, 200) << slept.body;
  ExpectAsleep(slept.Json()["record"]);
  ExpectAsleep(Miner());
  const HttpReply woke = Post("wake");
  ASSERT_EQ(woke.status, 200) << woke.body;
  EXPECT_EQ(Miner()["sleeping"], false);

  const HttpReply low = Post("power", R"({"mode": "low"})");
  ASSERT_EQ(low.status, 200) << low.body;
  EXPECT_EQ(low.Json()["mode"], "low");
  EXPECT_TRUE(Eventually([&] { return Miner()["power_w"].get<double>() < watts * 0.95; }));

  // Outside the range the driver gives: refused before anything is sent.
  EXPECT_EQ(Post("power", R"({"limit_w": 0})").status, 400);
  EXPECT_EQ(Actions(), (std::vector<std::string>{R"(power_off {"respbefore":"true"} ok)",
                                                 "power_on {} ok", "set_low_power {} ok"}));
}

TEST_F(ControlRestTest, WhatsminerWrongPasswordIsABadGatewayNamingTheStep) {
  StartFarm(2, "m31s");
  const std::filesystem::path book = control_->WriteCredentials(
      R"([{"family": "whatsminer", "user": "admin", "password": "not-the-admin"}])");
  StartControl({"--credentials-file", book.string()});
  const HttpReply refused = Post("sleep");
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_EQ(refused.Json()["step"], "power_off");
  EXPECT_NE(refused.Json()["detail"].get<std::string>().find("Code 23"), std::string::npos)
      << refused.body;
  EXPECT_EQ(control_->stderr_text().find("not-the-admin"), std::string::npos)
      << "a password was logged";
  EXPECT_EQ(Actions(), std::vector<std::string>{"enc  denied"});
  EXPECT_EQ(Miner()["sleeping"], false);
}

// Stock Bitmain firmware's low power mode, "miner-mode" 3 through the web
// UI, on the S21 that has it (read back as bitmain-work-mode "3"); the S19
// Pro has none: 501, nothing sent.
TEST_F(ControlRestTest, AntminerLowPowerModeWhereTheModelHasIt) {
  StartFarm(5, "s21,s19pro", {"--http-port", "8080"});
  StartControl({"--miner-http-port", "8080"});
  const json before = Miner();
  EXPECT_EQ(before["model"], "Antminer S21");
  const double rate = before["hashrate"].get<double>();
  const HttpReply low = Post("power", R"({"mode": "low"})");
  ASSERT_EQ(low.status, 200) << low.body;
  EXPECT_TRUE(Eventually([&] { return Miner()["hashrate"].get<double>() < rate * 0.9; }));
  const HttpReply normal = Post("power", R"({"mode": "normal"})");
  ASSERT_EQ(normal.status, 200) << normal.body;
  EXPECT_TRUE(Eventually([&] { return Miner()["hashrate"].get<double>() > rate * 0.95; }));

  const HttpReply none = Http("POST", Url("power", other_), R"({"mode": "low"})", kToken);
  EXPECT_EQ(none.status, 501) << none.body;
  std::vector<std::string> commands;
  for (const std::string& line : Actions()) commands.push_back(line.substr(0, line.find(' ')));
  EXPECT_EQ(commands,
            (std::vector<std::string>{"set_miner_conf", "low_power", "set_miner_conf", "wake"}));
}

// LuxOS: no password on its API (the session is not a login, luxos.cpp), so
// no wrong-credentials case; a session someone else holds is the refusal.
TEST_F(ControlRestTest, LuxosSleepWakePowerModeAndRefusals) {
  StartFarm(3, "luxos-s19");
  StartControl();
  const json before = Miner();
  EXPECT_EQ(before["family"], "luxos");
  EXPECT_EQ(before["actions"],
            (json{"reset", "reboot", "pool", "locate", "sleep", "wake", "power_mode"}));
  ASSERT_TRUE(before["power_w"].is_number()) << before.dump();
  const double watts = before["power_w"].get<double>();

  ASSERT_NO_FATAL_FAILURE(SleepThenWake());

  const HttpReply low = Post("power", R"({"mode": "low"})");
  ASSERT_EQ(low.status, 200) << low.body;
  EXPECT_TRUE(Eventually([&] {
    const json m = Miner();
    return m["power_w"].is_number() && m["power_w"].get<double>() < watts * 0.9;
  }));

  // LuxOS has no power limit: 501, nothing sent.
  const HttpReply limit = Post("power", R"({"limit_w": 2500})");
  EXPECT_EQ(limit.status, 501) << limit.body;
  const std::vector<std::string> acted = Actions();
  ASSERT_EQ(acted.size(), 6u) << json(acted).dump();
  EXPECT_TRUE(acted[0].starts_with("curtail ") && acted[0].ends_with(",sleep ok")) << acted[0];
  EXPECT_TRUE(acted[2].starts_with("curtail ") && acted[2].ends_with(",wakeup ok")) << acted[2];
  EXPECT_TRUE(acted[4].starts_with("profileset ")) << acted[4];
  for (size_t i : {1, 3, 5}) EXPECT_TRUE(acted[i].starts_with("logoff ")) << acted[i];

  // Another actor's open session: 409, the miner left as it is.
  const int fd = asicmon::testing::ConnectTcp(target_, 4028);
  ASSERT_GE(fd, 0);
  const std::string logon = R"({"command":"logon"})";
  ASSERT_EQ(send(fd, logon.data(), logon.size(), 0), static_cast<ssize_t>(logon.size()));
  char reply[512];
  EXPECT_GT(recv(fd, reply, sizeof reply, 0), 0);
  close(fd);
  const HttpReply busy = Post("sleep");
  EXPECT_EQ(busy.status, 409) << busy.body;
  EXPECT_EQ(Actions().size(), 6u);
  EXPECT_EQ(Miner()["sleeping"], false);
}

// Avalon: cgminer's API has no password either. The driver asks the
// soft-off and soft-on for now + 5 s (as pyasic and asic-rs do), so this
// test takes the longest.
TEST_F(ControlRestTest, AvalonQSleepWakeWorkModeAndWhatItLacks) {
  StartFarm(4, "avalonq");
  StartControl();
  const json before = Miner();
  EXPECT_EQ(before["family"], "avalon");
  EXPECT_EQ(before["actions"], (json{"reboot", "pool", "sleep", "wake", "power_mode"}));
  const double watts = before["power_w"].get<double>();

  // The Q takes softon without an answer: the driver counts it sent,
  // control confirms it by the miner working again.
  ASSERT_NO_FATAL_FAILURE(SleepThenWake());

  const HttpReply super = Post("power", R"({"mode": "high"})");
  ASSERT_EQ(super.status, 200) << super.body;
  // Its watts follow once the wake's ramp is over.
  EXPECT_TRUE(Eventually([&] { return Miner()["power_w"].get<double>() > watts * 1.2; }));

  // No LED option on the Q, no mining-software restart: 501, nothing sent.
  EXPECT_EQ(Post("locate", R"({"on": true})").status, 501);
  EXPECT_EQ(Post("reset").status, 501);
  const std::vector<std::string> acted = Actions();
  ASSERT_EQ(acted.size(), 3u) << json(acted).dump();
  EXPECT_TRUE(acted[0].starts_with("ascset 0,softoff,1:")) << acted[0];
  EXPECT_TRUE(acted[1].starts_with("ascset 0,softon,1:")) << acted[1];
  EXPECT_EQ(acted[2], "ascset 0,workmode,set,2 ok");
}

}  // namespace
}  // namespace asicmon
