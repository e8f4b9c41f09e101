// Bitmain Antminers on stock firmware (cgminer/bmminer API): one row per
// model, from the captures in tests/data.
#include <iterator>

#include "models.h"

namespace asicmon::fakefarm {
namespace {

// Rows in ModelId order (GetModel indexes by it; checked below).
constexpr ModelSpec kAntminers[] = {
    // antminer-s9-bmminer-version.json, antminer-s9-stats.json
    {.id = ModelId::kS9,
     .key = "s9",
     .name = "Antminer S9",
     .hashrate_nominal = 13.5e12,
     .boards = 3,
     .chips_per_board = 63,
     .first_chain = 6,
     .nul_terminated = true,
     .firmware = {.miner_key = "BMMiner",
                  .miner_version = "2.0.0",
                  .miner = "16.8.1.3",
                  .compile_time = "Fri Nov 17 17:37:49 CST 2017",
                  .description = "bmminer 1.0.0",
                  .msg_prefix = "BMMiner",
                  .stats_id = "BC50",
                  .stats = StatsLayout::kS9,
                  .glued_stats = true,
                  .spaced = false,
                  .ghs_5s_string = true,
                  .chip_group = 8,
                  .ghs_unit = 1e9,
                  .frequency = 650,
                  .pcb_base = 62,
                  .chip_base = 75,
                  .fan_base = 3960,
                  .fans = 2,
                  .fan_first = 5,
                  .pool_diff_text = "32.8K",
                  .pool_diff = 32768,
                  .blink = BlinkApi::kForm,
                  .can_sleep = false,
                  .fan_idle = 0}},
    // antminer-s17pro-version.json, antminer-s17pro-stats.json; asleep as
    // antminer-s17plus-stats-sleeping.json (fans and sensors 0).
    {.id = ModelId::kS17Pro,
     .key = "s17pro",
     .name = "Antminer S17 Pro",
     .hashrate_nominal = 53e12,
     .boards = 3,
     .chips_per_board = 48,
     .first_chain = 1,
     .nul_terminated = false,
     .firmware = {.miner_key = "BMMiner",
                  .miner_version = "1.0.0",
                  .miner = "19.10.1.3",
                  .compile_time = "Tue Aug 20 10:37:07 CST 2019",
                  .description = "cgminer 1.0.0",
                  .msg_prefix = "CGMiner",
                  .stats_id = "BTM_SOC0",
                  .stats = StatsLayout::kS17,
                  .glued_stats = false,
                  .spaced = false,
                  .ghs_5s_string = true,
                  .chip_group = 8,
                  .ghs_unit = 1e9,
                  .frequency = 565,
                  .pcb_base = 50,
                  .chip_base = 76,
                  .fan_base = 2760,
                  .fans = 4,
                  .fan_first = 1,
                  .pool_diff_text = "39.5K",
                  .pool_diff = 39491,
                  .blink = BlinkApi::kForm,
                  .can_sleep = true,
                  .fan_idle = 0}},
    // antminer-s19pro-version-b.json, antminer-s19pro-stats-overheating.json;
    // asleep as antminer-s19-stats-sleeping.json (fans idle near 1560 rpm).
    {.id = ModelId::kS19Pro,
     .key = "s19pro",
     .name = "Antminer S19 Pro",
     .hashrate_nominal = 110e12,
     .boards = 3,
     .chips_per_board = 114,
     .first_chain = 1,
     .nul_terminated = false,
     .firmware = {.miner_key = "BMMiner",
                  .miner_version = "1.0.0",
                  .miner = "49.0.1.3",
                  .compile_time = "Mon Oct 26 17:55:33 CST 2020",
                  .description = "cgminer 1.0.0",
                  .msg_prefix = "CGMiner",
                  .stats_id = "BTM_SOC0",
                  .stats = StatsLayout::kS19,
                  .glued_stats = false,
                  .spaced = true,
                  .ghs_5s_string = false,
                  .chip_group = 3,
                  .ghs_unit = 1e9,
                  .frequency = 525,
                  .pcb_base = 62,
                  .chip_base = 70,
                  .fan_base = 5640,
                  .fans = 4,
                  .fan_first = 1,
                  .pool_diff_text = "32.8K",
                  .pool_diff = 32768,
                  .blink = BlinkApi::kJson,
                  .can_sleep = true,
                  .fan_idle = 1560}},
    // No capture: the S19 Pro's build with its own Type and date.
    {.id = ModelId::kS19jPro,
     .key = "s19jpro",
     .name = "Antminer S19j Pro",
     .hashrate_nominal = 104e12,
     .boards = 3,
     .chips_per_board = 126,
     .first_chain = 1,
     .nul_terminated = false,
     .firmware = {.miner_key = "BMMiner",
                  .miner_version = "1.0.0",
                  .miner = "49.0.1.3",
                  .compile_time = "Mon Mar 15 10:26:02 CST 2021",
                  .description = "cgminer 1.0.0",
                  .msg_prefix = "CGMiner",
                  .stats_id = "BTM_SOC0",
                  .stats = StatsLayout::kS19,
                  .glued_stats = false,
                  .spaced = true,
                  .ghs_5s_string = false,
                  .chip_group = 3,
                  .ghs_unit = 1e9,
                  .frequency = 500,
                  .pcb_base = 60,
                  .chip_base = 68,
                  .fan_base = 5280,
                  .fans = 4,
                  .fan_first = 1,
                  .pool_diff_text = "32.8K",
                  .pool_diff = 32768,
                  .blink = BlinkApi::kJson,
                  .can_sleep = true,
                  .fan_idle = 1560}},
    // antminer-l3plus-version.json, antminer-l3plus-stats.json: scrypt, so
    // the "GHS" labels carry MH/s.
    {.id = ModelId::kL3Plus,
     .key = "l3plus",
     .name = "Antminer L3+",
     .hashrate_nominal = 504e6,
     .boards = 4,
     .chips_per_board = 72,
     .first_chain = 1,
     .nul_terminated = true,
     .firmware = {.miner_key = "CGMiner",
                  .miner_version = "4.9.0",
                  .miner = "1.0.1.3",
                  .compile_time = "Fri Aug 25 17:28:57 CST 2017",
                  .description = "cgminer 4.9.0",
                  .msg_prefix = "CGMiner",
                  .stats_id = "L30",
                  .stats = StatsLayout::kL3,
                  .glued_stats = true,
                  .spaced = false,
                  .ghs_5s_string = true,
                  .chip_group = 8,
                  .ghs_unit = 1e6,
                  .frequency = 384,
                  .pcb_base = 46,
                  .chip_base = 55,
                  .fan_base = 3840,
                  .fans = 2,
                  .fan_first = 1,
                  .pool_diff_text = "65.5K",
                  .pool_diff = 65536,
                  .blink = BlinkApi::kNone,
                  .can_sleep = false,
                  .fan_idle = 0}},
};

constexpr bool RowsFitTheirLimits() {
  for (size_t i = 0; i < std::size(kAntminers); ++i) {
    const ModelSpec& m = kAntminers[i];
    if (static_cast<size_t>(m.id) != i || m.boards > kMaxBoards || m.firmware.fans > kMaxFans) {
      return false;
    }
  }
  return true;
}
static_assert(RowsFitTheirLimits(), "rows in ModelId order, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> AllModels() { return kAntminers; }

const ModelSpec& GetModel(ModelId id) { return kAntminers[static_cast<size_t>(id)]; }

const ModelSpec* FindModel(std::string_view key) {
  for (const auto& m : kAntminers) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

}  // namespace asicmon::fakefarm
