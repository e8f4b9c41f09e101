// Farm health rules: turns the stream of records into events that fire once
// when a miner's state changes and once when it clears, never on every poll.
//
// Conditions (state "fired", later "cleared"):
//   offline       `offline_polls` polls in a row not ok, or no record at all
//                 for offline_polls x scan_interval_s; cleared ("back online")
//                 by the next ok poll
//   overheat      temp_max at or over the model family's limit; cleared 5 °C below
//   board_dead    a hash board of a hashing miner with no hashrate or no working
//                 chip, or fewer boards than the miner reported before
//   chips_failed  a live board with more than chips_failed_share of its chips 'x'
//   hashrate_low  hashrate under hashrate_low_share of expected for
//                 hashrate_low_polls ok polls in a row; cleared by one poll over it
//   fan_stopped   a fan reading 0 rpm
//   rejected_high rejected / (accepted + rejected) over rejected_share, once
//                 at least kMinShares shares were counted
// A miner held at reduced power by control (a low mode or a power limit,
// ObservePowerChange) hashes less on purpose: hashrate_low then holds it
// against the lower of its own expected rate and the one it had before the
// hold, scaled by the power it draws now over the power it drew then. Where
// either draw is unknown (not reported; held since before a restart) its
// hashrate is not judged until the hold ends. A hold announced and never
// confirmed or refused (control died mid-command) ends at the time the
// announcement gave.
// A sleeping record (Record::sleeping: stopped on purpose) fires none of
// board_dead, chips_failed, hashrate_low and fan_stopped, and clears those
// that were fired ("asleep on purpose"); offline, overheat and rejected_high
// apply as ever (a sleeping miner still answers its API).
// Happenings (state "fired" only):
//   pool_changed  the pool in use (url or worker) is another than at the last ok poll
//   rebooted      uptime went down between two ok polls
//
// Thread-safety: a HealthEngine is a plain object; one thread at a time.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon {

struct HealthRules {
  int offline_polls = 3;        // ALERT_OFFLINE_POLLS
  double scan_interval_s = 30;  // SCAN_INTERVAL: how often records are due
  double temp_max_c = 95;       // ALERT_TEMP_MAX: any model without its own limit
  // ALERT_TEMP_MAX_BY_MODEL="Antminer S9=90,Antminer L3=85": a model whose name
  // starts with the prefix takes that limit (the longest prefix wins).
  std::vector<std::pair<std::string, double>> temp_max_by_model = {{"Antminer S9", 90},
                                                                   {"Antminer L3", 85}};
  double chips_failed_share = 0.05;  // ALERT_CHIPS_FAILED_SHARE
  double hashrate_low_share = 0.8;   // ALERT_HASHRATE_LOW_SHARE (of hashrate_expected)
  int hashrate_low_polls = 3;        // ALERT_HASHRATE_LOW_POLLS
  double rejected_share = 0.05;      // ALERT_REJECTED_SHARE
};

// Every kind of event the rules produce: "offline", ..., "rebooted".
std::span<const std::string_view> HealthKinds();
bool IsHealthKind(std::string_view kind);

// Applies the ALERT_* variables and SCAN_INTERVAL to `rules`.
Status LoadHealthRules(HealthRules& rules);

inline constexpr double kOverheatHysteresisC = 5;
inline constexpr int64_t kMinShares = 100;

struct HealthEvent {
  double ts = 0;  // of the record (or moment) that changed the state
  std::string ip;
  uint16_t port = 4028;
  std::string model;
  std::string worker;
  std::string kind;                 // "offline", "overheat", ... (see above)
  std::string state;                // "fired" or "cleared"
  std::string severity;             // "critical", "warning" or "info"
  std::string message;              // for people: what and how much
  std::optional<double> value;      // the reading that decided, when one did
  std::optional<double> threshold;  // the limit it was held against

  bool operator==(const HealthEvent&) const = default;
};

// {"ts", "ip", "port", "model", "worker", "kind", "state", "severity",
// "message", "value", "threshold"} (value and threshold absent when unset):
// what GET /events serves and asicmon-alert posts.
nlohmann::json HealthEventToJson(const HealthEvent& event);
// On the bus (topic "event"): that map with "type": "health", in msgpack.
std::string EncodeHealthEvent(const HealthEvent& event);
// The health event in the body of an event of kind kHealth (DecodeEvent);
// ParseError when it lacks a field or has one of the wrong type.
Result<HealthEvent> HealthEventFromJson(const nlohmann::json& body);

// A condition a miner is in, as the store's events say (to start from).
struct ActiveCondition {
  std::string ip;
  uint16_t port = 4028;
  std::string kind;

