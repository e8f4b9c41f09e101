// Listens on store's publish socket for a while and prints what arrived:
// records/s, per-status counts, sequence gaps, and poll->stored latency
// (arrival here, which store does only after the commit, minus the record's
// ts, taken when the poll finished). For bench/pipeline_bench.sh.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <vector>

#include <CLI/CLI.hpp>

#include "asicmon/bus.h"
#include "asicmon/record.h"

int main(int argc, char** argv) {
  double seconds = 60;
  CLI::App app{"bus_latency: records/s and poll->stored latency seen on the publish socket"};
  app.add_option("--seconds", seconds, "How long to listen")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  asicmon::bus::Endpoints endpoints;
  if (auto s = asicmon::bus::LoadEndpoints(endpoints); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  zmq::context_t context(1);
  asicmon::bus::SocketOptions options;
  options.rcvhwm = 1000000;
  options.curve = &endpoints.curve;
  auto sub = asicmon::bus::Connect(context, zmq::socket_type::sub, endpoints.publish, options);
  if (!sub.ok()) {
    std::fprintf(stderr, "%s\n", sub.status().ToString().c_str());
    return 1;
  }
  sub->set(zmq::sockopt::subscribe, std::string(asicmon::bus::kTopicRecord));

  std::vector<double> latency_ms;
  std::map<std::string, uint64_t> by_status;
  asicmon::bus::SeqTracker seqs;
  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(seconds));
  while (std::chrono::steady_clock::now() < until) {
    zmq::pollitem_t item{sub->handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    while (true) {
      auto message = asicmon::bus::TryReceive(*sub);
      if (!message.ok() || !message->has_value()) break;
      auto record = asicmon::DecodeRecord((*message)->body);
      if (!record.ok()) continue;
      const double now = std::chrono::duration<double>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
      latency_ms.push_back((now - record->ts) * 1000);
      ++by_status[std::string(asicmon::ToString(record->status))];
      seqs.Observe(record->producer_id, record->seq);
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double p) {
    return latency_ms.empty() ? 0.0 : latency_ms[std::min(latency_ms.size() - 1,
                                                          static_cast<size_t>(p * static_cast<double>(latency_ms.size())))];
  };
  std::printf("records %zu in %.1f s = %.0f/s; seq gaps %llu; poll->stored latency ms p50 %.1f p99 %.1f max %.1f\n",
              latency_ms.size(), elapsed, static_cast<double>(latency_ms.size()) / elapsed,
              static_cast<unsigned long long>(seqs.missed()), pct(0.5), pct(0.99),
              latency_ms.empty() ? 0.0 : latency_ms.back());
  std::printf("statuses:");
  for (const auto& [s, n] : by_status) std::printf(" %s=%llu", s.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
  return 0;
}
