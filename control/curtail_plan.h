// Farm curtailment's planner: from every miner's newest record and what its
// driver can do, whom to power-limit, put in low power mode or put to sleep
// so that the farm's draw falls to a target, within a ramp; and whom to give
// back once the draw is well below it. Pure: no I/O, no clock, no threads.
//
// The draw of a miner is what it reports (Record::power_w); a miner that
// reports none is counted at its model's nominal power (NominalPowerW), and
// the plan says how many were; a miner asleep or down counts 0 W.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/driver.h"
#include "asicmon/record.h"

namespace asicmon::control {

enum class CurtailStrategy { kLeastEfficientFirst };
std::optional<CurtailStrategy> ParseCurtailStrategy(std::string_view text);
std::string_view ToString(CurtailStrategy strategy);  // "least-efficient-first"

// The nameplate wall power of `model` (Record::model) from public spec
// sheets (the table in curtail_plan.cpp cites each), in W; nullopt when the
// table has no row for it.
std::optional<double> NominalPowerW(std::string_view model);

// What a low power mode is assumed to save, as a share of the draw, until
// the miner's own readings show it: no public spec sheet gives a figure.
inline constexpr double kLowModeShare = 0.25;
// The deepest power limit the planner sets, as a share of the miner's draw;
// where more is wanted of a miner that can sleep, it sleeps.
inline constexpr double kMinLimitShare = 0.4;

// One miner as the planner sees it.
struct PlanMiner {
  enum class Draw { kMeasured, kNominal, kAsleep, kDown, kUnknown };
  std::string ip;
  std::string worker;
  std::string model;
  double ts = 0;      // of its record
  double draw_w = 0;  // what it counts for now (0 unless kMeasured or kNominal)
  Draw draw = Draw::kUnknown;
  std::optional<double> j_per_th;  // efficiency, reported or from the nominal figures
  driver::Capabilities caps;
};
std::string_view ToString(PlanMiner::Draw draw);

// `record` with `caps` (MinerActions::Describe) as the planner counts it.
PlanMiner AssessMiner(const Record& record, driver::Capabilities caps);

enum class CurtailStep { kSleep, kLowMode, kPowerLimit };
std::string_view ToString(CurtailStep step);  // "sleep", "low_mode", "power_limit"

// What curtailment did to a miner it holds, and how to give it back.
struct Touch {
  std::string worker;
  std::string model;
  CurtailStep step = CurtailStep::kSleep;
  std::optional<int> limit_w;  // kPowerLimit: the limit set
  // The state before, as its firmware reported it; restored at the end.
  std::optional<driver::PowerMode> previous_mode;
  std::optional<int> previous_limit_w;
  double draw_before_w = 0;    // when picked
  double expected_draw_w = 0;  // once the step took
  double done_at = 0;          // unix s when confirmed
};

struct PlannedStep {
  std::string ip;
  std::string worker;
  std::string model;
  CurtailStep step = CurtailStep::kSleep;
  std::optional<int> limit_w;  // kPowerLimit
  double draw_before_w = 0;
  double expected_draw_w = 0;
  bool release = false;  // give this miner back instead
};

struct Plan {
  double farm_w = 0;          // the draw counted now (held miners at what they draw)
  double measured_w = 0;      // of that, from miners' own readings
  double nominal_w = 0;       // of that, at nominal power
  size_t nominal_miners = 0;  // counted at nominal power
  size_t unknown_miners = 0;  // up, no reading, no nominal figure: not counted
  double held_shed_w = 0;     // what the held miners shed (their before minus now)
  std::vector<PlannedStep> steps;
  double planned_shed_w = 0;  // what `steps` shed (releases count negative)
  bool reachable = true;      // false: every candidate would not reach the target
  bool ramp_limited = false;  // steps stopped at the ramp's allowance
  std::string note;           // why, in a sentence, when not simply on its way
};

struct PlanInput {
  double target_w = 0;
  CurtailStrategy strategy = CurtailStrategy::kLeastEfficientFirst;
  // How much more may be shed by this plan's steps (the ramp's allowance
  // left); infinity when no ramp.
  double max_shed_w = 0;
  // Miners given back only while the farm stays this far below the target,
  // so a release does not push it over again at once. Default: 3 %.
  double release_margin = 0.03;
};

// The steps that bring the farm from `miners` to input.target_w. `held`:
// the miners curtailment holds now (by ip); `skip`: miners not to pick
// (failed, capped). Sheds least efficient first, preferring a power limit,
// then a low mode, then sleep; releases the most efficient held miners first.
Plan PlanCurtailment(const std::vector<PlanMiner>& miners, const std::map<std::string, Touch>& held,
                     const std::set<std::string>& skip, const PlanInput& input);

nlohmann::json PlanJson(const Plan& plan);

}  // namespace asicmon::control
