// asicmon-alert: health events from the bus to the operator's webhook
// (ALERT_WEBHOOK_URL), one JSON object per POST, retried with backoff. With
// ALERT_WEBHOOK_URL empty it says so and exits 0 (supervisord's
// autorestart=unexpected and systemd's Restart=on-failure leave it stopped).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "alert.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"

namespace {

using asicmon::Status;

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, asicmon::alert::AlertOptions& o,
                 asicmon::StageFlags& stage) {
  t.Text(o.http.url,
         {"--webhook-url", "ALERT_WEBHOOK_URL",
          "Webhook URL, http:// or https://; empty disables alerts"},
         "URL");
  t.Text(o.http.api_key, {"--webhook-key", "ALERT_WEBHOOK_KEY",
                          "Sent as 'Authorization: Bearer <key>'; none when empty"});
  t.Text(o.http.ca_file, {"--ca-file", "API_CA_FILE", "PEM file of a private CA for https"},
         "PATH");
  t.Seconds(o.http.timeout, {"--timeout", "API_TIMEOUT", "Seconds per request"}, 0.1, 600);
  t.Seconds(o.retry.max,
            {"--retry-max", "PUSH_RETRY_MAX", "Longest backoff between attempts, seconds"}, 0.1,
            3600);
  t.Int(o.queue_max,
        {"--queue-max", "ALERT_QUEUE_MAX",
         "Events held while the webhook is down; past it the oldest are dropped and counted"},
        1, 10000000);
  asicmon::AddStageSettings(t, stage);
}

}  // namespace

int main(int argc, char** argv) {
  asicmon::alert::AlertOptions options;
  asicmon::StageFlags flags;
  CLI::App app{
      "asicmon-alert: POST every health event the store publishes (offline, overheat, dead "
      "board, ...) to a webhook as JSON, retried with backoff.\nSettings come from env vars; "
      "flags override."};
  asicmon::SettingsTable settings(app);
  AddSettings(settings, options, flags);
  app.footer("Subscribes to ASICMON_PUBLISH (default ipc://$ASICMON_RUN_DIR/publish.sock).");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "alert", flags, settings.env_status())) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--webhook-key");
  if (options.http.url.empty()) {
    spdlog::warn("ALERT_WEBHOOK_URL is empty: alerts are not sent anywhere; exiting");
    return 0;
  }
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.retry.initial = std::min(options.retry.initial, options.retry.max);
  options.stats_interval = flags.stats_interval;

  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto stage = asicmon::alert::AlertStage::Create(options);
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
