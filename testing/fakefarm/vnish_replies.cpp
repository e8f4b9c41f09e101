// Vnish 1.x's cgminer API on 4028 (an Antminer S21 Pro on Vnish 1.2.7), key
// for key as tests/data/vnish-s21pro-{summary,stats,pools,devdetails,
// version}.json: STATUS "Description" "cgminer 4.11.1"; summary, stats and
// pools end without "id", devdetails with "id":1; STATS[0] carries the Type
// with Vnish's version appended and Vnish's own version under "Cgminer";
// STATS[1] keys grouped by kind across the chains, "chain_consumptionN"
// watts, a "state" that is Vnish's miner state (the HTTP API's MinerState
// values: "auto-tuning" in the capture); pools show their URL without a
// scheme and end with Vnish's "DevFee" pool (Type 1). `version`, and every
// command the capture does not show, is refused as the capture refuses
// `version`: STATUS "E", Code 0, "Invalid command".
//
// Also the state behind Vnish's HTTP API (vnish_web.cpp): mining stop and
// start, the autotune preset and its draw, the unlock tokens. No capture
// shows a stopped or restarting Vnish: while stopped the API is taken to
// answer with state "stopped" and no hashrate, the stats' "state" being the
// miner state the HTTP API reports.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "fake_miner.h"
#include "random.h"
#include "reply_writer.h"
#include "vnish_models.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kInvalid = "Invalid command";
// The dev fee pool's share difficulty and last share (vnish-s21pro-pools.json).
constexpr double kFeeDiff = 16384;
// At most this many bearer tokens are honoured at once, the oldest dropped.
constexpr size_t kMaxTokens = 16;

// The URL as Vnish shows it (vnish-s21pro-pools.json, -web-settings.json):
// host:port without "stratum+tcp://".
std::string_view Shown(std::string_view url) {
  constexpr std::string_view kScheme = "stratum+tcp://";
  if (url.starts_with(kScheme)) url.remove_prefix(kScheme.size());
  return url;
}

}  // namespace

bool FakeMiner::WriteVnish(ReplyWriter& w, std::string_view command) {
  const VnishFacts* v = VnishFactsOf(model_->id);
  if (v == nullptr) return false;
  if (command == "summary") {
    WriteVnishSummary(w, *v);
  } else if (command == "stats") {
    WriteVnishStats(w, *v);
  } else if (command == "pools") {
    WriteVnishPools(w);
  } else if (command == "devdetails") {
    WriteVnishDevdetails(w, *v);
  } else {
    w.Open('{');
    WriteStatus(w, 'E', 0, kInvalid);
    w.Close('}');
  }
  return true;
}

void FakeMiner::WriteVnishSummary(ReplyWriter& w, const VnishFacts& v) {
  const Snapshot& s = Snap();
  const double diff = model_->firmware.pool_diff;
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("Elapsed", s.elapsed);
  const double shares = static_cast<double>(s.accepted) * diff;
  w.Fixed("Device Hardware%", shares > 0 ? static_cast<double>(s.hw_errors) / shares : 0, 12);
  w.Fixed("GHS 5s", s.rate_5s / 1e9, 2);
  w.Fixed("GHS av", s.rate_av / 1e9, 2);
  w.Fixed("GHS 30m", s.rate_av / 1e9, 2);
  w.Int("Stale", 0);
  w.Int("Found Blocks", 0);
  w.Int("Getworks", 0);
  w.Int("Accepted", s.accepted);
  w.Int("Rejected", s.rejected);
  w.Int("Hardware Errors", s.hw_errors);
  w.Fixed("Utility", 0, 1);
  w.Int("Discarded", 0);
  w.Int("Get Failures", 0);
  w.Int("Local Work", 0);
  w.Int("Remote Failures", 0);
  w.Int("Network Blocks", 0);
  w.Int("Total MH", 0);
  w.Fixed("Work Utility", 0, 1);
  w.Fixed("Difficulty Accepted", shares, 1);
  w.Fixed("Difficulty Rejected", static_cast<double>(s.rejected) * diff, 1);
  w.Fixed("Difficulty Stale", 0, 1);
  w.Int("Best Share", static_cast<int64_t>(diff) * 648 + s.elapsed);
  w.Fixed("Device Rejected%", 0, 1);
  w.Fixed("Pool Rejected%", 0, 1);
  w.Fixed("Pool Stale%", 0, 1);
  w.Int("Last getwork", 0);
  w.Fixed("Fee Percent", v.fee_percent, 6);
  w.Close('}');
  w.Close(']');
  w.Close('}');
}

