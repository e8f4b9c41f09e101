// Bitaxe boards on AxeOS (ESP-Miner): one row per model. AxeOS has no
// cgminer API: GET /api/system/info on its web server is all a monitor
// reads (bitaxe_replies.cpp), after tests/data/bitaxe-supra-api_system_info.json.
#include "bitaxe_models.h"

#include <iterator>

namespace asicmon::fakefarm {
namespace {

// Rows in ModelId order, after the ePIC rows (checked below).
constexpr ModelSpec kRows[] = {
    // The capture's Supra (board 401, one BM1368 of 1276 small cores at 490
    // MHz): its nominal rate is what ESP-Miner expects of that clock,
    // frequency x small cores x ASICs = 625.24 GH/s. The capture was taken
    // 4 s after boot (1000 GH/s, 2.65 W, 27 °C): the running temperature
    // and power are chosen, no capture of a warm Supra was found.
    {.id = ModelId::kBitaxeSupra,
     .key = "bitaxe-supra",
     .name = "Bitaxe Supra",  // what the reader names a BM1368 board
     .hashrate_nominal = 625.24e9,
     .boards = 1,
     .chips_per_board = 1,
     .first_chain = 0,
     .nul_terminated = false,
     .firmware = {.miner_key = "",
                  .miner_version = "v2.4.5-3-gb5d1e36-dirty",  // "version"
                  .miner = "",
                  .compile_time = "",
                  .description = "v5.4",  // "idfVersion"
                  .msg_prefix = "",
                  .stats_id = "",
                  .stats = StatsLayout::kBitaxe,
                  .glued_stats = false,
                  .spaced = true,  // cJSON_Print's ": " (tabs and newlines aside)
                  .ghs_5s_string = false,
                  .chip_group = 1,
                  .ghs_unit = 1e9,  // "hashRate" is GH/s
                  .frequency = 490,
                  .pcb_base = 0,  // "vrTemp" 0: board 401 has no regulator reading
                  .chip_base = 58,
                  .fan_base = 3517,  // "fanrpm"
                  .fans = 1,
                  .fan_first = 0,
                  .pool_diff_text = "",
                  .pool_diff = 0,
                  .blink = BlinkApi::kNone,
                  .can_sleep = false,
                  .fan_idle = 0}},
};

constexpr BitaxeFacts kFacts[] = {
    {ModelId::kBitaxeSupra, "BM1368", "401", 1276, 1166, 12.5, 5175},
};

static_assert(RowsFitTheirLimits(kRows, kFacts, ModelId::kBitaxeSupra),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> BitaxeModels() { return kRows; }

const BitaxeFacts* BitaxeFactsOf(ModelId id) {
  for (const BitaxeFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
