// asicmon-discover: finds the miners on the target subnets and keeps them polled.
//   default: sweeps at start and every SWEEP_INTERVAL, publishes the inventory's
//   changes to store, hands one poll job per miner per SCAN_INTERVAL to collect.
//   `--once [--json]`: sweeps once, prints one line per miner found, exits 0.
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "asicmon/bus.h"
#include "asicmon/log.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "asicmon/targets.h"
#include "known_state.h"
#include "scanner.h"
#include "service.h"

namespace {

using asicmon::Status;
using asicmon::discover::ProbeOutcome;
using asicmon::discover::Scanner;
using asicmon::discover::SweepProgress;
using Clock = std::chrono::steady_clock;

// File descriptors kept back from the probes: zmq's sockets and mailboxes,
// the shutdown pipe, epoll, logs.
constexpr rlim_t kReservedFds = 128;

struct DiscoverConfig {
  std::vector<std::string> subnets;   // SUBNET (a comma list); no default
  std::vector<std::string> excludes;  // EXCLUDE
  bool once = false;
  bool json = false;
  // Its scanner (port, max_in_flight, timeouts), intervals and producer_id
  // (default discover-<host>-<pid>) are settings; --once uses the scanner.
  asicmon::discover::ServiceOptions service;
  // DISCOVER_STATE; empty: $ASICMON_RUN_DIR/discover-<hash of targets>.state;
  // "none": no state file.
  std::string state_path;
  asicmon::StageFlags stage;
};

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, DiscoverConfig& c) {
  asicmon::discover::ScannerOptions& scanner = c.service.scanner;
  t.Texts(c.subnets,
          {"--subnet", "SUBNET",
           "Targets: CIDR 10.1.0.0/16, wildcard 192.168.2.* or 10.1.*.*, range "
           "10.0.0.10-10.0.0.200, an address, or a comma list; repeatable"},
          "SPEC");
  t.Texts(c.excludes, {"--exclude", "EXCLUDE", "Addresses not to probe, same forms; repeatable"},
          "SPEC");
  t.Int(scanner.port, {"--port", "MINER_PORT", "Miner API port (CGMiner-style), tried first"}, 1,
        65535);
  scanner.poller.ports = {asicmon::kMinerApiPort, asicmon::kWhatsminerV3Port};
  t.Ports(scanner.poller.ports,
          {"--ports", "DISCOVER_PORTS",
           "Ports a miner's API may be found on when MINER_PORT does not answer as one: 4433 "
           "is Whatsminer API v3; add 80 for miners with only a web API (Bitaxe)"});
  t.Seconds(c.service.scan_interval,
            {"--interval", "SCAN_INTERVAL", "Seconds between polls of each miner"}, 0.1, 86400);
  // Stock Antminers name their MAC only on the web interface: control's
  // credentials serve both, so one set is configured.
  asicmon::WebIdentity& web = scanner.poller.web;
  web.enabled = true;
  t.Flag(web.enabled, {"!--no-web-identity", "DISCOVER_WEB_IDENTITY",
                       "Do not read the identity (MAC, serial) the API does not report from the "
                       "miner's web interface (stock Antminer get_system_info.cgi) when a sweep "
                       "finds a miner (DISCOVER_WEB_IDENTITY=false too)"});
  t.Int(web.port, {"--miner-http-port", "MINER_HTTP_PORT", "Miners' web UI port"}, 1, 65535);
  t.Text(web.user, {nullptr, "MINER_HTTP_USER"});
  t.Text(web.password, {nullptr, "MINER_HTTP_PASSWORD"});
  t.Seconds(c.service.sweep_interval,
            {"--sweep-interval", "SWEEP_INTERVAL", "Seconds from one sweep's start to the next's"},
            0.1, 7 * 86400);
  t.Seconds(scanner.exchange.connect_timeout,
            {"--connect-timeout", "SWEEP_CONNECT_TIMEOUT",
             "Seconds a sweep probe may take to connect"},
            0.01, 600);
  // Identifying an open port waits as long as a poll would.
  t.Seconds(scanner.exchange.deadline,
            {"--timeout", "POLL_TIMEOUT",
             "Seconds an open port gets to identify itself, as a poll"},
            0.05, 600);
  // A /16 of silent LAN hosts in ~16 timeouts by default.
  t.Int(scanner.max_in_flight,
        {"--max-workers", "MAX_WORKERS",
         "Probes in flight at once, kept below the open-file limit"},
        1, 1000000);
  t.Text(c.service.producer_id,
         {"--producer-id", "PRODUCER_ID", "Producer id stamped on jobs and inventory entries"});
  t.Text(c.state_path,
         {"--state-file", "DISCOVER_STATE",
          "Where the known miners are kept, so a restart polls them at once rather than after "
          "its first sweep; 'none' keeps none (default $ASICMON_RUN_DIR/discover-<hash of the "
          "targets>.state)"},
         "PATH");
  asicmon::AddStageSettings(t, c.stage);
}