void FakeMiner::WriteVnishStats(ReplyWriter& w, const VnishFacts& v) {
  const Snapshot& s = Snap();
  const Firmware& fw = model_->firmware;
  const int boards = model_->boards;
  const int dead = DeadBoard();
  // The draw splits evenly over the live chains; none while stopped, and a
  // waking miner's rises with its hashrate.
  const int live = boards - (dead >= 0 ? 1 : 0);
  const double watts = sleeping_ ? 0 : VnishWatts(now_) * RampShare();
  const auto chain_watts = static_cast<int64_t>(std::lround(live > 0 ? watts / live : 0));
  w.Open('{');
  WriteStatus(w, 'S', 70, fw.msg_prefix);
  w.Key("STATS");
  w.Open('[');
  w.Open('{');
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} (Vnish {})", model_->name, v.version);
  w.Str("Type", std::string_view(scratch_.data(), scratch_.size()));
  w.Str("Miner", fw.miner);
  w.Str(fw.miner_key, v.version);
  w.Str("CompileTime", fw.compile_time);
  w.Close('}');
  w.Open('{');
  w.Int("Elapsed", s.elapsed);
  w.Key("GHS 5s");
  w.FixedStr(s.rate_5s / 1e9, 2);
  w.Fixed("GHS av", s.rate_av / 1e9, 2);
  for (int b = 0; b < boards; ++b) w.StrN("temp_sens", b + 1, "m-m-m-m");
  for (int b = 0; b < boards; ++b) w.IntN("temp", b + 1, s.temp_pcb[b]);
  for (int b = 0; b < boards; ++b) w.IntN("temp2_", b + 1, s.temp_chip[b]);
  for (int b = 0; b < boards; ++b) w.IntN("temp3_", b + 1, s.temp_chip[b]);
  // Four sensors a chain, the second 10 °C under the others, as captured.
  auto sensors = [&](std::string_view key, int b, int t) {
    w.Key(key, b + 1);
    w.Sensors(t, t > 0 ? t - 10 : 0, t, t);
  };
  for (int b = 0; b < boards; ++b) sensors("temp_chip", b, s.temp_chip[b]);
  for (int b = 0; b < boards; ++b) sensors("temp_pcb", b, s.temp_pcb[b]);
  for (int b = 0; b < boards; ++b) {
    w.IntN("chain_consumption", b + 1, b == dead ? 0 : chain_watts);
  }
  for (int b = 0; b < boards; ++b) w.IntN("chain_hw", b + 1, s.board_hw[b]);
  w.Int("fan_num", fw.fans);
  w.Int("fan_mode", 0);
  w.Int("fan_pwm", sleeping_ ? 10 : 90);
  for (int f = 0; f < fw.fans; ++f) w.IntN("fan", f + 1, s.fans[f]);
  for (int b = 0; b < boards; ++b) w.FixedN("chain_rateideal", b + 1, s.board_ideal[b] / 1e9, 3);
  for (int b = 0; b < boards; ++b) w.FixedN("chain_rate", b + 1, s.board_rate[b] / 1e9, 2);
  for (int b = 0; b < boards; ++b) w.FixedN("freq_avg", b + 1, fw.frequency, 1);
  for (int b = 0; b < boards; ++b) w.IntN("chain_vol", b + 1, v.chain_volt);
  w.Str("state", VnishState(now_));
  w.Fixed("total_rate", s.rate_5s / 1e9, 2);
  w.Fixed("total_rateideal", s.rate_ideal / 1e9, 2);
  w.Int("total_acn", (boards - (dead >= 0 ? 1 : 0)) * model_->chips_per_board);
  for (int b = 0; b < boards; ++b) {
    w.StrN("chain_state", b + 1, b == dead ? "failure" : sleeping_ ? "stopped" : "mining");
  }
  for (int b = 0; b < boards; ++b) w.StrN("chain_fault", b + 1, "");
  for (int b = 0; b < boards; ++b) {
    w.IntN("chain_acn", b + 1, b == dead ? 0 : model_->chips_per_board);
  }
  w.Close('}');
  w.Close(']');
  w.Close('}');
}

