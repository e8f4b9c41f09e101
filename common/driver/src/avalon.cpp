// Canaan AvalonMiners on stock firmware: the cgminer API on 4028, open to
// privileged commands without a login, and Canaan's own "ascset|0,<option>"
// (Canaan's "Avalon A10 API manual v0.1", 2019; the options of 2025 firmware
// in 256foundation/asic-rs @ fdcd1018 asic-rs-firmwares/avalonminer/src/test/
// json/ascset_help.json):
// - sleep / wake: "0,softoff,1:<unix time>" / "0,softon,1:<unix time>", the
//   module going idle (or back to work) at that time, which pyasic and asic-rs
//   both put 5 s ahead (UpstreamData/pyasic @ e2b9d357
//   pyasic/miners/backends/avalonminer.py stop_mining; asic-rs avalon_q
//   pause); answered 'I' 118 "ASC 0 set info: success softoff:<time>"
//   (ascset_softoff.json). Read back from the module string: SYSTEMSTATU
//   "In Idle" asleep, "In Work" awake (avalon-q-stats.json).
// - fault light: "0,led,1-1" / "1-0" (A10 manual 2.3; pyasic), 'S' 119 "ASC 0
//   set OK"; read back from the classic module's Led[]. The Q's ascset help
//   lists no led option, so its light is not offered.
// - power mode: "0,workmode,set,<n>" (Gr33nDrag0n69/AvalonPS7 @ 082d5bf5
//   MD/ASCSET.md, from driver-avalon.c), 'S' 119 "ASC 0 set OK"
//   (ascset_workmode.json); on the Q and Nano 0 eco = low, 1 standard =
//   normal, 2 super = high (the Avalon Home app's names); read back from
//   WORKMODE[]. The 12xx/14xx/15xx work mode takes effect only after a
//   restart (A10 manual 2.4), so it is not offered.
// - reboot: "0,reboot,0" (A10 manual 2.2); restart of the mining software:
//   cgminer's restart, which the Q and Nano lack (asic-rs avalon_q: no
//   restart).
// - pools: cgminer's addpool / switchpool / removepool (cgminer_api.cpp).
//   Canaan's own setpool takes the web login and applies only after a
//   restart (A10 manual 2.5), so it is not used.
// No power limit: worklevel is a level, not watts.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <optional>
#include <string>

#include "cgminer_api.h"
#include "drivers.h"

namespace asicmon::driver {
namespace {

// How far ahead soft-off and soft-on are asked for (pyasic, asic-rs).
constexpr int64_t kSwitchLeadS = 5;

enum class Line { kClassic, kQ, kNano };

// The Avalon Home line ("Avalon Q", "Avalon Nano 3s", "Avalon Mini 3") is
// named "Avalon ..."; the farm models "AvalonMiner 1246-83".
Line LineOf(const std::string& model) {
  if (model.starts_with("Avalon Q")) return Line::kQ;
  if (model.starts_with("Avalon ")) return Line::kNano;
  return Line::kClassic;
}

// The number in "<key>[<n>", where key starts a field (not the tail of a
// longer name); nullopt when absent.
std::optional<int> FieldNumber(std::string_view text, std::string_view key) {
  for (size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    const size_t open = at + key.size();
    if (open >= text.size() || text[open] != '[') continue;
    if (at > 0 && (std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_')) {
      continue;
    }
    int value = 0;
    const char* begin = text.data() + open + 1;
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), value);
    if (ec == std::errc() && end != begin) return value;
    return std::nullopt;
  }
  return std::nullopt;
}

// The text inside "<key>[...]"; nullopt when absent.
std::optional<std::string_view> FieldText(std::string_view text, std::string_view key) {
  const size_t at = text.find(std::string(key) + "[");
  if (at == std::string_view::npos) return std::nullopt;
  const size_t begin = at + key.size() + 1;
  const size_t end = text.find(']', begin);
  if (end == std::string_view::npos) return std::nullopt;
  return text.substr(begin, end - begin);
}

class Avalon final : public MinerDriver {
 public:
  std::string_view family() const override { return "avalon"; }
  // The API has no login; the web UI's stock one (setpool would take it).
  Credentials StockCredentials() const override { return {"root", "root"}; }

  Capabilities Describe(const Record& record) const override {
    Capabilities caps;
    caps.unsupported[Action::kPowerLimit] =
        "Canaan firmware has no power limit (its worklevel is a level, not watts)";
    switch (LineOf(record.model)) {
      case Line::kClassic:
        caps.unsupported[Action::kPowerMode] =
            "the 12xx/14xx/15xx work mode takes effect only after a restart";
        break;
      case Line::kQ:
        caps.power_modes = {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh};
        caps.unsupported[Action::kReset] =
            "the Avalon Q's cgminer has no restart: use POST .../reboot instead";
        caps.unsupported[Action::kLocate] = "the Avalon Q's ascset has no led option";
        break;
      case Line::kNano:
        caps.power_modes = {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh};
        caps.unsupported[Action::kReset] = "this Avalon's cgminer has no restart: use reboot";
        caps.unsupported[Action::kLocate] =
            "this Avalon's light is a mood light, not a fault light";
        caps.unsupported[Action::kSleep] = "this Avalon's firmware has no soft-off";
        caps.unsupported[Action::kWake] = "this Avalon's firmware has no soft-off";
        break;
    }
    return caps;
  }

