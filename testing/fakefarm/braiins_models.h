// What Braiins OS+ shows of an Antminer beyond the facts every model row
// carries (models.h), from the captures and Braiins' API doc
// (braiins_models.cpp).
#pragma once

#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

struct BraiinsFacts {
  ModelId id;
  std::string_view version_key;  // VERSION's firmware key: "BOSer", "BOSminer+"
  std::string_view version;      // its value
  std::string_view hardware;     // devdetails "Model": "Bitmain Antminer S19 XP"
  int cores_per_chip;            // devdetails "Cores" is chips x this
  double chain_volts;            // devdetails "Voltage"
  double watts;                  // tunerstatus ApproximateMinerPowerConsumption at work
  int power_limit;               // tunerstatus PowerLimit (W)
};

// The Braiins facts of `id`; nullptr for a model of another family.
const BraiinsFacts* BraiinsFactsOf(ModelId id);

}  // namespace asicmon::fakefarm
