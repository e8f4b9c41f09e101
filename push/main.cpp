// asicmon-push: forwards every record the store publishes to the operator's
// REST receiver (API_URL), in batches, through a disk spool that covers
// receiver outages and restarts; records missed on the bus are fetched back
// from the store's database. With API_URL empty it says so and exits 0
// (supervisord's autorestart=unexpected and systemd's Restart=on-failure
// leave it stopped).
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/config.h"
#include "asicmon/log.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "asicmon/store_db.h"
#include "push.h"

namespace {

using asicmon::Status;

struct PushConfig {
  std::string api_url;                // API_URL
  std::string api_key;                // API_KEY
  std::string ca_file;                // API_CA_FILE
  double api_timeout_s = 5;           // API_TIMEOUT
  int64_t batch = 500;                // PUSH_BATCH
  int64_t flush_ms = 1000;            // PUSH_FLUSH_MS
  std::string format = "json";        // PUSH_FORMAT
  std::string spool_dir = "data/push-spool";  // PUSH_SPOOL_DIR
  int64_t spool_max_mb = 512;         // PUSH_SPOOL_MAX_MB
  double retry_max_s = 32;            // PUSH_RETRY_MAX
  bool enable_db = true;              // ENABLE_DB
  asicmon::StoreOptions db;           // ASICMON_DB
  asicmon::StageFlags stage;          // LOG_LEVEL, STATS_INTERVAL
};

Status LoadEnv(PushConfig& c) {
  for (Status s : {asicmon::EnvString("API_URL", c.api_url),
                   asicmon::EnvString("API_KEY", c.api_key),
                   asicmon::EnvString("API_CA_FILE", c.ca_file),
                   asicmon::EnvDouble("API_TIMEOUT", c.api_timeout_s, 0.1, 600),
                   asicmon::EnvInt("PUSH_BATCH", c.batch, 1, 100000),
                   asicmon::EnvInt("PUSH_FLUSH_MS", c.flush_ms, 1, 3600000),
                   asicmon::EnvString("PUSH_FORMAT", c.format),
                   asicmon::EnvString("PUSH_SPOOL_DIR", c.spool_dir),
                   asicmon::EnvInt("PUSH_SPOOL_MAX_MB", c.spool_max_mb, 1, 1 << 20),
                   asicmon::EnvDouble("PUSH_RETRY_MAX", c.retry_max_s, 0.1, 3600),
                   asicmon::EnvBool("ENABLE_DB", c.enable_db), asicmon::LoadStoreOptions(c.db),
                   asicmon::LoadStageEnv(c.stage)}) {
    if (!s.ok()) return s;
  }
  if (!asicmon::push::ParseFormat(c.format)) {
    return Status::InvalidArgument("PUSH_FORMAT=" + asicmon::Quoted(c.format) +
                                   ": expected json, ndjson or influx");
  }
  return Status::Ok();
}

}  // namespace

int main(int argc, char** argv) {
  PushConfig c;
  Status env = LoadEnv(c);

  bool no_backfill = false;
  CLI::App app{
      "asicmon-push: POST every record the store publishes to a REST receiver, in batches, "
      "through a disk spool.\nSettings come from env vars; flags override."};
  app.add_option("--api-url", c.api_url,
                 "Receiver URL, http:// or https://; empty disables push (env API_URL)");
  app.add_option("--api-key", c.api_key,
                 "Sent as 'Authorization: Bearer <key>'; none when empty (env API_KEY)");
  app.add_option("--api-ca-file", c.ca_file,
                 "PEM file of a private CA for https (env API_CA_FILE)");
  app.add_option("--api-timeout", c.api_timeout_s, "Seconds per request (env API_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  app.add_option("--batch", c.batch, "Records per request at most (env PUSH_BATCH)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  app.add_option("--flush-ms", c.flush_ms,
                 "Milliseconds a record waits for its batch to fill (env PUSH_FLUSH_MS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  app.add_option("--format", c.format, "json (an array), ndjson or influx (env PUSH_FORMAT)")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "ndjson", "influx"}));
  app.add_option("--spool-dir", c.spool_dir,
                 "Disk spool, created when missing (env PUSH_SPOOL_DIR)")
      ->capture_default_str();
  app.add_option("--spool-max-mb", c.spool_max_mb,
                 "Spool size bound; past it the oldest records are dropped and counted "
                 "(env PUSH_SPOOL_MAX_MB)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  app.add_option("--retry-max", c.retry_max_s,
                 "Longest backoff between attempts, seconds (env PUSH_RETRY_MAX)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_flag("--no-backfill", no_backfill,
               "Count records missed on the bus without fetching them from the store's database "
               "(env ENABLE_DB=false)");
  app.add_option("--db", c.db.database,
                 "The store's database (SQLite file or postgresql:// URL), for backfill "
                 "(env ASICMON_DB)")
      ->capture_default_str();
  asicmon::AddStageFlags(app, c.stage);
  app.footer(
      "Subscribes to ASICMON_PUBLISH (default ipc://$ASICMON_RUN_DIR/publish.sock). "
      "Exits 0 at once when API_URL is empty.");
  if (auto exit_code = asicmon::StartStage(app, argc, argv, "push", c.stage, env)) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--api-key");
  if (c.api_url.empty()) {
    spdlog::warn("API_URL is empty: push is disabled, nothing is forwarded; exiting");
    return 0;
  }
  asicmon::push::PushOptions options;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  options.http.url = c.api_url;
  options.http.api_key = c.api_key;
  options.http.ca_file = c.ca_file;
  options.http.timeout = std::chrono::milliseconds(static_cast<int64_t>(c.api_timeout_s * 1000));
  options.format = *asicmon::push::ParseFormat(c.format);
  options.batch_max = static_cast<size_t>(c.batch);
  options.flush_interval = std::chrono::milliseconds(c.flush_ms);
  options.spool.dir = c.spool_dir;
  options.spool.max_bytes = static_cast<uint64_t>(c.spool_max_mb) << 20;
  options.retry.max = std::chrono::milliseconds(static_cast<int64_t>(c.retry_max_s * 1000));
  options.retry.initial = std::min(options.retry.initial, options.retry.max);
  options.backfill = c.enable_db && !no_backfill;
  options.db = c.db;
  options.stats_interval = std::chrono::seconds(c.stage.stats_interval_s);

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
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}
