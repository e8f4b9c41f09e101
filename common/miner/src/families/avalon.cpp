// Canaan AvalonMiners (cgminer 4.11.1 with Canaan's driver): each module's
// facts are one "MM ID<n>" string in STATS of key[value] pairs,
// "Ver[1047-2005...] ... Fan1[2896] MGHS[...] MTmax[61 64] PS[...] ECMM[0]".
// 2025 firmware (Avalon Q, Nano 3s) keys it "MM ID0:Summary" and wraps the
// pairs as "'STATS':{Ver[Q-...] ...}"; its litestats reply carries the same
// string. What the fields mean is read from Canaan's own driver
// (Canaan-Creative/Avalon_Nano3s cg_miner/cgminer/driver-avalon.c, get_api_stats).
#include <algorithm>
#include <cmath>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// A version with MAC and PROD, then the generic three: what the generic
// summary+stats+pools lacks is the VERSION that names the model and the MAC.
constexpr PollStep kPoll[] = {
    {"version+summary+stats+pools", Framing::kCgminer, 0,
     R"({"command":"version+summary+stats+pools"})"},
};

constexpr size_t kMaxModules = 16;       // bounds a hostile STATS (an AUC drives a few)
constexpr size_t kMaxModuleBoards = 16;  // hash boards one module reports
constexpr size_t kPsWallPowerIndex = 6;  // PS[6] is the wall power (driver: wallpower)
constexpr int kStateIdle = 2;            // STATE[2]: "In Idle" (driver's sysstatus[])
constexpr double kMaxValue = 1e15;       // beyond any reading; keeps casts to integers defined

// The bracketed value of `key` in a module string: the key starts the string
// or follows a space or the '{' of the 2025 wrapping.
std::optional<std::string_view> Field(std::string_view mm, std::string_view key) {
  for (size_t pos = mm.find(key); pos != std::string_view::npos; pos = mm.find(key, pos + 1)) {
    const size_t open = pos + key.size();
    const bool starts = pos == 0 || mm[pos - 1] == ' ' || mm[pos - 1] == '{';
    if (starts && open < mm.size() && mm[open] == '[') {
      const size_t close = mm.find(']', open);
      if (close == std::string_view::npos) return std::nullopt;
      return mm.substr(open + 1, close - open - 1);
    }
  }
  return std::nullopt;
}

// The numbers of a field, "MGHS[12362.61 12812.16]"; runs of spaces
// ("PVT_T0[ 56  56]") and words in between are skipped.
std::vector<double> Numbers(std::string_view mm, std::string_view key) {
  std::vector<double> out;
  const std::optional<std::string_view> field = Field(mm, key);
  if (!field) return out;
  std::string_view rest = *field;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    const std::optional<double> v = ParseNumber(rest.substr(0, space));
    if (v && std::fabs(*v) <= kMaxValue) out.push_back(*v);
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return out;
}

std::optional<double> FirstNumber(std::string_view mm, std::string_view key) {
  const std::vector<double> v = Numbers(mm, key);
  return v.empty() ? std::nullopt : std::optional<double>(v.front());
}

// A module string, or Canaan's VERSION alone (discover asks version+pools):
// "PROD" names an Avalon product.
bool Recognise(const Sections& s, const Identity&) {
  return !s.modules.empty() ||
         (s.version && StartsWithNoCase(Trim(OptString(*s.version, "PROD")), "Avalon"));
}

// The first module's "Ver", else VERSION's own firmware version.
std::string Build(const Sections& s) {
  if (const std::optional<std::string_view> ver =
          s.modules.empty() ? std::nullopt : Field(s.modules.front(), "Ver")) {
    return std::string(Trim(*ver));
  }
  if (!s.version) return {};
  for (std::string_view key : {"VERSION", "LVERSION", "CGVERSION"}) {
    if (std::string v(Trim(OptString(*s.version, key))); !v.empty()) return v;
  }
  return {};
}

