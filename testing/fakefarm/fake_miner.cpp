#include "fake_miner.h"

#include "reply_writer.h"
#include "request.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <numbers>

namespace asicmon::fakefarm {
namespace {

constexpr std::string_view kPrivileged[] = {"restart",    "addpool",    "switchpool",
                                            "removepool", "enablepool", "disablepool"};

// A cap on pools a miner keeps, so a loop of addpool cannot grow it without end.
constexpr int kMaxPools = 32;
// A cap on the parts of one multi-command (cgminer's own buffer holds 256 bytes).
constexpr int kMaxJoinParts = 32;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// cgminer reads pool ids with atoi(): leading blanks, a sign, digits, and 0
// for anything else.
int Atoi(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  int64_t value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    value = std::min<int64_t>(value * 10 + (s[i] - '0'), 1LL << 31);
  }
  return static_cast<int>(negative ? -value : std::min<int64_t>(value, INT32_MAX));
}

// The host part of a stratum URL, as cgminer shows it in "Stratum URL".
std::string_view UrlHost(std::string_view url) {
  if (size_t p = url.find("://"); p != std::string_view::npos) url.remove_prefix(p + 3);
  return url.substr(0, url.find_first_of(":/"));
}

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
  if (!CanSleep(spec_.model) || asleep == sleeping_) return;
  if (!asleep) slept_s_ += std::max(0.0, now - std::max(sleep_since_, start_time_));
  sleeping_ = asleep;
  sleep_since_ = now;
  if (!asleep) ramp_start_ = now;
  snap_valid_ = false;
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
  const double per_board = model_->hashrate_nominal / model_->boards;
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
  if (const double share = RampShare(); share < 1) {
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

void FakeMiner::Handle(std::string_view request, double now, fmt::memory_buffer& out,
                       std::vector<PrivilegedAction>* actions) {
  now_ = now;
  snap_valid_ = false;
  while (!request.empty() && (request.back() == '\0' || request.back() == '\n' ||
                              request.back() == '\r' || request.back() == ' ')) {
    request.remove_suffix(1);
  }
  const ParseOutcome outcome = ParseRequest(request, request_);
  const std::string& command = request_.command;
  ReplyWriter w(out, model_->firmware.spaced);
  auto error_reply = [&](int code, std::string_view msg) {
    w.Open('{');
    WriteStatus(w, 'E', code, msg);
    w.Int("id", 1);
    w.Close('}');
  };

  switch (outcome) {
    case ParseOutcome::kInvalidJson:
      error_reply(23, "Invalid JSON");
      break;
    case ParseOutcome::kMissingCommand:
      error_reply(24, "Missing JSON 'command'");
      break;
    case ParseOutcome::kCommandNotString:
      error_reply(14, "Invalid command");
      break;
    case ParseOutcome::kOk:
      if (command.find('+') == std::string::npos) {
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
            scratch_.clear();
            fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", part);
            error_reply(45, std::string_view(scratch_.data(), scratch_.size()));
            if (actions) actions->push_back({std::string(part), "", ActionResult::kDenied});
          } else {
            Command(w, part, nullptr, actions);
          }
          w.Close(']');
        }
      }
      w.Int("id", 1);
      w.Close('}');
      break;
  }
  if (model_->nul_terminated) out.push_back('\0');
}

std::string FakeMiner::Handle(std::string_view request, double now) {
  fmt::memory_buffer out;
  Handle(request, now, out);
  return std::string(out.data(), out.size());
}

