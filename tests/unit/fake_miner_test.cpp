// The fake farm: the pure reply builder (layouts against the real captures,
// quirks, state changes, hostile requests) and the server with each fault,
// in-process and as the asicmon-fakefarm executable.
//
// Loopback range: 127.33.0.0/16 (see testlib.h), one /24 per test that binds,
// because ctest may run this program's tests side by side.
#include "fake_miner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "json_repair.h"
#include "normalise.h"
#include "asicmon/record.h"
#include "farm_server.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

using namespace std::chrono_literals;
using ::asicmon::testing::ReadFixture;

constexpr double kNow = 1.7e9;
constexpr std::string_view kPoll = R"({"command":"summary+stats+pools"})";

FakeMinerSpec Spec(ModelId model, int index = 6) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = index;
  return spec;
}

using testing::ParseMinerJson;

nlohmann::json MustParse(const std::string& raw) {
  auto parsed = ParseMinerJson(raw);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << raw.substr(0, 400);
  return parsed.ok() ? *parsed : nlohmann::json();
}

// The object keys of a reply in the order they appear in its bytes.
// (Scanned by hand: <regex> trips a false GCC 12 warning in the ASan build.)
std::vector<std::string> KeysInOrder(const std::string& raw) {
  std::vector<std::string> keys;
  for (size_t open = raw.find('"'); open != std::string::npos;) {
    const size_t close = raw.find('"', open + 1);
    if (close == std::string::npos) break;
    size_t after = close + 1;
    while (after < raw.size() && std::isspace(static_cast<unsigned char>(raw[after]))) ++after;
    if (after < raw.size() && raw[after] == ':') {
      keys.push_back(raw.substr(open + 1, close - open - 1));
      open = raw.find('"', after);
    } else {
      open = close;  // that quote may open the next key
    }
  }
  return keys;
}

const nlohmann::json& Status0(const nlohmann::json& reply) { return reply["STATUS"][0]; }

// ---------------------------------------------------------------------------
// Layouts and quirks

TEST(FakeMinerLayoutTest, KeysAppearInTheOrderOfTheRealCaptures) {
  struct Case {
    ModelId model;
    const char* command;
    const char* fixture;
  };
  const Case cases[] = {
      {ModelId::kS9, "stats", "antminer-s9-stats.json"},
      {ModelId::kS9, "pools", "antminer-s9-pools.json"},
      {ModelId::kS9, "version", "antminer-s9-bmminer-version.json"},
      {ModelId::kS17Pro, "stats", "antminer-s17pro-stats.json"},
      {ModelId::kS17Pro, "pools", "antminer-s17pro-pools.json"},
      {ModelId::kS17Pro, "version", "antminer-s17pro-version.json"},
      {ModelId::kS19Pro, "stats", "antminer-s19pro-stats-overheating.json"},
      {ModelId::kS19Pro, "pools", "antminer-s19-pools.json"},
      {ModelId::kS19Pro, "version", "antminer-s19pro-version-b.json"},
      {ModelId::kS19jPro, "stats", "antminer-s19pro-stats-overheating.json"},
      {ModelId::kS19jPro, "pools", "antminer-s19-pools.json"},
      {ModelId::kL3Plus, "stats", "antminer-l3plus-stats.json"},
      {ModelId::kL3Plus, "pools", "antminer-l3plus-pools.json"},
      {ModelId::kL3Plus, "version", "antminer-l3plus-version.json"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(GetModel(c.model).key) + " " + c.command);
    FakeMiner miner(Spec(c.model), kNow);
    const std::string ours = miner.Handle(std::string("{\"command\":\"") + c.command + "\"}", kNow);
    const std::string real = ReadFixture(c.fixture);
    EXPECT_EQ(KeysInOrder(ours), KeysInOrder(real));
    const nlohmann::json a = MustParse(ours);
    const nlohmann::json b = MustParse(real);
    EXPECT_EQ(Status0(a)["Code"], Status0(b)["Code"]);
    EXPECT_EQ(Status0(a)["Msg"], Status0(b)["Msg"]);
    EXPECT_EQ(Status0(a)["Description"], Status0(b)["Description"]);
  }
}

// btminer has no stats and bosminer's carry no telemetry:
// fakefarm_whatsminer_test and fakefarm_braiins_test poll those with their
// family's own plan. Vnish writes stock Bitmain's layouts its own way (its
// version in the Type, a DevFee pool): vnish_test holds it to its captures.
bool AnswersStats(const ModelSpec& model) {
  return GenericPollReadsAll(model.id) && model.firmware.stats != StatsLayout::kVnish;
}

TEST(FakeMinerLayoutTest, PollReplyOfEveryModelParses) {
  for (const ModelSpec& model : AllModels()) {
    if (!AnswersStats(model)) continue;
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(model.id), kNow);
    const std::string raw = miner.Handle(kPoll, kNow + 10);
    ASSERT_FALSE(raw.empty());
    EXPECT_EQ(raw.back() == '\0', model.nul_terminated);
    EXPECT_EQ(std::count(raw.begin(), raw.end(), '\0'), model.nul_terminated ? 1 : 0);
    const nlohmann::json reply = MustParse(raw);
    EXPECT_EQ(reply["id"], 1);
    for (const char* part : {"summary", "stats", "pools"}) {
      SCOPED_TRACE(part);
      ASSERT_TRUE(reply.contains(part));
      ASSERT_TRUE(reply[part].is_array());
      ASSERT_EQ(reply[part].size(), 1u);
      EXPECT_EQ(Status0(reply[part][0])["STATUS"], "S");
      EXPECT_EQ(Status0(reply[part][0])["When"], static_cast<int64_t>(kNow + 10));
    }
    // Canaan's STATS name the model in a module string instead (fakefarm_avalon_test).
    if (model.firmware.stats != StatsLayout::kAvalon) {
      EXPECT_EQ(reply["stats"][0]["STATS"][0]["Type"], model.name);
    }
    EXPECT_EQ(reply["summary"][0]["SUMMARY"][0]["Elapsed"], 3610);
    EXPECT_EQ(reply["pools"][0]["POOLS"].size(), 3u);
  }
}

