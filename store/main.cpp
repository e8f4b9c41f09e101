// asicmon-store: the bus's hub. Pulls records, inventory and events from
// every producer on ingest, writes them to the SQLite store in batches, then
// republishes each on publish for push, control, tap and discover. Runs the
// store's retention in small steps between batches.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/health.h"
#include "asicmon/log.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "asicmon/store_db.h"
#include "ingest.h"

namespace {

using asicmon::Status;

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, asicmon::IngestOptions& o, asicmon::StageFlags& stage) {
  t.Flag(o.enable_db, {"!--no-db", "ENABLE_DB",
                       "Relay only: open no database, store nothing (ENABLE_DB=false too)"});
  t.Text(o.db.database, {"--db", "ASICMON_DB",
                         "Database: a SQLite file, created when missing, or a postgresql:// URL"});
  t.Int(o.db.retention_days,
        {"--retention-days", "RETENTION_DAYS", "Days hourly aggregates are kept"}, 1, 3650);
  t.Int(o.db.raw_hours,
        {"--raw-hours", "RAW_HOURS",
         "Hours full-resolution records are kept before folding into hourly aggregates"},
        1, 24 * 3650);
  t.Seconds(o.db.busy_timeout,
            {"--db-busy-timeout", "DB_BUSY_TIMEOUT",
             "Seconds a write waits for another connection's lock before it is retried"},
            0.01, 600);
  t.Int(o.batch_max, {"--batch-max", "BATCH_MAX", "Messages per database transaction at most"}, 1,
        100000);
  t.Seconds(o.batch_wait,
            {"--batch-wait", "BATCH_WAIT", "Seconds a message waits for its batch to fill"}, 0.001,
            60);
  t.Int(o.maintain_interval,
        {"--maintain-interval", "MAINTAIN_INTERVAL", "Seconds between retention passes"}, 1, 86400);
  asicmon::AddStageSettings(t, stage);
  t.Env(asicmon::LoadHealthRules(o.health));  // ALERT_*, SCAN_INTERVAL: env only
}

}  // namespace

int main(int argc, char** argv) {
  asicmon::IngestOptions options;
  asicmon::StageFlags stage;
  CLI::App app{
      "asicmon-store: store what the farm's producers send (SQLite) and republish it "
      "to subscribers.\nSettings come from env vars; flags override."};
  asicmon::SettingsTable settings(app);
  AddSettings(settings, options, stage);
  app.footer(
      "Endpoints from ASICMON_RUN_DIR (default run/: ipc://run/ingest.sock, "
      "ipc://run/publish.sock) or ASICMON_INGEST / ASICMON_PUBLISH.");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "store", stage, settings.env_status())) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--db", asicmon::DatabasePassword);
  if (options.db.raw_hours > options.db.retention_days * 24) {
    spdlog::error("bad configuration: raw hours ({}) must not pass retention ({} days)",
                  options.db.raw_hours, options.db.retention_days);
    return 2;
  }
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.stats_interval = stage.stats_interval;

  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto ingest = asicmon::Ingest::Create(options);
  if (!ingest.ok()) {
    spdlog::error("cannot start: {}", ingest.status().ToString());
    // A database file that is not ours or is from a newer build is the
    // operator's to fix, like any other bad setting.
    return ingest.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  Status s = (*ingest)->Run(**shutdown);
  if (!s.ok()) {
    spdlog::error("ingest failed: {}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
