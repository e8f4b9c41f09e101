// Curtailment's planner (whom to shed, in what order, within the ramp, at
// nominal power where a miner reports none) and its hostile inputs: the
// POST /curtail body and the time-of-use windows file.
#include "curtail.h"

#include <gtest/gtest.h>

#include <limits>

#include "curtail_plan.h"

namespace asicmon::control {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

driver::Capabilities SleepOnly() { return {}; }
driver::Capabilities WithLow() {
  driver::Capabilities c;
  c.power_modes = {driver::PowerMode::kNormal, driver::PowerMode::kLow};
  return c;
}
driver::Capabilities WithLimit(int min_w, int max_w) {
  driver::Capabilities c;
  c.power_limit = driver::PowerLimitRange{min_w, max_w};
  return c;
}
driver::Capabilities Nothing() {
  driver::Capabilities c;
  for (driver::Action a : driver::kAllActions) c.unsupported[a] = "no driver";
  return c;
}

Record Miner(std::string ip, std::string model, std::optional<double> power_w,
             std::optional<double> j_per_th) {
  Record r;
  r.ip = std::move(ip);
  r.worker = "w." + r.ip;
  r.model = std::move(model);
  r.status = MinerStatus::kOk;
  r.ts = 100;
  r.power_w = power_w;
  r.efficiency_j_per_th = j_per_th;
  r.hashrate_expected = 100e12;
  return r;
}

PlanInput Target(double target_w, double max_shed_w = kInf) {
  return {.target_w = target_w,
          .strategy = CurtailStrategy::kLeastEfficientFirst,
          .max_shed_w = max_shed_w,
          .release_margin = 0.03};
}

std::vector<std::string> Ips(const Plan& plan) {
  std::vector<std::string> ips;
  for (const PlannedStep& s : plan.steps) ips.push_back(s.ip);
  return ips;
}

TEST(CurtailPlanTest, ShedsLeastEfficientFirstUntilTheTargetIsReached) {
  const std::vector<PlanMiner> miners = {
      AssessMiner(Miner("10.0.0.1", "x", 3000, 20), SleepOnly()),
      AssessMiner(Miner("10.0.0.2", "x", 3000, 40), SleepOnly()),
      AssessMiner(Miner("10.0.0.3", "x", 3000, 30), SleepOnly()),
      AssessMiner(Miner("10.0.0.4", "x", 3000, 25), SleepOnly())};
  const Plan plan = PlanCurtailment(miners, {}, {}, Target(7000));
  EXPECT_DOUBLE_EQ(plan.farm_w, 12000);
  // 5,000 W to shed: the 40 then the 30 J/TH miner (6,000 W), no more.
  EXPECT_EQ(Ips(plan), (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_DOUBLE_EQ(plan.planned_shed_w, 6000);
  EXPECT_TRUE(plan.reachable);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kSleep);
}

TEST(CurtailPlanTest, PrefersAPowerLimitThenALowModeOverSleep) {
  const std::vector<PlanMiner> miners = {
      AssessMiner(Miner("10.0.0.1", "x", 3000, 40), WithLimit(1000, 3500)),
      AssessMiner(Miner("10.0.0.2", "x", 3000, 35), WithLow()),
      AssessMiner(Miner("10.0.0.3", "x", 3000, 30), SleepOnly())};
  // 9,000 W drawn, 500 W to shed: the limit takes it exactly.
  Plan plan = PlanCurtailment(miners, {}, {}, Target(8500));
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kPowerLimit);
  EXPECT_EQ(plan.steps[0].limit_w, 2500);
  // 4,000 W: a limit of 1,000 W is under 40 % of the first miner's draw and
  // the low mode would shed less than wanted of the second: both sleep.
  plan = PlanCurtailment(miners, {}, {}, Target(5000));
  ASSERT_EQ(plan.steps.size(), 2u);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kSleep);
  EXPECT_EQ(plan.steps[1].step, CurtailStep::kSleep);
  EXPECT_EQ(Ips(plan), (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
}

TEST(CurtailPlanTest, ALowModeWhereItShedsEnoughAndNeverALimitNearZero) {
  // A btminer's limit range starts at 1 W: wanting its whole draw is a sleep.
  const std::vector<PlanMiner> whatsminer = {
      AssessMiner(Miner("10.0.0.1", "x", 3300, 40), WithLimit(1, 99999))};
  Plan plan = PlanCurtailment(whatsminer, {}, {}, Target(0));
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kSleep);
  // 500 W from a miner whose low mode sheds 750: the low mode.
  const std::vector<PlanMiner> luxos = {
      AssessMiner(Miner("10.0.0.2", "x", 3000, 40), WithLow()),
      AssessMiner(Miner("10.0.0.3", "x", 3000, 30), SleepOnly())};
  plan = PlanCurtailment(luxos, {}, {}, Target(5500));
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kLowMode);
  EXPECT_DOUBLE_EQ(plan.steps[0].expected_draw_w, 3000 * (1 - kLowModeShare));
  // A miner that cannot sleep still gives what its low mode or limit can.
  driver::Capabilities no_sleep = WithLow();
  no_sleep.unsupported[driver::Action::kSleep] = "the Nano has no softoff";
  const std::vector<PlanMiner> nano = {AssessMiner(Miner("10.0.0.4", "x", 3000, 40), no_sleep)};
  plan = PlanCurtailment(nano, {}, {}, Target(0));
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_EQ(plan.steps[0].step, CurtailStep::kLowMode);
  EXPECT_FALSE(plan.reachable);
}

