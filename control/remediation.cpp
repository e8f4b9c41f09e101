#include "remediation.h"

#include "asicmon/clock.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace asicmon::control {
namespace {

constexpr double kDay = 86400;
constexpr double kHour = 3600;
constexpr std::string_view kActorPrefix = "rule:";

void Expire(std::deque<double>& times, double now, double window) {
  while (!times.empty() && times.front() <= now - window) times.pop_front();
}

}  // namespace

std::string Remediation::Key(const std::string& ip, std::string_view kind) {
  return fmt::format("{}|{}", ip, kind);
}

void Remediation::Configure(RemediationConfig config) {
  std::lock_guard lock(mutex_);
  config_ = std::move(config);
  spdlog::info("remediation: {} rules, at most {} automatic actions at once, {} quiet windows, {}",
               config_.rules.size(), config_.max_concurrent, config_.quiet_hours.size(),
               enabled_ ? "acting" : "NOT acting (AUTO_ACTIONS=false)");
}

void Remediation::Restore(const std::vector<HealthEvent>& active_fired,
                          const std::vector<AuditEntry>& audit) {
  std::lock_guard lock(mutex_);
  for (const HealthEvent& e : active_fired) {
    if (IsHoldingKind(e.kind)) episodes_[Key(e.ip, e.kind)].fired = e;
  }
  // Audit rows come newest first; the limits want them oldest first.
  for (auto it = audit.rbegin(); it != audit.rend(); ++it) {
    if (!it->actor.starts_with(kActorPrefix)) continue;
    const std::string rule = it->actor.substr(kActorPrefix.size());
    per_miner_[rule + "|" + it->ip].push_back(it->ts);
    per_rule_[rule].push_back(it->ts);
    for (auto& [key, episode] : episodes_) {
      if (episode.fired.ip == it->ip && it->ts >= episode.fired.ts) {
        episode.rules[rule] = {.acted_at = it->ts, .finished_at = it->ts, .escalated = false};
      }
    }
  }
  // An escalation still standing was said already: not again after a restart.
  for (const HealthEvent& e : active_fired) {
    if (e.kind != kRemediationFailed) continue;
    for (auto& [key, episode] : episodes_) {
      if (episode.fired.ip != e.ip) continue;
      for (const RemediationRule& rule : config_.rules) {
        if (rule.kind == episode.fired.kind) episode.rules[rule.name].escalated = true;
      }
    }
  }
}

void Remediation::Observe(const HealthEvent& event) {
  if (!IsHoldingKind(event.kind)) return;  // nothing to hold (ours come back from the store too)
  std::lock_guard lock(mutex_);
  const std::string key = Key(event.ip, event.kind);
  if (event.state == "fired") {
    episodes_[key] = Episode{.fired = event, .rules = {}};
    return;
  }
  auto it = episodes_.find(key);
  if (it == episodes_.end()) return;
  for (auto& [name, state] : it->second.rules) {
    if (!state.escalated) continue;
    HealthEvent cleared = it->second.fired;
    cleared.ts = event.ts;
    cleared.kind = std::string(kRemediationFailed);
    cleared.state = "cleared";
    cleared.severity = "info";
    cleared.message = fmt::format("{} cleared on its own; rule {} stands down", event.kind, name);
    cleared.value.reset();
    cleared.threshold.reset();
    publish_(cleared);
  }
  said_disabled_.erase(key);
  episodes_.erase(it);
}

bool Remediation::Quiet(double now) const {
  for (const QuietWindow& w : config_.quiet_hours) {
    if (w.Contains(now)) return true;
  }
  return false;
}

std::string Remediation::Limited(const RemediationRule& rule, const std::string& ip,
                                 double now) const {
  const auto miner = per_miner_.find(rule.name + "|" + ip);
  size_t today = 0;
  if (miner != per_miner_.end()) {
    today = std::count_if(miner->second.begin(), miner->second.end(),
                          [&](double t) { return t > now - kDay; });
  }
  if (today >= static_cast<size_t>(rule.max_per_miner_per_day)) {
    return fmt::format("it already acted {} times on this miner in the last 24 h (limit {})", today,
                       rule.max_per_miner_per_day);
  }
  return "";
}

