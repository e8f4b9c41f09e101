// ePIC's UMC HTTP API (PowerPlay-BMS on umcOS), served on the API port 4028:
// GET /summary, /capabilities, /network and /temps, each in the layout and
// key order of its capture (tests/data/epic-s19xp-*.json, compact JSON),
// with this machine's figures. What the captures show of a running unit is
// kept: a board the firmware disabled ("Disable Board On Failure": true, the
// fake's dead board) is absent from HBs and HwConfig and "Enabled": false in
// HBStatus, its sensors still read in /temps; "Fans Rpm" has twelve slots,
// null where no fan is fitted; the worker carries the address suffix
// ("Worker Unique Id Variant": "IpAddress", EpicWorker).
//
// Not found in any capture or document, so chosen and marked so: the
// answer to another method on these paths (405) and to an unknown path
// (404, stock HTML error page); ePIC's POST endpoints (pool, reboot, ...)
// are not modelled.
#include <fmt/format.h>

#include <ctime>
#include <string>
#include <vector>

#include "epic_models.h"
#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

constexpr int kFanSlots = 12;  // "Fans Speed 1" .. "Fans Speed 12"

// "mine.ocean.xyz:3334": Stratum "Current Pool" is the URL without its scheme.
std::string_view WithoutScheme(std::string_view url) {
  if (size_t p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  return url;
}

// "Wed, 13 Aug 2025 18:59:49 +0000", Session "Startup String".
std::string Rfc2822(int64_t unix_s) {
  const auto t = static_cast<time_t>(unix_s);
  tm parts{};
  gmtime_r(&t, &parts);
  char text[64];
  const size_t n = std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &parts);
  return std::string(text, n);
}

}  // namespace

int FakeMiner::WriteEpic(const EpicFacts& e, std::string_view method, std::string_view path) {
  const bool known =
      path == "/summary" || path == "/capabilities" || path == "/network" || path == "/temps";
  if (!known) return 404;
  if (method != "GET") return 405;
  ReplyWriter w(scratch_, false);
  if (path == "/summary") {
    WriteEpicSummary(w, e);
  } else if (path == "/capabilities") {
    WriteEpicCapabilities(w, e);
  } else if (path == "/network") {
    WriteEpicNetwork(w);
  } else {
    WriteEpicTemps(w);
  }
  return 200;
}

