// Antminers on Vnish 1.x (AnthillOS): one row per model. Vnish answers
// cgminer's API on 4028 in its own layout (vnish_replies.cpp, from the S21
// Pro captures) and its HTTP API on the web port (vnish_web.cpp).
#include "vnish_models.h"

namespace asicmon::fakefarm {
namespace {

// Rows in ModelId order, after the Bitaxe rows (checked below).
constexpr ModelSpec kRows[] = {
    // The S21 Pro of vnish-s21pro-*.json (block/proto-fleet's recording):
    // Type "Antminer S21 Pro (Vnish 1.2.7)", 3 chains of 65 chips at 495
    // MHz, 4 fans near 5850 rpm, boards near 50 °C and chips near 65 °C.
    // Stock clocks give Bitmain's 234 TH/s (the S21 Pro's spec sheet).
    {.id = ModelId::kVnishS21Pro,
     .key = "vnish-s21pro",
     .name = "Antminer S21 Pro",  // STATS' Type appends " (Vnish <version>)"
     .hashrate_nominal = 234e12,
     .boards = 3,
     .chips_per_board = 65,
     .first_chain = 1,
     // The capture files cannot show it; cgminer 4.11.1's api.c, whose
     // Description Vnish gives, ends every reply with one.
     .nul_terminated = true,
     .firmware = {.miner_key = "Cgminer",
                  .miner_version = "1.2.7",
                  .miner = "0.0.0",
                  .compile_time = "2025-12-22 19:12:30",
                  .description = "cgminer 4.11.1",
                  .msg_prefix = "CGMiner stats",
                  .stats_id = "",
                  .stats = StatsLayout::kVnish,
                  .glued_stats = false,
                  .spaced = false,
                  .ghs_5s_string = true,  // STATS' "GHS 5s" is a string, SUMMARY's a number
                  .chip_group = 0,
                  .ghs_unit = 1e9,
                  .frequency = 495,
                  .pcb_base = 50,
                  .chip_base = 65,
                  .fan_base = 5850,
                  .fans = 4,
                  .fan_first = 1,
                  .pool_diff_text = "262K",
                  .pool_diff = 262144,
                  .blink = BlinkApi::kNone,  // find-miner on its HTTP API, no stock CGI
                  .can_sleep = false,        // mining/stop on its HTTP API, not miner-mode
                  // No capture of a stopped Vnish: its fans are taken to idle as
                  // the sleeping S19's (antminer_stats.cpp).
                  .fan_idle = 1260}},
};

// vnish-s21pro-web-autotune-presets.json's presets after "disabled".
constexpr VnishPreset kS21ProPresets[] = {
    {2550, 170}, {2640, 176}, {2710, 182}, {2800, 188}, {2890, 194}, {2980, 200}, {3070, 206},
    {3160, 212}, {3250, 218}, {3340, 224}, {3430, 230}, {3520, 236}, {3610, 242}, {3700, 248},
    {3790, 254}, {3880, 260}, {3970, 266}, {4060, 271}, {4150, 277}, {4240, 283}, {4330, 289},
    {4420, 295}, {4510, 301}, {4600, 307}, {4690, 313}};

constexpr VnishFacts kFacts[] = {
    // 3510 W at 234 TH/s: the spec sheet's 15 J/TH. Fee, chain name and
    // driver, version and chain voltage as the captures.
    {ModelId::kVnishS21Pro, 3510, 2.812304, "BTM_S21PRO", "bitmain_s21pro_drv", "1.2.7", 13000,
     kS21ProPresets},
};

static_assert(RowsFitTheirLimits(kRows, kFacts, ModelId::kVnishS21Pro),
              "rows in ModelId order, each with its facts, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> VnishModels() { return kRows; }

const VnishFacts* VnishFactsOf(ModelId id) {
  for (const VnishFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
