// LUXminer's session and the commands that change a LuxOS miner, from
// Luxor's API docs (docs.luxor.tech/firmware/api/...) and luxos-tooling's
// command table (LuxorLabs/luxos-tooling src/luxos/api.json: which commands
// need a session):
// - sessions (/sessions, /luxminer/logon, /luxminer/session): logon opens
//   the one session "if there is no other session active"; it lapses a
//   minute after its last use; every command that changes something takes
//   its id as the first parameter.
// - curtail (/luxminer/curtail): "<id>,sleep" turns the hashboards and PSU
//   off, "<id>,wakeup" back on (code 335, "Curtailment command sent": the
//   command is sent, its effect follows; no source gives how long the
//   boards take to stop, the fake's --halt-s).
// - profileset (/luxminer/profileset): "<id>,<profile>", code 321 "Profile
//   Set" with PROFILE[0] {Board, FrequencyStep 5, Profile, VoltageStep 0.05}:
//   the profile is applied in steps, so hashrate and watts ramp to it (over
//   the spec's wake_ramp_s here).
// - profiles: "default" (the nameplate) and 16 steps under and 8 over it of
//   25 MHz (docs.luxor.tech/firmware/features), named by frequency, in the
//   layout of luxos-s19kpro-profiles.json (code 323 "List profiles"), whose
//   voltage rises 0.15 V a step (the features page says 0.1 V; the capture
//   also floors it at 11.88 V, which the fake does not); config's
//   CONFIG[0].Profile and ProfileStep name the one in use
//   (luxos-s19kpro-config.json: "290MHz", "-12"; pyasic reads Profile).
// - ledset "<id>,red,blink|on|off" (pyasic's LUXMinerRPCAPI.ledset),
//   resetminer and rebootdevice "<id>" (the same).
// Not documented where found, so chosen here and said so in PROVENANCE.md:
// the codes and messages of ledset, logoff, resetminer,
// rebootdevice and of every refusal (a stale or missing session: cgminer's
// 45 "Access denied"; a second logon, an unknown profile or action: 'E' 14
// with LUXminer-style text), the profiles' watts (frequency × voltage²).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "fake_miner.h"
#include "luxos_models.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

constexpr double kSessionLapseS = 60;  // "Sessions expire automatically after one minute"
constexpr int kStepsUnder = 16;        // built-in profiles below "default"
constexpr int kStepsOver = 8;          // and above it
constexpr int kStepMhz = 25;
constexpr double kStepVolts = 0.15;  // luxos-s19kpro-profiles.json

// Up to four comma-separated fields of a parameter.
std::vector<std::string_view> Fields(std::string_view param) {
  std::vector<std::string_view> out;
  while (out.size() < 4) {
    const size_t comma = param.find(',');
    out.push_back(param.substr(0, comma));
    if (comma == std::string_view::npos) break;
    param.remove_prefix(comma + 1);
  }
  return out;
}

// "default" or "<MHz>MHz" for a step from the default profile.
std::string ProfileName(int frequency, int step) {
  return step == 0 ? std::string("default") : fmt::format("{}MHz", frequency + step * kStepMhz);
}

}  // namespace

double FakeMiner::ProfileStepNow() const {
  const double since = now_ - lux_step_since_;
  if (!(since < spec_.wake_ramp_s) || spec_.wake_ramp_s <= 0) return lux_step_;
  const double progress = std::max(0.0, since) / spec_.wake_ramp_s;
  return lux_step_from_ + (lux_step_ - lux_step_from_) * progress;
}

double FakeMiner::ProfileRateShare() const {
  if (lux_step_ == 0 && lux_step_from_ == 0) return 1;
  const double f0 = model_->firmware.frequency;
  return f0 > 0 ? (f0 + ProfileStepNow() * kStepMhz) / f0 : 1;
}

double FakeMiner::ProfileWattShare(const LuxosFacts& l) const {
  const double volts = l.volts + ProfileStepNow() * kStepVolts;
  return ProfileRateShare() * (volts / l.volts) * (volts / l.volts);
}

