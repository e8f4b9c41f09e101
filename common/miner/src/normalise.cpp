#include "normalise.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "json_repair.h"
#include "asicmon/protocol.h"

namespace asicmon {
namespace {

using simdjson::dom::element;
using Node = std::optional<element>;  // nullopt: the member is absent

constexpr double kMega = 1e6;
constexpr double kGiga = 1e9;

// Bitmain's SHA-256 models label GH/s as "GHS"; its altcoin models keep the label
// and change the unit (L3+ 504.56 "GHS" is 504 MH/s, D3 16346 "GHS" is 16 GH/s,
// B3 "GHS" is H/s). Boards and chips are those of a healthy stock unit, 0 where
// variants differ.
constexpr ModelInfo kModels[] = {
    {"Antminer S9", "sha256d", kGiga, 3, 63},
    {"Antminer S9i", "sha256d", kGiga, 3, 63},
    {"Antminer S9j", "sha256d", kGiga, 3, 63},
    {"Antminer T9", "sha256d", kGiga, 3, 0},
    {"Antminer T9+", "sha256d", kGiga, 3, 0},
    {"Antminer S17", "sha256d", kGiga, 3, 48},
    {"Antminer S17 Pro", "sha256d", kGiga, 3, 48},
    {"Antminer S17+", "sha256d", kGiga, 3, 0},
    {"Antminer T17", "sha256d", kGiga, 3, 0},
    {"Antminer T17+", "sha256d", kGiga, 3, 0},
    {"Antminer T15", "sha256d", kGiga, 3, 60},
    {"Antminer S19", "sha256d", kGiga, 3, 76},
    {"Antminer S19 Pro", "sha256d", kGiga, 3, 114},
    {"Antminer S19j Pro", "sha256d", kGiga, 3, 126},
    {"Antminer S19 XP", "sha256d", kGiga, 3, 110},
    {"Antminer L3", "scrypt", kMega, 4, 0},
    {"Antminer L3+", "scrypt", kMega, 4, 72},
    {"Antminer D3", "x11", kMega, 3, 60},
    {"Antminer E3", "ethash", kMega, 0, 0},
    {"Antminer B3", "tensority", 1, 0, 0},        // Bytom's Tensority, ~780 H/s
    {"braiins-am1-s9", "sha256d", kGiga, 3, 63},  // an S9's Type under early Braiins OS
    {"Whatsminer M3", "sha256d", kGiga, 3, 63},
    {"Whatsminer M20S", "sha256d", kGiga, 3, 0},
    {"Whatsminer M30S", "sha256d", kGiga, 3, 0},  // keeps M30S/M31S/M32 off the M3 entry
    {"Whatsminer M31S", "sha256d", kGiga, 3, 0},
    {"Whatsminer M32", "sha256d", kGiga, 3, 0},
    {"Avalon", "sha256d", kGiga, 0, 0},  // Canaan's AvalonMiners are all SHA-256
};

// What a model missing from kModels gets, by the family its name starts with.
constexpr ModelInfo kFamilies[] = {
    {"Antminer", "", kGiga},           // Bitmain builds for many algorithms: unknowable
    {"Whatsminer", "sha256d", kGiga},  // MicroBT builds Bitcoin miners only
    {"Braiins", "sha256d", kGiga},     // Braiins OS runs on SHA-256 Antminers only
};
constexpr ModelInfo kUnknownModel{};

// Sensor readings outside this range are broken sensors (the S9's temp2_7 = -83).
constexpr double kMinTempC = -40;
constexpr double kMaxTempC = 200;
constexpr double kMaxFanRpm = 100000;
constexpr double kMaxFreqMhz = 10000;
constexpr size_t kMaxFans = 32;  // bounds a hostile fan_num
// STATS "Mode" of S17 family firmware put to sleep ("miner-mode" 1).
constexpr double kAntminerSleepMode = 254;

// ---- Text -----------------------------------------------------------------

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

bool ContainsNoCase(std::string_view haystack, std::string_view needle) {
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsNoCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The number a whole string spells, nullopt for "", "32.8K" or anything else.
std::optional<double> ParseNumber(std::string_view s) {
  s = Trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// ---- JSON access that never throws -----------------------------------------

std::optional<std::string_view> AsText(element value) {
  std::string_view text;
  if (value.get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

// Numbers and numeric strings ("504.56"); "", "inf", "nan", null and other
// types are "not reported".
std::optional<double> AsNumber(element value) {
  double d = 0;
  if (value.get(d) == simdjson::SUCCESS) {  // integers convert too
    return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
  }
  if (const std::optional<std::string_view> text = AsText(value)) return ParseNumber(*text);
  return std::nullopt;
}

std::optional<double> OptNumber(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  return v ? AsNumber(*v) : std::nullopt;
}

std::optional<int64_t> OptInt(element obj, std::string_view key) {
  const std::optional<double> d = OptNumber(obj, key);
  if (!d || std::fabs(*d) > 9e18) return std::nullopt;
  return static_cast<int64_t>(std::llround(*d));
}

std::optional<int32_t> OptInt32(element obj, std::string_view key) {
  const std::optional<double> d = OptNumber(obj, key);
  if (!d || std::fabs(*d) > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int32_t>(std::lround(*d));
}

std::string OptString(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  const std::optional<std::string_view> text = v ? AsText(*v) : std::nullopt;
  return text ? std::string(*text) : std::string();
}

bool IsTrue(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  if (!v) return false;
  bool b = false;
  if (v->get(b) == simdjson::SUCCESS) return b;
  const std::optional<std::string_view> text = AsText(*v);
  return text && EqualsNoCase(*text, "true");
}

// Elements of an array that are objects; nothing for anything else.
std::vector<element> Objects(const Node& array) {
  std::vector<element> out;
  simdjson::dom::array list;
  if (!array || array->get(list) != simdjson::SUCCESS) return out;
  for (element e : list) {
    if (e.is_object()) out.push_back(e);
  }
  return out;
}

// Calls fn(key, value) for each member of `obj`; nothing when it is not an object.
template <typename Fn>
void ForEachMember(element obj, Fn fn) {
  simdjson::dom::object o;
  if (obj.get(o) != simdjson::SUCCESS) return;
  for (const simdjson::dom::key_value_pair member : o) fn(member.key, member.value);
}

// ---- Values with units and ranges --------------------------------------------

std::optional<double> MaxOf(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

// Firmware writes 0 for a sensor it does not have or cannot read (every
// unpopulated chain, the S9's temp7 on a hashing board, bOS+'s "Chip":0.0), so a
// reading of exactly 0 is "not reported"; real readings near 0 (the cold S19's
// "2--1-20-22") and below it stay.
std::optional<double> ValidTemp(std::optional<double> t) {
  if (!t || *t == 0 || *t < kMinTempC || *t > kMaxTempC) return std::nullopt;
  return t;
}

// The hottest valid reading of a sensor list: S17/S19 write "60-71-83-96", and a
// '-' right after a separator is a sign: "2--1-20-22" is 2, -1, 20, 22.
std::optional<double> MaxTempOfList(std::string_view list) {
  std::optional<double> hottest;
  size_t i = 0;
  while (i < list.size()) {
    const size_t start = i;
    if (list[i] == '-') ++i;
    while (i < list.size() && list[i] != '-') ++i;
    hottest = MaxOf(hottest, ValidTemp(ParseNumber(list.substr(start, i - start))));
    if (i < list.size()) ++i;
  }
  return hottest;
}

std::optional<double> TempField(element obj, std::string_view key) {
  const Node v = MemberOf(obj, key);
  if (!v) return std::nullopt;
  if (const std::optional<std::string_view> list = AsText(*v)) return MaxTempOfList(*list);
  return ValidTemp(AsNumber(*v));
}

std::optional<double> FreqField(element obj, std::string_view key) {
  const std::optional<double> f = OptNumber(obj, key);
  if (!f || *f <= 0 || *f > kMaxFreqMhz) return std::nullopt;
  return f;
}

std::optional<double> Rate(std::optional<double> value, double unit) {
  if (!value || *value < 0) return std::nullopt;
  return *value * unit;
}

// A nominal rate of 0 (unpopulated chains, S17's chain_rateideal, sleeping units)
// says nothing about what the unit should do.
std::optional<double> Nominal(std::optional<double> rate) {
  return rate && *rate > 0 ? rate : std::nullopt;
}

// H/s per unit of a "rate_unit" ("GH"), nullopt when unknown.
std::optional<double> RateUnit(std::string_view unit) {
  unit = Trim(unit);
  if (StartsWithNoCase(unit, "TH")) return 1e12;
  if (StartsWithNoCase(unit, "GH")) return kGiga;
  if (StartsWithNoCase(unit, "MH")) return kMega;
  if (StartsWithNoCase(unit, "KH")) return 1e3;
  if (StartsWithNoCase(unit, "H")) return 1;
  return std::nullopt;
}

// kGhsLabel: "GHS" as the model uses it; kGhs: true GH/s (Whatsminer's "Factory GHS").
enum class Unit { kMhs, kGhsLabel, kGhs };
struct RateKey {
  std::string_view key;
  Unit unit;
};

// Short window. Avalon's shortest is 30 s. Whatsminer's "HS RT" is MH/s whatever
// its name says (76690808.44 on a 76 TH/s M31S).
constexpr RateKey kShortRateKeys[] = {
    {"MHS 5s", Unit::kMhs}, {"GHS 5s", Unit::kGhsLabel},     {"MHS 30s", Unit::kMhs},
    {"HS RT", Unit::kMhs},  {"total_rate", Unit::kGhsLabel}, {"total rate", Unit::kGhsLabel}};
// Since start first: bOS+'s "MHS 24h" is scaled to a full day even an hour after boot.
constexpr RateKey kAvgRateKeys[] = {{"MHS av", Unit::kMhs},
                                    {"GHS av", Unit::kGhsLabel},
                                    {"GHS 30m", Unit::kGhsLabel},
                                    {"rate_30m", Unit::kGhsLabel},
                                    {"MHS 24h", Unit::kMhs}};
constexpr RateKey kExpectedRateKeys[] = {{"total_rateideal", Unit::kGhsLabel},
                                         {"Target MHS", Unit::kMhs},
                                         {"Factory GHS", Unit::kGhs},
                                         {"Nominal MHS", Unit::kMhs}};

std::optional<double> FirstRate(const Node& obj, std::span<const RateKey> keys, double ghs_unit) {
  if (!obj) return std::nullopt;
  for (const RateKey& k : keys) {
    const double unit = k.unit == Unit::kMhs ? kMega : k.unit == Unit::kGhs ? kGiga : ghs_unit;
    if (std::optional<double> rate = Rate(OptNumber(*obj, k.key), unit)) return rate;
  }
  return std::nullopt;
}

// Nonzero readings (absent fans read 0), then stopped fans as 0 up to the count
// the firmware declares.
std::vector<int32_t> Fans(const std::vector<double>& readings, int64_t declared) {
  std::vector<int32_t> fans;
  for (double rpm : readings) {
    if (rpm > 0 && rpm <= kMaxFanRpm && fans.size() < kMaxFans) {
      fans.push_back(static_cast<int32_t>(std::lround(rpm)));
    }
  }
  const size_t want = std::min(static_cast<size_t>(std::max<int64_t>(declared, 0)), kMaxFans);
  if (fans.size() < want) fans.resize(want, 0);
  return fans;
}

// ---- The reply's sections ---------------------------------------------------

// What the record is made from, whichever command carried it.
struct Sections {
  Node version;                          // VERSION[0]
  Node summary;                          // SUMMARY[0]
  Node stats;                            // STATS
  Node pools;                            // POOLS
  Node devs;                             // DEVS (devs and edevs)
  Node fans;                             // FANS (Braiins OS)
  Node temps;                            // TEMPS (Braiins OS)
  Node devdetails;                       // DEVDETAILS
  Node status_msg;                       // Whatsminer "status": its Msg is an object of facts
  std::vector<std::string> descriptions;  // "cgminer 4.9.2", "btminer", ...
};

struct SectionSlot {
  std::string_view key;
  Node Sections::*slot;
  bool first_element;  // the section is one object in an array
};
constexpr SectionSlot kSectionSlots[] = {
    {"VERSION", &Sections::version, true}, {"SUMMARY", &Sections::summary, true},
    {"STATS", &Sections::stats, false},    {"POOLS", &Sections::pools, false},
    {"DEVS", &Sections::devs, false},      {"FANS", &Sections::fans, false},
    {"TEMPS", &Sections::temps, false},    {"DEVDETAILS", &Sections::devdetails, false},
};

struct Failure {
  std::string command;  // empty for a single-command reply
  ReplyStatus status;
};

// Takes the sections of one successful command reply; true when it carried any.
bool TakeSections(element part, Sections& sections) {
  bool used = false;
  for (const SectionSlot& s : kSectionSlots) {
    const Node v = MemberOf(part, s.key);
    simdjson::dom::array list;
    element first;
    if (!v || v->get(list) != simdjson::SUCCESS || list.at(0).get(first) != simdjson::SUCCESS) {
      continue;  // absent, not an array, or empty
    }
    if (s.first_element && !first.is_object()) continue;
    if (!(sections.*s.slot)) sections.*s.slot = s.first_element ? first : *v;
    used = true;
  }
  if (const Node msg = MemberOf(part, "Msg"); msg && msg->is_object()) {
    if (!sections.status_msg) sections.status_msg = msg;
    used = true;
  }
  const std::vector<element> status = Objects(MemberOf(part, "STATUS"));
  const element block = status.empty() ? part : status.front();
  if (std::string d = OptString(block, "Description"); !d.empty()) {
    sections.descriptions.push_back(std::move(d));
  }
  return used;
}

// Walks a single- or multi-command reply; true when some part carried data.
bool CollectReply(element reply, Sections& sections, std::vector<Failure>& failures) {
  auto take = [&](std::string command, element part) {
    ReplyStatus status = CheckReplyStatus(part);
    if (!status.ok()) {
      failures.push_back({std::move(command), std::move(status)});
      return false;
    }
    return TakeSections(part, sections);
  };
  if (MemberOf(reply, "STATUS")) return take({}, reply);
  bool usable = false;
  ForEachMember(reply, [&](std::string_view command, element value) {
    if (!value.is_array() && !value.is_object()) return;  // "id":1 and such
    const Node part = ReplyPart(reply, command);
    if (!part) {
      failures.push_back({std::string(command), {ReplyStatus::Kind::kError, -1, "empty reply", ""}});
    } else if (take(std::string(command), *part)) {
      usable = true;
    }
  });
  return usable;
}

std::string DescribeFailures(const std::vector<Failure>& failures) {
  std::string out;
  for (const Failure& f : failures) {
    if (!out.empty()) out += "; ";
    if (!f.command.empty()) out += f.command + ": ";
    out += f.status.kind == ReplyStatus::Kind::kMissing ? "not a miner API reply (no STATUS)"
                                                        : f.status.msg;
  }
  return out;
}

// ---- Identity ---------------------------------------------------------------

// Miner software, as a VERSION key or the first word of a STATUS Description.
struct Software {
  std::string_view key;
  std::string_view name;
};
constexpr Software kSoftware[] = {
    {"bmminer", "BMMiner"},   {"cgminer", "CGMiner"}, {"bosminer+", "BOSminer+"},
    {"bosminer", "BOSminer"}, {"btminer", "btminer"}, {"luxminer", "LUXminer"},
};

const Software* FindSoftware(std::string_view word) {
  for (const Software& s : kSoftware) {
    if (EqualsNoCase(word, s.key)) return &s;
  }
  return nullptr;
}

bool IsHexTail(std::string_view s) {
  return s.size() >= 7 && std::all_of(s.begin(), s.end(), [](char c) {
           return IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f');
         });
}

struct Identity {
  std::string model;
  std::string firmware;
  std::string firmware_build;
  bool braiins_plus = false;
};

// "BOSminer+" + "0.2.0-36c56a9363" -> "BOSminer+ 0.2.0": the git hash is build
// detail; it becomes the build when nothing better names one.
void SetSoftware(const Software& software, std::string_view version, Identity& id) {
  version = Trim(version);
  std::string_view shown = version;
  if (const size_t dash = version.rfind('-');
      dash != std::string_view::npos && IsHexTail(version.substr(dash + 1))) {
    shown = version.substr(0, dash);
    if (id.firmware_build.empty()) id.firmware_build = std::string(version);
  }
  id.firmware = std::string(software.name);
  if (!shown.empty()) id.firmware += " " + std::string(shown);
  id.braiins_plus = id.braiins_plus || software.name == "BOSminer+";
}

// The "MM ID0" string of an Avalon: "Ver[1047-2005...] ... Fan1[2896] MTmax[61 64]".
std::optional<std::string_view> AvalonField(std::string_view mm, std::string_view key) {
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

std::vector<double> AvalonNumbers(std::string_view mm, std::string_view key) {
  std::vector<double> out;
  const std::optional<std::string_view> field = AvalonField(mm, key);
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

// The "MM ID<n>" strings of every Avalon module in STATS.
std::vector<std::string_view> AvalonModules(const Sections& s) {
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

bool IsWhatsminerBoard(element e) {
  const std::string id = OptString(e, "ID");
  return id.size() > 2 && id.compare(0, 2, "SM") == 0 && IsDigit(id[2]) &&
         MemberOf(e, "chip_num").has_value();
}

bool LooksLikeWhatsminer(const Sections& s, const Identity& id) {
  if (id.firmware == "btminer") return true;
  for (const std::string& d : s.descriptions) {
    if (StartsWithNoCase(d, "btminer") || StartsWithNoCase(d, "whatsminer")) return true;
  }
  if (s.summary && (MemberOf(*s.summary, "Fan Speed In") || MemberOf(*s.summary, "Firmware Version"))) {
    return true;
  }
  if (s.status_msg &&
      (MemberOf(*s.status_msg, "btmineroff") || MemberOf(*s.status_msg, "Firmware Version"))) {
    return true;
  }
  for (element e : Objects(s.stats)) {
    if (IsWhatsminerBoard(e)) return true;
  }
  for (element e : Objects(s.devs)) {
    if (MemberOf(e, "PCB SN")) return true;
  }
  return false;
}

// Whatsminer writes its build as "'20200917.22.REL'", quotes included.
std::string WhatsminerBuild(const Sections& s) {
  for (const Node& obj : {s.summary, s.status_msg}) {
    if (!obj) continue;
    const std::string text = OptString(*obj, "Firmware Version");
    std::string_view build = Trim(text);
    while (!build.empty() && (build.front() == '\'' || build.front() == '"'))
      build.remove_prefix(1);
    while (!build.empty() && (build.back() == '\'' || build.back() == '"')) build.remove_suffix(1);
    if (!build.empty()) return std::string(build);
  }
  return {};
}

Identity ReadIdentity(const Sections& s) {
  Identity id;
  // VERSION names the miner; S9/L3+ stats repeat it in their first STATS entry.
  std::vector<element> sources;
  if (s.version) sources.push_back(*s.version);
  for (element e : Objects(s.stats)) sources.push_back(e);

  for (element src : sources) {
    if (!id.model.empty()) break;
    const std::string type = OptString(src, "Type");
    id.model = Trim(std::string_view(type).substr(0, type.find_first_of("\r\n")));  // "S9\nV1.3.58"
  }
  for (element src : sources) {
    const Software* software = nullptr;
    std::string version;
    ForEachMember(src, [&](std::string_view key, element value) {
      if (software == nullptr && (software = FindSoftware(key)) != nullptr) {
        version = AsText(value).value_or("");
      }
    });
    if (software == nullptr) continue;
    const std::string miner(Trim(OptString(src, "Miner")));
    const std::string compiled(Trim(OptString(src, "CompileTime")));
    if (!miner.empty() && !compiled.empty()) {
      id.firmware_build = miner + " (" + compiled + ")";
    } else if (!miner.empty() || !compiled.empty()) {
      id.firmware_build = miner + compiled;
    }
    SetSoftware(*software, version, id);
    break;
  }
  // No VERSION: "cgminer 4.9.2", "btminer", "BOSminer bosminer-plus-am1-s9 0.4.0-908ca41d".
  for (const std::string& d : s.descriptions) {
    if (!id.firmware.empty()) break;
    const std::string_view text = Trim(d);
    const Software* software = FindSoftware(text.substr(0, text.find(' ')));
    if (software == nullptr) continue;
    const size_t last_space = text.rfind(' ');
    SetSoftware(*software, last_space == std::string_view::npos ? "" : text.substr(last_space + 1),
                id);
    id.braiins_plus = id.braiins_plus || ContainsNoCase(text, "plus");
  }

  const std::vector<std::string_view> avalon = AvalonModules(s);
  // Empty when absent (an optional here trips a GCC 12 -Wmaybe-uninitialized false positive).
  const std::string_view avalon_ver =
      avalon.empty() ? std::string_view() : AvalonField(avalon.front(), "Ver").value_or("");
  if (id.firmware_build.empty()) {
    id.firmware_build = !avalon_ver.empty() ? std::string(avalon_ver) : WhatsminerBuild(s);
  }
  if (!id.model.empty()) return id;

  // No Type: name the unit from what its family does say.
  if (!avalon.empty()) {
    const std::string_view ver = avalon_ver;
    const size_t digits = std::find_if_not(ver.begin(), ver.end(), IsDigit) - ver.begin();
    id.model = digits > 0 ? "AvalonMiner " + std::string(ver.substr(0, digits)) : "Avalon";
  } else if (StartsWithNoCase(id.firmware, "BOSminer")) {
    // bOS+ reports no hardware type at all: name the firmware, whose units are all SHA-256.
    id.model = id.braiins_plus ? "Braiins OS+" : "Braiins OS";
  } else if (LooksLikeWhatsminer(s, id)) {
    // devdetails "Model" is "M20S.V10" or "M31SV20": the variant after '.' or 'V' goes.
    const std::vector<element> details = Objects(s.devdetails);
    const std::string text = details.empty() ? "" : OptString(details.front(), "Model");
    const std::string_view model = Trim(std::string_view(text).substr(0, text.find_first_of(".V")));
    const bool named = model.size() >= 2 && model[0] == 'M' && IsDigit(model[1]);
    id.model = named ? "Whatsminer " + std::string(model) : "Whatsminer";
  }
  return id;
}

const ModelInfo* LongestPrefix(std::span<const ModelInfo> table, std::string_view type) {
  const ModelInfo* best = nullptr;
  for (const ModelInfo& m : table) {
    if (StartsWithNoCase(type, m.type_prefix) &&
        (best == nullptr || m.type_prefix.size() > best->type_prefix.size())) {
      best = &m;
    }
  }
  return best;
}

const ModelInfo& InfoFor(std::string_view model) {
  if (const ModelInfo* m = FindModel(model)) return *m;
  if (const ModelInfo* f = LongestPrefix(kFamilies, model)) return *f;
  return kUnknownModel;
}

// ---- Boards -----------------------------------------------------------------

using Boards = std::map<int32_t, BoardStats>;

template <typename T>
void Fill(std::optional<T>& field, std::optional<T> value) {
  if (!field && value) field = value;
}

BoardStats& BoardAt(Boards& boards, int32_t index) {
  BoardStats& b = boards[index];
  b.index = index;
  return b;
}

// The N of every "chain_acnN" / "chain_acsN" key, ascending.
std::vector<int32_t> ChainIndices(element stats) {
  std::vector<int32_t> out;
  ForEachMember(stats, [&](std::string_view key, element) {
    for (std::string_view prefix : {"chain_acn", "chain_acs"}) {
      const std::string_view digits = key.substr(std::min(key.size(), prefix.size()));
      if (!key.starts_with(prefix) || digits.empty() || digits.size() > 9 ||
          !std::all_of(digits.begin(), digits.end(), IsDigit)) {
        continue;
      }
      int32_t n = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
      out.push_back(n);
    }
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Chip states in chain_acsN: " oooooooo ooo", 'x' for a failed chip.
std::optional<int32_t> CountOf(std::string_view acs, char state) {
  return static_cast<int32_t>(std::count(acs.begin(), acs.end(), state));
}

// Antminer chains, one per populated chain N; returns the watts vnish reports
// as chain_consumptionN when every populated chain has it.
std::optional<double> AntminerChains(element stats, double ghs_unit, Boards& boards) {
  double watts = 0;
  bool all_have_watts = true;
  for (int32_t index : ChainIndices(stats)) {
    const std::string n = std::to_string(index);
    const std::optional<int32_t> chips = OptInt32(stats, "chain_acn" + n);
    const std::string acs = OptString(stats, "chain_acs" + n);
    const bool has_acs = !Trim(acs).empty();
    if (!(chips && *chips > 0) && !has_acs) continue;

    BoardStats& b = BoardAt(boards, index);
    Fill(b.hashrate, Rate(OptNumber(stats, "chain_rate" + n), ghs_unit));
    Fill(b.hashrate_expected, Nominal(Rate(OptNumber(stats, "chain_rateideal" + n), ghs_unit)));
    Fill(b.temp_board, MaxOf(TempField(stats, "temp" + n), TempField(stats, "temp_pcb" + n)));
    Fill(b.temp_chip, MaxOf(TempField(stats, "temp2_" + n), TempField(stats, "temp_chip" + n)));
    Fill(b.chips, chips);
    if (has_acs) {
      Fill(b.chips_ok, CountOf(acs, 'o'));
      Fill(b.chips_failed, CountOf(acs, 'x'));
    }
    for (std::string_view key : {"freq_avg", "freq", "frequency"}) {
      Fill(b.freq_mhz, FreqField(stats, std::string(key) + n));
    }
    Fill(b.hw_errors, OptInt(stats, "chain_hw" + n));

    const std::optional<double> w = OptNumber(stats, "chain_consumption" + n);
    all_have_watts = all_have_watts && w && *w > 0;
    if (w) watts += *w;
  }
  return all_have_watts && watts > 0 ? std::optional<double>(watts) : std::nullopt;
}

// Whatsminer's older firmware: one STATS entry per board, "ID":"SM0".
void WhatsminerStatsBoards(const Sections& s, Boards& boards) {
  for (element e : Objects(s.stats)) {
    if (!IsWhatsminerBoard(e)) continue;
    const std::string id = OptString(e, "ID");
    int32_t fallback = 0;
    std::from_chars(id.data() + 2, id.data() + id.size(), fallback);
    BoardStats& b = BoardAt(boards, OptInt32(e, "slot").value_or(fallback));
    Fill(b.chips, OptInt32(e, "chip_num"));
    Fill(b.chips_ok, OptInt32(e, "ok_chips"));
    Fill(b.chips_failed, OptInt32(e, "err_chips"));
    Fill(b.freq_mhz, FreqField(e, "freqs_avg"));
    Fill(b.temp_board, MaxOf(TempField(e, "temp_now_max"), TempField(e, "temp_1")));
  }
}

// devs/edevs (Whatsminer, bOS+) and temps (bOS+). They only add boards when
// STATS gave none, as a devs list may number them apart from STATS' chains.
void DeviceBoards(const Sections& s, bool may_add, Boards& boards) {
  auto board = [&](element e, size_t position, std::string_view id_key) -> BoardStats* {
    const int32_t index =
        OptInt32(e, "ID").value_or(OptInt32(e, id_key).value_or(static_cast<int32_t>(position)));
    if (!may_add && boards.find(index) == boards.end()) return nullptr;
    return &BoardAt(boards, index);
  };
  const std::vector<element> devs = Objects(s.devs);
  for (size_t i = 0; i < devs.size(); ++i) {
    const element e = devs[i];
    BoardStats* b = board(e, i, "ASC");
    if (b == nullptr) continue;
    Fill(b->hashrate, Rate(OptNumber(e, "MHS 5s"), kMega));
    Fill(b->hashrate_expected, Nominal(Rate(OptNumber(e, "Nominal MHS"), kMega)));
    Fill(b->temp_board, TempField(e, "Temperature"));
    Fill(b->temp_chip, TempField(e, "Chip Temp Max"));
    Fill(b->chips, OptInt32(e, "Effective Chips"));
    Fill(b->freq_mhz, FreqField(e, "Chip Frequency"));
    Fill(b->hw_errors, OptInt(e, "Hardware Errors"));
  }
  const std::vector<element> temps = Objects(s.temps);
  for (size_t i = 0; i < temps.size(); ++i) {
    BoardStats* b = board(temps[i], i, "TEMP");
    if (b == nullptr) continue;
    Fill(b->temp_board, TempField(temps[i], "Board"));
    Fill(b->temp_chip, TempField(temps[i], "Chip"));
  }
}

// Avalon modules: MGHS[...] (GH/s) and MTmax[...] per hash board.
void AvalonBoards(const std::vector<std::string_view>& modules, bool may_add, Boards& boards) {
  if (!may_add) return;
  int32_t index = 0;
  for (std::string_view mm : modules) {
    const std::vector<double> rates = AvalonNumbers(mm, "MGHS");
    const std::vector<double> chip_max = AvalonNumbers(mm, "MTmax");
    for (size_t i = 0; i < std::max(rates.size(), chip_max.size()); ++i, ++index) {
      BoardStats& b = BoardAt(boards, index);
      if (i < rates.size()) Fill(b.hashrate, Rate(rates[i], kGiga));
      if (i < chip_max.size()) Fill(b.temp_chip, ValidTemp(chip_max[i]));
    }
  }
}

// ---- Fans ---------------------------------------------------------------------

std::vector<int32_t> ReadFans(const Sections& s, const Node& antminer,
                              const std::vector<std::string_view>& avalon) {
  if (antminer) {
    std::map<int32_t, double> by_number;  // "fan5", "fan6": in fan order
    ForEachMember(*antminer, [&](std::string_view key, element value) {
      const std::string_view digits = key.substr(std::min<size_t>(key.size(), 3));
      if (!key.starts_with("fan") || digits.empty() || digits.size() > 3 ||
          !std::all_of(digits.begin(), digits.end(), IsDigit)) {
        return;
      }
      int32_t n = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (std::optional<double> rpm = AsNumber(value)) by_number[n] = *rpm;
    });
    std::vector<double> readings;
    for (const auto& [n, rpm] : by_number) readings.push_back(rpm);
    std::vector<int32_t> fans = Fans(readings, OptInt(*antminer, "fan_num").value_or(0));
    if (!fans.empty()) return fans;
  }
  if (s.summary) {  // Whatsminer: one fan in, one out
    std::vector<double> readings;
    for (std::string_view key : {"Fan Speed In", "Fan Speed Out"}) {
      if (std::optional<double> rpm = OptNumber(*s.summary, key)) readings.push_back(*rpm);
    }
    std::vector<int32_t> fans = Fans(readings, static_cast<int64_t>(readings.size()));
    if (!fans.empty()) return fans;
  }
  {  // bOS+ lists every fan header, the unused ones at 0 rpm
    std::vector<double> readings;
    for (element e : Objects(s.fans)) {
      if (std::optional<double> rpm = OptNumber(e, "RPM")) readings.push_back(*rpm);
    }
    std::vector<int32_t> fans = Fans(readings, 0);
    if (!fans.empty()) return fans;
  }
  std::vector<double> readings;
  for (std::string_view mm : avalon) {
    for (int n = 1; n <= static_cast<int>(kMaxFans); ++n) {
      const std::vector<double> rpm = AvalonNumbers(mm, "Fan" + std::to_string(n));
      if (rpm.empty()) break;
      readings.push_back(rpm.front());
    }
  }
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

// ---- Pools ----------------------------------------------------------------------

// The pool in use: of those with a live stratum connection ("Stratum Active",
// which cgminer keeps up to backup pools too, as on the S17 Pro), else of the
// "Alive" ones, the first by Priority.
void ReadPools(const Sections& s, Record& out) {
  const std::vector<element> elements = Objects(s.pools);
  bool any_stratum_active = false;
  for (element e : elements) {
    any_stratum_active = any_stratum_active || IsTrue(e, "Stratum Active");
  }

  std::optional<size_t> active;
  for (size_t i = 0; i < elements.size(); ++i) {
    const element e = elements[i];
    PoolInfo p;
    p.index = OptInt32(e, "POOL").value_or(static_cast<int32_t>(i));
    p.url = OptString(e, "URL");
    p.user = OptString(e, "User");
    p.status = OptString(e, "Status");
    p.priority = OptInt32(e, "Priority");
    p.accepted = OptInt(e, "Accepted");
    p.rejected = OptInt(e, "Rejected");
    p.stale = OptInt(e, "Stale");
    const bool candidate =
        any_stratum_active ? IsTrue(e, "Stratum Active") : EqualsNoCase(p.status, "Alive");
    const auto rank = [](const PoolInfo& pool) {
      return pool.priority.value_or(std::numeric_limits<int32_t>::max());
    };
    if (candidate && (!active || rank(p) < rank(out.pools[*active]))) active = out.pools.size();
    out.pools.push_back(std::move(p));
  }
  if (active) {
    out.pools[*active].active = true;
    out.worker = out.pools[*active].user;
  }
}

// ---- Measurements -------------------------------------------------------------

// The STATS entry of an Antminer (or cgminer-alike) that carries the miner's
// figures: chain_acnN, "GHS 5s".
Node AntminerStats(const Sections& s) {
  for (element e : Objects(s.stats)) {
    if (MemberOf(e, "GHS 5s") || MemberOf(e, "GHS av") || !ChainIndices(e).empty()) return e;
  }
  return std::nullopt;
}

// A field summed over boards or pools; nullopt when any lacks it, since a
// partial sum would understate the unit.
template <typename Item, typename Get>
auto SumOver(const std::vector<Item>& items, Get get) -> decltype(get(items.front())) {
  if (items.empty()) return std::nullopt;
  typename decltype(get(items.front()))::value_type total{};
  for (const Item& item : items) {
    const auto v = get(item);
    if (!v) return std::nullopt;
    total += *v;
  }
  return total;
}

void ReadMeasurements(const Sections& s, const ModelInfo& info, Record& out) {
  const Node antminer = AntminerStats(s);
  const std::vector<std::string_view> avalon = AvalonModules(s);

  // "rate_unit" (S17, S19, T15) says what the "GHS" labels hold, overriding the table.
  double ghs_unit = info.ghs_label_unit;
  for (const Node& obj : {antminer, s.summary}) {
    if (!obj) continue;
    if (std::optional<double> unit = RateUnit(OptString(*obj, "rate_unit"))) {
      ghs_unit = *unit;
      break;
    }
  }

  Boards boards;
  std::optional<double> chain_watts;
  if (antminer) chain_watts = AntminerChains(*antminer, ghs_unit, boards);
  WhatsminerStatsBoards(s, boards);
  const bool may_add = boards.empty();
  DeviceBoards(s, may_add, boards);
  AvalonBoards(avalon, may_add, boards);
  for (const auto& entry : boards) out.boards.push_back(entry.second);

  for (const Node& src : {s.summary, antminer}) {
    Fill(out.hashrate, FirstRate(src, kShortRateKeys, ghs_unit));
    Fill(out.hashrate_avg, FirstRate(src, kAvgRateKeys, ghs_unit));
    Fill(out.hashrate_expected, Nominal(FirstRate(src, kExpectedRateKeys, ghs_unit)));
  }
  Fill(out.hashrate, SumOver(out.boards, [](const BoardStats& b) { return b.hashrate; }));
  Fill(out.hashrate_expected,
       SumOver(out.boards, [](const BoardStats& b) { return b.hashrate_expected; }));
  if (s.status_msg && IsTrue(*s.status_msg, "btmineroff")) {
    Fill(out.hashrate, std::optional<double>(0));  // mining software off: hashing at 0, known
    out.sleeping = true;
  }
  // S17 family firmware in sleep mode (antminer-s17plus/t17plus-stats-sleeping.json).
  // An S19 asleep still says "Mode":2, so its sleep is known only to control.
  if (antminer && OptNumber(*antminer, "Mode") == kAntminerSleepMode) out.sleeping = true;

  if (s.summary) out.uptime_s = OptInt(*s.summary, "Elapsed");
  for (element e : Objects(s.stats)) Fill(out.uptime_s, OptInt(e, "Elapsed"));

  if (s.summary) {
    out.accepted = OptInt(*s.summary, "Accepted");
    out.rejected = OptInt(*s.summary, "Rejected");
    out.hw_errors = OptInt(*s.summary, "Hardware Errors");
  }
  // Without a summary, the pools' and boards' counters add up to the same totals.
  Fill(out.accepted, SumOver(out.pools, [](const PoolInfo& p) { return p.accepted; }));
  Fill(out.rejected, SumOver(out.pools, [](const PoolInfo& p) { return p.rejected; }));
  Fill(out.hw_errors, SumOver(out.boards, [](const BoardStats& b) { return b.hw_errors; }));

  std::optional<double> chip_max;
  std::optional<double> board_max;
  for (const BoardStats& b : out.boards) {
    chip_max = MaxOf(chip_max, b.temp_chip);
    board_max = MaxOf(board_max, b.temp_board);
  }
  if (s.summary) {
    chip_max = MaxOf(chip_max, TempField(*s.summary, "Chip Temp Max"));
    board_max = MaxOf(board_max, TempField(*s.summary, "Temperature"));
  }
  for (std::string_view mm : avalon) {
    const std::vector<double> tmax = AvalonNumbers(mm, "TMax");
    if (!tmax.empty()) chip_max = MaxOf(chip_max, ValidTemp(tmax.front()));
  }
  out.temp_max = chip_max ? chip_max : board_max;  // never the firmware's own "temp_max"

  out.fans = ReadFans(s, antminer, avalon);

  if (s.summary) {
    for (std::string_view key : {"Power", "Power_RT"}) {
      const std::optional<double> w = OptNumber(*s.summary, key);
      if (w && *w > 0) {
        out.power_w = w;
        break;
      }
    }
  }
  Fill(out.power_w, chain_watts);
}

}  // namespace

const ModelInfo* FindModel(std::string_view type) { return LongestPrefix(kModels, type); }

void NormaliseReply(simdjson::dom::element reply, Record& record) {
  Sections sections;
  std::vector<Failure> failures;
  bool usable = false;
  simdjson::dom::array documents;
  if (reply.is_object()) {
    usable = CollectReply(reply, sections, failures);
  } else if (reply.get(documents) == simdjson::SUCCESS) {
    // documents glued together, as the repair returns them
    for (element doc : documents) {
      if (doc.is_object() && CollectReply(doc, sections, failures)) usable = true;
    }
  }

  Record out;
  Identity id = ReadIdentity(sections);
  const ModelInfo& info = InfoFor(id.model);
  out.model = std::move(id.model);
  out.firmware = std::move(id.firmware);
  out.firmware_build = std::move(id.firmware_build);
  out.algorithm = std::string(info.algorithm);
  ReadPools(sections, out);
  ReadMeasurements(sections, info, out);

  if (usable) {
    out.status = MinerStatus::kOk;
    out.error = DescribeFailures(failures);
  } else if (failures.empty()) {
    out.status = MinerStatus::kApiError;
    out.error = "reply carries no miner data";
  } else {
    const bool denied = std::any_of(failures.begin(), failures.end(), [](const Failure& f) {
      return f.status.kind == ReplyStatus::Kind::kDenied;
    });
    out.status = denied ? MinerStatus::kAuthError : MinerStatus::kApiError;
    out.error = DescribeFailures(failures);
  }

  // What the reply says; the caller's envelope, address and poll time stay.
  ForEachField<Record>([&](const auto& f) {
    if (f.source == FieldSource::kReply) record.*f.member = std::move(out.*f.member);
  });
}

void NormaliseRawReply(std::string_view raw, Record& record) {
  thread_local MinerJsonParser parser;
  Result<simdjson::dom::element> doc = parser.Parse(raw);
  if (!doc.ok()) {
    record.status = MinerStatus::kParseError;
    record.error = doc.status().message();
    return;
  }
  NormaliseReply(*doc, record);
}

}  // namespace asicmon
