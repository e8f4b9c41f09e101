#include "formats.h"

#include <fmt/format.h>

#include <cmath>
#include <set>
#include <ctime>
#include <nlohmann/json.hpp>

#include "asicmon/log.h"

namespace asicmon::alert {
namespace {

using nlohmann::json;

// PagerDuty: payload.summary "maximum permitted length ... 1024 characters",
// dedup_key 255 (developer.pagerduty.com/docs/events-api-v2/trigger-events).
constexpr size_t kPagerDutySummaryMax = 1024;
constexpr size_t kPagerDutyDedupMax = 255;
// Telegram: text "1-4096 characters after entities parsing"
// (core.telegram.org/bots/api#sendmessage).
constexpr size_t kTelegramTextMax = 4096;

// Bodies carry miner text (model, worker): invalid UTF-8 becomes U+FFFD
// rather than an exception.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// At most `max` bytes, never cutting a UTF-8 sequence (so at most `max` characters too).
std::string CutUtf8(std::string text, size_t max) {
  if (text.size() <= max) return text;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  text.resize(end);
  return text;
}

std::string Upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return text;
}

std::string MinerName(const HealthEvent& e) {
  const std::string ip = SafeForLog(e.ip, 64);
  return e.port == 4028 ? ip : fmt::format("{}:{}", ip, e.port);
}

// Today's Idempotency-Key of one event, unchanged.
std::string EventKey(const HealthEvent& e) {
  return fmt::format("{}:{}:{}:{}:{:.3f}", e.ip, e.port, e.kind, e.state, e.ts);
}

std::string IsoTime(double unix_s) {
  if (!std::isfinite(unix_s) || unix_s < 0 || unix_s > 253402300799.0) unix_s = 0;
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

// The generic JSON: one event is the object GET /events serves, as before;
// a group holds those objects under "events" with its count and text.
Message Json(const Group& g) {
  if (g.events.size() == 1) {
    return {Dump(HealthEventToJson(g.events.front())), EventKey(g.events.front())};
  }
  json events = json::array();
  for (const HealthEvent& e : g.events) events.push_back(HealthEventToJson(e));
  const json body = {{"kind", g.kind},         {"state", g.state},
                     {"severity", g.severity}, {"count", g.events.size()},
                     {"text", GroupText(g)},   {"events", std::move(events)}};
  return {Dump(body), fmt::format("group:{}:{}", EventKey(g.events.front()), g.events.size())};
}

// Slack incoming webhook (https://api.slack.com/messaging/webhooks): POST
// application/json {"text": ...}; "text" is mrkdwn, in which &, < and > must
// be escaped (https://api.slack.com/reference/surfaces/formatting#escaping).
// Plain text only: blocks would repeat the text, and "text" stays the
// notification's fallback either way.
Message Slack(const Group& g) {
  std::string text;
  for (char c : GroupText(g)) {
    if (c == '&') {
      text += "&amp;";
    } else if (c == '<') {
      text += "&lt;";
    } else if (c == '>') {
      text += "&gt;";
    } else {
      text += c;
    }
  }
  return {Dump(json{{"text", text}}), ""};
}

// Telegram Bot API sendMessage (https://core.telegram.org/bots/api#sendmessage):
// POST <base>/bot<token>/sendMessage, JSON {"chat_id" (Integer or String),
// "text"}; no parse_mode, so the text is shown as it is.
Message Telegram(const DestinationConfig& d, const Group& g) {
  return {Dump(json{{"chat_id", d.chat_id}, {"text", CutUtf8(GroupText(g), kTelegramTextMax)}}),
          ""};
}

// Our severities are a subset of PagerDuty's; anything else is an error.
std::string PagerDutySeverity(const std::string& severity) {
  return severity == "critical" || severity == "warning" || severity == "info" ? severity
                                                                               : "error";
}

}  // namespace

std::string GroupText(const Group& g) {
  const std::string severity = Upper(g.severity);
  const std::string what = g.state == "cleared" ? g.kind + " cleared" : g.kind;
  if (g.events.size() == 1) {
    const HealthEvent& e = g.events.front();
    std::string text = fmt::format("[{}] {} {}", severity, SafeForLog(what, 64), MinerName(e));
    if (!e.model.empty()) text += fmt::format(" {}", SafeForLog(e.model, 64));
    if (!e.worker.empty()) text += fmt::format(" ({})", SafeForLog(e.worker, 64));
    if (!e.message.empty()) text += fmt::format(": {}", SafeForLog(e.message, 300));
    return text;
  }
  std::string text =
      fmt::format("[{}] {} miners {}: ", severity, g.events.size(), SafeForLog(what, 64));
  const size_t named = std::min(g.events.size(), kNamedMiners);
  for (size_t i = 0; i < named; ++i) {
    if (i > 0) text += ", ";
    text += MinerName(g.events[i]);
  }
  if (g.events.size() > named) text += fmt::format(" and {} more", g.events.size() - named);
  return text;
}

std::vector<Message> Render(const DestinationConfig& d, const Group& g,
                            PagerDutyIncidents* incidents) {
  switch (d.format) {
    case Format::kJson:
      return {Json(g)};
    case Format::kSlack:
      return {Slack(g)};
    case Format::kTelegram:
      return {Telegram(d, g)};
    case Format::kPagerDuty:
      if (incidents == nullptr) return {};
      return incidents->Render(d, g);
  }
  return {};
}

// PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
// routing_key, event_action trigger|resolve, dedup_key; a trigger carries
// payload.summary, .source, .severity (critical, error, warning, info). A
// trigger with the dedup_key of an open alert adds to it rather than
// paging again; a resolve ends the alert of its dedup_key.
std::vector<Message> PagerDutyIncidents::Render(const DestinationConfig& d, const Group& g) {
  const std::string dedup_key = CutUtf8("asicmon:" + g.kind, kPagerDutyDedupMax);
  std::set<std::string>& miners = open_[g.kind];
  if (g.state == "cleared") {
    for (const HealthEvent& e : g.events) miners.erase(fmt::format("{}:{}", e.ip, e.port));
    // Some of the kind still in it: the incident stays open as it is. None
    // known (also after a restart of asicmon-alert): resolve, which PagerDuty
    // ignores for an alert it does not have open.
    if (!miners.empty()) return {};
    open_.erase(g.kind);
    return {{Dump(json{{"routing_key", d.routing_key},
                       {"event_action", "resolve"},
                       {"dedup_key", dedup_key}}),
             ""}};
  }
  json listed = json::array();
  for (const HealthEvent& e : g.events) {
    const std::string miner = fmt::format("{}:{}", e.ip, e.port);
    if (miners.size() < kMaxOpenPerKind) miners.insert(miner);
    if (listed.size() < kListedMiners) listed.push_back(miner);
  }
  std::string summary = GroupText(g);
  if (miners.size() > g.events.size()) summary += fmt::format(" ({} in all)", miners.size());
  const HealthEvent& first = g.events.front();
  json payload = {{"summary", CutUtf8(summary, kPagerDutySummaryMax)},
                  {"source", g.events.size() == 1 ? first.ip : std::string("asicmon")},
                  {"severity", PagerDutySeverity(g.severity)},
                  {"timestamp", IsoTime(first.ts)},
                  {"class", g.kind},
                  {"group", "asicmon"},
                  {"custom_details",
                   {{"count", miners.size()}, {"new", g.events.size()}, {"miners", listed}}}};
  if (g.events.size() == 1) {
    payload["custom_details"]["event"] = HealthEventToJson(first);
    if (!first.model.empty()) payload["component"] = first.model;
  }
  return {{Dump(json{{"routing_key", d.routing_key},
                     {"event_action", "trigger"},
                     {"dedup_key", dedup_key},
                     {"client", "asicmon"},
                     {"payload", std::move(payload)}}),
           ""}};
}

size_t PagerDutyIncidents::open(const std::string& kind) const {
  const auto it = open_.find(kind);
  return it == open_.end() ? 0 : it->second.size();
}

}  // namespace asicmon::alert