TEST(CurtailPlanTest, TheRampLimitsWhatOnePlanSheds) {
  std::vector<PlanMiner> miners;
  for (int i = 1; i <= 5; ++i) {
    miners.push_back(
        AssessMiner(Miner("10.0.0." + std::to_string(i), "x", 2000, 50.0 - i), SleepOnly()));
  }
  const Plan plan = PlanCurtailment(miners, {}, {}, Target(2000, 4500));
  EXPECT_EQ(plan.steps.size(), 2u);  // 4,000 W of the 8,000 asked; a third would pass 4,500
  EXPECT_TRUE(plan.ramp_limited);
  EXPECT_TRUE(plan.reachable);
  EXPECT_NE(plan.note.find("ramp"), std::string::npos);
}

TEST(CurtailPlanTest, AMinerWithoutAReadingCountsAtItsModelsNominalPowerAndSaysSo) {
  const std::vector<PlanMiner> miners = {
      AssessMiner(Miner("10.0.0.1", "Antminer S19 Pro", std::nullopt, std::nullopt), SleepOnly()),
      AssessMiner(Miner("10.0.0.2", "Antminer S21", 3400, 17), SleepOnly()),
      AssessMiner(Miner("10.0.0.3", "Unheard Of X1", std::nullopt, std::nullopt), SleepOnly())};
  EXPECT_EQ(miners[0].draw, PlanMiner::Draw::kNominal);
  EXPECT_DOUBLE_EQ(miners[0].draw_w, 3250);
  // Its efficiency from the nominal figures: 3,250 W over 100 TH/s.
  EXPECT_DOUBLE_EQ(*miners[0].j_per_th, 32.5);
  EXPECT_EQ(miners[2].draw, PlanMiner::Draw::kUnknown);
  const Plan plan = PlanCurtailment(miners, {}, {}, Target(4000));
  EXPECT_DOUBLE_EQ(plan.farm_w, 3250 + 3400);
  EXPECT_EQ(plan.nominal_miners, 1u);
  EXPECT_EQ(plan.unknown_miners, 1u);
  EXPECT_NE(plan.note.find("nominal"), std::string::npos);
  EXPECT_EQ(Ips(plan), std::vector<std::string>{"10.0.0.1"});  // 32.5 J/TH before 17
}

TEST(CurtailPlanTest, NothingToShedWhenTheFarmIsAlreadyBelowTheTarget) {
  const std::vector<PlanMiner> miners = {
      AssessMiner(Miner("10.0.0.1", "x", 3000, 30), SleepOnly())};
  const Plan plan = PlanCurtailment(miners, {}, {}, Target(5000));
  EXPECT_TRUE(plan.steps.empty());
  EXPECT_TRUE(plan.reachable);
  EXPECT_NE(plan.note.find("nothing to shed"), std::string::npos);
}

TEST(CurtailPlanTest, AnImpossibleTargetShedsWhatItCanAndSaysHowFarOff) {
  const std::vector<PlanMiner> miners = {
      AssessMiner(Miner("10.0.0.1", "x", 3000, 30), SleepOnly()),
      AssessMiner(Miner("10.0.0.2", "x", 3000, 40), Nothing()),  // no driver
  };
  const Plan plan = PlanCurtailment(miners, {}, {}, Target(1000));
  EXPECT_EQ(Ips(plan), std::vector<std::string>{"10.0.0.1"});
  EXPECT_FALSE(plan.reachable);
  EXPECT_NE(plan.note.find("2000 W would remain"), std::string::npos) << plan.note;
}