// Every probe holds a descriptor: take the hard limit, and keep the probes
// under what we got. Returns the probe count to use.
size_t FitToOpenFileLimit(size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::min<size_t>(wanted, 512);
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    // An unlimited hard limit still meets the kernel's nr_open on the soft one.
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      raised.rlim_cur = std::min<rlim_t>(limit.rlim_max, 1 << 20);
      if (setrlimit(RLIMIT_NOFILE, &raised) != 0) raised.rlim_cur = limit.rlim_cur;
    }
    limit.rlim_cur = raised.rlim_cur;
  }
  const rlim_t usable =
      limit.rlim_cur > 2 * kReservedFds ? limit.rlim_cur - kReservedFds : limit.rlim_cur / 2;
  const size_t cap = static_cast<size_t>(std::max<rlim_t>(usable, 1));
  if (wanted > cap) {
    spdlog::warn("MAX_WORKERS {} is above what the open-file limit ({}) allows: using {}", wanted,
                 limit.rlim_cur, cap);
    return cap;
  }
  return wanted;
}

// The scanner's settings with its probes fitted to the open-file limit.
asicmon::discover::ScannerOptions Fitted(asicmon::discover::ScannerOptions options) {
  options.max_in_flight = FitToOpenFileLimit(options.max_in_flight);
  return options;
}

std::string Where(const ProbeOutcome& o) {
  return asicmon::Ipv4ToString(o.address) + ":" + std::to_string(o.port);
}

std::string JsonLine(const ProbeOutcome& o) {
  nlohmann::json j = {{"ip", asicmon::Ipv4ToString(o.address)},
                      {"port", o.port},
                      {"model", o.model},
                      {"firmware", o.firmware},
                      {"worker", o.worker},
                      {"identified", o.kind == ProbeOutcome::Kind::kMiner},
                      {"error", o.detail}};
  // Miner-supplied text may not be UTF-8: replace rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string HumanLine(const ProbeOutcome& o) {
  std::string line = Where(o);
  if (o.kind != ProbeOutcome::Kind::kMiner)
    line += "  unidentified (" + asicmon::SafeForLog(o.detail) + ")";
  for (const std::string* field : {&o.model, &o.firmware, &o.worker}) {
    if (!field->empty()) line += "  " + asicmon::SafeForLog(*field);
  }
  return line;
}

// The \r progress line, for people watching a terminal.
void ShowProgress(const SweepProgress& p) {
  std::fprintf(stderr, "\rswept %zu/%zu addresses, %zu found   ", p.done, p.total, p.found());
  std::fflush(stderr);
}