TEST(FakeMinerLayoutTest, RawBytesCarryTheFirmwareQuirks) {
  for (const ModelSpec& model : AllModels()) {
    if (!AnswersStats(model)) continue;
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(model.id), kNow);
    const std::string stats = miner.Handle(R"({"command":"stats"})", kNow);
    const std::string pools = miner.Handle(R"({"command":"pools"})", kNow);
    const std::string poll_reply = miner.Handle(kPoll, kNow);
    const bool glued =
        model.id == ModelId::kS9 || model.id == ModelId::kL3Plus || model.id == ModelId::kZ15;
    const bool s19 = model.id == ModelId::kS19Pro || model.id == ModelId::kS19jPro;
    // The S9, L3+ and Z15 glue STATS[0] and STATS[1] as `}{`: invalid JSON that
    // only a repair makes readable.
    EXPECT_EQ(stats.find("\"}{\"STATS\":0") != std::string::npos, glued);
    EXPECT_EQ(poll_reply.find("\"}{\"STATS\":0") != std::string::npos, glued);
    std::string strict = stats;
    while (!strict.empty() && strict.back() == '\0') strict.pop_back();
    EXPECT_EQ(nlohmann::json::accept(strict), !glued);
    RepairStats repairs;
    ASSERT_OK(ParseMinerJson(stats, &repairs));
    EXPECT_EQ(repairs.commas_inserted > 0, glued);
    // The S19 family writes "Pool Stale%%" and puts a space after , and :.
    EXPECT_EQ(pools.find("\"Pool Stale%%\": 0.0") != std::string::npos, s19);
    EXPECT_EQ(pools.find("\"Pool Stale%\":0.0000") != std::string::npos, !s19);
    EXPECT_EQ(poll_reply.rfind("{\"summary\": [{\"STATUS\": [{", 0) == 0, s19);
    EXPECT_EQ(poll_reply.rfind("{\"summary\":[{\"STATUS\":[{", 0) == 0, !s19);
  }
}

TEST(FakeMinerLayoutTest, GhsLabelsCarryTheModelsUnit) {
  FakeMiner s9(Spec(ModelId::kS9), kNow);
  FakeMiner l3(Spec(ModelId::kL3Plus), kNow);
  FakeMiner s19(Spec(ModelId::kS19Pro), kNow);
  const nlohmann::json a = MustParse(s9.Handle("summary", kNow));
  const nlohmann::json b = MustParse(l3.Handle("summary", kNow));
  const nlohmann::json c = MustParse(s19.Handle("summary", kNow));
  // Strings on the S9 and L3+ (GH/s and, on the scrypt L3+, MH/s), numbers on the S19.
  ASSERT_TRUE(a["SUMMARY"][0]["GHS 5s"].is_string());
  ASSERT_TRUE(b["SUMMARY"][0]["GHS 5s"].is_string());
  ASSERT_TRUE(c["SUMMARY"][0]["GHS 5s"].is_number());
  EXPECT_NEAR(std::stod(a["SUMMARY"][0]["GHS 5s"].get<std::string>()), 13500, 13500 * 0.02);
  EXPECT_NEAR(std::stod(b["SUMMARY"][0]["GHS 5s"].get<std::string>()), 504, 504 * 0.02);
  EXPECT_NEAR(c["SUMMARY"][0]["GHS 5s"].get<double>(), 110000, 110000 * 0.02);
}

// ---------------------------------------------------------------------------
// Normalised by the project's own normaliser

TEST(FakeMinerNormaliseTest, ModelHashrateAndWorkerAsNominal) {
  for (const ModelSpec& model : AllModels()) {
    if (!AnswersStats(model)) continue;
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(model.id), kNow);
    Record record;
    NormaliseRawReply(miner.Handle(kPoll, kNow + 60), record);
    EXPECT_EQ(record.status, MinerStatus::kOk) << record.error;
    EXPECT_EQ(record.model, model.name);
    EXPECT_EQ(record.worker, "farm.w0007");
    ASSERT_TRUE(record.hashrate.has_value());
    EXPECT_NEAR(*record.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
    ASSERT_TRUE(record.hashrate_avg.has_value());
    EXPECT_NEAR(*record.hashrate_avg, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
    EXPECT_EQ(record.uptime_s, 3660);
    EXPECT_EQ(record.boards.size(), static_cast<size_t>(model.boards));
    EXPECT_EQ(record.pools.size(), 3u);
    ASSERT_TRUE(record.temp_max.has_value());
    EXPECT_GT(*record.temp_max, 30);
    EXPECT_LT(*record.temp_max, 95);
  }
}

// Chip states ('x' per chip) are Bitmain's: an AvalonMiner's dead board is
// tested in fakefarm_avalon_test.
TEST(FakeMinerNormaliseTest, DeadBoardReportsNoHashrateOnOneBoard) {
  for (const ModelSpec& model : AntminerModels()) {
    SCOPED_TRACE(model.key);
    FakeMinerSpec spec = Spec(model.id);
    spec.dead_board = true;
    FakeMiner miner(spec, kNow);
    ASSERT_GE(miner.dead_chain(), model.first_chain);
    Record record;
    NormaliseRawReply(miner.Handle(kPoll, kNow), record);
    EXPECT_EQ(record.status, MinerStatus::kOk) << record.error;
    ASSERT_TRUE(record.hashrate.has_value());
    const double alive = model.hashrate_nominal * (model.boards - 1) / model.boards;
    EXPECT_NEAR(*record.hashrate, alive, 0.05 * alive);
    int dead = 0;
    for (const BoardStats& board : record.boards) {
      if (board.hashrate.value_or(-1) == 0 && board.chips.value_or(-1) == 0 &&
          board.chips_failed.value_or(0) == model.chips_per_board) {
        EXPECT_EQ(board.index, miner.dead_chain());
        ++dead;
      }
    }
    EXPECT_EQ(dead, 1);
  }
}

// ---------------------------------------------------------------------------
// Telemetry and state

TEST(FakeMinerStateTest, TelemetryMovesOverTime) {
  FakeMiner miner(Spec(ModelId::kS19Pro), kNow);
  std::vector<double> rates;
  int64_t last_accepted = -1;
  for (int i = 0; i < 20; ++i) {
    const double now = kNow + 30.0 * i;
    const nlohmann::json s = MustParse(miner.Handle("summary", now))["SUMMARY"][0];
    EXPECT_EQ(s["Elapsed"], 3600 + 30 * i);
    EXPECT_GE(s["Accepted"].get<int64_t>(), last_accepted + 2);  // ~1 per 10 s
    last_accepted = s["Accepted"].get<int64_t>();
    rates.push_back(s["GHS 5s"].get<double>());
    EXPECT_NEAR(rates.back(), 110000, 110000 * 0.02);
  }
  EXPECT_NE(*std::min_element(rates.begin(), rates.end()),
            *std::max_element(rates.begin(), rates.end()));
}

TEST(FakeMinerStateTest, AddpoolAddsAPoolThatSwitchpoolMakesActive) {
  FakeMiner miner(Spec(ModelId::kS9), kNow);
  std::vector<PrivilegedAction> actions;
  fmt::memory_buffer out;
  miner.Handle(R"({"command":"addpool","parameter":"stratum+tcp://new.example:3333,farm.new,x"})",
               kNow, out, &actions);
  const nlohmann::json added = MustParse(std::string(out.data(), out.size()));
  EXPECT_EQ(Status0(added)["STATUS"], "S");
  EXPECT_EQ(Status0(added)["Code"], 55);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].command, "addpool");
  EXPECT_EQ(actions[0].parameter, "stratum+tcp://new.example:3333,farm.new,x");
  EXPECT_EQ(actions[0].result, ActionResult::kOk);

  nlohmann::json pools = MustParse(miner.Handle("pools", kNow))["POOLS"];
  ASSERT_EQ(pools.size(), 4u);
  EXPECT_EQ(pools[3]["URL"], "stratum+tcp://new.example:3333");
  EXPECT_EQ(pools[3]["User"], "farm.new");
  EXPECT_EQ(pools[3]["Status"], "Alive");
  EXPECT_EQ(miner.worker(), "farm.w0007");

  const nlohmann::json switched = MustParse(miner.Handle("switchpool|3", kNow + 100));
  EXPECT_EQ(Status0(switched)["Code"], 27);
  EXPECT_EQ(miner.worker(), "farm.new");
  pools = MustParse(miner.Handle("pools", kNow + 200))["POOLS"];
  EXPECT_EQ(pools[3]["Priority"], 0);
  EXPECT_EQ(pools[3]["Stratum Active"], true);
  EXPECT_EQ(pools[0]["Stratum Active"], false);
  EXPECT_GT(pools[3]["Accepted"].get<int64_t>(), 0);  // shares found since the switch

  Record record;
  NormaliseRawReply(miner.Handle(kPoll, kNow + 200), record);
  EXPECT_EQ(record.worker, "farm.new");
}