void Remediation::Tick(double now) {
  std::lock_guard lock(mutex_);
  for (auto& [name, times] : per_miner_) Expire(times, now, kDay);
  for (auto& [name, times] : per_rule_) Expire(times, now, kHour);
  for (auto& [key, episode] : episodes_) {
    for (const RemediationRule& rule : config_.rules) {
      if (rule.kind != episode.fired.kind) continue;
      RuleState& state = episode.rules[rule.name];
      if (state.escalated) continue;
      if (state.acted_at > 0) {
        if (state.finished_at > 0 && now - state.finished_at >= rule.grace_s) {
          Escalate(rule, episode, now,
                   fmt::format("{} still holds {:.0f} s after the rule's {} ended", rule.kind,
                               now - state.finished_at, ToString(rule.action)));
        }
        continue;
      }
      if (now - episode.fired.ts < rule.hold_s) continue;
      if (!enabled_) {
        if (said_disabled_.insert(key).second) {
          spdlog::info("remediation: rule {} would {} {} ({} for {:.0f} s) but AUTO_ACTIONS is off",
                       rule.name, ToString(rule.action), episode.fired.ip, rule.kind,
                       now - episode.fired.ts);
        }
        continue;
      }
      if (Quiet(now) || running_ >= config_.max_concurrent) continue;  // later, not never
      if (rule.max_per_hour > 0 &&
          per_rule_[rule.name].size() >= static_cast<size_t>(rule.max_per_hour)) {
        continue;
      }
      if (std::string why = Limited(rule, episode.fired.ip, now); !why.empty()) {
        Escalate(rule, episode, now, fmt::format("rule {} may not act: {}", rule.name, why));
        continue;
      }
      Act(rule, episode, now);
    }
  }
}

void Remediation::Act(const RemediationRule& rule, Episode& episode, double now) {
  RuleState& state = episode.rules[rule.name];
  state.acted_at = now;
  per_miner_[rule.name + "|" + episode.fired.ip].push_back(now);
  per_rule_[rule.name].push_back(now);
  ++running_;
  const ActionRequest request{.kind = rule.action,
                              .ip = episode.fired.ip,
                              .worker = episode.fired.worker,
                              .pool = {},
                              .power = {},
                              .on = true,
                              .wait = false,
                              .force = false,
                              .actor = std::string(kActorPrefix) + rule.name,
                              .detail = fmt::format("{} held {:.0f} s", rule.kind,
                                                    now - episode.fired.ts)};
  spdlog::info("remediation: rule {}: {} {} ({} held {:.0f} s)", rule.name, ToString(rule.action),
               request.ip, rule.kind, now - episode.fired.ts);
  const std::string key = Key(episode.fired.ip, episode.fired.kind);
  const std::string rule_name = rule.name;
  post_([this, request, key, rule_name] { Finished(key, rule_name, gate_.Run(request)); });
}

void Remediation::Finished(const std::string& key, const std::string& rule_name,
                           const ActionOutcome& outcome) {
  std::lock_guard lock(mutex_);
  --running_;
  auto episode = episodes_.find(key);
  if (episode == episodes_.end()) return;  // cleared meanwhile: it helped
  const double now = UnixNow();
  episode->second.rules[rule_name].finished_at = now;
  if (outcome.http_status / 100 == 2) return;
  for (const RemediationRule& rule : config_.rules) {
    if (rule.name != rule_name) continue;
    Escalate(rule, episode->second, now,
             fmt::format("its {} failed: {} {}", ToString(rule.action), outcome.http_status,
                         outcome.result));
  }
}

void Remediation::Escalate(const RemediationRule& rule, Episode& episode, double now,
                           std::string why) {
  episode.rules[rule.name].escalated = true;
  HealthEvent event = episode.fired;
  event.ts = now;
  event.kind = std::string(kRemediationFailed);
  event.state = "fired";
  event.severity = "critical";
  event.message = fmt::format("rule {} on {}: {}; not acting again, a person must look", rule.name,
                              episode.fired.kind, why);
  event.value.reset();
  event.threshold.reset();
  spdlog::warn("remediation: {} {}", episode.fired.ip, event.message);
  publish_(event);
}

nlohmann::json Remediation::StatusJson(double now) const {
  std::lock_guard lock(mutex_);
  nlohmann::json rules = nlohmann::json::array();
  for (const RemediationRule& r : config_.rules) {
    rules.push_back({{"name", r.name},
                     {"kind", r.kind},
                     {"action", ToString(r.action)},
                     {"hold_s", r.hold_s},
                     {"grace_s", r.grace_s},
                     {"max_per_miner_per_day", r.max_per_miner_per_day},
                     {"max_per_hour", r.max_per_hour}});
  }
  nlohmann::json holding = nlohmann::json::array();
  for (const auto& [key, episode] : episodes_) {
    nlohmann::json by_rule = nlohmann::json::array();
    for (const auto& [name, state] : episode.rules) {
      by_rule.push_back({{"name", name},
                         {"state", state.escalated        ? "escalated"
                                   : state.finished_at > 0 ? "acted"
                                   : state.acted_at > 0    ? "acting"
                                                           : "waiting"}});
    }
    holding.push_back({{"ip", episode.fired.ip},
                       {"kind", episode.fired.kind},
                       {"since", episode.fired.ts},
                       {"rules", std::move(by_rule)}});
  }
  return {{"enabled", enabled_},   {"max_concurrent", config_.max_concurrent},
          {"running", running_},   {"quiet_now", Quiet(now)},
          {"rules", std::move(rules)}, {"holding", std::move(holding)}};
}

}  // namespace asicmon::control
