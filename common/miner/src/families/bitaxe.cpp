// Bitaxe and other ESP-Miner boards (AxeOS): GET /api/system/info on the web
// port 80. Its handler (skot/ESP-Miner main/http_server/http_server.c) is the
// documentation of the fields: "hashRate" in GH/s (current_hashrate),
// "power" W, "temp" the ASIC's °C, "vrTemp" the regulator's, "fanrpm",
// "sharesAccepted"/"sharesRejected", "uptimeSeconds", "macAddr", "hostname",
// "version", "ASICModel", "asicCount", "frequency" MHz, the primary and
// fallback stratum settings. Capture: tests/data/bitaxe-supra-api_system_info.json.
#include "asicmon/miner_api.h"
#include "family.h"

namespace asicmon {
namespace {

using simdjson::dom::element;

constexpr std::string_view kSystemInfo = "/api/system/info";
constexpr uint16_t kWebPort = 80;

constexpr PollStep kPoll[] = {{kSystemInfo, Framing::kHttp, kWebPort, kSystemInfo}};

// The Bitaxe product each ASIC went into (bitaxeorg's hardware line-up):
// older AxeOS names only the ASIC.
struct AsicProduct {
  std::string_view asic;
  std::string_view product;
};
constexpr AsicProduct kProducts[] = {
    {"BM1397", "Bitaxe Max"},
    {"BM1366", "Bitaxe Ultra"},
    {"BM1368", "Bitaxe Supra"},
    {"BM1370", "Bitaxe Gamma"},
};

bool IsSystemInfo(const Node& info) {
  return info && info->is_object() && MemberOf(*info, "ASICModel") && MemberOf(*info, "hashRate");
}

std::string Model(element info) {
  if (std::string model(Trim(OptString(info, "deviceModel"))); !model.empty()) {
    return "Bitaxe " + model;
  }
  const std::string asic(Trim(OptString(info, "ASICModel")));
  for (const AsicProduct& p : kProducts) {
    if (EqualsNoCase(asic, p.asic)) return std::string(p.product);
  }
  return asic.empty() ? "Bitaxe" : "Bitaxe " + asic;
}

// "stratum+tcp://" is what AxeOS dials: it stores the host and port apart.
PoolInfo Pool(element info, std::string_view prefix, int32_t index) {
  PoolInfo p;
  p.index = index;
  p.priority = index;
  const std::string host(Trim(OptString(info, std::string(prefix) + "URL")));
  const std::optional<int64_t> port = OptInt(info, std::string(prefix) + "Port");
  if (!host.empty()) {
    p.url = "stratum+tcp://" + host;
    if (port) {
      p.url += ':';  // appended apart: GCC 12 warns (-Wrestrict) on ":" + std::string
      p.url += std::to_string(*port);
    }
  }
  p.user = OptString(info, std::string(prefix) + "User");
  return p;
}

void ReadDocuments(std::span<const PolledDocument> documents, Record& out) {
  const Node doc = FindDocument(documents, kSystemInfo);
  if (!IsSystemInfo(doc)) {
    out.status = MinerStatus::kApiError;
    out.error = "no AxeOS /api/system/info in the reply";
    return;
  }
  const element info = *doc;
  out.status = MinerStatus::kOk;
  out.error.clear();
  out.model = Model(info);
  if (std::string version(Trim(OptString(info, "version"))); !version.empty()) {
    out.firmware = "AxeOS " + version;
  }
  out.firmware_build = std::string(Trim(OptString(info, "idfVersion")));
  out.algorithm = "sha256d";  // every ESP-Miner ASIC is a Bitmain SHA-256 chip
  out.hostname = OptString(info, "hostname");
  out.mac = MacAddress(OptString(info, "macAddr"));

  BoardStats board;
  board.hashrate = Rate(OptNumber(info, "hashRate"), kGiga);
  board.hashrate_expected = Nominal(Rate(OptNumber(info, "expectedHashrate"), kGiga));
  board.temp_chip = TempField(info, "temp");
  board.temp_board = TempField(info, "vrTemp");
  board.chips = OptInt32(info, "asicCount");
  board.freq_mhz = FreqField(info, "frequency");
  out.hashrate = board.hashrate;
  out.hashrate_expected = board.hashrate_expected;
  out.temp_max = board.temp_chip ? board.temp_chip : board.temp_board;
  out.boards = {board};

  out.uptime_s = OptInt(info, "uptimeSeconds");
  out.accepted = OptInt(info, "sharesAccepted");
  out.rejected = OptInt(info, "sharesRejected");
  const std::optional<double> watts = OptNumber(info, "power");
  if (watts && *watts > 0) out.power_w = watts;
  out.fans.clear();
  if (std::optional<double> rpm = OptNumber(info, "fanrpm")) out.fans = Fans({*rpm}, 1);  // one fan

  const bool fallback =
      IsTrue(info, "isUsingFallbackStratum") || OptInt(info, "isUsingFallbackStratum") == 1;
  out.pools.clear();
  for (PoolInfo p : {Pool(info, "stratum", 0), Pool(info, "fallbackStratum", 1)}) {
    if (p.url.empty()) continue;
    p.active = (p.index == 1) == fallback;
    if (p.active) out.worker = p.user;
    out.pools.push_back(std::move(p));
  }
}

}  // namespace

extern const Family kBitaxe = {
    .name = "bitaxe",
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