TEST(FakeMinerStateTest, RemovepoolRefusesTheActivePoolAndRenumbers) {
  FakeMiner miner(Spec(ModelId::kS17Pro), kNow);
  EXPECT_EQ(Status0(MustParse(miner.Handle("removepool|0", kNow)))["Code"], 67);
  EXPECT_EQ(Status0(MustParse(miner.Handle("removepool|7", kNow)))["Code"], 26);
  EXPECT_EQ(Status0(MustParse(miner.Handle("removepool", kNow)))["Code"], 25);
  EXPECT_EQ(Status0(MustParse(miner.Handle("removepool|1", kNow)))["Code"], 68);
  const nlohmann::json pools = MustParse(miner.Handle("pools", kNow))["POOLS"];
  ASSERT_EQ(pools.size(), 2u);
  // cgminer moves the last pool into the removed one's place.
  EXPECT_EQ(pools[1]["URL"], "stratum+tcp://pool-c.example:700");
  EXPECT_EQ(pools[1]["POOL"], 1);
}

TEST(FakeMinerStateTest, DisablepoolMovesMiningToTheNextPool) {
  FakeMiner miner(Spec(ModelId::kL3Plus), kNow);
  EXPECT_EQ(Status0(MustParse(miner.Handle("disablepool|0", kNow)))["Code"], 48);
  nlohmann::json pools = MustParse(miner.Handle("pools", kNow))["POOLS"];
  EXPECT_EQ(pools[0]["Status"], "Disabled");
  EXPECT_EQ(pools[1]["Stratum Active"], true);
  EXPECT_EQ(Status0(MustParse(miner.Handle("disablepool|0", kNow)))["Code"], 50);
  EXPECT_EQ(Status0(MustParse(miner.Handle("disablepool|1", kNow)))["Code"], 48);
  EXPECT_EQ(Status0(MustParse(miner.Handle("disablepool|2", kNow)))["Code"], 51);  // the last one
  EXPECT_EQ(Status0(MustParse(miner.Handle("enablepool|0", kNow)))["Code"], 47);
  EXPECT_EQ(Status0(MustParse(miner.Handle("enablepool|0", kNow)))["Code"], 49);
  pools = MustParse(miner.Handle("pools", kNow))["POOLS"];
  EXPECT_EQ(pools[0]["Status"], "Alive");
  EXPECT_EQ(pools[0]["Stratum Active"], true);
}

TEST(FakeMinerStateTest, RestartResetsElapsedAndShares) {
  FakeMiner miner(Spec(ModelId::kS19jPro), kNow);
  EXPECT_GT(MustParse(miner.Handle("summary", kNow))["SUMMARY"][0]["Accepted"], 100);
  // As stock firmware answers: no STATUS block, not even JSON.
  EXPECT_EQ(miner.Handle(R"({"command":"restart"})", kNow + 5), R"({"RESTART", "id": 1})");
  const nlohmann::json s = MustParse(miner.Handle("summary", kNow + 35))["SUMMARY"][0];
  EXPECT_EQ(s["Elapsed"], 30);
  EXPECT_EQ(s["Accepted"], 3);
  const nlohmann::json pools = MustParse(miner.Handle("pools", kNow + 35))["POOLS"];
  EXPECT_EQ(pools[0]["Accepted"], 3);
}

// Asleep, the API answers in the shape of the sleeping captures: the same
// keys, zero hashrate, shares frozen; S17 family "Mode" 254 and its sensors
// and fans 0, S19 "Mode" 2 with idle fans and cold boards of failed chips.
TEST(FakeMinerSleepTest, SleepingRepliesHaveTheCapturesShape) {
  struct Case {
    ModelId model;
    const char* fixture;
  };
  for (const Case& c : {Case{ModelId::kS17Pro, "antminer-s17plus-stats-sleeping.json"},
                        Case{ModelId::kS19Pro, "antminer-s19-stats-sleeping.json"},
                        Case{ModelId::kS19jPro, "antminer-s19-stats-sleeping.json"}}) {
    SCOPED_TRACE(GetModel(c.model).key);
    ASSERT_TRUE(CanSleep(c.model));
    FakeMiner miner(Spec(c.model), kNow);
    const std::string awake = miner.Handle("stats", kNow);
    miner.SetSleeping(true, kNow + 10);
    EXPECT_TRUE(miner.sleeping());
    const std::string asleep = miner.Handle("stats", kNow + 60);
    EXPECT_EQ(KeysInOrder(asleep), KeysInOrder(awake)) << "sleep changes values, not keys";
    const nlohmann::json ours = MustParse(asleep)["STATS"][1];
    const nlohmann::json real = MustParse(ReadFixture(c.fixture))["STATS"][1];
    EXPECT_EQ(ours["Mode"], real["Mode"]);
    EXPECT_EQ(std::stod(ours["GHS 5s"].is_string() ? ours["GHS 5s"].get<std::string>()
                                                   : ours["GHS 5s"].dump()),
              0.0);
    EXPECT_EQ(ours["GHS av"], 0.0);
    EXPECT_EQ(ours["fan_num"], real["fan_num"]);
    for (int chain = 1; chain <= 3; ++chain) {
      // S17 family: no chain listed; S19: every chip of every chain 'x'.
      const std::string acs = ours["chain_acs" + std::to_string(chain)];
      EXPECT_EQ(acs.empty(), c.model == ModelId::kS17Pro) << acs;
      EXPECT_EQ(acs.find('o'), std::string::npos) << acs;
    }
    Record record;
    NormaliseRawReply(miner.Handle(kPoll, kNow + 60), record);
    EXPECT_EQ(record.status, MinerStatus::kOk) << record.error;
    EXPECT_EQ(record.hashrate, 0.0);
    EXPECT_EQ(record.hashrate_avg, 0.0);
    if (c.model == ModelId::kS17Pro) {
      EXPECT_TRUE(record.sleeping) << "Mode 254 says so";
      EXPECT_TRUE(record.boards.empty());
      EXPECT_TRUE(record.fans.empty());
      EXPECT_EQ(record.temp_max, std::nullopt);
    } else {
      EXPECT_FALSE(record.sleeping) << "an S19's API cannot say it sleeps";
      ASSERT_EQ(record.boards.size(), 3u);
      for (const BoardStats& b : record.boards) {
        EXPECT_EQ(b.hashrate, 0.0);
        EXPECT_EQ(b.chips_ok, 0);
        EXPECT_EQ(b.chips_failed, GetModel(c.model).chips_per_board);
      }
      ASSERT_EQ(record.fans.size(), 4u);
      for (int32_t rpm : record.fans) {
        EXPECT_GT(rpm, 0);
        EXPECT_LT(rpm, 2000);
      }
      ASSERT_TRUE(record.temp_max.has_value());
      EXPECT_LE(*record.temp_max, 45);
    }
  }
}

