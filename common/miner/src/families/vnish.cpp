// Vnish on Antminers: stock-style STATS read by the antminer family (Vnish
// adds chain_consumptionN watts there); recognised by the "Type" it appends
// itself to ("Antminer S9 (vnish 3.8.6)", antminer-s9-vnish-stats.json).
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

bool Recognise(const Sections& s, const Identity& id) {
  if (ContainsNoCase(id.model, "vnish")) return true;
  for (const std::string& d : s.descriptions) {
    if (ContainsNoCase(d, "vnish")) return true;
  }
  return false;
}

// The hardware is the Type without Vnish's "(vnish 3.8.6)" after it.
void Extras(const Sections&, Record& out) {
  const size_t open = out.model.find(" (");
  if (open != std::string::npos && open > 0 &&
      ContainsNoCase(std::string_view(out.model).substr(open), "vnish")) {
    out.model.erase(open);
  }
}

}  // namespace

extern const Family kVnish = {
    .name = "vnish",
    .poll = {},
    .software = {},
    .recognise = Recognise,
    .build = nullptr,
    .model = nullptr,
    .stats_boards = nullptr,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = nullptr,
    .state = nullptr,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
