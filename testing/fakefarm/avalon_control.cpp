// Canaan's ascset on the fake AvalonMiners: "0,<option>[,<value>...]" on the
// cgminer API, answered as Canaan's cgminer 4.11.1 answers:
// - softoff / softon "1:<unix time>": 'I' 118 "ASC 0 set info: success
//   softoff:<time>" (256foundation/asic-rs @ fdcd1018,
//   asic-rs-firmwares/avalonminer/src/test/json/ascset_softoff.json and
//   ascset_softon.json); the module goes idle (or back to work) at that time,
//   not at once: pyasic and asic-rs both ask for now + 5 s. The Q's softon
//   closes the connection with no answer (asic-rs @ fdcd1018,
//   asic-rs-firmwares/avalonminer/src/backends/avalon_q/mod.rs, resume():
//   "softon closes the connection without responding", seen live; the
//   captured answer shows it does not always): the fake takes the unkind
//   one, which a client must handle either way.
// - workmode "set,<mode>": 'S' 119 "ASC 0 set OK" (ascset_workmode.json);
//   the Q's modes 0 eco, 1 standard, 2 super (Gr33nDrag0n69/AvalonPS7 @
//   082d5bf5 MD/ASCSET.md, from driver-avalon.c's handlers: mode above the
//   model's highest refused).
// - led "1-1" / "1-0": 'S' 119 "ASC 0 set OK" (UpstreamData/pyasic
//   miners/backends/avalonminer.py; Canaan's "Avalon A10 API manual v0.1"
//   section 2.3), shown in the classic module's Led[].
// - reboot "0": Canaan's A10 manual section 2.2; its answer is not
//   documented: 'I' 118 "ASC 0 set info: success reboot:0" here, in the
//   form of the softoff answer; the farm then takes the miner down.
// - help: the Q's list, byte for byte as ascset_help.json; the 1246's is not
//   known, the same list without workmode (see below) is used.
// - an option the model lacks: 'E' 120 "ASC 0 set failed: Unknown option:
//   <option>" (cgminer's ASC set error code; the text as a Nano 3S answered
//   softoff, recorded in public tool tests). The Q's help lists no led; the
//   1246 is given no workmode (its firmware's work mode takes effect only
//   after a restart, A10 manual 2.4, and no capture shows it set).
// The Q's standard and super rates: its eco rate is the capture's 55.03 TH/s,
// super Canaan's rating of 90 TH/s (avalon_models.cpp); standard, which no
// source gives, half way between.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "avalon_models.h"
#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

constexpr double kQEcoThs = 55.03;
constexpr double kQSuperThs = 90;
constexpr double kQModeShare[] = {1, (kQEcoThs + kQSuperThs) / 2 / kQEcoThs, kQSuperThs / kQEcoThs};

constexpr std::string_view kQHelp =
    "ASC 0 set info: help|voltage|fan-spd|lcd|hash-sn-read|hash-sn-write|volt-tuning|workmode|"
    "worklevel|work_mode_lvl|reboot|softon|softoff|filter-clean|facopts|faclock|activate|"
    "solo-allowed|frequency|loop|password|qr_auth|time|";
constexpr std::string_view kClassicHelp =
    "ASC 0 set info: help|voltage|fan-spd|led|hash-sn-read|hash-sn-write|volt-tuning|reboot|"
    "softon|softoff|frequency|loop|password|";

// The fields of "0,<option>,<a>,<b>": at most four.
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

// "1:<unix time>" of softoff / softon; nullopt when it is not that.
std::optional<int64_t> SwitchTime(std::string_view value) {
  if (!value.starts_with("1:")) return std::nullopt;
  value.remove_prefix(2);
  int64_t at = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), at);
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return at;
}

}  // namespace

double FakeMiner::AvalonModeShare() const {
  const AvalonFacts* a = AvalonFactsOf(model_->id);
  if (a == nullptr || !a->form_2025) return 1;
  return kQModeShare[std::clamp(avalon_mode_, 0, 2)];
}

void FakeMiner::WriteAvalonAscset(ReplyWriter& w, const AvalonFacts& a, std::string_view param,
                                  std::vector<PrivilegedAction>* actions) {
  const std::vector<std::string_view> f = Fields(param);
  const std::string_view option = f.size() > 1 ? f[1] : std::string_view();
  const std::string_view value = f.size() > 2 ? f[2] : std::string_view();
  ActionResult result = ActionResult::kOk;
  scratch_.clear();
  auto reply = [&](char severity, int code, std::string_view msg) {
    WriteStatusReply(w, severity, code, msg);
    if (severity == 'E') result = ActionResult::kError;
  };
  auto failed = [&](std::string_view why) {
    fmt::format_to(fmt::appender(scratch_), "ASC 0 set failed: {}", why);
    reply('E', 120, std::string_view(scratch_.data(), scratch_.size()));
  };
  const bool has_led = !a.form_2025;
  const bool has_workmode = a.form_2025;
  if (f[0] != "0") {
    fmt::format_to(fmt::appender(scratch_), "Invalid ASC id {}", f[0]);
    reply('E', 13, std::string_view(scratch_.data(), scratch_.size()));  // cgminer's MSG_INVASC
  } else if (option == "help") {
    reply('I', 118, a.form_2025 ? kQHelp : kClassicHelp);
  } else if (option == "softoff" || option == "softon") {
    const std::optional<int64_t> at = SwitchTime(value);
    if (!at) {
      failed("Invalid time");
    } else {
      // The Q takes softon and closes the connection without a word
      // (asic-rs avalon_q/mod.rs, resume: "softon closes the connection
      // without responding"); softoff, and softon on the others, answer.
      if (option == "softoff" || !a.form_2025) {
        fmt::format_to(fmt::appender(scratch_), "ASC 0 set info: success {}:{}", option, *at);
        reply('I', 118, std::string_view(scratch_.data(), scratch_.size()));
      }
      HaltAt(option == "softoff", static_cast<double>(*at));
    }
  } else if (option == "led" && has_led && (value == "1-1" || value == "1-0")) {
    SetBlinking(value == "1-1");
    reply('S', 119, "ASC 0 set OK");
  } else if (option == "workmode" && has_workmode && value == "set") {
    const std::string_view mode = f.size() > 3 ? f[3] : std::string_view();
    int m = -1;
    const auto [end, ec] = std::from_chars(mode.data(), mode.data() + mode.size(), m);
    if (ec != std::errc() || end != mode.data() + mode.size() || m < 0 || m > 2) {
      failed("Invalid workmode");
    } else {
      avalon_mode_ = m;
      snap_valid_ = false;
      reply('S', 119, "ASC 0 set OK");
    }
  } else if (option == "reboot" && value == "0") {
    reply('I', 118, "ASC 0 set info: success reboot:0");
    effect_ = ApiEffect::kReboot;  // the farm takes it down once answered
  } else {
    fmt::format_to(fmt::appender(scratch_), "ASC 0 set failed: Unknown option: {}", option);
    reply('E', 120, std::string_view(scratch_.data(), scratch_.size()));
  }
  if (actions) actions->push_back({"ascset", std::string(param), result});
}

}  // namespace asicmon::fakefarm
