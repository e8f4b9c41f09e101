// LuxOS (LUXminer) on Antminers: Antminer-style STATS (read by the antminer
// family), plus what only LuxOS answers: "power" (POWER[0].Watts, as pyasic's
// luxminer backend reads it), FANS and per-board TEMPS (S9: Board/Chip;
// S19/S21: four board sensors TopLeft..BottomRight, hashboard temperatures
// only: docs.luxor.tech/firmware/api/cgminer/temps, /fans), and "config":
// the machine's identity and whether it is curtailed (asleep).
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"luxminer", "LUXminer"}};

// LuxOS answers cgminer multi-commands; "power", "fans", "temps" and
// "config" are its own.
constexpr PollStep kPoll[] = {
    {.name = "summary+stats+pools+version+power+fans+temps+config",
     .framing = Framing::kCgminer,
     .port = 0,
     .request = R"({"command":"summary+stats+pools+version+power+fans+temps+config"})"},
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

// Curtailed by the "curtail" command ("sleep": boards and PSU off, kept
// across reboots until "wakeup"): config's CurtailMode is "None" while the
// miner hashes (luxos-s19kpro-config.json). Any other word is a curtailment;
// the asleep value is not in a capture: integrations read "not None" as
// asleep and model it as "Sleep" (PROVENANCE.md).
void State(const Sections& s, Record& out) {
  if (!s.config) return;
  const std::string mode = OptString(*s.config, "CurtailMode");
  if (!Trim(mode).empty() && !EqualsNoCase(Trim(mode), "None")) out.sleeping = true;
}

// "power": the miner's draw in W as LuxOS measures or estimates it;
// "config": MACAddr, Hostname and the machine's SerialNumber.
void Extras(const Sections& s, Record& out) {
  if (const std::vector<element> power = Objects(s.power); !power.empty()) {
    const std::optional<double> watts = OptNumber(power.front(), "Watts");
    if (watts && *watts > 0) Fill(out.power_w, watts);
  }
  if (!s.config) return;
  if (out.mac.empty()) out.mac = MacAddress(OptString(*s.config, "MACAddr"));
  if (out.hostname.empty()) out.hostname = std::string(Trim(OptString(*s.config, "Hostname")));
  if (out.serial.empty()) out.serial = std::string(Trim(OptString(*s.config, "SerialNumber")));
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
    .state = State,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