bool FakeMiner::WriteLuxosControl(ReplyWriter& w, std::string_view command,
                                  const std::string* parameter,
                                  std::vector<PrivilegedAction>* actions) {
  const LuxosFacts& l = *LuxosFactsOf(model_->id);
  if (!lux_session_.empty() && now_ - lux_session_used_ > kSessionLapseS) lux_session_.clear();
  if (command == "session") {
    WriteLuxosSession(w, false);
    return true;
  }
  if (command == "profiles") {
    WriteLuxosProfiles(w, l);
    return true;
  }
  if (command == "logon") {
    if (!lux_session_.empty()) {
      w.Open('{');
      WriteLuxosStatus(w, 'E', 14, "Another session is active");
      w.Int("id", 1);
      w.Close('}');
      return true;
    }
    lux_session_ = fmt::format("{:08x}", static_cast<uint32_t>(Uniform() * 0x1p32));
    lux_session_used_ = now_;
    WriteLuxosSession(w, true);
    return true;
  }
  constexpr std::string_view kWithSession[] = {"logoff", "curtail",    "profileset",
                                               "ledset", "resetminer", "rebootdevice"};
  if (std::find(std::begin(kWithSession), std::end(kWithSession), command) ==
      std::end(kWithSession)) {
    return false;
  }
  const std::string_view param = parameter ? std::string_view(*parameter) : std::string_view();
  const std::vector<std::string_view> f = Fields(param);
  ActionResult result = ActionResult::kOk;
  auto status_only = [&](char severity, int code, std::string_view msg) {
    w.Open('{');
    WriteLuxosStatus(w, severity, code, msg);
    w.Int("id", 1);
    w.Close('}');
    if (severity == 'E') result = ActionResult::kError;
  };
  if (spec_.deny_privileged || lux_session_.empty() || f[0] != lux_session_) {
    result = ActionResult::kDenied;
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "Access denied to '{}' command", command);
    const std::string msg(scratch_.data(), scratch_.size());
    w.Open('{');
    WriteLuxosStatus(w, 'E', 45, msg);
    w.Int("id", 1);
    w.Close('}');
  } else {
    lux_session_used_ = now_;
    const std::string_view arg = f.size() > 1 ? f[1] : std::string_view();
    if (command == "logoff") {
      lux_session_.clear();
      status_only('S', 317, "Session closed");
    } else if (command == "curtail") {
      if (arg != "sleep" && arg != "wakeup") {
        status_only('E', 14, "Invalid command");
      } else {
        const bool sleep = arg == "sleep";
        // "Curtailment command sent": the answer comes before the boards and
        // the PSU are off, which takes seconds (spec().halt_s); wakeup
        // starts at once and ramps as a reboot does (curtail doc).
        HaltAt(sleep, sleep ? now_ + spec_.halt_s : now_);
        w.Open('{');
        w.Key("CURTAIL");
        w.Open('[');
        w.Open('{');
        w.Str("Action", sleep ? "sleep mode" : "wake up");
        w.Close('}');
        w.Close(']');
        WriteLuxosStatus(w, 'S', 335, "Curtailment command sent");
        w.Int("id", 1);
        w.Close('}');
      }
    } else if (command == "profileset") {
      WriteLuxosProfileSet(w, arg, result);
    } else if (command == "ledset") {
      const std::string_view state = f.size() > 2 ? f[2] : std::string_view();
      if ((arg != "red" && arg != "green") ||
          (state != "on" && state != "off" && state != "blink")) {
        status_only('E', 14, "Invalid LED parameters");
      } else {
        // The red LED is the one pyasic's fault light drives.
        if (arg == "red") SetBlinking(state != "off");
        status_only('S', 330, "LED set");
      }
    } else if (command == "resetminer") {
      // The farm restarts the mining software once answered (its API goes
      // down for --restart-s).
      status_only('S', 336, "Resetting LUXminer");
      effect_ = ApiEffect::kRestart;
    } else {  // rebootdevice: the farm takes the miner down for --reboot-s
      status_only('S', 337, "Rebooting device");
      effect_ = ApiEffect::kReboot;
    }
  }
  if (actions) actions->push_back({std::string(command), std::string(param), result});
  return true;
}

