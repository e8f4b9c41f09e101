// asicmon-alert: health events from the bus to the operator's webhook
// (ALERT_WEBHOOK_URL), one JSON object per POST, retried with backoff. With
// ALERT_WEBHOOK_URL empty it says so and exits 0 (supervisord's
// autorestart=unexpected and systemd's Restart=on-failure leave it stopped).
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "alert.h"
#include "asicmon/config.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"

namespace {

using asicmon::Status;

struct AlertConfig {
  std::string url;            // ALERT_WEBHOOK_URL
  std::string key;            // ALERT_WEBHOOK_KEY
  std::string ca_file;        // API_CA_FILE
  double timeout_s = 5;       // API_TIMEOUT
  double retry_max_s = 32;    // PUSH_RETRY_MAX
  int64_t queue_max = 10000;  // ALERT_QUEUE_MAX
  asicmon::StageFlags stage;
};

Status LoadEnv(AlertConfig& c) {
  for (Status s : {asicmon::EnvString("ALERT_WEBHOOK_URL", c.url),
                   asicmon::EnvString("ALERT_WEBHOOK_KEY", c.key),
                   asicmon::EnvString("API_CA_FILE", c.ca_file),
                   asicmon::EnvDouble("API_TIMEOUT", c.timeout_s, 0.1, 600),
                   asicmon::EnvDouble("PUSH_RETRY_MAX", c.retry_max_s, 0.1, 3600),
                   asicmon::EnvInt("ALERT_QUEUE_MAX", c.queue_max, 1, 10000000),
                   asicmon::LoadStageEnv(c.stage)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  AlertConfig c;
  Status env = LoadEnv(c);
  CLI::App app{
      "asicmon-alert: POST every health event the store publishes (offline, overheat, dead "
      "board, ...) to a webhook as JSON, retried with backoff.\nSettings come from env vars; "
      "flags override."};
  app.add_option("--webhook-url", c.url,
                 "Webhook URL, http:// or https://; empty disables alerts (env ALERT_WEBHOOK_URL)");
  app.add_option("--webhook-key", c.key,
                 "Sent as 'Authorization: Bearer <key>'; none when empty (env ALERT_WEBHOOK_KEY)");
  app.add_option("--ca-file", c.ca_file, "PEM file of a private CA for https (env API_CA_FILE)");
  app.add_option("--timeout", c.timeout_s, "Seconds per request (env API_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--retry-max", c.retry_max_s,
                 "Longest backoff between attempts, seconds (env PUSH_RETRY_MAX)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--queue-max", c.queue_max,
                 "Events held while the webhook is down; past it the oldest are dropped and "
                 "counted (env ALERT_QUEUE_MAX)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{10000000}));
  asicmon::AddStageFlags(app, c.stage);
  app.footer("Subscribes to ASICMON_PUBLISH (default ipc://$ASICMON_RUN_DIR/publish.sock).");
  if (auto exit_code = asicmon::StartStage(app, argc, argv, "alert", c.stage, env)) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--webhook-key");
  if (c.url.empty()) {
    spdlog::warn("ALERT_WEBHOOK_URL is empty: alerts are not sent anywhere; exiting");
    return 0;
  }
  asicmon::alert::AlertOptions options;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.http.url = c.url;
  options.http.api_key = c.key;
  options.http.ca_file = c.ca_file;
  options.http.timeout = std::chrono::milliseconds(static_cast<int64_t>(c.timeout_s * 1000));
  options.retry.max = std::chrono::milliseconds(static_cast<int64_t>(c.retry_max_s * 1000));
  options.retry.initial = std::min(options.retry.initial, options.retry.max);
  options.queue_max = static_cast<size_t>(c.queue_max);
  options.stats_interval = std::chrono::seconds(c.stage.stats_interval_s);

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
