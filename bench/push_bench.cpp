// asicmon-push's throughput over real HTTP on loopback: a real asicmon-store
// (relay only, so the database is not what is measured) and a real
// asicmon-push process, records injected at store's ingest, and an HTTP/1.1
// receiver in this process (tests/testlib/http_server) on 127.61.0.1.
//
//   drain  the receiver refuses while N records are published (push spools
//          them to disk), then it listens: records/s from the spool to the
//          receiver, i.e. push's sending rate.
//   live   the receiver answers while N more records are published at
//          --live-rate: records/s end to end, bus -> spool -> HTTP. Records
//          PUB drops for push (a burst past the marks) are bus gaps, which
//          push would backfill from the database; store runs without one
//          here, so they are counted and printed instead.
// Also push's peak RSS (VmHWM) and CPU. Figures only; nothing passes or fails.
//
// Usage: push_bench [--records N] [--live-rate R] [--format json|ndjson|influx] [--batch B]
//                   [--dir DIR]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/record.h"
#include "sample_records.h"
#include "http_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using asicmon::Record;
using asicmon::testing::HttpAnswer;
using asicmon::testing::HttpRequest;
using asicmon::testing::TestHttpServer;

constexpr int kMiners = 10000;
constexpr int kProducers = 4;
// A request that carried this many records of each format: counted by the
// receiver from the body (one per record in every format).
constexpr std::string_view kJsonMarker = "\"schema_version\":";
constexpr std::string_view kInfluxMarker = "miner,";

// Miner `miner`'s record from the producer that polls it.
Record MakeRecord(int miner, uint64_t seq) {
  return asicmon::testing::SampleRecord(
      "collect-bench" + std::to_string(miner % kProducers) + "-1", seq, miner, 1.7e9 + static_cast<double>(seq));
}

// "VmHWM"/"VmRSS" of `pid` in MiB.
double ProcMib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024;
  }
  return 0;
}

