// LuxOS (LUXminer) on Antminers: Antminer-style STATS (read by the antminer
// family), plus what only LuxOS answers: "power" (POWER[0].Watts, as pyasic's
// luxminer backend reads it), FANS and per-board TEMPS (S9: Board/Chip;
// S19/S21: four board sensors TopLeft..BottomRight, hashboard temperatures
// only: docs.luxor.tech/firmware/api/cgminer/temps, /fans).
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"luxminer", "LUXminer"}};

// LuxOS answers cgminer multi-commands; "power", "fans" and "temps" are its own.
constexpr PollStep kPoll[] = {
    {.name = "summary+stats+pools+version+power+fans+temps",
     .framing = Framing::kCgminer,
     .port = 0,
     .request = R"({"command":"summary+stats+pools+version+power+fans+temps"})"},
};

constexpr std::string_view kBoardSensors[] = {"Board", "TopLeft", "TopRight", "BottomLeft",
                                              "BottomRight"};

bool Recognise(const Sections&, const Identity& id) {
  return StartsWithNoCase(id.firmware, "LUXminer");
}

// TEMPS numbers boards from 0 and STATS' chains from 1 (pyasic reads chain
// N+1 as board N), so TEMPS only adds boards when STATS gave none.
void Temps(const Sections& s, bool may_add, Boards& boards) {
  if (!may_add) return;
  const std::vector<element> temps = Objects(s.temps);
  for (size_t i = 0; i < temps.size(); ++i) {
    BoardStats* b = ListedBoard(boards, temps[i], i, "TEMP", may_add);
    if (b == nullptr) continue;
    std::optional<double> hottest;
    for (std::string_view key : kBoardSensors) hottest = MaxOf(hottest, TempField(temps[i], key));
    Fill(b->temp_board, hottest);
    Fill(b->temp_chip, TempField(temps[i], "Chip"));
  }
}

std::vector<int32_t> ReadFans(const Sections& s) { return FansSection(s.fans); }

// "power": the miner's draw in W as LuxOS measures or estimates it.
void Extras(const Sections& s, Record& out) {
  const std::vector<element> power = Objects(s.power);
  if (power.empty()) return;
  const std::optional<double> watts = OptNumber(power.front(), "Watts");
  if (watts && *watts > 0) Fill(out.power_w, watts);
}

}  // namespace

extern const Family kLuxos = {
    .name = "luxos",
    .poll = kPoll,
    .software = kSoftware,
    .recognise = Recognise,
    .build = nullptr,
    .model = nullptr,  // VERSION and STATS carry the Antminer's "Type"
    .stats_boards = nullptr,
    .listed_boards = Temps,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = nullptr,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
