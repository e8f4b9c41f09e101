// The firmware families normalisation knows. Adding one: its file in this
// folder, defining a Family, and its two lines here.
#include "family.h"

namespace asicmon {

extern const Family kAntminer;
extern const Family kWhatsminer;
extern const Family kWhatsminer3;
extern const Family kBraiins;
extern const Family kAvalon;
extern const Family kLuxos;
extern const Family kVnish;
extern const Family kHiveon;
extern const Family kSealMiner;
extern const Family kEpic;
extern const Family kBitaxe;

namespace {

// The order readings are taken in (see Families()). Firmware that runs on
// Antminers (LuxOS, Vnish, Hiveon) comes first: the record is named after it,
// while the antminer family still reads the STATS they share.
constexpr const Family* kRegistry[] = {&kLuxos,      &kVnish,   &kHiveon, &kAntminer,
                                       &kWhatsminer, &kBraiins, &kAvalon, &kWhatsminer3,
                                       &kSealMiner,  &kEpic,    &kBitaxe};

}  // namespace

std::span<const Family* const> Families() { return kRegistry; }

const Family* FindFamily(std::string_view name) {
  for (const Family* f : kRegistry) {
    if (f->name == name) return f;
  }
  return nullptr;
}

}  // namespace asicmon
