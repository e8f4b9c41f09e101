// Antminers on LuxOS (LUXminer): one row per model. LUXminer answers
// Bitmain's CGMiner API with stock firmware's fields spoofed "so that if an
// existing tool does not have explicit LUXminer support, you can still use
// it" (docs.luxor.tech/firmware/api/cgminer/version): summary, stats and
// pools are the S19 layouts of antminer_*.cpp (no LuxOS capture of them
// exists), version, power, fans, temps, logon and curtail are LuxOS's own
// (luxos_replies.cpp).
#include "luxos_models.h"

#include <iterator>

namespace asicmon::fakefarm {
namespace {

// Rows in ModelId order, after the Braiins rows (checked below).
constexpr ModelSpec kRows[] = {
    // An S19 (95 TH/s, 3 boards of 76 BM1398 chips), the Type of the
    // version example in luxos-tooling's README; LUXminer's version string
    // and fans as luxos-s19-fans.json (3780-3900 rpm at 49 %).
    {.id = ModelId::kLuxosS19,
     .key = "luxos-s19",
     .name = "Antminer S19",
     .hashrate_nominal = 95e12,
     .boards = 3,
     .chips_per_board = 76,
     .first_chain = 1,
     .nul_terminated = true,  // as cgminer's api.c, whose protocol LUXminer keeps
     .firmware = {.miner_key = "LUXminer",
                  .miner_version = "2024.10.11.173603-b90a165c",
                  .miner = "2024.10.11.173603",
                  .compile_time = "Fri Oct 11 17:36:03 UTC 2024",
                  .description = "LUXminer 2024.10.11.173603-b90a165c",
                  .msg_prefix = "LUXminer",
                  .stats_id = "BTM_SOC0",
                  .stats = StatsLayout::kS19,
                  .glued_stats = false,
                  .spaced = false,
                  .ghs_5s_string = false,
                  .chip_group = 3,
                  .ghs_unit = 1e9,
                  .frequency = 545,
                  .pcb_base = 56,  // luxos-hydro-temps.json's board sensors, 42-59
                  .chip_base = 71,
                  .fan_base = 3780,
                  .fans = 4,
                  .fan_first = 1,
                  .pool_diff_text = "65.5K",
                  .pool_diff = 65536,
                  .blink = BlinkApi::kNone,
                  .can_sleep = false,  // curtail, not the stock web CGI (luxos_replies.cpp)
                  .fan_idle = 0}},     // curtail sleep turns "off the hashboards and the PSU"
};

constexpr LuxosFacts kFacts[] = {
    // The S19's 3250 W nameplate; connectors as luxos-s19-fans.json; 13.4 V
    // at 545 MHz, the nameplate of the features page's example
    // (docs.luxor.tech/firmware/features).
    {ModelId::kLuxosS19, 3250, {"J12 | J14", "J13 | J12", "J15 | J15", "J14 | J13"}, 49, 13.4},
};

static_assert(RowsFitTheirLimits(kRows, kFacts, ModelId::kLuxosS19),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> LuxosModels() { return kRows; }

const LuxosFacts* LuxosFactsOf(ModelId id) {
  for (const LuxosFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
