// Timed scenarios of the fake farm: ParseScenario's verdict on good and bad
// lines, and FakeMiner's runtime changes (temperature offset, dead board,
// stopped fans) as the normaliser reads them from every model's replies.
// Binds nothing: the running farm is tested in scenario_fakefarm_test.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "asicmon/record.h"
#include "fake_miner.h"
#include "farm_server.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

constexpr double kNow = 1.7e9;
constexpr std::string_view kPoll = R"({"command":"summary+stats+pools"})";

std::vector<MinerPlan> Plans(int count) {
  FarmOptions options;
  options.base = "127.44.0.1";
  options.count = count;
  options.models = {ModelId::kS9, ModelId::kS19Pro};
  auto plans = PlanFarm(options);
  EXPECT_OK(plans);
  return plans.ok() ? *plans : std::vector<MinerPlan>();
}

Record Poll(FakeMiner& miner, double now) {
  auto reply = testing::ParseMinerJson(miner.Handle(kPoll, now));
  EXPECT_OK(reply);
  Record record = testing::NormaliseJson(reply.ok() ? *reply : nlohmann::json());
  EXPECT_EQ(record.status, MinerStatus::kOk) << record.error;
  return record;
}

FakeMinerSpec Spec(ModelId model) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 5;
  return spec;
}

TEST(ParseScenarioTest, ReadsEveryChangeAndOrdersByTime) {
  const std::vector<MinerPlan> plans = Plans(3);
  auto steps = ParseScenario(
      "{\"at_s\": 9, \"miner\": 2, \"fans_stopped\": 1}\n"
      "\n"
      "{\"at_s\": 2.5, \"miner\": 0, \"fault\": \"silent\"}\n"
      "{\"at_s\": 5, \"ip\": \"127.44.0.2\", \"temp_offset\": 30, \"dead_board\": true}\r\n"
      "{\"at_s\": 2.5, \"miner\": 1, \"fault\": \"none\", \"temp_offset\": 0}\n"
      "{\"at_s\": 12, \"miner\": 1, \"sleeping\": true}\n",
      plans);
  ASSERT_OK(steps);
  ASSERT_EQ(steps->size(), 5u);
  const ScenarioStep& a = (*steps)[0];
  EXPECT_EQ(a.line, 3);
  EXPECT_EQ(a.at_s, 2.5);
  EXPECT_EQ(a.miner, 0u);
  EXPECT_EQ(a.fault, Fault::kSilent);
  EXPECT_FALSE(a.temp_offset || a.dead_board || a.fans_stopped);
  // Same time: file order.
  EXPECT_EQ((*steps)[1].line, 5);
  EXPECT_EQ(Describe((*steps)[1]), "fault=none temp_offset=0");
  const ScenarioStep& c = (*steps)[2];
  EXPECT_EQ(c.miner, 1u);
  EXPECT_EQ(c.temp_offset, 30);
  EXPECT_EQ(c.dead_board, true);
  EXPECT_EQ(Describe(c), "temp_offset=30 dead_board=true");
  EXPECT_EQ((*steps)[3].fans_stopped, 1);
  EXPECT_EQ((*steps)[3].at_s, 9);
  EXPECT_EQ((*steps)[4].sleeping, true);
  EXPECT_EQ(Describe((*steps)[4]), "sleeping=true");
}

TEST(ParseScenarioTest, HugeAndFlappingSwitchAtRuntime) {
  auto steps = ParseScenario(
      "{\"at_s\": 1, \"miner\": 0, \"fault\": \"huge\"}\n"
      "{\"at_s\": 1, \"miner\": 1, \"fault\": \"flapping\"}\n",
      Plans(2));
  ASSERT_OK(steps);
  ASSERT_EQ(steps->size(), 2u);
  EXPECT_EQ((*steps)[0].fault, Fault::kHuge);
  EXPECT_EQ((*steps)[1].fault, Fault::kFlapping);
  EXPECT_EQ(Describe((*steps)[1]), "fault=flapping");
}

TEST(ParseScenarioTest, EmptyFileIsNoSteps) {
  auto steps = ParseScenario("\n  \n", Plans(1));
  ASSERT_OK(steps);
  EXPECT_TRUE(steps->empty());
}

