// LUXminer's own replies (LuxOS), from Luxor's API doc pages and the
// captures in tests/data: version (luxos-anonymised-version.json and the
// doc's example), fans (luxos-s19-fans.json), temps (luxos-hydro-temps.json),
// logon and curtail (docs.luxor.tech/firmware/api/luxminer/logon, /curtail,
// /sessions). LUXminer writes keys in alphabetical order (STATUS after the
// data section, "Code" first inside it), as every one of those shows.
// summary, stats and pools are stock Bitmain's layouts (luxos_models.cpp).
#include <algorithm>
#include <cstdint>

#include "fake_miner.h"
#include "luxos_models.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {

bool FakeMiner::WriteLuxos(ReplyWriter& w, std::string_view command, const std::string* parameter,
                           std::vector<PrivilegedAction>* actions) {
  const LuxosFacts* l = LuxosFactsOf(model_->id);
  if (l == nullptr) return false;
  if (command == "version") {
    WriteLuxosVersion(w);
  } else if (command == "power") {
    WriteLuxosPower(w, *l);
  } else if (command == "fans") {
    WriteLuxosFans(w, *l);
  } else if (command == "temps") {
    WriteLuxosTemps(w);
  } else if (command == "logon" || command == "session") {
    // logon opens the one session if none is open (code 316 "Session
    // created"); session shows it, "" when none (code 319).
    const bool logon = command == "logon";
    if (logon && lux_session_.empty()) {
      lux_session_ = fmt::format("{:08x}", static_cast<uint32_t>(Uniform() * 0x1p32));
    }
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
  } else if (command == "curtail") {
    WriteLuxosCurtail(w, parameter, actions);
  } else if (command == "config") {
    // luxos-s19kpro-config.json's layout (code 33), the keys a reader uses:
    // CurtailMode "None" at work; curtailed, "Sleep" (no capture of a curtailed
    // miner: the value Home Assistant integrations model, PROVENANCE.md), and
    // the PSU off as the curtail doc says.
    w.Open('{');
    w.Key("CONFIG");
    w.Open('[');
    w.Open('{');
    w.Str("CurtailMode", sleeping_ ? "Sleep" : "None");
    w.Str("Hostname", hostname_);
    w.Bool("IsPowerSupplyOn", !sleeping_);
    w.Str("MACAddr", mac_);
    w.Str("Model", model_->name);
    w.Str("OS", "LuxOS");
    w.Str("SerialNumber", serial_);
    w.Str("SystemStatus", "Normal");
    w.Close('}');
    w.Close(']');
    WriteLuxosStatus(w, 'S', 33, "LUXminer config");
    w.Int("id", 1);
    w.Close('}');
  } else {
    return false;  // the rest is cgminer's, spoofed as stock firmware's
  }
  return true;
}

void FakeMiner::WriteLuxosStatus(ReplyWriter& w, char severity, int code, std::string_view msg) {
  const char sev[2] = {severity, '\0'};
  w.Key("STATUS");
  w.Open('[');
  w.Open('{');
  w.Int("Code", code);
  w.Str("Description", model_->firmware.description);
  w.Key("Msg");
  w.EscStr(msg);
  w.Str("STATUS", sev);
  w.Int("When", Snap().when);
  w.Close('}');
  w.Close(']');
}

