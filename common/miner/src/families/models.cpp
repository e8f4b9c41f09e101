// The model table: facts about each model as data, matched by the longest
// case-insensitive prefix of the miner's "Type".
#include <span>

#include "family.h"

namespace asicmon {
namespace {

// Bitmain's SHA-256 models label GH/s as "GHS"; its altcoin models keep the label
// and change the unit (L3+ 504.56 "GHS" is 504 MH/s, D3 16346 "GHS" is 16 GH/s,
// B3 "GHS" is H/s). Boards and chips are those of a healthy stock unit, 0 where
// variants differ.
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
    {"Antminer S19j Pro", "sha256d", kGiga, 3, 126},
    {"Antminer S19 XP", "sha256d", kGiga, 3, 110},
    {"Antminer L3", "scrypt", kMega, 4, 0},
    {"Antminer L3+", "scrypt", kMega, 4, 72},
    {"Antminer D3", "x11", kMega, 3, 60},
    {"Antminer E3", "ethash", kMega, 0, 0},
    {"Antminer B3", "tensority", 1, 0, 0},        // Bytom's Tensority, ~780 H/s
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