TEST(FakeMinerSleepTest, SharesStopWhileAsleepAndResumeOnWaking) {
  FakeMiner miner(Spec(ModelId::kS19Pro), kNow);
  auto summary = [&](double now) { return MustParse(miner.Handle("summary", now))["SUMMARY"][0]; };
  const int64_t before = summary(kNow)["Accepted"];
  miner.SetSleeping(true, kNow);
  const nlohmann::json asleep = summary(kNow + 600);
  EXPECT_EQ(asleep["Accepted"], before);
  EXPECT_EQ(asleep["GHS 5s"], 0.0);
  EXPECT_EQ(asleep["Elapsed"], 3600 + 600) << "the API keeps running";
  const nlohmann::json pools = MustParse(miner.Handle("pools", kNow + 600))["POOLS"];
  EXPECT_EQ(pools[0]["Accepted"], before);
  miner.SetSleeping(false, kNow + 600);
  EXPECT_FALSE(miner.sleeping());
  const nlohmann::json awake = summary(kNow + 700);
  EXPECT_EQ(awake["Accepted"], before + 10);
  EXPECT_NEAR(awake["GHS 5s"].get<double>(), 110000, 110000 * 0.02);
  // A restart while asleep (a pool change, a reboot) keeps it asleep.
  miner.SetSleeping(true, kNow + 700);
  miner.Restart(kNow + 800);
  EXPECT_TRUE(miner.sleeping());
  EXPECT_EQ(summary(kNow + 900)["Accepted"], 0);
}

// Waking, the mining software starts over: chains answer with every chip
// 'o' but hash nothing for wake_idle_s, then all boards rise together to
// nominal over wake_ramp_s, from the restart that applied the wake.
TEST(FakeMinerSleepTest, WakingHashesNothingAtFirstThenRampsUp) {
  for (ModelId model : {ModelId::kS19Pro, ModelId::kS17Pro}) {
    SCOPED_TRACE(GetModel(model).key);
    FakeMinerSpec spec = Spec(model);
    spec.wake_idle_s = 5;
    spec.wake_ramp_s = 10;
    FakeMiner miner(spec, kNow);
    miner.SetSleeping(true, kNow);
    miner.SetSleeping(false, kNow + 100);
    miner.Restart(kNow + 103);  // the web interface's restart: the ramp starts there
    auto poll = [&](double now) {
      Record record;
      NormaliseRawReply(miner.Handle(kPoll, now), record);
      EXPECT_EQ(record.status, MinerStatus::kOk);
      EXPECT_FALSE(record.sleeping);
      return record;
    };
    const double nominal = GetModel(model).hashrate_nominal;
    for (double after : {0.0, 4.9}) {
      const Record idle = poll(kNow + 103 + after);
      EXPECT_EQ(idle.hashrate.value_or(-1), 0) << after;
      ASSERT_EQ(idle.boards.size(), static_cast<size_t>(GetModel(model).boards));
      for (const BoardStats& b : idle.boards) {
        EXPECT_EQ(b.chips_failed.value_or(-1), 0);
        EXPECT_EQ(b.chips_ok, b.chips);
      }
    }
    const Record half = poll(kNow + 103 + 10);
    EXPECT_NEAR(half.hashrate.value_or(0), nominal / 2, nominal * 0.02);
    for (const BoardStats& b : half.boards) EXPECT_GT(b.hashrate.value_or(0), 0);
    const Record full = poll(kNow + 103 + 15);
    EXPECT_NEAR(full.hashrate.value_or(0), nominal, nominal * 0.02);
  }
}

TEST(FakeMinerSleepTest, FirmwareWithoutSleepIgnoresIt) {
  for (ModelId model : {ModelId::kS9, ModelId::kL3Plus}) {
    SCOPED_TRACE(GetModel(model).key);
    EXPECT_FALSE(CanSleep(model));
    FakeMiner miner(Spec(model), kNow);
    miner.SetSleeping(true, kNow);
    EXPECT_FALSE(miner.sleeping());
    Record record;
    NormaliseRawReply(miner.Handle(kPoll, kNow + 60), record);
    EXPECT_GT(record.hashrate.value_or(0), 0);
  }
  EXPECT_EQ(BlinkApiOf(ModelId::kS9), BlinkApi::kForm);
  EXPECT_EQ(BlinkApiOf(ModelId::kS17Pro), BlinkApi::kForm);
  EXPECT_EQ(BlinkApiOf(ModelId::kS19Pro), BlinkApi::kJson);
  EXPECT_EQ(BlinkApiOf(ModelId::kS19jPro), BlinkApi::kJson);
  EXPECT_EQ(BlinkApiOf(ModelId::kL3Plus), BlinkApi::kNone);
}

