// Bitmain's new API layout (see antminer_new_api.h). Captures:
// antminer-s21-stats-newapi.json, antminer-s23hyd-{stats,summary}-newapi.json.
#include "antminer_new_api.h"

#include <algorithm>

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr size_t kMaxChains = 16;  // bounds a hostile chain[]; Antminers have 3 or 4

// The hottest valid reading of a sensor array ([44,44,56,56]); 0 is a missing
// sensor (the hydro units' temp_chip [x,y,0,0]).
std::optional<double> HottestOf(const Node& readings) {
  simdjson::dom::array list;
  if (!readings || readings->get(list) != simdjson::SUCCESS) return std::nullopt;
  std::optional<double> hottest;
  for (element v : list) hottest = MaxOf(hottest, ValidTemp(AsNumber(v)));
  return hottest;
}

// Watts as a number, or as text whose first word is one ("3357 W").
std::optional<double> Watts(const Node& value) {
  if (!value) return std::nullopt;
  std::optional<double> w = AsNumber(*value);
  if (!w) {
    if (const std::optional<std::string_view> text = AsText(*value)) {
      const std::string_view t = Trim(*text);
      w = ParseNumber(t.substr(0, t.find(' ')));
    }
  }
  return w && *w > 0 ? w : std::nullopt;
}

}  // namespace

bool IsAntminerInfo(const Sections& s) {
  return s.info && StartsWithNoCase(Trim(OptString(*s.info, "type")), "Antminer");
}

std::optional<int32_t> ChipsIn(std::string_view chips, char state) {
  return static_cast<int32_t>(std::count(chips.begin(), chips.end(), state));
}

void NewApiChains(element stats, double ghs_unit, Boards& boards) {
  const std::vector<element> chains = Objects(MemberOf(stats, "chain"));
  for (size_t i = 0; i < chains.size() && i < kMaxChains; ++i) {
    const element c = chains[i];
    BoardStats& b = BoardAt(boards, OptInt32(c, "index").value_or(static_cast<int32_t>(i)));
    Fill(b.hashrate, Rate(OptNumber(c, "rate_real"), ghs_unit));
    Fill(b.hashrate_expected, Nominal(Rate(OptNumber(c, "rate_ideal"), ghs_unit)));
    Fill(b.temp_board, HottestOf(MemberOf(c, "temp_pcb")));
    Fill(b.temp_chip, HottestOf(MemberOf(c, "temp_chip")));
    Fill(b.chips, OptInt32(c, "asic_num"));
    const std::string asic = OptString(c, "asic");
    if (!Trim(asic).empty()) {
      Fill(b.chips_ok, ChipsIn(asic, 'o'));
      Fill(b.chips_failed, ChipsIn(asic, 'x'));
    }
    Fill(b.freq_mhz, FreqField(c, "freq_avg"));
    Fill(b.hw_errors, OptInt(c, "hw"));
  }
}

std::vector<int32_t> NewApiFans(element stats) {
  std::vector<double> readings;
  simdjson::dom::array list;
  if (const Node fan = MemberOf(stats, "fan"); fan && fan->get(list) == simdjson::SUCCESS) {
    for (element v : list) {
      if (readings.size() >= kMaxFans) break;
      if (const std::optional<double> rpm = AsNumber(v)) readings.push_back(*rpm);
    }
  }
  return Fans(readings, OptInt(stats, "fan_num").value_or(0));
}

std::string NewApiModel(const Sections& s, const Identity&) {
  return s.info ? std::string(Trim(OptString(*s.info, "type"))) : std::string();
}

std::string NewApiBuild(const Sections& s) {
  if (!s.info) return {};
  const std::string version(Trim(OptString(*s.info, "miner_version")));
  const std::string compiled(Trim(OptString(*s.info, "CompileTime")));
  if (!version.empty() && !compiled.empty()) return version + " (" + compiled + ")";
  return version + compiled;
}

void NewApiExtras(const Sections& s, Record& out) {
  if (s.chain_stats) {
    // The L9 writes "power", the L11 and S23 Hyd. "watt" (asic-rs PR #325).
    for (std::string_view key : {"watt", "power"}) {
      Fill(out.power_w, Watts(MemberOf(*s.chain_stats, key)));
    }
  }
  if (!s.summary) return;
  // "s" passes; "e" and "w" fail; "" is a check that does not apply (the
  // fans of a hydro unit, antminer-s23hyd-summary-newapi.json).
  for (element check : Objects(MemberOf(*s.summary, "status"))) {
    if (out.errors.size() >= kMaxErrors) break;
    const std::string state(Trim(OptString(check, "status")));
    if (!EqualsNoCase(state, "e") && !EqualsNoCase(state, "w")) continue;
    MinerError e;
    if (const std::optional<int64_t> code = OptInt(check, "code")) e.code = std::to_string(*code);
    e.message = std::string(Trim(OptString(check, "msg")));
    if (e.message.empty()) e.message = std::string(Trim(OptString(check, "type")));
    out.errors.push_back(std::move(e));
  }
}

}  // namespace asicmon
