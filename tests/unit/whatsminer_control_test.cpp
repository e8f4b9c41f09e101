// Whatsminer control: the token and cipher schemes (whatsminer_crypto.h)
// against known answers, and the fake Whatsminers' privileged API v2
// (testing/fakefarm/whatsminer_control.cpp) driven in-process with them.
//
// Known answers: md5-crypt's from glibc's md5c-test.c ("Hello world!" with
// "saltstring") and from `openssl passwd -1 -salt`, the reference the
// Whatsminer API V2.0.5 document gives for the key ("key = openssl passwd -1
// -salt $salt admin_password"); SHA-256 of "abc" (FIPS 180-2 B.1); AES-256
// FIPS-197 C.3; base64 RFC 4648 section 10; the v2 request and the v3 token
// computed with openssl enc and Python's hashlib from the same inputs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "asicmon/driver.h"
#include "asicmon/whatsminer_crypto.h"
#include "fake_miner.h"
#include "loopback_server.h"
#include "whatsminer_models.h"

namespace asicmon::driver::whatsminer {
namespace {

using nlohmann::json;

std::string Hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

TEST(WhatsminerCrypto, Md5CryptKnownAnswers) {
  EXPECT_EQ(Md5Crypt("Hello world!", "$1$saltstring"), "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1");
  EXPECT_EQ(Md5Crypt("admin", "5QAHiKMb"), "$1$5QAHiKMb$x5JSSQzqF0lEACIGSL0Ld1");
  EXPECT_EQ(Md5Crypt("", "abc"), "$1$abc$Or2rbeUYTvt12aiVzMuS/.");
  EXPECT_EQ(Md5CryptHash("admin", "5QAHiKMb"), "x5JSSQzqF0lEACIGSL0Ld1");
}

TEST(WhatsminerCrypto, DigestCipherAndBase64KnownAnswers) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string key = Unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const std::string block = Unhex("00112233445566778899aabbccddeeff");
  EXPECT_EQ(Hex(AesEcbEncrypt(key, block)), "8ea2b7ca516745bfeafc49904b496089");
  EXPECT_EQ(AesEcbDecrypt(key, AesEcbEncrypt(key, "short")), "short");  // NUL padding removed
  EXPECT_FALSE(AesEcbDecrypt(key,
                             "not whole blocks"
                             "!")
                   .has_value());
  EXPECT_FALSE(AesEcbDecrypt("short key", block).has_value());
  for (const auto& [plain, coded] : {std::pair{"", ""},
                                     {"f", "Zg=="},
                                     {"fo", "Zm8="},
                                     {"foo", "Zm9v"},
                                     {"foob", "Zm9vYg=="},
                                     {"fooba", "Zm9vYmE="},
                                     {"foobar", "Zm9vYmFy"}}) {
    EXPECT_EQ(Base64Encode(plain), coded);
    EXPECT_EQ(Base64Decode(coded), plain);
  }
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Z").has_value());
}

// get_token's time "0000", salt "5QAHiKMb", newsalt "kowEj187" (the values
// of Tether's firmware mock, mock/cmds/get_token.js) with password "admin".
TEST(WhatsminerCrypto, V2TokenAndSealedRequest) {
  const V2Token token = MakeV2Token("admin", "5QAHiKMb", "kowEj187", "0000");
  EXPECT_EQ(token.key, "x5JSSQzqF0lEACIGSL0Ld1");
  EXPECT_EQ(token.sign, "FuAsr25h02Hee7J8zszS71");
  const std::string request = R"({"cmd":"power_on","token":"FuAsr25h02Hee7J8zszS71"})";
  const std::string sealed = V2Seal(token, request);
  EXPECT_EQ(
      sealed,
      "aELwg5+iYcXf5Q3bJO25jCCydl4aK/Ls/0xqpi0d0D4k95iZ8T2e1aEZZK1aP5CZ2vooJvKMMHlIZcGVGmcKzA==");
  EXPECT_EQ(V2Open(token, sealed), request);
  const V2Token wrong = MakeV2Token("wrong", "5QAHiKMb", "kowEj187", "0000");
  EXPECT_NE(V2Open(wrong, sealed), request);
}

TEST(WhatsminerCrypto, V3TokenIsTheDigestsFirstEightBase64Characters) {
  const std::string digest = V3Digest("set.system.reboot", "super", "BQ5hoXV9", 1700000000);
  EXPECT_EQ(Hex(digest), "9ed82c30b4023915dd97660b7d9ae04d2e39875b789e84027dec2a02edf639b0");
  EXPECT_EQ(V3Token(digest), "ntgsMLQC");
}

}  // namespace
}  // namespace asicmon::driver::whatsminer

