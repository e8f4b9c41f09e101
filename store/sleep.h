// Miners put to sleep by control, as the store knows them. An S19 asleep
// answers its API as one that hashes nothing for any other reason (zero
// hashrate, every chip 'x', "Mode" 2), so only control says it sleeps on
// purpose: the store starts from StoreDb::HeldByControl, follows control's
// events (topic "event": {"type":"control","action":"sleep"|"wake",
// "result":...,"ip","worker","ts",...}) and marks the records of those
// miners sleeping while they hash nothing.
//
// A sleep or wake is a config write that restarts the miner's mining
// software: its API goes away for a few seconds and comes back asleep (or
// hashing nothing yet, then ramping up). Polls land in that window before
// control has confirmed anything, so control announces each sleep and wake
// before acting, with "result":"pending" and "timeout_s" (the longest the
// command can take it), and its outcome after ("ok", or what went wrong):
//
//   pending sleep/wake  the miner is changing state on purpose: its records
//                       with no hashrate are marked sleeping until the
//                       outcome, or until timeout_s after the announcement
//                       when no outcome comes (control died mid-command;
//                       counted in expired())
//   ok sleep            asleep: marked while it hashes nothing (as before)
//   ok wake             waking: marked while it hashes nothing yet, at most
//                       kWakeRampS; the first record that hashes means awake
//   anything else       the pending state ends; what was known before stays
//   "busy"              nothing: the gate refused it because another command
//                       holds the miner, whose own outcome will follow
//
// A power change (mode or limit, "action":"power") is announced the same way
// and covered as a wake: a limit may restart the miner, which hashes nothing
// until it is back; a confirmed one leaves a sleeping miner asleep. Whether
// it reduces the power (what HealthEngine::ObservePowerChange needs) is in
// its detail, which control starts with the setting.
//
// Thread-safety: a SleepRegistry is a plain object; one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json_fwd.hpp>

#include "asicmon/events.h"
#include "asicmon/health.h"
#include "asicmon/record.h"
#include "asicmon/status.h"
#include "asicmon/store_db.h"

namespace asicmon {

enum class SleepPhase : uint8_t {
  kPending,  // announced, not carried out yet
  kDone,     // "ok": confirmed on the miner
  kFailed,   // refused, failed or not confirmed
};

// A control event about a sleep or a wake.
struct SleepCommand {
  std::string ip;
  std::string worker;
  bool asleep = false;  // "sleep" (true) or "wake"
  double ts = 0;        // unix s, when control announced or finished it
  SleepPhase phase = SleepPhase::kDone;
  double timeout_s = 0;  // kPending: the longest control can take to finish it
  // A power mode or limit change ("power"; asleep false): covered as a wake
  // is (a limit can restart the miner, which then hashes nothing for a
  // while), except that it never ends a confirmed sleep.
  bool power = false;
  // A power change to a low mode or a limit (its detail, PowerDetailReduces):
  // the miner hashes less on purpose.
  bool power_reduced = false;

  bool operator==(const SleepCommand&) const = default;
};

// The sleep or wake in the body of a control event (DecodeEvent's kind
// kControl). nullopt for another action or a "busy" refusal (the store
// relays those untouched). ParseError for a sleep or wake without a text ip
// or a finite ts, or a pending one without a timeout_s in (0, 1 day].
Result<std::optional<SleepCommand>> SleepCommandFromJson(const nlohmann::json& event);

// What a power command (SleepCommand::power) does to a hold at reduced power.
PowerHoldChange PowerHold(const SleepCommand& power);

class SleepRegistry {
 public:
  // After a sleep command, polls that still see hashing are the miner
  // winding down (or a poll made just before, or clocks apart), not a
  // wake by other means.
  static constexpr double kSettleS = 30;
  // After a confirmed wake, how long a miner that hashes nothing yet is
  // still starting up: X19 firmware initialises its chains and tunes their
  // frequency for minutes before it hashes. Past it, hashing nothing is a
  // fault again.
  static constexpr double kWakeRampS = 600;

  // Starts from the "sleep" rows StoreDb::HeldByControl returns.
  void Restore(std::span<const AuditEntry> held);
  void Apply(const SleepCommand& command);
  // Marks `record` sleeping when its miner (by ip) is asleep, pending a
  // sleep or wake, or waking (see above) and it answered (status ok) with
  // no hashrate (0 or not reported); true when it changed the record. A
  // record that hashes ends a wake (pending or done); one that hashes
  // kSettleS or more after a confirmed sleep means the miner was woken by
  // other means. Either way the miner leaves the registry.
  bool Mark(Record& record);

  // Miners the registry holds: asleep, waking, or with a command pending.
  size_t size() const { return miners_.size(); }
  bool Contains(const std::string& ip) const { return miners_.count(ip) > 0; }
  // Miners asleep as control confirmed it.
  size_t asleep() const;
  // Miners with a sleep or wake pending or waking up: changing state now.
  size_t transitioning() const;
  // Announcements dropped because no outcome came within their timeout_s.
  uint64_t expired() const { return expired_; }

 private:
  struct Pending {
    bool asleep = false;
    double ts = 0;
    double timeout_s = 0;
  };
  struct MinerSleep {
    std::optional<double> asleep_since;  // ts of the confirmed sleep
    std::optional<double> waking_since;  // ts of the confirmed wake
    std::optional<Pending> pending;
  };

  std::unordered_map<std::string, MinerSleep> miners_;  // by ip
  uint64_t expired_ = 0;
};

}  // namespace asicmon
