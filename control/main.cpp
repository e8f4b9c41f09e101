// asicmon-control: the REST API that reads the farm's state and acts on
// miners (soft reset, reboot, pool change), secure by default: bound to
// loopback, writes refused without CONTROL_TOKEN, every input checked before
// a miner is contacted, every write audited. Serves /metrics, /openapi.json
// and Swagger UI at /docs.
#include <poll.h>

#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "asicmon/bus.h"
#include "asicmon/config.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "service.h"

namespace {

using asicmon::Status;

struct ControlConfig {
  asicmon::control::ServiceOptions service;
  double poll_timeout_s = 5;                 // POLL_TIMEOUT
  double http_timeout_s = 10;                // MINER_HTTP_TIMEOUT
  double http_write_timeout_s = 45;          // MINER_HTTP_WRITE_TIMEOUT
  double back_timeout_s = 180;               // MINER_BACK_TIMEOUT
  int64_t reboot_cooldown_s = 300;           // REBOOT_COOLDOWN_S
  int64_t api_port = 4028;                   // MINER_PORT
  int64_t http_port = 80;                    // MINER_HTTP_PORT
  int64_t threads = 2;                       // CONTROL_THREADS
  int64_t action_threads = 16;               // CONTROL_ACTION_THREADS
  asicmon::StageFlags stage;
};

Status LoadEnv(ControlConfig& c) {
  auto& s = c.service;
  for (Status st : {asicmon::EnvString("CONTROL_BIND", s.bind),
                    asicmon::EnvString("CONTROL_TOKEN", s.token),
                    asicmon::EnvBool("CONTROL_AUTH_READ", s.auth_read),
                    asicmon::EnvInt("CONTROL_THREADS", c.threads, 1, 64),
                    asicmon::EnvInt("CONTROL_ACTION_THREADS", c.action_threads, 1, 256),
                    asicmon::EnvInt("REBOOT_COOLDOWN_S", c.reboot_cooldown_s, 0, 86400),
                    asicmon::EnvString("ASICMON_WEB_DIR", s.web_dir),
                    asicmon::EnvBool("AUTO_ACTIONS", s.auto_actions),
                    asicmon::EnvString("REMEDIATION_RULES", s.rules_file),
                    asicmon::EnvString("MINER_HTTP_USER", s.actions.http_user),
                    asicmon::EnvString("MINER_HTTP_PASSWORD", s.actions.http_password),
                    asicmon::EnvInt("MINER_HTTP_PORT", c.http_port, 1, 65535),
                    asicmon::EnvInt("MINER_PORT", c.api_port, 1, 65535),
                    asicmon::EnvDouble("POLL_TIMEOUT", c.poll_timeout_s, 0.1, 300),
                    asicmon::EnvDouble("MINER_HTTP_TIMEOUT", c.http_timeout_s, 0.1, 300),
                    asicmon::EnvDouble("MINER_HTTP_WRITE_TIMEOUT", c.http_write_timeout_s, 1, 600),
                    asicmon::EnvDouble("MINER_BACK_TIMEOUT", c.back_timeout_s, 1, 3600),
                    asicmon::LoadStoreOptions(s.db), asicmon::LoadStageEnv(c.stage)}) {
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

}  // namespace

int main(int argc, char** argv) {
  ControlConfig c;
  Status env = LoadEnv(c);
  auto& s = c.service;

  CLI::App app{
      "asicmon-control: REST API over the farm: miners' state and history from the store, "
      "live queries, soft reset, reboot and pool change, /metrics, /docs.\n"
      "Settings come from env vars; flags override."};
  app.add_option("--bind", s.bind, "Address:port to serve on (env CONTROL_BIND)")
      ->capture_default_str();
  app.add_option("--db", s.db.database,
                 "Database: a SQLite file or a postgresql:// URL (env ASICMON_DB)")
      ->capture_default_str();
  app.add_flag("--auth-read", s.auth_read,
               "Reads need the token too (env CONTROL_AUTH_READ)");
  app.add_option("--threads", c.threads, "HTTP request threads (env CONTROL_THREADS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{64}));
  app.add_option("--action-threads", c.action_threads,
                 "Write commands run at once, on different miners (env CONTROL_ACTION_THREADS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{256}));
  app.add_option("--reboot-cooldown", c.reboot_cooldown_s,
                 "Seconds before a miner may be rebooted again without ?force=true "
                 "(env REBOOT_COOLDOWN_S)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{86400}));
  app.add_option("--miner-port", c.api_port, "Miners' API port (env MINER_PORT)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65535}));
  app.add_option("--miner-http-port", c.http_port,
                 "Miners' web UI port, for reboot and web config (env MINER_HTTP_PORT)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65535}));
  app.add_option("--poll-timeout", c.poll_timeout_s,
                 "Seconds an API exchange with a miner may take (env POLL_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 300.0));
  app.add_option("--miner-http-timeout", c.http_timeout_s,
                 "Seconds a read of a miner's web UI may take (env MINER_HTTP_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 300.0));
  app.add_option("--miner-http-write-timeout", c.http_write_timeout_s,
                 "Seconds a write to a miner's web UI may take: set_miner_conf.cgi answers "
                 "after ~21 s on some S19j Pro firmware (env MINER_HTTP_WRITE_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 600.0));
  app.add_option("--miner-back-timeout", c.back_timeout_s,
                 "Seconds to wait for a rebooted or reconfigured miner to come back "
                 "(env MINER_BACK_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--web-dir", s.web_dir,
                 "Directory with openapi.json and swagger-ui/ (env ASICMON_WEB_DIR; default: "
                 "share/asicmon/web beside the executable)");
  app.add_option("--rules", s.rules_file,
                 "Remediation rules file, JSON, reread on SIGHUP (env REMEDIATION_RULES)");
  app.add_flag("--auto-actions,!--no-auto-actions", s.auto_actions,
               "Let the rules act on miners on their own (env AUTO_ACTIONS; default off: rules "
               "are loaded and shown at /remediation, nothing acts)");
  asicmon::AddStageFlags(app, c.stage, false);
  app.footer(
      "Secrets only from the environment: CONTROL_TOKEN (bearer token for writes; without it "
      "every write is refused), MINER_HTTP_USER / MINER_HTTP_PASSWORD (miners' web UI, default "
      "root/root).\nEvents go to the bus's ingest endpoint (ASICMON_RUN_DIR or ASICMON_INGEST); "
      "counters come from its publish endpoint.");
  if (auto exit_code = asicmon::StartStage(app, argc, argv, "control", c.stage, env)) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--db", asicmon::DatabasePassword);
  if (Status st = asicmon::bus::LoadEndpoints(s.endpoints); !st.ok()) {
    spdlog::error("bad configuration: {}", st.message());
    return 2;
  }
  s.threads = static_cast<int>(c.threads);
  s.action_threads = static_cast<int>(c.action_threads);
  s.reboot_cooldown = std::chrono::seconds(c.reboot_cooldown_s);
  s.actions.api_port = static_cast<uint16_t>(c.api_port);
  s.actions.http_port = static_cast<uint16_t>(c.http_port);
  s.actions.api.deadline = Ms(c.poll_timeout_s);
  s.actions.api.connect_timeout = std::min(s.actions.api.connect_timeout, Ms(c.poll_timeout_s));
  s.actions.http_timeout = Ms(c.http_timeout_s);
  s.actions.http_write_timeout = Ms(c.http_write_timeout_s);
  s.actions.back_timeout = Ms(c.back_timeout_s);
  if (s.token.empty()) {
    spdlog::warn("no CONTROL_TOKEN: every command that changes a miner will be refused");
  }

  auto shutdown = asicmon::ShutdownSignal::Install();
  auto hangup = asicmon::HangupSignal::Install();
  for (const Status& st : {shutdown.status(), hangup.status()}) {
    if (!st.ok()) {
      spdlog::error("{}", st.ToString());
      return 1;
    }
  }
  auto service = asicmon::control::Service::Start(s);
  if (!service.ok()) {
    spdlog::error("cannot start: {}", service.status().ToString());
    return service.status().code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  spdlog::info("serving on {} (port {}), store {}", s.bind, (*service)->port(),
               asicmon::RedactDatabase(s.db.database));
  // Tests and scripts wait for this line on stdout.
  std::printf("READY %u\n", static_cast<unsigned>((*service)->port()));
  std::fflush(stdout);
  pollfd wait[2] = {{(*shutdown)->fd(), POLLIN, 0}, {(*hangup)->fd(), POLLIN, 0}};
  while (!(*shutdown)->requested()) {
    if (::poll(wait, 2, -1) < 0) continue;  // EINTR
    if ((*hangup)->Take()) {
      spdlog::info("SIGHUP: rereading the remediation rules");
      (void)(*service)->ReloadRules();
    }
  }
  spdlog::info("signal {}: finishing running commands", (*shutdown)->signal_number());
  (*service)->Shutdown();
  spdlog::info("stopped cleanly");
  return 0;
}