namespace asicmon::fakefarm {
namespace {

namespace wm = asicmon::driver::whatsminer;
using nlohmann::json;

constexpr double kNow = 1.7e9;

json Ask(FakeMiner& miner, const json& request, double now,
         std::vector<PrivilegedAction>* actions = nullptr) {
  fmt::memory_buffer out;
  miner.Handle(request.dump(), now, out, actions);
  std::string_view text(out.data(), out.size());
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  return json::parse(text);
}

// get_token, then `fields` signed and sealed with `password`'s key; the
// answer opened with that key when it is sealed.
json Privileged(FakeMiner& miner, json fields, double now, std::string_view password = "admin",
                std::vector<PrivilegedAction>* actions = nullptr) {
  const json token_reply = Ask(miner, {{"cmd", "get_token"}}, now);
  EXPECT_EQ(token_reply["STATUS"], "S");
  EXPECT_EQ(token_reply["Code"], 134);
  const json& msg = token_reply["Msg"];
  const wm::V2Token token =
      wm::MakeV2Token(password, msg["salt"].get<std::string>(), msg["newsalt"].get<std::string>(),
                      msg["time"].get<std::string>());
  fields["token"] = token.sign;
  const json reply =
      Ask(miner, {{"enc", 1}, {"data", wm::V2Seal(token, fields.dump())}}, now, actions);
  if (!reply.contains("enc")) return reply;
  const auto opened = wm::V2Open(token, reply["enc"].get<std::string>());
  EXPECT_TRUE(opened.has_value());
  return opened ? json::parse(*opened) : json();
}

FakeMiner Miner(ModelId model) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 3;
  spec.ip = 0x0A000204;
  spec.wake_idle_s = 5;
  spec.halt_s = 3;
  spec.wake_ramp_s = 10;
  return FakeMiner(spec, kNow);
}

json SummaryRow(FakeMiner& miner, double now) {
  return Ask(miner, {{"command", "summary"}}, now)["SUMMARY"][0];
}

TEST(FakeWhatsminerControl, WrongPasswordIsRefusedInClearAndChangesNothing) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM31S);
  std::vector<PrivilegedAction> actions;
  const json reply = Privileged(miner, {{"cmd", "power_off"}, {"respbefore", "true"}}, kNow,
                                "not-admin", &actions);
  EXPECT_EQ(reply["STATUS"], "E");
  EXPECT_EQ(reply["Code"], 23);
  EXPECT_EQ(reply["Msg"], "json cmd err");
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].result, ActionResult::kDenied);
  EXPECT_FALSE(miner.sleeping());
}

TEST(FakeWhatsminerControl, AStaleOrForeignTokenIsRefused) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM31S);
  const json token_reply = Ask(miner, {{"cmd", "get_token"}}, kNow);
  const json& msg = token_reply["Msg"];
  // The right key, a sign made for another time.
  const wm::V2Token token = wm::MakeV2Token("admin", msg["salt"].get<std::string>(),
                                            msg["newsalt"].get<std::string>(), "9999");
  const json reply =
      Ask(miner,
          {{"enc", 1},
           {"data", wm::V2Seal(token, json{{"cmd", "power_on"}, {"token", token.sign}}.dump())}},
          kNow);
  EXPECT_EQ(reply["Code"], 135);
  EXPECT_EQ(reply["Msg"], "check token err");
}

// respbefore: the answer first, the boards winding down for halt_s after.
TEST(FakeWhatsminerControl, PowerOffAnswersThenStopsHashingAndStatusSaysSo) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM31S);
  const json reply = Privileged(miner, {{"cmd", "power_off"}, {"respbefore", "true"}}, kNow);
  EXPECT_EQ(reply["STATUS"], "S");
  EXPECT_EQ(reply["Code"], 131);
  EXPECT_EQ(Ask(miner, {{"cmd", "status"}}, kNow + 1)["Msg"]["btmineroff"], "false");
  EXPECT_GT(SummaryRow(miner, kNow + 1)["MHS 5s"].get<double>(), 0);
  EXPECT_EQ(Ask(miner, {{"cmd", "status"}}, kNow + 4)["Msg"]["btmineroff"], "true");
  EXPECT_EQ(SummaryRow(miner, kNow + 4)["MHS av"], 0.0);
  EXPECT_EQ(Privileged(miner, {{"cmd", "power_on"}}, kNow + 5)["STATUS"], "S");
  EXPECT_EQ(Ask(miner, {{"cmd", "status"}}, kNow + 6)["Msg"]["btmineroff"], "false");
  // A power_on before the boards are down cancels the power_off.
  Privileged(miner, {{"cmd", "power_off"}, {"respbefore", "true"}}, kNow + 7);
  Privileged(miner, {{"cmd", "power_on"}}, kNow + 8);
  EXPECT_EQ(Ask(miner, {{"cmd", "status"}}, kNow + 12)["Msg"]["btmineroff"], "false");
  // Hashing again once the boards are up (wake_idle_s + wake_ramp_s).
  EXPECT_GT(SummaryRow(miner, kNow + 30)["MHS av"].get<double>(), 0);
}

