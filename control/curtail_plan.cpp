#include "curtail_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>

namespace asicmon::control {
namespace {

struct NominalRow {
  std::string_view model;  // Record::model, compared without case
  double watts;
};

// Nameplate wall power at stock settings, from the makers' figures as public
// spec tables give them:
//  [a] miningstore.com, "The Definitive Guide to Antminer S19 Series Bitcoin
//      Miners" (S19 95 TH 3250 W, S19 Pro 110 TH 3250 W, S19j 90 TH 3250 W,
//      S19j Pro 100 TH 3050 W, T19 84 TH 3150 W);
//  [b] github.com/nhamilton1/asics-tools, src/utils/asic-queries/asicWattList.ts
//      (S9 13.5 TH 1323 W, S19 XP 140 TH 3010 W, M31S 74 TH 3404 W,
//      AvalonMiner 1246 90 TH 3420 W);
//  [c] BTCWire, "Antminer S21 review" (hackernoon, 2024-03-11): Bitmain's
//      200 TH at 17.5 J/TH, i.e. 3500 W (the fake farm's S21 reports the same);
//  [d] a public mining calculator's model table (S17 Pro 53 TH 2094 W), found
//      by text search; the index did not name its repository, so it is the
//      weakest row here.
// Where a model comes in several hashrate bins, the row is the common bin.
constexpr std::array<NominalRow, 12> kNominal = {{
    {"Antminer S9", 1323},        // [b]
    {"Antminer S17 Pro", 2094},   // [d]
    {"Antminer S19", 3250},       // [a]
    {"Antminer S19 Pro", 3250},   // [a][b]
    {"Antminer S19j", 3250},      // [a]
    {"Antminer S19j Pro", 3050},  // [a]
    {"Antminer S19 XP", 3010},    // [b]
    {"Antminer T19", 3150},       // [a]
    {"Antminer S21", 3500},       // [c]
    {"WhatsMiner M31S", 3404},    // [b]
    {"AvalonMiner 1246", 3420},   // [b]
    {"Avalon 1246", 3420},        // [b], as some firmware names it
}};

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool Offers(const driver::Capabilities& caps, driver::PowerMode mode) {
  return caps.Supports(driver::Action::kPowerMode) &&
         std::find(caps.power_modes.begin(), caps.power_modes.end(), mode) !=
             caps.power_modes.end();
}

// What `m` draws while held by `t`: its own reading once one came after the
// step took, else what the step was expected to leave.
double HeldDraw(const PlanMiner& m, const Touch& t) {
  if (m.draw == PlanMiner::Draw::kMeasured && m.ts > t.done_at) return m.draw_w;
  return t.expected_draw_w;
}

// The step that sheds from `m` at most `want` W (a power limit where it has
// one, then a low mode, then sleep); nullopt when it can do none.
std::optional<PlannedStep> StepFor(const PlanMiner& m, double want) {
  PlannedStep s{.ip = m.ip,
                .worker = m.worker,
                .model = m.model,
                .step = CurtailStep::kSleep,
                .limit_w = std::nullopt,
                .draw_before_w = m.draw_w,
                .expected_draw_w = 0,
                .release = false};
  const bool can_sleep =
      m.caps.Supports(driver::Action::kSleep) && m.caps.Supports(driver::Action::kWake);
  const auto& limit = m.caps.power_limit;
  if (m.caps.Supports(driver::Action::kPowerLimit) && limit && limit->min_w < m.draw_w) {
    const double wanted = std::max<double>(limit->min_w, std::ceil(m.draw_w - want));
    const int watts = static_cast<int>(std::min<double>(wanted, limit->max_w));
    // A limit that deep is a sleep that still draws: a btminer's range goes
    // down to 1 W, where it hashes next to nothing and is not asleep.
    if (watts < m.draw_w && (watts >= kMinLimitShare * m.draw_w || !can_sleep)) {
      s.step = CurtailStep::kPowerLimit;
      s.limit_w = watts;
      s.expected_draw_w = watts;
      return s;
    }
  }
  // A low mode only where it sheds what is wanted: more is a sleep.
  if (Offers(m.caps, driver::PowerMode::kLow) &&
      (want <= m.draw_w * kLowModeShare || !can_sleep)) {
    s.step = CurtailStep::kLowMode;
    s.expected_draw_w = m.draw_w * (1 - kLowModeShare);
    return s;
  }
  if (can_sleep) return s;
  return std::nullopt;
}

}  // namespace

std::optional<CurtailStrategy> ParseCurtailStrategy(std::string_view text) {
  if (text == "least-efficient-first") return CurtailStrategy::kLeastEfficientFirst;
  return std::nullopt;
}

std::string_view ToString(CurtailStrategy) { return "least-efficient-first"; }

std::string_view ToString(CurtailStep step) {
  switch (step) {
    case CurtailStep::kSleep:
      return "sleep";
    case CurtailStep::kLowMode:
      return "low_mode";
    case CurtailStep::kPowerLimit:
      return "power_limit";
  }
  return "sleep";
}

std::string_view ToString(PlanMiner::Draw draw) {
  switch (draw) {
    case PlanMiner::Draw::kMeasured:
      return "measured";
    case PlanMiner::Draw::kNominal:
      return "nominal";
    case PlanMiner::Draw::kAsleep:
      return "asleep";
    case PlanMiner::Draw::kDown:
      return "down";
    case PlanMiner::Draw::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<double> NominalPowerW(std::string_view model) {
  for (const NominalRow& row : kNominal) {
    if (SameText(row.model, model)) return row.watts;
  }
  return std::nullopt;
}

PlanMiner AssessMiner(const Record& r, driver::Capabilities caps) {
  PlanMiner m{.ip = r.ip,
              .worker = r.worker,
              .model = r.model,
              .ts = r.ts,
              .draw_w = 0,
              .draw = PlanMiner::Draw::kUnknown,
              .j_per_th = r.efficiency_j_per_th,
              .caps = std::move(caps)};
  const bool reading = r.power_w && std::isfinite(*r.power_w) && *r.power_w >= 0;
  if (r.sleeping) {
    m.draw = PlanMiner::Draw::kAsleep;
    if (reading) m.draw_w = *r.power_w;
  } else if (r.status != MinerStatus::kOk) {
    m.draw = PlanMiner::Draw::kDown;
  } else if (reading) {
    m.draw = PlanMiner::Draw::kMeasured;
    m.draw_w = *r.power_w;
  } else if (const auto nominal = NominalPowerW(r.model)) {
    m.draw = PlanMiner::Draw::kNominal;
    m.draw_w = *nominal;
  }
  // Without a reported efficiency, the nominal one: draw per 1e12 of the
  // miner's own nominal rate (J/TH on SHA-256), the unit Record uses.
  if (!m.j_per_th && m.draw_w > 0 && r.hashrate_expected && *r.hashrate_expected > 0) {
    m.j_per_th = m.draw_w / (*r.hashrate_expected / 1e12);
  }
  return m;
}

Plan PlanCurtailment(const std::vector<PlanMiner>& miners, const std::map<std::string, Touch>& held,
                     const std::set<std::string>& skip, const PlanInput& input) {
  Plan plan;
  std::vector<const PlanMiner*> candidates;
  std::vector<std::pair<const PlanMiner*, const Touch*>> holding;
  for (const PlanMiner& m : miners) {
    const auto h = held.find(m.ip);
    if (h != held.end()) {
      const double now = HeldDraw(m, h->second);
      plan.farm_w += now;
      plan.held_shed_w += std::max(0.0, h->second.draw_before_w - now);
      holding.emplace_back(&m, &h->second);
      continue;
    }
    plan.farm_w += m.draw_w;
    if (m.draw == PlanMiner::Draw::kMeasured) plan.measured_w += m.draw_w;
    if (m.draw == PlanMiner::Draw::kNominal) {
      plan.nominal_w += m.draw_w;
      ++plan.nominal_miners;
    }
    if (m.draw == PlanMiner::Draw::kUnknown) ++plan.unknown_miners;
    const bool up = m.draw == PlanMiner::Draw::kMeasured || m.draw == PlanMiner::Draw::kNominal;
    if (up && m.draw_w > 0 && !m.worker.empty() && !skip.contains(m.ip)) candidates.push_back(&m);
  }

  // Least efficient first; a miner whose efficiency is unknown after every
  // known one, the larger draw first; then by address, so plans repeat.
  auto less_efficient = [](const PlanMiner* a, const PlanMiner* b) {
    if (a->j_per_th.has_value() != b->j_per_th.has_value()) return a->j_per_th.has_value();
    if (a->j_per_th && *a->j_per_th != *b->j_per_th) return *a->j_per_th > *b->j_per_th;
    if (a->draw_w != b->draw_w) return a->draw_w > b->draw_w;
    return a->ip < b->ip;
  };

  double need = plan.farm_w - input.target_w;
  if (need > 0) {
    std::sort(candidates.begin(), candidates.end(), less_efficient);
    double allowance = input.max_shed_w;
    for (const PlanMiner* m : candidates) {
      if (need <= 0) break;
      std::optional<PlannedStep> step = StepFor(*m, std::min(need, allowance));
      if (!step) continue;
      const double shed = step->draw_before_w - step->expected_draw_w;
      if (shed > allowance) {
        plan.ramp_limited = true;
        break;
      }
      need -= shed;
      allowance -= shed;
      plan.planned_shed_w += shed;
      plan.steps.push_back(std::move(*step));
    }
    if (need > 0 && !plan.ramp_limited) {
      plan.reachable = false;
      plan.note = fmt::format(
          "the target is out of reach: with every miner that can shed picked, {:.0f} W would "
          "remain above it",
          need);
    } else if (plan.ramp_limited) {
      plan.note = fmt::format("the ramp holds back the rest: {:.0f} W still to shed", need);
    }
  } else if (!holding.empty()) {
    // Well below the target: give back the most efficient held miners
    // while the farm stays under it by the margin.
    std::sort(holding.begin(), holding.end(),
              [&](const auto& a, const auto& b) { return less_efficient(b.first, a.first); });
    const double ceiling = input.target_w * (1 - input.release_margin);
    double farm = plan.farm_w;
    for (const auto& [m, t] : holding) {
      const double back = std::max(0.0, t->draw_before_w - HeldDraw(*m, *t));
      if (farm + back > ceiling) continue;
      farm += back;
      plan.planned_shed_w -= back;
      plan.steps.push_back({.ip = m->ip,
                            .worker = t->worker,
                            .model = t->model,
                            .step = t->step,
                            .limit_w = t->limit_w,
                            .draw_before_w = HeldDraw(*m, *t),
                            .expected_draw_w = t->draw_before_w,
                            .release = true});
    }
  }
  if (plan.farm_w <= input.target_w && plan.steps.empty() && held.empty()) {
    plan.note = "nothing to shed: the farm draws no more than the target";
  }
  if (plan.nominal_miners > 0) {
    const std::string counted = fmt::format(
        "{} miners report no power and are counted at their model's nominal power ({:.0f} W)",
        plan.nominal_miners, plan.nominal_w);
    plan.note = plan.note.empty() ? counted : plan.note + "; " + counted;
  }
  return plan;
}

nlohmann::json PlanJson(const Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const PlannedStep& s : plan.steps) {
    nlohmann::json step = {{"ip", s.ip},
                           {"worker", s.worker},
                           {"model", s.model},
                           {"step", ToString(s.step)},
                           {"release", s.release},
                           {"draw_before_w", s.draw_before_w},
                           {"expected_draw_w", s.expected_draw_w}};
    if (s.limit_w) step["limit_w"] = *s.limit_w;
    steps.push_back(std::move(step));
  }
  return {{"farm_w", plan.farm_w},
          {"measured_w", plan.measured_w},
          {"nominal_w", plan.nominal_w},
          {"nominal_miners", plan.nominal_miners},
          {"unknown_miners", plan.unknown_miners},
          {"planned_shed_w", plan.planned_shed_w},
          {"reachable", plan.reachable},
          {"ramp_limited", plan.ramp_limited},
          {"note", plan.note},
          {"steps", std::move(steps)}};
}

}  // namespace asicmon::control
