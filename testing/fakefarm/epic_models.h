// What ePIC's UMC firmware (PowerPlay-BMS on umcOS) shows of an Antminer
// beyond the facts every model row carries (models.h), from the captures
// tests/data/epic-s19xp-*.json (epic_models.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

struct EpicFacts {
  ModelId id;
  std::string_view model;    // capabilities "Model", ePIC's spelling ("AntMiner S19 XP")
  std::string_view subtype;  // capabilities "Model Subtype"
  std::string_view chip;     // capabilities "Chip Type"
  int default_clock;         // MHz, capabilities "Default Clock" and HwConfig's target
  int default_voltage;       // mV
  int default_hashrate_th;   // TH/s, capabilities "Default Hashrate" and the tuner's target
  double watts;              // "Power Supply Stats" "Input Power" at nominal rate
  int target_power;          // W, PresetInfo "Target Power"
  double hashes_per_chip;    // capabilities "Performance Estimator"
};

// The ePIC facts of `id`; nullptr for a model of another family.
const EpicFacts* EpicFactsOf(ModelId id);

// The worker ePIC mines as: with "Worker Unique Id Variant": "IpAddress" it
// appends the address's last three octets joined by 'x' to the configured
// user (epic-s19xp-summary.json: user "randomuser.randomworker" on
// 10.0.81.19 mines as "randomuser.randomworker-0x81x19"). `ip` in host order.
std::string EpicWorker(std::string_view user, uint32_t ip);

}  // namespace asicmon::fakefarm
