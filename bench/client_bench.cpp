// Exchanges per second and CPU per exchange of the miner client, against
// asicmon-fakefarm serving N miners on loopback. Two phases: the transport
// alone (connect, request, reply), then full polls (plus repair, parse and
// normalise into a Record). Prints figures; asserts nothing.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "asicmon/miner_api.h"

namespace {

using Clock = std::chrono::steady_clock;

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  std::vector<std::string> fields;
  while (in >> field) fields.push_back(field);
  if (fields.size() < 15) return 0;
  return static_cast<double>(std::stoll(fields[13]) + std::stoll(fields[14])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string NthAddress(const std::string& base, int n) {
  unsigned a, b, c, d;
  std::sscanf(base.c_str(), "%u.%u.%u.%u", &a, &b, &c, &d);
  uint32_t v = (a << 24 | b << 16 | c << 8 | d) + static_cast<uint32_t>(n);
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
         std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
}

struct Phase {
  uint64_t exchanges = 0;
  double seconds = 0;
  double client_cpu = 0;
  double farm_cpu = 0;
  std::map<std::string, uint64_t> by_status;
};

Phase Run(asicmon::MinerClient& client, const std::vector<asicmon::MinerEndpoint>& miners,
          int in_flight, double seconds, bool full_poll, pid_t farm) {
  Phase phase;
  const std::string request = asicmon::BuildRequest(asicmon::kPollCommand);
  size_t next = 0;
  bool measuring = false;
  bool stopping = false;
  std::function<void()> start_one;
  auto on_done = [&](size_t i, asicmon::ExchangeResult&& r) {
    if (measuring) {
      ++phase.exchanges;
      if (full_poll) {
        asicmon::Record rec = asicmon::RecordFromExchange(miners[i], std::move(r));
        ++phase.by_status[std::string(ToString(rec.status))];
      } else {
        ++phase.by_status[std::string(ToString(r.status))];
      }
    }
    if (!stopping) start_one();
  };
  start_one = [&] {
    const size_t i = next++ % miners.size();
    client.Start(miners[i], request, [&, i](asicmon::ExchangeResult&& r) { on_done(i, std::move(r)); });
  };
  for (int k = 0; k < in_flight; ++k) start_one();

  const auto warm_until = Clock::now() + std::chrono::seconds(1);
  while (Clock::now() < warm_until) client.Poll(std::chrono::milliseconds(10));

  measuring = true;
  const double cpu0 = SelfCpuSeconds();
  const double farm0 = ProcessCpuSeconds(farm);
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (Clock::now() < until) client.Poll(std::chrono::milliseconds(10));
  phase.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  phase.client_cpu = SelfCpuSeconds() - cpu0;
  phase.farm_cpu = ProcessCpuSeconds(farm) - farm0;
  measuring = false;
  stopping = true;
  client.RunUntilIdle();
  return phase;
}

void Print(const char* name, const Phase& p, double ceiling) {
  const double rate = static_cast<double>(p.exchanges) / p.seconds;
  std::printf("%-10s %8.0f exchanges/s  (%.0f%% of the %.0f/s loopback ceiling)  client %.1f us CPU/exchange  fakefarm %.1f us CPU/exchange\n",
              name, rate, 100 * rate / ceiling, ceiling,
              p.client_cpu / static_cast<double>(p.exchanges) * 1e6,
              p.farm_cpu / static_cast<double>(p.exchanges) * 1e6);
  std::printf("           statuses:");
  for (const auto& [status, n] : p.by_status) std::printf(" %s=%llu", status.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int miners = 1000;
  std::string base = "127.40.0.1";
  double seconds = 10;
  int in_flight = 128;
  double ceiling = 18000;  // minimal-server exchanges/s measured on this machine class
  std::string fakefarm = std::string(ASICMON_BIN_DIR) + "/asicmon-fakefarm";
  CLI::App app{"client_bench: exchanges/s and CPU per exchange of the miner client against asicmon-fakefarm"};
  app.add_option("--miners", miners, "Fake miners to serve")->capture_default_str();
  app.add_option("--base", base, "First loopback address (127.x only)")->capture_default_str();
  app.add_option("--seconds", seconds, "Measured seconds per phase")->capture_default_str();
  app.add_option("--in-flight", in_flight, "Exchanges kept open at once")->capture_default_str();
  app.add_option("--ceiling", ceiling, "Loopback exchanges/s ceiling to compare with")->capture_default_str();
  app.add_option("--fakefarm", fakefarm, "Path of asicmon-fakefarm")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (base.rfind("127.", 0) != 0) {
    std::fprintf(stderr, "client_bench: --base must be a 127.x address\n");
    return 2;
  }

  int out[2];
  if (pipe(out) != 0) return 1;
  const std::string count = std::to_string(miners);
  pid_t farm = fork();
  if (farm == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    execl(fakefarm.c_str(), fakefarm.c_str(), "--base", base.c_str(), "--count", count.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buf[4096];
  while (text.find("READY") == std::string::npos) {
    ssize_t n = read(out[0], buf, sizeof buf);
    if (n <= 0) {
      std::fprintf(stderr, "client_bench: fakefarm did not start (%s)\n", fakefarm.c_str());
      return 1;
    }
    text.append(buf, static_cast<size_t>(n));
  }

  std::vector<asicmon::MinerEndpoint> endpoints;
  for (int i = 0; i < miners; ++i) endpoints.push_back({NthAddress(base, i), asicmon::kMinerApiPort});
  auto client = asicmon::MinerClient::Create(asicmon::ExchangeOptions{});
  if (!client.ok()) return 1;

  std::printf("client_bench: %d fake miners from %s, %d in flight, %.0f s per phase, one client thread\n",
              miners, base.c_str(), in_flight, seconds);
  Phase transport = Run(**client, endpoints, in_flight, seconds, false, farm);
  Print("transport", transport, ceiling);
  Phase poll = Run(**client, endpoints, in_flight, seconds, true, farm);
  Print("full poll", poll, ceiling);

  kill(farm, SIGTERM);
  waitpid(farm, nullptr, 0);
  return 0;
}
