#include "farm.h"

#include <nlohmann/json.hpp>

namespace asicmon::control {
namespace {

nlohmann::json FarmTotalsToJson(const FarmTotals& t) {
  const size_t up = t.by_status[static_cast<size_t>(MinerStatus::kOk)];
  nlohmann::json status = nlohmann::json::object();
  for (size_t s = 0; s < t.by_status.size(); ++s) {
    status[std::string(ToString(static_cast<MinerStatus>(s)))] = t.by_status[s];
  }
  nlohmann::json algorithms = nlohmann::json::object();
  for (const auto& [name, a] : t.algorithms) {
    algorithms[name] = {{"miners", a.miners},
                        {"hashrate", a.hashrate},
                        {"hashrate_expected", a.hashrate_expected}};
  }
  return {{"ts", t.ts},
          {"miners", t.miners},
          {"up", up},
          {"down", t.miners - up},
          {"sleeping", t.sleeping},
          {"status", std::move(status)},
          {"hashrate", t.hashrate},
          {"hashrate_expected", t.hashrate_expected},
          {"power_w", t.power_w ? nlohmann::json(*t.power_w) : nlohmann::json(nullptr)},
          {"algorithms", std::move(algorithms)}};
}

}  // namespace

std::string FarmTotalsJson(const FarmTotals& totals) {
  // Algorithm names come off the bus: bytes that are not UTF-8 are replaced.
  return FarmTotalsToJson(totals).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
