// POST /curtail's body and the CURTAIL_WINDOWS file: hostile text to checked values.
#include "curtail_config.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace asicmon::control {
namespace {

constexpr double kMaxKw = 1e6;            // a gigawatt: more is a typo
constexpr double kMaxUntilS = 7 * 86400;  // a curtailment of more than a week is a mistake
constexpr int kMaxParallel = 500;

Status Bad(std::string message) { return Status::InvalidArgument(std::move(message)); }

// A finite number in [min, max] at `key`; nullopt when absent.
Result<std::optional<double>> Number(const nlohmann::json& object, const char* key, double min,
                                     double max, bool min_open = false) {
  const auto it = object.find(key);
  if (it == object.end()) return std::optional<double>();
  if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() > max ||
      it->get<double>() < min || (min_open && it->get<double>() == min)) {
    return Bad(fmt::format("{} must be a number {} {} and at most {}", key,
                           min_open ? ">" : ">=", min, max));
  }
  return std::optional<double>(it->get<double>());
}

}  // namespace

Result<CurtailRequest> ParseCurtailRequest(std::string_view body, double now) {
  const nlohmann::json root = nlohmann::json::parse(body, nullptr, false);
  if (!root.is_object()) return Bad("the body must be one JSON object");
  static const std::set<std::string> kKnown = {
      "target_kw", "strategy", "ramp_kw_per_min", "until", "dry_run", "max_parallel", "replace"};
  for (const auto& [key, value] : root.items()) {
    if (!kKnown.contains(key)) {
      return Bad(fmt::format("unknown field {}", Shown(key)));
    }
  }
  CurtailRequest r;
  Result<std::optional<double>> target = Number(root, "target_kw", 0, kMaxKw);
  if (!target.ok()) return target.status();
  if (!*target) return Bad("target_kw is required: the farm's draw to reach, in kW");
  r.target_w = **target * 1000;
  if (const auto it = root.find("strategy"); it != root.end()) {
    const auto strategy =
        it->is_string() ? ParseCurtailStrategy(it->get<std::string>()) : std::nullopt;
    if (!strategy) return Bad("strategy must be \"least-efficient-first\"");
    r.strategy = *strategy;
  }
  Result<std::optional<double>> ramp = Number(root, "ramp_kw_per_min", 0, kMaxKw, true);
  if (!ramp.ok()) return ramp.status();
  if (*ramp) r.ramp_w_per_min = **ramp * 1000;
  Result<std::optional<double>> until = Number(root, "until", now, now + kMaxUntilS, true);
  if (!until.ok()) {
    return Bad("until must be a unix time (s) in the future, within a week");
  }
  r.until = *until;
  for (auto [key, flag] : {std::pair{"dry_run", &r.dry_run}, std::pair{"replace", &r.replace}}) {
    if (const auto it = root.find(key); it != root.end()) {
      if (!it->is_boolean()) return Bad(fmt::format("{} must be true or false", key));
      *flag = it->get<bool>();
    }
  }
  if (const auto it = root.find("max_parallel"); it != root.end()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > kMaxParallel) {
      return Bad(fmt::format("max_parallel must be an integer 1..{}", kMaxParallel));
    }
    r.max_parallel = static_cast<int>(it->get<int64_t>());
  }
  return r;
}

Result<std::vector<CurtailWindow>> ParseCurtailWindows(std::string_view text) {
  const nlohmann::json root = nlohmann::json::parse(text, nullptr, false);
  if (!root.is_object() || root.size() != 1 || !root.contains("windows") ||
      !root["windows"].is_array()) {
    return Bad("the windows file must be {\"windows\": [...]}");
  }
  std::vector<CurtailWindow> windows;
  for (const nlohmann::json& w : root["windows"]) {
    if (!w.is_object()) return Bad("each window must be an object");
    for (const auto& [key, value] : w.items()) {
      if (key != "from" && key != "to" && key != "target_kw" && key != "ramp_kw_per_min") {
        return Bad(fmt::format("unknown window field {}", Shown(key)));
      }
    }
    const auto from = ParseClock(w.value("from", nlohmann::json()));
    const auto to = ParseClock(w.value("to", nlohmann::json()));
    if (!from || !to || *from == *to) {
      return Bad("a window's from and to must be \"HH:MM\" (UTC), different times");
    }
    Result<std::optional<double>> target = Number(w, "target_kw", 0, kMaxKw);
    if (!target.ok()) return target.status();
    if (!*target) return Bad("each window needs target_kw");
    Result<std::optional<double>> ramp = Number(w, "ramp_kw_per_min", 0, kMaxKw, true);
    if (!ramp.ok()) return ramp.status();
    CurtailWindow window{
        .when = {*from, *to}, .target_w = **target * 1000, .ramp_w_per_min = std::nullopt};
    if (*ramp) window.ramp_w_per_min = **ramp * 1000;
    for (const CurtailWindow& other : windows) {
      // Two windows holding different targets at the same minute would fight.
      for (int m : {window.when.from_minute, other.when.from_minute}) {
        if (window.when.Contains(m * 60.0) && other.when.Contains(m * 60.0)) {
          return Bad("windows must not overlap");
        }
      }
    }
    windows.push_back(window);
  }
  return windows;
}

Result<std::vector<CurtailWindow>> LoadCurtailWindows(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("cannot read CURTAIL_WINDOWS file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  Result<std::vector<CurtailWindow>> windows = ParseCurtailWindows(text.str());
  if (!windows.ok()) return Status::InvalidArgument(path + ": " + windows.status().message());
  return windows;
}

}  // namespace asicmon::control
