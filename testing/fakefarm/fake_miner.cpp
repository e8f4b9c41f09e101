#include "fake_miner.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numbers>

#include "bitaxe_models.h"
#include "epic_models.h"
#include "miner_web.h"
#include "random.h"
#include "reply_writer.h"
#include "whatsminer_models.h"

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kPrivileged[] = {"restart",    "addpool",    "switchpool",
                                            "removepool", "enablepool", "disablepool"};

// A cap on the parts of one multi-command (cgminer's own buffer holds 256 bytes).
constexpr int kMaxJoinParts = 32;

}  // namespace

std::string_view ToString(ActionResult result) {
  switch (result) {
    case ActionResult::kOk:
      return "ok";
    case ActionResult::kDenied:
      return "denied";
    case ActionResult::kError:
      return "error";
  }
  return "error";
}

bool IsPrivilegedCommand(std::string_view command) {
  return std::find(std::begin(kPrivileged), std::end(kPrivileged), command) !=
         std::end(kPrivileged);
}

FakeMiner::FakeMiner(const FakeMinerSpec& spec, double now)
    : spec_(spec),
      model_(&GetModel(spec.model)),
      start_time_(now - spec.uptime_s),
      rng_(spec.seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(spec.index)) {
  av_offset_ = (Uniform() * 2 - 1) * 0.005;
  miner_id_ = fmt::format("{:016x}", spec.seed * 0x9E3779B97F4A7C15ULL + spec.index);
  // A locally administered MAC (02:...) with the index in its low bytes; a
  // serial of the 17 characters of antminer-s21-2024-get_system_info.cgi.json
  // ("SMTTATUBDJAAI00A5"); the hostname a farm names the unit by (stock
  // firmware ships every one as "Antminer").
  const auto index = static_cast<uint32_t>(spec.index);
  mac_ = fmt::format("02:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}", spec.seed & 0xFF,
                     (spec.seed >> 8) & 0xFF, (index >> 16) & 0xFF, (index >> 8) & 0xFF,
                     index & 0xFF);
  serial_ = fmt::format("SMTT{:08X}{:05X}", (spec.seed * 0x9E3779B97F4A7C15ULL) >> 32,
                        index & 0xFFFFF);
  hostname_ = fmt::format("antminer-w{:04d}", spec.index + 1);
  temp_phase_ = Uniform() * 2 * std::numbers::pi;
  const std::string worker = fmt::format("farm.w{:04d}", spec.index + 1);
  constexpr std::string_view kUrls[] = {"stratum+tcp://pool-a.example:3333",
                                        "stratum+tcp://pool-b.example:443",
                                        "stratum+tcp://pool-c.example:700"};
  for (int i = 0; i < 3; ++i) {
    pools_.push_back(Pool{std::string(kUrls[i]), worker, "x", i, true, 0});
  }
  // Shares found before construction belong to the first pool.
  now_ = now;
  SettleShares();
}

void FakeMiner::Restart(double now) {
  if (now < ramp_start_ + spec_.wake_idle_s + spec_.wake_ramp_s) ramp_start_ = now;
  now_ = now;
  start_time_ = now;
  slept_s_ = 0;
  sleep_since_ = now;
  settled_accepted_ = 0;
  for (Pool& p : pools_) p.accepted = 0;
  lux_session_.clear();  // LUXminer's session lives in the process that restarted
  snap_valid_ = false;
}

std::vector<PoolConfig> FakeMiner::PoolsByPriority() const {
  std::vector<const Pool*> order;
  for (const Pool& p : pools_) order.push_back(&p);
  std::stable_sort(order.begin(), order.end(),
                   [](const Pool* a, const Pool* b) { return a->priority < b->priority; });
  std::vector<PoolConfig> configs;
  for (const Pool* p : order) configs.push_back({p->url, p->user, p->pass});
  return configs;
}

void FakeMiner::Reconfigure(const std::vector<PoolConfig>& pools, double now) {
  pools_.clear();
  for (const PoolConfig& p : pools) {
    pools_.push_back(Pool{p.url, p.user, p.pass, static_cast<int>(pools_.size()), true, 0});
  }
  Restart(now);
}

std::string_view FakeMiner::worker() const { return pools_[ActivePool()].user; }

void FakeMiner::SetDeadBoard(bool dead) {
  spec_.dead_board = dead;
  snap_valid_ = false;
}

void FakeMiner::SetTempOffset(int celsius) {
  temp_offset_ = celsius;
  snap_valid_ = false;
}

