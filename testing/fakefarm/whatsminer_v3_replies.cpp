// MicroBT's Whatsminer API v3 (2024+ firmware, TCP 4433): a 4-byte
// little-endian length, then JSON, both ways ("Whatsminer API documentation"
// v3.0.x), in the layouts of tests/data/whatsminer-m60s-v3-*.json (keys in
// the captured order, sorted by their publisher). Reads need no token.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include "fake_miner.h"
#include "reply_writer.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

// The next '+'-separated part of `rest`, removed from it.
std::string_view NextPart(std::string_view& rest) {
  const size_t plus = rest.find('+');
  const std::string_view part = rest.substr(0, plus);
  rest = plus == std::string_view::npos ? std::string_view() : rest.substr(plus + 1);
  return part;
}

// get.miner.status sections a request may name; more parts are ignored.
constexpr int kMaxV3Sections = 8;

}  // namespace

void FakeMiner::HandleV3(std::string_view request, double now, fmt::memory_buffer& out,
                         std::vector<PrivilegedAction>* actions) {
  now_ = now;
  snap_valid_ = false;
  HaltTick();
  const size_t at = out.size();
  for (int i = 0; i < 4; ++i) out.push_back('\0');  // the length, filled in below
  ReplyWriter w(out, false);
  const WhatsminerFacts* f = WhatsminerFactsOf(model_->id);
  const bool parsed = ParseRequest(request, request_) == ParseOutcome::kMissingCommand;
  const std::string& cmd = request_.cmd;
  if (f != nullptr) wm_.Init(*f);
  if (parsed && f != nullptr && HasWhatsminerV3(model_->id) && cmd.starts_with("set.")) {
    WriteV3Set(w, request, actions);
  } else if (parsed && f != nullptr && HasWhatsminerV3(model_->id) &&
             (cmd == "get.device.info" || cmd == "get.miner.status")) {
    w.Open('{');
    w.Int("code", 0);
    w.Str("desc", cmd);
    w.Key("msg");
    if (cmd == "get.device.info") {
      WriteV3DeviceInfo(w, *f);
    } else {
      WriteV3MinerStatus(w, request_.param);
    }
    w.Int("when", Snap().when);
    w.Close('}');
  } else {
    // The v3 document's code -2 for a command it does not know (the refusal
    // whatsminer_family_test's hand-made reply follows).
    w.Open('{');
    w.Int("code", -2);
    w.Str("desc", parsed ? std::string_view(cmd) : std::string_view());
    w.Str("msg", "invalid command");
    w.Int("when", Snap().when);
    w.Close('}');
  }
  const auto length = static_cast<uint32_t>(out.size() - at - 4);
  for (int i = 0; i < 4; ++i)
    out[at + static_cast<size_t>(i)] = static_cast<char>(length >> (8 * i));
}

// whatsminer-m60s-v3-get.device.info.json: identity of this miner (its
// address's MAC and address, a serial and PCB serials of its own).
void FakeMiner::WriteV3DeviceInfo(ReplyWriter& w, const WhatsminerFacts& f) {
  const Snapshot& s = Snap();
  const int n = spec_.index + 1;
  const std::string mac(WhatsminerMac(f));
  char text[48];
  const auto put = [&](std::string_view key, fmt::format_to_n_result<char*> end) {
    w.Str(key, std::string_view(text, std::min(end.size, sizeof text)));
  };
  w.Open('{');
  w.Key("miner");
  w.Open('{');
  put("board-num", fmt::format_to_n(text, sizeof text, "{}", model_->boards));
  for (int b = 0; b < model_->boards; ++b) {
    w.Key("chipdata", b);
    w.Str("K8EC374-2426 BINVE6-197806A");
  }
  scratch_.clear();
  for (int b = 0; b < model_->boards; ++b) {
    fmt::format_to(fmt::appender(scratch_), "{}{}", b > 0 ? ":" : "",
                   std::llround(s.board_ideal[b] / 1e9));
  }
  w.Str("detect-hash-rate", std::string_view(scratch_.data(), scratch_.size()));
  w.Str("fast-boot", "disable");
  w.Str("hash-board", "K40");
  w.Str("hash-percent", "0");
  put("miner-sn", fmt::format_to_n(text, sizeof text, "BTM3CS40HD2408310000000{:010d}", n));
  for (int b = 0; b < model_->boards; ++b) {
    w.Key("pcbsn", b);
    const auto end = fmt::format_to_n(text, sizeof text, "BKM3CSE14048{:02d}K{:06d}", b, n);
    w.Str(std::string_view(text, std::min(end.size, sizeof text)));
  }
  w.Str("pool-strategy", "FAILOVER");
  w.Str("type", f.v3_type);
  w.Str("working", sleeping_ ? "false" : "true");
  w.Close('}');
  w.Key("network");
  w.Open('{');
  w.Str("dns", "172.16.2.1");
  w.Str("gateway", "172.16.2.1");
  put("hostname", fmt::format_to_n(text, sizeof text, "WhatsMiner-{:04d}", n));
  const uint32_t ip = spec_.ip;
  put("ip", fmt::format_to_n(text, sizeof text, "{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff,
                             (ip >> 8) & 0xff, ip & 0xff));
  w.Str("mac", mac);
  w.Str("netmask", "255.255.255.0");
  w.Str("proto", "dhcp");
  w.Close('}');
  w.Key("power");
  w.Open('{');
  w.Int("fanspeed", 6344);
  w.Str("hwversion", "RT0159");
  w.Str("mode", wm_.mode == 0 ? "0" : wm_.mode == 2 ? "2" : "1");  // asic-rs: 0 low, 1 normal, 2 high
  w.Str("model", "P221B");
  put("sn", fmt::format_to_n(text, sizeof text, "1436B24296{:05d}", n));
  w.Str("swversion", "230224.220429");
  w.Str("type", "P221B");
  w.Str("vendor", "1");
  w.Close('}');
  w.Str("salt", WhatsminerV3Salt());
  w.Key("system");
  w.Open('{');
  w.Str("api", "3.0.2");
  w.Str("apiswitch", "1");
  w.Str("control-board-version", "CB6V10");
  w.Str("fwversion", f.build);
  // After set.system.led with colours: no capture shows it, any but "auto".
  w.Str("ledstatus", blinking_ ? "manual" : "auto");
  w.Str("platform", "H616");
  w.Close('}');
  w.Close('}');
}

