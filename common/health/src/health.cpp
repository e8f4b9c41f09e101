#include "asicmon/health.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "asicmon/config.h"
#include "asicmon/events.h"

namespace asicmon {
namespace {

struct ConditionInfo {
  uint32_t bit;
  std::string_view kind;
  std::string_view severity;
};

// Bits as in HealthEngine::Condition.
constexpr ConditionInfo kConditions[] = {
    {1 << 0, "offline", "critical"},      {1 << 1, "overheat", "critical"},
    {1 << 2, "board_dead", "critical"},   {1 << 3, "chips_failed", "warning"},
    {1 << 4, "hashrate_low", "warning"},  {1 << 5, "fan_stopped", "critical"},
    {1 << 6, "rejected_high", "warning"},
};

const ConditionInfo* FindCondition(uint32_t bit) {
  for (const ConditionInfo& c : kConditions) {
    if (c.bit == bit) return &c;
  }
  return nullptr;
}

const ConditionInfo* FindCondition(std::string_view kind) {
  for (const ConditionInfo& c : kConditions) {
    if (c.kind == kind) return &c;
  }
  return nullptr;
}

std::string MinerKey(const std::string& ip, uint16_t port) {
  return ip + ":" + std::to_string(port);
}

// url|user of the pool in use: the active one, else the first alive.
std::string PoolInUse(const Record& r) {
  const PoolInfo* use = nullptr;
  for (const PoolInfo& p : r.pools) {
    if (p.active) {
      use = &p;
      break;
    }
  }
  if (!use && !r.pools.empty()) use = &r.pools.front();
  return use ? use->url + "|" + use->user : std::string();
}

Status ParseTempLimits(const std::string& text, std::vector<std::pair<std::string, double>>& out) {
  std::vector<std::pair<std::string, double>> limits;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("ALERT_TEMP_MAX_BY_MODEL: '" + item +
                                     "' is not MODEL_PREFIX=CELSIUS");
    }
    char* parsed_end = nullptr;
    const std::string number = item.substr(eq + 1);
    const double celsius = std::strtod(number.c_str(), &parsed_end);
    if (number.empty() || *parsed_end != '\0' || !(celsius > 0 && celsius < 200)) {
      return Status::InvalidArgument("ALERT_TEMP_MAX_BY_MODEL: '" + number +
                                     "' is not a temperature in (0, 200) °C");
    }
    limits.emplace_back(item.substr(0, eq), celsius);
    start = end + 1;
  }
  out = std::move(limits);
  return Status::Ok();
}

}  // namespace

std::span<const std::string_view> HealthKinds() {
  static constexpr std::string_view kKinds[] = {"offline",       "overheat",     "board_dead",
                                                "chips_failed",  "hashrate_low", "fan_stopped",
                                                "rejected_high", "pool_changed", "rebooted",
                                                "remediation_failed"};
  return kKinds;
}

