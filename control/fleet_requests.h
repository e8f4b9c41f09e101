// What operators ask of the fleet, parsed from hostile text: the action
// kinds, a bulk job's request (the body of POST /actions) and the automatic
// remediation rules file. Kept apart from what runs them so the fuzz build
// takes these parsers without curl and the rest of control.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/record.h"
#include "asicmon/status.h"
#include "roles.h"
#include "validate.h"

namespace asicmon::control {

enum class ActionKind { kReset, kReboot, kPool, kSleep, kWake, kLocate, kPower };

std::string_view ToString(ActionKind kind);  // "reset", "reboot", ...
std::optional<ActionKind> ParseActionKind(std::string_view name);
// "reset, reboot, pool, sleep, wake, locate": for error messages.
std::string ActionKindList();
// The least role that may ask for `kind` (roles.h).
Role RequiredRole(ActionKind kind);

inline constexpr int kMaxParallelLimit = 200;
inline constexpr size_t kMaxSelectIps = 100000;

// Every criterion given must hold (an empty selector is refused: a whole
// farm is selected by saying so, cidr 0.0.0.0/0).
struct MinerSelector {
  std::vector<std::string> ips;
  std::optional<Cidr> cidr;
  std::string cidr_text;
  std::string model;          // exact, as the miner reports it
  std::string worker_prefix;
  std::string status;         // a record status ("ok", "timeout", ...) or "sleeping"

  bool Matches(const Record& record) const;
  nlohmann::json ToJson() const;
};

struct BulkRequest {
  ActionKind kind = ActionKind::kReboot;
  MinerSelector select;
  PoolChange pool;   // pool
  PowerChange power; // power
  bool on = true;    // locate
  bool wait = false; // reboot: each miner until it is back
  int max_parallel = 20;
  bool dry_run = false;

  // `params` as the request gave them (a job shows them without the password).
  nlohmann::json ParamsJson(bool with_password) const;
};

// The body of POST /actions, validated; InvalidArgument says what is wrong.
Result<BulkRequest> ParseBulkRequest(std::string_view body);

inline constexpr std::string_view kRemediationFailed = "remediation_failed";

struct RemediationRule {
  std::string name;
  std::string kind;  // a health kind that fires and clears
  ActionKind action = ActionKind::kReboot;
  double hold_s = 900;  // the condition holds this long before the rule acts
  double grace_s = 900; // after the action, before it counts as not helping
  int max_per_miner_per_day = 1;
  int max_per_hour = 0;  // by this rule over the farm; 0: no limit
};

struct QuietWindow {
  int from_minute = 0;  // minutes after midnight UTC
  int to_minute = 0;    // may be smaller than from: the window spans midnight
  bool Contains(double unix_s) const;
};

// "HH:MM" (a JSON string) as minutes after midnight; nullopt when it is not.
std::optional<int> ParseClock(const nlohmann::json& value);

struct RemediationConfig {
  std::vector<RemediationRule> rules;
  int max_concurrent = 5;
  std::vector<QuietWindow> quiet_hours;
};

// InvalidArgument naming the field that is wrong.
Result<RemediationConfig> ParseRemediationConfig(std::string_view text);
// The file's contents parsed; the error names the file.
Result<RemediationConfig> LoadRemediationConfig(const std::string& path);

// Health kinds that hold until they clear (a rule can wait on them);
// pool_changed, rebooted and remediation_failed fire once.
bool IsHoldingKind(std::string_view kind);

}  // namespace asicmon::control
