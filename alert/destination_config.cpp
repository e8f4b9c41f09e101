#include "destination_config.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "asicmon/clock.h"

namespace asicmon::alert {
namespace {

// A list of receivers with their keys; a bigger file is not one.
constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxDestinations = 64;
constexpr size_t kMaxFieldBytes = 2048;

Status RowError(size_t index, std::string_view why) {
  return Status::InvalidArgument(fmt::format("ALERT_DESTINATIONS row {}: {}", index + 1, why));
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kJson:
      return "json";
    case Format::kSlack:
      return "slack";
    case Format::kTelegram:
      return "telegram";
    case Format::kPagerDuty:
      return "pagerduty";
  }
  return "json";
}

Result<Format> ParseFormat(std::string_view name) {
  for (Format f : {Format::kJson, Format::kSlack, Format::kTelegram, Format::kPagerDuty}) {
    if (FormatName(f) == name) return f;
  }
  return Status::InvalidArgument(
      fmt::format("unknown format {} (json, slack, telegram, pagerduty)", Shown(name)));
}

Result<Severity> ParseSeverity(std::string_view name) {
  if (name == "info") return Severity::kInfo;
  if (name == "warning") return Severity::kWarning;
  if (name == "critical") return Severity::kCritical;
  return Status::InvalidArgument(
      fmt::format("unknown severity {} (info, warning, critical)", Shown(name)));
}

Result<QuietHours> QuietHours::Parse(std::string_view text) {
  const size_t dash = text.find('-');
  const std::optional<int> start =
      dash == std::string_view::npos ? std::nullopt : ParseClockMinute(text.substr(0, dash));
  const std::optional<int> end =
      dash == std::string_view::npos ? std::nullopt : ParseClockMinute(text.substr(dash + 1));
  if (!start || !end) {
    return Status::InvalidArgument(
        fmt::format("quiet hours {}: want HH:MM-HH:MM, e.g. 22:00-06:00", Shown(text)));
  }
  if (*start == *end) {
    return Status::InvalidArgument(
        fmt::format("quiet hours {}: the start and the end are the same", Shown(text)));
  }
  return QuietHours{*start, *end};
}

bool QuietHours::Contains(int minute_of_day) const {
  if (start_minute < end_minute) {
    return minute_of_day >= start_minute && minute_of_day < end_minute;
  }
  return minute_of_day >= start_minute || minute_of_day < end_minute;  // across midnight
}

int LocalMinuteOfDay(double unix_s) {
  const std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm local{};
  localtime_r(&t, &local);
  return local.tm_hour * 60 + local.tm_min;
}

std::string DestinationConfig::PostUrl() const {
  if (format != Format::kTelegram) return url;
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/bot" + key + "/sendMessage";
}

Status CheckDestination(DestinationConfig& d) {
  if (!ValidName(d.name)) {
    return Status::InvalidArgument(
        fmt::format("destination name {}: want 1-32 of A-Z a-z 0-9 _ -", Shown(d.name)));
  }
  auto missing = [&d](const char* field) {
    return Status::InvalidArgument(
        fmt::format("destination {} ({}) needs \"{}\"", d.name, FormatName(d.format), field));
  };
  switch (d.format) {
    case Format::kJson:
    case Format::kSlack:
      if (d.url.empty()) return missing("url");
      if (d.format == Format::kSlack && !d.key.empty()) {
        // A Slack webhook's secret is its URL; a key would be sent nowhere.
        return Status::InvalidArgument(fmt::format(
            "destination {} (slack) takes no key: the webhook URL is the secret", d.name));
      }
      break;
    case Format::kTelegram:
      if (d.url.empty()) d.url = "https://api.telegram.org";
      if (d.key.empty()) return missing("key");
      if (d.chat_id.empty()) return missing("chat_id");
      break;
    case Format::kPagerDuty:
      if (d.url.empty()) d.url = "https://events.pagerduty.com/v2/enqueue";
      if (d.routing_key.empty()) return missing("routing_key");
      break;
  }
  if (d.url.rfind("http://", 0) != 0 && d.url.rfind("https://", 0) != 0) {
    return Status::InvalidArgument(fmt::format("destination {}: url {} is not http:// or https://",
                                               d.name, Shown(UrlForLog(d.url))));
  }
  return Status::Ok();
}

Result<std::vector<DestinationConfig>> ParseDestinations(
    std::string_view json_text, const std::optional<QuietHours>& default_quiet) {
  const nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (!doc.is_array()) {
    return Status::InvalidArgument(
        "ALERT_DESTINATIONS: not a JSON list of destinations ([{\"name\":...,\"format\":...}])");
  }
  if (doc.empty()) return Status::InvalidArgument("ALERT_DESTINATIONS: the list is empty");
  if (doc.size() > kMaxDestinations) {
    return Status::InvalidArgument(
        fmt::format("ALERT_DESTINATIONS: over {} destinations", kMaxDestinations));
  }
  std::vector<DestinationConfig> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    const nlohmann::json& row = doc[i];
    if (!row.is_object()) return RowError(i, "must be an object");
    for (const auto& [key, value] : row.items()) {
      static constexpr std::string_view kKeys[] = {
          "name", "format", "url", "key", "routing_key", "chat_id", "min_severity", "quiet_hours"};
      if (std::find(std::begin(kKeys), std::end(kKeys), key) == std::end(kKeys)) {
        return RowError(i, fmt::format("unknown key {} (name, format, url, key, routing_key, "
                                       "chat_id, min_severity, quiet_hours)",
                                       Shown(key)));
      }
      if (!value.is_string()) return RowError(i, fmt::format("\"{}\" must be a string", key));
      if (value.get_ref<const std::string&>().size() > kMaxFieldBytes) {
        return RowError(i, fmt::format("\"{}\" is over {} bytes", key, kMaxFieldBytes));
      }
    }
    auto text = [&row](const char* key) { return row.value(key, std::string()); };
    DestinationConfig d;
    d.name = text("name");
    Result<Format> format = ParseFormat(text("format"));
    if (!format.ok()) return RowError(i, format.status().message());
    d.format = *format;
    d.url = text("url");
    d.key = text("key");
    d.routing_key = text("routing_key");
    d.chat_id = text("chat_id");
    if (row.contains("min_severity")) {
      Result<Severity> severity = ParseSeverity(text("min_severity"));
      if (!severity.ok()) return RowError(i, severity.status().message());
      d.min_severity = *severity;
    }
    d.quiet_hours = default_quiet;
    if (row.contains("quiet_hours")) {
      d.quiet_hours.reset();
      if (!text("quiet_hours").empty()) {
        Result<QuietHours> quiet = QuietHours::Parse(text("quiet_hours"));
        if (!quiet.ok()) return RowError(i, quiet.status().message());
        d.quiet_hours = *quiet;
      }
    }
    if (Status s = CheckDestination(d); !s.ok()) return RowError(i, s.message());
    for (const DestinationConfig& other : out) {
      if (other.name == d.name) return RowError(i, fmt::format("repeats the name {}", d.name));
    }
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<DestinationConfig>> LoadDestinations(
    const std::string& value, const std::optional<QuietHours>& default_quiet) {
  if (!value.empty() && value.front() == '[') return ParseDestinations(value, default_quiet);
  // The file holds webhook URLs and keys: the house rule of MINER_CREDENTIALS_FILE.
  struct stat st {};
  if (::stat(value.c_str(), &st) != 0) {
    return Status::InvalidArgument(
        fmt::format("ALERT_DESTINATIONS file {}: cannot stat (or start the value with '[' "
                    "for an inline list)",
                    Shown(value)));
  }
  if ((st.st_mode & 077) != 0) {
    return Status::InvalidArgument(
        fmt::format("ALERT_DESTINATIONS file {} is readable by others (mode {:o}): chmod 600 it",
                    Shown(value), st.st_mode & 0777));
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    return Status::InvalidArgument(
        fmt::format("ALERT_DESTINATIONS file {} is over 1 MiB", Shown(value)));
  }
  std::ifstream in(value, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument(
        fmt::format("ALERT_DESTINATIONS file {}: cannot read", Shown(value)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  Result<std::vector<DestinationConfig>> parsed = ParseDestinations(text.str(), default_quiet);
  if (!parsed.ok()) {
    return Status::InvalidArgument(fmt::format("{}: {}", value, parsed.status().message()));
  }
  return parsed;
}

std::string UrlForLog(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(not a URL)";
  const size_t path = url.find('/', scheme + 3);
  std::string_view shown = url.substr(0, path);
  // user:password@ before the host is a secret too.
  if (const size_t at = shown.rfind('@'); at != std::string_view::npos && at > scheme) {
    return std::string(shown.substr(0, scheme + 3)) + std::string(shown.substr(at + 1));
  }
  return std::string(shown);
}

}  // namespace asicmon::alert
