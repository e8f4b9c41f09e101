#include "normalise.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/protocol.h"
#include "families/family.h"
#include "json_repair.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// ---- The reply's sections ---------------------------------------------------

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
    {"TUNERSTATUS", &Sections::tunerstatus, false}, {"POWER", &Sections::power, false},
    {"CONFIG", &Sections::config, true},
};

struct Failure {
  std::string command;  // empty for a single-command reply
  ReplyStatus status;
};

// Takes the sections of one successful command reply; true when it carried any.
bool TakeSections(element part, Sections& sections) {
  bool used = false;
  if (const Node info = MemberOf(part, "INFO"); info && info->is_object() && !sections.info) {
    sections.info = info;
  }
  // The new layout's STATS is not cgminer's: kept apart, so that both layouts
  // of one poll (the plain and the new_api stats) are read.
  bool chain_layout = false;
  if (const std::vector<element> stats = Objects(MemberOf(part, "STATS"));
      !stats.empty() && MemberOf(stats.front(), "chain")) {
    chain_layout = true;
    if (!sections.chain_stats) sections.chain_stats = stats.front();
    used = true;
  }
  for (const SectionSlot& s : kSectionSlots) {
    if (chain_layout && s.slot == &Sections::stats) continue;
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
    sections.msgs.push_back(*msg);
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

const Software* FindSoftware(std::string_view word) {
  for (const Family* family : Families()) {
    for (const Software& s : family->software) {
      if (EqualsNoCase(word, s.key)) return &s;
    }
  }
  return nullptr;
}

bool IsHexTail(std::string_view s) {
  return s.size() >= 7 && std::all_of(s.begin(), s.end(), [](char c) {
           return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

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
  if (!shown.empty()) {
    id.firmware += ' ';  // appended apart: GCC 12 warns (-Wrestrict) on " " + std::string
    id.firmware += shown;
  }
  id.braiins_plus = id.braiins_plus || software.name == "BOSminer+";
}

// The miner's own words: "Type", and its software from VERSION (S9/L3+ stats
// repeat both in their first STATS entry) or a STATUS Description.
Identity ReadOwnWords(const Sections& s) {
  Identity id;
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
  return id;
}

// What the recognised families add: the build when VERSION named none, and
// the model when the miner reported no Type.
void CompleteIdentity(const Sections& s, std::span<const Family* const> families, Identity& id) {
  for (const Family* f : families) {
    if (!id.firmware_build.empty()) break;
    if (f->build != nullptr) id.firmware_build = f->build(s);
  }
  for (const Family* f : families) {
    if (!id.model.empty()) break;
    if (f->model != nullptr) id.model = f->model(s, id);
  }
}

// ---- Boards -----------------------------------------------------------------

// devs/edevs (Whatsminer, bOS+), as every cgminer writes them. They only add
// boards when STATS gave none, as a devs list may number them apart from
// STATS' chains.
void DeviceBoards(const Sections& s, bool may_add, Boards& boards) {
  const std::vector<element> devs = Objects(s.devs);
  for (size_t i = 0; i < devs.size(); ++i) {
    const element e = devs[i];
    BoardStats* b = ListedBoard(boards, e, i, "ASC", may_add);
    if (b == nullptr) continue;
    Fill(b->hashrate, Rate(OptNumber(e, "MHS 5s"), kMega));
    Fill(b->hashrate_expected, Nominal(Rate(OptNumber(e, "Nominal MHS"), kMega)));
    Fill(b->temp_board, TempField(e, "Temperature"));
    Fill(b->temp_chip, TempField(e, "Chip Temp Max"));
    Fill(b->chips, OptInt32(e, "Effective Chips"));
    Fill(b->freq_mhz, FreqField(e, "Chip Frequency"));
    Fill(b->hw_errors, OptInt(e, "Hardware Errors"));
  }
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
    // Bitmain's new layout writes the same fields in lowercase, "index" for "POOL".
    const bool lower = !MemberOf(e, "URL") && MemberOf(e, "url");
    p.index = OptInt32(e, lower ? "index" : "POOL").value_or(static_cast<int32_t>(i));
    p.url = OptString(e, lower ? "url" : "URL");
    p.user = OptString(e, lower ? "user" : "User");
    p.status = OptString(e, lower ? "status" : "Status");
    p.priority = OptInt32(e, lower ? "priority" : "Priority");
    p.accepted = OptInt(e, lower ? "accepted" : "Accepted");
    p.rejected = OptInt(e, lower ? "rejected" : "Rejected");
    p.stale = OptInt(e, lower ? "stale" : "Stale");
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
    {"HS RT", Unit::kMhs},  {"total_rate", Unit::kGhsLabel}, {"total rate", Unit::kGhsLabel},
    {"rate_5s", Unit::kGhsLabel}};  // Bitmain's new layout, in its rate_unit
// Since start first: bOS+'s "MHS 24h" is scaled to a full day even an hour after boot.
constexpr RateKey kAvgRateKeys[] = {{"MHS av", Unit::kMhs},
                                    {"GHS av", Unit::kGhsLabel},
                                    {"rate_avg", Unit::kGhsLabel},
                                    {"GHS 30m", Unit::kGhsLabel},
                                    {"rate_30m", Unit::kGhsLabel},
                                    {"MHS 24h", Unit::kMhs}};
constexpr RateKey kExpectedRateKeys[] = {{"total_rateideal", Unit::kGhsLabel},
                                         {"rate_ideal", Unit::kGhsLabel},
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

// The STATS entry of an Antminer (or cgminer-alike) that carries the miner's
// figures: chain_acnN, "GHS 5s".
Node MinerStats(const Sections& s) {
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

void ReadMeasurements(const Sections& s, std::span<const Family* const> families,
                      const ModelInfo& info, Record& out) {
  // "rate_unit" (S17, S19, T15) says what the "GHS" labels hold, overriding the table.
  double ghs_unit = info.ghs_label_unit;
  for (const Node& obj : {s.miner_stats, s.summary, s.chain_stats}) {
    if (!obj) continue;
    if (std::optional<double> unit = RateUnit(OptString(*obj, "rate_unit"))) {
      ghs_unit = *unit;
      break;
    }
  }

  Boards boards;
  std::optional<double> board_watts;
  for (const Family* f : families) {
    if (f->stats_boards != nullptr) Fill(board_watts, f->stats_boards(s, ghs_unit, boards));
  }
  const bool may_add = boards.empty();
  DeviceBoards(s, may_add, boards);
  for (const Family* f : families) {
    if (f->listed_boards != nullptr) f->listed_boards(s, may_add, boards);
  }
  for (const auto& entry : boards) out.boards.push_back(entry.second);

  for (const Node& src : {s.summary, s.miner_stats, s.chain_stats}) {
    Fill(out.hashrate, FirstRate(src, kShortRateKeys, ghs_unit));
    Fill(out.hashrate_avg, FirstRate(src, kAvgRateKeys, ghs_unit));
    Fill(out.hashrate_expected, Nominal(FirstRate(src, kExpectedRateKeys, ghs_unit)));
  }
  Fill(out.hashrate, SumOver(out.boards, [](const BoardStats& b) { return b.hashrate; }));
  Fill(out.hashrate_expected,
       SumOver(out.boards, [](const BoardStats& b) { return b.hashrate_expected; }));
  for (const Family* f : families) {
    if (f->state != nullptr) f->state(s, out);
  }

  if (s.summary) out.uptime_s = OptInt(*s.summary, "Elapsed");
  for (element e : Objects(s.stats)) Fill(out.uptime_s, OptInt(e, "Elapsed"));
  for (const Node& src : {s.summary, s.chain_stats}) {  // the new layout's lowercase key
    if (src) Fill(out.uptime_s, OptInt(*src, "elapsed"));
  }

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
  for (const Family* f : families) {
    if (f->chip_temp != nullptr) chip_max = MaxOf(chip_max, f->chip_temp(s));
  }
  out.temp_max = chip_max ? chip_max : board_max;  // never the firmware's own "temp_max"

  for (const Family* f : families) {
    if (f->fans == nullptr) continue;
    out.fans = f->fans(s);
    if (!out.fans.empty()) break;
  }

  if (s.summary) {
    for (std::string_view key : {"Power", "Power_RT"}) {
      const std::optional<double> w = OptNumber(*s.summary, key);
      if (w && *w > 0) {
        out.power_w = w;
        break;
      }
    }
  }
  Fill(out.power_w, board_watts);
  for (const Family* f : families) {
    if (f->extras != nullptr) f->extras(s, out);
  }
}

}  // namespace

void CompleteRecord(Record& record) {
  record.efficiency_j_per_th.reset();
  if (record.power_w && *record.power_w > 0 && record.hashrate && *record.hashrate > 0 &&
      !record.sleeping) {
    record.efficiency_j_per_th = *record.power_w / (*record.hashrate / 1e12);
  }
}

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
  sections.miner_stats = MinerStats(sections);
  sections.modules = CanaanModules(sections.stats);

  Record out;
  Identity id = ReadOwnWords(sections);
  std::vector<const Family*> families;  // those this reply is from, in registry order
  for (const Family* f : Families()) {
    if (f->recognise != nullptr && f->recognise(sections, id)) families.push_back(f);
  }
  CompleteIdentity(sections, families, id);
  if (!families.empty()) out.family = std::string(families.front()->name);
  const ModelInfo& info = InfoFor(id.model);
  out.model = std::move(id.model);
  out.firmware = std::move(id.firmware);
  out.firmware_build = std::move(id.firmware_build);
  out.algorithm = std::string(info.algorithm);
  ReadPools(sections, out);
  ReadMeasurements(sections, families, info, out);

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

  CompleteRecord(out);
  MoveReplyFields(out, record);
}

void MoveReplyFields(Record& from, Record& to) {
  ForEachField<Record>([&](const auto& f) {
    if (f.source == FieldSource::kReply) to.*f.member = std::move(from.*f.member);
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