TEST(CurtailPlanTest, SkipsAsleepDownSkippedAndHeldMinersAndGivesBackWhenWellBelow) {
  Record asleep = Miner("10.0.0.1", "x", std::nullopt, 20);
  asleep.sleeping = true;
  Record down = Miner("10.0.0.2", "Antminer S19 Pro", std::nullopt, 50);
  down.status = MinerStatus::kTimeout;
  std::vector<PlanMiner> miners = {AssessMiner(asleep, SleepOnly()), AssessMiner(down, SleepOnly()),
                                   AssessMiner(Miner("10.0.0.3", "x", 3000, 45), SleepOnly()),
                                   AssessMiner(Miner("10.0.0.4", "x", 3000, 30), SleepOnly())};
  EXPECT_DOUBLE_EQ(miners[1].draw_w, 0);
  Plan plan = PlanCurtailment(miners, {}, {"10.0.0.3"}, Target(1000));
  EXPECT_EQ(Ips(plan), std::vector<std::string>{"10.0.0.4"});

  // 10.0.0.4 held asleep (0 W, 3,000 before): the farm at 3,000 W. With the
  // target raised to 7,000 W it is given back (6,000 W <= 97 % of 7,000).
  std::map<std::string, Touch> held;
  held["10.0.0.4"] = Touch{.worker = "w",
                           .model = "x",
                           .step = CurtailStep::kSleep,
                           .limit_w = std::nullopt,
                           .previous_mode = std::nullopt,
                           .previous_limit_w = std::nullopt,
                           .draw_before_w = 3000,
                           .expected_draw_w = 0,
                           .done_at = 200};
  plan = PlanCurtailment(miners, held, {}, Target(7000));
  EXPECT_DOUBLE_EQ(plan.farm_w, 3000);
  EXPECT_DOUBLE_EQ(plan.held_shed_w, 3000);
  ASSERT_EQ(plan.steps.size(), 1u);
  EXPECT_TRUE(plan.steps[0].release);
  // Within the margin it stays held: 6,000 W > 97 % of 6,100.
  plan = PlanCurtailment(miners, held, {}, Target(6100));
  EXPECT_TRUE(plan.steps.empty());
}

TEST(CurtailRequestTest, HostileBodiesAreRefusedNamingTheField) {
  const double now = 1'000'000;
  auto r = ParseCurtailRequest(
      R"({"target_kw": 600, "strategy": "least-efficient-first", "ramp_kw_per_min": 100,
          "until": 1003600, "dry_run": false, "max_parallel": 20})",
      now);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->target_w, 600000);
  EXPECT_DOUBLE_EQ(*r->ramp_w_per_min, 100000);
  EXPECT_DOUBLE_EQ(*r->until, 1003600);
  EXPECT_EQ(r->max_parallel, 20);
  for (const char* bad :
       {"", "[]", "{}", R"({"target_kw": -1})", R"({"target_kw": "5"})", R"({"target_kw": 1e300})",
        R"({"target_kw": 5, "strategy": "random"})", R"({"target_kw": 5, "ramp_kw_per_min": 0})",
        R"({"target_kw": 5, "until": 999999})", R"({"target_kw": 5, "until": 9e9})",
        R"({"target_kw": 5, "dry_run": 1})", R"({"target_kw": 5, "max_parallel": 0})",
        R"({"target_kw": 5, "max_parallel": 2.5})", R"({"target_kw": 5, "extra": true})"}) {
    EXPECT_FALSE(ParseCurtailRequest(bad, now).ok()) << bad;
  }
}

TEST(CurtailWindowsTest, DailyWindowsParseAndOverlapsOrBadTimesAreRefused) {
  auto w = ParseCurtailWindows(
      R"({"windows": [{"from": "17:00", "to": "21:00", "target_kw": 500},
                      {"from": "23:00", "to": "01:30", "target_kw": 800, "ramp_kw_per_min": 50}]})");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_EQ(w->size(), 2u);
  EXPECT_DOUBLE_EQ((*w)[0].target_w, 500000);
  EXPECT_TRUE((*w)[0].when.Contains(18 * 3600));
  EXPECT_FALSE((*w)[0].when.Contains(21 * 3600));
  EXPECT_TRUE((*w)[1].when.Contains(86400 + 3600));  // past midnight
  EXPECT_DOUBLE_EQ(*(*w)[1].ramp_w_per_min, 50000);
  for (const char* bad :
       {"", R"({"windows": {}})",
        R"({"windows": [{"from": "17:00", "to": "17:00", "target_kw": 1}]})",
        R"({"windows": [{"from": "25:00", "to": "17:00", "target_kw": 1}]})",
        R"({"windows": [{"from": "17:00", "to": "18:00"}]})",
        R"({"windows": [{"from": "17:00", "to": "18:00", "target_kw": 1, "x": 1}]})",
        R"({"windows": [{"from": "17:00", "to": "19:00", "target_kw": 1},
                        {"from": "18:00", "to": "20:00", "target_kw": 2}]})"}) {
    EXPECT_FALSE(ParseCurtailWindows(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace asicmon::control