TEST(FakeMinerStateTest, ReadOnlyMinerDeniesEveryPrivilegedCommand) {
  FakeMinerSpec spec = Spec(ModelId::kS9);
  spec.deny_privileged = true;
  FakeMiner miner(spec, kNow);
  for (const char* command :
       {"restart", "addpool", "switchpool", "removepool", "enablepool", "disablepool"}) {
    SCOPED_TRACE(command);
    std::vector<PrivilegedAction> actions;
    fmt::memory_buffer out;
    miner.Handle(std::string("{\"command\":\"") + command + "\",\"parameter\":\"1\"}", kNow, out,
                 &actions);
    const nlohmann::json reply = MustParse(std::string(out.data(), out.size()));
    EXPECT_EQ(Status0(reply)["STATUS"], "E");
    EXPECT_EQ(Status0(reply)["Code"], 45);
    EXPECT_EQ(Status0(reply)["Msg"], std::string("Access denied to '") + command + "' command");
    EXPECT_EQ(reply["id"], 1);
    ASSERT_EQ(actions.size(), 1u);
    EXPECT_EQ(actions[0].result, ActionResult::kDenied);
    EXPECT_EQ(actions[0].parameter, "1");
  }
  EXPECT_EQ(MustParse(miner.Handle("pools", kNow))["POOLS"].size(), 3u);
  EXPECT_EQ(MustParse(miner.Handle("summary", kNow))["SUMMARY"][0]["Elapsed"], 3600);
}

TEST(FakeMinerStateTest, PrivilegedCommandInsideAMultiCommandIsDenied) {
  FakeMiner miner(Spec(ModelId::kS19Pro), kNow);
  std::vector<PrivilegedAction> actions;
  fmt::memory_buffer out;
  miner.Handle(R"({"command":"summary+restart+pools+summary"})", kNow + 50, out, &actions);
  const nlohmann::json reply = MustParse(std::string(out.data(), out.size()));
  EXPECT_EQ(Status0(reply["restart"][0])["Code"], 45);
  EXPECT_EQ(Status0(reply["summary"][0])["STATUS"], "S");
  EXPECT_EQ(reply["summary"][0]["SUMMARY"][0]["Elapsed"], 3650);  // not restarted
  EXPECT_EQ(Status0(reply["pools"][0])["Code"], 7);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].command, "restart");
  EXPECT_EQ(actions[0].result, ActionResult::kDenied);
}

TEST(FakeMinerRequestTest, UnknownCommandIsCode14) {
  FakeMiner miner(Spec(ModelId::kS9), kNow);
  for (const char* request :
       {R"({"command":"frobnicate"})", "frobnicate", "frobnicate|1", R"({"command":5})", ""}) {
    SCOPED_TRACE(request);
    const nlohmann::json reply = MustParse(miner.Handle(request, kNow));
    EXPECT_EQ(Status0(reply)["STATUS"], "E");
    EXPECT_EQ(Status0(reply)["Code"], 14);
    EXPECT_EQ(Status0(reply)["Msg"], "Invalid command");
  }
  const nlohmann::json multi = MustParse(miner.Handle("summary+frobnicate", kNow));
  EXPECT_EQ(Status0(multi["frobnicate"][0])["Code"], 14);
  EXPECT_EQ(Status0(multi["summary"][0])["Code"], 11);
}

TEST(FakeMinerRequestTest, RequestFormsAsCgminerReadsThem) {
  FakeMiner miner(Spec(ModelId::kS17Pro), kNow);
  EXPECT_EQ(Status0(MustParse(miner.Handle("{\"command\":\"version\"}\n", kNow)))["Code"], 22);
  EXPECT_EQ(Status0(MustParse(miner.Handle("version\n", kNow)))["Code"], 22);
  EXPECT_EQ(Status0(MustParse(miner.Handle(std::string("devs\0", 5), kNow)))["Code"], 9);
  // Integer parameters become text, as jansson's "%d".
  EXPECT_EQ(
      Status0(MustParse(miner.Handle(R"({"command":"switchpool","parameter":2})", kNow)))["Code"],
      27);
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"command":"summary)", kNow)))["Code"], 23);
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"parameter":"1"})", kNow)))["Code"], 24);
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"command":"pools"} trailing)", kNow)))["Code"], 23);
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"command":"po\u006fls"})", kNow)))["Code"], 7);
}

// jansson, which cgminer parses requests with, refuses JSON that is not
// UTF-8: cgminer answers "Invalid JSON". Text requests take any bytes.
TEST(FakeMinerRequestTest, JsonThatIsNotUtf8IsInvalidJson) {
  FakeMiner miner(Spec(ModelId::kS9), kNow);
  EXPECT_EQ(Status0(MustParse(miner.Handle("{\"command\":\"summ\xe9ry\"}", kNow)))["Code"], 23);
  EXPECT_EQ(Status0(MustParse(miner.Handle(
                "{\"command\":\"addpool\",\"parameter\":\"stratum+tcp://p\xe9.example:3333,u,x\"}",
                kNow)))["Code"],
            23);
  EXPECT_EQ(miner.pool_count(), 3);
  EXPECT_EQ(Status0(MustParse(
                miner.Handle("{\"command\":\"summary\",\"x\":\"caf\xc3\xa9\"}", kNow)))["Code"],
            11);
  EXPECT_EQ(Status0(MustParse(miner.Handle("summ\xe9ry", kNow)))["Code"], 14);
}

// What jansson refuses, cgminer answers Invalid JSON (23): integers past
// int64 and "\u0000" (json_loads without JSON_ALLOW_NUL). And api.c takes a
// request for JSON only when its first byte is '{': one with a blank first is
// a text command, and no known one (14).
TEST(FakeMinerRequestTest, WhatJanssonRefusesIsInvalidJsonAndOnlyALeadingBraceIsJson) {
  FakeMiner miner(Spec(ModelId::kS9), kNow);
  for (const char* request :
       {R"({"command":"switchpool","parameter":99999999999999999999})",
        R"({"command":"switchpool","parameter":9223372036854775808})",
        R"({"command":"summ\u0000ary"})", R"({"command":"summary","p\u0000":1})"}) {
    EXPECT_EQ(Status0(MustParse(miner.Handle(request, kNow)))["Code"], 23) << request;
  }
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"command":"switchpool","parameter":9223372036854775807})",
                                           kNow)))["STATUS"],
            "E");  // a number jansson reads: an unknown pool, not a parse error
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"( {"command":"summary"})", kNow)))["Code"], 14);
  EXPECT_EQ(Status0(MustParse(miner.Handle(R"({"command":"summary"})", kNow)))["Code"], 11);
}

TEST(FakeMinerRequestTest, HostileRequestsGetAnErrorReply) {
  FakeMiner miner(Spec(ModelId::kS9), kNow);
  std::vector<std::string> requests = {
      std::string(70000, '{'),
      std::string(70000, '['),
      "{\"command\":" + std::string(5000, '[') + std::string(5000, ']') + "}",
      "{\"command\":\"" + std::string(60000, 'x') + "\"}",
      std::string(60000, '+'),
      std::string("\xff\xfe\x00\x01{\"command\"", 14),
      "{\"command\":\"\\ud800\"}",
      "{\"command\":\"a\x01\"}",
      "addpool|" + std::string(1000, ','),
  };
  uint64_t state = 12345;
  for (int i = 0; i < 200; ++i) {
    std::string junk;
    for (int k = 0; k < 1 + i * 13 % 500; ++k) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      junk.push_back(static_cast<char>(state >> 56));
    }
    requests.push_back(junk);
  }
  for (const std::string& request : requests) {
    const std::string raw = miner.Handle(request, kNow);
    auto parsed = ParseMinerJson(raw);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_TRUE(parsed->contains("STATUS") || parsed->contains("id"));
  }
  // After all that, the miner still answers normally.
  EXPECT_EQ(Status0(MustParse(miner.Handle("summary", kNow)))["STATUS"], "S");
}

