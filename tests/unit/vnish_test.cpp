// Vnish: what the vnish driver builds and reads of Vnish's HTTP API, against
// the S21 Pro's captured replies (tests/data/vnish-s21pro-web-*.json), and
// the fake farm's Vnish S21 Pro against the captures of its cgminer API.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "asicmon/driver.h"
#include "fake_miner.h"
#include "normalise.h"
#include "testlib.h"
#include "vnish_api.h"

namespace asicmon {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using testing::ReadFixture;
namespace vnish = driver::vnish;
using driver::PowerMode;

std::vector<vnish::Preset> CapturedPresets() {
  auto presets = vnish::ParsePresets(ReadFixture("vnish-s21pro-web-autotune-presets.json"));
  EXPECT_TRUE(presets.has_value());
  return presets.value_or(std::vector<vnish::Preset>{});
}

TEST(VnishDriver, ModesMapOntoTheCapturedPresets) {
  const std::vector<vnish::Preset> presets = CapturedPresets();
  ASSERT_EQ(presets.size(), 26u);  // "disabled" and 25 watt presets
  EXPECT_EQ(presets[0].name, "disabled");
  EXPECT_EQ(presets[0].watts, 0);
  EXPECT_EQ(presets[1].watts, 2550);
  EXPECT_EQ(vnish::PresetFor(PowerMode::kNormal, presets), "disabled");
  EXPECT_EQ(vnish::PresetFor(PowerMode::kLow, presets), "2550");
  EXPECT_EQ(vnish::PresetFor(PowerMode::kHigh, presets), "4690");
  EXPECT_EQ(vnish::ModeOf("disabled", presets), PowerMode::kNormal);
  EXPECT_EQ(vnish::ModeOf("2550", presets), PowerMode::kLow);
  EXPECT_EQ(vnish::ModeOf("4690", presets), PowerMode::kHigh);
  // The captured miner runs 3160 W: none of the three modes.
  const std::string settings = ReadFixture("vnish-s21pro-web-settings.json");
  EXPECT_EQ(vnish::PresetOf(settings), "3160");
  EXPECT_EQ(vnish::ModeOf("3160", presets), std::nullopt);
}

TEST(VnishDriver, HighSkipsPresetsThatNeedAModdedPsu) {
  const auto presets = vnish::ParsePresets(
      R"([{"name":"disabled","modded_psu_required":false},{"name":"3000"},)"
      R"({"name":"3500","modded_psu_required":false},{"name":"4000","modded_psu_required":true},)"
      R"({"name":"oops"},{"pretty":"no name"},7])");
  ASSERT_TRUE(presets.has_value());
  EXPECT_EQ(vnish::PresetFor(PowerMode::kHigh, *presets), "3500");
  EXPECT_EQ(vnish::PresetFor(PowerMode::kLow, *presets), "3000");
  // No stock preset listed: no normal mode to offer.
  const auto bare = vnish::ParsePresets(R"([{"name":"3000"}])");
  EXPECT_EQ(vnish::PresetFor(PowerMode::kNormal, *bare), "");
  EXPECT_FALSE(vnish::ParsePresets(R"({"presets":[]})").has_value());
  EXPECT_FALSE(vnish::ParsePresets("not json").has_value());
}

TEST(VnishDriver, PresetBodyCarriesTheCapturedOverclock) {
  const std::string body = vnish::PresetBody(ReadFixture("vnish-s21pro-web-settings.json"), "2550");
  const json sent = json::parse(body);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent["miner"].size(), 1u);  // only the overclock is written
  const json& overclock = sent["miner"]["overclock"];
  EXPECT_EQ(overclock["preset"], "2550");
  EXPECT_EQ(overclock["globals"], json({{"volt", 1270}, {"freq", 555}}));
  EXPECT_EQ(overclock["chains"].size(), 3u);
  EXPECT_EQ(overclock["preset_switcher"]["top_preset"], "4690");
  EXPECT_EQ(vnish::PresetBody(R"({"miner":{}})", "2550"), "");
  EXPECT_EQ(vnish::PresetBody("[]", "2550"), "");
}

TEST(VnishDriver, PoolsFillTheThreeSlotsInOrder) {
  const std::vector<driver::PoolSetting> pools = {{"stratum+tcp://a.example:3333", "w.1", "x"},
                                                  {"stratum+tcp://b.example:443", "w.2", "y"}};
  const json sent = json::parse(vnish::PoolsBody(pools));
  EXPECT_EQ(sent, json::parse(R"({"miner":{"pools":[
      {"url":"stratum+tcp://a.example:3333","user":"w.1","pass":"x"},
      {"url":"stratum+tcp://b.example:443","user":"w.2","pass":"y"},
      {"url":"","user":"","pass":""}]}})"));
}

