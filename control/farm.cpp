#include "farm.h"

#include <fmt/format.h>

#include <iterator>

namespace asicmon::control {

std::string FarmTotalsJson(const FarmTotals& t) {
  std::string out;
  const size_t up = t.by_status[static_cast<size_t>(MinerStatus::kOk)];
  fmt::format_to(std::back_inserter(out),
                 R"({{"ts":{},"miners":{},"up":{},"down":{},"sleeping":{},"status":{{)", t.ts,
                 t.miners, up, t.miners - up, t.sleeping);
  for (size_t s = 0; s < t.by_status.size(); ++s) {
    fmt::format_to(std::back_inserter(out), R"({}"{}":{})", s == 0 ? "" : ",",
                   ToString(static_cast<MinerStatus>(s)), t.by_status[s]);
  }
  fmt::format_to(std::back_inserter(out), R"(}},"hashrate":{},"hashrate_expected":{},"power_w":)",
                 t.hashrate, t.hashrate_expected);
  out += t.power_w ? fmt::format("{}", *t.power_w) : "null";
  out += '}';
  return out;
}

void FarmHistory::Add(const FarmTotals& totals) {
  std::lock_guard lock(mutex_);
  samples_.push_back(totals);
  if (samples_.size() > kFarmHistoryLength) samples_.pop_front();
}

std::vector<FarmTotals> FarmHistory::Since(double since) const {
  std::lock_guard lock(mutex_);
  std::vector<FarmTotals> out;
  for (const FarmTotals& t : samples_) {
    if (t.ts >= since) out.push_back(t);
  }
  return out;
}

}  // namespace asicmon::control