void FakeMiner::WriteLuxosSession(ReplyWriter& w, bool logon) {
  // logon: code 316 "Session created"; session: the open one, "" when none (319).
  w.Open('{');
  w.Key("SESSION");
  w.Open('[');
  w.Open('{');
  w.Str("SessionID", lux_session_);
  w.Close('}');
  w.Close(']');
  WriteLuxosStatus(w, 'S', logon ? 316 : 319, logon ? "Session created" : "Session information");
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteLuxosProfiles(ReplyWriter& w, const LuxosFacts& l) {
  const int f0 = model_->firmware.frequency;
  w.Open('{');
  w.Key("PROFILES");
  w.Open('[');
  for (int step = -kStepsUnder; step <= kStepsOver; ++step) {
    const double freq = f0 + step * kStepMhz;
    const double volts = l.volts + step * kStepVolts;
    const double share = freq / f0;
    w.Open('{');
    w.Bool("CanRestore", true);
    w.Int("Frequency", static_cast<int64_t>(freq));
    w.Bool("HasOverrides", false);
    w.Fixed("Hashrate", model_->hashrate_nominal * share / 1e12, 1);  // TH/s
    w.Bool("IsDynamic", true);
    w.Bool("IsTuned", false);
    w.Str("Profile Name", ProfileName(f0, step));
    w.Str("Step", fmt::format("{}", step));
    w.Fixed("Voltage", volts, 2);
    w.Int("Watts", std::lround(l.watts * share * (volts / l.volts) * (volts / l.volts)));
    w.Close('}');
  }
  w.Close(']');
  WriteLuxosStatus(w, 'S', 323, "List profiles");
  w.Int("id", 1);
  w.Close('}');
}

// luxos-s19kpro-config.json's layout (code 33), the keys a reader uses:
// CurtailMode "None" at work; curtailed, "Sleep" (no capture of a curtailed
// miner: the value Home Assistant integrations model, PROVENANCE.md), and the
// PSU off as the curtail doc says; Profile and ProfileStep ("290MHz", "-12"
// in the capture); RedLed and GreenLed "auto" as captured, RedLed "blink"
// while ledset blinks it (the state ledset was given: no capture of one).
void FakeMiner::WriteLuxosConfig(ReplyWriter& w) {
  w.Open('{');
  w.Key("CONFIG");
  w.Open('[');
  w.Open('{');
  w.Str("CurtailMode", sleeping_ ? "Sleep" : "None");
  w.Str("GreenLed", "auto");
  w.Str("Hostname", hostname_);
  w.Bool("IsPowerSupplyOn", !sleeping_);
  w.Str("MACAddr", mac_);
  w.Str("Model", model_->name);
  w.Str("OS", "LuxOS");
  w.Str("Profile", ProfileName(model_->firmware.frequency, lux_step_));
  w.Str("ProfileStep", fmt::format("{}", lux_step_));
  w.Str("RedLed", blinking() ? "blink" : "auto");
  w.Str("SerialNumber", serial_);
  w.Str("SystemStatus", "Normal");
  w.Close('}');
  w.Close(']');
  WriteLuxosStatus(w, 'S', 33, "LUXminer config");
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteLuxosProfileSet(ReplyWriter& w, std::string_view name, ActionResult& result) {
  const int f0 = model_->firmware.frequency;
  int step = 0;
  bool found = name == "default";
  if (!found && name.ends_with("MHz")) {
    int mhz = 0;
    const std::string_view digits = name.substr(0, name.size() - 3);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mhz);
    const int offset = mhz - f0;
    if (ec == std::errc() && end == digits.data() + digits.size() && offset % kStepMhz == 0 &&
        offset != 0 && offset / kStepMhz >= -kStepsUnder && offset / kStepMhz <= kStepsOver) {
      step = offset / kStepMhz;
      found = true;
    }
  }
  if (!found) {
    result = ActionResult::kError;
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "Profile '{}' not found", name);
    const std::string msg(scratch_.data(), scratch_.size());
    w.Open('{');
    WriteLuxosStatus(w, 'E', 14, msg);
    w.Int("id", 1);
    w.Close('}');
    return;
  }
  // A change during a ramp starts from where the ramp had got to.
  lux_step_from_ = static_cast<int>(std::lround(ProfileStepNow()));
  lux_step_ = step;
  lux_step_since_ = now_;
  snap_valid_ = false;
  w.Open('{');
  w.Key("PROFILE");
  w.Open('[');
  w.Open('{');
  w.Int("Board", 0);
  w.Int("FrequencyStep", 5);
  w.Str("Profile", ProfileName(f0, step));
  w.Fixed("VoltageStep", 0.05, 2);
  w.Close('}');
  w.Close(']');
  WriteLuxosStatus(w, 'S', 321, "Profile Set");
  w.Int("id", 1);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
