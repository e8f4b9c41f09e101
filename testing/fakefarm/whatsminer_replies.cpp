// The replies of MicroBT's btminer, in the layouts of the captures in
// tests/data: API v2 on the API port, cgminer's commands (summary, edevs,
// devs, pools, devdetails; joined with '+') in the 2021 form of
// whatsminer-m31s-*.json or the 2023+ form of whatsminer-v2-*.json, btminer's
// own commands (status, get_*; one a request, STATUS a string and Msg an
// object); API v3 is whatsminer_v3_replies.cpp's. The 2023+ v2 captures were
// re-serialised by their publisher with sorted keys: those replies carry the
// captured key sets in the captured order, the STATUS blocks cgminer's order
// (the 2021 socket captures').
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fake_miner.h"
#include "reply_writer.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {

bool FakeMiner::WriteWhatsminer(ReplyWriter& w, std::string_view command, bool joined) {
  const WhatsminerFacts* f = WhatsminerFactsOf(model_->id);
  if (f == nullptr) return false;
  wm_.Init(*f);
  if (command == "get_token" && !joined) {
    WriteBtminerToken(w);
  } else if (command == "summary") {
    WriteWhatsminerSummary(w, *f);
  } else if (command == "edevs" || command == "devs") {
    WriteWhatsminerDevs(w, *f);
  } else if (command == "pools") {
    WriteWhatsminerPools(w, *f);
  } else if (command == "devdetails") {
    WriteWhatsminerDetails(w, *f);
  } else if (!joined && IsBtminerOwnCommand(command) &&
             (f->form_2023 || command == "status" || command == "get_version")) {
    // get_miner_info and get_error_code came with API v2.0 (the asic-rs v2
    // set answers them, its v1.4 set has neither).
    WriteBtminerOwn(w, *f, command);
  } else if (joined) {
    // btminer has no stats, version or estats (pyasic's BTMinerRPCAPI lists
    // none): within a multi-command, cgminer's api.c refuses each part it
    // does not know, in its own form (whatsminer-m31s-multicommand-error.json
    // shows api.c's errors reach the client).
    WriteStatusReply(w, 'E', 14, "Invalid command");
  } else {
    // Alone, btminer refuses in its own form: the 2026 M31S's answer to
    // "version" quoted in whatsminer_family_test (RefusedGetCommandLeavesTheRest).
    w.Open('{');
    w.Str("STATUS", "E");
    w.Int("When", Snap().when);
    w.Int("Code", 14);
    w.Str("Msg", "invalid cmd");
    w.Str("Description", f->own_description);
    w.Close('}');
  }
  return true;
}

std::string_view FakeMiner::WhatsminerMac(const WhatsminerFacts& f) {
  scratch_.clear();
  // Stable per address: the prefix of the model's captures, the address's low three bytes.
  const uint32_t low = spec_.ip != 0 ? spec_.ip : static_cast<uint32_t>(spec_.index + 1);
  fmt::format_to(fmt::appender(scratch_), "{}:{:02X}:{:02X}:{:02X}", f.mac_prefix,
                 (low >> 16) & 0xff, (low >> 8) & 0xff, low & 0xff);
  return {scratch_.data(), scratch_.size()};
}

