// The fake farm's Antminers on Braiins OS+ and LuxOS (testing/fakefarm/
// braiins_*.cpp, luxos_*.cpp): what each command answers, in the layouts of
// the captures, and what asicmon reads from the families' poll plans.
#include <gtest/gtest.h>

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
// The families' poll plans (braiins.cpp, luxos.cpp) and the generic poll.
constexpr std::string_view kBraiinsPoll =
    R"({"command":"summary+devs+fans+temps+tunerstatus+pools+devdetails+version"})";
constexpr std::string_view kLuxosPoll =
    R"({"command":"summary+stats+pools+version+power+fans+temps+config"})";
constexpr std::string_view kGenericPoll = R"({"command":"summary+stats+pools"})";

FakeMinerSpec Spec(ModelId model, bool deny = false) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 2;
  spec.deny_privileged = deny;
  spec.wake_idle_s = 1;
  spec.wake_ramp_s = 2;
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

Record Normalise(const std::string& raw) {
  Record r;
  NormaliseRawReply(raw, r);
  return r;
}

std::string Ask(FakeMiner& miner, std::string_view command, double at = kNow) {
  return miner.Handle(fmt::format(R"({{"command":"{}"}})", command), at);
}

TEST(FakeBraiins, EveryCommandHasTheKeysOfItsCapture) {
  FakeMiner miner(Spec(ModelId::kBraiinsS19XP), kNow);
  // Three chains, three pools and four fans on both sides.
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"summary", "braiinsos-plus-s9-summary.json"},
      {"pools", "braiinsos-plus-s9-pools.json"},
      {"devs", "braiinsos-plus-s9-devs.json"},
      {"fans", "braiinsos-plus-s9-fans.json"},
      {"temps", "braiinsos-plus-s9-temps-chip.json"},
      {"tunerstatus", "braiinsos-plus-s9-tunerstatus.json"},
      {"devdetails", "braiinsos-plus-s9-devdetails.json"},
  };
  for (const auto& [command, fixture] : cases) {
    SCOPED_TRACE(command);
    const std::string raw = Ask(miner, command);
    EXPECT_EQ(raw.back(), '\0');  // bosminer's codec ends a reply with a NUL
    EXPECT_EQ(KeysOf(Parse(raw)), KeysOf(Parse(ReadFixture(std::string(fixture)))));
  }
  // VERSION as bosminer's, the firmware named by BOSer's key; no "Type".
  const ordered_json version = Parse(Ask(miner, "version"));
  EXPECT_EQ(version["VERSION"][0].dump(),
            R"({"API":"3.7","BOSer":"boser-buildroot 0.1.0-0ce150e9"})");
  EXPECT_EQ(version["STATUS"][0]["Description"], "BOSer boser-buildroot 0.1.0-0ce150e9");
  // devdetails: the maker's name before the model, Frequency in Hz.
  const ordered_json details = Parse(Ask(miner, "devdetails"));
  EXPECT_EQ(details["DEVDETAILS"][0]["Model"], "Bitmain Antminer S19 XP");
  EXPECT_GT(details["DEVDETAILS"][0]["Frequency"].get<int64_t>(), 100'000'000);
}

TEST(FakeBraiins, ThePollPlanReadsAsBraiins) {
  FakeMiner miner(Spec(ModelId::kBraiinsS19XP), kNow);
  const ModelSpec& model = GetModel(ModelId::kBraiinsS19XP);
  const Record r = Normalise(miner.Handle(kBraiinsPoll, kNow + 60));
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "braiins");
  EXPECT_EQ(r.model, "Antminer S19 XP");
  EXPECT_EQ(r.algorithm, "sha256d");
  ASSERT_TRUE(r.hashrate.has_value());  // H/s from "MHS 5s"
  EXPECT_NEAR(*r.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
  ASSERT_EQ(r.boards.size(), 3u);
  for (const BoardStats& b : r.boards) {
    EXPECT_EQ(b.chips, 110);
    ASSERT_TRUE(b.freq_mhz.has_value());
    EXPECT_NEAR(*b.freq_mhz, 525, 15);  // devdetails' Hz
    EXPECT_TRUE(b.temp_chip.has_value());
  }
  EXPECT_EQ(r.fans.size(), 4u);
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3010, 60);  // the tuner's estimate, not its 3100 W limit
  EXPECT_EQ(r.pools.size(), 3u);
  // The generic poll names the family, so the poller runs its plan next.
  const Record generic = Normalise(miner.Handle(kGenericPoll, kNow + 70));
  EXPECT_EQ(generic.status, MinerStatus::kOk) << generic.error;
  EXPECT_EQ(generic.family, "braiins");
}

