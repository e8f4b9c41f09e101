// The farm as a whole, for the dashboard: totals over every miner's newest
// state, and a ring of those totals sampled over time for the farm chart.
//
// Why a ring in memory rather than a store query: summing 10,000 miners'
// gauges takes well under a millisecond, while a bucketed query over the
// records table reads every row of the range (2.9 million rows for a
// day of a 10,000-miner farm at 30 s polls). The cost is that the chart
// starts empty when control starts and covers at most kFarmHistoryLength;
// per-miner history still comes from the store.
//
// Thread-safety: FarmHistory's methods may be called from any thread.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asicmon/record.h"

namespace asicmon::control {

// How often control samples the farm's totals, and how many samples it keeps
// (a day: 2,880 samples of a few hundred bytes).
inline constexpr std::chrono::seconds kFarmSampleEvery{30};
inline constexpr size_t kFarmHistoryLength = 2880;

// One algorithm's share of the farm. Hashrates of different algorithms do
// not add up: an L3+'s 504 MH/s of scrypt is no part of an S19's SHA-256.
struct AlgorithmTotals {
  size_t miners = 0;
  double hashrate = 0;           // H/s, as FarmTotals::hashrate
  double hashrate_expected = 0;  // H/s, as FarmTotals::hashrate_expected
};

struct FarmTotals {
  double ts = 0;      // unix seconds when summed
  size_t miners = 0;  // with a stored state
  std::array<size_t, kMinerStatusCount> by_status{};  // by their last poll's status
  size_t sleeping = 0;  // asleep on purpose (Record::sleeping); counted up as well
  double hashrate = 0;  // H/s, sum of the last hashrate each miner reported (down: 0)
  // H/s, sum of every miner's nominal rate, down ones included (the last
  // one control saw it report), so a dead miner shows as a gap against it.
  // A miner already down when control started adds nothing until it is back.
  double hashrate_expected = 0;
  std::optional<double> power_w;  // sum over miners that report power; nullopt when none does
  // By Record::algorithm ("unknown" for a miner that never said). hashrate
  // and hashrate_expected above add them all up, which means something only
  // on a farm of one algorithm; a mixed farm reads these.
  std::map<std::string, AlgorithmTotals> algorithms;
};

// {"ts":…,"miners":…,"up":…,"down":…,"sleeping":…,"status":{"ok":…,…},
//  "hashrate":…,"hashrate_expected":…,"power_w":…|null,
//  "algorithms":{"sha256d":{"miners":…,"hashrate":…,"hashrate_expected":…},…}}
std::string FarmTotalsJson(const FarmTotals& totals);

class FarmHistory {
 public:
  // Appends, dropping the oldest beyond kFarmHistoryLength.
  void Add(const FarmTotals& totals);
  // Samples with ts >= since, oldest first.
  std::vector<FarmTotals> Since(double since) const;

 private:
  mutable std::mutex mutex_;
  std::deque<FarmTotals> samples_;
};

}  // namespace asicmon::control
