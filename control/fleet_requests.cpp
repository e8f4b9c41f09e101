#include "fleet_requests.h"


#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "asicmon/clock.h"
#include "asicmon/health.h"
#include "asicmon/targets.h"

namespace asicmon::control {
namespace {

constexpr double kWeek = 7 * 86400;

constexpr std::array<std::pair<ActionKind, std::string_view>, 7> kActionNames = {{
    {ActionKind::kReset, "reset"},
    {ActionKind::kReboot, "reboot"},
    {ActionKind::kPool, "pool"},
    {ActionKind::kSleep, "sleep"},
    {ActionKind::kWake, "wake"},
    {ActionKind::kLocate, "locate"},
    {ActionKind::kPower, "power"},
}};

Status Bad(std::string message) { return Status::InvalidArgument(std::move(message)); }

// "" when absent. A present but empty criterion is refused: it would match
// every miner, so {"model": ""} would silently act on the whole farm.
Result<std::string> OptionalString(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end()) return std::string();
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return Bad(fmt::format("select.{} must be a non-empty string (cidr 0.0.0.0/0 selects every "
                           "miner)", key));
  }
  return it->get<std::string>();
}

Result<MinerSelector> ParseSelector(const nlohmann::json& select) {
  if (!select.is_object() || select.empty()) {
    return Bad("'select' must be an object with at least one of ips, cidr, model, "
               "worker_prefix, status (cidr 0.0.0.0/0 selects every miner)");
  }
  static const std::set<std::string> kKeys = {"ips", "cidr", "model", "worker_prefix", "status"};
  for (const auto& [key, value] : select.items()) {
    if (!kKeys.contains(key)) {
      return Bad(fmt::format("select has no criterion {} (ips, cidr, model, worker_prefix, "
                             "status)", Shown(key)));
    }
  }
  MinerSelector s;
  if (auto ips = select.find("ips"); ips != select.end()) {
    if (!ips->is_array() || ips->empty() || ips->size() > kMaxSelectIps) {
      return Bad(fmt::format("select.ips must be a list of 1..{} addresses", kMaxSelectIps));
    }
    for (const nlohmann::json& ip : *ips) {
      if (!ip.is_string()) return Bad("select.ips must hold strings");
      if (Status v = ValidateIp(ip.get<std::string>()); !v.ok()) return v;
      s.ips.push_back(ip.get<std::string>());
    }
  }
  Result<std::string> cidr = OptionalString(select, "cidr");
  if (!cidr.ok()) return cidr.status();
  if (!cidr->empty()) {
    Result<Cidr> parsed = ParseCidr(*cidr);
    if (!parsed.ok()) return parsed.status();
    s.cidr = *parsed;
    s.cidr_text = *cidr;
  }
  for (auto [key, into] : {std::pair{"model", &s.model}, std::pair{"worker_prefix", &s.worker_prefix},
                           std::pair{"status", &s.status}}) {
    Result<std::string> value = OptionalString(select, key);
    if (!value.ok()) return value.status();
    if (value->size() > kMaxFieldBytes) {
      return Bad(fmt::format("select.{} is longer than {} bytes", key, kMaxFieldBytes));
    }
    *into = std::move(*value);
  }
  if (!s.status.empty() && s.status != "sleeping" && !ParseMinerStatus(s.status)) {
    return Bad("select.status must be sleeping or a record status: ok, timeout, refused, reset, "
               "parse_error, too_large, auth_error, api_error");
  }
  return s;
}

Result<double> Seconds(const nlohmann::json& rule, const char* key, double fallback,
                       const std::string& where) {
  auto it = rule.find(key);
  if (it == rule.end()) return fallback;
  if (!it->is_number() || !std::isfinite(it->get<double>()) || *it < 0 || *it > kWeek) {
    return Bad(fmt::format("{}.{} must be seconds 0..604800", where, key));
  }
  return it->get<double>();
}

Result<int> Count(const nlohmann::json& object, const char* key, int fallback, int min, int max,
                  const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (!it->is_number_integer() || *it < min || *it > max) {
    return Bad(fmt::format("{}.{} must be an integer {}..{}", where, key, min, max));
  }
  return it->get<int>();
}