void FakeMiner::SetFansStopped(int count) {
  fans_stopped_ = std::clamp(count, 0, model_->firmware.fans);
  snap_valid_ = false;
}

void FakeMiner::SetSleeping(bool asleep, double now) {
  if (CanSleep(spec_.model)) Halt(asleep, now);
}

void FakeMiner::Halt(bool asleep, double now) {
  pending_halt_at_ = -1;
  if (asleep == sleeping_) return;
  if (!asleep) slept_s_ += std::max(0.0, now - std::max(sleep_since_, start_time_));
  sleeping_ = asleep;
  sleep_since_ = now;
  if (!asleep) ramp_start_ = now;
  snap_valid_ = false;
}

void FakeMiner::HaltAt(bool asleep, double at) {
  pending_halt_at_ = std::max(at, 0.0);
  pending_halt_asleep_ = asleep;
  HaltTick();
}

void FakeMiner::HaltTick() {
  if (pending_halt_at_ < 0 || now_ < pending_halt_at_) return;
  Halt(pending_halt_asleep_, pending_halt_at_);
}

// No public source gives how far the low power mode moves a machine: a
// round 80 % of the nominal hashrate (and watts), said so in PROVENANCE.md.
constexpr double kLowPowerShare = 0.8;

bool FakeMiner::SetWorkMode(int mode, double now) {
  if (mode != 0 && (mode != 3 || !model_->firmware.low_power_mode)) return false;
  if (mode == am_mode_) return true;
  now_ = now;
  am_mode_from_ = am_mode_;
  am_mode_ = mode;
  am_mode_since_ = now;
  snap_valid_ = false;
  return true;
}

double FakeMiner::WorkModeShare() const {
  auto share = [](int mode) { return mode == 3 ? kLowPowerShare : 1.0; };
  const double done = spec_.wake_ramp_s > 0 ? (now_ - am_mode_since_) / spec_.wake_ramp_s : 1;
  if (!(done < 1)) return share(am_mode_);
  return share(am_mode_from_) + (share(am_mode_) - share(am_mode_from_)) * std::max(0.0, done);
}

double FakeMiner::RampShare() const {
  const double rising_s = now_ - ramp_start_ - spec_.wake_idle_s;
  if (!(rising_s > 0)) return 0;
  return rising_s >= spec_.wake_ramp_s ? 1 : rising_s / spec_.wake_ramp_s;
}

int FakeMiner::DeadBoard() const { return spec_.dead_board ? spec_.index % model_->boards : -1; }

int FakeMiner::dead_chain() const {
  return spec_.dead_board ? model_->first_chain + DeadBoard() : -1;
}

std::string_view FakeMiner::Description() const { return model_->firmware.description; }

double FakeMiner::Uniform() { return static_cast<double>(SplitMix64(rng_) >> 11) * 0x1.0p-53; }

int FakeMiner::ActivePool() const {
  int best = 0;
  bool found = false;
  for (int i = 0; i < static_cast<int>(pools_.size()); ++i) {
    const Pool& p = pools_[i];
    if (p.enabled && (!found || p.priority < pools_[best].priority)) {
      best = i;
      found = true;
    }
  }
  return best;
}

void FakeMiner::SettleShares() {
  snap_valid_ = false;
  const int64_t accepted = Snap().accepted;
  pools_[ActivePool()].accepted += accepted - settled_accepted_;
  settled_accepted_ = accepted;
}

