// The models the fake farm simulates, as data: one row per model in its
// family's table (antminer_models.cpp for Bitmain's cgminer/bmminer builds,
// avalon_models.cpp for Canaan's, whatsminer_models.cpp for MicroBT's,
// braiins_models.cpp and luxos_models.cpp for Antminers on Braiins OS+ and LuxOS,
// epic_models.cpp for an Antminer on ePIC's UMC firmware, bitaxe_models.cpp
// for AxeOS boards, vnish_models.cpp for an Antminer on Vnish),
// carrying every fact the replies need, so a new model is a new row and a
// new family a new table with its own reply writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace asicmon::fakefarm {

// In the order of the family tables AllModels() joins (GetModel indexes by
// it): antminer_models.cpp's rows, then avalon_models.cpp's, then
// whatsminer_models.cpp's, braiins_models.cpp's, luxos_models.cpp's,
// epic_models.cpp's, bitaxe_models.cpp's and vnish_models.cpp's.
// clang-format off
enum class ModelId : uint8_t { kS9, kS17Pro, kS19Pro, kS19jPro, kL3Plus, kS21, kKS7, kZ15,
                               kAvalon1246, kAvalonQ,
                               kWhatsminerM31S, kWhatsminerM60S,
                               kBraiinsS19XP, kLuxosS19,
                               kEpicS19XP, kBitaxeSupra,
                               kVnishS21Pro };
// clang-format on

inline constexpr int kMaxBoards = 4;
inline constexpr int kMaxFans = 4;

// How the model's stock web interface lights its fault LED (blink.cgi).
enum class BlinkApi : uint8_t {
  kNone,  // no blink.cgi (L3+)
  kForm,  // urlencoded action=startBlink|stopBlink|onPageLoaded (S9, S17 family)
  kJson,  // JSON {"blink":bool}, state from get_blink_status.cgi (S19 family)
};

// Which firmware generation's STATS[1] layout the model answers with
// (antminer_stats.cpp has one writer per layout).
// kAvalon: Canaan's "MM ID" strings, written by avalon_replies.cpp.
// kWhatsminer: none; btminer has no stats (whatsminer_replies.cpp).
// kBraiins: bosminer's per-chain stats headers, by braiins_replies.cpp.
// kEpic, kBitaxe: no cgminer API at all; their HTTP documents are written by
// epic_replies.cpp and bitaxe_replies.cpp.
// kVnish: Vnish 1.x's own stats (vnish_replies.cpp writes all its replies).
// clang-format off
enum class StatsLayout : uint8_t { kS9, kS17, kS19, kL3, kAvalon, kWhatsminer, kBraiins,
                                   kEpic, kBitaxe, kVnish };
// clang-format on

// What the firmware's replies show of the model, from the captures in
// tests/data (each row names the ones it follows).
struct Firmware {
  std::string_view miner_key;      // "BMMiner" or "CGMiner", the first key of VERSION
  std::string_view miner_version;  // its value
  std::string_view miner;          // "Miner": Bitmain's firmware version
  std::string_view compile_time;
  std::string_view description;  // STATUS Description
  std::string_view msg_prefix;   // "BMMiner stats" / "CGMiner stats"
  std::string_view stats_id;     // STATS[1] "ID"
  StatsLayout stats;
  bool glued_stats;    // STATS[0] and STATS[1] glued as `}{` (bmminer, cgminer 4.9.0)
  bool spaced;         // ", " and ": " between tokens (S19 family)
  bool ghs_5s_string;  // "GHS 5s" is a string ("13883.81"), else a number
  int chip_group;      // chips per group in the chain_acs strings
  double ghs_unit;     // H/s per unit of the "GHS" labels (L3+: MH/s)
  int frequency;       // MHz
  int pcb_base;        // °C
  int chip_base;
  int fan_base;   // rpm
  int fans;       // at most kMaxFans
  int fan_first;  // fan number of the first populated fan slot
  std::string_view pool_diff_text;
  double pool_diff;
  BlinkApi blink;  // the web interface's fault LED, if any
  bool can_sleep;  // "miner-mode" 1 stops hashing
  int fan_idle;    // rpm while asleep (S17 family: fans off)
  // Bitmain's new API layout (antminer_new_api_replies.cpp): answered to
  // "stats" and "summary" asked with "new_api":true by firmware of 2022 on;
  // firmware before it ignores the flag.
  bool new_api = false;
  double power_w = 0;  // the new layout's "watt" at nominal rate; 0: not reported
  // "miner-mode" 3, low power (the S21 family, S19k Pro, S23: the models
  // asicmon's antminer driver offers it on, from pyasic's MiningModeLPM).
  bool low_power_mode = false;
};