// The string at `key`, or "" when absent or not a string.
std::string StringAt(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

std::string_view ToString(ActionKind kind) {
  for (const auto& [k, name] : kActionNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<ActionKind> ParseActionKind(std::string_view name) {
  for (const auto& [k, n] : kActionNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

std::string ActionKindList() {
  std::string out;
  for (const auto& [k, name] : kActionNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Role RequiredRole(ActionKind kind) {
  // Pools and power move money (where the hashes go, what the farm draws).
  return kind == ActionKind::kPool || kind == ActionKind::kPower ? Role::kAdmin : Role::kOperator;
}

bool IsHoldingKind(std::string_view kind) {
  return IsHealthKind(kind) && kind != "pool_changed" && kind != "rebooted" &&
         kind != kRemediationFailed;
}

bool MinerSelector::Matches(const Record& r) const {
  if (!ips.empty() && std::find(ips.begin(), ips.end(), r.ip) == ips.end()) return false;
  if (cidr) {
    Result<uint32_t> address = ParseIpv4(r.ip);
    if (!address.ok() || !cidr->Contains(*address)) return false;
  }
  if (!model.empty() && r.model != model) return false;
  if (!worker_prefix.empty() && !r.worker.starts_with(worker_prefix)) return false;
  if (status == "sleeping") return r.sleeping;
  if (!status.empty() && ToString(r.status) != status) return false;
  return true;
}

nlohmann::json MinerSelector::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  if (!ips.empty()) out["ips"] = ips;
  if (cidr) out["cidr"] = cidr_text;
  if (!model.empty()) out["model"] = model;
  if (!worker_prefix.empty()) out["worker_prefix"] = worker_prefix;
  if (!status.empty()) out["status"] = status;
  return out;
}

nlohmann::json BulkRequest::ParamsJson(bool with_password) const {
  switch (kind) {
    case ActionKind::kPool: {
      nlohmann::json pools = nlohmann::json::array();
      for (const driver::PoolSetting& p : pool.pools) {
        nlohmann::json one = {{"url", p.url}, {"user", p.user}};
        if (with_password) one["password"] = p.password;
        pools.push_back(std::move(one));
      }
      // One pool keeps the form it was asked in.
      if (pools.size() == 1) return pools[0];
      return {{"pools", std::move(pools)}};
    }
    case ActionKind::kPower:
      if (power.mode) return {{"mode", driver::ToString(*power.mode)}};
      return {{"limit_w", power.limit_w.value_or(0)}};
    case ActionKind::kLocate:
      return {{"on", on}};
    case ActionKind::kReboot:
      return {{"wait", wait}};
    default:
      return nlohmann::json::object();
  }
}

Result<BulkRequest> ParseBulkRequest(std::string_view text) {
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_object()) {
    return Bad("body must be a JSON object {\"action\":…,\"select\":{…},\"params\":{…},"
               "\"max_parallel\":20,\"dry_run\":false}");
  }
  static const std::set<std::string> kKeys = {"action", "select", "params", "max_parallel",
                                              "dry_run"};
  for (const auto& [key, value] : body.items()) {
    if (!kKeys.contains(key)) return Bad(fmt::format("unknown field {}", Shown(key)));
  }
  BulkRequest r;
  const auto action = body.find("action");
  std::optional<ActionKind> kind;
  if (action != body.end() && action->is_string()) kind = ParseActionKind(action->get<std::string>());
  if (!kind) return Bad("'action' must be one of " + ActionKindList());
  r.kind = *kind;
  const auto select = body.find("select");
  if (select == body.end()) return Bad("'select' is required");
  Result<MinerSelector> selector = ParseSelector(*select);
  if (!selector.ok()) return selector.status();
  r.select = std::move(*selector);

  const nlohmann::json params = body.value("params", nlohmann::json::object());
  if (!params.is_object()) return Bad("'params' must be an object");
  auto flag = [&](const char* key, bool& into) -> Status {
    auto it = params.find(key);
    if (it == params.end()) return Status::Ok();
    if (!it->is_boolean()) return Bad(fmt::format("params.{} must be true or false", key));
    into = it->get<bool>();
    return Status::Ok();
  };
  switch (r.kind) {
    case ActionKind::kPool: {
      Result<PoolChange> pool = PoolChangeFromJson(params);
      if (!pool.ok()) return Bad("params: " + pool.status().message());
      r.pool = std::move(*pool);
      break;
    }
    case ActionKind::kPower: {
      Result<PowerChange> power = PowerChangeFromJson(params);
      if (!power.ok()) return Bad("params: " + power.status().message());
      r.power = *power;
      break;
    }
    case ActionKind::kLocate:
      if (!params.contains("on")) return Bad("params.on (true or false) is required for locate");
      if (Status s = flag("on", r.on); !s.ok()) return s;
      break;
    case ActionKind::kReboot:
      if (Status s = flag("wait", r.wait); !s.ok()) return s;
      if (params.size() > (params.contains("wait") ? 1u : 0u)) {
        return Bad("reboot takes only params.wait (a bulk job never forces past the cooldown)");
      }
      break;
    default:
      if (!params.empty()) return Bad(fmt::format("{} takes no params", ToString(r.kind)));
  }
  if (auto it = body.find("max_parallel"); it != body.end()) {
    if (!it->is_number_integer() || *it < 1 || *it > kMaxParallelLimit) {
      return Bad(fmt::format("max_parallel must be an integer 1..{}", kMaxParallelLimit));
    }
    r.max_parallel = it->get<int>();
  }
  if (auto it = body.find("dry_run"); it != body.end()) {
    if (!it->is_boolean()) return Bad("dry_run must be true or false");
    r.dry_run = it->get<bool>();
  }
  return r;
}

// "HH:MM" as minutes after midnight.
std::optional<int> ParseClock(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  return ParseClockMinute(value.get<std::string>());
}

bool QuietWindow::Contains(double unix_s) const {
  const int minute = static_cast<int>(std::fmod(std::floor(unix_s / 60), 24 * 60));
  if (from_minute <= to_minute) return minute >= from_minute && minute < to_minute;
  return minute >= from_minute || minute < to_minute;
}

Result<RemediationConfig> ParseRemediationConfig(std::string_view text) {
  const nlohmann::json root = nlohmann::json::parse(text, nullptr, false);
  if (!root.is_object()) return Bad("the rules file must hold one JSON object");
  static const std::set<std::string> kTop = {"rules", "max_concurrent", "quiet_hours"};
  for (const auto& [key, value] : root.items()) {
    if (!kTop.contains(key)) return Bad(fmt::format("unknown field {}", Shown(key)));
  }
  RemediationConfig config;
  Result<int> concurrent = Count(root, "max_concurrent", config.max_concurrent, 1, 1000, "top level");
  if (!concurrent.ok()) return concurrent.status();
  config.max_concurrent = *concurrent;

  const nlohmann::json quiet = root.value("quiet_hours", nlohmann::json::array());
  if (!quiet.is_array()) return Bad("'quiet_hours' must be a list");
  for (const nlohmann::json& window : quiet) {
    const auto from = window.is_object() ? ParseClock(window.value("from", nlohmann::json())) : std::nullopt;
    const auto to = window.is_object() ? ParseClock(window.value("to", nlohmann::json())) : std::nullopt;
    if (!from || !to || *from == *to) {
      return Bad("quiet_hours entries must be {\"from\": \"HH:MM\", \"to\": \"HH:MM\"} (UTC, "
                 "different times)");
    }
    config.quiet_hours.push_back({*from, *to});
  }

  const nlohmann::json rules = root.value("rules", nlohmann::json::array());
  if (!rules.is_array()) return Bad("'rules' must be a list");
  std::set<std::string> names;
  static const std::set<std::string> kRuleKeys = {
      "name", "kind", "action", "hold_s", "grace_s", "max_per_miner_per_day", "max_per_hour"};
  for (size_t i = 0; i < rules.size(); ++i) {
    const nlohmann::json& r = rules[i];
    std::string where = fmt::format("rules[{}]", i);
    if (!r.is_object()) return Bad(where + " must be an object");
    for (const auto& [key, value] : r.items()) {
      if (!kRuleKeys.contains(key)) {
        return Bad(fmt::format("{} has an unknown field {}", where, Shown(key)));
      }
    }
    RemediationRule rule;
    rule.name = StringAt(r, "name");
    if (rule.name.empty() || rule.name.size() > 64 ||
        rule.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_") != std::string::npos) {
      return Bad(where + ".name must be 1..64 of a-z 0-9 - _");
    }
    where = fmt::format("rule '{}'", rule.name);
    if (!names.insert(rule.name).second) return Bad(where + " is defined twice");
    rule.kind = StringAt(r, "kind");
    if (!IsHoldingKind(rule.kind)) {
      return Bad(fmt::format("{}.kind must be one of offline, overheat, board_dead, "
                             "chips_failed, hashrate_low, fan_stopped, rejected_high",
                             where));
    }
    const auto action = ParseActionKind(StringAt(r, "action"));
    if (!action || *action == ActionKind::kPool || *action == ActionKind::kWake) {
      return Bad(where + ".action must be one of reboot, reset, sleep, locate");
    }
    rule.action = *action;
    for (auto [key, into] : {std::pair{"hold_s", &rule.hold_s}, std::pair{"grace_s", &rule.grace_s}}) {
      Result<double> s = Seconds(r, key, *into, where);
      if (!s.ok()) return s.status();
      *into = *s;
    }
    Result<int> per_miner = Count(r, "max_per_miner_per_day", rule.max_per_miner_per_day, 1, 100, where);
    if (!per_miner.ok()) return per_miner.status();
    rule.max_per_miner_per_day = *per_miner;
    Result<int> per_hour = Count(r, "max_per_hour", rule.max_per_hour, 0, 100000, where);
    if (!per_hour.ok()) return per_hour.status();
    rule.max_per_hour = *per_hour;
    config.rules.push_back(std::move(rule));
  }
  return config;
}

Result<RemediationConfig> LoadRemediationConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError(fmt::format("cannot read the rules file {}", path));
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1 << 20)) return Bad(fmt::format("{}: larger than 1 MiB", path));
  Result<RemediationConfig> config = ParseRemediationConfig(text.str());
  if (!config.ok()) return Bad(fmt::format("{}: {}", path, config.status().message()));
  return config;
}

}  // namespace asicmon::control
