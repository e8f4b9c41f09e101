// Antminers on ePIC's UMC firmware (PowerPlay-BMS v1.5.13 on umcOS): one
// row per model. ePIC serves no cgminer API: its HTTP JSON API answers on
// the API port 4028 (epic_replies.cpp), after the captures
// tests/data/epic-s19xp-{summary,capabilities,network,temps}.json.
#include "epic_models.h"

#include <fmt/format.h>

#include <iterator>

namespace asicmon::fakefarm {
namespace {

// Rows in ModelId order, after the LuxOS rows (checked below).
constexpr ModelSpec kRows[] = {
    // The capture's S19 XP: "Model" "AntMiner S19 XP", 3 boards ("Max HBs")
    // of 110 BM1366 chips, 143 TH/s ("Default Hashrate"), 485 MHz; board
    // temperatures 52-67 °C and fans 5745-5971 rpm as the capture's.
    {.id = ModelId::kEpicS19XP,
     .key = "epic-s19xp",
     .name = "Antminer S19 XP",  // as the epic family names it ("AntMiner" in /capabilities)
     .hashrate_nominal = 143e12,
     .boards = 3,
     .chips_per_board = 110,
     .first_chain = 0,  // HBStatus "Index" 0..2
     .nul_terminated = false,
     .firmware = {.miner_key = "",
                  .miner_version = "",
                  .miner = "",
                  .compile_time = "",
                  .description = "PowerPlay-BMS v1.5.13",  // "Software"
                  .msg_prefix = "",
                  .stats_id = "",
                  .stats = StatsLayout::kEpic,
                  .glued_stats = false,
                  .spaced = false,  // compact JSON, as the captures
                  .ghs_5s_string = false,
                  .chip_group = 10,  // "Chips Per Bank"
                  .ghs_unit = 1e6,   // "Hashrate" and "Average MHs" are MH/s
                  .frequency = 485,
                  .pcb_base = 53,   // temps "Data"[0]: 52.062-55.062
                  .chip_base = 65,  // HB "Temperature" (temps "Data"[1]): 64.312-67.0
                  .fan_base = 5745,
                  .fans = 4,  // "Fans Speed 1..4" turn, 5..12 null
                  .fan_first = 1,
                  .pool_diff_text = "262144",
                  .pool_diff = 262144,  // Session "Difficulty"
                  .blink = BlinkApi::kNone,
                  .can_sleep = false,
                  .fan_idle = 0}},
};

constexpr EpicFacts kFacts[] = {
    // Capabilities as captured; 3350 W is its tune preset at 142 TH/s.
    {ModelId::kEpicS19XP, "AntMiner S19 XP", "BHB56801", "BM1366", 485, 12900, 143, 3350, 3000,
     894.0},
};

static_assert(RowsFitTheirLimits(kRows, kFacts, ModelId::kEpicS19XP),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> EpicModels() { return kRows; }

const EpicFacts* EpicFactsOf(ModelId id) {
  for (const EpicFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

std::string EpicWorker(std::string_view user, uint32_t ip) {
  return fmt::format("{}-{}x{}x{}", user, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF);
}

}  // namespace asicmon::fakefarm