// ---------------------------------------------------------------------------
// Planning

TEST(FarmPlanTest, AddressesIncrementAcrossOctetsInsideLoopback) {
  FarmOptions options;
  options.base = "127.33.0.254";
  options.count = 4;
  auto plans = PlanFarm(options);
  ASSERT_OK(plans);
  ASSERT_EQ(plans->size(), 4u);
  EXPECT_EQ((*plans)[0].ip_text, "127.33.0.254");
  EXPECT_EQ((*plans)[1].ip_text, "127.33.0.255");
  EXPECT_EQ((*plans)[2].ip_text, "127.33.1.0");
  EXPECT_EQ((*plans)[3].ip_text, "127.33.1.1");

  options.base = "127.255.255.250";
  options.count = 10;
  EXPECT_FALSE(PlanFarm(options).ok());
  options.base = "10.0.0.1";
  options.count = 1;
  EXPECT_FALSE(PlanFarm(options).ok());
  options.base = "127.33.0.1";
  options.count = 0;
  EXPECT_FALSE(PlanFarm(options).ok());
}

TEST(FarmPlanTest, FaultsAreExactDeterministicAndOnePerMiner) {
  FarmOptions options;
  options.base = "127.33.0.1";
  options.count = 200;
  options.seed = 7;
  for (const char* f : {"slow=10", "silent=5%", "reset=1", "deadboard=0.5%"}) {
    auto request = ParseFaultRequest(f);
    ASSERT_OK(request);
    options.faults.push_back(*request);
  }
  auto deny = ParseDenyRequest("25%");
  ASSERT_OK(deny);
  options.deny = *deny;
  auto a = PlanFarm(options);
  auto b = PlanFarm(options);
  ASSERT_OK(a);
  ASSERT_OK(b);
  int counts[kFaultCount] = {};
  int denied = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    ++counts[static_cast<int>((*a)[i].fault)];
    denied += (*a)[i].spec.deny_privileged;
    EXPECT_EQ((*a)[i].fault, (*b)[i].fault);
    EXPECT_EQ((*a)[i].spec.deny_privileged, (*b)[i].spec.deny_privileged);
    EXPECT_EQ((*a)[i].spec.dead_board, (*a)[i].fault == Fault::kDeadBoard);
  }
  EXPECT_EQ(counts[static_cast<int>(Fault::kSlow)], 10);
  EXPECT_EQ(counts[static_cast<int>(Fault::kSilent)], 10);
  EXPECT_EQ(counts[static_cast<int>(Fault::kReset)], 1);
  EXPECT_EQ(counts[static_cast<int>(Fault::kDeadBoard)], 1);
  EXPECT_EQ(counts[static_cast<int>(Fault::kNone)], 178);
  EXPECT_EQ(denied, 50);

  options.seed = 8;
  auto c = PlanFarm(options);
  ASSERT_OK(c);
  int moved = 0;
  for (size_t i = 0; i < a->size(); ++i) moved += (*a)[i].fault != (*c)[i].fault;
  EXPECT_GT(moved, 0);

  options.faults.push_back({Fault::kHuge, Share{190, 0, false}});
  EXPECT_FALSE(PlanFarm(options).ok());
  EXPECT_FALSE(ParseFaultRequest("slow").ok());
  EXPECT_FALSE(ParseFaultRequest("sloth=1").ok());
  EXPECT_FALSE(ParseFaultRequest("slow=-1").ok());
  EXPECT_FALSE(ParseFaultRequest("slow=101%").ok());
  EXPECT_FALSE(ParseDenyRequest("some").ok());
  EXPECT_FALSE(ParseModels("s9,t21").ok());  // a model the farm does not simulate
}

TEST(FarmPlanTest, ManifestLineDescribesTheMiner) {
  FarmOptions options;
  options.base = "127.33.0.1";
  options.count = 3;
  options.models = {ModelId::kS19Pro};
  options.faults = {{Fault::kDeadBoard, Share{3, 0, false}}};
  auto plans = PlanFarm(options);
  ASSERT_OK(plans);
  const nlohmann::json line = nlohmann::json::parse(ManifestLine((*plans)[1]));
  EXPECT_EQ(line["ip"], "127.33.0.2");
  EXPECT_EQ(line["port"], 4028);
  EXPECT_EQ(line["model"], "Antminer S19 Pro");
  EXPECT_EQ(line["worker"], "farm.w0002");
  EXPECT_EQ(line["fault"], "deadboard");
  EXPECT_EQ(line["hashrate_nominal"], 110e12);
  EXPECT_EQ(line["boards"], 3);
  EXPECT_EQ(line["deny_privileged"], false);
  EXPECT_EQ(line["dead_board"], 2);
}

// --machines puts the same machines at other addresses (a DHCP move or
// swap): model, worker and MAC follow the machine, faults stay with the plan.
TEST(FarmPlanTest, MachinesKeepTheirIdentityAtOtherAddresses) {
  FarmOptions options;
  options.base = "127.33.0.1";
  options.count = 3;
  options.models = {ModelId::kS9, ModelId::kS19Pro, ModelId::kL3Plus};
  auto before = PlanFarm(options);
  ASSERT_OK(before);
  options.machines = {1, 0, 5};
  auto after = PlanFarm(options);
  ASSERT_OK(after);
  auto manifest = [](const MinerPlan& plan) { return nlohmann::json::parse(ManifestLine(plan)); };
  const nlohmann::json first = manifest((*before)[0]);
  const nlohmann::json second = manifest((*before)[1]);
  const nlohmann::json swapped0 = manifest((*after)[0]);
  const nlohmann::json swapped1 = manifest((*after)[1]);
  EXPECT_EQ(swapped0["ip"], "127.33.0.1");
  for (const char* key : {"model", "worker", "mac", "hashrate_nominal"}) {
    EXPECT_EQ(swapped0[key], second[key]) << key;
    EXPECT_EQ(swapped1[key], first[key]) << key;
  }
  EXPECT_NE(first["mac"], second["mac"]);
  const nlohmann::json fresh = manifest((*after)[2]);
  EXPECT_EQ(fresh["worker"], "farm.w0006");
  EXPECT_EQ(fresh["model"], "Antminer L3+");  // machine 5: models[5 % 3]
  EXPECT_EQ(FakeMiner((*after)[0].spec, 0).serial(), FakeMiner((*before)[1].spec, 0).serial());

  options.machines = {0, 1};
  EXPECT_FALSE(PlanFarm(options).ok()) << "one machine per miner";
  options.machines = {0, 1, 1};
  EXPECT_FALSE(PlanFarm(options).ok()) << "a machine is at one address";
  options.machines = {0, 1, -1};
  EXPECT_FALSE(PlanFarm(options).ok());
}

