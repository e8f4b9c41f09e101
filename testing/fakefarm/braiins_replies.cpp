// bosminer's (Braiins OS+) replies, in the layouts of the captures in
// tests/data: braiinsos-plus-s9-summary/pools/devs/fans/temps(-chip)/
// tunerstatus/devdetails/version.json and braiinsos-plus-s17-pause.json.
// bosminer serialises its reply structs with serde: keys in the order the
// captures show (alphabetical within a section), rates in MH/s as floats.
// Command set, codes and refusals from the Braiins OS+ API doc and the
// cgminer-api crate bosminer is built on (xertSuns1/braiins
// open/protocols/cgminer-api: unknown command code 14 "Invalid command",
// a command with parameters inside a multi-command code 45).
#include <algorithm>
#include <cstdint>

#include "braiins_models.h"
#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

constexpr double kMhs = 1e6;  // bosminer's rates: MH/s

}  // namespace

bool FakeMiner::WriteBraiins(ReplyWriter& w, std::string_view command,
                             std::vector<PrivilegedAction>* actions) {
  const BraiinsFacts* b = BraiinsFactsOf(model_->id);
  if (b == nullptr) return false;
  if (command == "summary") {
    WriteBraiinsSummary(w);
  } else if (command == "devs" || command == "edevs") {
    WriteBraiinsDevs(w);
  } else if (command == "pools") {
    WriteBraiinsPools(w);
  } else if (command == "stats" || command == "estats") {
    WriteBraiinsStats(w);
  } else if (command == "fans") {
    WriteBraiinsFans(w);
  } else if (command == "temps") {
    WriteBraiinsTemps(w);
  } else if (command == "devdetails") {
    WriteBraiinsDevdetails(w, *b);
  } else if (command == "tunerstatus") {
    WriteBraiinsTuner(w, *b);
  } else if (command == "version") {
    WriteBraiinsVersion(w, *b);
  } else if (command == "pause" || command == "resume") {
    // braiinsos-plus-s17-pause.json: {"PAUSE":[true]}, code 204; resume the
    // same with RESUME and 205 (the doc's next example). Writes, so refused
    // on a read-only API as the pool commands are.
    const bool pause = command == "pause";
    if (spec_.deny_privileged) {
      WriteDenied(w, command);
      if (actions) actions->push_back({std::string(command), "", ActionResult::kDenied});
      return true;
    }
    Halt(pause, now_);
    if (actions) actions->push_back({std::string(command), "", ActionResult::kOk});
    w.Open('{');
    WriteStatus(w, 'S', pause ? 204 : 205, pause ? "Pause" : "Resume");
    w.Key(pause ? "PAUSE" : "RESUME");
    w.Open('[');
    w.Bool(true);
    w.Close(']');
    w.Int("id", 1);
    w.Close('}');
  } else {
    return false;  // pool commands and unknown ones: cgminer's answers
  }
  return true;
}

