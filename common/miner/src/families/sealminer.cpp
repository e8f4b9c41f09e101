// Bitdeer SealMiners (bdminer, cgminer 4.11.1 based): one STATS entry with
// the machine's facts ("Model":"A2", "MAC", "PSU Input Power", "Error Code")
// and per-board keys prefixed by the board number: "0 MHS(Sample)",
// "0 Chip Count", "0 Temp 0".."0 Temp 3" (board sensors), and per fan
// "N Speed" (rpm, N < "Fan Count"). From tests/data/sealminer-a2-*.json.
#include <algorithm>
#include <string>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr Software kSoftware[] = {{"bdminer", "BDMiner"}};
constexpr int64_t kMaxBoards = 16;    // bounds a hostile "Board Count"
constexpr int kBoardTempSensors = 4;  // "N Temp 0".."N Temp 3"

// The STATS entry with the machine's facts.
Node MachineStats(const Sections& s) {
  for (element e : Objects(s.stats)) {
    if (MemberOf(e, "Board Count") || MemberOf(e, "Fan Count")) return e;
  }
  return std::nullopt;
}

bool Recognise(const Sections&, const Identity& id) { return id.firmware.starts_with("BDMiner"); }

std::string Build(const Sections& s) {
  const Node m = MachineStats(s);
  return m ? std::string(Trim(OptString(*m, "Firmware"))) : std::string();
}

std::string Model(const Sections& s, const Identity&) {
  const Node m = MachineStats(s);
  const std::string model = m ? std::string(Trim(OptString(*m, "Model"))) : std::string();
  return model.empty() ? "SealMiner" : "SealMiner " + model;
}

int64_t Count(const Node& m, std::string_view key) {
  return std::clamp<int64_t>(m ? OptInt(*m, key).value_or(0) : 0, 0, kMaxBoards);
}

std::optional<double> StatsBoards(const Sections& s, double, Boards& boards) {
  const Node m = MachineStats(s);
  for (int32_t n = 0; n < Count(m, "Board Count"); ++n) {
    const std::string p = std::to_string(n) + " ";
    const element e = *m;
    if (!MemberOf(e, p + "Chip Count") && !MemberOf(e, p + "MHS(Sample)")) continue;
    BoardStats& b = BoardAt(boards, n);
    Fill(b.hashrate, Rate(OptNumber(e, p + "MHS(Sample)"), kMega));
    Fill(b.hashrate_expected, Nominal(Rate(OptNumber(e, p + "MHS(Ideal)"), kMega)));
    for (int t = 0; t < kBoardTempSensors; ++t) {
      b.temp_board = MaxOf(b.temp_board, TempField(e, p + "Temp " + std::to_string(t)));
    }
    Fill(b.chips, OptInt32(e, p + "Chip Count"));
    Fill(b.chips_failed, OptInt32(e, p + "Bad Chip Count"));
    Fill(b.freq_mhz, FreqField(e, p + "Freq"));
  }
  return std::nullopt;
}

std::vector<int32_t> ReadFans(const Sections& s) {
  const Node m = MachineStats(s);
  const int64_t declared = Count(m, "Fan Count");
  std::vector<double> readings;
  for (int64_t n = 0; n < declared; ++n) {
    if (std::optional<double> rpm = OptNumber(*m, std::to_string(n) + " Speed")) {
      readings.push_back(*rpm);
    }
  }
  return Fans(readings, declared);
}

// MAC, the PSU's input power, and the firmware's "Error Code" and "PSU Error"
// ("0x00000000" when the PSU is fine).
void Extras(const Sections& s, Record& out) {
  const Node m = MachineStats(s);
  if (!m) return;
  if (out.mac.empty()) out.mac = MacAddress(OptString(*m, "MAC"));
  const std::optional<double> watts = OptNumber(*m, "PSU Input Power");
  if (watts && *watts > 0) Fill(out.power_w, watts);
  if (std::string code(Trim(OptString(*m, "Error Code"))); !code.empty()) {
    out.errors.push_back({std::move(code), std::string(Trim(OptString(*m, "Error Chip")))});
  }
  const std::string psu(Trim(OptString(*m, "PSU Error")));
  if (!psu.empty() && psu.find_first_not_of("0x") != std::string::npos) {
    out.errors.push_back({psu, "PSU error"});
  }
}

}  // namespace

extern const Family kSealMiner = {
    .name = "sealminer",
    .poll = {},
    .software = kSoftware,
    .recognise = Recognise,
    .build = Build,
    .model = Model,
    .stats_boards = StatsBoards,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = ReadFans,
    .state = nullptr,
    .extras = Extras,
    .read_documents = nullptr,
};

}  // namespace asicmon