bool IsHealthKind(std::string_view kind) {
  const auto kinds = HealthKinds();
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

Status LoadHealthRules(HealthRules& rules) {
  int64_t offline_polls = rules.offline_polls;
  int64_t low_polls = rules.hashrate_low_polls;
  std::string by_model;
  for (Status s : {EnvInt("ALERT_OFFLINE_POLLS", offline_polls, 1, 1000),
                   EnvDouble("SCAN_INTERVAL", rules.scan_interval_s, 1, 86400),
                   EnvDouble("ALERT_TEMP_MAX", rules.temp_max_c, 1, 199),
                   EnvString("ALERT_TEMP_MAX_BY_MODEL", by_model),
                   EnvDouble("ALERT_CHIPS_FAILED_SHARE", rules.chips_failed_share, 0, 1),
                   EnvDouble("ALERT_HASHRATE_LOW_SHARE", rules.hashrate_low_share, 0, 1),
                   EnvInt("ALERT_HASHRATE_LOW_POLLS", low_polls, 1, 1000),
                   EnvDouble("ALERT_REJECTED_SHARE", rules.rejected_share, 0, 1)}) {
    if (!s.ok()) return s;
  }
  rules.offline_polls = static_cast<int>(offline_polls);
  rules.hashrate_low_polls = static_cast<int>(low_polls);
  if (!by_model.empty()) return ParseTempLimits(by_model, rules.temp_max_by_model);
  return Status::Ok();
}

nlohmann::json HealthEventToJson(const HealthEvent& e) {
  nlohmann::json j = {
      {"ts", e.ts},          {"ip", e.ip},     {"port", e.port},   {"model", e.model},
      {"worker", e.worker},  {"kind", e.kind}, {"state", e.state}, {"severity", e.severity},
      {"message", e.message}};
  if (e.value) j["value"] = *e.value;
  if (e.threshold) j["threshold"] = *e.threshold;
  return j;
}

std::string EncodeHealthEvent(const HealthEvent& e) {
  nlohmann::json j = HealthEventToJson(e);
  j[kEventTypeKey] = kEventHealth;
  const std::vector<uint8_t> bytes = nlohmann::json::to_msgpack(j);
  return std::string(bytes.begin(), bytes.end());
}

Result<HealthEvent> HealthEventFromJson(const nlohmann::json& j) {
  HealthEvent e;
  auto text = [&](const char* key, std::string& into) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    into = it->get<std::string>();
    return true;
  };
  auto number = [&](const char* key) -> std::optional<double> {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) return std::nullopt;
    return it->get<double>();
  };
  const std::optional<double> ts = number("ts");
  const std::optional<double> port = number("port");
  // Written so that a NaN port fails too: converting it to uint16_t is undefined.
  if (!ts || !port || !(*port >= 1 && *port <= 65535) || !text("ip", e.ip) || !text("model", e.model) ||
      !text("worker", e.worker) || !text("kind", e.kind) || !text("state", e.state) ||
      !text("severity", e.severity) || !text("message", e.message)) {
    return Status::ParseError("health event lacks a field or has one of the wrong type");
  }
  e.ts = *ts;
  e.port = static_cast<uint16_t>(*port);
  e.value = number("value");
  e.threshold = number("threshold");
  return e;
}

void HealthEngine::Restore(std::span<const ActiveCondition> active,
                           std::span<const Record> latest) {
  for (const Record& r : latest) {
    MinerState& m = State(r.ip, r.port);
    m.last_ts = r.ts;
    m.model = r.model;
    m.worker = r.worker;
    if (r.status == MinerStatus::kOk) {
      m.uptime_s = r.uptime_s;
      m.pool = PoolInUse(r);
      m.boards_seen = r.boards.size();
      KeepPowerBaseline(m, r);
    }
  }
  for (const ActiveCondition& c : active) {
    if (const ConditionInfo* info = FindCondition(c.kind)) {
      State(c.ip, c.port).active |= info->bit;
    }
  }
}

HealthEngine::MinerState& HealthEngine::State(const std::string& ip, uint16_t port) {
  auto [it, inserted] = miners_.try_emplace(MinerKey(ip, port));
  if (inserted) {
    it->second.ip = ip;
    it->second.port = port;
    by_ip_.emplace(ip, &it->second);
    if (held_at_start_.contains(ip)) it->second.hold = MinerState::PowerHold{{}, {}, true};
  }
  return it->second;
}

void HealthEngine::Emit(const MinerState& state, double ts, std::string_view kind,
                        std::string_view event_state, std::string_view severity,
                        std::string message, std::optional<double> value,
                        std::optional<double> threshold, std::vector<HealthEvent>& out) {
  out.push_back({ts, state.ip, state.port, state.model, state.worker, std::string(kind),
                 std::string(event_state), std::string(severity), std::move(message), value,
                 threshold});
}

void HealthEngine::Set(MinerState& state, double ts, Condition condition, bool holds,
                       std::string message, std::optional<double> value,
                       std::optional<double> threshold, std::vector<HealthEvent>& out) {
  const bool active = (state.active & condition) != 0;
  if (holds == active) return;
  state.active ^= condition;
  const ConditionInfo& info = *FindCondition(condition);
  Emit(state, ts, info.kind, holds ? "fired" : "cleared", holds ? info.severity : "info",
       std::move(message), value, threshold, out);
}

double HealthEngine::TempLimit(const std::string& model) const {
  double limit = rules_.temp_max_c;
  size_t longest = 0;
  for (const auto& [prefix, celsius] : rules_.temp_max_by_model) {
    if (prefix.size() > longest && model.rfind(prefix, 0) == 0) {
      longest = prefix.size();
      limit = celsius;
    }
  }
  return limit;
}