// What the simulator knows of one model.
struct ModelSpec {
  ModelId id;
  std::string_view key;     // CLI name: "s9", "s17pro", ...
  std::string_view name;    // the firmware's "Type": "Antminer S9"
  double hashrate_nominal;  // H/s of a healthy unit
  int boards;               // hash boards (chains), at most kMaxBoards
  int chips_per_board;
  int first_chain;      // number the firmware gives the first chain (S9: 6)
  bool nul_terminated;  // the reply is followed by one NUL byte
  Firmware firmware;
};

// A family's model table checked at compile time: its rows in ModelId order
// from `first`, each within kMaxBoards and kMaxFans, with one facts row of
// the same id each (Facts has an `id`).
template <typename Facts, size_t kRows, size_t kFacts>
constexpr bool RowsFitTheirLimits(const ModelSpec (&rows)[kRows], const Facts (&facts)[kFacts],
                                  ModelId first) {
  if (kRows != kFacts) return false;
  for (size_t i = 0; i < kRows; ++i) {
    const ModelSpec& m = rows[i];
    if (static_cast<size_t>(m.id) != static_cast<size_t>(first) + i || facts[i].id != m.id ||
        m.boards > kMaxBoards || m.firmware.fans > kMaxFans) {
      return false;
    }
  }
  return true;
}

// Each family's rows, in ModelId order; AllModels() joins them.
std::span<const ModelSpec> AntminerModels();
std::span<const ModelSpec> AvalonModels();
std::span<const ModelSpec> WhatsminerModels();
std::span<const ModelSpec> BraiinsModels();
std::span<const ModelSpec> LuxosModels();
std::span<const ModelSpec> EpicModels();
std::span<const ModelSpec> BitaxeModels();
std::span<const ModelSpec> VnishModels();
std::span<const ModelSpec> AllModels();
const ModelSpec& GetModel(ModelId id);
// A farm's models when none are named: every model with a cgminer-style API
// on the API port, that is all but the HTTP-API ones (ePIC, AxeOS), which a
// farm has when asked for (--models all or by name).
std::vector<ModelId> DefaultModels();
// nullptr when `key` names no model.
const ModelSpec* FindModel(std::string_view key);
// Fans the model's firmware reports.
inline int FanCount(ModelId id) { return GetModel(id).firmware.fans; }
inline BlinkApi BlinkApiOf(ModelId id) { return GetModel(id).firmware.blink; }
// True when the model's firmware can stop hashing on request ("miner-mode" 1
// in set_miner_conf.cgi, "bitmain-work-mode" in get_miner_conf.cgi): the S17
// and S19 families; S9 and L3+ stock firmware has no sleep.
inline bool CanSleep(ModelId id) { return GetModel(id).firmware.can_sleep; }
// True when cgminer's generic poll (summary+stats+pools) carries the
// model's telemetry in cgminer's layouts: btminer has no stats, bosminer's
// carry none (Braiins OS+'s poll plan asks fans, temps, devdetails).
inline bool GenericPollReadsAll(ModelId id) {
  const StatsLayout stats = GetModel(id).firmware.stats;
  return stats != StatsLayout::kWhatsminer && stats != StatsLayout::kBraiins &&
         stats != StatsLayout::kEpic && stats != StatsLayout::kBitaxe;
}
// True when the model's API is HTTP/1.1 GETs of JSON documents (ePIC on the
// API port, AxeOS on the web port) instead of cgminer's socket API.
inline bool HasHttpApi(ModelId id) {
  const StatsLayout stats = GetModel(id).firmware.stats;
  return stats == StatsLayout::kEpic || stats == StatsLayout::kBitaxe;
}
// True when the model has no API port at all: AxeOS serves its API from
// its web server alone (nothing listens on 4028).
inline bool ApiOnWebPortOnly(ModelId id) {
  return GetModel(id).firmware.stats == StatsLayout::kBitaxe;
}

}  // namespace asicmon::fakefarm