void FakeMiner::WriteEpicSummary(ReplyWriter& w, const EpicFacts& e) {
  const Snapshot& s = Snap();
  const Firmware& fw = model_->firmware;
  const int dead = DeadBoard();
  const std::vector<PoolConfig> pools = PoolsByPriority();
  const Pool& active = pools_[static_cast<size_t>(ActivePool())];
  const int64_t started = static_cast<int64_t>(start_time_);
  w.Open('{');
  w.Key("Status");
  w.Open('{');
  w.Str("Operating State", "Mining");
  w.Null("Last Command");
  w.Null("Last Command Result");
  w.Null("Last Error");
  w.Close('}');
  w.EscStr("Hostname", hostname_);
  w.Key("PresetInfo");
  w.Open('{');
  w.Int("Target Power", e.target_power);
  w.Close('}');
  w.Str("Software", fw.description);
  w.Str("OS Type", "umcOS");
  w.Key("Mining");
  w.Open('{');
  w.Str("Coin", "BTC");
  w.Str("Algorithm", "SHA-256");
  w.Close('}');
  w.Key("Stratum");
  w.Open('{');
  w.Int("Config Id", 0);
  w.EscStr("Current Pool", WithoutScheme(active.url));
  w.EscStr("Current User", EpicWorker(active.user, spec_.ip));
  w.Bool("IsPoolConnected", true);
  w.Fixed("Average Latency", 0.03 + Uniform() * 0.02, 9);
  w.Bool("Worker Unique Id", true);
  w.Str("Worker Unique Id Variant", "IpAddress");
  w.Close('}');
  w.Key("Session");
  w.Open('{');
  w.Int("Startup Timestamp", started);
  w.Str("Startup String", Rfc2822(started));
  w.Int("Uptime", s.elapsed);
  const int64_t work_timer = s.elapsed % 40;
  w.Int("Last Work Timestamp", s.when - work_timer);
  w.Int("Last Work Timer", work_timer);
  w.Int("WorkReceived", s.getworks);
  w.Int("Active HBs", model_->boards - (dead >= 0 ? 1 : 0));
  w.Fixed("Average MHs", s.rate_av / 1e6, 1);
  w.Key("LastAverageMHs");
  w.Open('{');
  w.Fixed("Hashrate", s.rate_av * (1 + (Uniform() * 2 - 1) * 0.01) / 1e6, 1);
  w.Int("Timestamp", s.when - s.when % 3600);  // the last hour's mark, as the capture's
  w.Close('}');
  w.Int("Accepted", s.accepted);
  w.Int("Rejected", s.rejected);
  w.Int("Submitted", s.accepted + s.rejected);
  const int64_t share_timer = s.elapsed % 30;
  w.Int("Last Accepted Share Timestamp", s.when - share_timer);
  w.Int("Last Accepted Share Timer", share_timer);
  w.Fixed("Difficulty", fw.pool_diff, 1);
  w.Close('}');
  w.Key("HBs");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    w.Open('{');
    w.Int("Index", b);
    w.Fixed("Input Voltage", 12.6, 1);
    for (const char* zero :
         {"Output Voltage", "Input Current", "Output Current", "Input Power", "Output Power"}) {
      w.Fixed(zero, 0, 1);
    }
    w.Fixed("Temperature", s.temp_chip[b], 1);
    w.Key("Core Clock");
    w.Open('[');
    w.Close(']');
    // [MH/s, % of the board's ideal, the error rate %].
    w.Key("Hashrate");
    w.Open('[');
    w.Fixed(s.board_rate[b] / 1e6, 1);
    w.Fixed(s.board_ideal[b] > 0 ? 100 * s.board_rate[b] / s.board_ideal[b] : 0, 1);
    w.Fixed(0.8, 1);
    w.Close(']');
    w.Fixed("Core Clock Avg", fw.frequency + 2.5, 1);
    w.Close('}');
  }
  w.Close(']');
  w.Key("HBStatus");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    w.Open('{');
    w.Int("Index", b);
    w.Bool("Enabled", b != dead);
    w.Bool("Detected", true);
    w.Close('}');
  }
  w.Close(']');
  w.Key("Fans");
  w.Open('{');
  w.Int("Fans Speed", 100);
  w.Key("Fan Mode");
  w.Open('{');
  w.Key("Auto");
  w.Open('{');
  w.Int("Target Temperature", 60);
  w.Int("Idle Speed", 20);
  w.Close('}');
  w.Close('}');
  w.Int("Minimum Working Fans", 0);
  w.Close('}');
  w.Key("Fans Rpm");
  w.Open('{');
  for (int f = 0; f < kFanSlots; ++f) {
    w.Key("Fans Speed ", f + 1);
    if (f < fw.fans) {
      w.Int(s.fans[f]);
    } else {
      w.Null();
    }
  }
  w.Close('}');
  w.Key("Misc");
  w.Open('{');
  w.Bool("Locate Miner State", blinking_);
  w.Fixed("Shutdown Temp", 85, 1);
  w.Fixed("Critical Temp", 100, 1);
  w.Close('}');
  w.Key("StratumConfigs");
  w.Open('[');
  for (const PoolConfig& p : pools) {
    w.Open('{');
    w.EscStr("pool", p.url);
    w.EscStr("login", p.user);
    w.EscStr("password", p.pass);
    w.Close('}');
  }
  w.Close(']');
  w.Key("PerpetualTune");
  w.Open('{');
  w.Bool("Running", true);
  w.Key("Algorithm");
  w.Open('{');
  w.Key("VoltageOptimizer");
  w.Open('{');
  w.Bool("Optimized", false);
  w.Int("Target", e.default_hashrate_th);
  w.Null("Throttle Target");
  w.Int("Min Throttle Target", 50);
  w.Int("Throttle Step", 5);
  w.Str("Unit", "TH/s");
  w.Close('}');
  w.Close('}');
  w.Close('}');
  w.Key("Power Supply Stats");
  w.Open('{');
  w.Fixed("Input Voltage", 0, 1);
  w.Fixed("Output Voltage", 12.595, 3);
  w.Fixed("Input Current", 0, 1);
  w.Fixed("Output Current", 0, 1);
  // The wall power follows the hashing boards (the capture: 2166.6 W on two of three).
  w.Fixed("Input Power", e.watts * s.rate_5s / model_->hashrate_nominal, 4);
  w.Fixed("Output Power", 0, 1);
  w.Int("Target Voltage", 12600);
  w.Close('}');
  w.Key("HwConfig");
  w.Open('{');
  w.Key("Boards Target Clock");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    w.Open('{');
    w.Int("Index", b);
    w.Fixed("Data", e.default_clock, 1);
    w.Close('}');
  }
  w.Close(']');
  w.Close('}');
  w.Bool("IdleOnConnectionLost", true);
  w.Bool("Overdrive", false);
  w.Bool("Disable Board On Failure", true);
  w.Bool("Enable Boards On Idle", false);
  w.Null("Last License Error");
  w.Close('}');
}