TEST(ParseScenarioTest, BadLinesAreRefusedByLineNumber) {
  const std::vector<MinerPlan> plans = Plans(3);
  const std::string good = "{\"at_s\": 1, \"miner\": 0, \"fault\": \"slow\"}\n";
  struct Case {
    std::string line;
    std::string says;
  };
  const Case cases[] = {
      {"{\"at_s\": 1, \"miner\": 0, \"fault\": \"slow\"", "not JSON"},
      {"[1, 2]", "not a JSON object"},
      {"{\"at_s\": 1, \"miner\": 0, \"colour\": \"red\"}", "unknown key 'colour'"},
      {"{\"at_s\": -1, \"miner\": 0, \"temp_offset\": 5}", "at_s -1"},
      {"{\"at_s\": \"soon\", \"miner\": 0, \"temp_offset\": 5}", "at_s \"soon\""},
      {"{\"miner\": 0, \"temp_offset\": 5}", "no at_s"},
      {"{\"at_s\": 1, \"miner\": 3, \"temp_offset\": 5}", "miner 3 is out of range"},
      {"{\"at_s\": 1, \"miner\": -1, \"temp_offset\": 5}", "miner -1 is out of range"},
      {"{\"at_s\": 1, \"ip\": \"127.44.0.9\", \"temp_offset\": 5}", "ip \"127.44.0.9\""},
      {"{\"at_s\": 1, \"miner\": 0, \"ip\": \"127.44.0.1\", \"temp_offset\": 5}", "miner once"},
      {"{\"at_s\": 1, \"temp_offset\": 5}", "no miner"},
      {"{\"at_s\": 1, \"miner\": 0}", "no change"},
      {"{\"at_s\": 1, \"miner\": 0, \"fault\": \"deadboard\"}", "cannot switch at runtime"},
      {"{\"at_s\": 1, \"miner\": 0, \"fault\": \"melted\"}", "cannot switch at runtime"},
      {"{\"at_s\": 1, \"miner\": 0, \"temp_offset\": 2.5}", "temp_offset 2.5"},
      {"{\"at_s\": 1, \"miner\": 0, \"dead_board\": 1}", "dead_board must be"},
      // Miner 0 is an S9, which has two fans.
      {"{\"at_s\": 1, \"miner\": 0, \"fans_stopped\": 3}", "(s9) has 2 fans"},
      {"{\"at_s\": 1, \"miner\": 0, \"fans_stopped\": -1}", "fans_stopped -1"},
      {"{\"at_s\": 1, \"miner\": 1, \"sleeping\": \"yes\"}", "sleeping must be"},
      {"{\"at_s\": 1, \"miner\": 0, \"sleeping\": true}", "(s9) has no sleep"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    auto steps = ParseScenario(good + "\n" + c.line + "\n" + good, plans);
    ASSERT_FALSE(steps.ok());
    EXPECT_EQ(steps.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(steps.status().message().find("line 3: "), std::string::npos)
        << steps.status().message();
    EXPECT_NE(steps.status().message().find(c.says), std::string::npos) << steps.status().message();
  }
}

// Per-board chip sensors and chip states are Bitmain's; the AvalonMiners' are
// in fakefarm_avalon_test.
TEST(FakeMinerScenarioTest, TempOffsetRaisesEveryModelsTemperaturesAndReverts) {
  for (const ModelSpec& model : AntminerModels()) {
    SCOPED_TRACE(model.key);
    // Two miners with the same seed draw the same noise, so only the offset differs.
    FakeMiner plain(Spec(model.id), kNow);
    FakeMiner hot(Spec(model.id), kNow);
    hot.SetTempOffset(30);
    const Record before = Poll(plain, kNow + 60);
    const Record after = Poll(hot, kNow + 60);
    ASSERT_TRUE(before.temp_max.has_value());
    ASSERT_TRUE(after.temp_max.has_value());
    EXPECT_EQ(*after.temp_max, *before.temp_max + 30);
    ASSERT_EQ(after.boards.size(), before.boards.size());
    for (size_t b = 0; b < after.boards.size(); ++b) {
      ASSERT_TRUE(after.boards[b].temp_chip.has_value());
      EXPECT_EQ(*after.boards[b].temp_chip, *before.boards[b].temp_chip + 30);
    }
    hot.SetTempOffset(0);
    EXPECT_EQ(Poll(hot, kNow + 120).temp_max, Poll(plain, kNow + 120).temp_max);
  }
}

TEST(FakeMinerScenarioTest, DeadBoardDiesAndComesBack) {
  for (const ModelSpec& model : AntminerModels()) {
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(model.id), kNow);
    auto dead_boards = [&](const Record& r) {
      int dead = 0;
      for (const BoardStats& board : r.boards) {
        if (board.hashrate.value_or(-1) == 0 &&
            board.chips_failed.value_or(0) == model.chips_per_board) {
          ++dead;
        }
      }
      return dead;
    };
    EXPECT_EQ(dead_boards(Poll(miner, kNow + 10)), 0);
    EXPECT_EQ(miner.dead_chain(), -1);

    miner.SetDeadBoard(true);
    const Record dead = Poll(miner, kNow + 20);
    EXPECT_EQ(dead_boards(dead), 1);
    EXPECT_GE(miner.dead_chain(), model.first_chain);
    const double alive = model.hashrate_nominal * (model.boards - 1) / model.boards;
    ASSERT_TRUE(dead.hashrate.has_value());
    EXPECT_NEAR(*dead.hashrate, alive, 0.05 * alive);

    miner.SetDeadBoard(false);
    const Record back = Poll(miner, kNow + 30);
    EXPECT_EQ(dead_boards(back), 0);
    ASSERT_TRUE(back.hashrate.has_value());
    EXPECT_NEAR(*back.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
  }
}

TEST(FakeMinerScenarioTest, StoppedFansReportZeroRpm) {
  for (const ModelSpec& model : AllModels()) {
    SCOPED_TRACE(model.key);
    if (!GenericPollReadsAll(model.id)) continue;  // Braiins OS+: fakefarm_braiins_test
    FakeMiner miner(Spec(model.id), kNow);
    const auto fans = static_cast<size_t>(FanCount(model.id));
    const Record turning = Poll(miner, kNow + 10);
    ASSERT_EQ(turning.fans.size(), fans);
    for (int32_t rpm : turning.fans) EXPECT_GT(rpm, 0);

    miner.SetFansStopped(1);
    const Record one = Poll(miner, kNow + 20);
    ASSERT_EQ(one.fans.size(), fans);
    EXPECT_EQ(std::count(one.fans.begin(), one.fans.end(), 0), 1);

    miner.SetFansStopped(FanCount(model.id));
    const Record all = Poll(miner, kNow + 30);
    ASSERT_EQ(all.fans.size(), fans);
    EXPECT_EQ(std::count(all.fans.begin(), all.fans.end(), 0), static_cast<long>(fans));

    miner.SetFansStopped(0);
    const Record again = Poll(miner, kNow + 40);
    ASSERT_EQ(again.fans.size(), fans);
    for (int32_t rpm : again.fans) EXPECT_GT(rpm, 0);
  }
}

}  // namespace
}  // namespace asicmon::fakefarm