void FakeMiner::Command(ReplyWriter& w, std::string_view command, const std::string* parameter,
                        std::vector<PrivilegedAction>* actions) {
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
    w.Open('{');
    WriteStatus(w, 'E', 14, "Invalid command");
    w.Int("id", 1);
    w.Close('}');
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

void FakeMiner::Privileged(ReplyWriter& w, std::string_view command, const std::string* parameter,
                           std::vector<PrivilegedAction>* actions) {
  ActionResult result;
  if (spec_.deny_privileged) {
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", command);
    w.Open('{');
    WriteStatus(w, 'E', 45, std::string_view(scratch_.data(), scratch_.size()));
    w.Int("id", 1);
    w.Close('}');
    result = ActionResult::kDenied;
  } else {
    result = RunPrivileged(w, command, parameter);
  }
  if (actions) {
    actions->push_back({std::string(command), parameter ? *parameter : "", result});
  }
}

ActionResult FakeMiner::RunPrivileged(ReplyWriter& w, std::string_view command,
                                      const std::string* parameter) {
  // Each outcome is cgminer's message for it (api.c codes[]).
  char severity = 'S';
  int code = 0;
  ActionResult result = ActionResult::kOk;
  scratch_.clear();
  auto msg = [&]<typename... Args>(char sev, int c, fmt::format_string<Args...> text,
                                   Args&&... args) {
    severity = sev;
    code = c;
    fmt::format_to(fmt::appender(scratch_), text, std::forward<Args>(args)...);
    if (sev == 'E') result = ActionResult::kError;
  };
  const int total = static_cast<int>(pools_.size());
  const bool missing = parameter == nullptr || parameter->empty();
  const int id = missing ? -1 : Atoi(*parameter);
  const bool pool_command = command != "restart" && command != "addpool";

  SettleShares();
  if (pool_command && missing) {
    msg('E', 25, "Missing pool id parameter");
  } else if (pool_command && (id < 0 || id >= total)) {
    msg('E', 26, "Invalid pool id {} - range is 0 - {}", id, total - 1);
  } else if (command == "removepool" && total <= 1) {
    msg('E', 66, "Cannot remove last pool {}:'{}'", id, pools_[id].url);
  } else if (command == "restart") {
    // Stock firmware answers with no STATUS block (see RestartReply): a
    // client that wants one sees a failure; only the uptime tells.
    Restart(now_);
    w.Open('{');
    if (spec_.restart_reply == RestartReply::kCgminer) {
      w.Str("RESTART");
      w.Int("id", 1);
    } else {
      w.Str("STATUS", "RESTART");
    }
    w.Close('}');
    return result;
  } else if (command == "addpool") {
    std::string_view p = missing ? std::string_view() : std::string_view(*parameter);
    size_t c1 = p.find(',');
    size_t c2 = c1 == std::string_view::npos ? c1 : p.find(',', c1 + 1);
    if (missing) {
      msg('E', 52, "Missing addpool details");
    } else if (c2 == std::string_view::npos || c1 == 0) {
      msg('E', 53, "Invalid addpool details '{}'", p);
    } else if (total >= kMaxPools) {
      msg('E', 54, "Reached maximum number of pools ({})", kMaxPools);
    } else {
      pools_.push_back(Pool{std::string(p.substr(0, c1)),
                            std::string(p.substr(c1 + 1, c2 - c1 - 1)),
                            std::string(p.substr(c2 + 1)), total, true, 0});
      msg('S', 55, "Added pool {}: '{}'", total, pools_.back().url);
    }
  } else if (command == "switchpool") {
    Pool& pool = pools_[id];
    pool.enabled = true;
    for (Pool& other : pools_) {
      if (other.priority < pool.priority) ++other.priority;
    }
    pool.priority = 0;
    msg('S', 27, "Switching to pool {}:'{}'", id, pool.url);
  } else if (command == "removepool") {
    if (id == ActivePool()) {
      msg('E', 67, "Cannot remove active pool {}:'{}'", id, pools_[id].url);
    } else {
      msg('S', 68, "Removed pool {}:'{}'", id, pools_[id].url);
      for (Pool& other : pools_) {
        if (other.priority > pools_[id].priority) --other.priority;
      }
      // cgminer moves the last pool into the hole, so ids stay dense.
      if (id != total - 1) pools_[id] = std::move(pools_.back());
      pools_.pop_back();
    }
  } else if (command == "enablepool") {
    Pool& pool = pools_[id];
    if (pool.enabled) {
      msg('I', 49, "Pool {}:'{}' already enabled", id, pool.url);
    } else {
      pool.enabled = true;
      msg('S', 47, "Enabling pool {}:'{}'", id, pool.url);
    }
  } else {  // disablepool
    Pool& pool = pools_[id];
    const auto enabled =
        std::count_if(pools_.begin(), pools_.end(), [](const Pool& p) { return p.enabled; });
    if (!pool.enabled) {
      msg('I', 50, "Pool {}:'{}' already disabled", id, pool.url);
    } else if (enabled <= 1) {
      msg('E', 51, "Cannot disable last active pool {}:'{}'", id, pool.url);
    } else {
      pool.enabled = false;
      msg('S', 48, "Disabling pool {}:'{}'", id, pool.url);
    }
  }
  // The reply and every later request see the new state.
  snap_valid_ = false;
  w.Open('{');
  WriteStatus(w, severity, code, std::string_view(scratch_.data(), scratch_.size()));
  w.Int("id", 1);
  w.Close('}');
  return result;
}

void FakeMiner::WriteSummary(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const bool c = !w.spaced();  // cgminer's fixed decimals, else the S19's shorter ones
  const double minutes = std::max<double>(1, static_cast<double>(s.elapsed)) / 60;
  const double diff_accepted = static_cast<double>(s.accepted) * fw.pool_diff;
  const double diff_rejected = static_cast<double>(s.rejected) * fw.pool_diff;
  const int64_t diff1 = static_cast<int64_t>(diff_accepted + diff_rejected);
  const double hw_pct = diff1 > 0 ? 100.0 * static_cast<double>(s.hw_errors) /
                                        static_cast<double>(diff1 + s.hw_errors)
                                  : 0;
  const double rej_pct = diff1 > 0 ? 100.0 * diff_rejected / static_cast<double>(diff1) : 0;
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("Elapsed", s.elapsed);
  w.Key("GHS 5s");
  if (fw.ghs_5s_string) {
    w.FixedStr(s.rate_5s / fw.ghs_unit, 2);
  } else {
    w.Fixed(s.rate_5s / fw.ghs_unit, 2);
  }
  w.Fixed("GHS av", s.rate_av / fw.ghs_unit, 2);
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
  w.Fixed("Total MH", s.rate_av * static_cast<double>(s.elapsed) / 1e6, c ? 4 : 1);
  w.Fixed("Work Utility", static_cast<double>(diff1) / minutes, 2);
  w.Fixed("Difficulty Accepted", diff_accepted, c ? 8 : 1);
  w.Fixed("Difficulty Rejected", diff_rejected, c ? 8 : 1);
  w.Fixed("Difficulty Stale", 0, c ? 8 : 1);
  w.Int("Best Share", 1000003 + s.accepted * 4093);
  w.Fixed("Device Hardware%", hw_pct, 4);
  w.Fixed("Device Rejected%", rej_pct, 4);
  w.Fixed("Pool Rejected%", rej_pct, 4);
  w.Fixed("Pool Stale%", 0, 4);
  w.Int("Last getwork", s.when);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteVersionFields(ReplyWriter& w, bool with_api) {
  const Firmware& fw = model_->firmware;
  w.Str(fw.miner_key, fw.miner_version);
  if (with_api) w.Str("API", "3.1");
  w.Str("Miner", fw.miner);
  w.Str("CompileTime", fw.compile_time);
  w.Str("Type", model_->name);
}

void FakeMiner::WriteVersion(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} versions", fw.msg_prefix);
  w.Open('{');
  WriteStatus(w, 'S', 22, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("VERSION");
  w.Open('[');
  w.Open('{');
  WriteVersionFields(w, true);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WritePools(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const bool c = !w.spaced();
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
    const int64_t rejected = accepted / 400;
    const double diff_accepted = static_cast<double>(accepted) * fw.pool_diff;
    const double diff_rejected = static_cast<double>(rejected) * fw.pool_diff;
    w.Open('{');
    w.Int("POOL", i);
    w.EscStr("URL", p.url);
    w.Str("Status", p.enabled ? "Alive" : "Disabled");
    w.Int("Priority", p.priority);
    w.Int("Quota", 1);
    w.Str("Long Poll", "N");
    w.Int("Getworks", in_use ? s.getworks : s.getworks / 9);
    w.Int("Accepted", accepted);
    w.Int("Rejected", rejected);
    w.Int("Discarded", in_use ? s.discarded : 0);
    w.Int("Stale", 0);
    w.Int("Get Failures", 0);
    w.Int("Remote Failures", 0);
    w.EscStr("User", p.user);
    w.Str("Last Share Time", in_use ? "0:00:05" : "0");
    w.Str("Diff", p.enabled ? fw.pool_diff_text : "");
    w.Int("Diff1 Shares", 0);
    w.Str("Proxy Type", "");
    w.Str("Proxy", "");
    w.Fixed("Difficulty Accepted", diff_accepted, c ? 8 : 1);
    w.Fixed("Difficulty Rejected", diff_rejected, c ? 8 : 1);
    w.Fixed("Difficulty Stale", 0, c ? 8 : 1);
    w.Fixed("Last Share Difficulty", in_use ? fw.pool_diff : 0, c ? 8 : 1);
    w.Bool("Has Stratum", true);
    w.Bool("Stratum Active", in_use);
    w.EscStr("Stratum URL", in_use ? UrlHost(p.url) : "");
    w.Bool("Has GBT", false);
    if (c) {
      w.Int("Best Share", accepted > 0 ? 1000003 + accepted * 4093 : 0);
    } else {
      w.Fixed("Best Share", accepted > 0 ? 1000003.0 + static_cast<double>(accepted) * 4093 : 0, 1);
    }
    const double rej_pct = accepted + rejected > 0 ? 100.0 * static_cast<double>(rejected) /
                                                         static_cast<double>(accepted + rejected)
                                                   : 0;
    w.Fixed("Pool Rejected%", rej_pct, c ? 4 : 1);
    // The S19 firmware prints this key through printf, doubling the %.
    w.Fixed(c ? "Pool Stale%" : "Pool Stale%%", 0, c ? 4 : 1);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteDevs(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int dead = dead_chain();
  // cgminer's device rates are MH/s whatever the algorithm.
  constexpr double mhs_unit = 1e6;
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} ASC(s)", model_->boards);
  w.Open('{');
  WriteStatus(w, 'S', 9, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("DEVS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    const bool alive = model_->first_chain + b != dead;
    const double elapsed = static_cast<double>(std::max<int64_t>(1, s.elapsed));
    const int64_t accepted = s.accepted / model_->boards;
    w.Open('{');
    w.Int("ASC", b);
    w.Str("Name", fw.stats_id.substr(0, 3));
    w.Int("ID", model_->first_chain + b);
    w.Str("Enabled", "Y");
    w.Str("Status", alive ? "Alive" : "Dead");
    w.Fixed("Temperature", alive ? s.temp_chip[b] : 0, 2);
    w.Fixed("MHS av", sleeping_ ? 0 : s.board_ideal[b] * (1 + av_offset_) / mhs_unit, 2);
    w.Fixed("MHS 5s", s.board_rate[b] / mhs_unit, 2);
    w.Int("Accepted", accepted);
    w.Int("Rejected", accepted / 400);
    w.Int("Hardware Errors", s.board_hw[b]);
    w.Fixed("Utility", static_cast<double>(accepted) * 60 / elapsed, 2);
    w.Int("Last Share Pool", ActivePool());
    w.Int("Last Share Time", alive ? s.when - 5 : 0);
    w.Fixed("Total MH", s.board_ideal[b] * elapsed / 1e6, 4);
    w.Int("Diff1 Work", static_cast<int64_t>(static_cast<double>(accepted) * fw.pool_diff));
    w.Fixed("Difficulty Accepted", static_cast<double>(accepted) * fw.pool_diff, 8);
    w.Fixed("Difficulty Rejected", static_cast<double>(accepted / 400) * fw.pool_diff, 8);
    w.Fixed("Last Share Difficulty", alive ? fw.pool_diff : 0, 8);
    w.Int("Last Valid Work", alive ? s.when : 0);
    w.Fixed("Device Hardware%", 0, 4);
    w.Fixed("Device Rejected%", 0, 4);
    w.Int("Device Elapsed", s.elapsed);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
