// Braiins OS and Braiins OS+ (bosminer, and BOSer since 22.x): no hardware
// "Type" in VERSION; devdetails names the model ("Bitmain Antminer S9"), FANS
// lists every fan header, TEMPS each board's sensors, and the BOS+ tuner
// (tunerstatus) the power it estimates. Command set and reply layouts:
// Braiins OS+ API doc (tgr-braiins/braiins-os-docs, Development/1_api.rst).
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// BOSer is the name bosminer's rewrite reports in VERSION and Description
// ("BOSer boser-buildroot 0.1.0-0ce150e9"; pyasic's factory keys on it too).
constexpr Software kSoftware[] = {
    {"bosminer+", "BOSminer+"}, {"bosminer", "BOSminer"}, {"BOSer", "BOSer"}};

// Everything a poll reads, in one multi-command (bosminer answers them as
// cgminer does, one array per command: cgminer-api test_multiple).
constexpr PollStep kPoll[] = {
    {.name = "summary+devs+fans+temps+tunerstatus+pools+devdetails+version",
     .framing = Framing::kCgminer,
     .port = 0,
     .request = R"({"command":"summary+devs+fans+temps+tunerstatus+pools+devdetails+version"})"},
};

// devdetails "Frequency" is in Hz (799682118 on the doc's S9 board).
constexpr double kHzPerMhz = 1e6;

bool IsBraiins(const Identity& id) {
  return StartsWithNoCase(id.firmware, "BOSminer") || StartsWithNoCase(id.firmware, "BOSer");
}

// FANS and TEMPS alone (bOS+ answers them without naming itself in the
// section) say Braiins unless the reply names other software (LuxOS has both).
bool Recognise(const Sections& s, const Identity& id) {
  return IsBraiins(id) || (id.firmware.empty() && (s.fans || s.temps || s.tunerstatus));
}

// devdetails "Model" is "Bitmain Antminer S9"; the model table knows "Antminer S9".
std::string DevdetailsModel(const Sections& s) {
  const std::vector<element> details = Objects(s.devdetails);
  if (details.empty()) return {};
  const std::string text = OptString(details.front(), "Model");
  std::string_view model = Trim(text);
  constexpr std::string_view kMaker = "Bitmain ";
  if (StartsWithNoCase(model, kMaker)) model.remove_prefix(kMaker.size());
  return std::string(Trim(model));
}

// The hardware when devdetails names it, else the firmware (all SHA-256).
std::string Model(const Sections& s, const Identity& id) {
  if (!IsBraiins(id) && !s.tunerstatus) return {};
  if (std::string model = DevdetailsModel(s); !model.empty()) return model;
  return id.braiins_plus ? "Braiins OS+" : "Braiins OS";
}

// TEMPS (board and chip sensors) and DEVDETAILS (chips, frequency), by the
// board "ID" that DEVS uses too (6, 7, 8 on an S9).
void ListedBoards(const Sections& s, bool may_add, Boards& boards) {
  const std::vector<element> temps = Objects(s.temps);
  for (size_t i = 0; i < temps.size(); ++i) {
    BoardStats* b = ListedBoard(boards, temps[i], i, "TEMP", may_add);
    if (b == nullptr) continue;
    Fill(b->temp_board, TempField(temps[i], "Board"));
    Fill(b->temp_chip, TempField(temps[i], "Chip"));
  }
  const std::vector<element> details = Objects(s.devdetails);
  for (size_t i = 0; i < details.size(); ++i) {
    BoardStats* b = ListedBoard(boards, details[i], i, "DEVDETAILS", may_add);
    if (b == nullptr) continue;
    if (std::optional<int32_t> chips = OptInt32(details[i], "Chips"); chips && *chips > 0) {
      Fill(b->chips, chips);
    }
    if (std::optional<double> hz = OptNumber(details[i], "Frequency"); hz && *hz > 0) {
      Fill(b->freq_mhz, ValidFreq(*hz / kHzPerMhz));
    }
  }
}

// Every fan header, the unused ones at 0 rpm.
std::vector<int32_t> ReadFans(const Sections& s) { return FansSection(s.fans); }

// Paused by the "pause" command: the tuner says so per chain. No capture of a
// paused miner was found; Foreman's Braiins reader (delawr0190/foreman-apps,
// mn.foreman.antminer.response.braiins.BraiinsResponseStrategy) reads a
// TunerChainStatus whose text holds "paused" as sleeping, and so do we, in
// either case (the fake farm writes "Paused").
void State(const Sections& s, Record& out) {
  const std::vector<element> tuner = Objects(s.tunerstatus);
  if (tuner.empty()) return;
  for (element chain : Objects(MemberOf(tuner.front(), "TunerChainStatus"))) {
    if (ContainsNoCase(OptString(chain, "Status"), "paused")) {
      out.sleeping = true;
      return;
    }
  }
}

// The tuner's estimate of the whole miner's draw (W), not its "PowerLimit".
void Extras(const Sections& s, Record& out) {
  const std::vector<element> tuner = Objects(s.tunerstatus);
  if (tuner.empty()) return;
  const std::optional<double> watts = OptNumber(tuner.front(), "ApproximateMinerPowerConsumption");
  if (watts && *watts > 0) Fill(out.power_w, watts);
}

}  // namespace

extern const Family kBraiins = {
    .name = "braiins",
    .poll = kPoll,
    .software = kSoftware,
    .recognise = Recognise,
    .build = nullptr,  // the git hash of its version string, taken with the version
    .model = Model,
    .stats_boards = nullptr,
    .listed_boards = ListedBoards,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = State,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
