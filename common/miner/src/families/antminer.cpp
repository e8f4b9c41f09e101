// Bitmain Antminers and the firmware that keeps their cgminer-style STATS:
// stock bmminer/cgminer, Hiveon, Vnish (which adds chain_consumptionN watts)
// and LuxOS. One STATS entry carries the figures: chain_acnN chips,
// chain_acsN chip states, chain_rateN, tempN / temp2_N, fanN. Stock firmware
// of 2022 on also answers Bitmain's new API layout (antminer_new_api.cpp),
// which alone reports power; a poll asks for both.
#include <algorithm>
#include <charconv>
#include <map>

#include "antminer_new_api.h"
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// STATS "Mode" of S17 family firmware put to sleep ("miner-mode" 1).
constexpr double kAntminerSleepMode = 254;

constexpr Software kSoftware[] = {{"bmminer", "BMMiner"}, {"cgminer", "CGMiner"}};

// A poll: cgminer's summary, pools and version, then stats asked with
// "new_api" (a top-level member; nested in "parameter" it is ignored). Stock
// firmware of 2022 on answers that stats in its new layout, the only one
// with power (antminer-s23hyd-stats-newapi.json; its plain stats,
// antminer-s23hyd-stats.json, has none); firmware before it ignores the
// flag and answers the classic stats (asic-rs PR #328, measured on L9/L11
// 86.48-2.0.0 and older units). VERSION names the miner software, which the
// new layout does not. Two exchanges where the generic poll is one: the
// price of power on 2022+ firmware.
constexpr PollStep kPoll[] = {
    {"summary+pools+version", Framing::kCgminer, 0, R"({"command":"summary+pools+version"})"},
    {"stats new_api", Framing::kCgminer, 0, R"({"command":"stats","new_api":true})"},
};

// Firmware that answered the new_api stats in the classic layout (its
// STATUS a list, not the new layout's object) has nothing more to give than
// the generic one exchange, which asks version too.
constexpr PollStep kLeanPoll[] = {
    {"summary+stats+pools+version", Framing::kCgminer, 0,
     R"({"command":"summary+stats+pools+version"})"},
};

bool ClassicStatsOnly(std::span<const std::optional<std::string>> payloads) {
  return payloads.size() >= 2 && payloads[1] && StatusForm(*payloads[1]) == '[';
}

bool Recognise(const Sections& s, const Identity&) {
  return s.miner_stats.has_value() || IsAntminerInfo(s);
}

// One board per populated chain N; returns the watts vnish reports as
// chain_consumptionN when every populated chain has it.
std::optional<double> ClassicChains(const Sections& s, double ghs_unit, Boards& boards) {
  const element stats = *s.miner_stats;
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
    // L9/L11 firmware 86.48-2.0.0 splits the board sensor into inlet and
    // outlet ("temp_in_pcb_1":"47","temp_out_pcb_1":"57"; asic-rs PR #324).
    Fill(b.temp_board, MaxOf(TempField(stats, "temp_in_pcb_" + n),
                             TempField(stats, "temp_out_pcb_" + n)));
    Fill(b.temp_chip, MaxOf(TempField(stats, "temp2_" + n), TempField(stats, "temp_chip" + n)));
    Fill(b.chips, chips);
    if (has_acs) {
      Fill(b.chips_ok, ChipsIn(acs, 'o'));
      Fill(b.chips_failed, ChipsIn(acs, 'x'));
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

// The new layout's chains when the poll has them, else the classic chain_*N
// keys: both describe the same boards, numbered apart (new chain[].index from
// 0; classic chains from 1, or 6 on an S9), so never both.
std::optional<double> Chains(const Sections& s, double ghs_unit, Boards& boards) {
  if (s.chain_stats) {
    NewApiChains(*s.chain_stats, ghs_unit, boards);
    return std::nullopt;  // its power is the whole unit's, read by NewApiExtras
  }
  if (s.miner_stats) return ClassicChains(s, ghs_unit, boards);
  return std::nullopt;
}

// "fan5", "fan6", ... in fan order, up to the declared fan_num.
std::vector<int32_t> ClassicFans(const Sections& s) {
  std::map<int32_t, double> by_number;
  ForEachMember(*s.miner_stats, [&](std::string_view key, element value) {
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
  return Fans(readings, OptInt(*s.miner_stats, "fan_num").value_or(0));
}

std::vector<int32_t> ReadFans(const Sections& s) {
  if (s.chain_stats) return NewApiFans(*s.chain_stats);
  if (s.miner_stats) return ClassicFans(s);
  return {};
}

// S17 family firmware in sleep mode (antminer-s17plus/t17plus-stats-sleeping.json).
// An S19 asleep still says "Mode":2, so its sleep is known only to control.
void State(const Sections& s, Record& out) {
  if (s.miner_stats && OptNumber(*s.miner_stats, "Mode") == kAntminerSleepMode) {
    out.sleeping = true;
  }
}

// Stock firmware's get_system_info.cgi (antminer-s21-get_system_info.cgi.json,
// antminer-s21-2024-get_system_info.cgi.json): "macaddr" in upper case,
// "serinum" the serial (2024+ firmware; older firmware has none), "hostname".
void ReadSystemInfo(element info, Record& out) {
  if (out.mac.empty()) out.mac = MacAddress(OptString(info, "macaddr"));
  if (out.serial.empty()) out.serial = std::string(Trim(OptString(info, "serinum")));
  if (out.hostname.empty()) out.hostname = std::string(Trim(OptString(info, "hostname")));
}

}  // namespace

extern const Family kAntminer = {
    .name = "antminer",
    .poll = kPoll,
    .software = kSoftware,
    .recognise = Recognise,
    .build = NewApiBuild,   // classic replies name theirs in VERSION / STATS[0]
    .model = NewApiModel,   // classic replies report their "Type"
    .stats_boards = Chains,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = State,
    .extras = NewApiExtras,
    .read_documents = nullptr,
    .identify = "/cgi-bin/get_system_info.cgi",
    .read_identity = ReadSystemInfo,
    .lean_poll = kLeanPoll,
    .lean_suffices = ClassicStatsOnly,
};

}  // namespace asicmon
