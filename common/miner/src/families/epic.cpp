// ePIC's UMC firmware (PowerPlay-BMS on umcOS): an HTTP JSON API served on
// the cgminer port 4028 (pyasic web/epic.py; tests/data/epic-s19xp-*.json).
// GET /summary carries the measurements ("HBs" boards with "Hashrate":
// [MH/s, ...], "Session", "Fans Rpm", "Power Supply Stats", "Stratum"),
// /capabilities the model and chips, /network the MAC.
#include <algorithm>
#include <charconv>
#include <map>

#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr std::string_view kSummary = "/summary";
constexpr std::string_view kCapabilities = "/capabilities";
constexpr std::string_view kNetwork = "/network";

// Port 0: the poll's target port, 4028, where ePIC answers HTTP.
constexpr PollStep kPoll[] = {
    {kSummary, Framing::kHttp, 0, kSummary},
    {kCapabilities, Framing::kHttp, 0, kCapabilities},
    {kNetwork, Framing::kHttp, 0, kNetwork},
};

constexpr size_t kMaxEntries = 64;  // bounds hostile board, fan and pool lists

// An ePIC summary: its session counters, board list and software name.
bool IsEpicSummary(const Node& summary) {
  if (!summary || !summary->is_object()) return false;
  const Node session = MemberOf(*summary, "Session");
  return session && session->is_object() && MemberOf(*summary, "HBs") &&
         MemberOf(*summary, "Stratum");
}

// "SHA-256" as Mining.Algorithm says it; nothing for an algorithm not known here.
std::string Algorithm(element summary) {
  const Node mining = MemberOf(summary, "Mining");
  const std::string name = mining ? OptString(*mining, "Algorithm") : std::string();
  if (EqualsNoCase(name, "SHA-256") || EqualsNoCase(name, "SHA256")) return "sha256d";
  if (EqualsNoCase(name, "Scrypt")) return "scrypt";
  return {};
}

// HBs[]: "Hashrate"[0] in MH/s, "Temperature" (the board's), "Core Clock Avg".
void ReadBoards(element summary, const Node& capabilities, Record& out) {
  const Node estimator =
      capabilities ? MemberOf(*capabilities, "Performance Estimator") : std::nullopt;
  const std::optional<int32_t> chips =
      estimator ? OptInt32(*estimator, "Chip Count") : std::nullopt;
  Boards boards;
  const std::vector<element> hbs = Objects(MemberOf(summary, "HBs"));
  for (size_t i = 0; i < hbs.size() && i < kMaxEntries; ++i) {
    BoardStats& b = BoardAt(boards, OptInt32(hbs[i], "Index").value_or(static_cast<int32_t>(i)));
    simdjson::dom::array rates;
    element first;
    if (const Node hashrate = MemberOf(hbs[i], "Hashrate");
        hashrate && hashrate->get(rates) == simdjson::SUCCESS &&
        rates.at(0).get(first) == simdjson::SUCCESS) {
      Fill(b.hashrate, Rate(AsNumber(first), kMega));
    }
    Fill(b.temp_board, TempField(hbs[i], "Temperature"));
    Fill(b.freq_mhz, FreqField(hbs[i], "Core Clock Avg"));
    Fill(b.chips, chips);
  }
  for (const auto& entry : boards) out.boards.push_back(entry.second);
}

// "Fans Rpm": {"Fans Speed 1": 5971, "Fans Speed 2": 0, "Fans Speed 5": null}:
// null is a slot with no fan, 0 a stopped fan.
std::vector<int32_t> ReadFans(element summary) {
  std::map<int32_t, double> by_number;
  const Node fans = MemberOf(summary, "Fans Rpm");
  if (!fans) return {};
  ForEachMember(*fans, [&](std::string_view key, element value) {
    const size_t space = key.rfind(' ');
    const std::string_view digits = space == std::string_view::npos ? "" : key.substr(space + 1);
    int32_t n = 0;
    if (digits.empty() || digits.size() > 3 ||
        std::from_chars(digits.data(), digits.data() + digits.size(), n).ec != std::errc()) {
      return;
    }
    if (std::optional<double> rpm = AsNumber(value); rpm && by_number.size() < kMaxEntries) {
      by_number[n] = *rpm;
    }
  });
  std::vector<double> readings;
  for (const auto& [n, rpm] : by_number) readings.push_back(rpm);
  return Fans(readings, static_cast<int64_t>(readings.size()));
}

