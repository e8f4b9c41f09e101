// Antminers on Braiins OS+: one row per model. Reply layouts are the
// bosminer captures' (tests/data/braiinsos-plus-*, Braiins OS+ API doc in
// tgr-braiins/braiins-os-docs, Development/1_api.rst); the firmware names
// itself as BOSer, bosminer's 22.x+ rewrite that a 2026 farm runs, which
// kept the CGMiner-compatible API (VERSION and Description as the
// BOSMiner-py README shows them; tests/data/PROVENANCE.md).
#include "braiins_models.h"

#include <iterator>

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kBoser = "BOSer boser-buildroot 0.1.0-0ce150e9";

// Rows in ModelId order, after the AvalonMiners (checked below).
constexpr ModelSpec kRows[] = {
    // No capture of a BOS+ S19-class machine exists: an S19 XP at its
    // nameplate (141 TH/s, 3 boards of 110 BM1366 chips). Chains numbered
    // from 1 as bosminer logs them on the X17/X19 control board (CHAIN/1,
    // CHAIN/2 in the pause doc's log); 4 fans reported as FANS 0..3.
    {.id = ModelId::kBraiinsS19XP,
     .key = "bos-s19xp",
     .name = "Antminer S19 XP",
     .hashrate_nominal = 141e12,
     .boards = 3,
     .chips_per_board = 110,
     .first_chain = 1,
     .nul_terminated = true,  // bosminer's Codec ends a reply with a NUL (lib.rs)
     .firmware = {.miner_key = "BOSer",
                  .miner_version = "boser-buildroot 0.1.0-0ce150e9",
                  .miner = "",
                  .compile_time = "",
                  .description = kBoser,
                  .msg_prefix = "BOSer",
                  .stats_id = "",
                  .stats = StatsLayout::kBraiins,
                  .glued_stats = false,
                  .spaced = false,
                  .ghs_5s_string = false,
                  .chip_group = 0,
                  .ghs_unit = 1e6,  // bosminer's rates are MH/s ("MHS 5s")
                  .frequency = 525,
                  .pcb_base = 60,
                  .chip_base = 75,
                  .fan_base = 3780,  // braiinsos-plus-s9-fans.json: 2820-3780 at 40 %
                  .fans = 4,
                  .fan_first = 0,
                  .pool_diff_text = "",
                  .pool_diff = 65536,  // braiinsos-plus-s9-pools.json
                  .blink = BlinkApi::kNone,
                  .can_sleep = false,  // its web interface is not stock's; see pause
                  .fan_idle = 0}},     // paused: "Fans off: nothing is running" (pause doc log)
};

constexpr BraiinsFacts kFacts[] = {
    // devdetails as braiinsos-plus-s9-devdetails.json ("Bitmain " prefix,
    // Cores = chips x cores); tuner estimate below its limit as in
    // braiinsos-plus-s9-tunerstatus.json (1419 W of 1420). The S19 XP's
    // 3010 W nameplate; BM1366 volts per chain not published: a guess.
    {ModelId::kBraiinsS19XP, "BOSer", "boser-buildroot 0.1.0-0ce150e9", "Bitmain Antminer S19 XP",
     894, 13.2, 3010, 3100},
};

static_assert(RowsFitTheirLimits(kRows, kFacts, ModelId::kBraiinsS19XP),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> BraiinsModels() { return kRows; }

const BraiinsFacts* BraiinsFactsOf(ModelId id) {
  for (const BraiinsFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