double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  if (fields.size() < 15) return 0;
  return static_cast<double>(std::stoll(fields[13]) + std::stoll(fields[14])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t Start(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// The newest value of `key` in the stats lines of `log`.
uint64_t LastStat(const std::string& log, const std::string& key) {
  std::ifstream in(log);
  uint64_t value = 0;
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find(" " + key + "=");
    if (at != std::string::npos && line.find(" stats ") != std::string::npos) {
      value = std::stoull(line.substr(at + key.size() + 2));
    }
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 200000;
  std::string format = "json";
  int64_t batch = 500;
  double live_rate_target = 60000;
  std::string dir = "/tmp/asicmon-push-bench-" + std::to_string(getpid());
  CLI::App app{"asicmon-push: records/s to an HTTP receiver on loopback, peak RSS"};
  app.add_option("--records", records, "Records per phase")->capture_default_str();
  app.add_option("--format", format, "json, ndjson or influx")
      ->capture_default_str()
      ->check(CLI::IsMember({"json", "ndjson", "influx"}));
  app.add_option("--batch", batch, "PUSH_BATCH")->capture_default_str();
  app.add_option("--live-rate", live_rate_target, "Records/s published in the live phase")
      ->capture_default_str();
  app.add_option("--dir", dir, "Run directory and spool (removed at the end)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string marker(format == "influx" ? kInfluxMarker : kJsonMarker);
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> requests{0};
  TestHttpServer receiver("127.61.0.1");
  receiver.KeepBodies(false);
  receiver.Answer([&](const HttpRequest& r) {
    uint64_t n = 0;
    for (size_t at = r.body.find(marker); at != std::string::npos; at = r.body.find(marker, at + 1)) {
      ++n;
    }
    received += n;
    ++requests;
    return HttpAnswer{};
  });

  setenv("ASICMON_RUN_DIR", (dir + "/run").c_str(), 1);
  setenv("LOG_LEVEL", "info", 1);
  const std::string bin = ASICMON_BIN_DIR;
  const pid_t store = Start({bin + "/asicmon-store", "--no-db"}, dir + "/store.log");
  const std::string push_log = dir + "/push.log";
  const pid_t push = Start({bin + "/asicmon-push", "--api-url", receiver.Url(), "--format", format,
                            "--batch", std::to_string(batch), "--spool-dir", dir + "/spool",
                            "--no-backfill", "--stats-interval", "1", "--retry-max", "0.2"},
                           push_log);

  zmq::context_t context(1);
  zmq::socket_t ingest(context, zmq::socket_type::push);
  ingest.set(zmq::sockopt::sndhwm, 20000);
  ingest.set(zmq::sockopt::linger, 0);
  ingest.connect("ipc://" + dir + "/run/ingest.sock");
  std::vector<Record> templates;
  for (int m = 0; m < kMiners; ++m) templates.push_back(MakeRecord(m, 0));
  std::vector<uint64_t> seqs(kProducers, 0);
  std::string body;
  auto send = [&](int64_t i) {
    Record& r = templates[static_cast<size_t>(i % kMiners)];
    r.seq = ++seqs[static_cast<size_t>(i % kProducers)];
    body.clear();
    asicmon::EncodeRecord(r, body);
    ingest.send(zmq::buffer(asicmon::bus::kTopicRecord), zmq::send_flags::sndmore);
    ingest.send(zmq::buffer(body), zmq::send_flags::none);
  };

  // Until push's subscription has reached store (SUB misses what came before).
  int64_t sent = 0;
  while (received == 0) {
    send(sent++);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const uint64_t warmup = received;

  // Drain: spool everything with the receiver away, then time the delivery.
  receiver.Refuse();
  const auto spool_start = Clock::now();
  for (int64_t i = 0; i < records; ++i) send(sent++);
  const uint64_t spooled_target = static_cast<uint64_t>(sent);
  while (LastStat(push_log, "spooled") < spooled_target &&
         Clock::now() - spool_start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double spool_s = std::chrono::duration<double>(Clock::now() - spool_start).count();
  const double spool_mb = static_cast<double>(LastStat(push_log, "spool_mb"));
  const double cpu_before_drain = CpuSeconds(push);
  const auto drain_start = Clock::now();
  receiver.Listen();
  const uint64_t drain_target = warmup + static_cast<uint64_t>(records);
  while (received < drain_target && Clock::now() - drain_start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const double drain_s = std::chrono::duration<double>(Clock::now() - drain_start).count();
  const double drain_cpu = CpuSeconds(push) - cpu_before_drain;
  const uint64_t drained = received - warmup;

  // Live: the receiver answers while records stream in as fast as store relays.
  const uint64_t requests_before_live = requests;
  const uint64_t live_base = received;
  const double cpu_before_live = CpuSeconds(push);
  const uint64_t gaps_before_live = LastStat(push_log, "bus_gaps");
  const auto live_start = Clock::now();
  for (int64_t i = 0; i < records; ++i) {
    if (i % 100 == 0) {
      std::this_thread::sleep_until(
          live_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                           static_cast<double>(i) / live_rate_target)));
    }
    send(sent++);
  }
  const double send_s = std::chrono::duration<double>(Clock::now() - live_start).count();
  while (received + LastStat(push_log, "bus_gaps") - gaps_before_live <
             live_base + static_cast<uint64_t>(records) &&
         Clock::now() - live_start < std::chrono::seconds(120)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const uint64_t live_gaps = LastStat(push_log, "bus_gaps") - gaps_before_live;
  const double live_s = std::chrono::duration<double>(Clock::now() - live_start).count();
  const double live_cpu = CpuSeconds(push) - cpu_before_live;
  const uint64_t live = received - live_base;
  const double peak_rss = ProcMib(push, "VmHWM");
  const double rss = ProcMib(push, "VmRSS");

  kill(push, SIGTERM);
  kill(store, SIGTERM);
  waitpid(push, nullptr, 0);
  waitpid(store, nullptr, 0);

  const double drain_rate = static_cast<double>(drained) / drain_s;
  const double live_rate = static_cast<double>(live) / live_s;
  std::printf("push_bench: real asicmon-store (relay) + real asicmon-push, HTTP/1.1 receiver on "
              "127.61.0.1 in the bench process; format %s, batch %ld, spool on %s\n",
              format.c_str(), static_cast<long>(batch), dir.c_str());
  std::printf("spool:  %lu records (%.0f MB) spooled in %.2f s with the receiver away (%.0f/s)\n",
              static_cast<unsigned long>(records), spool_mb, spool_s,
              static_cast<double>(records) / spool_s);
  std::printf("drain:  %lu records delivered in %.2f s = %.0f records/s (%.2fx the 50,000/s "
              "target, %.1fx 11,800 single-record POSTs/s); push CPU %.2f s (%.1f us/record)\n",
              static_cast<unsigned long>(drained), drain_s, drain_rate, drain_rate / 50000,
              drain_rate / 11800, drain_cpu, drain_cpu * 1e6 / static_cast<double>(drained));
  std::printf("live:   %lu records in %.2f s end to end = %.0f records/s (published at %.0f/s "
              "in %.2f s; %lu missed on the bus); %lu requests (%.0f records each); push CPU "
              "%.2f s\n",
              static_cast<unsigned long>(live), live_s, live_rate,
              static_cast<double>(records) / send_s, send_s, static_cast<unsigned long>(live_gaps),
              static_cast<unsigned long>(requests - requests_before_live),
              static_cast<double>(live) /
                  static_cast<double>(std::max<uint64_t>(1, requests - requests_before_live)),
              live_cpu);
  std::printf("memory: push peak RSS (VmHWM) %.1f MiB, RSS at the end %.1f MiB\n", peak_rss, rss);
  std::filesystem::remove_all(dir);
  return 0;
}