// StratumConfigs lists the pools; Stratum names the one in use ("Current
// Pool" without its scheme) while IsPoolConnected.
void ReadPools(element summary, Record& out) {
  const Node stratum = MemberOf(summary, "Stratum");
  const std::string current = stratum ? OptString(*stratum, "Current Pool") : std::string();
  const bool connected = stratum && IsTrue(*stratum, "IsPoolConnected");
  const std::vector<element> configs = Objects(MemberOf(summary, "StratumConfigs"));
  for (size_t i = 0; i < configs.size() && i < kMaxEntries; ++i) {
    PoolInfo p;
    p.index = static_cast<int32_t>(i);
    p.url = OptString(configs[i], "pool");
    p.user = OptString(configs[i], "login");
    p.priority = static_cast<int32_t>(i);
    const bool in_use = connected && !current.empty() && p.url.ends_with(current) &&
                        std::none_of(out.pools.begin(), out.pools.end(),
                                     [](const PoolInfo& q) { return q.active; });
    p.active = in_use;
    out.pools.push_back(std::move(p));
  }
  if (stratum) out.worker = OptString(*stratum, "Current User");
}

// The tuner's target ("Target": 143, "Unit": "TH/s") is the rate the unit is run for.
std::optional<double> TunerTarget(element summary) {
  const Node tune = MemberOf(summary, "PerpetualTune");
  const Node algorithms = tune ? MemberOf(*tune, "Algorithm") : std::nullopt;
  std::optional<double> target;
  if (!algorithms) return target;
  ForEachMember(*algorithms, [&](std::string_view, element algorithm) {
    const std::string unit = OptString(algorithm, "Unit");
    double scale = 0;
    if (StartsWithNoCase(unit, "TH")) scale = 1e12;
    if (StartsWithNoCase(unit, "GH")) scale = kGiga;
    if (StartsWithNoCase(unit, "MH")) scale = kMega;
    if (!target && scale > 0) target = Nominal(Rate(OptNumber(algorithm, "Target"), scale));
  });
  return target;
}

void ReadDocuments(std::span<const PolledDocument> documents, Record& out) {
  const Node summary = FindDocument(documents, kSummary);
  if (!IsEpicSummary(summary)) {
    out.status = MinerStatus::kApiError;
    out.error = "no ePIC /summary in the reply";
    return;
  }
  const element sum = *summary;
  const Node capabilities = FindDocument(documents, kCapabilities);
  out.status = MinerStatus::kOk;
  out.error.clear();
  if (capabilities) out.model = std::string(Trim(OptString(*capabilities, "Model")));
  // "AntMiner S19 XP" (epic-s19xp-capabilities.json): the maker as stock
  // firmware spells it, so one model reads alike under either firmware.
  constexpr std::string_view kMaker = "Antminer ";
  if (StartsWithNoCase(out.model, kMaker)) out.model.replace(0, kMaker.size(), kMaker);
  out.firmware = std::string(Trim(OptString(sum, "Software")));  // "PowerPlay-BMS v1.5.13"
  out.firmware_build = std::string(Trim(OptString(sum, "OS Type")));
  out.algorithm = Algorithm(sum);
  out.hostname = OptString(sum, "Hostname");

  ReadBoards(sum, capabilities, out);
  out.hashrate = [&]() -> std::optional<double> {
    if (out.boards.empty()) return std::nullopt;
    double total = 0;
    for (const BoardStats& b : out.boards) {
      if (!b.hashrate) return std::nullopt;
      total += *b.hashrate;
    }
    return total;
  }();
  if (const Node session = MemberOf(sum, "Session")) {
    out.hashrate_avg = Rate(OptNumber(*session, "Average MHs"), kMega);
    out.uptime_s = OptInt(*session, "Uptime");
    out.accepted = OptInt(*session, "Accepted");
    out.rejected = OptInt(*session, "Rejected");
  }
  out.hashrate_expected = TunerTarget(sum);
  for (const BoardStats& b : out.boards) out.temp_max = MaxOf(out.temp_max, b.temp_board);
  out.fans = ReadFans(sum);
  ReadPools(sum, out);
  if (const Node psu = MemberOf(sum, "Power Supply Stats")) {
    const std::optional<double> watts = OptNumber(*psu, "Input Power");
    if (watts && *watts > 0) out.power_w = watts;
  }
  if (const Node status = MemberOf(sum, "Status")) {
    if (std::string last(Trim(OptString(*status, "Last Error"))); !last.empty()) {
      out.errors.push_back({"", std::move(last)});
    }
  }
  // /network: {"dhcp": {"mac_address": ...}} or its static twin.
  if (const Node network = FindDocument(documents, kNetwork)) {
    ForEachMember(*network, [&](std::string_view, element iface) {
      if (out.mac.empty()) out.mac = MacAddress(OptString(iface, "mac_address"));
    });
  }
}

}  // namespace

extern const Family kEpic = {
    .name = "epic",
    .poll = kPoll,
    .software = {},
    .recognise = nullptr,
    .build = nullptr,
    .model = nullptr,
    .stats_boards = nullptr,
    .listed_boards = nullptr,
    .chip_temp = nullptr,
    .fans = nullptr,
    .state = nullptr,
    .extras = nullptr,
    .read_documents = ReadDocuments,
};

}  // namespace asicmon
