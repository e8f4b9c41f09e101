// LUXminer's own replies (LuxOS), from Luxor's API doc pages and the
// captures in tests/data: version (luxos-anonymised-version.json and the
// doc's example), fans (luxos-s19-fans.json), temps (luxos-hydro-temps.json);
// the session and control commands are in luxos_control.cpp. LUXminer writes
// keys in alphabetical order (STATUS after the data section, "Code" first
// inside it), as every one of those shows.
// summary, stats and pools are stock Bitmain's layouts (luxos_models.cpp).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

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
  } else if (command == "config") {
    WriteLuxosConfig(w);
  } else if (!WriteLuxosControl(w, command, parameter, actions)) {
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
// "Power usage". Asleep, the PSU is off; the watts follow the profile in use
// (luxos_control.cpp).
void FakeMiner::WriteLuxosPower(ReplyWriter& w, const LuxosFacts& l) {
  const Snapshot& s = Snap();
  const double share = s.rate_ideal > 0 ? std::min(1.0, s.rate_5s / s.rate_ideal) : 0;
  w.Open('{');
  w.Key("POWER");
  w.Open('[');
  w.Open('{');
  w.Bool("PSU", false);
  w.Int("Watts", static_cast<int64_t>(l.watts * ProfileWattShare(l) * share));
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

}  // namespace asicmon::fakefarm