TEST(FarmPlanTest, WebInterfaceIsInTheManifestAndNeedsItsOwnPort) {
  FarmOptions options;
  options.base = "127.33.0.1";
  options.count = 2;
  EXPECT_FALSE(nlohmann::json::parse(ManifestLine((*PlanFarm(options))[0])).contains("http_port"));
  const uint64_t api_only = FilesNeeded(options);
  options.http_port = 8080;
  auto plans = PlanFarm(options);
  ASSERT_OK(plans);
  const nlohmann::json line = nlohmann::json::parse(ManifestLine((*plans)[1]));
  EXPECT_EQ(line["port"], 4028);
  EXPECT_EQ(line["http_port"], 8080);
  EXPECT_EQ(FilesNeeded(options), api_only + 2) << "one more listening socket per miner";
  options.http_port = 4028;
  EXPECT_FALSE(PlanFarm(options).ok());
}

// ---------------------------------------------------------------------------
// The server, over real loopback sockets

int ConnectTo(const std::string& ip, uint16_t port, int* error) {
  const int fd = testing::ConnectTcp(ip, port);
  *error = fd < 0 ? errno : 0;
  return fd;
}

struct Reply {
  std::string bytes;
  int error = 0;  // errno of the connect or of the read that ended it; 0 for EOF
  double seconds = 0;
};

// One blocking exchange; the client never half-closes, as the real one.
Reply Exchange(const std::string& ip, std::string_view request, uint16_t port = 4028) {
  Reply r;
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = ConnectTo(ip, port, &r.error);
  if (fd < 0) return r;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buf[65536];
  while (true) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      r.bytes.append(buf, static_cast<size_t>(n));
      continue;
    }
    r.error = n == 0 ? 0 : errno;
    break;
  }
  close(fd);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/fake_miner_test_" + std::to_string(getpid()) + "_" + name;
}

// A FarmServer on its own thread, stopped through a pipe.
class InProcessFarm {
 public:
  explicit InProcessFarm(const FarmOptions& options) {
    auto plans = PlanFarm(options);
    EXPECT_OK(plans);
    plans_ = *plans;
    auto server = FarmServer::Create(options, *plans);
    EXPECT_OK(server);
    server_ = std::move(*server);
    EXPECT_EQ(pipe2(stop_, O_CLOEXEC), 0);
    thread_ = std::thread([this] {
      const Status status = server_->Run(stop_[0]);
      EXPECT_TRUE(status.ok()) << status.ToString();
    });
  }
  ~InProcessFarm() {
    const char byte = 1;
    EXPECT_EQ(write(stop_[1], &byte, 1), 1);
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
  }
  // The address of the first miner with `fault`.
  std::string With(Fault fault) const {
    for (const MinerPlan& p : plans_) {
      if (p.fault == fault) return p.ip_text;
    }
    ADD_FAILURE() << "no miner with fault " << ToString(fault);
    return "";
  }
  const std::vector<MinerPlan>& plans() const { return plans_; }
  FarmServer& server() { return *server_; }

 private:
  std::vector<MinerPlan> plans_;
  std::unique_ptr<FarmServer> server_;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

FarmOptions FaultFarm(const std::string& base) {
  FarmOptions options;
  options.base = base;
  options.count = 12;
  options.slow_ms = 1200;
  options.huge_bytes = 3 << 20;
  options.flap_period_s = 1;
  for (int f = 1; f < kFaultCount; ++f) {
    options.faults.push_back({static_cast<Fault>(f), Share{1, 0, false}});
  }
  return options;
}

TEST(FarmServerTest, EachFaultBehavesAsSpecified) {
  InProcessFarm farm(FaultFarm("127.33.1.1"));
  const std::string request(kPoll);

  // Healthy and dead-board miners answer at once with a parsable reply.
  for (Fault f : {Fault::kNone, Fault::kDeadBoard}) {
    SCOPED_TRACE(ToString(f));
    const Reply r = Exchange(farm.With(f), request);
    EXPECT_EQ(r.error, 0);
    EXPECT_LT(r.seconds, 0.5);
    EXPECT_OK(ParseMinerJson(r.bytes));
  }

  // Slow: the right answer, after --slow-ms; meanwhile the others still answer.
  std::thread slow_client([&] {
    const Reply r = Exchange(farm.With(Fault::kSlow), request);
    EXPECT_EQ(r.error, 0);
    EXPECT_GE(r.seconds, 1.15);
    EXPECT_LT(r.seconds, 3.0);
    EXPECT_OK(ParseMinerJson(r.bytes));
  });
  std::this_thread::sleep_for(100ms);
  const Reply during = Exchange(farm.With(Fault::kNone), request);
  EXPECT_LT(during.seconds, 0.5);
  EXPECT_OK(ParseMinerJson(during.bytes));

  // Silent: takes the request, answers nothing, keeps the connection open.
  {
    int error = 0;
    const int fd = ConnectTo(farm.With(Fault::kSilent), 4028, &error);
    ASSERT_GE(fd, 0) << std::strerror(error);
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
    pollfd p{fd, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 1000), 0) << "silent miner sent something or closed";
    close(fd);
  }

  // Reset: RST after reading the request.
  const Reply reset = Exchange(farm.With(Fault::kReset), request);
  EXPECT_EQ(reset.error, ECONNRESET);
  EXPECT_TRUE(reset.bytes.empty());

  // Garbage: bytes that no repair turns into JSON, then FIN.
  const Reply garbage = Exchange(farm.With(Fault::kGarbage), request);
  EXPECT_EQ(garbage.error, 0);
  EXPECT_GE(garbage.bytes.size(), 200u);
  EXPECT_FALSE(ParseMinerJson(garbage.bytes).ok());

  // Broken: a normal reply cut off, then FIN.
  const Reply broken = Exchange(farm.With(Fault::kBroken), request);
  EXPECT_EQ(broken.error, 0);
  EXPECT_GT(broken.bytes.size(), 1000u);
  EXPECT_EQ(broken.bytes.rfind("{\"summary\"", 0), 0u);
  EXPECT_FALSE(ParseMinerJson(broken.bytes).ok());