void FakeMiner::WriteVnishPools(ReplyWriter& w) {
  const Snapshot& s = Snap();
  const Firmware& fw = model_->firmware;
  const VnishFacts* v = VnishFactsOf(model_->id);
  const int active = ActivePool();
  const int total = static_cast<int>(pools_.size());
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Pool(s)", total + 1);
  w.Open('{');
  WriteStatus(w, 'S', 7, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("POOLS");
  w.Open('[');
  auto pool = [&](int index, std::string_view url, int type, std::string_view user,
                  std::string_view diff_text, double diff, int64_t accepted, bool in_use,
                  std::string_view last) {
    const int64_t rejected = accepted / 200;
    w.Open('{');
    w.Int("POOL", index);
    w.EscStr("URL", url);
    w.Int("Type", type);
    w.EscStr("User", user);
    w.Str("Status", "Alive");
    w.Str("Diff", in_use ? diff_text : "");
    w.Int("Accepted", accepted);
    w.Int("Rejected", rejected);
    w.Int("Stale", 0);
    w.Fixed("Last Share Difficulty", in_use ? diff : 0, 1);
    w.Str("Last Share Time", in_use ? last : "0");
    w.Bool("Stratum Active", in_use);
    w.Bool("Has Vmask", true);
    w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * diff, 1);
    w.Fixed("Difficulty Rejected", static_cast<double>(rejected) * diff, 1);
    w.Fixed("Difficulty Stale", 0, 1);
    w.Close('}');
  };
  for (int i = 0; i < total; ++i) {
    const Pool& p = pools_[i];
    const bool in_use = i == active;
    const int64_t accepted = p.accepted + (in_use ? s.accepted - settled_accepted_ : 0);
    pool(i, Shown(p.url), 0, p.user, fw.pool_diff_text, fw.pool_diff, accepted, in_use, "0:00:05");
  }
  // The dev fee's shares: its percent of the time, at its own difficulty.
  const double fee = v != nullptr ? v->fee_percent / 100 : 0;
  const auto fee_shares =
      static_cast<int64_t>(static_cast<double>(s.accepted) * fee * fw.pool_diff / kFeeDiff);
  pool(total, "DevFee", 1, "DevFee", "16.4K", kFeeDiff, fee_shares, !sleeping_, "0:00:14");
  w.Close(']');
  w.Close('}');
}