int RunOnce(const DiscoverConfig& c, std::vector<uint32_t> addresses) {
  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  std::vector<ProbeOutcome> found;
  auto scanner = Scanner::Create(Fitted(c.service.scanner), std::move(addresses), [&](ProbeOutcome&& o) {
    if (o.kind == ProbeOutcome::Kind::kForeign) {
      spdlog::info("{} speaks another protocol (\"{}\"): not a miner, skipped", Where(o), o.detail);
      return;
    }
    if (o.kind == ProbeOutcome::Kind::kUnidentified) {
      spdlog::info("{} accepts but gives no valid reply ({}): listed unidentified", Where(o),
                   asicmon::SafeForLog(o.detail));
    }
    found.push_back(std::move(o));
  });
  if (!scanner.ok()) {
    spdlog::error("cannot start the sweep: {}", scanner.status().ToString());
    return 1;
  }
  const bool tty = isatty(STDERR_FILENO) == 1;
  (*scanner)->Begin();
  auto next_show = Clock::now();
  auto next_log = Clock::now() + std::chrono::seconds(5);
  while ((*scanner)->active() && !(*shutdown)->requested()) {
    pollfd fds[2] = {{(*shutdown)->fd(), POLLIN, 0}, {(*scanner)->fd(), POLLIN, 0}};
    const auto wait = (*scanner)->NextDeadlineIn(std::chrono::milliseconds(200));
    if (poll(fds, 2, static_cast<int>(wait.count())) < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      return 1;
    }
    (*scanner)->Poll(std::chrono::milliseconds(0));
    const auto now = Clock::now();
    if (tty && now >= next_show) {
      ShowProgress((*scanner)->progress());
      next_show = now + std::chrono::milliseconds(100);
    } else if (!tty && now >= next_log) {
      const SweepProgress& p = (*scanner)->progress();
      spdlog::info("sweep in progress: {}/{} addresses, {} found", p.done, p.total, p.found());
      next_log = now + std::chrono::seconds(5);
    }
  }
  if (tty) {
    ShowProgress((*scanner)->progress());
    std::fputc('\n', stderr);
  }

  std::sort(found.begin(), found.end(),
            [](const ProbeOutcome& a, const ProbeOutcome& b) { return a.address < b.address; });
  for (const ProbeOutcome& o : found) {
    const std::string line = c.json ? JsonLine(o) : HumanLine(o);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  const SweepProgress& p = (*scanner)->progress();
  std::fprintf(stderr,
               "swept %zu of %zu addresses in %.2f s: %zu miners found (%zu unidentified), "
               "%zu other services skipped\n",
               p.done, p.total, (*scanner)->elapsed_s(), p.found(), p.unidentified, p.foreign);
  if ((*shutdown)->requested()) {
    spdlog::warn("interrupted: the sweep is incomplete");
    return 1;
  }
  return 0;
}

int RunService(const DiscoverConfig& c, std::vector<uint32_t> addresses) {
  asicmon::discover::ServiceOptions options = c.service;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  if (auto warning = asicmon::bus::AckPathWarning(options.endpoints)) spdlog::warn("{}", *warning);
  options.scanner = Fitted(options.scanner);
  options.addresses = std::move(addresses);
  options.stats_interval = c.stage.stats_interval;
  if (c.state_path.empty()) {
    options.state_path = asicmon::discover::DefaultStatePath(
        options.endpoints.run_dir, options.addresses, options.scanner.port);
  } else if (c.state_path != "none") {
    options.state_path = c.state_path;
  }
  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto service = asicmon::discover::DiscoverService::Create(options);
  if (!service.ok()) {
    spdlog::error("cannot start: {}", service.status().ToString());
    return 1;
  }
  if (Status s = (*service)->Run(**shutdown); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  DiscoverConfig c;
  CLI::App app{
      "asicmon-discover: find the miners on the target subnets (CGMiner API, TCP 4028), "
      "keep their inventory and hand collect one poll job per miner per interval.\n"
      "Settings come from env vars; flags override."};
  app.add_flag("--once", c.once, "Sweep once, print one line per miner found, exit 0");
  app.add_flag("--json", c.json,
               "With --once: one JSON object per miner (ip, port, model, firmware, worker, "
               "identified, error)");
  asicmon::SettingsTable settings(app);
  AddSettings(settings, c);
  app.footer(
      "Service mode (no --once): endpoints from ASICMON_RUN_DIR (default run/) or "
      "ASICMON_JOBS / ASICMON_INGEST / ASICMON_PUBLISH.\nA miner missing from 3 "
      "consecutive sweeps is gone; until then it is polled.");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "discover", c.stage, settings.env_status())) {
    return *exit_code;
  }
  if (c.json && !c.once) {
    spdlog::error("--json goes with --once");
    return 2;
  }
  if (c.subnets.empty()) {
    spdlog::error(
        "no targets: set SUBNET or give --subnet (e.g. 192.168.1.0/24); there is no "
        "default");
    return 2;
  }
  auto addresses = asicmon::ExpandTargets(c.subnets, c.excludes);
  if (!addresses.ok()) {
    spdlog::error("bad targets: {}", addresses.status().message());
    return 2;
  }
  if (addresses->empty()) {
    spdlog::error("bad targets: the exclusions leave no address to sweep");
    return 2;
  }
  if (c.service.producer_id.empty()) {
    c.service.producer_id = asicmon::bus::DefaultProducerId("discover");
  }
  return c.once ? RunOnce(c, std::move(*addresses)) : RunService(c, std::move(*addresses));
}