// The doc's version example: API "3.7", the LUXminer version, "Miner" its
// date part, the Antminer "Type".
void FakeMiner::WriteLuxosVersion(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  w.Open('{');
  WriteLuxosStatus(w, 'S', 22, "LUXminer versions");
  w.Key("VERSION");
  w.Open('[');
  w.Open('{');
  w.Str("API", "3.7");
  w.Str("CompileTime", fw.compile_time);
  w.Str("LUXminer", fw.miner_version);
  w.Str("Miner", fw.miner);
  w.Str("Type", model_->name);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// luxos-s19kpro-power.json: POWER[0] {"PSU": false, "Watts"}, code 311
// "Power usage". Asleep, the PSU is off.
void FakeMiner::WriteLuxosPower(ReplyWriter& w, const LuxosFacts& l) {
  const Snapshot& s = Snap();
  const double share = s.rate_ideal > 0 ? std::min(1.0, s.rate_5s / s.rate_ideal) : 0;
  w.Open('{');
  w.Key("POWER");
  w.Open('[');
  w.Open('{');
  w.Bool("PSU", false);
  w.Int("Watts", static_cast<int64_t>(l.watts * share));
  w.Close('}');
  w.Close(']');
  WriteLuxosStatus(w, 'S', 311, "Power usage");
  w.Int("id", 1);
  w.Close('}');
}

// luxos-s19-fans.json: FANCTRL, FANS with connector names, code 202.
void FakeMiner::WriteLuxosFans(ReplyWriter& w, const LuxosFacts& l) {
  const Snapshot& s = Snap();
  const int fans = model_->firmware.fans;
  w.Open('{');
  w.Key("FANCTRL");
  w.Open('[');
  w.Open('{');
  w.Int("MinFans", 1);
  w.Int("PowerOffSpeed", 20);
  w.Close('}');
  w.Close(']');
  w.Key("FANS");
  w.Open('[');
  for (int f = 0; f < fans; ++f) {
    w.Open('{');
    w.Str("FAN", l.fan_connectors[f]);
    w.Int("ID", f);
    w.Int("RPM", s.fans[f]);
    w.Int("Speed", sleeping_ ? 0 : l.fan_percent);
    w.Close('}');
  }
  w.Close(']');
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Fan(s)", fans);
  WriteLuxosStatus(w, 'S', 202, std::string_view(scratch_.data(), scratch_.size()));
  w.Int("id", 1);
  w.Close('}');
}

// luxos-hydro-temps.json's layout on an air-cooled S19: four board sensors
// per board, TEMPS numbered from 0, hashboard temperatures only (no chip
// sensor: the temps doc). The METADATA labels of the Hydro capture name its
// water sensors; no air-cooled labels were found, so none are written.
void FakeMiner::WriteLuxosTemps(ReplyWriter& w) {
  const Snapshot& s = Snap();
  w.Open('{');
  w.Key("TEMPS");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    // The outlet side runs hotter than the inlet, as on the capture's boards.
    const int hot = s.temp_pcb[b];
    const int cool = hot > 0 ? hot - 14 : 0;
    w.Open('{');
    w.Int("BottomLeft", hot);
    w.Int("BottomRight", cool);
    w.Int("ID", b);
    w.Int("TEMP", b);
    w.Int("TopLeft", hot > 0 ? hot - 2 : 0);
    w.Int("TopRight", cool > 0 ? cool + 6 : 0);
    w.Close('}');
  }
  w.Close(']');
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} Temp(s)", model_->boards);
  WriteLuxosStatus(w, 'S', 201, std::string_view(scratch_.data(), scratch_.size()));
  w.Int("id", 1);
  w.Close('}');
}

// "<session_id>,sleep" or "<session_id>,wakeup" (the curtail doc): code 335
// "Curtailment command sent", CURTAIL[0].Action "sleep mode" / "wake up".
// A session other than logon's, or no action, is refused; LUXminer's codes
// for those are not documented where found: cgminer's 45 and 14 here.
void FakeMiner::WriteLuxosCurtail(ReplyWriter& w, const std::string* parameter,
                                  std::vector<PrivilegedAction>* actions) {
  const std::string_view param = parameter ? std::string_view(*parameter) : std::string_view();
  const size_t comma = param.find(',');
  const std::string_view session = param.substr(0, comma);
  const std::string_view action =
      comma == std::string_view::npos ? std::string_view() : param.substr(comma + 1);
  auto log = [&](ActionResult result) {
    if (actions) actions->push_back({"curtail", std::string(param), result});
  };
  if (spec_.deny_privileged || lux_session_.empty() || session != lux_session_) {
    log(ActionResult::kDenied);
    w.Open('{');
    WriteLuxosStatus(w, 'E', 45, "Access denied to 'curtail' command");
    w.Int("id", 1);
    w.Close('}');
    return;
  }
  if (action != "sleep" && action != "wakeup") {
    log(ActionResult::kError);
    w.Open('{');
    WriteLuxosStatus(w, 'E', 14, "Invalid command");
    w.Int("id", 1);
    w.Close('}');
    return;
  }
  const bool sleep = action == "sleep";
  Halt(sleep, now_);
  log(ActionResult::kOk);
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

}  // namespace asicmon::fakefarm
