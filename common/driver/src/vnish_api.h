// What the vnish driver sends to and reads from Vnish's HTTP API (/api/v1 on
// the web port), apart from any connection so tests can check it against the
// captured replies. Only vnish.cpp and its tests include it.
//
// The API as Vnish publishes it for 1.2.6-1.3.4 (its OpenAPI documents,
// "xminer-api", kept by 256foundation/asic-rs @ fdcd1018 meta/vnish/v1.2.7/
// api-doc.json and v1.3.4/api-doc.json): POST /unlock {"pw"} answers
// {"token"} (403 "Wrong password", 429 "Too many requests", both with
// {"unlock_timeout"}); the token goes as "Authorization: Bearer" (the
// documents' bearerAuth, JWT); GET /status is the state pane (miner_state,
// find_miner); GET /settings and POST /settings the config (miner.pools,
// three slots; miner.overclock.preset, the autotune preset's name);
// GET /autotune/presets the presets ({name, pretty, status,
// modded_psu_required}: a preset's name is its watts, "disabled" none).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/driver.h"

namespace asicmon::driver::vnish {

// The API's root on the web port (the documents' "servers": "/api/v1").
inline constexpr std::string_view kRoot = "/api/v1";
// The web UI's password Vnish ships with: pyasic's default_vnish_web_password
// (UpstreamData/pyasic @ e2b9d357 pyasic/web/vnish.py) and asic-rs's
// default_auth (asic-rs-firmwares/vnish/src/backends/v1_2_0/mod.rs). Vnish
// has no user name.
inline constexpr std::string_view kStockPassword = "admin";
// The preset of stock clocks: no autotune profile (pyasic's
// MiningModeConfig.from_vnish reads it as manual mode).
inline constexpr std::string_view kStockPreset = "disabled";

// One autotune preset. watts: the number its name is, 0 for kStockPreset.
struct Preset {
  std::string name;
  int watts = 0;
  bool modded_psu = false;  // needs a modified power supply
};

// True when asicmon drives `firmware` (the record's, "Vnish 1.2.7"): Vnish
// 1.x, the line with /api/v1. Vnish 3.x on the S9 ("vnish 3.8.6") has a web
// UI of its own and no such API.
bool HasApi(std::string_view firmware);

// POST /unlock's body.
std::string UnlockBody(std::string_view password);
// The token of /unlock's answer, nullopt when it has none.
std::optional<std::string> TokenOf(std::string_view body);

// POST /settings's body replacing the pools: `pools` in order, the other of
// the three slots empty, as GET /settings shows an unused slot.
std::string PoolsBody(std::span<const PoolSetting> pools);
// POST /settings's body selecting `preset`: `overclock` (GET /settings's
// miner.overclock, carried whole as pyasic and asic-rs do) with its preset
// replaced. Empty when `settings_body` has no miner.overclock object.
std::string PresetBody(std::string_view settings_body, std::string_view preset);
// True when POST /settings's answer asks for the mining software to restart
// before the change applies ({"restart_required": true}).
bool RestartRequired(std::string_view body);

// GET /autotune/presets's list, nullopt when the body is not one.
std::optional<std::vector<Preset>> ParsePresets(std::string_view body);
// The preset each mode maps to: normal = kStockPreset (stock clocks); low =
// the preset of fewest watts; high = the preset of most watts that needs no
// modified PSU. "" when the list has none.
std::string PresetFor(PowerMode mode, const std::vector<Preset>& presets);
// The mode `preset` is, by PresetFor; nullopt for a preset between them.
std::optional<PowerMode> ModeOf(std::string_view preset, const std::vector<Preset>& presets);
// GET /settings's miner.overclock.preset.
std::optional<std::string> PresetOf(std::string_view settings_body);

// What GET /status reports: sleeping from miner_state ("stopped" and
// "shutting-down" asleep; "mining", "auto-tuning", "initializing",
// "starting", "restarting" awake; "failure" neither), locate_on from
// find_miner.
void ReadStatus(std::string_view status_body, Settings& settings);
// POST /find-miner's answer: {"on": bool}, or null (nullopt).
std::optional<bool> FindMinerOn(std::string_view body);

}  // namespace asicmon::driver::vnish
