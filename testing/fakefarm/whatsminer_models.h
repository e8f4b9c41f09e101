// What MicroBT's btminer shows of a Whatsminer beyond the facts every model
// row carries (models.h): its devdetails model, build, the form of its API v2
// replies and, on 2024+ firmware, API v3 on TCP 4433, from the captures in
// tests/data (whatsminer_models.cpp).
#pragma once

#include <cstdint>
#include <string_view>

#include "models.h"

namespace asicmon::fakefarm {

// Whatsminer API v3: a 4-byte little-endian length, then JSON, both ways
// ("Whatsminer API documentation" v3.0.x; common/miner's protocol.h).
inline constexpr uint16_t kWhatsminerV3Port = 4433;

// The admin password btminer ships with ("Whatsminer API V2.0.5": "Change
// the default password (admin)"); the fake farm's units keep it.
inline constexpr std::string_view kWhatsminerAdminPassword = "admin";
// API v3's account "super" and its stock password (pyasic's
// BTMinerV3RPCAPI, asic-rs's v3 backend: "username is always super").
inline constexpr std::string_view kWhatsminerV3Password = "super";

struct WhatsminerFacts {
  ModelId id;
  std::string_view detail_model;  // devdetails "Model": "M31SV10"
  std::string_view build;         // "20201202.22.REL"
  // The 2023+ API v2 forms of tests/data/whatsminer-v2-*.json: a shorter
  // summary (no "MHS 5s", no "Firmware Version"), "cgminer 4.9.2" in STATUS,
  // status with "mineroff" and "FirmwareVersion", and get_miner_info and
  // get_error_code answered. Else the 2021 forms of whatsminer-m31s-*.json.
  bool form_2023;
  std::string_view own_description;  // Description of status and get_*: "whatsminer v1.3"
  std::string_view v3_type;          // get.device.info "type", "M60S_VK40"; "" without API v3
  std::string_view mac_prefix;       // the first three bytes, as the captures' MACs
  int watts;                         // at the nominal rate
  int power_limit;                   // W
  double env_temp;                   // °C, the air coming in
};

// The MicroBT facts of `id`; nullptr for a model of another family.
const WhatsminerFacts* WhatsminerFactsOf(ModelId id);
// The commands btminer answers itself, outside cgminer's api.c: status and
// the get_* reads (Whatsminer API v2 document; whatsminer_replies.cpp).
bool IsBtminerOwnCommand(std::string_view command);
// True when `id` answers Whatsminer API v3 on kWhatsminerV3Port.
bool HasWhatsminerV3(ModelId id);

}  // namespace asicmon::fakefarm