TEST(FakeBraiins, PauseStopsHashingAndResumeRampsUp) {
  FakeMiner miner(Spec(ModelId::kBraiinsS19XP), kNow);
  const ordered_json pause = Parse(Ask(miner, "pause", kNow + 10));
  EXPECT_EQ(pause["STATUS"][0]["Code"], 204);
  EXPECT_EQ(pause["PAUSE"].dump(), "[true]");
  EXPECT_TRUE(miner.sleeping());
  EXPECT_EQ(KeysOf(pause), KeysOf(Parse(ReadFixture("braiinsos-plus-s17-pause.json"))));
  const Record paused = Normalise(miner.Handle(kBraiinsPoll, kNow + 20));
  EXPECT_EQ(paused.status, MinerStatus::kOk) << paused.error;
  EXPECT_EQ(paused.hashrate, 0.0);
  EXPECT_FALSE(paused.power_w.has_value()) << "the boards' voltage is off: no draw estimated";
  EXPECT_TRUE(paused.sleeping) << "tunerstatus: every chain Paused";
  const ordered_json resume = Parse(Ask(miner, "resume", kNow + 30));
  EXPECT_EQ(resume["STATUS"][0]["Code"], 205);
  EXPECT_EQ(resume["RESUME"].dump(), "[true]");
  EXPECT_EQ(KeysOf(resume), KeysOf(Parse(ReadFixture("braiinsos-plus-s17-resume.json"))));
  EXPECT_FALSE(miner.sleeping());
  const Record back = Normalise(miner.Handle(kBraiinsPoll, kNow + 40));
  ASSERT_TRUE(back.hashrate.has_value());
  EXPECT_GT(*back.hashrate, 0.9 * GetModel(ModelId::kBraiinsS19XP).hashrate_nominal);
  EXPECT_FALSE(back.sleeping);
}

TEST(FakeBraiins, RefusesAsBosminerDoes) {
  FakeMiner miner(Spec(ModelId::kBraiinsS19XP), kNow);
  const ordered_json unknown = Parse(Ask(miner, "curtail"));
  EXPECT_EQ(unknown["STATUS"][0]["STATUS"], "E");
  EXPECT_EQ(unknown["STATUS"][0]["Code"], 14);
  EXPECT_EQ(unknown["STATUS"][0]["Msg"], "Invalid command");
  // A command with parameters inside a multi-command: code 45.
  const ordered_json multi = Parse(Ask(miner, "summary+switchpool"));
  EXPECT_EQ(multi["switchpool"][0]["STATUS"][0]["Code"], 45);
  EXPECT_EQ(multi["summary"][0]["STATUS"][0]["Code"], 11);
  FakeMiner read_only(Spec(ModelId::kBraiinsS19XP, true), kNow);
  std::vector<PrivilegedAction> actions;
  fmt::memory_buffer out;
  read_only.Handle(R"({"command":"pause"})", kNow, out, &actions);
  EXPECT_EQ(Parse(std::string(out.data(), out.size()))["STATUS"][0]["Code"], 45);
  EXPECT_FALSE(read_only.sleeping());
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].result, ActionResult::kDenied);
}

TEST(FakeLuxos, ItsOwnCommandsHaveTheKeysOfTheCaptures) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  const ordered_json fans = Parse(Ask(miner, "fans"));
  EXPECT_EQ(KeysOf(fans), KeysOf(Parse(ReadFixture("luxos-s19-fans.json"))));
  EXPECT_EQ(fans["FANS"][0]["FAN"], "J12 | J14");
  const ordered_json version = Parse(Ask(miner, "version"));
  EXPECT_EQ(KeysOf(version), KeysOf(Parse(ReadFixture("luxos-anonymised-version.json"))));
  EXPECT_EQ(version["VERSION"][0]["Type"], "Antminer S19");
  // temps as the Hydro capture's TEMPS and STATUS (its METADATA names water sensors).
  const ordered_json temps = Parse(Ask(miner, "temps"));
  const ordered_json hydro = Parse(ReadFixture("luxos-hydro-temps.json"));
  EXPECT_EQ(KeysOf(temps["TEMPS"][0]), KeysOf(hydro["TEMPS"][0]));
  EXPECT_EQ(KeysOf(temps["STATUS"]), KeysOf(hydro["STATUS"]));
  EXPECT_EQ(temps["TEMPS"].size(), 3u);
  const ordered_json power = Parse(Ask(miner, "power"));
  EXPECT_EQ(power["POWER"][0]["Watts"], 3250);
  EXPECT_EQ(KeysOf(power), KeysOf(Parse(ReadFixture("luxos-s19kpro-power.json"))));
  EXPECT_EQ(KeysOf(power["POWER"][0]),
            KeysOf(Parse(ReadFixture("luxos-s19kpro-power.json"))["POWER"][0]));
  // config: the captured keys a reader uses, each one of the capture's.
  const ordered_json config = Parse(Ask(miner, "config"));
  const ordered_json captured = Parse(ReadFixture("luxos-s19kpro-config.json"));
  EXPECT_EQ(KeysOf(config["STATUS"]), KeysOf(captured["STATUS"]));
  ASSERT_EQ(config.size(), captured.size());
  for (const auto& [key, value] : config["CONFIG"][0].items()) {
    EXPECT_TRUE(captured["CONFIG"][0].contains(key)) << key;
  }
  EXPECT_EQ(config["CONFIG"][0]["CurtailMode"], "None");
  EXPECT_EQ(config["CONFIG"][0]["MACAddr"], miner.mac());
}

