#include "sleep.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace asicmon {
namespace {

// A pending command longer than this is no command control would carry out.
constexpr double kMaxPendingS = 86400;

}  // namespace

Result<std::optional<SleepCommand>> SleepCommandFromJson(const nlohmann::json& event) {
  auto text = [&](const char* key) -> std::optional<std::string> {
    const auto it = event.find(key);
    if (it == event.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto number = [&](const char* key) -> std::optional<double> {
    const auto it = event.find(key);
    if (it == event.end() || !it->is_number() || !std::isfinite(it->get<double>())) {
      return std::nullopt;
    }
    return it->get<double>();
  };
  const std::optional<std::string> action = text("action");
  const std::string result = text("result").value_or("");
  if ((action != "sleep" && action != "wake" && action != "power") || result == kControlBusy) {
    return std::optional<SleepCommand>();
  }
  const std::optional<std::string> ip = text("ip");
  const std::optional<double> ts = number("ts");
  if (!ip || ip->empty() || !ts) {
    return Status::ParseError(fmt::format("control {} event lacks its ip or ts", *action));
  }
  SleepCommand command{*ip, text("worker").value_or(""), *action == "sleep", *ts};
  command.power = *action == "power";
  command.power_reduced = command.power && PowerDetailReduces(text("detail").value_or(""));
  if (result == "ok") {
    command.phase = SleepPhase::kDone;
  } else if (result == kControlPending) {
    const std::optional<double> timeout_s = number("timeout_s");
    if (!timeout_s || !(*timeout_s > 0 && *timeout_s <= kMaxPendingS)) {
      return Status::ParseError(fmt::format("pending control {} event lacks a timeout_s in (0, {}]",
                                            *action, kMaxPendingS));
    }
    command.phase = SleepPhase::kPending;
    command.timeout_s = *timeout_s;
  } else {
    command.phase = SleepPhase::kFailed;
  }
  return std::optional<SleepCommand>(std::move(command));
}

PowerHoldChange PowerHold(const SleepCommand& power) {
  switch (power.phase) {
    case SleepPhase::kPending:
      return PowerHoldChange::kAnnounced;
    case SleepPhase::kDone:
      return power.power_reduced ? PowerHoldChange::kReduced : PowerHoldChange::kReleased;
    case SleepPhase::kFailed:
      break;
  }
  return PowerHoldChange::kFailed;
}

void SleepRegistry::Restore(std::span<const AuditEntry> held) {
  for (const AuditEntry& e : held) {
    if (e.action == "sleep") miners_[e.ip].asleep_since = e.ts;
  }
}

void SleepRegistry::Apply(const SleepCommand& command) {
  switch (command.phase) {
    case SleepPhase::kPending:
      miners_[command.ip].pending = Pending{command.asleep, command.ts, command.timeout_s};
      return;
    case SleepPhase::kFailed: {
      const auto it = miners_.find(command.ip);
      if (it == miners_.end()) return;
      MinerSleep& m = it->second;
      m.pending.reset();
      if (!m.asleep_since && !m.waking_since) miners_.erase(it);
      return;
    }
    case SleepPhase::kDone: {
      MinerSleep& m = miners_[command.ip];
      if (command.power && m.asleep_since) {
        m.pending.reset();  // asleep still: a power setting does not wake it
        return;
      }
      m = MinerSleep{};
      (command.asleep ? m.asleep_since : m.waking_since) = command.ts;
      return;
    }
  }
}

bool SleepRegistry::Mark(Record& record) {
  const auto it = miners_.find(record.ip);
  // A miner that does not answer is offline, asleep or not: the restart's
  // few seconds without an API stay under the offline rule's polls.
  if (it == miners_.end() || record.status != MinerStatus::kOk) return false;
  MinerSleep& m = it->second;
  if (m.pending && record.ts >= m.pending->ts + m.pending->timeout_s) {
    m.pending.reset();
    ++expired_;
  }
  if (m.waking_since && record.ts >= *m.waking_since + kWakeRampS) m.waking_since.reset();
  if (record.hashrate.value_or(0) > 0) {
    // Hashing ends a wake, pending or done, and a sleep past its settle
    // time; a pending sleep is the miner not restarted yet.
    const bool settling = m.asleep_since && record.ts < *m.asleep_since + kSettleS;
    if (m.pending ? !m.pending->asleep : !settling) miners_.erase(it);
    return false;
  }
  if (!m.pending && !m.asleep_since && !m.waking_since) {
    miners_.erase(it);
    return false;
  }
  if (record.sleeping) return false;
  record.sleeping = true;
  return true;
}

size_t SleepRegistry::asleep() const {
  return static_cast<size_t>(std::count_if(miners_.begin(), miners_.end(), [](const auto& entry) {
    return entry.second.asleep_since.has_value();
  }));
}

size_t SleepRegistry::transitioning() const {
  return static_cast<size_t>(std::count_if(miners_.begin(), miners_.end(), [](const auto& entry) {
    return entry.second.pending || entry.second.waking_since;
  }));
}

}  // namespace asicmon
