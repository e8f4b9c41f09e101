// asicmon-push: forwards every record the store publishes to the operator's
// REST receiver (API_URL), in batches, through a disk spool that covers
// receiver outages and restarts; records missed on the bus are fetched back
// from the store's database. With API_URL empty it says so and exits 0
// (supervisord's autorestart=unexpected and systemd's Restart=on-failure
// leave it stopped).
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/log.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "asicmon/store_db.h"
#include "push.h"

namespace {

using asicmon::Status;

struct PushConfig {
  asicmon::push::PushOptions push;
  std::string format = "json";  // PUSH_FORMAT, into push.format
  int64_t spool_max_mb = 512;   // PUSH_SPOOL_MAX_MB, into push.spool.max_bytes
  asicmon::StageFlags stage;
};

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, PushConfig& c) {
  asicmon::push::PushOptions& o = c.push;
  t.Text(o.http.url, {"--api-url", "API_URL",
                      "Receiver URL, http:// or https://; empty disables push"}, "URL");
  t.Text(o.http.api_key,
         {"--api-key", "API_KEY", "Sent as 'Authorization: Bearer <key>'; none when empty"});
  t.Text(o.http.ca_file, {"--api-ca-file", "API_CA_FILE", "PEM file of a private CA for https"},
         "PATH");
  t.Seconds(o.http.timeout, {"--api-timeout", "API_TIMEOUT", "Seconds per request"}, 0.1, 600);
  t.Int(o.batch_max, {"--batch", "PUSH_BATCH", "Records per request at most"}, 1, 100000);
  t.Int(o.flush_interval,
        {"--flush-ms", "PUSH_FLUSH_MS", "Milliseconds a record waits for its batch to fill"}, 1,
        3600000);
  t.Choice(c.format, {"--format", "PUSH_FORMAT", "json (an array), ndjson or influx"},
           {"json", "ndjson", "influx"});
  t.Text(o.spool.dir, {"--spool-dir", "PUSH_SPOOL_DIR", "Disk spool, created when missing"},
         "PATH");
  t.Int(c.spool_max_mb,
        {"--spool-max-mb", "PUSH_SPOOL_MAX_MB",
         "Spool size bound; past it the oldest records are dropped and counted"},
        1, int64_t{1} << 20);
  t.Seconds(o.retry.max,
            {"--retry-max", "PUSH_RETRY_MAX", "Longest backoff between attempts, seconds"}, 0.1,
            3600);
  t.Flag(o.backfill, {"!--no-backfill", "ENABLE_DB",
                      "Count records missed on the bus without fetching them from the store's "
                      "database (ENABLE_DB=false too)"});
  // ASICMON_DB, and RETENTION_DAYS checked as store checks it.
  t.Env(asicmon::LoadStoreOptions(o.db));
  t.Text(o.db.database, {"--db", "ASICMON_DB",
                         "The store's database (SQLite file or postgresql:// URL), for backfill"});
  asicmon::AddStageSettings(t, c.stage);
}

}  // namespace

int main(int argc, char** argv) {
  PushConfig c;
  CLI::App app{
      "asicmon-push: POST every record the store publishes to a REST receiver, in batches, "
      "through a disk spool.\nSettings come from env vars; flags override."};
  asicmon::SettingsTable settings(app);
  AddSettings(settings, c);
  app.footer(
      "Subscribes to ASICMON_PUBLISH (default ipc://$ASICMON_RUN_DIR/publish.sock). "
      "Exits 0 at once when API_URL is empty.");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "push", c.stage, settings.env_status())) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--api-key");
  asicmon::push::PushOptions& options = c.push;
  if (options.http.url.empty()) {
    spdlog::warn("API_URL is empty: push is disabled, nothing is forwarded; exiting");
    return 0;
  }
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.format = *asicmon::push::ParseFormat(c.format);  // a Choice of its words
  options.spool.max_bytes = static_cast<uint64_t>(c.spool_max_mb) << 20;
  options.retry.initial = std::min(options.retry.initial, options.retry.max);
  options.stats_interval = c.stage.stats_interval;

  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto push = asicmon::push::Push::Create(options);
  if (!push.ok()) {
    spdlog::error("cannot start: {}", push.status().ToString());
    return push.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  Status s = (*push)->Run(**shutdown);
  if (!s.ok()) {
    spdlog::error("intake failed: {}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