void HealthEngine::Observe(const Record& r, std::vector<HealthEvent>& out) {
  MinerState& m = State(r.ip, r.port);
  if (r.ts < m.last_ts) return;  // a late record: the state already moved on
  m.last_ts = r.ts;
  // Control never said how the power change it announced ended (it died).
  if (m.hold && !m.hold->confirmed && r.ts >= m.hold->outcome_by) m.hold.reset();
  if (!r.model.empty()) m.model = r.model;
  if (!r.worker.empty()) m.worker = r.worker;

  if (r.status != MinerStatus::kOk) {
    ++m.bad_polls;
    if (m.bad_polls >= rules_.offline_polls) {
      Set(m, r.ts, kOffline, true,
          fmt::format("{} polls in a row failed ({}{}{})", m.bad_polls, ToString(r.status),
                      r.error.empty() ? "" : ": ", r.error),
          std::nullopt, std::nullopt, out);
    }
    return;
  }
  m.bad_polls = 0;
  Set(m, r.ts, kOffline, false, "back online", std::nullopt, std::nullopt, out);

  if (r.temp_max) {
    const double limit = TempLimit(m.model);
    const bool hot =
        (m.active & kOverheat) ? *r.temp_max > limit - kOverheatHysteresisC : *r.temp_max >= limit;
    Set(m, r.ts, kOverheat, hot,
        fmt::format("{} at {:.0f} °C (limit {:.0f} °C)", hot ? "overheating" : "cooled down",
                    *r.temp_max, limit),
        r.temp_max, limit, out);
  }

  if (r.sleeping) {
    // Asleep on purpose: boards at zero, chips that do not answer and fans
    // at idle or off describe the sleep, not a fault, and what fired before
    // it no longer holds.
    m.low_polls = 0;
    for (Condition c : {kBoardDead, kChipsFailed, kHashrateLow, kFanStopped}) {
      Set(m, r.ts, c, false, "asleep on purpose", std::nullopt, std::nullopt, out);
    }
  } else {
    ObserveHashing(m, r, out);
  }

  if (r.accepted && r.rejected && *r.accepted + *r.rejected >= kMinShares) {
    const double share =
        static_cast<double>(*r.rejected) / static_cast<double>(*r.accepted + *r.rejected);
    Set(m, r.ts, kRejectedHigh, share > rules_.rejected_share,
        fmt::format("{:.1f} % of shares rejected", share * 100), share, rules_.rejected_share, out);
  }

  // Happenings: compared with the last ok poll, so a gap in between does not matter.
  const std::string pool = PoolInUse(r);
  if (!m.pool.empty() && !pool.empty() && pool != m.pool) {
    Emit(m, r.ts, "pool_changed", "fired", "info",
         "pool in use is now " + pool.substr(0, pool.find('|')) + " as " +
             pool.substr(pool.find('|') + 1),
         std::nullopt, std::nullopt, out);
  }
  if (!pool.empty()) m.pool = pool;
  if (r.uptime_s && m.uptime_s && *r.uptime_s < *m.uptime_s) {
    Emit(m, r.ts, "rebooted", "fired", "info",
         fmt::format("uptime went from {} s to {} s", *m.uptime_s, *r.uptime_s),
         static_cast<double>(*r.uptime_s), std::nullopt, out);
  }
  if (r.uptime_s) m.uptime_s = r.uptime_s;
}

void HealthEngine::ObserveHashing(MinerState& m, const Record& r, std::vector<HealthEvent>& out) {
  // A board counts as dead only while the miner hashes at all: a miner
  // that is not hashing (starting, sleeping) has every board at zero.
  const bool hashing = r.hashrate.value_or(0) > 0;
  int dead = 0;
  int failing = 0;
  double worst_share = 0;
  for (const BoardStats& b : r.boards) {
    const bool no_chips = b.chips_ok && *b.chips_ok == 0 && b.chips.value_or(1) > 0;
    if (hashing && (b.hashrate.value_or(1) <= 0 || no_chips)) {
      ++dead;
      continue;
    }
    if (b.chips_failed && b.chips && *b.chips > 0) {
      const double share = static_cast<double>(*b.chips_failed) / *b.chips;
      worst_share = std::max(worst_share, share);
      if (share > rules_.chips_failed_share) ++failing;
    }
  }
  const size_t missing = r.boards.size() < m.boards_seen ? m.boards_seen - r.boards.size() : 0;
  m.boards_seen = std::max(m.boards_seen, r.boards.size());
  if (!r.boards.empty() || missing > 0) {
    const int lost = dead + static_cast<int>(missing);
    Set(m, r.ts, kBoardDead, lost > 0,
        lost > 0 ? fmt::format("{} hash board(s) dead or missing of {}", lost, m.boards_seen)
                 : fmt::format("all {} hash boards hashing", r.boards.size()),
        lost, std::nullopt, out);
    Set(m, r.ts, kChipsFailed, failing > 0,
        fmt::format("worst board has {:.1f} % of its chips failed", worst_share * 100), worst_share,
        rules_.chips_failed_share, out);
  }

  ObserveHashrate(m, r, out);

  if (!r.fans.empty()) {
    const auto stopped = std::count(r.fans.begin(), r.fans.end(), 0);
    Set(m, r.ts, kFanStopped, stopped > 0,
        stopped > 0 ? fmt::format("{} of {} fans stopped", stopped, r.fans.size())
                    : "every fan turning",
        static_cast<double>(stopped), std::nullopt, out);
  }
}

