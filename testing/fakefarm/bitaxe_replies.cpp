// AxeOS's one document a monitor reads, GET /api/system/info on the web
// port, in the layout and key order of
// tests/data/bitaxe-supra-api_system_info.json (AxeOS v2.4.5) with this
// board's figures; the field meanings are ESP-Miner's handler's
// (main/http_server/http_server.c: "hashRate" GH/s, "power" W, "current"
// mA, "voltage" mV, "temp" the ASIC's °C). AxeOS stores the pools as
// host, port and user apart: "stratumURL" carries no scheme.
//
// Chosen, no capture or document found: another method on that path (405),
// an unknown path (404; AxeOS serves its web app there, which no monitor
// reads). The settings endpoints (PATCH /api/system, restart) are not modelled.
#include <charconv>
#include <string_view>
#include <vector>

#include "bitaxe_models.h"
#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

// The port of "stratum+tcp://host:port", 0 when it names none.
int64_t UrlPort(std::string_view url) {
  const size_t colon = url.rfind(':');
  if (colon == std::string_view::npos) return 0;
  int64_t port = 0;
  const std::string_view digits = url.substr(colon + 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  return ec == std::errc() && end == digits.data() + digits.size() ? port : 0;
}

}  // namespace

int FakeMiner::WriteBitaxe(const BitaxeFacts& b, std::string_view method, std::string_view path) {
  if (path != "/api/system/info") return 404;
  if (method != "GET") return 405;
  const Snapshot& s = Snap();
  const Firmware& fw = model_->firmware;
  const std::vector<PoolConfig> pools = PoolsByPriority();
  const PoolConfig& primary = pools[0];
  const PoolConfig& fallback = pools.size() > 1 ? pools[1] : pools[0];
  // The board's draw follows its hashrate around a floor of the ESP32 and regulator.
  const double share = s.rate_5s / model_->hashrate_nominal;
  const double watts = b.watts * (0.2 + 0.8 * share);
  ReplyWriter w(scratch_, fw.spaced);
  w.Open('{');
  w.Fixed("power", watts, 4);
  w.Int("voltage", b.input_mv);
  w.Fixed("current", watts / b.input_mv * 1e6, 2);
  w.Int("temp", s.temp_chip[0]);
  w.Int("vrTemp", 0);  // board 401 reads no regulator temperature (the capture's 0)
  w.Fixed("hashRate", s.rate_5s / fw.ghs_unit, 2);
  w.Str("bestDiff", "483k");
  w.Str("bestSessionDiff", "0");
  w.Int("stratumDiff", 0);
  w.Int("isUsingFallbackStratum", 0);  // the primary pool always answers here
  w.Int("freeHeap", 8443612);
  w.Int("coreVoltage", b.core_voltage);
  w.Int("coreVoltageActual", b.core_voltage + 6);
  w.Int("frequency", fw.frequency);
  w.Str("ssid", "Test");
  w.Str("macAddr", mac_);
  w.EscStr("hostname", hostname_);
  w.Str("wifiStatus", "Connected!");
  w.Int("sharesAccepted", s.accepted);
  w.Int("sharesRejected", s.rejected);
  w.Int("uptimeSeconds", s.elapsed);
  w.Int("asicCount", model_->chips_per_board);
  w.Int("smallCoreCount", b.small_cores);
  w.Str("ASICModel", b.asic);
  w.EscStr("stratumURL", UrlHost(primary.url));
  w.EscStr("fallbackStratumURL", UrlHost(fallback.url));
  w.Int("stratumPort", UrlPort(primary.url));
  w.Int("fallbackStratumPort", UrlPort(fallback.url));
  w.EscStr("stratumUser", primary.user);
  w.EscStr("fallbackStratumUser", fallback.user);
  w.Str("version", fw.miner_version);
  w.Str("idfVersion", fw.description);
  w.Str("boardVersion", b.board_version);
  w.Str("runningPartition", "factory");
  w.Int("flipscreen", 1);
  w.Int("overheat_mode", 0);
  w.Int("invertscreen", 0);
  w.Int("invertfanpolarity", 1);
  w.Int("autofanspeed", 1);
  w.Int("fanspeed", 35);
  w.Int("fanrpm", s.fans[0]);
  w.Close('}');
  return 200;
}

}  // namespace asicmon::fakefarm
