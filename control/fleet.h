// What every command on a miner goes through, whoever asked for it (a REST
// call on one miner, a bulk job, an automatic rule): one command per miner
// at a time, the reboot cooldown, and an audit row plus a bus event for
// every outcome, refusals included. Sleep and wake are also announced on the
// bus before they act (sleep.h says why and what the store does with it).
//
// Thread-safety: CommandGate is shared by request threads, action threads,
// job workers and the rules; its state is behind one mutex, and no miner
// I/O happens while it is held.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "actions.h"
#include "fleet_requests.h"
#include "asicmon/store_db.h"

namespace asicmon::control {

struct ActionRequest {
  ActionKind kind = ActionKind::kReset;
  std::string ip;
  std::string worker;
  PoolChange pool;     // kPool
  PowerChange power;   // kPower
  bool on = true;      // kLocate: light on or off
  bool wait = false;   // kReboot: until the miner is back
  bool force = false;  // kReboot: past the cooldown
  std::string actor;   // for the audit: "token@10.0.0.5", "rule:reboot-dead-board"
  std::string detail;  // for the audit: parameters, never a password
};

// The action's outcome from `actions`, blocking on the miner.
ActionOutcome Perform(const MinerActions& actions, const ActionRequest& request);

// The longest a sleep or wake can take under `options`, from the
// announcement to its outcome: the store drops an announcement whose outcome
// does not come within it (control died mid-command).
std::chrono::seconds SleepCommandBound(const ActionOptions& options);

class CommandGate {
 public:
  using AuditFn = std::function<void(AuditEntry)>;
  // A command about to act, for the bus only (no audit row): the entry's
  // result is kControlPending, `bound` the longest the command can take.
  using AnnounceFn = std::function<void(AuditEntry, std::chrono::seconds bound)>;

  CommandGate(const MinerActions& actions, std::chrono::seconds reboot_cooldown, AuditFn audit,
              AnnounceFn announce = nullptr)
      : actions_(actions),
        reboot_cooldown_(reboot_cooldown),
        audit_(std::move(audit)),
        announce_(std::move(announce)) {}

  // Holds the miner for `request`, or answers why not (409: a command is
  // running on it; 409: rebooted within the cooldown), audited. No I/O.
  std::optional<ActionOutcome> TryAcquire(const ActionRequest& request);
  // Runs `request` on the miner TryAcquire held (a sleep or wake announced
  // first), releases it, audits.
  ActionOutcome RunHeld(const ActionRequest& request);
  // Both, on the calling thread.
  ActionOutcome Run(const ActionRequest& request);

 private:
  AuditEntry Entry(const ActionRequest& request, const ActionOutcome& outcome) const;
  void Audit(const ActionRequest& request, const ActionOutcome& outcome);

  const MinerActions& actions_;
  const std::chrono::seconds reboot_cooldown_;
  AuditFn audit_;
  AnnounceFn announce_;
  std::mutex mutex_;
  std::set<std::string> busy_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> last_reboot_;
};

}  // namespace asicmon::control