// whatsminer-m31s-summary.json (2021) or whatsminer-v2-summary.json (2023+).
void FakeMiner::WriteWhatsminerSummary(ReplyWriter& w, const WhatsminerFacts& f) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const double minutes = std::max<double>(1, static_cast<double>(s.elapsed)) / 60;
  const double diff_accepted = static_cast<double>(s.accepted) * fw.pool_diff;
  const double diff_rejected = static_cast<double>(s.rejected) * fw.pool_diff;
  const double rej_pct =
      s.accepted + s.rejected > 0
          ? 100.0 * static_cast<double>(s.rejected) / static_cast<double>(s.accepted + s.rejected)
          : 0;
  const double share = model_->hashrate_nominal > 0 ? s.rate_5s / model_->hashrate_nominal : 0;
  const auto watts = static_cast<int64_t>(std::llround(f.watts * std::clamp(share, 0.05, 1.2)));
  int chip_min = 999;
  int chip_max = 0;
  int chip_sum = 0;
  int live = 0;
  const int dead = DeadBoard();
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    chip_min = std::min(chip_min, s.temp_chip[b] - 15);
    chip_max = std::max(chip_max, s.temp_chip[b]);
    chip_sum += s.temp_chip[b] - 7;
    ++live;
  }
  if (live == 0) chip_min = 0;
  const double chip_avg = live > 0 ? static_cast<double>(chip_sum) / live : 0;
  const int64_t uptime = s.elapsed + 500;  // the system is up before btminer starts
  const std::string_view mac = WhatsminerMac(f);
  const std::string mac_text(mac);
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  if (f.form_2023) {
    // whatsminer-v2-summary.json's keys: rates in MH/s ("HS RT" the 5 s one).
    w.Int("Accepted", s.accepted);
    w.Int("Best Share", 1000003 + s.accepted * 4093);
    w.Fixed("Chip Temp Avg", chip_avg, 2);
    w.Fixed("Chip Temp Max", chip_max, 2);
    w.Fixed("Chip Temp Min", chip_min, 2);
    w.Int("Elapsed", s.elapsed);
    w.Fixed("Env Temp", f.env_temp, 2);
    w.Int("Factory GHS", std::llround(model_->hashrate_nominal / 1e9));
    w.Int("Fan Speed In", s.fans[0]);
    w.Int("Fan Speed Out", s.fans[1]);
    w.Fixed("HS RT", s.rate_5s / 1e6, 2);
    w.Bool("Hash Stable", true);
    w.Str("MAC", mac_text);
    w.Fixed("MHS av", s.rate_av / 1e6, 2);
    w.Fixed("Pool Rejected%", rej_pct, 4);
    w.Int("Power", watts);
    w.Int("Power Limit", wm_.limit);
    w.Str("Power Mode", WhatsminerModeName(false));
    w.Int("Target Freq", fw.frequency);
    w.Int("Uptime", uptime);
  } else {
    // whatsminer-m31s-summary.json's keys; the figures no reader uses
    // (Voltage, Power Fanspeed, Chip Data...) are the capture's, and the
    // targets keep its ratios (Target Freq 652 at freq_avg 710, Target MHS
    // 94.4 % of Factory GHS).
    w.Int("Elapsed", s.elapsed);
    w.Fixed("MHS av", s.rate_av / 1e6, 2);
    w.Fixed("MHS 5s", s.rate_5s / 1e6, 2);
    w.Fixed("MHS 1m", s.rate_5s / 1e6, 2);
    w.Fixed("MHS 5m", s.rate_av / 1e6, 2);
    w.Fixed("MHS 15m", s.rate_av / 1e6, 2);
    w.Fixed("HS RT", s.rate_5s / 1e6, 2);
    w.Int("Found Blocks", 0);
    w.Int("Getworks", s.getworks);
    w.Int("Accepted", s.accepted);
    w.Int("Rejected", s.rejected);
    w.Int("Hardware Errors", s.hw_errors);
    w.Fixed("Utility", static_cast<double>(s.accepted) / minutes, 2);
    w.Int("Discarded", s.discarded);
    w.Int("Stale", 0);
    w.Int("Get Failures", 0);
    w.Int("Local Work", s.discarded + s.getworks * 7);
    w.Int("Remote Failures", 0);
    w.Int("Network Blocks", s.elapsed / 600);
    w.Fixed("Total MH", s.rate_av * static_cast<double>(s.elapsed) / 1e6, 4);
    w.Fixed("Work Utility", 0, 2);
    w.Fixed("Difficulty Accepted", diff_accepted, 8);
    w.Fixed("Difficulty Rejected", diff_rejected, 8);
    w.Fixed("Difficulty Stale", 0, 8);
    w.Int("Best Share", 1000003 + s.accepted * 4093);
    w.Fixed("Temperature", chip_max - 5, 2);
    w.Int("freq_avg", fw.frequency);
    // The capture reads 0 for its out fan; the fake turns both.
    w.Int("Fan Speed In", s.fans[0]);
    w.Int("Fan Speed Out", s.fans[1]);
    w.Int("Voltage", 1206);
    w.Int("Power", watts);
    w.Int("Power_RT", watts);
    w.Fixed("Power Rate", s.rate_5s > 0 ? static_cast<double>(watts) / (s.rate_5s / 1e12) : 0, 2);
    w.Fixed("Device Hardware%", 0, 4);
    w.Fixed("Device Rejected%", 0, 4);
    w.Fixed("Pool Rejected%", rej_pct, 4);
    w.Fixed("Pool Stale%", 0, 4);
    w.Int("Last getwork", 0);
    w.Int("Uptime", uptime);
    w.Str("Chip Data", "HPJA05-20070601 BINV02-193005F");
    w.Fixed("Power Current", static_cast<double>(watts) / 12.85, 6);
    w.Int("Power Fanspeed", 7608);
    // A healthy unit: no "Error Code N" pairs (whatsminer-v1.4-summary.json).
    w.Int("Error Code Count", 0);
    w.Int("Factory Error Code Count", 0);
    w.Int("Security Mode", 0);
    w.Bool("Liquid Cooling", false);
    w.Bool("Hash Stable", true);
    w.Int("Hash Stable Cost Seconds", s.elapsed);
    w.Fixed("Hash Deviation%", 0.0086, 4);
    w.Int("Target Freq", fw.frequency - 58);
    w.Int("Target MHS", std::llround(model_->hashrate_nominal * 0.944 / 1e6));
    w.Fixed("Env Temp", f.env_temp, 2);
    w.Str("Power Mode", WhatsminerModeName(false));
    // The build in single quotes, as the 2021 firmware writes it.
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "'{}'", f.build);
    w.Str("Firmware Version", std::string_view(scratch_.data(), scratch_.size()));
    w.Str("CB Platform", "ALLWINNER_H6OS");
    w.Str("CB Version", "V10");
    w.Str("MAC", mac_text);
    w.Int("Factory GHS", std::llround(model_->hashrate_nominal / 1e9));
    w.Int("Power Limit", wm_.limit);
    w.Fixed("Power Voltage Input", 229.5, 2);
    w.Fixed("Power Current Input", static_cast<double>(watts) / 229.5, 2);
    w.Fixed("Chip Temp Min", chip_min, 2);
    w.Fixed("Chip Temp Max", chip_max, 2);
    w.Fixed("Chip Temp Avg", chip_avg, 2);
    w.Str("Debug", "");
  }
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// whatsminer-m31s-edevs.json (2021) or whatsminer-v2-devs.json (2023+): one
// entry per board, "MHS av" in MH/s. No capture shows a dead Whatsminer
// board: the fake's reads no rate and no effective chips.
void FakeMiner::WriteWhatsminerDevs(ReplyWriter& w, const WhatsminerFacts& f) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int dead = DeadBoard();
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} ASC(s)", model_->boards);
  const std::string msg(scratch_.data(), scratch_.size());
  w.Open('{');
  WriteStatus(w, 'S', 9, msg);
  w.Key("DEVS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    const bool alive = b != dead;
    const int chips = alive ? model_->chips_per_board : 0;
    const double share = s.rate_ideal > 0 ? s.board_ideal[b] / s.rate_ideal : 0;
    const double rate_av = alive ? s.rate_av * share : 0;
    const int64_t accepted = static_cast<int64_t>(static_cast<double>(s.accepted) * share);
    char pcb_sn[32];
    const auto sn_end =
        fmt::format_to_n(pcb_sn, sizeof pcb_sn, "BJM1FS6963{:06d}K{:04d}", spec_.index + 1, b + 1);
    const std::string_view sn(pcb_sn, sn_end.size);
    w.Open('{');
    if (f.form_2023) {
      w.Int("ASC", b);
      w.Int("Accepted", accepted);
      w.Int("Chip Frequency", fw.frequency);
      w.Fixed("Chip Temp Avg", s.temp_chip[b] - 7, 2);
      w.Fixed("Chip Temp Max", s.temp_chip[b], 2);
      w.Fixed("Chip Temp Min", s.temp_chip[b] - 15, 2);
      w.Int("Device Elapsed", s.elapsed);
      w.Int("Effective Chips", chips);
      w.Str("Enabled", "Y");
      w.Int("Factory GHS", std::llround(s.board_ideal[b] / 1e9));
      w.Int("Fan Speed In", s.fans[0]);
      w.Int("Fan Speed Out", s.fans[1]);
      w.Fixed("Frequency", fw.frequency, 2);
      w.Int("ID", b);
      w.Fixed("MHS av", rate_av / 1e6, 2);
      w.Str("Name", "SM");
      w.Str("PCB SN", sn);
      w.Int("Rejected", 0);
      w.Int("Slot", b);
      w.Str("Status", "Alive");
      w.Fixed("Temperature", s.temp_pcb[b], 2);
    } else {
      w.Int("ASC", b);
      w.Str("Name", "SM");
      w.Int("ID", b);
      w.Int("Slot", b);
      w.Str("Enabled", "Y");
      w.Str("Status", "Alive");
      w.Fixed("Temperature", s.temp_pcb[b], 2);
      w.Int("Chip Frequency", fw.frequency);
      w.Int("Fan Speed In", s.fans[0]);
      w.Int("Fan Speed Out", s.fans[1]);
      w.Fixed("MHS av", rate_av / 1e6, 2);
      w.Fixed("MHS 5s", s.board_rate[b] / 1e6, 2);
      w.Fixed("MHS 1m", s.board_rate[b] / 1e6, 2);
      w.Fixed("MHS 5m", rate_av / 1e6, 2);
      w.Fixed("MHS 15m", rate_av / 1e6, 2);
      w.Int("Accepted", accepted);
      w.Int("Rejected", 0);
      w.Int("Hardware Errors", s.board_hw[b]);
      w.Fixed("Utility", 1.37, 2);
      w.Int("Last Share Pool", 0);
      w.Int("Last Share Time", s.when - 4);
      w.Fixed("Total MH", rate_av * static_cast<double>(s.elapsed) / 1e6, 4);
      w.Int("Diff1 Work", 0);
      w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * fw.pool_diff, 8);
      w.Fixed("Difficulty Rejected", 0, 8);
      w.Fixed("Last Share Difficulty", fw.pool_diff, 8);
      w.Int("Last Valid Work", s.when);
      w.Fixed("Device Hardware%", 0, 4);
      w.Fixed("Device Rejected%", 0, 4);
      w.Int("Device Elapsed", s.elapsed);
      w.Int("Upfreq Complete", 1);
      w.Int("Effective Chips", chips);
      w.Str("PCB SN", sn);
      w.Str("Chip Data", "HPJA05-20070601 BINV02-193005F");
      w.Fixed("Chip Temp Min", s.temp_chip[b] - 15, 2);
      w.Fixed("Chip Temp Max", s.temp_chip[b], 2);
      w.Fixed("Chip Temp Avg", s.temp_chip[b] - 7, 2);
      w.Int("chip_vol_diff", 11 + b);
    }
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// whatsminer-m31s-pools.json (2021) or whatsminer-v2-pools.json (2023+):
// POOL numbered from 1.
void FakeMiner::WriteWhatsminerPools(ReplyWriter& w, const WhatsminerFacts& f) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int active = ActivePool();
  const int total = static_cast<int>(pools_.size());
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Pool(s)", total);
  const std::string msg(scratch_.data(), scratch_.size());
  w.Open('{');
  WriteStatus(w, 'S', 7, msg);
  w.Key("POOLS");
  w.Open('[');
  for (int i = 0; i < total; ++i) {
    const Pool& p = pools_[i];
    const bool in_use = i == active;
    const int64_t accepted = p.accepted + (in_use ? s.accepted - settled_accepted_ : 0);
    const int64_t rejected = accepted / 400;
    const std::string_view status = p.enabled ? "Alive" : "Disabled";
    w.Open('{');
    if (f.form_2023) {
      w.Int("Accepted", accepted);
      w.Int("POOL", i + 1);
      w.Int("Priority", p.priority);
      w.Int("Rejected", rejected);
      w.Str("Status", status);
      w.Bool("Stratum Active", in_use);
      w.EscStr("URL", p.url);
      w.EscStr("User", p.user);
    } else {
      w.Int("POOL", i + 1);
      w.EscStr("URL", p.url);
      w.Str("Status", status);
      w.Int("Priority", p.priority);
      w.Int("Quota", 1);
      w.Str("Long Poll", "N");
      w.Int("Getworks", in_use ? s.getworks : 0);
      w.Int("Accepted", accepted);
      w.Int("Rejected", rejected);
      w.Int("Works", in_use ? s.getworks * 656 : 0);
      w.Int("Discarded", 0);
      w.Int("Stale", 0);
      w.Int("Get Failures", 0);
      w.Int("Remote Failures", 0);
      w.EscStr("User", p.user);
      w.Int("Last Share Time", in_use ? s.when - 4 : 0);
      w.Int("Diff1 Shares", 0);
      w.Str("Proxy Type", "");
      w.Str("Proxy", "");
      w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * fw.pool_diff, 8);
      w.Fixed("Difficulty Rejected", static_cast<double>(rejected) * fw.pool_diff, 8);
      w.Fixed("Difficulty Stale", 0, 8);
      w.Fixed("Last Share Difficulty", in_use ? fw.pool_diff : 0, 8);
      w.Fixed("Work Difficulty", 0, 8);
      w.Bool("Has Stratum", true);
      w.Bool("Stratum Active", in_use);
      w.EscStr("Stratum URL", in_use ? UrlHost(p.url) : "");
      w.Fixed("Stratum Difficulty", in_use ? fw.pool_diff : 0, 8);
      w.Bool("Has GBT", false);
      w.Int("Best Share", accepted > 0 ? 1000003 + accepted * 4093 : 0);
      w.Fixed("Pool Rejected%",
              accepted > 0
                  ? 100.0 * static_cast<double>(rejected) / static_cast<double>(accepted + rejected)
                  : 0,
              4);
      w.Fixed("Pool Stale%", 0, 4);
      w.Int("Bad Work", 0);
      w.Int("Current Block Height", in_use ? 668600 + s.elapsed / 600 : 0);
      w.Int("Current Block Version", 536870912);
    }
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// No Whatsminer devdetails capture was found: cgminer 4.9.2's api.c layout
// (devdetail: DEVDETAILS, Name, ID, Driver, Kernel, Model, Device Path; Msg
// "Device Details", code 69) with btminer's driver name and model string as
// pyasic reads them (devdetails[0]["Model"], "M31SV10").
void FakeMiner::WriteWhatsminerDetails(ReplyWriter& w, const WhatsminerFacts& f) {
  w.Open('{');
  WriteStatus(w, 'S', 69, "Device Details");
  w.Key("DEVDETAILS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    w.Open('{');
    w.Int("DEVDETAILS", b);
    w.Str("Name", "SM");
    w.Int("ID", b);
    w.Str("Driver", "bitmicro");
    w.Str("Kernel", "");
    w.Str("Model", f.detail_model);
    w.Str("Device Path", "");
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// btminer's own replies, in whatsminer-m31s-status-sleeping.json's key
// order: status (2021: "btmineroff" and the quoted build; 2023+ as
// whatsminer-v2-status.json), get_version (whatsminer-v1.4-get_version.json),
// get_miner_info (whatsminer-v2-get_miner_info.json, the MAC of the
// address and a hostname of the miner's own) and get_error_code
// (whatsminer-v2-get_error_code.json; a healthy unit lists none).
void FakeMiner::WriteBtminerOwn(ReplyWriter& w, const WhatsminerFacts& f,
                                std::string_view command) {
  w.Open('{');
  w.Str("STATUS", "S");
  w.Int("When", Snap().when);
  w.Int("Code", 131);
  w.Key("Msg");
  w.Open('{');
  if (command == "status" && f.form_2023) {
    w.Str("mineroff", sleeping_ ? "true" : "false");
    w.Str("mineroff_reason", "");
    w.Str("mineroff_time", "");
    w.Str("FirmwareVersion", f.build);
    w.Str("power_mode", WhatsminerModeName(true));
    w.Int("power_limit_set", wm_.limit);
    w.Str("hash_percent", "0");
  } else if (command == "status") {
    w.Str("btmineroff", sleeping_ ? "true" : "false");
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "'{}'", f.build);
    w.Str("Firmware Version", std::string_view(scratch_.data(), scratch_.size()));
  } else if (command == "get_version") {
    w.Str("api_ver", f.form_2023 ? "2.0.5" : f.own_description);
    w.Str("fw_ver", f.build);
    if (f.form_2023) w.Str("platform", "H616");
  } else if (command == "get_miner_info") {
    w.Str("mac", WhatsminerMac(f));
    char hostname[24];
    const auto end =
        fmt::format_to_n(hostname, sizeof hostname, "WhatsMiner-{:04d}", spec_.index + 1);
    w.Str("hostname", std::string_view(hostname, end.size));
    // After set_led with a colour: no capture shows the value, any but "auto".
    w.Str("ledstat", blinking_ ? "manual" : "auto");
  } else {
    w.Key("error_code");
    w.Open('[');
    w.Close(']');
  }
  w.Close('}');
  w.Str("Description", f.own_description);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
