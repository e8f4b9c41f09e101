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
#include "asicmon/config.h"
#include "asicmon/log.h"
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
  std::vector<std::string> subnets;       // SUBNET (a comma list); no default
  std::vector<std::string> excludes;      // EXCLUDE
  int64_t port = asicmon::kMinerApiPort;  // MINER_PORT
  bool once = false;
  bool json = false;
  double connect_timeout_s = 1;    // SWEEP_CONNECT_TIMEOUT
  double poll_timeout_s = 5;       // POLL_TIMEOUT: identifying waits as long as a poll would
  int64_t max_workers = 4096;      // MAX_WORKERS: a /16 of silent LAN hosts in ~16 timeouts
  double scan_interval_s = 30;     // SCAN_INTERVAL
  double sweep_interval_s = 300;   // SWEEP_INTERVAL
  std::string producer_id;         // PRODUCER_ID; default discover-<host>-<pid>
  // DISCOVER_STATE; empty: $ASICMON_RUN_DIR/discover-<hash of targets>.state;
  // "none": no state file.
  std::string state_path;
  asicmon::StageFlags stage;  // LOG_LEVEL, STATS_INTERVAL
};

Status LoadEnv(DiscoverConfig& c) {
  std::string subnet;
  std::string exclude;
  for (Status s : {asicmon::EnvString("SUBNET", subnet), asicmon::EnvString("EXCLUDE", exclude),
                   asicmon::EnvInt("MINER_PORT", c.port, 1, 65535),
                   asicmon::EnvDouble("SWEEP_CONNECT_TIMEOUT", c.connect_timeout_s, 0.01, 600),
                   asicmon::EnvDouble("POLL_TIMEOUT", c.poll_timeout_s, 0.05, 600),
                   asicmon::EnvInt("MAX_WORKERS", c.max_workers, 1, 1000000),
                   asicmon::EnvDouble("SCAN_INTERVAL", c.scan_interval_s, 0.1, 86400),
                   asicmon::EnvDouble("SWEEP_INTERVAL", c.sweep_interval_s, 0.1, 7 * 86400),
                   asicmon::EnvString("PRODUCER_ID", c.producer_id),
                   asicmon::EnvString("DISCOVER_STATE", c.state_path),
                   asicmon::LoadStageEnv(c.stage)}) {
    if (!s.ok()) return s;
  }
  if (!subnet.empty()) c.subnets = {subnet};
  if (!exclude.empty()) c.excludes = {exclude};
  return Status::Ok();
}

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
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

asicmon::discover::ScannerOptions ScannerOptionsOf(const DiscoverConfig& c) {
  asicmon::discover::ScannerOptions options;
  options.port = static_cast<uint16_t>(c.port);
  options.max_in_flight = FitToOpenFileLimit(static_cast<size_t>(c.max_workers));
  options.exchange.connect_timeout = Millis(c.connect_timeout_s);
  options.exchange.deadline = Millis(c.poll_timeout_s);
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
  auto scanner = Scanner::Create(ScannerOptionsOf(c), std::move(addresses), [&](ProbeOutcome&& o) {
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
  asicmon::discover::ServiceOptions options;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  if (auto warning = asicmon::bus::AckPathWarning(options.endpoints)) spdlog::warn("{}", *warning);
  options.scanner = ScannerOptionsOf(c);
  options.addresses = std::move(addresses);
  options.scan_interval = Millis(c.scan_interval_s);
  options.sweep_interval = Millis(c.sweep_interval_s);
  options.stats_interval = std::chrono::seconds(c.stage.stats_interval_s);
  options.producer_id = c.producer_id;
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
  Status env = LoadEnv(c);

  CLI::App app{
      "asicmon-discover: find the miners on the target subnets (CGMiner API, TCP 4028), "
      "keep their inventory and hand collect one poll job per miner per interval.\n"
      "Settings come from env vars; flags override."};
  app.add_option("--subnet", c.subnets,
                 "Targets: CIDR 10.1.0.0/16, wildcard 192.168.2.* or 10.1.*.*, range "
                 "10.0.0.10-10.0.0.200, an address, or a comma list; repeatable (env SUBNET)")
      ->type_name("SPEC");
  app.add_option("--exclude", c.excludes,
                 "Addresses not to probe, same forms; repeatable (env EXCLUDE)")
      ->type_name("SPEC");
  app.add_option("--port", c.port, "Miner API port (env MINER_PORT)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{65535}));
  app.add_flag("--once", c.once, "Sweep once, print one line per miner found, exit 0");
  app.add_flag("--json", c.json,
               "With --once: one JSON object per miner (ip, port, model, firmware, worker, "
               "identified, error)");
  app.add_option("--interval", c.scan_interval_s,
                 "Seconds between polls of each miner (env SCAN_INTERVAL)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--sweep-interval", c.sweep_interval_s,
                 "Seconds from one sweep's start to the next's (env SWEEP_INTERVAL)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 7 * 86400.0));
  app.add_option("--connect-timeout", c.connect_timeout_s,
                 "Seconds a sweep probe may take to connect (env SWEEP_CONNECT_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
  app.add_option("--timeout", c.poll_timeout_s,
                 "Seconds an open port gets to identify itself, as a poll (env POLL_TIMEOUT)")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 600.0));
  app.add_option("--max-workers", c.max_workers,
                 "Probes in flight at once, kept below the open-file limit (env MAX_WORKERS)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  app.add_option("--producer-id", c.producer_id,
                 "Producer id stamped on jobs and inventory entries (env PRODUCER_ID)");
  app.add_option("--state-file", c.state_path,
                 "Where the known miners are kept, so a restart polls them at once rather than "
                 "after its first sweep; 'none' keeps none (env DISCOVER_STATE; default "
                 "$ASICMON_RUN_DIR/discover-<hash of the targets>.state)")
      ->type_name("PATH");
  asicmon::AddStageFlags(app, c.stage);
  app.footer(
      "Service mode (no --once): endpoints from ASICMON_RUN_DIR (default run/) or "
      "ASICMON_JOBS / ASICMON_INGEST / ASICMON_PUBLISH.\nA miner missing from 3 "
      "consecutive sweeps is gone; until then it is polled.");
  if (auto exit_code = asicmon::StartStage(app, argc, argv, "discover", c.stage, env)) {
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
  if (c.producer_id.empty()) c.producer_id = asicmon::bus::DefaultProducerId("discover");
  return c.once ? RunOnce(c, std::move(*addresses)) : RunService(c, std::move(*addresses));
}