void HealthEngine::KeepPowerBaseline(MinerState& m, const Record& r) {
  if (m.hold || r.hashrate.value_or(0) <= 0) return;
  m.power_w = r.power_w;
  m.hashrate_expected = r.hashrate_expected;
}

void HealthEngine::ObserveHashrate(MinerState& m, const Record& r, std::vector<HealthEvent>& out) {
  KeepPowerBaseline(m, r);
  if (!r.hashrate || !r.hashrate_expected || *r.hashrate_expected <= 0) return;
  double expected = *r.hashrate_expected;
  std::string held;
  if (m.hold) {
    const std::optional<double> from_w = m.hold->from_w;
    if (from_w && *from_w > 0 && r.power_w) {
      const double scale = std::min(1.0, *r.power_w / *from_w);
      expected = std::min(expected, m.hold->expected.value_or(expected) * scale);
      held = fmt::format(" at {:.0f} W of {:.0f} W (held at reduced power)", *r.power_w, *from_w);
    }
    if (held.empty() || !(expected > 0)) {
      m.low_polls = 0;  // not judged: what it can hash at this power is not known
      return;
    }
  }
  const double share = *r.hashrate / expected;
  m.low_polls = share < rules_.hashrate_low_share ? m.low_polls + 1 : 0;
  if (m.low_polls >= rules_.hashrate_low_polls || m.low_polls == 0) {
    Set(m, r.ts, kHashrateLow, m.low_polls > 0,
        fmt::format("hashrate at {:.0f} % of expected{}", share * 100, held), share,
        rules_.hashrate_low_share, out);
  }
}

void HealthEngine::ObservePowerChange(const std::string& ip, PowerHoldChange change,
                                      double outcome_by) {
  if (change == PowerHoldChange::kReleased) held_at_start_.erase(ip);
  for (auto [it, end] = by_ip_.equal_range(ip); it != end; ++it) {
    MinerState& m = *it->second;
    switch (change) {
      case PowerHoldChange::kAnnounced:
      case PowerHoldChange::kReduced:
        // A hold already on keeps the baseline it started from: a second
        // limit is still measured against the miner at full power.
        if (!m.hold) m.hold = MinerState::PowerHold{m.power_w, m.hashrate_expected, false};
        if (change == PowerHoldChange::kReduced) m.hold->confirmed = true;
        if (!m.hold->confirmed) m.hold->outcome_by = outcome_by;
        break;
      case PowerHoldChange::kReleased:
        m.hold.reset();
        break;
      case PowerHoldChange::kFailed:
        if (m.hold && !m.hold->confirmed) m.hold.reset();
        break;
    }
  }
}

void HealthEngine::RestorePowerHolds(std::span<const std::string> ips) {
  held_at_start_.insert(ips.begin(), ips.end());
  for (auto& [key, m] : miners_) {
    if (held_at_start_.contains(m.ip)) m.hold = MinerState::PowerHold{{}, {}, true};
  }
}

size_t HealthEngine::power_held() const {
  return static_cast<size_t>(std::count_if(miners_.begin(), miners_.end(), [](const auto& entry) {
    return entry.second.hold.has_value();
  }));
}

void HealthEngine::Tick(double now, std::vector<HealthEvent>& out) {
  const double silence = rules_.offline_polls * rules_.scan_interval_s;
  for (auto& [key, m] : miners_) {
    if ((m.active & kOffline) || m.last_ts <= 0 || now - m.last_ts < silence) continue;
    Set(m, now, kOffline, true, fmt::format("no record for {:.0f} s", now - m.last_ts),
        now - m.last_ts, silence, out);
  }
}

}  // namespace asicmon
