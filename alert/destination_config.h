// Where asicmon-alert sends health events: one DestinationConfig per
// receiver, each with its own format, minimum severity and quiet hours, read
// from ALERT_DESTINATIONS (a JSON list inline, or the path of a file holding
// it, mode 0600 as it holds secrets) and from the one-destination form
// ALERT_WEBHOOK_URL / ALERT_WEBHOOK_KEY / ALERT_FORMAT.
//
// Thread-safety: plain values and functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/status.h"

namespace asicmon::alert {

enum class Format { kJson, kSlack, kTelegram, kPagerDuty };
// "json", "slack", "telegram", "pagerduty".
std::string_view FormatName(Format format);
Result<Format> ParseFormat(std::string_view name);

// A health event's severity, ordered: a destination takes those at or over its minimum.
enum class Severity { kInfo = 0, kWarning = 1, kCritical = 2 };
// "info", "warning", "critical"; InvalidArgument for anything else.
Result<Severity> ParseSeverity(std::string_view name);

// A daily span of local time ("22:00-06:00"), crossing midnight when the
// start is later than the end. Local time: the host's TZ, as the night shift
// reads its clock.
struct QuietHours {
  int start_minute = 0;  // of the day, 0..1439
  int end_minute = 0;    // exclusive

  // InvalidArgument unless "HH:MM-HH:MM" with a start other than the end.
  static Result<QuietHours> Parse(std::string_view text);
  bool Contains(int minute_of_day) const;
};

// The minute of the day (0..1439) in local time at unix time `unix_s`.
int LocalMinuteOfDay(double unix_s);

struct DestinationConfig {
  std::string name;  // in logs and stats: [A-Za-z0-9_-], at most 32
  Format format = Format::kJson;
  // json, slack: the URL posted to. telegram: the Bot API base (Default:
  // https://api.telegram.org), posted at <url>/bot<key>/sendMessage.
  // pagerduty: Default: https://events.pagerduty.com/v2/enqueue.
  std::string url;
  std::string key;          // json: Bearer token (optional); telegram: the bot token
  std::string routing_key;  // pagerduty: the integration key
  std::string chat_id;      // telegram: the chat (a number or "@channel")
  Severity min_severity = Severity::kInfo;
  std::optional<QuietHours> quiet_hours;  // none: never quiet

  // The URL the messages are POSTed to (telegram's includes the token).
  std::string PostUrl() const;
};

// Parses a JSON list of destinations: objects with "name", "format", "url",
// "key", "routing_key", "chat_id", "min_severity", "quiet_hours" (unknown
// keys refused). `default_quiet` (ALERT_QUIET_HOURS) applies to those
// without "quiet_hours"; "quiet_hours": "" turns it off for one.
// InvalidArgument naming the row and the field for anything wrong.
Result<std::vector<DestinationConfig>> ParseDestinations(
    std::string_view json_text, const std::optional<QuietHours>& default_quiet);

// `value` is the JSON list itself when it starts with '[', else the path of
// a file holding it, which must not be readable by others (chmod 600).
Result<std::vector<DestinationConfig>> LoadDestinations(
    const std::string& value, const std::optional<QuietHours>& default_quiet);

// Checks one destination (also the one made of ALERT_WEBHOOK_URL): a known
// format with what it needs, an http(s) URL, fills the format's default URL.
Status CheckDestination(DestinationConfig& destination);

// scheme://host[:port] of `url`: what logs show (a Slack webhook's path and a
// Telegram URL's hold secrets).
std::string UrlForLog(std::string_view url);

}  // namespace asicmon::alert
