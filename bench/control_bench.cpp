// asicmon-control under load, as a real process over a store of N miners:
// GET /miners (a page of 100) and GET /metrics, with kept-alive connections
// and with a new connection per request; /metrics render time for every
// miner; and a live summary of a healthy miner while 1,000 summaries of
// silent miners are in flight. Figures only; nothing passes or fails.
// Loopback: 127.0.0.1 (control) and 127.62.0.0/16 (the fake farm).
//
// Usage: control_bench [--miners N] [--seconds S] [--connections C] [--silent K]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "asicmon/store_db.h"
#include "metrics.h"
#include "sample_records.h"

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int ConnectTo(const std::string& ip, uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response, framed by Content-Length or chunked (control sends
// large bodies chunked); its status code and body size, or status 0 on a
// broken connection.
struct Reply {
  int status = 0;
  size_t bytes = 0;
};
// Makes `buffer` hold at least `n` bytes; false when the connection ends first.
bool Fill(int fd, std::string& buffer, size_t n) {
  char chunk[65536];
  while (buffer.size() < n) {
    const ssize_t got = recv(fd, chunk, sizeof chunk, 0);
    if (got <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(got));
  }
  return true;
}
// The position of `needle` in `buffer` from `from`, reading more as needed.
size_t FindFilling(int fd, std::string& buffer, std::string_view needle, size_t from) {
  size_t at;
  while ((at = buffer.find(needle, from)) == std::string::npos) {
    if (!Fill(fd, buffer, buffer.size() + 1)) return std::string::npos;
  }
  return at;
}
Reply ReadReply(int fd, std::string& buffer) {
  Reply reply;
  const size_t header_end = FindFilling(fd, buffer, "\r\n\r\n", 0);
  if (header_end == std::string::npos) return reply;
  std::string head = buffer.substr(0, header_end);
  std::transform(head.begin(), head.end(), head.begin(), ::tolower);
  size_t pos = header_end + 4;
  if (head.find("transfer-encoding: chunked") != std::string::npos) {
    while (true) {
      const size_t line_end = FindFilling(fd, buffer, "\r\n", pos);
      if (line_end == std::string::npos) return reply;
      const size_t size = std::stoul(buffer.substr(pos, line_end - pos), nullptr, 16);
      if (!Fill(fd, buffer, line_end + 2 + size + 2)) return reply;
      pos = line_end + 2 + size + 2;
      reply.bytes += size;
      if (size == 0) break;
    }
  } else {
    const size_t cl = head.find("content-length:");
    const size_t length = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 15));
    if (!Fill(fd, buffer, pos + length)) return reply;
    pos += length;
    reply.bytes = length;
  }
  reply.status = std::stoi(head.substr(9, 3));
  buffer.erase(0, pos);
  return reply;
}

std::string Request(const std::string& path, bool keep_alive) {
  return "GET " + path + " HTTP/1.1\r\nHost: bench\r\n" +
         (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

struct Load {
  uint64_t ok = 0;
  uint64_t failed = 0;
  size_t bytes = 0;
  double seconds = 0;
  std::vector<double> latency_ms;
};

// `connections` threads request `path` back to back for `seconds`.
Load Run(uint16_t port, const std::string& path, int connections, double seconds,
         bool keep_alive) {
  std::vector<Load> per(static_cast<size_t>(connections));
  const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(seconds));
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      Load& load = per[static_cast<size_t>(c)];
      int fd = -1;
      std::string buffer;
      const std::string request = Request(path, keep_alive);
      while (Clock::now() < until) {
        const auto start = Clock::now();
        if (fd < 0) fd = ConnectTo("127.0.0.1", port);
        const Reply r = fd >= 0 && SendAll(fd, request) ? ReadReply(fd, buffer) : Reply{};
        if (r.status == 200) {
          ++load.ok;
          load.bytes += r.bytes;
          load.latency_ms.push_back(Ms(Clock::now() - start));
        } else {
          ++load.failed;
        }
        if (!keep_alive || r.status == 0) {
          if (fd >= 0) close(fd);
          fd = -1;
          buffer.clear();
        }
      }
      if (fd >= 0) close(fd);
    });
  }
  for (std::thread& t : threads) t.join();
  Load total;
  total.seconds = Ms(Clock::now() - t0) / 1000;
  for (Load& l : per) {
    total.ok += l.ok;
    total.failed += l.failed;
    total.bytes += l.bytes;
    total.latency_ms.insert(total.latency_ms.end(), l.latency_ms.begin(), l.latency_ms.end());
  }
  return total;
}

