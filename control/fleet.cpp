#include "fleet.h"

#include <fmt/format.h>

#include <utility>

#include "asicmon/events.h"

namespace asicmon::control {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::chrono::seconds SleepCommandBound(const ActionOptions& o) {
  // SetSleep: a poll, a web read and the config write before the wait, then
  // checks until back_timeout, the last of which (a web read and a poll) may
  // begin just before it ends; a second more for rounding.
  const auto longest = 2 * o.api.deadline + 2 * o.http_timeout + o.http_write_timeout +
                       o.back_timeout + o.back_poll_interval + std::chrono::milliseconds(1000);
  return std::chrono::ceil<std::chrono::seconds>(longest);
}

ActionOutcome Perform(const MinerActions& actions, const ActionRequest& r) {
  switch (r.kind) {
    case ActionKind::kReset:
      return actions.Reset(r.ip, r.worker);
    case ActionKind::kReboot:
      return actions.Reboot(r.ip, r.worker, r.wait);
    case ActionKind::kPool:
      return actions.ChangePool(r.ip, r.worker, r.pool);
    case ActionKind::kSleep:
      return actions.SetSleep(r.ip, r.worker, true);
    case ActionKind::kWake:
      return actions.SetSleep(r.ip, r.worker, false);
    case ActionKind::kLocate:
      return actions.Locate(r.ip, r.worker, r.on);
    case ActionKind::kPower:
      return actions.SetPower(r.ip, r.worker, r.power);
  }
  return {500, ErrorBody("internal error", "unknown action"), "internal error"};
}

std::optional<ActionOutcome> CommandGate::TryAcquire(const ActionRequest& request) {
  std::optional<ActionOutcome> refused;
  {
    std::lock_guard lock(mutex_);
    const auto reboot = last_reboot_.find(request.ip);
    const auto now = Clock::now();
    if (busy_.contains(request.ip)) {
      refused = ActionOutcome{409,
                              ErrorBody("a command is already running on this miner",
                                        "wait for it to finish, then try again"),
                              std::string(kControlBusy)};
    } else if (request.kind == ActionKind::kReboot && !request.force &&
               reboot != last_reboot_.end() && now - reboot->second < reboot_cooldown_) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(
          reboot_cooldown_ - (now - reboot->second));
      refused = ActionOutcome{
          409,
          ErrorBody("rebooted recently",
                    fmt::format("this miner was rebooted less than {} s ago; {} s left (add "
                                "?force=true to reboot anyway)",
                                reboot_cooldown_.count(), left.count())),
          "cooldown"};
    } else {
      busy_.insert(request.ip);
    }
  }
  if (refused) Audit(request, *refused);
  return refused;
}

ActionOutcome CommandGate::RunHeld(const ActionRequest& request) {
  // A sleep, a wake or a power change restarts the miner's mining software
  // (a btminer power limit reboots it), whose replies meanwhile (no API,
  // then no hashrate, every chip 'x') are no fault: say so before anything
  // reaches the miner.
  if (announce_ && (request.kind == ActionKind::kSleep || request.kind == ActionKind::kWake ||
                    request.kind == ActionKind::kPower)) {
    announce_(Entry(request, {202, {}, std::string(kControlPending)}),
              SleepCommandBound(actions_.options()));
  }
  ActionOutcome outcome;
  try {
    outcome = Perform(actions_, request);
  } catch (const std::exception& e) {
    outcome = {500, ErrorBody("internal error", e.what()), "internal error"};
  }
  {
    std::lock_guard lock(mutex_);
    busy_.erase(request.ip);
    // A reboot that was taken counts for the cooldown even when the miner
    // was slow to come back.
    if (request.kind == ActionKind::kReboot &&
        (outcome.http_status / 100 == 2 || outcome.result == "not back in time")) {
      last_reboot_[request.ip] = Clock::now();
    }
  }
  Audit(request, outcome);
  return outcome;
}

ActionOutcome CommandGate::Run(const ActionRequest& request) {
  if (auto refused = TryAcquire(request)) return *refused;
  return RunHeld(request);
}

AuditEntry CommandGate::Entry(const ActionRequest& request, const ActionOutcome& outcome) const {
  std::string detail = request.detail;
  if (request.kind == ActionKind::kPower) {
    // The setting first, whoever asked (REST, a bulk job, curtailment): the
    // store reads from it whether the miner now hashes less on purpose.
    const std::string setting = PowerChangeDetail(request.power);
    detail = detail.empty() ? setting : setting + " (" + detail + ")";
  }
  return AuditEntry{.ts = 0,
                    .actor = request.actor,
                    .action = std::string(ToString(request.kind)),
                    .ip = request.ip,
                    .worker = request.worker,
                    .detail = std::move(detail),
                    .http_status = outcome.http_status,
                    .result = outcome.result};
}

void CommandGate::Audit(const ActionRequest& request, const ActionOutcome& outcome) {
  audit_(Entry(request, outcome));
}

}  // namespace asicmon::control
