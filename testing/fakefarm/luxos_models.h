// What LuxOS shows of an Antminer beyond the facts every model row carries
// (models.h), from the captures and Luxor's API doc (luxos_models.cpp).
#pragma once

#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

struct LuxosFacts {
  ModelId id;
  double watts;  // "power" POWER[0].Watts at work
  // FANS "FAN": the connector pair of each fan, kMaxFans of them.
  std::string_view fan_connectors[kMaxFans];
  int fan_percent;  // FANS "Speed" at work
  double volts;     // the "default" profile's voltage
};

// The LuxOS facts of `id`; nullptr for a model of another family.
const LuxosFacts* LuxosFactsOf(ModelId id);

}  // namespace asicmon::fakefarm
