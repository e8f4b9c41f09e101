// What Vnish shows of an Antminer beyond the facts every model row carries
// (models.h), from the captures of an S21 Pro on Vnish 1.2.7 in tests/data
// (vnish_models.cpp).
#pragma once

#include <span>
#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

// One autotune preset: its name is its watts (vnish-s21pro-web-autotune-
// presets.json), "pretty" "<watts> watt ~ <th> TH".
struct VnishPreset {
  int watts;
  int th;
};

struct VnishFacts {
  ModelId id;
  double stock_watts;                    // the draw at stock clocks (preset "disabled")
  double fee_percent;                    // SUMMARY "Fee Percent": Vnish's dev fee
  std::string_view chain_name;           // DEVDETAILS "Name"
  std::string_view chain_driver;         // DEVDETAILS "Driver"
  std::string_view version;              // STATS "Cgminer": Vnish's own version
  int chain_volt;                        // STATS chain_volN, mV x 10
  std::span<const VnishPreset> presets;  // in the firmware's order, fewest watts first
};

// The Vnish facts of `id`; nullptr for a model of another family.
const VnishFacts* VnishFactsOf(ModelId id);

}  // namespace asicmon::fakefarm