TEST(VnishDriver, UnlockAndItsToken) {
  EXPECT_EQ(vnish::UnlockBody("admin"), R"({"pw":"admin"})");
  // Bytes that are not UTF-8 are replaced, not thrown on.
  EXPECT_EQ(json::parse(vnish::UnlockBody("a\xff"))["pw"], "a\xEF\xBF\xBD");
  EXPECT_EQ(vnish::TokenOf(R"({"token":"eyJhbGciOi"})"), "eyJhbGciOi");
  EXPECT_EQ(vnish::TokenOf(R"({"token":""})"), std::nullopt);
  EXPECT_EQ(vnish::TokenOf(R"({"token":7})"), std::nullopt);
  EXPECT_EQ(vnish::TokenOf(R"({"unlock_timeout":null})"), std::nullopt);
  EXPECT_EQ(vnish::TokenOf("<html>"), std::nullopt);
  EXPECT_TRUE(vnish::RestartRequired(R"({"restart_required":true,"reboot_required":false})"));
  EXPECT_FALSE(vnish::RestartRequired(R"({"restart_required":false,"reboot_required":false})"));
  EXPECT_FALSE(vnish::RestartRequired(""));
}

TEST(VnishDriver, StatusSaysAsleepAndTheLight) {
  driver::Settings s;
  vnish::ReadStatus(R"({"miner_state":"stopped","miner_state_time":0,"find_miner":true})", s);
  EXPECT_EQ(s.sleeping, true);
  EXPECT_EQ(s.locate_on, true);
  for (const char* awake : {"mining", "auto-tuning", "initializing", "starting", "restarting"}) {
    driver::Settings a;
    vnish::ReadStatus(json({{"miner_state", awake}, {"find_miner", false}}).dump(), a);
    EXPECT_EQ(a.sleeping, false) << awake;
    EXPECT_EQ(a.locate_on, false);
  }
  // A failure is neither; hostile bodies report nothing.
  for (const char* body : {R"({"miner_state":"failure"})", R"({"miner_state":1})", "[]", ""}) {
    driver::Settings n;
    vnish::ReadStatus(body, n);
    EXPECT_FALSE(n.sleeping.has_value()) << body;
    EXPECT_FALSE(n.locate_on.has_value()) << body;
  }
  EXPECT_EQ(vnish::FindMinerOn(R"({"on":false})"), false);
  EXPECT_EQ(vnish::FindMinerOn("null"), std::nullopt);
}

TEST(VnishDriver, DescribesVnishOneAndRefusesTheOldLine) {
  const driver::MinerDriver* d = driver::FindDriver("vnish");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->StockCredentials().password, "admin");
  Record s21;
  s21.family = "vnish";
  s21.model = "Antminer S21 Pro";
  s21.firmware = "Vnish 1.2.7";
  const driver::Capabilities caps = d->Describe(s21);
  EXPECT_EQ(caps.Names(), (std::vector<std::string>{"reset", "reboot", "pool", "locate", "sleep",
                                                    "wake", "power_mode"}));
  EXPECT_EQ(caps.power_modes,
            (std::vector<PowerMode>{PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh}));
  Record s9 = s21;
  s9.model = "Antminer S9";
  s9.firmware = "Vnish 3.8.6";
  const driver::Capabilities old = d->Describe(s9);
  EXPECT_TRUE(old.Names().empty());
  EXPECT_NE(old.unsupported.at(driver::Action::kSleep).find("Vnish 3.8.6"), std::string::npos);
  EXPECT_TRUE(vnish::HasApi("Vnish 1.3.4"));
  EXPECT_FALSE(vnish::HasApi("Vnish 3.8.6"));
  EXPECT_FALSE(vnish::HasApi("Vnish"));
}

// The fake Vnish S21 Pro.
namespace ff = fakefarm;
constexpr double kNow = 1.7e9;

ff::FakeMinerSpec Spec() {
  ff::FakeMinerSpec spec;
  spec.model = ff::ModelId::kVnishS21Pro;
  spec.index = 1;
  spec.wake_idle_s = 1;
  spec.wake_ramp_s = 2;
  spec.power_ramp_s = 4;
  return spec;
}

ordered_json Parse(std::string text) {
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return ordered_json::parse(text);
}

void CollectKeys(const ordered_json& j, std::vector<std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.push_back(key);
      CollectKeys(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) CollectKeys(value, out);
  }
}

std::vector<std::string> KeysOf(const ordered_json& j) {
  std::vector<std::string> keys;
  CollectKeys(j, keys);
  return keys;
}