// The capture's capabilities with this machine's board and CPU serials; the
// PerpetualTune texts are the firmware's own, kept short here (no client reads them).
void FakeMiner::WriteEpicCapabilities(ReplyWriter& w, const EpicFacts& e) {
  const int dead = DeadBoard();
  w.Open('{');
  w.Str("Model", e.model);
  w.Str("Model Subtype", e.subtype);
  w.Str("Chip Type", e.chip);
  w.Key("Board Serial Numbers");  // of the boards working, as the capture's two of three
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    w.Str(fmt::format("YNAH{}{:X}", std::string_view(serial_).substr(4, 12), b));
  }
  w.Close(']');
  w.Key("Control Board Version");
  w.Open('{');
  w.Str("somBoardVersion", "7.1.0");
  w.Str("carrierBoardVersion", "4.1.0");
  w.Str("cpuSerial", fmt::format("00200035{}", miner_id_));
  w.Str("cpuHardware", "STM32 (Device Tree Support)");
  w.Close('}');
  w.Int("Default Clock", e.default_clock);
  w.Int("Default Voltage", e.default_voltage);
  w.Int("Default Hashrate", e.default_hashrate_th);
  w.Int("Chips Per Bank", model_->firmware.chip_group);
  w.Int("Max HBs", model_->boards);
  w.Int("Max Clock Configs", 1);
  w.Key("Coins");
  w.Open('[');
  w.Str("BTC");
  w.Close(']');
  w.Key("Display");
  w.Open('[');
  for (const char* item : {"ClksAndVoltage", "ShutdownTemp", "PerpetualTune"}) w.Str(item);
  w.Close(']');
  // The capture's presets: voltage mV, clock MHz, TH/s, W.
  struct Preset {
    int voltage, clk;
    double hashrate;
    int power;
  };
  static constexpr Preset kPresets[] = {{12300, 272, 80.0, 1700},  {12500, 337, 100.0, 2200},
                                        {12600, 407, 120.0, 2700}, {12900, 482, 142.0, 3350},
                                        {13100, 525, 154.0, 3850}, {13500, 575, 169.0, 4400}};
  w.Key("Tune Presets");
  w.Open('[');
  for (const Preset& p : kPresets) {
    w.Open('{');
    w.Int("voltage", p.voltage);
    w.Int("clk", p.clk);
    w.Fixed("hashrate", p.hashrate, 1);
    w.Int("power", p.power);
    w.Close('}');
  }
  w.Close(']');
  struct Tuner {
    const char* algorithm;
    const char* name;
    const char* description;
  };
  static constexpr Tuner kTuners[] = {
      {"VoltageOptimizer", "Voltage Optimizer",
       "Maintain the target hashrate by perpetually adjusting voltage for efficiency."},
      {"ChipTune", "Chip Tune",
       "Maintain the target hashrate by adjusting individual chip clocks."},
      {"BoardTune", "Board Tune", "Maintain the target hashrate by adjusting board clocks."}};
  w.Key("PerpetualTune");
  w.Open('[');
  for (const Tuner& t : kTuners) {
    w.Open('{');
    w.Str("algorithm", t.algorithm);
    w.Str("name", t.name);
    w.Str("description", t.description);
    w.Int("min", 60);
    w.Int("max", 300);
    w.Close('}');
  }
  w.Close(']');
  w.Key("Temp Sensor Info");
  w.Open('{');
  w.Str("Type", "Board");
  w.Int("Count", 2);
  w.Close('}');
  w.Key("Psu Info");
  w.Open('{');
  w.Int("PSU Type", 118);
  w.Int("FW", 25);
  w.Int("Min Vout", 11877);
  w.Int("Max Vout", 15182);
  w.Close('}');
  w.Key("Performance Estimator");
  w.Open('{');
  w.Int("Chip Count", model_->chips_per_board);
  w.Fixed("Hashes Per Second Per Chip", e.hashes_per_chip, 1);
  w.Close('}');
  w.Key("Voltage Estimator");
  w.Open('{');
  w.Fixed("Slope", 0.0041, 4);
  w.Fixed("Y Intercept", 11.0, 1);
  w.Close('}');
  w.Close('}');
}

// {"dhcp": {...}}: the address the miner answers on, its /24's first host as
// the gateway, the MAC in upper case as the capture's.
void FakeMiner::WriteEpicNetwork(ReplyWriter& w) {
  const uint32_t ip = spec_.ip;
  auto dotted = [](uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
  };
  w.Open('{');
  w.Key("dhcp");
  w.Open('{');
  w.Str("address", dotted(ip));
  w.Str("netmask", "255.255.255.0");
  w.Str("gateway", dotted((ip & 0xFFFFFF00u) | 1));
  w.Str("dns", "8.8.8.8");
  w.Str("mac_address", mac_);
  w.Close('}');
  w.Close('}');
}

// [{"Index":0,"Data":[board sensor, hot sensor],"Total":0.0},...]: every
// board, a disabled one near ambient as the capture's board 0 (42.3, 42.9 °C).
void FakeMiner::WriteEpicTemps(ReplyWriter& w) {
  const Snapshot& s = Snap();
  const int dead = DeadBoard();
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    w.Open('{');
    w.Int("Index", b);
    w.Key("Data");
    w.Open('[');
    w.Fixed(b == dead ? 42.312 : s.temp_pcb[b], 3);
    w.Fixed(b == dead ? 42.875 : s.temp_chip[b], 3);
    w.Close(']');
    w.Fixed("Total", 0, 1);
    w.Close('}');
  }
  w.Close(']');
}

}  // namespace asicmon::fakefarm