TEST(FakeLuxos, ThePollPlanReadsAsLuxos) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  const ModelSpec& model = GetModel(ModelId::kLuxosS19);
  const Record r = Normalise(miner.Handle(kLuxosPoll, kNow + 60));
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "luxos");
  EXPECT_EQ(r.model, "Antminer S19");
  ASSERT_TRUE(r.hashrate.has_value());  // H/s from "GHS 5s"
  EXPECT_NEAR(*r.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
  EXPECT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.fans.size(), 4u);
  EXPECT_EQ(r.power_w, 3250.0);
  EXPECT_EQ(r.pools.size(), 3u);
  EXPECT_FALSE(r.sleeping);
  EXPECT_EQ(r.mac, miner.mac());  // config's MACAddr
  EXPECT_EQ(r.hostname, miner.hostname());
  EXPECT_EQ(r.serial, miner.serial());
  const Record generic = Normalise(miner.Handle(kGenericPoll, kNow + 70));
  EXPECT_EQ(generic.status, MinerStatus::kOk) << generic.error;
  EXPECT_EQ(generic.family, "luxos");
}

TEST(FakeLuxos, CurtailNeedsTheSessionThenSleepsAndWakes) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  auto curtail = [&](std::string_view param, double at) {
    return Parse(
        miner.Handle(fmt::format(R"({{"command":"curtail","parameter":"{}"}})", param), at));
  };
  EXPECT_EQ(curtail("nosuchid,sleep", kNow)["STATUS"][0]["STATUS"], "E") << "no session yet";
  EXPECT_EQ(Parse(Ask(miner, "session"))["SESSION"][0]["SessionID"], "");
  const ordered_json logon = Parse(Ask(miner, "logon"));
  EXPECT_EQ(logon["STATUS"][0]["Code"], 316);
  EXPECT_EQ(KeysOf(logon), KeysOf(Parse(ReadFixture("luxos-logon.json"))));
  const std::string session = logon["SESSION"][0]["SessionID"];
  ASSERT_FALSE(session.empty());
  EXPECT_EQ(Parse(Ask(miner, "session"))["SESSION"][0]["SessionID"], session);
  EXPECT_EQ(curtail("wrong,sleep", kNow)["STATUS"][0]["STATUS"], "E");
  EXPECT_FALSE(miner.sleeping());

  const ordered_json sleep = curtail(session + ",sleep", kNow + 10);
  EXPECT_EQ(sleep["STATUS"][0]["Code"], 335);
  EXPECT_EQ(sleep["CURTAIL"][0]["Action"], "sleep mode");
  EXPECT_EQ(KeysOf(sleep), KeysOf(Parse(ReadFixture("luxos-curtail-sleep.json"))));
  EXPECT_FALSE(miner.sleeping()) << "answered first, the boards off halt_s later";
  const Record asleep = Normalise(miner.Handle(kLuxosPoll, kNow + 20));
  EXPECT_EQ(asleep.status, MinerStatus::kOk) << asleep.error;
  EXPECT_EQ(asleep.hashrate, 0.0);
  EXPECT_FALSE(asleep.power_w.has_value()) << "the PSU is off";
  EXPECT_TRUE(asleep.sleeping) << "config's CurtailMode";

  EXPECT_EQ(curtail(session + ",wakeup", kNow + 30)["CURTAIL"][0]["Action"], "wake up");
  EXPECT_FALSE(miner.sleeping());
  const Record woken = Normalise(miner.Handle(kLuxosPoll, kNow + 40));
  ASSERT_TRUE(woken.hashrate.has_value());
  EXPECT_GT(*woken.hashrate, 0.9 * GetModel(ModelId::kLuxosS19).hashrate_nominal);
  EXPECT_FALSE(woken.sleeping);
  EXPECT_EQ(curtail(session + ",dance", kNow + 50)["STATUS"][0]["Code"], 14);
}

TEST(FakeLuxos, UnknownCommandsAreRefused) {
  FakeMiner miner(Spec(ModelId::kLuxosS19), kNow);
  for (std::string_view command : {"tunerstatus", "pause", "nonsense"}) {
    const ordered_json reply = Parse(Ask(miner, command));
    EXPECT_EQ(reply["STATUS"][0]["Code"], 14) << command;
  }
}

}  // namespace
}  // namespace asicmon::fakefarm
