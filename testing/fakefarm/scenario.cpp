// A --scenario file: timed changes to one miner at a time, parsed and
// checked against the farm's plan before the farm starts.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "asicmon/log.h"
#include "farm_plan.h"

namespace asicmon::fakefarm {
namespace {

// Bounds at_s so its milliseconds fit any clock arithmetic: a year.
constexpr double kMaxScenarioS = 365 * 86400;

// The value of `v` when it is an integer from lo to hi.
std::optional<int64_t> IntIn(const nlohmann::json& v, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(hi) && static_cast<int64_t>(u) >= lo) {
      return static_cast<int64_t>(u);
    }
    return std::nullopt;
  }
  if (!v.is_number_integer()) return std::nullopt;
  const auto i = v.get<int64_t>();
  if (i < lo || i > hi) return std::nullopt;
  return i;
}

bool SwitchesAtRuntime(Fault fault) {
  switch (fault) {
    case Fault::kNone:
    case Fault::kSlow:
    case Fault::kSilent:
    case Fault::kReset:
    case Fault::kGarbage:
    case Fault::kBroken:
    case Fault::kHuge:
    case Fault::kFlapping:
      return true;
    case Fault::kDeadBoard:  // the step's dead_board key does it
      return false;
  }
  return false;
}

}  // namespace

std::string Describe(const ScenarioStep& step) {
  std::string out;
  auto add = [&out](std::string_view key, const auto& value) {
    fmt::format_to(std::back_inserter(out), "{}{}={}", out.empty() ? "" : " ", key, value);
  };
  if (step.fault) add("fault", ToString(*step.fault));
  if (step.temp_offset) add("temp_offset", *step.temp_offset);
  if (step.dead_board) add("dead_board", *step.dead_board);
  if (step.fans_stopped) add("fans_stopped", *step.fans_stopped);
  if (step.sleeping) add("sleeping", *step.sleeping);
  return out;
}

Result<std::vector<ScenarioStep>> ParseScenario(std::string_view text,
                                                const std::vector<MinerPlan>& plans) {
  std::vector<ScenarioStep> steps;
  int line_no = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    ++line_no;
    auto bad = [line_no](std::string_view why) {
      return Status::InvalidArgument(fmt::format("line {}: {}", line_no, why));
    };
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad("not JSON");
    if (!j.is_object()) return bad("not a JSON object");
    ScenarioStep step;
    step.line = line_no;
    bool has_at = false;
    bool has_miner = false;
    for (const auto& [key, value] : j.items()) {
      if (key == "at_s") {
        if (!value.is_number() || !(value.get<double>() >= 0) ||
            value.get<double>() > kMaxScenarioS) {
          return bad(fmt::format("at_s {} is not seconds from 0 to {:.0f}",
                                 SafeForLog(value.dump(), 40), kMaxScenarioS));
        }
        step.at_s = value.get<double>();
        has_at = true;
      } else if (key == "miner" || key == "ip") {
        if (has_miner) return bad("give the miner once, by miner or by ip");
        has_miner = true;
        if (key == "miner") {
          const auto index = IntIn(value, 0, static_cast<int64_t>(plans.size()) - 1);
          if (!index) {
            return bad(fmt::format("miner {} is out of range: the farm has miners 0 to {}",
                                   SafeForLog(value.dump(), 40), plans.size() - 1));
          }
          step.miner = static_cast<uint32_t>(*index);
        } else {
          const auto it = value.is_string()
                              ? std::find_if(plans.begin(), plans.end(),
                                             [&value](const MinerPlan& p) {
                                               return p.ip_text == value.get<std::string>();
                                             })
                              : plans.end();
          if (it == plans.end()) {
            return bad(fmt::format("ip {} is no miner of the farm", SafeForLog(value.dump(), 40)));
          }
          step.miner = static_cast<uint32_t>(it - plans.begin());
        }
      } else if (key == "fault") {
        const std::optional<Fault> fault =
            value.is_string() ? ParseFault(value.get<std::string>()) : std::nullopt;
        if (!fault || !SwitchesAtRuntime(*fault)) {
          return bad(fmt::format(
              "fault {} cannot switch at runtime (none, slow, silent, reset, garbage, broken, "
              "huge, flapping; dead_board for a dead board)",
              SafeForLog(value.dump(), 40)));
        }
        step.fault = fault;
      } else if (key == "temp_offset") {
        const auto celsius = IntIn(value, -100, 200);
        if (!celsius) {
          return bad(fmt::format("temp_offset {} is not whole °C from -100 to 200",
                                 SafeForLog(value.dump(), 40)));
        }
        step.temp_offset = static_cast<int>(*celsius);
      } else if (key == "dead_board") {
        if (!value.is_boolean()) return bad("dead_board must be true or false");
        step.dead_board = value.get<bool>();
      } else if (key == "fans_stopped") {
        const auto count = IntIn(value, 0, std::numeric_limits<int>::max());
        if (!count) {
          return bad(
              fmt::format("fans_stopped {} is not a count of fans", SafeForLog(value.dump(), 40)));
        }
        step.fans_stopped = static_cast<int>(*count);
      } else if (key == "sleeping") {
        if (!value.is_boolean()) return bad("sleeping must be true or false");
        step.sleeping = value.get<bool>();
      } else {
        return bad(fmt::format(
            "unknown key '{}' (at_s, miner, ip, fault, temp_offset, dead_board, fans_stopped, "
            "sleeping)",
            SafeForLog(key, 40)));
      }
    }
    if (!has_at) return bad("no at_s");
    if (!has_miner) return bad("no miner (give miner or ip)");
    if (!step.fault && !step.temp_offset && !step.dead_board && !step.fans_stopped &&
        !step.sleeping) {
      return bad("no change (fault, temp_offset, dead_board, fans_stopped or sleeping)");
    }
    const ModelId model = plans[step.miner].spec.model;
    if (step.sleeping && !CanSleep(model)) {
      return bad(
          fmt::format("sleeping: miner {} ({}) has no sleep", step.miner, GetModel(model).key));
    }
    if (step.fans_stopped && *step.fans_stopped > FanCount(model)) {
      return bad(fmt::format("fans_stopped {}: miner {} ({}) has {} fans", *step.fans_stopped,
                             step.miner, GetModel(model).key, FanCount(model)));
    }
    steps.push_back(step);
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.at_s < b.at_s; });
  return steps;
}

}  // namespace asicmon::fakefarm
