// MicroBT Whatsminers (btminer, a cgminer 4.9.2 fork): one row per model,
// from the captures in tests/data.
#include "whatsminer_models.h"

#include <iterator>

namespace asicmon::fakefarm {
namespace {

// btminer's cgminer half: MH/s in every "MHS" label, no Bitmain VERSION
// keys, no stats, two fans (in and out), no web CGI the farm simulates.
constexpr Firmware BtminerFirmware(std::string_view description, int frequency, int pcb_base,
                                   int chip_base, int fan_base) {
  return {.miner_key = "",
          .miner_version = "",
          .miner = "",
          .compile_time = "",
          .description = description,
          .msg_prefix = "",
          .stats_id = "",
          .stats = StatsLayout::kWhatsminer,
          .glued_stats = false,
          .spaced = false,
          .ghs_5s_string = false,
          .chip_group = 0,
          .ghs_unit = 1e6,
          .frequency = frequency,
          .pcb_base = pcb_base,
          .chip_base = chip_base,
          .fan_base = fan_base,
          .fans = 2,
          .fan_first = 1,
          .pool_diff_text = "",
          .pool_diff = 262144,  // "Last Share Difficulty" of whatsminer-m31s-*.json
          .blink = BlinkApi::kNone,
          .can_sleep = false,  // btminer's power_off needs the admin token: not simulated
          .fan_idle = 0};
}

// Rows in ModelId order, after the AvalonMiners (checked below).
constexpr ModelSpec kWhatsminers[] = {
    // whatsminer-m31s-*.json (foreman's M31S): "Factory GHS" 75697 over 3
    // boards of 105 "Effective Chips", Chip Frequency 686-726, board
    // Temperature 57-72 °C, Chip Temp Max 77-93, Fan Speed In 5700.
    // cgminer's api.c ends every reply with a NUL.
    {.id = ModelId::kWhatsminerM31S,
     .key = "m31s",
     .name = "Whatsminer M31S",
     .hashrate_nominal = 75.697e12,
     .boards = 3,
     .chips_per_board = 105,
     .first_chain = 0,
     .nul_terminated = true,
     .firmware = BtminerFirmware("btminer", 710, 65, 85, 5700)},
    // whatsminer-m60s-v3-*.json (asic-rs's M60S_VK40, fw 20251209):
    // factory-hash 181.051 TH/s, hash-average 170.8, 3 boards of 75
    // effective-chips at freq 625, board-temperature 40-41.5, chip-temp-max
    // 80-82, fan-speed-in 5400.
    {.id = ModelId::kWhatsminerM60S,
     .key = "m60s",
     .name = "Whatsminer M60S",
     .hashrate_nominal = 170.8e12,
     .boards = 3,
     .chips_per_board = 75,
     .first_chain = 0,
     .nul_terminated = true,
     .firmware = BtminerFirmware("cgminer 4.9.2", 625, 41, 81, 5400)},
};

constexpr WhatsminerFacts kFacts[] = {
    // whatsminer-m31s-summary.json: build '20201202.22.REL', Power 3553,
    // Power Limit 3600, Env Temp 7; MAC C6:06:12:..; status as
    // whatsminer-m31s-status-sleeping.json ("whatsminer v1.3"). The
    // devdetails model string is as normalise_test's hand-made reply: no
    // capture of a Whatsminer devdetails was found.
    {ModelId::kWhatsminerM31S, "M31SV10", "20201202.22.REL", false, "whatsminer v1.3", "",
     "C6:06:12", 3553, 3600, 7.0},
    // whatsminer-m60s-v3-get.device.info.json: fw 20251209.16.Rel2, MAC
    // CE:02:01:..; whatsminer-m60s-v3-get.miner.status-summary.json:
    // power-realtime 3156, power-limit 3600, environment-temperature 28.5.
    {ModelId::kWhatsminerM60S, "M60SVK40", "20251209.16.Rel2", true, "", "M60S_VK40", "CE:02:01",
     3156, 3600, 28.5},
};

constexpr bool RowsFitTheirLimits() {
  constexpr auto first = static_cast<size_t>(ModelId::kWhatsminerM31S);
  for (size_t i = 0; i < std::size(kWhatsminers); ++i) {
    const ModelSpec& m = kWhatsminers[i];
    if (static_cast<size_t>(m.id) != first + i || kFacts[i].id != m.id || m.boards > kMaxBoards ||
        m.firmware.fans > kMaxFans) {
      return false;
    }
  }
  return std::size(kWhatsminers) == std::size(kFacts);
}
static_assert(RowsFitTheirLimits(), "rows in ModelId order, within kMaxBoards and kMaxFans");

}  // namespace

std::span<const ModelSpec> WhatsminerModels() { return kWhatsminers; }

const WhatsminerFacts* WhatsminerFactsOf(ModelId id) {
  for (const WhatsminerFacts& f : kFacts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

bool IsBtminerOwnCommand(std::string_view command) {
  return command == "status" || command == "get_miner_info" || command == "get_error_code" ||
         command == "get_version" || command == "get_token";
}

bool HasWhatsminerV3(ModelId id) {
  const WhatsminerFacts* f = WhatsminerFactsOf(id);
  return f != nullptr && !f->v3_type.empty();
}

}  // namespace asicmon::fakefarm
