// The model table: facts about each model as data, matched by the longest
// case-insensitive prefix of the miner's "Type".
#include <span>

#include "family.h"

namespace asicmon {
namespace {

// Bitmain's SHA-256 models label GH/s as "GHS"; its altcoin models keep the label
// and change the unit (L3+ 504.56 "GHS" is 504 MH/s, D3 16346 "GHS" is 16 GH/s,
// B3 "GHS" is H/s, Z11 141.54 "GHS" is 141 ksol/s). A reply's "rate_unit"
// overrides the table (normalise.cpp), as 2022+ firmware writes one. Boards and
// chips are those of a healthy stock unit, 0 where variants differ or no source
// says. Chips: the captures in tests/data where there is one (S21 108, S23 Hyd.
// 84, S21 XP Hyd. 160), else pyasic's device models (UpstreamData/pyasic
// e2b9d357, pyasic/miners/device/models/antminer) and asic-rs's hardware table
// (256foundation/asic-rs fdcd1018, asic-rs-makes/antminer/src/hardware.rs).
constexpr ModelInfo kModels[] = {
    {"Antminer S9", "sha256d", kGiga, 3, 63},
    {"Antminer S9i", "sha256d", kGiga, 3, 63},
    {"Antminer S9j", "sha256d", kGiga, 3, 63},
    {"Antminer T9", "sha256d", kGiga, 3, 0},
    {"Antminer T9+", "sha256d", kGiga, 3, 0},
    {"Antminer S17", "sha256d", kGiga, 3, 48},
    {"Antminer S17 Pro", "sha256d", kGiga, 3, 48},
    {"Antminer S17+", "sha256d", kGiga, 3, 0},
    {"Antminer T17", "sha256d", kGiga, 3, 0},
    {"Antminer T17+", "sha256d", kGiga, 3, 0},
    {"Antminer T15", "sha256d", kGiga, 3, 60},
    {"Antminer S19", "sha256d", kGiga, 3, 76},
    {"Antminer S19 Pro", "sha256d", kGiga, 3, 114},
    {"Antminer S19 Pro+", "sha256d", kGiga, 3, 120},
    {"Antminer S19Pro+", "sha256d", kGiga, 3, 120},  // as a 2023 S19 Pro+ writes its type
    {"Antminer S19j Pro", "sha256d", kGiga, 3, 126},
    {"Antminer S19k Pro", "sha256d", kGiga, 3, 77},
    {"Antminer S19 XP", "sha256d", kGiga, 3, 110},
    {"Antminer S19 Pro Hyd", "sha256d", kGiga, 4, 180},
    {"Antminer T19", "sha256d", kGiga, 3, 0},
    {"Antminer S21", "sha256d", kGiga, 3, 108},
    {"Antminer S21 Pro", "sha256d", kGiga, 3, 65},
    {"Antminer S21 Pro+", "sha256d", kGiga, 3, 0},
    {"Antminer S21+", "sha256d", kGiga, 3, 55},
    {"Antminer S21+ Hyd", "sha256d", kGiga, 3, 95},
    {"Antminer S21 XP", "sha256d", kGiga, 3, 91},
    {"Antminer S21 XP Hyd", "sha256d", kGiga, 3, 160},
    {"Antminer S21 Hyd", "sha256d", kGiga, 3, 216},
    {"Antminer T21", "sha256d", kGiga, 3, 108},
    {"Antminer S23", "sha256d", kGiga, 3, 0},
    {"Antminer S23 Hyd", "sha256d", kGiga, 3, 84},
    {"Antminer L3", "scrypt", kMega, 4, 0},
    {"Antminer L3+", "scrypt", kMega, 4, 72},
    {"Antminer L7", "scrypt", kMega, 3, 120},  // Bitmain's scrypt line, as the L3+
    {"Antminer L9", "scrypt", kMega, 3, 110},
    {"Antminer L11", "scrypt", kMega, 3, 88},
    {"Antminer D3", "x11", kMega, 3, 60},
    {"Antminer D7", "x11", kMega, 3, 70},  // Bitmain's X11 line, as the D3
    {"Antminer D9", "x11", kMega, 3, 126},
    {"Antminer E3", "ethash", kMega, 0, 0},
    {"Antminer E9 Pro", "etchash", kGiga, 2, 8},
    {"Antminer K7", "eaglesong", kGiga, 3, 92},
    {"Antminer KA3", "kadena", kGiga, 3, 0},
    {"Antminer KS3", "kheavyhash", kGiga, 3, 0},
    {"Antminer KS5", "kheavyhash", kGiga, 3, 92},
    {"Antminer KS7", "kheavyhash", kGiga, 3, 0},
    {"Antminer B3", "tensority", 1, 0, 0},  // Bytom's Tensority, ~780 H/s
    // Equihash: sol/s. The Z9, Z11 and Z15 run the same cgminer 4.9.0 "Miner
    // 9.0.0.5" build (foreman-apps' Z9 and Z11 version captures, asic-rs's Z15
    // stats repair), whose "GHS" labels hold ksol/s: Z11 141.54 = 141 ksol/s
    // (antminer-z11-stats.json; nominal 135k). The Z15 Pro's later bmminer is
    // taken to keep the unit; its reply's rate_unit, when present, decides.
    {"Antminer Z9", "equihash", 1e3, 3, 0},
    {"Antminer Z11", "equihash", 1e3, 3, 3},
    {"Antminer Z15", "equihash", 1e3, 3, 3},
    {"Antminer Z15 Pro", "equihash", 1e3, 3, 6},
    {"braiins-am1-s9", "sha256d", kGiga, 3, 63},  // an S9's Type under early Braiins OS
    {"Whatsminer M3", "sha256d", kGiga, 3, 63},
    {"Whatsminer M20S", "sha256d", kGiga, 3, 0},
    {"Whatsminer M30S", "sha256d", kGiga, 3, 0},  // keeps M30S/M31S/M32 off the M3 entry
    {"Whatsminer M31S", "sha256d", kGiga, 3, 0},
    {"Whatsminer M32", "sha256d", kGiga, 3, 0},
    {"Avalon", "sha256d", kGiga, 0, 0},  // Canaan's AvalonMiners are all SHA-256
};

// What a model missing from kModels gets, by the family its name starts with.
constexpr ModelInfo kFamilies[] = {
    {"Antminer", "", kGiga},           // Bitmain builds for many algorithms: unknowable
    {"Whatsminer", "sha256d", kGiga},  // MicroBT builds Bitcoin miners only
    {"Braiins", "sha256d", kGiga},     // Braiins OS runs on SHA-256 Antminers only
    {"SealMiner", "sha256d", kGiga},   // Bitdeer's SealMiners are Bitcoin miners
};
constexpr ModelInfo kUnknownModel{};

const ModelInfo* LongestPrefix(std::span<const ModelInfo> table, std::string_view type) {
  const ModelInfo* best = nullptr;
  for (const ModelInfo& m : table) {
    if (StartsWithNoCase(type, m.type_prefix) &&
        (best == nullptr || m.type_prefix.size() > best->type_prefix.size())) {
      best = &m;
    }
  }
  return best;
}

}  // namespace

const ModelInfo* FindModel(std::string_view type) { return LongestPrefix(kModels, type); }

const ModelInfo& InfoFor(std::string_view model) {
  if (const ModelInfo* m = FindModel(model)) return *m;
  if (const ModelInfo* f = LongestPrefix(kFamilies, model)) return *f;
  return kUnknownModel;
}

}  // namespace asicmon
