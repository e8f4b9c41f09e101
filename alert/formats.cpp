#include "formats.h"

#include <fmt/format.h>

#include <cmath>
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

// PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/):
// routing_key, event_action trigger|resolve, dedup_key; a trigger carries
// payload.summary, .source, .severity (critical, error, warning, info).
// One event per miner and kind, never a group: a resolve must name the
// dedup_key of the trigger it ends, and PagerDuty's own alert grouping
// (https://support.pagerduty.com/main/docs/alert-grouping: time-based,
// content-based on fields such as class/component, intelligent) folds those
// alerts into one incident on the service, so people are paged once. We set
// payload.class to the kind so content-based grouping can key on it.
Message PagerDutyEvent(const DestinationConfig& d, const HealthEvent& e) {
  const std::string dedup_key =
      CutUtf8(fmt::format("asicmon:{}:{}:{}", e.ip, e.port, e.kind), kPagerDutyDedupMax);
  if (e.state == "cleared") {
    return {
        Dump(json{
            {"routing_key", d.routing_key}, {"event_action", "resolve"}, {"dedup_key", dedup_key}}),
        ""};
  }
  Group one{e.kind, e.state, e.severity, {e}};
  // Our severities are a subset of PagerDuty's; anything else is an error.
  const std::string severity =
      e.severity == "critical" || e.severity == "warning" || e.severity == "info" ? e.severity
                                                                                  : "error";
  json payload = {{"summary", CutUtf8(GroupText(one), kPagerDutySummaryMax)},
                  {"source", e.ip},
                  {"severity", severity},
                  {"timestamp", IsoTime(e.ts)},
                  {"class", e.kind},
                  {"group", "asicmon"},
                  {"custom_details", HealthEventToJson(e)}};
  if (!e.model.empty()) payload["component"] = e.model;
  return {Dump(json{{"routing_key", d.routing_key},
                    {"event_action", "trigger"},
                    {"dedup_key", dedup_key},
                    {"client", "asicmon"},
                    {"payload", std::move(payload)}}),
          ""};
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

std::vector<Message> Render(const DestinationConfig& d, const Group& g) {
  switch (d.format) {
    case Format::kJson:
      return {Json(g)};
    case Format::kSlack:
      return {Slack(g)};
    case Format::kTelegram:
      return {Telegram(d, g)};
    case Format::kPagerDuty: {
      std::vector<Message> out;
      out.reserve(g.events.size());
      for (const HealthEvent& e : g.events) out.push_back(PagerDutyEvent(d, e));
      return out;
    }
  }
  return {};
}

}  // namespace asicmon::alert
