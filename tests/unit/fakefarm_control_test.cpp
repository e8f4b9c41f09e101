// The fake farm's control surfaces of LuxOS (luxos_control.cpp) and Canaan's
// ascset (avalon_control.cpp): answers in the layouts of the captures, the
// firmware's refusals, and power that follows the profile or work mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_miner.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

using ::asicmon::testing::ReadFixture;
using nlohmann::ordered_json;
using Keys = std::vector<std::string>;

constexpr double kNow = 1.7e9;
constexpr std::string_view kLuxosPoll =
    R"({"command":"summary+stats+pools+version+power+fans+temps"})";

FakeMinerSpec Spec(ModelId model) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 1;
  spec.wake_idle_s = 0;
  spec.wake_ramp_s = 10;
  return spec;
}

ordered_json Parse(std::string text) {
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return ordered_json::parse(text);
}

void CollectKeys(const ordered_json& j, Keys& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.push_back(key);
      CollectKeys(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) CollectKeys(value, out);
  }
}

Keys KeysOf(const ordered_json& j) {
  Keys keys;
  CollectKeys(j, keys);
  return keys;
}

// The keys in sorted order: the ascset captures were saved with their keys
// sorted, while cgminer writes STATUS, When, Code, Msg, Description
// (avalon-q-summary.json from the same source), as the fake does.
Keys SortedKeysOf(const ordered_json& j) {
  Keys keys = KeysOf(j);
  std::sort(keys.begin(), keys.end());
  return keys;
}

Record Normalise(const std::string& raw) {
  Record r;
  NormaliseRawReply(raw, r);
  return r;
}

ordered_json Send(FakeMiner& miner, std::string_view command, std::string_view parameter,
                  double at) {
  return Parse(
      miner.Handle(fmt::format(R"({{"command":"{}","parameter":"{}"}})", command, parameter), at));
}

ordered_json Ask(FakeMiner& miner, std::string_view command, double at) {
  return Parse(miner.Handle(fmt::format(R"({{"command":"{}"}})", command), at));
}

std::string Logon(FakeMiner& miner, double at) {
  return Ask(miner, "logon", at)["SESSION"][0]["SessionID"].get<std::string>();
}

TEST(FakeLuxosControl, OneSessionAtATimeThatLapsesAndCloses) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  const std::string session = Logon(miner, kNow);
  ASSERT_FALSE(session.empty());
  const ordered_json again = Ask(miner, "logon", kNow + 1);
  EXPECT_EQ(again["STATUS"][0]["STATUS"], "E") << "another session is open";
  // Used, it stays; a minute unused, it lapses and its id is refused.
  EXPECT_EQ(Send(miner, "ledset", session + ",red,blink", kNow + 50)["STATUS"][0]["STATUS"], "S");
  EXPECT_TRUE(miner.blinking());
  const ordered_json stale = Send(miner, "ledset", session + ",red,off", kNow + 111);
  EXPECT_EQ(stale["STATUS"][0]["Code"], 45);
  EXPECT_TRUE(miner.blinking());
  EXPECT_EQ(Ask(miner, "session", kNow + 111)["SESSION"][0]["SessionID"], "");
  // logoff ends it at once.
  const std::string next = Logon(miner, kNow + 120);
  EXPECT_EQ(Send(miner, "logoff", next, kNow + 121)["STATUS"][0]["STATUS"], "S");
  EXPECT_EQ(Send(miner, "curtail", next + ",sleep", kNow + 122)["STATUS"][0]["Code"], 45);
  EXPECT_FALSE(miner.sleeping());
}

// "Curtailment command sent": answered at once, the miner hashes on for
// halt_s, then reads asleep (config's CurtailMode) with no hashrate.
TEST(FakeLuxosControl, CurtailSleepAnswersFirstThenStopsHashing) {
  FakeMinerSpec spec = Spec(ModelId::kLuxosS19);
  spec.halt_s = 4;
  FakeMiner miner(spec, kNow);
  const std::string session = Logon(miner, kNow);
  const ordered_json sent = Send(miner, "curtail", session + ",sleep", kNow);
  EXPECT_EQ(sent["STATUS"][0]["Code"], 335);
  EXPECT_EQ(sent["CURTAIL"][0]["Action"], "sleep mode");
  const std::string poll = R"({"command":"summary+stats+pools+version+power+fans+temps+config"})";
  const Record winding = Normalise(miner.Handle(poll, kNow + 2));
  EXPECT_FALSE(winding.sleeping);
  EXPECT_GT(winding.hashrate.value_or(0), 0);
  const Record asleep = Normalise(miner.Handle(poll, kNow + 5));
  EXPECT_TRUE(asleep.sleeping);
  EXPECT_EQ(asleep.hashrate, 0);
  EXPECT_EQ(Ask(miner, "config", kNow + 5)["CONFIG"][0]["CurtailMode"], "Sleep");
  // wakeup starts at once.
  Send(miner, "curtail", session + ",wakeup", kNow + 6);
  EXPECT_FALSE(miner.sleeping());
}

