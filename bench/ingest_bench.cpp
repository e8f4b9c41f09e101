// End-to-end cost of asicmon-store: PUSH records at its ingest as fast as it
// takes them (or at --rate), receive them back on its publish socket, and
// print records/s (ingest -> SQLite -> PUB), the ingest->publish latency
// (each record's ts is its send time), and the store's CPU and RSS.
// Records are realistic (3 boards, 4 fans, 3 pools, ~480 bytes of msgpack)
// from 4 producers over 10,000 miners. Figures only; nothing passes or fails.
//
// Usage: ingest_bench [--records N] [--rate R] [--no-db] [--dir DIR]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

#include "asicmon/clock.h"
#include "asicmon/bus.h"
#include "asicmon/record.h"
#include "sample_records.h"

namespace {

using Clock = std::chrono::steady_clock;
using asicmon::UnixNow;
using asicmon::Record;

constexpr int kMiners = 10000;
constexpr int kProducers = 4;

// Miner `miner`'s record from the producer that polls it.
Record MakeRecord(int miner, uint64_t seq) {
  return asicmon::testing::SampleRecord(
      "collect-bench" + std::to_string(miner % kProducers) + "-1", seq, miner, UnixNow());
}

// "VmRSS" or "VmHWM" of `pid`, in MiB.
double ProcMib(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024;
  }
  return 0;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  for (std::string field; in >> field;) fields.push_back(field);
  if (fields.size() < 15) return 0;
  return static_cast<double>(std::stoll(fields[13]) + std::stoll(fields[14])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto at = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(at), v.end());
  return v[at];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t records = 200000;
  double rate = 0;
  bool no_db = false;
  std::string dir = "/tmp/asicmon-ingest-bench-" + std::to_string(getpid());
  CLI::App app{"asicmon-store end to end: records/s, ingest->publish latency, CPU, RSS"};
  app.add_option("--records", records, "Records to send")->capture_default_str();
  app.add_option("--rate", rate, "Records/s to send at (0: as fast as store takes them)");
  app.add_flag("--no-db", no_db, "Run store with --no-db (relay only)");
  app.add_option("--dir", dir, "Run directory and database (removed at the end)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string run = dir + "/run";
  const std::string store_bin = std::string(ASICMON_BIN_DIR) + "/asicmon-store";
  const pid_t store = fork();
  if (store == 0) {
    setenv("ASICMON_RUN_DIR", run.c_str(), 1);
    setenv("ASICMON_DB", (dir + "/asicmon.db").c_str(), 1);
    setenv("LOG_LEVEL", "warn", 1);
    if (no_db) {
      execl(store_bin.c_str(), store_bin.c_str(), "--no-db", nullptr);
    } else {
      execl(store_bin.c_str(), store_bin.c_str(), nullptr);
    }
    _exit(127);
  }

  zmq::context_t context(2);
  std::atomic<uint64_t> received{0};
  std::atomic<bool> subscribed{false};
  std::atomic<bool> stop{false};
  std::vector<double> latency_ms;
  latency_ms.reserve(static_cast<size_t>(records));
  Clock::time_point last_received;
  std::thread receiver([&] {
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::rcvhwm, 1000000);
    sub.set(zmq::sockopt::rcvtimeo, 100);
    sub.set(zmq::sockopt::subscribe, "record");
    sub.connect("ipc://" + run + "/publish.sock");
    while (!stop) {
      zmq::message_t topic;
      zmq::message_t body;
      if (!sub.recv(topic) || !sub.recv(body)) continue;
      const double now = UnixNow();
      asicmon::Result<Record> r = asicmon::DecodeRecord(body.to_string_view());
      if (!r.ok()) continue;
      if (r->producer_id == "warmup") {
        subscribed = true;
        continue;
      }
      latency_ms.push_back((now - r->ts) * 1000);
      last_received = Clock::now();
      ++received;
    }
  });

  zmq::socket_t push(context, zmq::socket_type::push);
  push.set(zmq::sockopt::sndhwm, 20000);  // as collect's
  push.set(zmq::sockopt::linger, 0);
  push.connect("ipc://" + run + "/ingest.sock");
  // Until the subscription has reached store (SUB misses what came before).
  for (uint64_t seq = 1; !subscribed; ++seq) {
    Record r = MakeRecord(0, seq);
    r.producer_id = "warmup";
    r.ts = UnixNow();
    const std::string body = asicmon::EncodeRecord(r);
    push.send(zmq::buffer(asicmon::bus::kTopicRecord), zmq::send_flags::sndmore);
    push.send(zmq::buffer(body), zmq::send_flags::none);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up batches flushed

  std::vector<Record> templates;
  for (int m = 0; m < kMiners; ++m) templates.push_back(MakeRecord(m, static_cast<uint64_t>(m)));
  std::vector<uint64_t> seqs(kProducers, 0);
  const double cpu_before = ProcessCpuSeconds(store);
  const auto start = Clock::now();
  std::string body;
  for (int64_t i = 0; i < records; ++i) {
    if (rate > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(i) / rate)));
    }
    Record& r = templates[static_cast<size_t>(i % kMiners)];
    r.seq = ++seqs[static_cast<size_t>(i % kProducers)];
    r.ts = UnixNow();
    body.clear();
    asicmon::EncodeRecord(r, body);
    push.send(zmq::buffer(asicmon::bus::kTopicRecord), zmq::send_flags::sndmore);
    push.send(zmq::buffer(body), zmq::send_flags::none);
  }
  const double send_s = std::chrono::duration<double>(Clock::now() - start).count();
  const auto wait_until = Clock::now() + std::chrono::seconds(30);
  while (received < static_cast<uint64_t>(records) && Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double rss = ProcMib(store, "VmRSS");
  const double hwm = ProcMib(store, "VmHWM");
  const double cpu = ProcessCpuSeconds(store) - cpu_before;
  stop = true;
  receiver.join();
  kill(store, SIGTERM);
  int status = 0;
  waitpid(store, &status, 0);

  const double total_s = std::chrono::duration<double>(last_received - start).count();
  const uint64_t got = received;
  std::printf("store %s: %lld records of %zu bytes sent in %.2f s, %llu published back\n",
              no_db ? "--no-db" : "with SQLite", static_cast<long long>(records), body.size(),
              send_s, static_cast<unsigned long long>(got));
  std::printf("  end to end      %.0f records/s (first send -> last publish received)\n",
              static_cast<double>(got) / total_s);
  std::printf("  latency         p50 %.1f ms  p99 %.1f ms  max %.1f ms (ingest -> publish)\n",
              Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.99),
              Percentile(latency_ms, 1.0));
  std::printf("  store CPU       %.2f s, %.1f us per record\n", cpu,
              got > 0 ? cpu * 1e6 / static_cast<double>(got) : 0.0);
  std::printf("  store RSS       %.1f MiB at the end, %.1f MiB peak\n", rss, hwm);
  std::printf("  store exit      %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::filesystem::remove_all(dir);
  return 0;
}