// "Ver" is the module's model, '-', the firmware version (8 digits of
// date, then hashes): "1246-83-21072802_4ec6bb0_211fc46", "Q-25052801_14a19a2".
// The model is VERSION's "PROD" spelt out: digits name an AvalonMiner
// ("AvalonMiner 1246-83"), letters a 2023+ product ("Avalon Q"). Read from
// "Ver" first, so the generic poll (no VERSION) names it as its own does;
// "PROD" when no module says (Nano 3s litestats).
std::string Model(const Sections& s, const Identity&) {
  const std::string_view ver =
      s.modules.empty() ? std::string_view() : Trim(Field(s.modules.front(), "Ver").value_or(""));
  std::string_view model = ver;
  for (size_t dash = ver.find('-'); dash != std::string_view::npos;
       dash = ver.find('-', dash + 1)) {
    const std::string_view rest = ver.substr(dash + 1);
    if (rest.size() >= 8 && std::all_of(rest.begin(), rest.begin() + 8, IsDigit)) {
      model = ver.substr(0, dash);
      break;
    }
  }
  if (model.empty() && s.version) {
    if (std::string prod(Trim(OptString(*s.version, "PROD"))); !prod.empty()) return prod;
  }
  if (model.empty()) return "Avalon";
  return (IsDigit(model.front()) ? "AvalonMiner " : "Avalon ") + std::string(model);
}

// Per hash board: MGHS (GH/s; the driver computes it from the board's
// diff-1 shares since start, so it is the board's average), MTmax (its
// hottest chip), TA (the module's chips) shared evenly. A one-board module's
// HBITemp/HBOTemp (Avalon Q) are that board's inlet and outlet.
std::optional<double> ModuleBoards(const Sections& s, double, Boards& boards) {
  int32_t index = 0;
  for (std::string_view mm : s.modules) {
    const std::vector<double> rates = Numbers(mm, "MGHS");
    const std::vector<double> chip_max = Numbers(mm, "MTmax");
    const size_t count = std::min(std::max(rates.size(), chip_max.size()), kMaxModuleBoards);
    const std::optional<double> chips = FirstNumber(mm, "TA");
    const std::optional<double> board_temp =
        MaxOf(ValidTemp(FirstNumber(mm, "HBITemp")), ValidTemp(FirstNumber(mm, "HBOTemp")));
    for (size_t i = 0; i < count; ++i, ++index) {
      BoardStats& b = BoardAt(boards, index);
      if (i < rates.size()) Fill(b.hashrate, Rate(rates[i], kGiga));
      if (i < chip_max.size()) Fill(b.temp_chip, ValidTemp(chip_max[i]));
      if (chips && *chips > 0 && *chips < 1e6 && static_cast<int64_t>(*chips) % count == 0) {
        Fill(b.chips,
             std::optional<int32_t>(static_cast<int32_t>(*chips) / static_cast<int32_t>(count)));
      }
      if (count == 1) Fill(b.temp_board, board_temp);
    }
  }
  return std::nullopt;
}

// TMax: the module's hottest chip (0 while idle: not a reading).
std::optional<double> ChipTemp(const Sections& s) {
  std::optional<double> hottest;
  for (std::string_view mm : s.modules)
    hottest = MaxOf(hottest, ValidTemp(FirstNumber(mm, "TMax")));
  return hottest;
}

