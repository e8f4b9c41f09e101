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

// The hardware is the Type without Vnish's "(vnish 3.8.6)" or "(Vnish
// 1.2.7)" after it, and that is the firmware: its STATS "Cgminer" key holds
// cgminer's version on 3.x (4.11.1) and Vnish's own on 1.x
// (vnish-s21pro-stats.json), so only the Type says which Vnish runs.
void Extras(const Sections&, Record& out) {
  const size_t open = out.model.find(" (");
  if (open == std::string::npos || open == 0) return;
  std::string_view inside = std::string_view(out.model).substr(open + 2);
  inside = inside.substr(0, inside.find(')'));
  constexpr std::string_view kName = "vnish";
  if (!StartsWithNoCase(inside, kName)) return;
  const std::string_view version = Trim(inside.substr(kName.size()));
  out.firmware = "Vnish";
  if (!version.empty()) {
    out.firmware += ' ';  // appended apart: GCC 12 warns (-Wrestrict) on " " + std::string
    out.firmware += version;
  }
  out.model.erase(open);
}

// Vnish 1.x's STATS "state" is its miner state ("auto-tuning" in
// vnish-s21pro-stats.json; the HTTP API's MinerState values): "stopped" is
// mining/stop's sleep. While "shutting-down" it still hashes.
void State(const Sections& s, Record& out) {
  if (s.miner_stats && EqualsNoCase(Trim(OptString(*s.miner_stats, "state")), "stopped")) {
    out.sleeping = true;
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
    .state = State,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
