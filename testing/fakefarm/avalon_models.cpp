// Canaan AvalonMiners on stock firmware (cgminer 4.11.1 with Canaan's
// driver): one row per model, from the captures in tests/data.
#include "avalon_models.h"

#include <iterator>

namespace asicmon::fakefarm {
namespace {

// Every AvalonMiner answers as Canaan's cgminer 4.11.1 does: "CGMiner"
// replies ending in a NUL (api.c), GH/s in the module strings.
constexpr Firmware AvalonFirmware(std::string_view stats_id, int frequency, int pcb_base,
                                  int chip_base, int fan_base, double pool_diff) {
  return {.miner_key = "CGMiner",
          .miner_version = "4.11.1",
          .miner = "",
          .compile_time = "",
          .description = "cgminer 4.11.1",
          .msg_prefix = "CGMiner",
          .stats_id = stats_id,
          .stats = StatsLayout::kAvalon,
          .glued_stats = false,
          .spaced = false,
          .ghs_5s_string = false,
          .chip_group = 0,
          .ghs_unit = 1e9,
          .frequency = frequency,
          .pcb_base = pcb_base,
          .chip_base = chip_base,
          .fan_base = fan_base,
          .fans = 4,
          .fan_first = 1,
          .pool_diff_text = "",
          .pool_diff = pool_diff,
          .blink = BlinkApi::kNone,  // the LED is an ascset command, not a web CGI
          .can_sleep = false,        // soft-off (ascset softoff) is not simulated
          .fan_idle = 0};
}

// Rows in ModelId order, after the Antminers (checked below).
constexpr ModelSpec kAvalons[] = {
    // avalon-1246-stats.json: GHSmm[83923.04], MTavg 64-66, MTmax 76-77,
    // Fan1..4 5309-5392, Freq[502.41], TA[360] over 3 boards; pool
    // difficulty as avalon-1566-pools.json.
    {.id = ModelId::kAvalon1246,
     .key = "avalon1246",
     .name = "AvalonMiner 1246-83",
     .hashrate_nominal = 83.92e12,
     .boards = 3,
     .chips_per_board = 120,
     .first_chain = 0,
     .nul_terminated = true,
     .firmware = AvalonFirmware("AVA100", 502, 65, 77, 5340, 262144)},
    // avalon-q-*.json is a Q in soft-off: GHSmm[55032.79] at WORKMODE[0],
    // Freq[282.86], TA[160] on one board, TarT[65]. No capture of a hashing
    // Q exists: its chips are put at the TarT target, its board and fans
    // are guesses.
    {.id = ModelId::kAvalonQ,
     .key = "avalonq",
     .name = "Avalon Q",
     .hashrate_nominal = 55.03e12,
     .boards = 1,
     .chips_per_board = 160,
     .first_chain = 0,
     .nul_terminated = true,
     .firmware = AvalonFirmware("AVALON0", 283, 55, 65, 1800, 524288)},
};

constexpr AvalonFacts kFacts[] = {
    // avalon-1246-stats.json; HWTYPE and SWTYPE as the 1246-83 VERSION replies
    // in AntonWebwo/Miner-Turbo-Scanner's README; the layout avalon-1566-version.json's.
    {ModelId::kAvalon1246, "1246-83", "MM3v2_X3", "MM314", "21072802_4ec6bb0_211fc46", "A3201", "",
     "", false, 3504, 72, 30},
    // avalon-q-version.json, avalon-q-stats.json; power from Canaan's rating
    // of the Q (90 TH/s at 1674 W) scaled to the eco rate: no capture of one at work.
    {ModelId::kAvalonQ, "Q", "Q_MM1v1_X1", "MM319", "25052801_14a19a2", "A3197S", "Q_fb_v1.2",
     "Q_hb_v1.1", true, 1024, 45, 26},
};

static_assert(RowsFitTheirLimits(kAvalons, kFacts, ModelId::kAvalon1246),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> AvalonModels() { return kAvalons; }

const AvalonFacts* AvalonFactsOf(ModelId id) {
  for (const AvalonFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