  bool operator==(const ActiveCondition&) const = default;
};

// Control changing a miner's power mode or limit, as the store hears of it.
enum class PowerHoldChange : uint8_t {
  kAnnounced,  // about to act: a hold starts, from the draw before it
  kReduced,    // confirmed: a low mode or a power limit holds
  kReleased,   // confirmed: normal or high mode, the hold ends
  kFailed,     // not carried out: a hold confirmed before stays, an announced one ends
};

class HealthEngine {
 public:
  explicit HealthEngine(HealthRules rules) : rules_(std::move(rules)) {}

  // What was already known when the process started: conditions still
  // fired (so they do not fire again) and each miner's last record (so
  // silence is noticed and the first poll is compared with something).
  void Restore(std::span<const ActiveCondition> active, std::span<const Record> latest);

  // The events `record` causes, appended to `out`.
  void Observe(const Record& record, std::vector<HealthEvent>& out);
  // Control's power change on every miner at `ip`. kAnnounced: `outcome_by`
  // is the unix time by which control says how it ended (announced ts +
  // timeout_s); a record at or after it, with no outcome, ends the hold.
  void ObservePowerChange(const std::string& ip, PowerHoldChange change,
                          double outcome_by = std::numeric_limits<double>::infinity());
  // Miners held at reduced power when the process started (their draw
  // before the hold is not known), those with a state (Restore) and those
  // first seen later.
  void RestorePowerHolds(std::span<const std::string> ips);
  // Miners at reduced power now, as control said.
  size_t power_held() const;
  // Miners silent for too long at unix time `now` go offline.
  void Tick(double now, std::vector<HealthEvent>& out);

  const HealthRules& rules() const { return rules_; }
  size_t miners() const { return miners_.size(); }

 private:
  enum Condition : uint32_t {
    kOffline = 1 << 0,
    kOverheat = 1 << 1,
    kBoardDead = 1 << 2,
    kChipsFailed = 1 << 3,
    kHashrateLow = 1 << 4,
    kFanStopped = 1 << 5,
    kRejectedHigh = 1 << 6,
  };
  struct MinerState {
    std::string ip;
    uint16_t port = 0;
    uint32_t active = 0;  // Condition bits
    double last_ts = 0;   // of the newest record
    int bad_polls = 0;    // not ok in a row
    int low_polls = 0;    // hashrate low in a row
    size_t boards_seen = 0;
    std::optional<int64_t> uptime_s;  // at the last ok poll
    std::string pool;                 // url|user in use at the last ok poll
    std::string model, worker;
    // What the miner drew and was expected to hash at its last hashing poll
    // outside a power hold: the baseline a hold starts from.
    std::optional<double> power_w, hashrate_expected;
    struct PowerHold {
      std::optional<double> from_w, expected;  // the baseline, when known
      bool confirmed = false;                  // by control's "ok"
      double outcome_by = std::numeric_limits<double>::infinity();  // when not confirmed
    };
    std::optional<PowerHold> hold;
  };

  double TempLimit(const std::string& model) const;
  // The rules of a hashing miner: board_dead, chips_failed, hashrate_low, fan_stopped.
  void ObserveHashing(MinerState& m, const Record& r, std::vector<HealthEvent>& out);
  void ObserveHashrate(MinerState& m, const Record& r, std::vector<HealthEvent>& out);
  // A hashing poll outside a hold is the baseline the next hold starts from.
  static void KeepPowerBaseline(MinerState& m, const Record& r);
  MinerState& State(const std::string& ip, uint16_t port);
  // Fires or clears `condition` when `holds` differs from what is known;
  // `message` says what holds (or, when clearing, what is fine again).
  void Set(MinerState& state, double ts, Condition condition, bool holds, std::string message,
           std::optional<double> value, std::optional<double> threshold,
           std::vector<HealthEvent>& out);
  // Appends one event of `state`'s miner.
  static void Emit(const MinerState& state, double ts, std::string_view kind,
                   std::string_view event_state, std::string_view severity, std::string message,
                   std::optional<double> value, std::optional<double> threshold,
                   std::vector<HealthEvent>& out);

  HealthRules rules_;
  std::unordered_map<std::string, MinerState> miners_;  // by "ip:port"
  // The same states by ip, as control names a miner: a curtailment's power
  // changes touch one miner each, not a scan of the farm (the map's nodes
  // never move, and no state is ever removed).
  std::unordered_multimap<std::string, MinerState*> by_ip_;
  // RestorePowerHolds' ips, until released: a miner first seen later is held too.
  std::unordered_set<std::string> held_at_start_;
};

}  // namespace asicmon