TEST(FakeLuxosControl, ProfileSetHasTheDocsKeysAndRampsTheWatts) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  const ordered_json reply = Ask(miner, "profiles", kNow);
  const ordered_json captured = Parse(ReadFixture("luxos-s19kpro-profiles.json"));
  EXPECT_EQ(KeysOf(reply["PROFILES"][0]), KeysOf(captured["PROFILES"][0]));
  EXPECT_EQ(reply["STATUS"][0]["Code"], captured["STATUS"][0]["Code"]);
  const ordered_json profiles = reply["PROFILES"];
  ASSERT_EQ(profiles.size(), captured["PROFILES"].size());  // default, 16 under, 8 over
  EXPECT_EQ(profiles[16]["Profile Name"], "default");
  EXPECT_EQ(profiles[16]["Watts"], 3250);
  EXPECT_EQ(profiles[15]["Profile Name"], "520MHz");
  EXPECT_EQ(Ask(miner, "config", kNow)["CONFIG"][0]["Profile"], "default");

  const std::string session = Logon(miner, kNow);
  const ordered_json unknown = Send(miner, "profileset", session + ",9999MHz", kNow + 1);
  EXPECT_EQ(unknown["STATUS"][0]["STATUS"], "E");
  const ordered_json set = Send(miner, "profileset", session + ",470MHz", kNow + 1);
  EXPECT_EQ(KeysOf(set), KeysOf(Parse(ReadFixture("luxos-profileset.json"))));
  EXPECT_EQ(set["STATUS"][0]["Code"], 321);
  EXPECT_EQ(set["PROFILE"][0]["Profile"], "470MHz");
  EXPECT_EQ(Ask(miner, "config", kNow + 1)["CONFIG"][0]["Profile"], "470MHz");

  // Half way through the ramp (wake_ramp_s 10) the watts are between; then the profile's.
  const double low_w = profiles[13]["Watts"].get<double>();
  const Record mid = Normalise(miner.Handle(kLuxosPoll, kNow + 6));
  ASSERT_TRUE(mid.power_w.has_value());
  EXPECT_LT(*mid.power_w, 3250 * 0.99);
  EXPECT_GT(*mid.power_w, low_w * 1.01);
  const Record done = Normalise(miner.Handle(kLuxosPoll, kNow + 20));
  ASSERT_TRUE(done.power_w.has_value());
  EXPECT_NEAR(*done.power_w, low_w, low_w * 0.03);
  ASSERT_TRUE(done.hashrate.has_value());
  EXPECT_NEAR(*done.hashrate, GetModel(ModelId::kLuxosS19).hashrate_nominal * 470 / 545,
              GetModel(ModelId::kLuxosS19).hashrate_nominal * 0.04);
}

TEST(FakeAvalonControl, AscsetAnswersAsTheCaptures) {
  FakeMiner q(Spec(ModelId::kAvalonQ), kNow);
  // The whole help reply but its time and cgminer's key order.
  ordered_json help = Send(q, "ascset", "0,help", kNow);
  ordered_json captured_help = Parse(ReadFixture("avalon-q-ascset-help.json"));
  help["STATUS"][0].erase("When");
  captured_help["STATUS"][0].erase("When");
  EXPECT_EQ(nlohmann::json(help), nlohmann::json(captured_help));

  const ordered_json off = Send(q, "ascset", "0,softoff,1:1700000005", kNow);
  const ordered_json captured_off = Parse(ReadFixture("avalon-q-ascset-softoff.json"));
  EXPECT_EQ(SortedKeysOf(off), SortedKeysOf(captured_off));
  EXPECT_EQ(off["STATUS"][0]["STATUS"], "I");
  EXPECT_EQ(off["STATUS"][0]["Code"], 118);
  EXPECT_EQ(off["STATUS"][0]["Msg"], "ASC 0 set info: success softoff:1700000005");
  EXPECT_FALSE(q.sleeping()) << "not before the time asked";
  Send(q, "ascset", "0,help", kNow + 6);
  EXPECT_TRUE(q.sleeping());

  const ordered_json mode = Send(q, "ascset", "0,workmode,set,2", kNow + 7);
  EXPECT_EQ(SortedKeysOf(mode), SortedKeysOf(Parse(ReadFixture("avalon-q-ascset-workmode.json"))));
  EXPECT_EQ(mode["STATUS"][0]["Msg"], "ASC 0 set OK");
  EXPECT_EQ(Send(q, "ascset", "0,workmode,set,3", kNow + 7)["STATUS"][0]["Code"], 120);
  // The Q's help has no led.
  const ordered_json led = Send(q, "ascset", "0,led,1-1", kNow + 7);
  EXPECT_EQ(led["STATUS"][0]["Msg"], "ASC 0 set failed: Unknown option: led");
  EXPECT_FALSE(q.blinking());

  // The Q takes softon without a word, the connection closes bare; the
  // softon replaces the softoff still pending.
  Send(q, "ascset", "0,softoff,1:1700000020", kNow + 8);
  EXPECT_EQ(q.Handle(R"({"command":"ascset","parameter":"0,softon,1:1700000010"})", kNow + 8), "");
  Ask(q, "summary", kNow + 30);
  EXPECT_FALSE(q.sleeping());

  FakeMiner classic(Spec(ModelId::kAvalon1246), kNow);
  EXPECT_EQ(Send(classic, "ascset", "0,softon,1:1700000000", kNow)["STATUS"][0]["Code"], 118);
  EXPECT_EQ(Send(classic, "ascset", "0,led,1-1", kNow)["STATUS"][0]["Msg"], "ASC 0 set OK");
  EXPECT_TRUE(classic.blinking());
  EXPECT_EQ(Send(classic, "ascset", "0,workmode,set,1", kNow)["STATUS"][0]["Code"], 120);
  EXPECT_EQ(Send(classic, "ascset", "0,softoff,soon", kNow)["STATUS"][0]["STATUS"], "E");
}

}  // namespace
}  // namespace asicmon::fakefarm