TEST(FakeWhatsminerControl, PowerModeMovesWattsAfterTheRetune) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM60S);
  const json before = SummaryRow(miner, kNow);
  EXPECT_EQ(before["Power Mode"], "Normal");
  EXPECT_EQ(Privileged(miner, {{"cmd", "set_low_power"}}, kNow)["STATUS"], "S");
  // The farm drops that answer and holds the connection: btminer gives none.
  EXPECT_EQ(miner.TakeEffect(), ApiEffect::kSilence);
  const json retuning = SummaryRow(miner, kNow + 1);
  EXPECT_EQ(retuning["Power Mode"], "Low");  // the setting at once
  const double watts = before["Power"].get<double>();
  // The boards not yet: the same draw but for the 2 % noise of the hashrate.
  EXPECT_NEAR(retuning["Power"].get<double>(), watts, watts * 0.05);
  const json after = SummaryRow(miner, kNow + 10);
  EXPECT_LT(after["Power"].get<double>(), watts * 0.9);
  EXPECT_LT(after["HS RT"].get<double>(), before["HS RT"].get<double>() * 0.9);
  EXPECT_EQ(Ask(miner, {{"cmd", "status"}}, kNow + 10)["Msg"]["power_mode"], "low");
}

TEST(FakeWhatsminerControl, PowerLimitCapsWattsAndRebootsTheMiner) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM60S);
  EXPECT_EQ(
      Privileged(miner, {{"cmd", "adjust_power_limit"}, {"power_limit", "2500"}}, kNow)["STATUS"],
      "S");
  EXPECT_EQ(miner.TakeEffect(), ApiEffect::kReboot);
  const json row = SummaryRow(miner, kNow + 10);
  EXPECT_EQ(row["Power Limit"], 2500);
  EXPECT_LE(row["Power"].get<int>(), 2500);
  // Not above the machine's own: it keeps the lower.
  EXPECT_EQ(Privileged(miner, {{"cmd", "adjust_power_limit"}, {"power_limit", "9000"}},
                       kNow + 20)["STATUS"],
            "S");
  EXPECT_EQ(SummaryRow(miner, kNow + 30)["Power Limit"], 3600);
  EXPECT_EQ(
      Privileged(miner, {{"cmd", "adjust_power_limit"}, {"power_limit", "-5"}}, kNow + 40)["Code"],
      132);
}

TEST(FakeWhatsminerControl, PoolsLedRestartAndUnknownCommands) {
  FakeMiner miner = Miner(ModelId::kWhatsminerM60S);
  const json pools = {{"cmd", "update_pools"}, {"pool1", "stratum+tcp://new.example:3333"},
                      {"worker1", "farm.x"},   {"passwd1", "y"},
                      {"pool2", ""},           {"worker2", ""},
                      {"passwd2", ""},         {"pool3", ""},
                      {"worker3", ""},         {"passwd3", ""}};
  EXPECT_EQ(Privileged(miner, pools, kNow)["STATUS"], "S");
  ASSERT_EQ(miner.PoolsByPriority().size(), 1u);
  EXPECT_EQ(miner.PoolsByPriority()[0].url, "stratum+tcp://new.example:3333");
  EXPECT_EQ(miner.worker(), "farm.x");

  EXPECT_EQ(
      Privileged(
          miner,
          {{"cmd", "set_led"}, {"color", "red"}, {"period", 1000}, {"duration", 500}, {"start", 0}},
          kNow)["STATUS"],
      "S");
  EXPECT_TRUE(miner.blinking());
  EXPECT_EQ(Ask(miner, {{"cmd", "get_miner_info"}}, kNow)["Msg"]["ledstat"], "manual");
  EXPECT_EQ(Privileged(miner, {{"cmd", "set_led"}, {"param", "auto"}}, kNow)["STATUS"], "S");
  EXPECT_EQ(Ask(miner, {{"cmd", "get_miner_info"}}, kNow)["Msg"]["ledstat"], "auto");

  EXPECT_EQ(Privileged(miner, {{"cmd", "restart_btminer"}}, kNow)["STATUS"], "S");
  EXPECT_EQ(miner.TakeEffect(), ApiEffect::kRestart);
  EXPECT_EQ(miner.TakeEffect(), ApiEffect::kNone);
  EXPECT_EQ(Privileged(miner, {{"cmd", "no_such_thing"}}, kNow)["Code"], 14);
}

}  // namespace
}  // namespace asicmon::fakefarm

