// asicmon-control: the REST API that reads the farm's state and acts on
// miners (soft reset, reboot, pool change), secure by default: bound to
// loopback, writes refused without CONTROL_TOKEN, every input checked before
// a miner is contacted, every write audited. Serves /metrics, /openapi.json
// and Swagger UI at /docs.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "asicmon/bus.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "keys_cli.h"
#include "service.h"

namespace {

using asicmon::Status;

// The settings table: one row per setting, flag and env var. The secrets
// have no flag, so ps never shows them.
void AddSettings(asicmon::SettingsTable& t, asicmon::control::ServiceOptions& s,
                 asicmon::StageFlags& stage, std::string& credentials_file,
                 std::string& windows_file) {
  asicmon::control::ActionOptions& a = s.actions;
  t.Text(s.bind, {"--bind", "CONTROL_BIND", "Address:port to serve on"}, "ADDRESS:PORT");
  t.Text(s.token, {nullptr, "CONTROL_TOKEN"});
  t.Flag(s.auth_read, {"--auth-read", "CONTROL_AUTH_READ", "Reads need a key too"});
  t.Text(s.tls_cert, {"--tls-cert", "CONTROL_TLS_CERT", "PEM certificate (chain): serve HTTPS"},
         "PATH");
  t.Text(s.tls_key, {"--tls-key", "CONTROL_TLS_KEY", "PEM private key of --tls-cert"}, "PATH");
  t.Env(asicmon::LoadStoreOptions(s.db));  // ASICMON_DB, RETENTION_DAYS
  t.Text(s.db.database,
         {"--db", "ASICMON_DB", "Database: a SQLite file or a postgresql:// URL"});
  t.Int(s.threads, {"--threads", "CONTROL_THREADS", "HTTP request threads"}, 1, 64);
  t.Int(s.action_threads,
        {"--action-threads", "CONTROL_ACTION_THREADS",
         "Write commands run at once, on different miners"},
        1, 256);
  t.Int(s.reboot_cooldown,
        {"--reboot-cooldown", "REBOOT_COOLDOWN_S",
         "Seconds before a miner may be rebooted again without ?force=true"},
        0, 86400);
  t.Int(a.api_port, {"--miner-port", "MINER_PORT", "Miners' API port"}, 1, 65535);
  t.Int(a.http_port,
        {"--miner-http-port", "MINER_HTTP_PORT", "Miners' web UI port, for reboot and web config"},
        1, 65535);
  t.Text(a.http_user, {nullptr, "MINER_HTTP_USER"});
  t.Text(a.http_password, {nullptr, "MINER_HTTP_PASSWORD"});
  t.Text(credentials_file,
         {"--credentials-file", "MINER_CREDENTIALS_FILE",
          "Miners' logins per firmware family and site (JSON rows, mode 0600)"},
         "PATH");
  t.Seconds(a.api.deadline,
            {"--poll-timeout", "POLL_TIMEOUT", "Seconds an API exchange with a miner may take"},
            0.1, 300);
  t.Seconds(a.http_timeout,
            {"--miner-http-timeout", "MINER_HTTP_TIMEOUT",
             "Seconds a read of a miner's web UI may take"},
            0.1, 300);
  t.Seconds(a.http_write_timeout,
            {"--miner-http-write-timeout", "MINER_HTTP_WRITE_TIMEOUT",
             "Seconds a write to a miner's web UI may take: set_miner_conf.cgi answers after "
             "~21 s on some S19j Pro firmware"},
            1, 600);
  t.Seconds(a.back_timeout,
            {"--miner-back-timeout", "MINER_BACK_TIMEOUT",
             "Seconds to wait for a rebooted or reconfigured miner to come back"},
            1, 3600);
  t.Text(s.web_dir,
         {"--web-dir", "ASICMON_WEB_DIR",
          "Directory with openapi.json and swagger-ui/ (default: share/asicmon/web beside the "
          "executable)"},
         "PATH");
  t.Text(s.rules_file,
         {"--rules", "REMEDIATION_RULES", "Remediation rules file, JSON, reread on SIGHUP"},
         "PATH");
  t.Flag(s.auto_actions,
         {"--auto-actions,!--no-auto-actions", "AUTO_ACTIONS",
          "Let the rules act on miners on their own (default off: rules are loaded and shown at "
          "/remediation, nothing acts)"});
  t.Seconds(s.curtail_interval,
            {"--curtail-interval", "CURTAIL_INTERVAL_S",
             "Seconds between curtailment's plans from the store's newest records"},
            0.5, 3600);
  t.Text(windows_file,
         {"--curtail-windows", "CURTAIL_WINDOWS",
          "Time-of-use windows, JSON: {\"windows\": [{\"from\": \"17:00\", \"to\": \"21:00\", "
          "\"target_kw\": 500}]} (UTC); they act only with AUTO_ACTIONS"},
         "PATH");
  asicmon::AddStageSettings(t, stage, /*with_stats=*/false);
}

}  // namespace