std::vector<int32_t> ReadFans(const Sections& s) {
  std::vector<double> readings;
  for (std::string_view mm : s.modules) {
    for (size_t n = 1; n <= kMaxFans; ++n) {
      const std::optional<double> rpm = FirstNumber(mm, "Fan" + std::to_string(n));
      if (!rpm) break;
      readings.push_back(*rpm);
    }
  }
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

bool Idle(std::string_view mm) {
  if (const std::optional<std::string_view> status = Field(mm, "SYSTEMSTATU")) {
    return ContainsNoCase(*status, "In Idle");
  }
  return FirstNumber(mm, "STATE") == kStateIdle;
}

// "In Idle" is where soft-off (ascset softoff, the Q's schedule) puts a
// module: asleep on purpose. The 2025 firmware's stats say it in both
// SYSTEMSTATU and STATE; Nano 3s litestats only in STATE. Asleep, the rate is
// GHSspd (the driver's real-time speed), not the boards' since-start MGHS;
// awake too when no summary gave a short window (avalon-1566-stats.json:
// GHSspd 199241 GH/s, the MGHS sum 184007 is GHSavg).
void State(const Sections& s, Record& out) {
  if (s.modules.empty()) return;
  const bool asleep = std::all_of(s.modules.begin(), s.modules.end(), Idle);
  if (asleep) out.sleeping = true;
  const bool short_window =
      s.summary && (MemberOf(*s.summary, "MHS 5s") || MemberOf(*s.summary, "MHS 30s"));
  if (!asleep && short_window) return;
  std::optional<double> ghs;
  for (std::string_view mm : s.modules) {
    if (std::optional<double> v = FirstNumber(mm, "GHSspd")) ghs = ghs.value_or(0) + *v;
  }
  if (ghs) out.hashrate = Rate(ghs, kGiga);
}

// `key`[code] as the firmware writes it: "ECMM[4]".
std::string Code(std::string_view key, double code) {
  std::string out(key);
  out += '[';
  out += std::to_string(static_cast<int64_t>(code));
  out += ']';
  return out;
}

// One error per nonzero code of `key` (per board when it lists several).
void AddNonZero(std::string_view mm, std::string_view key, std::string_view what, Record& out) {
  const std::vector<double> codes = Numbers(mm, key);
  for (size_t i = 0; i < codes.size() && i < kMaxModuleBoards; ++i) {
    if (codes[i] == 0) continue;
    std::string message(what);
    if (codes.size() > 1) {
      message += ' ';  // appended apart: GCC 12 warns (-Wrestrict) on " " + std::string
      message += std::to_string(i);
    }
    out.errors.push_back({Code(key, codes[i]), std::move(message)});
  }
}

// MAC and model facts from VERSION; wall power; the nominal rate (GHSmm);
// the error codes the driver reports: ECMM (the controller), ECHU (each hash
// board), PS[0] (the power supply's status), SYSTEMSTATU "In Fault".
void Extras(const Sections& s, Record& out) {
  if (s.version && out.mac.empty()) out.mac = MacAddress(OptString(*s.version, "MAC"));

  std::optional<double> watts;
  std::optional<double> nominal_ghs;
  bool all_nominal = true;
  for (std::string_view mm : s.modules) {
    std::optional<double> w = FirstNumber(mm, "WALLPOWER");
    if (!w) {
      const std::vector<double> ps = Numbers(mm, "PS");
      if (ps.size() > kPsWallPowerIndex) w = ps[kPsWallPowerIndex];
    }
    if (w && *w > 0) watts = watts.value_or(0) + *w;
    const std::optional<double> ghs = Nominal(FirstNumber(mm, "GHSmm"));
    all_nominal = all_nominal && ghs.has_value();
    if (ghs) nominal_ghs = nominal_ghs.value_or(0) + *ghs;

    AddNonZero(mm, "ECMM", "controller error code", out);
    AddNonZero(mm, "ECHU", "hash board error code", out);
    const std::vector<double> ps = Numbers(mm, "PS");
    if (!ps.empty() && ps.front() != 0) {
      out.errors.push_back({Code("PS", ps.front()), "power supply status"});
    }
    if (const std::optional<std::string_view> st = Field(mm, "SYSTEMSTATU");
        st && ContainsNoCase(*st, "In Fault")) {
      out.errors.push_back({"", std::string(Trim(*st))});
    }
  }
  Fill(out.power_w, watts);
  if (all_nominal) Fill(out.hashrate_expected, Rate(nominal_ghs, kGiga));
}

}  // namespace

std::vector<std::string_view> CanaanModules(const Node& stats) {
  std::vector<std::string_view> out;
  for (element e : Objects(stats)) {
    ForEachMember(e, [&](std::string_view key, element value) {
      if (out.size() < kMaxModules && StartsWithNoCase(key, "MM ID") && key.size() > 5 &&
          IsDigit(key[5])) {
        if (const std::optional<std::string_view> mm = AsText(value)) out.push_back(*mm);
      }
    });
  }
  return out;
}

extern const Family kAvalon = {
    .name = "avalon",
    .poll = kPoll,
    .software = {},  // cgminer: the modules, not the software, say Avalon
    .recognise = Recognise,
    .build = Build,
    .model = Model,
    .stats_boards = ModuleBoards,
    .listed_boards = nullptr,
    .chip_temp = ChipTemp,
    .fans = ReadFans,
    .state = State,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