void Print(const char* what, const Load& l) {
  std::printf("  %-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%llu ok, %llu failed, %.0f KB/reply)\n",
              what, static_cast<double>(l.ok) / l.seconds, Percentile(l.latency_ms, 0.5),
              Percentile(l.latency_ms, 0.99), static_cast<unsigned long long>(l.ok),
              static_cast<unsigned long long>(l.failed),
              l.ok ? static_cast<double>(l.bytes) / static_cast<double>(l.ok) / 1024 : 0.0);
}

double PeakRssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

// Starts `argv` with stdout on a pipe; returns its pid and waits for a line
// starting "READY" (what it printed up to there in `printed`).
pid_t Start(const std::vector<std::string>& argv, std::string& printed) {
  int out[2];
  if (pipe(out) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char c;
  while (read(out[0], &c, 1) == 1) {
    text.push_back(c);
    const size_t at = text.find("READY");
    if (at != std::string::npos && text.back() == '\n') {
      printed = text;
      break;
    }
  }
  return pid;  // the pipe stays open: the child may print more
}

}  // namespace

int main(int argc, char** argv) {
  int miners = 10000;
  double seconds = 5;
  int connections = 16;
  int silent = 1000;
  CLI::App app{"asicmon-control under load: /miners, /metrics, live summary beside 1,000 slow ones"};
  app.add_option("--miners", miners, "Miners in the store")->capture_default_str();
  app.add_option("--seconds", seconds, "Seconds per load phase")->capture_default_str();
  app.add_option("--connections", connections, "Client connections per phase")->capture_default_str();
  app.add_option("--silent", silent, "Silent miners polled at once in the last phase")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress shows as it happens

  const std::string dir = "/tmp/asicmon-control-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::string db_path = dir + "/asicmon.db";
  {
    auto db = asicmon::StoreDb::Open({.database = db_path});
    if (!db.ok()) {
      std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
      return 1;
    }
    std::mt19937_64 rng(7);
    const double now = std::floor(std::chrono::duration<double>(
        std::chrono::system_clock::now().time_since_epoch()).count());
    std::vector<asicmon::Record> batch;
    for (int m = 0; m < miners; ++m) {
      batch.push_back(asicmon::testing::RandomSampleRecord(m, now - 60, now - 3600, static_cast<uint64_t>(m + 1), rng));
      if (batch.size() == 1000 || m == miners - 1) {
        if (auto s = (*db)->WriteBatch(batch); !s.ok()) {
          std::fprintf(stderr, "%s\n", s.ToString().c_str());
          return 1;
        }
        batch.clear();
      }
    }
  }
  {  // Where a scrape's time goes, in this process: the store read, then the text.
    auto db = asicmon::StoreDb::Open({.database = db_path});
    asicmon::LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    const auto t0 = Clock::now();
    auto latest = (*db)->Latest(all);
    const auto t1 = Clock::now();
    asicmon::control::MinerGauges gauges;
    gauges.Reset(*latest);
    const auto t2 = Clock::now();
    std::string text;
    gauges.Render(text);
    const auto t3 = Clock::now();
    std::printf("/metrics in-process: store read of %zu miners %.1f ms and their gauges rendered "
                "%.1f ms (control does both at start and every 5 min); a scrape's concatenation "
                "%.1f ms (%.1f MB)\n",
                latest->size(), Ms(t1 - t0), Ms(t2 - t1), Ms(t3 - t2),
                static_cast<double>(text.size()) / 1e6);
  }
  setenv("ASICMON_DB", db_path.c_str(), 1);
  setenv("ASICMON_RUN_DIR", (dir + "/run").c_str(), 1);
  setenv("CONTROL_BIND", "127.0.0.1:0", 1);
  setenv("LOG_LEVEL", "warn", 1);
  setenv("POLL_TIMEOUT", "5", 1);
  std::string ready;
  const pid_t control =
      Start({std::string(ASICMON_BIN_DIR) + "/asicmon-control", "--threads", "2"}, ready);
  const auto port = static_cast<uint16_t>(std::stoi(ready.substr(ready.find("READY") + 6)));
  std::printf("control_bench: asicmon-control on 127.0.0.1:%u, %d miners in the store, "
              "%d connections, %.0f s per phase\n\n", port, miners, connections, seconds);

  std::printf("/metrics render, one request at a time (every miner's gauges):\n");
  Load metrics_one = Run(port, "/metrics", 1, std::max(2.0, seconds / 2), true);
  Print("GET /metrics, 1 connection", metrics_one);
  std::printf("  -> p99 %.1f ms for %d miners (target < 100 ms)\n\n",
              Percentile(metrics_one.latency_ms, 0.99), miners);

  std::printf("Throughput:\n");
  Print("GET /miners (100 per page), keep-alive", Run(port, "/miners?limit=100", connections, seconds, true));
  Print("GET /miners (100 per page), new conn", Run(port, "/miners?limit=100", connections, seconds, false));
  Print("GET /miners?limit=1, keep-alive", Run(port, "/miners?limit=1", connections, seconds, true));
  Print("GET /miners?limit=1, new conn", Run(port, "/miners?limit=1", connections, seconds, false));
  Print("GET /healthz, keep-alive", Run(port, "/healthz", connections, seconds, true));
  Print("GET /healthz, new conn", Run(port, "/healthz", connections, seconds, false));
  Print("GET /metrics, keep-alive", Run(port, "/metrics", connections, seconds, true));
  Print("GET /metrics, new conn", Run(port, "/metrics", connections, seconds, false));

  // Live summaries: one healthy miner and `silent` that never answer.
  std::string farm_ready;
  const pid_t farm = Start({std::string(ASICMON_BIN_DIR) + "/asicmon-fakefarm", "--base", "127.62.0.1",
                            "--count", std::to_string(silent + 1), "--fault",
                            "silent=" + std::to_string(silent), "--seed", "3", "--manifest", "-"},
                           farm_ready);
  // The healthy one, from the farm's manifest (one JSON line per miner).
  std::string healthy, worker;
  std::istringstream manifest(farm_ready);
  for (std::string line; std::getline(manifest, line);) {
    const nlohmann::json m = nlohmann::json::parse(line, nullptr, false);
    if (m.is_object() && m.value("fault", "") == "none") {
      healthy = m["ip"];
      worker = m["worker"];
    }
  }
  std::printf("\nLive summary of %s (%s) while %d summaries of silent miners wait (POLL_TIMEOUT 5 s):\n",
              healthy.c_str(), worker.c_str(), silent);
  std::vector<int> waiting;
  for (int i = 1; i <= silent + 1; ++i) {
    const std::string ip = "127.62." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    if (ip == healthy) continue;
    const int fd = ConnectTo("127.0.0.1", port);
    if (fd >= 0 && SendAll(fd, Request("/miners/" + ip + "/w/summary", true))) waiting.push_back(fd);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<double> live_ms;
  int live_ok = 0;
  for (int i = 0; i < 20; ++i) {
    const int fd = ConnectTo("127.0.0.1", port);
    std::string buffer;
    const auto t0 = Clock::now();
    SendAll(fd, Request("/miners/" + healthy + "/" + worker + "/summary", true));
    if (ReadReply(fd, buffer).status == 200) ++live_ok;
    live_ms.push_back(Ms(Clock::now() - t0));
    close(fd);
  }
  std::printf("  %zu silent in flight; healthy: %d/20 ok, p50 %.1f ms, max %.1f ms (deadline 5000 ms)\n",
              waiting.size(), live_ok, Percentile(live_ms, 0.5), Percentile(live_ms, 1.0));
  int timed_out = 0;
  const auto t0 = Clock::now();
  for (int fd : waiting) {
    std::string buffer;
    if (ReadReply(fd, buffer).status == 504) ++timed_out;
    close(fd);
  }
  std::printf("  the silent ones: %d/%zu answered 504, the last %.1f s after the healthy ones\n",
              timed_out, waiting.size(), Ms(Clock::now() - t0) / 1000);

  std::printf("\nasicmon-control peak RSS %.1f MB\n", PeakRssMb(control));
  kill(control, SIGTERM);
  kill(farm, SIGTERM);
  waitpid(control, nullptr, 0);
  waitpid(farm, nullptr, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