// The drivers against hostile or refusing answers, served on 127.82.0.0/16.
namespace asicmon::driver {
namespace {

using namespace std::string_literals;
using asicmon::testing::LoopbackServer;
using asicmon::testing::SendAll;
using nlohmann::json;

constexpr std::string_view kToken =
    R"({"STATUS":"S","When":1,"Code":134,"Msg":{"time":"0000","salt":"5QAHiKMb","newsalt":"kowEj187"},"Description":""})";

struct Case {
  std::string name;
  std::string token_reply;    // to {"cmd":"get_token"}
  std::string command_reply;  // to the encrypted command
  Failure failure;
  std::string step;
};

TEST(WhatsminerDriver, RefusalsAndHostileAnswersAreClearFailures) {
  const whatsminer::V2Token token =
      whatsminer::MakeV2Token("admin", "5QAHiKMb", "kowEj187", "0000");
  const std::string sealed_refusal =
      json{{"enc",
            whatsminer::V2Seal(token, R"({"STATUS":"E","When":1,"Code":132,"Msg":"no pool"})")}}
          .dump();
  const std::vector<Case> cases = {
      {"token not JSON", "\x01\x02garbage", "", Failure::kBadReply, "get_token"},
      {"token without salt", R"({"STATUS":"S","Code":134,"Msg":{"time":"1"}})", "",
       Failure::kBadReply, "get_token"},
      {"token over max times", R"({"STATUS":"E","Code":136,"Msg":"token over max times"})", "",
       Failure::kRefused, "get_token"},
      {"write API off", std::string(kToken),
       R"({"STATUS":"E","When":1,"Code":45,"Msg":"permission denied","Description":""})",
       Failure::kConflict, "power_on"},
      {"check token error", std::string(kToken),
       R"({"STATUS":"E","When":1,"Code":135,"Msg":"check token err","Description":""})",
       Failure::kCredentials, "power_on"},
      {"answer not sealed with our key", std::string(kToken),
       R"({"enc":"AAAAAAAAAAAAAAAAAAAAAA=="})", Failure::kCredentials, "power_on"},
      {"answer not base64", std::string(kToken), R"({"enc":"!!!"})", Failure::kCredentials,
       "power_on"},
      {"sealed refusal", std::string(kToken), sealed_refusal, Failure::kRefused, "power_on"},
      {"closed without an answer", std::string(kToken), "", Failure::kBadReply, "power_on"},
  };
  const MinerDriver* driver = FindDriver("whatsminer");
  ASSERT_NE(driver, nullptr);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    LoopbackServer server("127.82.0.1", [&](int fd, const std::string& request) {
      SendAll(fd, request.find("get_token") != std::string::npos ? c.token_reply : c.command_reply);
    });
    Record record;
    DriverOptions options;
    options.api.deadline = std::chrono::milliseconds(2000);
    const Credentials credentials{"admin", "admin"};
    const Outcome outcome = driver->Sleep({"127.82.0.1", record, options, credentials}, false);
    EXPECT_EQ(outcome.failure, c.failure) << outcome.detail;
    EXPECT_EQ(outcome.step, c.step);
  }
}

TEST(WhatsminerDriver, RebootTakenWhenTheMinerClosesWithoutAnAnswer) {
  LoopbackServer server("127.82.0.2", [&](int fd, const std::string& request) {
    if (request.find("get_token") != std::string::npos) SendAll(fd, kToken);
  });
  Record record;
  DriverOptions options;
  const Credentials credentials{"admin", "admin"};
  const Outcome outcome =
      FindDriver("whatsminer")->Reboot({"127.82.0.2", record, options, credentials});
  EXPECT_TRUE(outcome.ok()) << outcome.step << ": " << outcome.detail;
}

TEST(Whatsminer3Driver, AnAnswerWithoutSaltOrFramingIsABadReply) {
  const MinerDriver* driver = FindDriver("whatsminer3");
  ASSERT_NE(driver, nullptr);
  for (const std::string& answer : {"\x05\0\0\0{}"s, "\xff\xff\xff\x7f{"s}) {
    LoopbackServer server(
        "127.82.0.3", [&](int fd, const std::string&) { SendAll(fd, answer); }, 64,
        kWhatsminerV3Port);
    Record record;
    DriverOptions options;
    options.api.deadline = std::chrono::milliseconds(2000);
    const Credentials credentials{"super", "super"};
    const Outcome outcome = driver->Reboot({"127.82.0.3", record, options, credentials});
    EXPECT_FALSE(outcome.ok());
    EXPECT_EQ(outcome.step, "get.device.info");
  }
}

}  // namespace
}  // namespace asicmon::driver
