// Automatic remediation: when a health condition has held on a miner for a
// rule's hold time, run the rule's action on it (through the CommandGate,
// audited as actor "rule:<name>"), within limits: per miner per day, per
// rule per hour, a farm-wide cap of automatic actions running at once,
// quiet hours, and the AUTO_ACTIONS kill switch (off by default: rules are
// loaded and shown, nothing acts). When the action failed, or the condition
// still holds a grace period after it, or a limit keeps the rule from
// acting, the rule escalates once per episode (a "remediation_failed" health
// event) instead of acting again.
//
// The rules file (REMEDIATION_RULES), JSON, reloaded on SIGHUP:
//   {"max_concurrent": 5,
//    "quiet_hours": [{"from": "22:00", "to": "06:00"}],          // UTC
//    "rules": [{"name": "reboot-dead-board", "kind": "board_dead",
//               "action": "reboot", "hold_s": 0, "grace_s": 900,
//               "max_per_miner_per_day": 1, "max_per_hour": 50}]}
//
// Thread-safety: Observe and Tick come from the bus thread; actions finish on
// action threads; Status from request threads. One mutex guards the state.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/health.h"
#include "asicmon/status.h"
#include "asicmon/store_db.h"
#include "fleet.h"

namespace asicmon::control {

class Remediation {
 public:
  // Runs a command off the caller's thread (control's action pool).
  using Post = std::function<void(std::function<void()>)>;
  // Sends an event to the bus (a remediation_failed health event).
  using Publish = std::function<void(const HealthEvent&)>;

  Remediation(CommandGate& gate, bool enabled, Post post, Publish publish)
      : gate_(gate), enabled_(enabled), post_(std::move(post)), publish_(std::move(publish)) {}

  // Replaces the rules; what was counted and what holds stay.
  void Configure(RemediationConfig config);
  // Where a restarted control starts from: the conditions holding with the
  // time each fired, and what rules did in the last day (audit rows whose
  // actor is "rule:<name>"), so limits and episodes carry over.
  void Restore(const std::vector<HealthEvent>& active_fired, const std::vector<AuditEntry>& audit);

  void Observe(const HealthEvent& event);
  // Acts on what is due at unix time `now`.
  void Tick(double now);

  // {"enabled", "max_concurrent", "running", "quiet_now", "rules": [...],
  //  "holding": [{ip, kind, since, rules: [{name, state}]}]}
  nlohmann::json StatusJson(double now) const;

 private:
  struct RuleState {
    double acted_at = 0;     // 0: not yet in this episode
    double finished_at = 0;  // when its action ended; 0 while it runs
    bool escalated = false;
  };
  struct Episode {
    HealthEvent fired;  // the event that started it
    std::map<std::string, RuleState> rules;  // by rule name
  };

  bool Quiet(double now) const;
  // Why `rule` may not act on `ip` now ("" when it may).
  std::string Limited(const RemediationRule& rule, const std::string& ip, double now) const;
  void Act(const RemediationRule& rule, Episode& episode, double now);
  // The action a rule started for the episode at `key` ended with `outcome`.
  void Finished(const std::string& key, const std::string& rule_name, const ActionOutcome& outcome);
  void Escalate(const RemediationRule& rule, Episode& episode, double now, std::string why);
  static std::string Key(const std::string& ip, std::string_view kind);

  CommandGate& gate_;
  const bool enabled_;
  Post post_;
  Publish publish_;

  mutable std::mutex mutex_;
  RemediationConfig config_;
  std::map<std::string, Episode> episodes_;  // by Key(ip, kind)
  std::map<std::string, std::deque<double>> per_miner_;  // "rule|ip": action times, last day
  std::map<std::string, std::deque<double>> per_rule_;   // rule: action times, last hour
  int running_ = 0;
  std::set<std::string> said_disabled_;  // episodes already logged as "would act"
};

}  // namespace asicmon::control