Record Poll(ff::FakeMiner& miner, double at) {
  Record r;
  NormaliseRawReply(miner.Handle(R"({"command":"summary+stats+pools"})", at), r);
  return r;
}

TEST(FakeVnish, EveryCommandHasTheKeysOfItsCapture) {
  ff::FakeMiner miner(Spec(), kNow);
  // Two pools, as the captured miner has, and Vnish's DevFee after them.
  miner.Reconfigure({{"stratum+tcp://pool-a.example:3333", "farm.a", "x"},
                     {"stratum+tcp://pool-b.example:3333", "farm.b", "x"}},
                    kNow);
  const std::pair<const char*, const char*> cases[] = {
      {"summary", "vnish-s21pro-summary.json"}, {"stats", "vnish-s21pro-stats.json"},
      {"pools", "vnish-s21pro-pools.json"},     {"devdetails", "vnish-s21pro-devdetails.json"},
      {"version", "vnish-s21pro-version.json"},
  };
  for (const auto& [command, fixture] : cases) {
    SCOPED_TRACE(command);
    const std::string raw = miner.Handle(fmt::format(R"({{"command":"{}"}})", command), kNow + 5);
    EXPECT_EQ(KeysOf(Parse(raw)), KeysOf(Parse(ReadFixture(fixture))));
  }
  const ordered_json pools = Parse(miner.Handle(R"({"command":"pools"})", kNow + 5));
  EXPECT_EQ(pools["POOLS"][0]["URL"], "pool-a.example:3333");  // no scheme, as captured
  EXPECT_EQ(pools["POOLS"][2]["URL"], "DevFee");
}

TEST(FakeVnish, ReadsAsVnishAndStopsAndPresetsShow) {
  ff::FakeMiner miner(Spec(), kNow);
  const Record r = Poll(miner, kNow + 1);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "vnish");
  EXPECT_EQ(r.model, "Antminer S21 Pro");
  EXPECT_EQ(r.firmware, "Vnish 1.2.7");
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3510, 2);  // stock clocks
  EXPECT_NEAR(r.hashrate.value_or(0), 234e12, 234e12 * 0.03);

  // A preset moves the draw and the hashrate over the power ramp.
  EXPECT_FALSE(miner.VnishSetPreset("1234", kNow + 2));
  ASSERT_TRUE(miner.VnishSetPreset("2550", kNow + 2));
  EXPECT_EQ(miner.VnishPresetName(), "2550");
  EXPECT_EQ(miner.VnishState(kNow + 3), "auto-tuning");
  const Record halfway = Poll(miner, kNow + 4);
  EXPECT_NEAR(halfway.power_w.value_or(0), (3510 + 2550) / 2.0, 3);
  const Record low = Poll(miner, kNow + 7);
  EXPECT_NEAR(low.power_w.value_or(0), 2550, 2);
  EXPECT_NEAR(low.hashrate.value_or(0), 170e12, 170e12 * 0.03);
  EXPECT_EQ(miner.VnishState(kNow + 7), "mining");

  // Stop: it shuts down (still hashing) for the wake idle, then stops.
  miner.VnishStop(kNow + 10);
  EXPECT_EQ(miner.VnishState(kNow + 10.5), "shutting-down");
  EXPECT_GT(Poll(miner, kNow + 10.5).hashrate.value_or(0), 0);
  const Record stopped = Poll(miner, kNow + 12);
  EXPECT_EQ(miner.VnishState(kNow + 12), "stopped");
  EXPECT_EQ(stopped.sleeping, true);
  EXPECT_EQ(stopped.hashrate.value_or(-1), 0);
  EXPECT_EQ(stopped.power_w.value_or(0), 0);  // chains drawing 0 W: none reported
  // Start: idle, then the ramp.
  miner.VnishStart(kNow + 20);
  EXPECT_EQ(miner.VnishState(kNow + 20.5), "initializing");
  EXPECT_EQ(miner.VnishState(kNow + 22), "starting");
  EXPECT_EQ(miner.VnishState(kNow + 24), "mining");
  EXPECT_NEAR(Poll(miner, kNow + 24).power_w.value_or(0), 2550, 2);
}

TEST(FakeVnish, TokensAreTheOnesGiven) {
  ff::FakeMiner miner(Spec(), kNow);
  const std::string a = miner.VnishUnlock();
  const std::string b = miner.VnishUnlock();
  EXPECT_NE(a, b);
  EXPECT_TRUE(miner.VnishTokenValid(a));
  EXPECT_TRUE(miner.VnishTokenValid(b));
  EXPECT_FALSE(miner.VnishTokenValid(""));
  EXPECT_FALSE(miner.VnishTokenValid(a + "x"));
}

}  // namespace
}  // namespace asicmon
