// /metrics: Prometheus exposition of every miner's latest state (from the
// store) and of the pipeline's counters (control's own, and what control
// sees pass on the bus), rendered with prometheus-cpp's text serializer.
//
// Thread-safety: the counting methods and Render may be called from any
// thread (prometheus-cpp counters are atomic; families are created up front).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include "asicmon/record.h"

namespace asicmon::control {

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

  // The exposition text: per-miner gauges of `latest`, then the counters.
  std::string Render(const std::vector<Record>& latest, double db_read_seconds) const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& records_;
  prometheus::Family<prometheus::Counter>& inventory_;
  prometheus::Family<prometheus::Counter>& bus_gaps_;
  prometheus::Counter& bad_messages_;
};

// The per-miner gauge families for `latest` (labels ip, worker, model; per
// board and per fan an extra index label). Exposed for tests.
std::vector<prometheus::MetricFamily> MinerFamilies(const std::vector<Record>& latest);

}  // namespace asicmon::control
