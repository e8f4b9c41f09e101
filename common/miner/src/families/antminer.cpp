// Bitmain Antminers and the firmware that keeps their cgminer-style STATS:
// stock bmminer/cgminer, Hiveon, Vnish (which adds chain_consumptionN watts)
// and LuxOS. One STATS entry carries the figures: chain_acnN chips,
// chain_acsN chip states, chain_rateN, tempN / temp2_N, fanN.
#include <algorithm>
#include <charconv>
#include <map>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

// STATS "Mode" of S17 family firmware put to sleep ("miner-mode" 1).
constexpr double kAntminerSleepMode = 254;

constexpr Software kSoftware[] = {{"bmminer", "BMMiner"}, {"cgminer", "CGMiner"}};

bool Recognise(const Sections& s, const Identity&) { return s.miner_stats.has_value(); }

// Chip states in chain_acsN: " oooooooo ooo", 'x' for a failed chip.
std::optional<int32_t> CountOf(std::string_view acs, char state) {
  return static_cast<int32_t>(std::count(acs.begin(), acs.end(), state));
}

// One board per populated chain N; returns the watts vnish reports as
// chain_consumptionN when every populated chain has it.
std::optional<double> Chains(const Sections& s, double ghs_unit, Boards& boards) {
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

// "fan5", "fan6", ... in fan order, up to the declared fan_num.
std::vector<int32_t> ReadFans(const Sections& s) {
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

// S17 family firmware in sleep mode (antminer-s17plus/t17plus-stats-sleeping.json).
// An S19 asleep still says "Mode":2, so its sleep is known only to control.
void State(const Sections& s, Record& out) {
  if (OptNumber(*s.miner_stats, "Mode") == kAntminerSleepMode) out.sleeping = true;
}

}  // namespace

extern const Family kAntminer = {
    .name = "antminer",
    .poll = {},
    .software = kSoftware,
    .recognise = Recognise,
    .build = nullptr,
    .model = nullptr,  // every Antminer firmware reports its "Type"
    .stats_boards = Chains,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = State,
    .extras = nullptr,
    .read_documents = nullptr,
};

}  // namespace asicmon