  Outcome Restart(const Context& ctx) const override {
    if (!Describe(ctx.record).Supports(Action::kReset)) return Unsupported(ctx, Action::kReset);
    return RestartByApi(ctx);
  }
  Outcome Reboot(const Context& ctx) const override { return Ascset(ctx, "reboot,0"); }
  Outcome SetPools(const Context& ctx, std::span<const PoolSetting> pools) const override {
    return SetPoolsByApi(ctx, family(), pools);
  }
  Outcome Locate(const Context& ctx, bool on) const override {
    if (!Describe(ctx.record).Supports(Action::kLocate)) return Unsupported(ctx, Action::kLocate);
    return Ascset(ctx, on ? "led,1-1" : "led,1-0");
  }
  Outcome Sleep(const Context& ctx, bool sleep) const override {
    const Action action = sleep ? Action::kSleep : Action::kWake;
    if (!Describe(ctx.record).Supports(action)) return Unsupported(ctx, action);
    const int64_t at = static_cast<int64_t>(std::time(nullptr)) + kSwitchLeadS;
    return Ascset(ctx, fmt::format("{},1:{}", sleep ? "softoff" : "softon", at));
  }
  Outcome SetPowerMode(const Context& ctx, PowerMode mode) const override {
    const Capabilities caps = Describe(ctx.record);
    if (std::find(caps.power_modes.begin(), caps.power_modes.end(), mode) ==
        caps.power_modes.end()) {
      return caps.Supports(Action::kPowerMode)
                 ? Outcome::Fail(
                       Failure::kUnsupported, "power_mode",
                       fmt::format("{} has no {} power mode", ctx.record.model, ToString(mode)))
                 : Unsupported(ctx, Action::kPowerMode);
    }
    return Ascset(ctx, fmt::format("workmode,set,{}", WorkMode(mode)));
  }

  Result<Settings> ReadSettings(const Context& ctx) const override {
    Settings settings;
    const CommandResult r =
        RunCommand({ctx.ip, ctx.options.api_port}, "stats", "", ctx.options.api);
    if (r.status != MinerStatus::kOk) {
      const Outcome o = ApiFailed("stats", r);
      return Status::Unavailable(o.step + ": " + o.detail);
    }
    const std::string_view text = r.reply_json;
    if (const auto status = FieldText(text, "SYSTEMSTATU")) {
      if (status->find("In Idle") != std::string_view::npos) settings.sleeping = true;
      if (status->find("In Work") != std::string_view::npos) settings.sleeping = false;
    }
    const Line line = LineOf(ctx.record.model);
    if (line == Line::kClassic) {
      if (const auto led = FieldNumber(text, "Led")) settings.locate_on = *led != 0;
    } else if (const auto mode = FieldNumber(text, "WORKMODE")) {
      for (PowerMode m : {PowerMode::kLow, PowerMode::kNormal, PowerMode::kHigh}) {
        if (WorkMode(m) == *mode) settings.power_mode = m;
      }
    }
    return settings;
  }

 private:
  static int WorkMode(PowerMode mode) {
    return mode == PowerMode::kLow ? 0 : mode == PowerMode::kNormal ? 1 : 2;
  }

  // "ascset" with "0,<option_and_values>": taken when the firmware answers
  // 'S' or 'I' (softoff's "set info: success ..."); 'E' "ASC 0 set failed".
  static Outcome Ascset(const Context& ctx, const std::string& option) {
    const std::string step = "ascset 0," + option.substr(0, option.find(','));
    const CommandResult r =
        RunCommand({ctx.ip, ctx.options.api_port}, "ascset", "0," + option, ctx.options.api);
    if (r.status == MinerStatus::kAuthError) {
      return Outcome::Fail(Failure::kConflict, step, "the miner's API is read-only: " + r.error);
    }
    // softon may close the connection without answering (asic-rs avalon_q
    // resume: "treat as success"); the read-back shows whether it woke.
    const bool closed = r.status == MinerStatus::kReset || r.status == MinerStatus::kParseError;
    if (closed && option.starts_with("softon,")) return Outcome::Done(step + " (no answer)");
    if (r.status != MinerStatus::kOk) return ApiFailed(step, r);
    return Outcome::Done(step);
  }
};

}  // namespace

const MinerDriver& AvalonDriver() {
  static const Avalon driver;
  return driver;
}

}  // namespace asicmon::driver
