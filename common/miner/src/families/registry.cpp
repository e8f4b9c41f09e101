// The firmware families normalisation knows. Adding one: its file in this
// folder, defining a Family, and its two lines here.
#include "family.h"

namespace asicmon {

extern const Family kAntminer;
extern const Family kWhatsminer;
extern const Family kWhatsminer3;
extern const Family kBraiins;
extern const Family kAvalon;

namespace {

// The order readings are taken in (see Families()).
constexpr const Family* kRegistry[] = {&kAntminer, &kWhatsminer, &kBraiins, &kAvalon,
                                        &kWhatsminer3};

}  // namespace

std::span<const Family* const> Families() { return kRegistry; }

const Family* FindFamily(std::string_view name) {
  for (const Family* f : kRegistry) {
    if (f->name == name) return f;
  }
  return nullptr;
}

}  // namespace asicmon