void FakeMiner::WriteVnishDevdetails(ReplyWriter& w, const VnishFacts& v) {
  w.Open('{');
  WriteStatus(w, 'S', 69, "Device Details");
  w.Key("DEVDETAILS");
  w.Open('[');
  w.Open('{');
  w.Int("DEVDETAILS", 0);
  w.Str("Name", v.chain_name);
  w.Int("ID", 0);
  w.Str("Driver", v.chain_driver);
  w.Str("Kernel", "");
  w.Str("Model", "");
  w.Str("Device Path", "");
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

std::string_view FakeMiner::VnishState(double now) {
  now_ = std::max(now_, now);
  HaltTick();
  if (sleeping_) return "stopped";
  if (pending_halt_at_ >= 0 && pending_halt_asleep_) return "shutting-down";
  const double ramp = RampShare();
  if (ramp <= 0) return "initializing";
  if (ramp < 1) return "starting";
  // A new preset is tuned into: Vnish's "auto-tuning" while the draw moves.
  if (now_ < vnish_set_at_ + spec_.power_ramp_s) return "auto-tuning";
  return "mining";
}

void FakeMiner::VnishStop(double now) {
  now_ = std::max(now_, now);
  if (sleeping_ || (pending_halt_at_ >= 0 && pending_halt_asleep_)) return;
  // Shutting down takes the time waking idles: no source gives Vnish's.
  HaltAt(true, now + spec_.wake_idle_s);
  snap_valid_ = false;
}

void FakeMiner::VnishStart(double now) {
  now_ = std::max(now_, now);
  HaltAt(false, now);
}

std::string FakeMiner::VnishPresetName() const {
  return vnish_preset_w_ > 0 ? std::to_string(vnish_preset_w_) : "disabled";
}

bool FakeMiner::VnishSetPreset(std::string_view name, double now) {
  const VnishFacts* v = VnishFactsOf(model_->id);
  if (v == nullptr) return false;
  int watts = -1;
  if (name == "disabled") watts = 0;
  for (const VnishPreset& p : v->presets) {
    if (name == std::to_string(p.watts)) watts = p.watts;
  }
  if (watts < 0) return false;
  vnish_from_w_ = VnishWatts(now);
  vnish_preset_w_ = watts;
  vnish_set_at_ = now;
  snap_valid_ = false;
  return true;
}

double FakeMiner::VnishWatts(double now) const {
  const VnishFacts* v = VnishFactsOf(model_->id);
  if (v == nullptr) return 0;
  const double to = vnish_preset_w_ > 0 ? vnish_preset_w_ : v->stock_watts;
  const double elapsed = now - vnish_set_at_;
  if (!(elapsed < spec_.power_ramp_s)) return to;
  const double share = elapsed > 0 ? elapsed / spec_.power_ramp_s : 0;
  return vnish_from_w_ + (to - vnish_from_w_) * share;
}

double FakeMiner::VnishPowerShare() const {
  const VnishFacts* v = VnishFactsOf(model_->id);
  if (v == nullptr) return 1;
  // The presets' hashrate goes with their watts (2550 W ~ 170 TH, 4690 W ~
  // 313 TH: the stock 15 J/TH throughout), above stock clocks too.
  return VnishWatts(now_) / v->stock_watts;
}

std::string FakeMiner::VnishUnlock() {
  // Opaque to the client (the firmware's are JWTs): each from the one before.
  uint64_t state = spec_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(spec_.index) +
                   (vnish_tokens_.empty() ? 0 : std::hash<std::string>{}(vnish_tokens_.back()));
  std::string token = fmt::format("{:016x}{:016x}", SplitMix64(state), SplitMix64(state));
  if (vnish_tokens_.size() == kMaxTokens) vnish_tokens_.erase(vnish_tokens_.begin());
  vnish_tokens_.push_back(token);
  vnish_wrong_unlocks_ = 0;
  return token;
}

double FakeMiner::VnishUnlockLockedFor(double now) const {
  return std::max(0.0, vnish_unlock_locked_until_ - now);
}

void FakeMiner::VnishUnlockFailed(double now) {
  if (++vnish_wrong_unlocks_ < kVnishFreeUnlocks) return;
  vnish_wrong_unlocks_ = 0;
  vnish_unlock_locked_until_ = now + kVnishLockoutS;
}

bool FakeMiner::VnishTokenValid(std::string_view token) const {
  return !token.empty() &&
         std::find(vnish_tokens_.begin(), vnish_tokens_.end(), token) != vnish_tokens_.end();
}

}  // namespace asicmon::fakefarm
