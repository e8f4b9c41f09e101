// asicmon-store: the bus's hub. Pulls records, inventory and events from
// every producer on ingest, writes them to the SQLite store in batches, then
// republishes each on publish for push, control, tap and discover. Runs the
// store's retention in small steps between batches.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/config.h"
#include "asicmon/log.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "asicmon/store_db.h"
#include "ingest.h"

namespace {

using asicmon::Status;

struct StoreConfig {
  bool enable_db = true;             // ENABLE_DB
  asicmon::StoreOptions db;          // ASICMON_DB, RETENTION_DAYS
  double busy_timeout_s = 5;         // DB_BUSY_TIMEOUT
  int64_t batch_max = 2000;          // BATCH_MAX
  double batch_wait_s = 0.1;         // BATCH_WAIT
  int64_t maintain_interval_s = 60;  // MAINTAIN_INTERVAL
  asicmon::StageFlags stage;  // LOG_LEVEL, STATS_INTERVAL
  asicmon::HealthRules health;  // ALERT_*, SCAN_INTERVAL
};

Status LoadEnv(StoreConfig& c) {
  for (Status s : {asicmon::EnvBool("ENABLE_DB", c.enable_db), asicmon::LoadStoreOptions(c.db),
                   asicmon::EnvInt("RAW_HOURS", c.db.raw_hours, 1, 24 * 3650),
                   asicmon::EnvDouble("DB_BUSY_TIMEOUT", c.busy_timeout_s, 0.01, 600),
                   asicmon::EnvInt("BATCH_MAX", c.batch_max, 1, 100000),
                   asicmon::EnvDouble("BATCH_WAIT", c.batch_wait_s, 0.001, 60),
                   asicmon::EnvInt("MAINTAIN_INTERVAL", c.maintain_interval_s, 1, 86400),
                   asicmon::LoadStageEnv(c.stage), asicmon::LoadHealthRules(c.health)}) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  StoreConfig c;
  Status env = LoadEnv(c);

  bool no_db = false;
  CLI::App app{
      "asicmon-store: store what the farm's producers send (SQLite) and republish it "
      "to subscribers.\nSettings come from env vars; flags override."};
  app.add_flag("--no-db", no_db,
               "Relay only: open no database, store nothing (env ENABLE_DB=false)");
  app.add_option("--db", c.db.database,
                 "Database: a SQLite file, created when missing, or a postgresql:// URL "
                 "(env ASICMON_DB)")
      ->capture_default_str();
  app.add_option("--retention-days", c.db.retention_days,
                 "Days hourly aggregates are kept (env RETENTION_DAYS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3650}));
  app.add_option("--raw-hours", c.db.raw_hours,
                 "Hours full-resolution records are kept before folding into hourly aggregates "
                 "(env RAW_HOURS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{24 * 3650}));
  app.add_option("--db-busy-timeout", c.busy_timeout_s,
                 "Seconds a write waits for another connection's lock before it is retried "
                 "(env DB_BUSY_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
  app.add_option("--batch-max", c.batch_max,
                 "Messages per database transaction at most (env BATCH_MAX)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  app.add_option("--batch-wait", c.batch_wait_s,
                 "Seconds a message waits for its batch to fill (env BATCH_WAIT)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 60.0));
  app.add_option("--maintain-interval", c.maintain_interval_s,
                 "Seconds between retention passes (env MAINTAIN_INTERVAL)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  asicmon::AddStageFlags(app, c.stage);
  app.footer(
      "Endpoints from ASICMON_RUN_DIR (default run/: ipc://run/ingest.sock, "
      "ipc://run/publish.sock) or ASICMON_INGEST / ASICMON_PUBLISH.");
  if (auto exit_code = asicmon::StartStage(app, argc, argv, "store", c.stage, env)) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--db", asicmon::DatabasePassword);
  if (c.db.raw_hours > c.db.retention_days * 24) {
    spdlog::error("bad configuration: raw hours ({}) must not pass retention ({} days)",
                  c.db.raw_hours, c.db.retention_days);
    return 2;
  }
  asicmon::IngestOptions options;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.enable_db = c.enable_db && !no_db;
  options.db = c.db;
  options.db.busy_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(c.busy_timeout_s * 1000));
  options.batch_max = static_cast<size_t>(c.batch_max);
  options.batch_wait = std::chrono::milliseconds(static_cast<int64_t>(c.batch_wait_s * 1000));
  options.maintain_interval = std::chrono::seconds(c.maintain_interval_s);
  options.stats_interval = std::chrono::seconds(c.stage.stats_interval_s);
  options.health = c.health;

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
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
