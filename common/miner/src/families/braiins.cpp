// Braiins OS and Braiins OS+ (bosminer): no hardware "Type" at all; FANS
// lists every fan header and TEMPS each board's sensors.
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"bosminer+", "BOSminer+"}, {"bosminer", "BOSminer"}};

bool IsBosminer(const Identity& id) { return StartsWithNoCase(id.firmware, "BOSminer"); }

bool Recognise(const Sections& s, const Identity& id) {
  return IsBosminer(id) || s.fans || s.temps;
}

// Name the firmware, whose units are all SHA-256.
std::string Model(const Sections&, const Identity& id) {
  if (!IsBosminer(id)) return {};
  return id.braiins_plus ? "Braiins OS+" : "Braiins OS";
}

void Temps(const Sections& s, bool may_add, Boards& boards) {
  const std::vector<element> temps = Objects(s.temps);
  for (size_t i = 0; i < temps.size(); ++i) {
    BoardStats* b = ListedBoard(boards, temps[i], i, "TEMP", may_add);
    if (b == nullptr) continue;
    Fill(b->temp_board, TempField(temps[i], "Board"));
    Fill(b->temp_chip, TempField(temps[i], "Chip"));
  }
}

// Every fan header, the unused ones at 0 rpm.
std::vector<int32_t> ReadFans(const Sections& s) {
  std::vector<double> readings;
  for (element e : Objects(s.fans)) {
    if (std::optional<double> rpm = OptNumber(e, "RPM")) readings.push_back(*rpm);
  }
  return Fans(readings, 0);
}

}  // namespace

extern const Family kBraiins = {
    .name = "braiins",
    .poll = {},
    .software = kSoftware,
    .recognise = Recognise,
    .build = nullptr,  // the git hash of its version string, taken with the version
    .model = Model,
    .stats_boards = nullptr,
    .listed_boards = Temps,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = nullptr,
    .extras = nullptr,
    .read_documents = nullptr,
};

}  // namespace asicmon
