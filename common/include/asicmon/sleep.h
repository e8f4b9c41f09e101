// Miners put to sleep by control, as the store knows them. An S19 asleep
// answers its API as one that hashes nothing for any other reason (zero
// hashrate, "Mode" 2), so only control's audit says it sleeps on purpose:
// the store starts from StoreDb::AsleepByControl, follows control's events
// (topic "event": {"kind":"control","action":"sleep"|"wake","result":"ok",
// "ip","worker","ts",...}) and marks the records of those miners sleeping
// while they hash nothing.
//
// Thread-safety: a SleepRegistry is a plain object; one thread at a time.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "asicmon/record.h"
#include "asicmon/status.h"
#include "asicmon/store_db.h"

namespace asicmon {

// A control event that put a miner to sleep or woke it.
struct SleepCommand {
  std::string ip;
  std::string worker;
  bool asleep = false;  // "sleep" (true) or "wake"
  double ts = 0;        // unix s, when control finished it

  bool operator==(const SleepCommand&) const = default;
};

// The sleep or wake in an event body (msgpack of a JSON map). nullopt for
// anything else: another kind or action, a command that did not succeed,
// or a body that is no msgpack map (the store relays those untouched).
// ParseError for a successful control sleep or wake without a text ip or a
// finite ts.
Result<std::optional<SleepCommand>> DecodeSleepCommand(std::string_view body);

class SleepRegistry {
 public:
  // After a sleep command, polls that still see hashing are the miner
  // winding down (or a poll made just before, or clocks apart), not a
  // wake by other means.
  static constexpr double kSettleS = 30;

  // Starts from the audit rows StoreDb::AsleepByControl returns.
  void Restore(std::span<const AuditEntry> asleep);
  void Apply(const SleepCommand& command);
  // Marks `record` sleeping when control put its miner (by ip) to sleep and
  // it answered (status ok) with no hashrate (0 or not reported); true when
  // it changed the record. A record that hashes, kSettleS or more after the
  // command, means the miner was woken by other means: it leaves the set.
  bool Mark(Record& record);

  size_t size() const { return asleep_since_.size(); }
  bool Contains(const std::string& ip) const { return asleep_since_.count(ip) > 0; }

 private:
  std::unordered_map<std::string, double> asleep_since_;  // ip -> ts of the sleep command
};

}  // namespace asicmon