int main(int argc, char** argv) {
  asicmon::control::ServiceOptions s;
  asicmon::StageFlags stage;
  CLI::App app{
      "asicmon-control: REST API over the farm: miners' state and history from the store, "
      "live queries, soft reset, reboot and pool change, /metrics, /docs.\n"
      "Settings come from env vars; flags override."};
  asicmon::SettingsTable settings(app);
  std::string credentials_file;
  std::string windows_file;
  AddSettings(settings, s, stage, credentials_file, windows_file);
  asicmon::control::KeysCommand keys;
  asicmon::control::AddKeysCommand(app, keys);
  app.footer(
      "Callers present API keys ('keys add' makes one) as 'Authorization: Bearer <key>'.\n"
      "Secrets only from the environment: CONTROL_TOKEN (the bootstrap admin key; retire it "
      "once admins have their own keys), MINER_HTTP_USER / MINER_HTTP_PASSWORD (stock Antminers' web UI, "
      "default root/root), and the file MINER_CREDENTIALS_FILE names: "
      "[{\"family\": \"whatsminer\", \"cidr\": \"10.1.0.0/16\", \"user\": \"admin\", "
      "\"password\": \"...\"}, ...], the most specific site winning, each family's stock "
      "login where none matches.\nEvents go to the bus's ingest endpoint (ASICMON_RUN_DIR or ASICMON_INGEST); "
      "counters come from its publish endpoint.");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "control", stage, settings.env_status())) {
    return *exit_code;
  }
  asicmon::HideFlagValues(argc, argv, "--db", asicmon::DatabasePassword);
  if (keys.chosen()) return asicmon::control::RunKeysCommand(keys, s.db);
  if (Status st = asicmon::bus::LoadEndpoints(s.endpoints); !st.ok()) {
    spdlog::error("bad configuration: {}", st.message());
    return 2;
  }
  if (!credentials_file.empty()) {
    auto book = asicmon::driver::CredentialsBook::Load(credentials_file);
    if (!book.ok()) {
      spdlog::error("bad configuration: {}", book.status().message());
      return 2;
    }
    s.actions.credentials = std::move(*book);
    spdlog::info("miner logins: {} rows from {}", s.actions.credentials.size(), credentials_file);
  }
  if (!windows_file.empty()) {
    auto windows = asicmon::control::LoadCurtailWindows(windows_file);
    if (!windows.ok()) {
      spdlog::error("bad configuration: {}", windows.status().message());
      return 2;
    }
    s.curtail_windows = std::move(*windows);
  }
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    spdlog::error("bad configuration: CONTROL_TLS_CERT and CONTROL_TLS_KEY go together");
    return 2;
  }
  for (const std::string& path : {s.tls_cert, s.tls_key}) {
    if (!path.empty() && ::access(path.c_str(), R_OK) != 0) {
      spdlog::error("bad configuration: cannot read {}: {}", path, std::strerror(errno));
      return 2;
    }
  }
  if (const std::string warning = asicmon::control::PlainTextWarning(s); !warning.empty()) {
    spdlog::warn("{}", warning);
  }
  s.actions.api.connect_timeout = std::min(s.actions.api.connect_timeout, s.actions.api.deadline);
  if (s.token.empty()) {
    spdlog::info("no CONTROL_TOKEN: only API keys (asicmon-control keys add) are accepted");
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
  spdlog::info("serving {} on {} (port {}), store {}", s.tls_cert.empty() ? "HTTP" : "HTTPS", s.bind, (*service)->port(),
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
