#include "asicmon/sleep.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace asicmon {

Result<std::optional<SleepCommand>> DecodeSleepCommand(std::string_view body) {
  const nlohmann::json event = nlohmann::json::from_msgpack(body, true, false);
  if (event.is_discarded() || !event.is_object()) return std::optional<SleepCommand>();
  auto text = [&](const char* key) -> std::optional<std::string> {
    const auto it = event.find(key);
    if (it == event.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const std::optional<std::string> action = text("action");
  if (text("kind") != "control" || (action != "sleep" && action != "wake") ||
      text("result") != "ok") {
    return std::optional<SleepCommand>();
  }
  const std::optional<std::string> ip = text("ip");
  const auto ts = event.find("ts");
  if (!ip || ip->empty() || ts == event.end() || !ts->is_number() ||
      !std::isfinite(ts->get<double>())) {
    return Status::ParseError(fmt::format("control {} event lacks its ip or ts", *action));
  }
  return std::optional<SleepCommand>(
      SleepCommand{*ip, text("worker").value_or(""), *action == "sleep", ts->get<double>()});
}

void SleepRegistry::Restore(std::span<const AuditEntry> asleep) {
  for (const AuditEntry& e : asleep) asleep_since_[e.ip] = e.ts;
}

void SleepRegistry::Apply(const SleepCommand& command) {
  if (command.asleep) {
    asleep_since_[command.ip] = command.ts;
  } else {
    asleep_since_.erase(command.ip);
  }
}

bool SleepRegistry::Mark(Record& record) {
  const auto it = asleep_since_.find(record.ip);
  // A miner that does not answer is offline, asleep or not.
  if (it == asleep_since_.end() || record.status != MinerStatus::kOk) return false;
  if (record.hashrate.value_or(0) > 0) {
    if (record.ts >= it->second + kSettleS) asleep_since_.erase(it);
    return false;
  }
  if (record.sleeping) return false;
  record.sleeping = true;
  return true;
}

}  // namespace asicmon
