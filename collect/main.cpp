// asicmon-collect: polls miners (what each firmware family is asked, the
// family fingerprinted when a job does not name it; poller.h) and normalises
// the replies into a record.
//   worker mode (default): pulls poll jobs from discover, pushes records to store.
//   `--target ... --once --json`: polls the given miners once, all at once,
//   and prints one JSON record per target on stdout.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/log.h"
#include "asicmon/miner_api.h"
#include "asicmon/poller.h"
#include "asicmon/record.h"
#include "asicmon/settings.h"
#include "asicmon/shutdown.h"
#include "asicmon/stage.h"
#include "worker.h"

namespace {

using asicmon::Status;

struct CollectConfig {
  std::vector<std::string> targets;
  bool once = false;
  bool json = false;
  // exchange, max_in_flight and producer_id (default collect-<host>-<pid>)
  // are settings, which --once uses too.
  asicmon::WorkerOptions worker;
  asicmon::StageFlags stage;
};

// The settings table: one row per setting, flag and env var.
void AddSettings(asicmon::SettingsTable& t, CollectConfig& c) {
  asicmon::ExchangeOptions& exchange = c.worker.exchange;
  t.Seconds(exchange.deadline,
            {"--timeout", "POLL_TIMEOUT", "Seconds a poll may take, connect included"}, 0.05, 600);
  t.Seconds(exchange.connect_timeout, {"--connect-timeout", "CONNECT_TIMEOUT", "Seconds to connect"},
            0.05, 600);
  t.Int(exchange.max_reply_bytes,
        {"--max-reply-bytes", "MAX_REPLY_BYTES", "Longer replies are too_large"}, 1024, 1 << 30);
  t.Int(c.worker.max_in_flight,
        {"--max-in-flight", "MAX_IN_FLIGHT", "Exchanges open at once; each holds a file descriptor"},
        1, 100000);
  t.Text(c.worker.producer_id,
         {"--producer-id", "PRODUCER_ID", "Producer id stamped on records"});
  c.worker.poller.ports = {asicmon::kMinerApiPort, asicmon::kWhatsminerV3Port};
  t.Ports(c.worker.poller.ports,
          {"--ports", "DISCOVER_PORTS",
           "Ports a miner's API may be found on when fingerprinting it (jobs without a family, "
           "--once); --once also tries the web port 80"});
  asicmon::AddStageSettings(t, c.stage);
}

// A line for people: the fields an operator looks at first.
std::string HumanLine(const asicmon::Record& r) {
  char buf[512];
  std::string line = r.ip + ":" + std::to_string(r.port) + "  " + std::string(ToString(r.status));
  if (r.status != asicmon::MinerStatus::kOk || !r.error.empty()) line += " (" + r.error + ")";
  if (!r.model.empty()) line += "  " + r.model;
  if (!r.family.empty()) line += " [" + r.family + "]";
  if (r.hashrate) line += "  " + asicmon::FormatRate(*r.hashrate, r.algorithm);
  if (r.power_w) {
    std::snprintf(buf, sizeof buf, "  %.0f W", *r.power_w);
    line += buf;
  }
  if (r.temp_max) {
    std::snprintf(buf, sizeof buf, "  %.0f C", *r.temp_max);
    line += buf;
  }
  if (!r.worker.empty()) line += "  " + r.worker;
  return line;
}

int RunWorker(const CollectConfig& c) {
  asicmon::WorkerOptions options = c.worker;
  if (Status s = asicmon::bus::LoadEndpoints(options.endpoints); !s.ok()) {
    spdlog::error("bad configuration: {}", s.message());
    return 2;
  }
  if (auto warning = asicmon::bus::AckPathWarning(options.endpoints)) spdlog::warn("{}", *warning);
  options.stats_interval = c.stage.stats_interval;
  auto shutdown = asicmon::ShutdownSignal::Install();
  if (!shutdown.ok()) {
    spdlog::error("{}", shutdown.status().ToString());
    return 1;
  }
  auto worker = asicmon::CollectWorker::Create(options);
  if (!worker.ok()) {
    spdlog::error("cannot start: {}", worker.status().ToString());
    return 1;
  }
  Status s = (*worker)->Run(**shutdown);
  if (!s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

int RunOnce(const CollectConfig& c, const std::vector<asicmon::MinerEndpoint>& endpoints) {
  auto client = asicmon::MinerClient::Create(c.worker.exchange);
  if (!client.ok()) {
    spdlog::error("cannot start the miner client: {}", client.status().ToString());
    return 1;
  }
  // One command reads any miner by its address alone: the web port too.
  asicmon::PollerOptions poller_options = c.worker.poller;
  if (std::find(poller_options.ports.begin(), poller_options.ports.end(), 80) ==
      poller_options.ports.end()) {
    poller_options.ports.push_back(80);
  }
  asicmon::Poller poller(**client, poller_options);
  std::vector<asicmon::Record> records(endpoints.size());
  size_t next = 0;
  size_t running = 0;
  uint64_t seq = 0;
  // Keep at most max_in_flight polls open: each holds a file descriptor.
  auto start_more = [&](auto& self) -> void {
    while (next < endpoints.size() && running < c.worker.max_in_flight) {
      const size_t i = next++;
      ++running;
      poller.Poll(endpoints[i], {}, [&, i](asicmon::PollResult&& r) {
        --running;
        records[i] = std::move(r.record);
        records[i].producer_id = c.worker.producer_id;
        records[i].seq = ++seq;
        self(self);
      });
    }
  };
  start_more(start_more);
  (*client)->RunUntilIdle();

  for (const asicmon::Record& r : records) {
    if (r.status != asicmon::MinerStatus::kOk) {
      spdlog::warn("miner={}:{} status={} error=\"{}\"", r.ip, r.port, ToString(r.status),
                   asicmon::SafeForLog(r.error));
    }
    const std::string line = c.json ? asicmon::RecordToJsonLine(r) : HumanLine(r);
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CollectConfig c;
  CLI::App app{"asicmon-collect: poll miners over their APIs (CGMiner-style on 4028, Whatsminer "
               "API v3 on 4433, HTTP for web-API miners) and normalise their replies into records.\nSettings come from env vars; flags override."};
  app.add_option("--target", c.targets, "Miner to poll, IP[:PORT] (port 4028 by default); repeatable")
      ->type_name("IP[:PORT]");
  app.add_flag("--once", c.once, "Poll each --target once, print the records, exit 0");
  app.add_flag("--json", c.json, "Print one flat JSON record per line (else a line for people)");
  asicmon::SettingsTable settings(app);
  AddSettings(settings, c);
  app.footer("Worker mode (no --once): endpoints from ASICMON_RUN_DIR (default run/) or "
             "ASICMON_JOBS / ASICMON_INGEST / ASICMON_PUBLISH (store's acknowledgements).");
  if (auto exit_code =
          asicmon::StartStage(app, argc, argv, "collect", c.stage, settings.env_status())) {
    return *exit_code;
  }
  if (c.worker.producer_id.empty()) {
    c.worker.producer_id = asicmon::bus::DefaultProducerId("collect");
  }
  if (!c.once) {
    if (!c.targets.empty()) {
      spdlog::error("--target goes with --once; in worker mode discover hands out the miners");
      return 2;
    }
    return RunWorker(c);
  }
  if (c.targets.empty()) {
    spdlog::error("--once needs at least one --target IP[:PORT]");
    return 2;
  }
  std::vector<asicmon::MinerEndpoint> endpoints;
  for (const std::string& t : c.targets) {
    auto ep = asicmon::ParseEndpoint(t);
    if (!ep.ok()) {
      spdlog::error("bad --target: {}", ep.status().message());
      return 2;
    }
    endpoints.push_back(*ep);
  }
  return RunOnce(c, endpoints);
}
