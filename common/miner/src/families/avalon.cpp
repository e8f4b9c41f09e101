// Canaan AvalonMiners: each module's facts are one "MM ID<n>" string in
// STATS, "Ver[1047-2005...] ... Fan1[2896] MGHS[...] MTmax[61 64] TMax[...]".
#include <algorithm>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// The bracketed value of `key` in a module string.
std::optional<std::string_view> Field(std::string_view mm, std::string_view key) {
  for (size_t pos = mm.find(key); pos != std::string_view::npos; pos = mm.find(key, pos + 1)) {
    const size_t open = pos + key.size();
    if ((pos == 0 || mm[pos - 1] == ' ') && open < mm.size() && mm[open] == '[') {
      const size_t close = mm.find(']', open);
      if (close == std::string_view::npos) return std::nullopt;
      return mm.substr(open + 1, close - open - 1);
    }
  }
  return std::nullopt;
}

std::vector<double> Numbers(std::string_view mm, std::string_view key) {
  std::vector<double> out;
  const std::optional<std::string_view> field = Field(mm, key);
  if (!field) return out;
  std::string_view rest = *field;
  while (!rest.empty()) {
    const size_t space = rest.find(' ');
    if (std::optional<double> v = ParseNumber(rest.substr(0, space))) out.push_back(*v);
    if (space == std::string_view::npos) break;
    rest.remove_prefix(space + 1);
  }
  return out;
}

// The "MM ID<n>" strings of every module in STATS.
std::vector<std::string_view> Modules(const Sections& s) {
  std::vector<std::string_view> out;
  for (element e : Objects(s.stats)) {
    ForEachMember(e, [&](std::string_view key, element value) {
      if (StartsWithNoCase(key, "MM ID") && key.size() > 5 && IsDigit(key[5])) {
        if (const std::optional<std::string_view> mm = AsText(value)) out.push_back(*mm);
      }
    });
  }
  return out;
}

bool Recognise(const Sections& s, const Identity&) { return !Modules(s).empty(); }

// The first module's "Ver".
std::string Build(const Sections& s) {
  return std::string(Field(Modules(s).front(), "Ver").value_or(""));
}

// "AvalonMiner 1047" from Ver[1047-...].
std::string Model(const Sections& s, const Identity&) {
  const std::string_view ver = Field(Modules(s).front(), "Ver").value_or("");
  const size_t digits = std::find_if_not(ver.begin(), ver.end(), IsDigit) - ver.begin();
  return digits > 0 ? "AvalonMiner " + std::string(ver.substr(0, digits)) : "Avalon";
}

// MGHS[...] (GH/s) and MTmax[...] per hash board, numbered across modules.
void ModuleBoards(const Sections& s, bool may_add, Boards& boards) {
  if (!may_add) return;
  int32_t index = 0;
  for (std::string_view mm : Modules(s)) {
    const std::vector<double> rates = Numbers(mm, "MGHS");
    const std::vector<double> chip_max = Numbers(mm, "MTmax");
    for (size_t i = 0; i < std::max(rates.size(), chip_max.size()); ++i, ++index) {
      BoardStats& b = BoardAt(boards, index);
      if (i < rates.size()) Fill(b.hashrate, Rate(rates[i], kGiga));
      if (i < chip_max.size()) Fill(b.temp_chip, ValidTemp(chip_max[i]));
    }
  }
}

std::optional<double> ChipTemp(const Sections& s) {
  std::optional<double> hottest;
  for (std::string_view mm : Modules(s)) {
    const std::vector<double> tmax = Numbers(mm, "TMax");
    if (!tmax.empty()) hottest = MaxOf(hottest, ValidTemp(tmax.front()));
  }
  return hottest;
}

std::vector<int32_t> ReadFans(const Sections& s) {
  std::vector<double> readings;
  for (std::string_view mm : Modules(s)) {
    for (int n = 1; n <= static_cast<int>(kMaxFans); ++n) {
      const std::vector<double> rpm = Numbers(mm, "Fan" + std::to_string(n));
      if (rpm.empty()) break;
      readings.push_back(rpm.front());
    }
  }
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

}  // namespace

extern const Family kAvalon = {
    .name = "avalon",
    .poll = {},
    .software = {},  // cgminer: the modules, not the software, say Avalon
    .recognise = Recognise,
    .build = Build,
    .model = Model,
    .stats_boards = nullptr,
    .listed_boards = ModuleBoards,
    .chip_temp = ChipTemp,
    .fans = ReadFans,
    .state = nullptr,
    .extras = nullptr,
    .read_documents = nullptr,
};

}  // namespace asicmon
