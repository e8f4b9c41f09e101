// What AxeOS (ESP-Miner) shows of a Bitaxe beyond the facts every model row
// carries (models.h), from tests/data/bitaxe-supra-api_system_info.json
// (bitaxe_models.cpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

// AxeOS's HTTP server: the API lives on the web port, 80 unless the farm
// gives its miners another (--http-port).
inline constexpr uint16_t kAxeOsPort = 80;

struct BitaxeFacts {
  ModelId id;
  std::string_view asic;           // "ASICModel"
  std::string_view board_version;  // "boardVersion"
  int small_cores;                 // "smallCoreCount" of one ASIC
  int core_voltage;                // mV, "coreVoltage"
  double watts;                    // "power" at nominal rate
  int input_mv;                    // "voltage": the 5 V input
};

// The Bitaxe facts of `id`; nullptr for a model of another family.
const BitaxeFacts* BitaxeFactsOf(ModelId id);

}  // namespace asicmon::fakefarm
