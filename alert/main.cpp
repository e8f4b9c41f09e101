// asicmon-alert: health events from the bus to the operator's receivers:
// ALERT_DESTINATIONS (several, each with its format, minimum severity and
// quiet hours) and/or ALERT_WEBHOOK_URL (one, in ALERT_FORMAT), grouped in
// bursts, retried with backoff. With neither set it says so and exits 0
// (supervisord's autorestart=unexpected and systemd's Restart=on-failure
// leave it stopped). Bad configuration exits 2.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "alert.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"

namespace {

using asicmon::Result;
using asicmon::Status;
using namespace asicmon::alert;

struct Config {
  std::string webhook_url;
  std::string webhook_key;
  std::string format = "json";
  std::string destinations;
  std::string quiet_hours;
};

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, AlertOptions& o, Config& c,
                 asicmon::StageFlags& stage) {
  t.Text(c.destinations,
         {"--destinations", "ALERT_DESTINATIONS",
          "Receivers: a JSON list inline ('[{...}]') or the path of a file holding it (chmod "
          "600). Each: {\"name\",\"format\":json|slack|telegram|pagerduty,\"url\",\"key\","
          "\"routing_key\",\"chat_id\",\"min_severity\":info|warning|critical,\"quiet_hours\"}"},
         "JSON|PATH");
  t.Text(c.webhook_url,
         {"--webhook-url", "ALERT_WEBHOOK_URL",
          "One more receiver, named 'webhook', http:// or https://; empty: none"},
         "URL");
  t.Text(c.webhook_key,
         {"--webhook-key", "ALERT_WEBHOOK_KEY",
          "The webhook's key: json sends it as 'Authorization: Bearer <key>', pagerduty as "
          "routing_key"});
  t.Choice(c.format,
           {"--format", "ALERT_FORMAT",
            "Format of the ALERT_WEBHOOK_URL receiver (telegram "
            "needs a chat_id: use ALERT_DESTINATIONS)"},
           {"json", "slack", "telegram", "pagerduty"});
  t.Seconds(o.destination.grouping.window,
            {"--group-s", "ALERT_GROUP_S",
             "Events of one kind within this many seconds of the first become one message; 0: "
             "each alone"},
            0, 3600);
  t.Text(c.quiet_hours,
         {"--quiet-hours", "ALERT_QUIET_HOURS",
          "Local time HH:MM-HH:MM when events below critical are held and sent as one digest "
          "after; destinations may set their own"},
         "HH:MM-HH:MM");
  t.Text(o.destination.http.ca_file,
         {"--ca-file", "API_CA_FILE", "PEM file of a private CA for https"}, "PATH");
  t.Seconds(o.destination.http.timeout, {"--timeout", "API_TIMEOUT", "Seconds per request"}, 0.1,
            600);
  t.Seconds(o.destination.retry.max,
            {"--retry-max", "PUSH_RETRY_MAX", "Longest backoff between attempts, seconds"}, 0.1,
            3600);
  t.Int(o.destination.queue_max,
        {"--queue-max", "ALERT_QUEUE_MAX",
         "Events held per destination while it is down or quiet; past it the oldest are "
         "dropped and counted"},
        1, 10000000);
  asicmon::AddStageSettings(t, stage);
}

// ALERT_DESTINATIONS and the ALERT_WEBHOOK_URL receiver, checked.
Result<std::vector<DestinationConfig>> Destinations(const Config& c) {
  std::optional<QuietHours> quiet;
  if (!c.quiet_hours.empty()) {
    Result<QuietHours> parsed = QuietHours::Parse(c.quiet_hours);
    if (!parsed.ok())
      return Status::InvalidArgument("ALERT_QUIET_HOURS: " + parsed.status().message());
    quiet = *parsed;
  }
  std::vector<DestinationConfig> out;
  if (!c.destinations.empty()) {
    Result<std::vector<DestinationConfig>> loaded = LoadDestinations(c.destinations, quiet);
    if (!loaded.ok()) return loaded.status();
    out = std::move(*loaded);
  }
  if (!c.webhook_url.empty()) {
    if (c.format == "telegram") {
      return Status::InvalidArgument(
          "ALERT_FORMAT=telegram needs a chat_id, which only ALERT_DESTINATIONS gives");
    }
    DestinationConfig d;
    d.name = "webhook";
    d.format = *ParseFormat(c.format);  // the Choice row allows only the four
    d.url = c.webhook_url;
    d.quiet_hours = quiet;
    (d.format == Format::kPagerDuty ? d.routing_key : d.key) = c.webhook_key;
    if (Status s = CheckDestination(d); !s.ok()) {
      return Status::InvalidArgument("ALERT_WEBHOOK_URL: " + s.message());
    }
    for (const DestinationConfig& other : out) {
      if (other.name == d.name) {
        return Status::InvalidArgument(
            "ALERT_DESTINATIONS names one 'webhook', the name of the ALERT_WEBHOOK_URL receiver");
      }
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  AlertOptions options;
  Config config;
  asicmon::StageFlags flags;
  CLI::App app{
      "asicmon-alert: send every health event the store publishes (offline, overheat, dead "
      "board, ...) to the operator's receivers: generic JSON webhooks, Slack incoming webhooks, "
      "Telegram bots, PagerDuty Events v2; several at once, each with its minimum severity; "
      "bursts grouped into one message; quiet hours; retried with backoff.\nSettings come from "
      "env vars; flags override."};
  asicmon::SettingsTable settings(app);
  AddSettings(settings, options, config, flags);
  app.footer(
      "Subscribes to ASICMON_PUBLISH (default ipc://$ASICMON_RUN_DIR/publish.sock).\nExample: "
      "ALERT_DESTINATIONS='[{\"name\":\"ops\",\"format\":\"slack\",\"url\":\"https://hooks.slack."
      "com/services/...\",\"min_severity\":\"warning\",\"quiet_hours\":\"22:00-06:00\"}]'");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "alert", flags, settings.env_status())) {
    return *exit_code;
  }
  // Keys, and webhook URLs that are secrets themselves (Slack, Telegram).
  for (const char* flag : {"--webhook-key", "--webhook-url", "--destinations"}) {
    asicmon::HideFlagValues(argc, argv, flag);
  }
  if (config.webhook_url.empty() && config.destinations.empty()) {
    spdlog::warn(
        "ALERT_WEBHOOK_URL is empty and so is ALERT_DESTINATIONS: alerts are not sent anywhere; "
        "exiting");
    return 0;
  }
  Result<std::vector<DestinationConfig>> destinations = Destinations(config);
  if (!destinations.ok()) {
    spdlog::error("bad configuration: {}", destinations.status().message());
    return 2;
  }
  options.destinations = std::move(*destinations);
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.destination.retry.initial =
      std::min(options.destination.retry.initial, options.destination.retry.max);
  options.stats_interval = flags.stats_interval;

  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto stage = AlertStage::Create(options);
  if (!stage.ok()) {
    spdlog::error("cannot start: {}", stage.status().ToString());
    return stage.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  if (Status s = (*stage)->Run(**shutdown); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