const FakeMiner::Snapshot& FakeMiner::Snap() {
  if (snap_valid_) return snap_;
  const Firmware& fw = model_->firmware;
  Snapshot& s = snap_;
  s = Snapshot{};
  s.when = static_cast<int64_t>(now_);
  s.elapsed = std::max<int64_t>(0, static_cast<int64_t>(now_ - start_time_));
  // Seconds spent hashing since the start: shares and errors grow with it only.
  const double asleep_now =
      sleeping_ ? std::max(0.0, now_ - std::max(sleep_since_, start_time_)) : 0;
  const int64_t hashing_s =
      std::max<int64_t>(0, s.elapsed - static_cast<int64_t>(slept_s_ + asleep_now));
  const int dead = DeadBoard();
  const double per_board =
      model_->hashrate_nominal / model_->boards * ProfileRateShare() * AvalonModeShare();
  // Temperatures drift slowly (a 15-minute cycle) with a little noise on top.
  const double drift = 3 * std::sin(now_ * 2 * std::numbers::pi / 900 + temp_phase_);
  for (int b = 0; b < model_->boards; ++b) {
    if (b == dead) continue;
    s.board_rate[b] = per_board * (1 + (Uniform() * 2 - 1) * 0.02);
    s.board_ideal[b] = per_board;
    s.rate_5s += s.board_rate[b];
    s.rate_ideal += per_board;
    s.temp_pcb[b] =
        static_cast<int>(std::lround(fw.pcb_base + drift + b + Uniform() * 2 - 1)) + temp_offset_;
    s.temp_chip[b] =
        static_cast<int>(std::lround(fw.chip_base + drift + b + Uniform() * 2 - 1)) + temp_offset_;
    s.board_hw[b] = hashing_s / (97 + 31 * b);
    s.hw_errors += s.board_hw[b];
  }
  s.rate_av = s.rate_ideal * (1 + av_offset_);
  if (const double share = RampShare() * PowerShare(); share != 1) {
    for (double& rate : s.board_rate) rate *= share;
    s.rate_5s *= share;
    s.rate_av *= share;
  }
  for (int f = 0; f < fw.fans; ++f) {
    const int rpm =
        fw.fan_base + 60 * static_cast<int>(std::lround((Uniform() * 2 - 1) * 3)) + 120 * f;
    // Drawn even for a stopped fan, so stopping one leaves the other values as they were.
    s.fans[f] = f < fans_stopped_ ? 0 : rpm;
  }
  if (sleeping_) {
    // The sleeping captures: nothing hashes, the S19's boards sit near
    // ambient (40 °C) with fans at idle, the S17 family's read 0 throughout.
    s.rate_5s = s.rate_av = 0;
    s.board_rate = {};
    if (fw.fan_idle == 0) s.rate_ideal = 0;
    for (int b = 0; b < model_->boards; ++b) {
      const bool sensing = b != dead && fw.fan_idle > 0;
      s.temp_pcb[b] = sensing ? 39 + (b + spec_.index) % 2 : 0;
      s.temp_chip[b] = s.temp_pcb[b];
    }
    for (int f = 0; f < fw.fans; ++f) {
      if (s.fans[f] > 0) s.fans[f] = fw.fan_idle > 0 ? fw.fan_idle - 60 * (f % 2) : 0;
    }
  }
  s.accepted = hashing_s / 10;
  s.rejected = s.accepted / 400;
  s.getworks = hashing_s / 28 + 1;
  s.discarded = hashing_s * 3 / 7;
  snap_valid_ = true;
  return s;
}

void FakeMiner::HandleHttp(std::string_view method, std::string_view path, double now,
                           fmt::memory_buffer& out) {
  now_ = now;
  snap_valid_ = false;
  scratch_.clear();
  int status = 404;
  if (const EpicFacts* e = EpicFactsOf(model_->id)) {
    status = WriteEpic(*e, method, path);
  } else if (const BitaxeFacts* b = BitaxeFactsOf(model_->id)) {
    status = WriteBitaxe(*b, method, path);
  }
  if (status == 200) {
    AppendHttpResponse(out, 200, "application/json",
                       std::string_view(scratch_.data(), scratch_.size()));
  } else {
    AppendHttpError(out, status);
  }
}

