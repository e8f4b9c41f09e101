// Hiveon firmware on Antminers: stock-style bmminer replies read by the
// antminer family; recognised by its "Type" ("Antminer S9 Hiveon",
// "Antminer S19JPRO Hiveon": antminer-s9-hiveon-stats.json,
// antminer-s19jpro-hiveon-version.json). Its BMMiner version "4.11.1 rwglr"
// is shared with other firmware, so it does not name the family.
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

bool Recognise(const Sections&, const Identity& id) { return ContainsNoCase(id.model, "hiveon"); }

// The hardware is the Type without the firmware's name after it: "Antminer
// S9 Hiveon" is an Antminer S9 (the record's family says Hiveon).
void Extras(const Sections&, Record& out) {
  constexpr std::string_view kSuffix = " hiveon";
  const std::string_view model = Trim(out.model);
  if (model.size() > kSuffix.size() &&
      EqualsNoCase(model.substr(model.size() - kSuffix.size()), kSuffix)) {
    out.model = std::string(Trim(model.substr(0, model.size() - kSuffix.size())));
  }
}

}  // namespace

extern const Family kHiveon = {
    .name = "hiveon",
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