// braiinsos-plus-s9-summary.json: alphabetical, "MHS" rates, "MHS 24h".
void FakeMiner::WriteBraiinsSummary(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const double minutes = std::max<double>(1, static_cast<double>(s.elapsed)) / 60;
  const double diff_accepted = static_cast<double>(s.accepted) * fw.pool_diff;
  const double diff_rejected = static_cast<double>(s.rejected) * fw.pool_diff;
  const double diff1 = diff_accepted + diff_rejected;
  const double hw_pct = diff1 > 0 ? 100.0 * static_cast<double>(s.hw_errors) /
                                        (diff1 + static_cast<double>(s.hw_errors))
                                  : 0;
  const double rej_pct = diff1 > 0 ? 100.0 * diff_rejected / diff1 : 0;
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("Accepted", s.accepted);
  w.Int("Best Share", s.accepted > 0 ? static_cast<int64_t>(fw.pool_diff) : 0);
  w.Fixed("Device Hardware%", hw_pct, 6);
  w.Fixed("Device Rejected%", rej_pct, 6);
  w.Fixed("Difficulty Accepted", diff_accepted, 1);
  w.Fixed("Difficulty Rejected", diff_rejected, 1);
  w.Fixed("Difficulty Stale", 0, 1);
  w.Int("Discarded", 0);
  w.Int("Elapsed", s.elapsed);
  w.Int("Found Blocks", 0);
  w.Int("Get Failures", 0);
  w.Int("Getworks", s.getworks);
  w.Int("Hardware Errors", s.hw_errors);
  w.Int("Last getwork", s.when);
  w.Int("Local Work", s.discarded + s.getworks * 7);
  w.Fixed("MHS 15m", s.rate_av / kMhs, 6);
  w.Fixed("MHS 1m", s.rate_5s / kMhs, 6);
  // The 24 h average counts the hours before the start as idle (the capture's
  // 562115 MH/s after 3680 s at 12 TH/s).
  const double day_share = std::min<double>(1, static_cast<double>(s.elapsed) / 86400);
  w.Fixed("MHS 24h", s.rate_av * day_share / kMhs, 6);
  w.Fixed("MHS 5m", s.rate_av / kMhs, 6);
  w.Fixed("MHS 5s", s.rate_5s / kMhs, 6);
  w.Fixed("MHS av", s.rate_av / kMhs, 6);
  w.Int("Network Blocks", 0);
  w.Fixed("Pool Rejected%", rej_pct, 1);
  w.Fixed("Pool Stale%", 0, 1);
  w.Int("Rejected", s.rejected);
  w.Int("Remote Failures", 0);
  w.Int("Stale", 0);
  w.Fixed("Total MH", s.rate_av * static_cast<double>(s.elapsed) / kMhs, 3);
  w.Fixed("Utility", static_cast<double>(s.accepted) / minutes, 6);
  w.Fixed("Work Utility", diff1 / minutes, 6);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-devs.json: one ASC per chain, "ID" the chain number,
// "Nominal MHS", Temperature 0.0 (temps has the sensors).
void FakeMiner::WriteBraiinsDevs(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int dead = DeadBoard();
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} ASC(s)", model_->boards);
  w.Open('{');
  WriteStatus(w, 'S', 9, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("DEVS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    const bool alive = b != dead;
    const int64_t accepted = alive ? s.accepted / model_->boards : 0;
    const double av = sleeping_ || !alive ? 0 : s.board_ideal[b] * (1 + av_offset_);
    w.Open('{');
    w.Int("ASC", b);
    w.Int("Accepted", accepted);
    w.Int("Device Elapsed", s.elapsed);
    w.Fixed("Device Hardware%", 0, 1);
    w.Fixed("Device Rejected%", 0, 1);
    w.Int("Diff1 Work", static_cast<int64_t>(static_cast<double>(accepted) * fw.pool_diff));
    w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * fw.pool_diff, 1);
    w.Fixed("Difficulty Rejected", 0, 1);
    w.Str("Enabled", "Y");
    w.Fixed("Hardware Error MHS 15m", 0, 1);
    w.Int("Hardware Errors", s.board_hw[b]);
    w.Int("ID", model_->first_chain + b);
    w.Fixed("Last Share Difficulty", alive ? fw.pool_diff : 0, 1);
    w.Int("Last Share Pool", -1);  // as the capture: bosminer leaves it unset
    w.Int("Last Share Time", alive ? s.when - 5 : 0);
    w.Int("Last Valid Work", alive ? s.when : 0);
    w.Fixed("MHS 15m", av / kMhs, 6);
    w.Fixed("MHS 1m", s.board_rate[b] / kMhs, 6);
    w.Fixed("MHS 5m", av / kMhs, 6);
    w.Fixed("MHS 5s", s.board_rate[b] / kMhs, 6);
    w.Fixed("MHS av", av / kMhs, 6);
    w.Str("Name", "");
    w.Fixed("Nominal MHS", s.board_ideal[b] / kMhs, 1);
    w.Int("Rejected", 0);
    w.Str("Status", alive ? "Alive" : "Dead");
    w.Fixed("Temperature", 0, 1);
    w.Fixed("Total MH", av * static_cast<double>(s.elapsed) / kMhs, 3);
    w.Fixed("Utility", 0, 1);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-pools.json: alphabetical, "Last Share Time" an epoch int.
void FakeMiner::WriteBraiinsPools(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int active = ActivePool();
  const int total = static_cast<int>(pools_.size());
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Pool(s)", total);
  w.Open('{');
  WriteStatus(w, 'S', 7, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("POOLS");
  w.Open('[');
  for (int i = 0; i < total; ++i) {
    const Pool& p = pools_[i];
    const bool in_use = i == active;
    const int64_t accepted = p.accepted + (in_use ? s.accepted - settled_accepted_ : 0);
    const double diff_accepted = static_cast<double>(accepted) * fw.pool_diff;
    std::string_view host = p.url;
    if (const size_t scheme = host.find("://"); scheme != std::string_view::npos) {
      host.remove_prefix(scheme + 3);
    }
    w.Open('{');
    w.Int("Accepted", accepted);
    w.Bool("AsicBoost", true);
    w.Int("Bad Work", 0);
    w.Int("Best Share", accepted > 0 ? static_cast<int64_t>(fw.pool_diff) : 0);
    w.Int("Current Block Height", 0);
    w.Int("Current Block Version", 536870912);
    w.Int("Diff1 Shares", static_cast<int64_t>(diff_accepted));
    w.Fixed("Difficulty Accepted", diff_accepted, 1);
    w.Fixed("Difficulty Rejected", 0, 1);
    w.Fixed("Difficulty Stale", 0, 1);
    w.Int("Discarded", 0);
    w.Int("Get Failures", 0);
    w.Int("Getworks", in_use ? s.getworks : 3);
    w.Bool("Has GBT", false);
    w.Bool("Has Stratum", true);
    w.Bool("Has Vmask", true);
    w.Fixed("Last Share Difficulty", in_use ? fw.pool_diff : 0, 1);
    w.Int("Last Share Time", in_use && accepted > 0 ? s.when - 5 : 0);
    w.Str("Long Poll", "N");
    w.Int("POOL", i);
    w.Fixed("Pool Rejected%", 0, 1);
    w.Fixed("Pool Stale%", 0, 1);
    w.Int("Priority", p.priority);
    w.Str("Proxy", "");
    w.Str("Proxy Type", "");
    w.Int("Quota", 1);
    w.Int("Rejected", 0);
    w.Int("Remote Failures", 0);
    w.Int("Stale", 0);
    w.Str("Status", p.enabled ? "Alive" : "Disabled");
    w.Bool("Stratum Active", in_use);
    w.Fixed("Stratum Difficulty", fw.pool_diff, 1);
    w.EscStr("Stratum URL", host);
    w.EscStr("URL", p.url);
    w.EscStr("User", p.user);
    w.Fixed("Work Difficulty", fw.pool_diff, 1);
    w.Int("Works", in_use ? s.getworks * 151 : 0);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// No capture: the cgminer-api crate's AscStats, a header per chain (STATS,
// ID, Elapsed, Calls, Wait, Max, Min) and no telemetry; code 70 as cgminer.
void FakeMiner::WriteBraiinsStats(ReplyWriter& w) {
  const Snapshot& s = Snap();
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} stats", model_->firmware.msg_prefix);
  w.Open('{');
  WriteStatus(w, 'S', 70, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("STATS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    w.Open('{');
    w.Int("STATS", b);
    w.Key("ID");
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "ASC{}", b);
    w.Str(std::string_view(scratch_.data(), scratch_.size()));
    w.Int("Elapsed", s.elapsed);
    w.Int("Calls", 0);
    w.Fixed("Wait", 0, 1);
    w.Fixed("Max", 0, 1);
    w.Fixed("Min", 0, 1);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-fans.json: every header, code 202, Speed the duty %.
void FakeMiner::WriteBraiinsFans(ReplyWriter& w) {
  const Snapshot& s = Snap();
  const int fans = model_->firmware.fans;
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Fan(s)", fans);
  w.Open('{');
  WriteStatus(w, 'S', 202, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("FANS");
  w.Open('[');
  for (int f = 0; f < fans; ++f) {
    w.Open('{');
    w.Int("FAN", f);
    w.Int("ID", f);
    w.Int("RPM", s.fans[f]);
    w.Int("Speed", sleeping_ ? 0 : 40);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-temps-chip.json: Board and Chip per chain, code 201.
void FakeMiner::WriteBraiinsTemps(ReplyWriter& w) {
  const Snapshot& s = Snap();
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Temp(s)", model_->boards);
  w.Open('{');
  WriteStatus(w, 'S', 201, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("TEMPS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    w.Open('{');
    w.Fixed("Board", s.temp_pcb[b], 3);
    w.Fixed("Chip", s.temp_chip[b], 3);
    w.Int("ID", model_->first_chain + b);
    w.Int("TEMP", b);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-devdetails.json: "Frequency" in Hz, "Model" with the
// maker's name, code 69.
void FakeMiner::WriteBraiinsDevdetails(ReplyWriter& w, const BraiinsFacts& b) {
  w.Open('{');
  WriteStatus(w, 'S', 69, "Device Details");
  w.Key("DEVDETAILS");
  w.Open('[');
  for (int i = 0; i < model_->boards; ++i) {
    const int chain = model_->first_chain + i;
    const int chips = i == DeadBoard() ? 0 : model_->chips_per_board;
    w.Open('{');
    w.Int("Chips", chips);
    w.Int("Cores", int64_t{chips} * b.cores_per_chip);
    w.Int("DEVDETAILS", i);
    w.Str("Device Path", "");
    w.Str("Driver", "");
    // Each chain tuned to its own clock, as the capture's 770-810 MHz.
    w.Int("Frequency", int64_t{model_->firmware.frequency} * 1'000'000 + (i - 1) * 9'812'285);
    w.Int("ID", chain);
    w.Str("Kernel", "");
    w.Str("Model", b.hardware);
    w.Key("Name");
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "Hash Chain {}", chain);
    w.Str(std::string_view(scratch_.data(), scratch_.size()));
    w.Fixed("Voltage", b.chain_volts + 0.05 * i, 6);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

int FakeMiner::power_target() const {
  const BraiinsFacts* b = BraiinsFactsOf(model_->id);
  if (b == nullptr) return 0;
  return power_target_w_ > 0 ? power_target_w_ : b->power_limit;
}

double FakeMiner::TargetWatts(double now) const {
  const double to = power_target();
  if (power_target_w_ <= 0) return to;
  const double done = spec_.power_ramp_s > 0 ? (now - power_set_at_) / spec_.power_ramp_s : 1;
  if (!(done < 1)) return to;
  return power_from_w_ + (to - power_from_w_) * std::max(0.0, done);
}

void FakeMiner::SetPowerTarget(int watts, double now) {
  if (BraiinsFactsOf(model_->id) == nullptr || watts <= 0) return;
  power_from_w_ = TargetWatts(now);
  power_target_w_ = watts;
  power_set_at_ = now;
  snap_valid_ = false;
}

// The tuner runs the chips at the target's share of the nominal draw; the
// hashrate is taken to follow the draw linearly (no public curve of an
// S19 XP under BOS exists; real chips gain efficiency as they slow).
double FakeMiner::BraiinsPowerShare() const {
  const BraiinsFacts* b = BraiinsFactsOf(model_->id);
  if (b == nullptr || b->watts <= 0) return 1;
  return std::clamp(TargetWatts(now_) / b->watts, 0.0, 1.0);
}

// braiinsos-plus-s9-tunerstatus.json: the tuner's estimate of the miner's
// draw and of each chain's, under the power limit; code 203. Paused, the
// boards are off (the pause doc's log: "PWR/1: Disable voltage").
void FakeMiner::WriteBraiinsTuner(ReplyWriter& w, const BraiinsFacts& b) {
  const Snapshot& s = Snap();
  const double share = s.rate_ideal > 0 ? s.rate_5s / s.rate_ideal : 0;
  const auto miner_w = static_cast<int64_t>(b.watts * std::min(1.0, share));
  // The chains draw 95 %; the rest is the fans and the control board.
  const int64_t chain_w = miner_w * 95 / 100 / model_->boards;
  const int64_t chain_limit = power_target() * 95 / 100 / model_->boards;
  w.Open('{');
  WriteStatus(w, 'S', 203, "Tuner Status");
  w.Key("TUNERSTATUS");
  w.Open('[');
  w.Open('{');
  w.Int("ApproximateChainPowerConsumption", chain_w * model_->boards);
  w.Int("ApproximateMinerPowerConsumption", miner_w);
  w.Str("DynamicPowerScaling", "Disabled");
  w.Int("PowerLimit", power_target());
  w.Key("TunerChainStatus");
  w.Open('[');
  for (int i = 0; i < model_->boards; ++i) {
    w.Open('{');
    w.Int("ApproximatePowerConsumptionWatt", i == DeadBoard() ? 0 : chain_w);
    w.Int("HashchainIndex", model_->first_chain + i);
    w.Int("Iteration", 0);
    w.Int("LoadedProfileCreatedOn", static_cast<int64_t>(start_time_));
    w.Int("PowerLimitWatt", chain_limit);
    w.Int("StageElapsed", s.elapsed);
    w.Str("Status", sleeping_ ? "Paused" : "Stable");
    w.Bool("TunerRunning", !sleeping_);
    w.Int("TuningElapsed", s.elapsed);
    w.Close('}');
  }
  w.Close(']');
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// braiinsos-plus-s9-version.json: {"API":"3.7","<firmware>":"<version>"}, no Type.
void FakeMiner::WriteBraiinsVersion(ReplyWriter& w, const BraiinsFacts& b) {
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} versions", b.version_key);
  w.Open('{');
  WriteStatus(w, 'S', 22, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("VERSION");
  w.Open('[');
  w.Open('{');
  w.Str("API", "3.7");
  w.Str(b.version_key, b.version);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