void FakeMiner::Handle(std::string_view request, double now, fmt::memory_buffer& out,
                       std::vector<PrivilegedAction>* actions) {
  now_ = now;
  snap_valid_ = false;
  HaltTick();
  while (!request.empty() && (request.back() == '\0' || request.back() == '\n' ||
                              request.back() == '\r' || request.back() == ' ')) {
    request.remove_suffix(1);
  }
  const ParseOutcome outcome = ParseRequest(request, request_);
  const std::string& command = request_.command;
  const size_t start = out.size();
  ReplyWriter w(out, model_->firmware.spaced);
  auto error_reply = [&](int code, std::string_view msg) { WriteStatusReply(w, 'E', code, msg); };

  switch (outcome) {
    case ParseOutcome::kInvalidJson:
      error_reply(23, "Invalid JSON");
      break;
    case ParseOutcome::kMissingCommand:
      // btminer reads {"cmd":"status"} (whatsminer-m31s-status-sleeping.json)
      // but its cgminer half wants "command": {"cmd":"pools+summary+edevs"}
      // is refused so (whatsminer-m31s-multicommand-error.json).
      if (IsBtminerOwnCommand(request_.cmd) && WriteWhatsminer(w, request_.cmd, false)) break;
      if (request_.cmd.empty() && WriteBtminerPrivileged(w, request, actions)) break;
      error_reply(24, "Missing JSON 'command'");
      break;
    case ParseOutcome::kCommandNotString:
      error_reply(14, "Invalid command");
      break;
    case ParseOutcome::kOk:
      if (command.find('+') == std::string::npos) {
        // "new_api" is asked of one command at a time (pyasic, asic-rs); a
        // multi-command keeps the classic layout.
        if (request_.new_api && model_->firmware.new_api && WriteNewApi(w, command)) break;
        Command(w, command, request_.has_parameter ? &request_.parameter : nullptr, actions);
        break;
      }
      // Multi-command: {"summary":[<reply>],"stats":[<reply>],...,"id":1}, no
      // parameter, each command once, privileged commands refused.
      w.Open('{');
      {
        std::array<std::string_view, kMaxJoinParts> seen;
        int parts = 0;
        std::string_view rest = command;
        while (!rest.empty() && parts < kMaxJoinParts) {
          size_t plus = rest.find('+');
          std::string_view part = rest.substr(0, plus);
          rest = plus == std::string_view::npos ? std::string_view() : rest.substr(plus + 1);
          if (part.empty() ||
              std::find(seen.begin(), seen.begin() + parts, part) != seen.begin() + parts) {
            continue;
          }
          seen[parts++] = part;
          w.EscKey(part);
          w.Open('[');
          if (IsPrivilegedCommand(part)) {
            WriteDenied(w, part);
            if (actions) actions->push_back({std::string(part), "", ActionResult::kDenied});
          } else {
            Command(w, part, nullptr, actions, true);
          }
          w.Close(']');
        }
      }
      w.Int("id", 1);
      w.Close('}');
      break;
  }
  // A command answered with nothing (the Avalon Q's softon) closes bare.
  if (model_->nul_terminated && out.size() > start) out.push_back('\0');
}

std::string FakeMiner::Handle(std::string_view request, double now) {
  fmt::memory_buffer out;
  Handle(request, now, out);
  return std::string(out.data(), out.size());
}

void FakeMiner::Command(ReplyWriter& w, std::string_view command, const std::string* parameter,
                        std::vector<PrivilegedAction>* actions, bool joined) {
  if (WriteVnish(w, command) || WriteAvalon(w, command, parameter, actions)) return;
  if (WhatsminerFactsOf(model_->id) != nullptr && IsPrivilegedCommand(command)) {
    // btminer takes write commands only encrypted with the admin token
    // (Whatsminer API v2 document): a plain one is refused.
    WriteDenied(w, command);
    if (actions) {
      actions->push_back(
          {std::string(command), parameter ? *parameter : "", ActionResult::kDenied});
    }
    return;
  }
  if (WriteWhatsminer(w, command, joined) || WriteBraiins(w, command, actions) ||
      WriteLuxos(w, command, parameter, actions)) {
    return;
  }
  if (command == "summary") {
    WriteSummary(w);
  } else if (command == "stats") {
    WriteStats(w);
  } else if (command == "pools") {
    WritePools(w);
  } else if (command == "version") {
    WriteVersion(w);
  } else if (command == "devs") {
    WriteDevs(w);
  } else if (IsPrivilegedCommand(command)) {
    Privileged(w, command, parameter, actions);
  } else {
    WriteStatusReply(w, 'E', 14, "Invalid command");
  }
}

void FakeMiner::WriteStatus(ReplyWriter& w, char severity, int code, std::string_view msg) {
  const char sev[2] = {severity, '\0'};
  w.Key("STATUS");
  w.Open('[');
  w.Open('{');
  w.Str("STATUS", sev);
  w.Int("When", Snap().when);
  w.Int("Code", code);
  w.Key("Msg");
  w.EscStr(msg);
  w.Str("Description", Description());
  w.Close('}');
  w.Close(']');
}

void FakeMiner::WriteStatusReply(ReplyWriter& w, char severity, int code, std::string_view msg) {
  w.Open('{');
  WriteStatus(w, severity, code, msg);
  w.Int("id", 1);
  w.Close('}');
}

// cgminer's refusal of a privileged command (api.c, code 45).
void FakeMiner::WriteDenied(ReplyWriter& w, std::string_view command) {
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", command);
  WriteStatusReply(w, 'E', 45, std::string_view(scratch_.data(), scratch_.size()));
}

}  // namespace asicmon::fakefarm
