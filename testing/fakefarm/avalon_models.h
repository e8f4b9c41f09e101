// What Canaan's firmware shows of an AvalonMiner beyond the facts every
// model row carries (models.h): its VERSION fields, module string form and
// power, from the captures in tests/data (avalon_models.cpp).
#pragma once

#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

struct AvalonFacts {
  ModelId id;
  std::string_view model;     // VERSION "MODEL", the module's model in Ver[]: "1246-83", "Q"
  std::string_view hwtype;    // VERSION "HWTYPE"
  std::string_view swtype;    // VERSION "SWTYPE"
  std::string_view firmware;  // the version after the model in Ver[]: "21072802_4ec6bb0_211fc46"
  std::string_view core;      // Core[]: the ASIC
  std::string_view fan_mcu;   // 2025 VERSION "FANMCUVERSION" ("" before)
  std::string_view hash_mcu;  // 2025 VERSION "HBMCUVERSION"
  // 2025 firmware (Avalon Q): STATS key "MM ID0:Summary", pairs wrapped in
  // "'STATS':{...}", ITemp/HBITemp/HBOTemp instead of Temp/MTavg, "MHS 5s"
  // in summary, VERSION with LVERSION/BVERSION/CGVERSION and a MAC with colons.
  bool form_2025;
  double watts;     // the wall power at the nominal rate (PS[6])
  int fan_percent;  // FanR[] at work
  int intake_c;     // Temp[] / ITemp[]: the air coming in
};

// The Canaan facts of `id`; nullptr for a model of another family.
const AvalonFacts* AvalonFactsOf(ModelId id);

}  // namespace asicmon::fakefarm