// get.miner.status with "param":"summary+pools+edevs" (any of the three,
// in the order asked): each section as its single-section capture
// (whatsminer-m60s-v3-get.miner.status-*.json) under one msg, as the v3
// document allows. Rates in TH/s, power in W.
void FakeMiner::WriteV3MinerStatus(ReplyWriter& w, std::string_view sections) {
  const WhatsminerFacts& f = *WhatsminerFactsOf(model_->id);
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int dead = DeadBoard();
  const double share = model_->hashrate_nominal > 0 ? s.rate_5s / model_->hashrate_nominal : 0;
  const double watts = std::round(f.watts * std::clamp(share, 0.05, 1.2));
  std::array<std::string_view, kMaxV3Sections> seen;
  int parts = 0;
  w.Open('{');
  for (std::string_view rest = sections; !rest.empty() && parts < kMaxV3Sections;) {
    const std::string_view part = NextPart(rest);
    if (std::find(seen.begin(), seen.begin() + parts, part) != seen.begin() + parts) continue;
    seen[parts++] = part;
    if (part == "summary") {
      int chip_max = 0;
      for (int b = 0; b < model_->boards; ++b) {
        if (b != dead) chip_max = std::max(chip_max, s.temp_chip[b]);
      }
      w.Key("summary");
      w.Open('{');
      w.Str("Debug", "");
      w.Key("board-temperature");
      w.Open('[');
      for (int b = 0; b < model_->boards; ++b) w.Fixed(s.temp_pcb[b], 1);
      w.Close(']');
      w.Int("bootup-time", s.elapsed + 500);
      w.Fixed("chip-temp-avg", chip_max - 6.5, 1);
      w.Fixed("chip-temp-max", chip_max, 1);
      w.Fixed("chip-temp-min", chip_max - 14, 1);
      w.Int("elapsed", s.elapsed);
      w.Fixed("environment-temperature", f.env_temp, 1);
      w.Fixed("factory-hash", model_->hashrate_nominal / 1e12, 3);
      w.Int("fan-speed-in", s.fans[0]);
      w.Int("fan-speed-out", s.fans[1]);
      w.Int("freq-avg", fw.frequency);
      w.Fixed("hash-15min", s.rate_av / 1e12, 1);
      w.Fixed("hash-1min", s.rate_5s / 1e12, 1);
      w.Fixed("hash-average", s.rate_av / 1e12, 1);
      w.Fixed("hash-realtime", s.rate_5s / 1e12, 3);
      w.Fixed("power-5min", watts, 1);
      w.Int("power-limit", wm_.limit);
      w.Fixed("power-rate", s.rate_5s > 0 ? watts / (s.rate_5s / 1e12) : 0, 1);
      w.Fixed("power-realtime", watts, 1);
      w.Int("up-freq-finish", 1);
      w.Close('}');
    } else if (part == "pools") {
      const int active = ActivePool();
      w.Key("pools");
      w.Open('[');
      for (int i = 0; i < static_cast<int>(pools_.size()); ++i) {
        const Pool& p = pools_[i];
        w.Open('{');
        w.EscStr("account", p.user);
        w.Int("pool-priority", p.priority);
        w.Str("status", p.enabled ? "alive" : "disabled");
        w.Bool("stratum-active", i == active);
        w.EscStr("url", p.url);
        w.Close('}');
      }
      w.Close(']');
    } else if (part == "edevs") {
      w.Key("edevs");
      w.Open('[');
      for (int b = 0; b < model_->boards; ++b) {
        const bool alive = b != dead;
        const double part_share = s.rate_ideal > 0 ? s.board_ideal[b] / s.rate_ideal : 0;
        w.Open('{');
        w.Fixed("chip-temp-avg", s.temp_chip[b] - 6, 1);
        w.Fixed("chip-temp-max", s.temp_chip[b], 1);
        w.Fixed("chip-temp-min", s.temp_chip[b] - 12, 1);
        w.Int("effective-chips", alive ? model_->chips_per_board : 0);
        w.Fixed("factory-hash", s.board_ideal[b] / 1e12, 2);
        w.Fixed("freq", fw.frequency, 1);
        w.Fixed("hash-average", alive ? s.rate_av * part_share / 1e12 : 0, 1);
        w.Fixed("hash-realtime", s.board_rate[b] / 1e12, 1);
        w.Int("id", b);
        w.Str("status", "alive");
        w.Close('}');
      }
      w.Close(']');
    }
  }
  w.Close('}');
}

}  // namespace asicmon::fakefarm
