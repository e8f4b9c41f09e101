// /metrics: Prometheus exposition of every miner's latest state (from the
// store) and of the pipeline's counters (control's own, and what control
// sees pass on the bus). Counters live in a prometheus-cpp registry and are
// rendered by its text serializer; the per-miner gauges are written
// directly (as prometheus-cpp families they took ~550 ms for 10,000 miners).
//
// Thread-safety: the counting methods and Render may be called from any
// thread (prometheus-cpp counters are atomic; families are created up front).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include "asicmon/bus.h"
#include "asicmon/record.h"
#include "farm.h"

namespace asicmon::control {

// Every miner's gauges (labels ip, model, worker, and mac when the record
// names the machine; per board and per fan an extra index label), kept rendered: each record is written out once when
// it arrives, so a scrape only concatenates (~25 samples per miner; at
// 10,000 miners, reading the store and rendering on each scrape took over
// 100 ms, concatenating takes a few, see bench/control_bench).
class MinerGauges {
 public:
  static constexpr size_t kFamilyCount = 13;
  // The miner's newest state; a record older than the one held is ignored.
  void Update(const Record& record);
  // Replaces everything with `latest` (start-up, and resyncs from the store).
  void Reset(const std::vector<Record>& latest);
  // Appends the families, each with its header, miners in address order.
  void Render(std::string& out) const;
  size_t size() const;
  // The farm's totals now (~0.1 ms at 10,000 miners).
  FarmTotals Totals() const;

 private:
  struct Lines {
    double ts = -1;
    std::array<std::string, kFamilyCount> text;  // this miner's samples of each family
    // This miner's part of the farm's totals.
    MinerStatus status = MinerStatus::kOk;
    bool sleeping = false;
    std::optional<double> hashrate, hashrate_expected, power_w;
    std::string algorithm;
  };
  static Lines RenderLines(const Record& record);
  // What a miner's newer lines keep from `before` when its record lacks it.
  static void CarryOver(Lines& lines, const Lines& before);
  // Puts `record` in `miners` unless it holds a newer one of that miner.
  static void Keep(std::map<uint64_t, Lines>& miners, const Record& record);
  mutable std::mutex mutex_;
  std::map<uint64_t, Lines> miners_;  // by (IPv4, port)
};

class Metrics {
 public:
  Metrics();

  void CountRequest(std::string_view route, int http_status);
  void CountAction(std::string_view action, std::string_view result);
  // From the bus: records as stored (store publishes after commit), by status.
  void CountRecord(MinerStatus status);
  void CountInventory(InventoryChange change);
  void CountBusGaps(std::string_view topic, uint64_t missed);
  void CountBadMessage();
  // A refused authentication: "missing", "unknown", "revoked", "expired",
  // "store_down", "forbidden" (a key whose role is short) or "throttled".
  void CountAuthRefusal(std::string_view reason);
  // The newest counters a stage sent (bus events of kind "stats").
  void UpdateStage(bus::StageStats stats);

  // A part of the exposition written by another component (curtailment's
  // gauges), appended after the counters on every scrape. Set before serving.
  void AddSection(std::function<void(std::string&)> section) {
    sections_.push_back(std::move(section));
  }

  // The exposition text: the miners' gauges, then the counters.
  std::string Render(const MinerGauges& gauges) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& records_;
  prometheus::Family<prometheus::Counter>& inventory_;
  prometheus::Family<prometheus::Counter>& bus_gaps_;
  prometheus::Counter& bad_messages_;
  prometheus::Family<prometheus::Counter>& auth_refusals_;
  std::vector<std::function<void(std::string&)>> sections_;
  mutable std::mutex stages_mutex_;
  // By (stage, producer); a producer silent for 10 minutes is dropped at
  // render (a restarted process comes back under a new producer id).
  mutable std::map<std::pair<std::string, std::string>, bus::StageStats> stages_;
};

}  // namespace asicmon::control