  // Huge: exactly --huge-bytes of a JSON prefix, then FIN.
  const Reply huge = Exchange(farm.With(Fault::kHuge), request);
  EXPECT_EQ(huge.error, 0);
  EXPECT_EQ(huge.bytes.size(), 3u << 20);
  EXPECT_EQ(huge.bytes.rfind("{\"STATUS\":[{\"STATUS\":\"S\"", 0), 0u);

  // Flapping: refused while down, answering while up.
  int refused = 0;
  int answered = 0;
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until && (refused < 2 || answered < 2)) {
    const Reply r = Exchange(farm.With(Fault::kFlapping), R"({"command":"version"})");
    if (r.error == ECONNREFUSED) {
      ++refused;
    } else if (r.error == 0 && ParseMinerJson(r.bytes).ok()) {
      ++answered;
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GE(refused, 2);
  EXPECT_GE(answered, 2);

  slow_client.join();
  EXPECT_GE(farm.server().exchanges(), 8u);
}

TEST(FarmServerTest, ActionLogRecordsACommandOnTheRightMinerOnly) {
  const std::string log_path = TempPath("actions.jsonl");
  unlink(log_path.c_str());
  FarmOptions options;
  options.base = "127.33.2.1";
  options.count = 8;
  options.action_log = log_path;
  options.deny = Share{0, 0, false};
  {
    InProcessFarm farm(options);
    const std::string target = farm.plans()[5].ip_text;
    const Reply added = Exchange(
        target, R"({"command":"addpool","parameter":"stratum+tcp://other.example:3333,w.x,x"})");
    ASSERT_EQ(added.error, 0);
    EXPECT_EQ(Status0(MustParse(added.bytes))["Code"], 55);
    // The pools of that miner show it; its neighbours' do not.
    EXPECT_EQ(MustParse(Exchange(target, "pools").bytes)["POOLS"].size(), 4u);
    EXPECT_EQ(MustParse(Exchange(farm.plans()[4].ip_text, "pools").bytes)["POOLS"].size(), 3u);
    // Reading commands are not logged.
    Exchange(farm.plans()[2].ip_text, std::string(kPoll));
  }
  std::ifstream in(log_path);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["ip"], "127.33.2.6");
  EXPECT_EQ(lines[0]["port"], 4028);
  EXPECT_EQ(lines[0]["command"], "addpool");
  EXPECT_EQ(lines[0]["parameter"], "stratum+tcp://other.example:3333,w.x,x");
  EXPECT_EQ(lines[0]["result"], "ok");
  EXPECT_NEAR(lines[0]["ts"].get<double>(), static_cast<double>(time(nullptr)), 60);
  unlink(log_path.c_str());
}

TEST(FarmServerTest, HostileClientsDoNotStopTheFarm) {
  FarmOptions options;
  options.base = "127.33.3.1";
  options.count = 2;
  InProcessFarm farm(options);
  const std::string ip = farm.plans()[0].ip_text;
  // A request over 64 KiB is dropped unanswered.
  const Reply oversized = Exchange(ip, "{\"command\":\"" + std::string(70000, 'a'));
  EXPECT_TRUE(oversized.bytes.empty());
  // Binary bytes are a text command that does not exist.
  const Reply binary = Exchange(ip, std::string("\x01\x02\xff\xfe\n", 5));
  EXPECT_EQ(Status0(MustParse(binary.bytes))["Code"], 14);
  // A client that connects and leaves at once.
  int error = 0;
  close(ConnectTo(ip, 4028, &error));
  // A JSON request split across writes is put together.
  {
    const int fd = ConnectTo(ip, 4028, &error);
    ASSERT_GE(fd, 0);
    send(fd, "{\"command\":", 11, MSG_NOSIGNAL);
    std::this_thread::sleep_for(50ms);
    send(fd, "\"version\"}", 10, MSG_NOSIGNAL);
    std::string bytes;
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      bytes.append(buf, static_cast<size_t>(n));
    close(fd);
    EXPECT_EQ(Status0(MustParse(bytes))["Code"], 22);
  }
  const Reply after = Exchange(farm.plans()[1].ip_text, std::string(kPoll));
  EXPECT_OK(ParseMinerJson(after.bytes));
}

TEST(FarmExecutableTest, ManifestReadyAndCleanExitOnSigterm) {
  const std::string log_path = TempPath("exe-actions.jsonl");
  unlink(log_path.c_str());
  asicmon::testing::Subprocess farm(
      {asicmon::testing::BinPath("asicmon-fakefarm"), "--base", "127.33.4.1", "--count", "6",
       "--models", "s9,l3plus", "--deny-privileged", "all", "--manifest", "-", "--action-log",
       log_path, "--fault", "reset=1"},
      /*capture_stderr=*/true);
  ASSERT_TRUE(farm.WaitForStdout("READY 6\n", 10s)) << farm.stdout_text() << farm.stderr_text();
  std::istringstream out(farm.stdout_text());
  std::vector<nlohmann::json> manifest;
  for (std::string line; std::getline(out, line) && line.rfind("READY", 0) != 0;) {
    manifest.push_back(nlohmann::json::parse(line));
  }
  ASSERT_EQ(manifest.size(), 6u);
  EXPECT_EQ(manifest[1]["model"], "Antminer L3+");
  EXPECT_EQ(manifest[1]["hashrate_nominal"], 504e6);
  EXPECT_EQ(manifest[5]["worker"], "farm.w0006");
  EXPECT_EQ(manifest[0]["deny_privileged"], true);

  std::string healthy;
  for (const auto& m : manifest) {
    if (m["fault"] == "none") healthy = m["ip"];
  }
  const Reply denied = Exchange(healthy, "restart");
  EXPECT_EQ(Status0(MustParse(denied.bytes))["Code"], 45);

  farm.Signal(SIGTERM);
  EXPECT_EQ(farm.Wait(5s), 0);
  EXPECT_NE(farm.stderr_text().find("served"), std::string::npos) << farm.stderr_text();
  std::ifstream in(log_path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(nlohmann::json::parse(line)["result"], "denied");
  unlink(log_path.c_str());
}

TEST(FarmExecutableTest, BadConfigurationExitsWithTwo) {
  for (std::vector<std::string> args : {
           std::vector<std::string>{"--base", "10.0.0.1", "--count", "1"},
           std::vector<std::string>{"--base", "127.33.5.1", "--count", "2", "--fault", "slow=3"},
           std::vector<std::string>{"--base", "127.33.5.1", "--count", "2", "--models", "t21"},
           std::vector<std::string>{"--count", "x"},
       }) {
    args.insert(args.begin(), asicmon::testing::BinPath("asicmon-fakefarm"));
    asicmon::testing::Subprocess farm(args, /*capture_stderr=*/true);
    EXPECT_EQ(farm.Wait(5s), 2) << farm.stderr_text();
  }
}

}  // namespace
}  // namespace asicmon::fakefarm
