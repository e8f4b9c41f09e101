// Bitmain's new API layout, as stock firmware of 2022 on answers "stats" and
// "summary" asked with "new_api":true: STATUS one object, INFO, then STATS[0]
// with chain[] (antminer-s21-stats-newapi.json, key order and all) or SUMMARY[0]
// with the firmware's checks (antminer-s23hyd-summary-newapi.json). "watt"
// where the model reports power (antminer-s23hyd-stats-newapi.json).
#include <algorithm>
#include <cmath>
#include <utility>

#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {

bool FakeMiner::WriteNewApi(ReplyWriter& w, std::string_view command) {
  if (command == "stats") {
    WriteStatsNewApi(w);
  } else if (command == "summary") {
    WriteSummaryNewApi(w);
  } else {
    return false;
  }
  return true;
}

void FakeMiner::WriteNewApiHead(ReplyWriter& w, std::string_view msg) {
  const Firmware& fw = model_->firmware;
  w.Key("STATUS");
  w.Open('{');
  w.Str("STATUS", "S");
  w.Int("when", Snap().when);
  w.Str("Msg", msg);
  w.Str("api_version", "1.0.0");
  w.Close('}');
  w.Key("INFO");
  w.Open('{');
  w.Str("miner_version", fw.miner);
  w.Str("CompileTime", fw.compile_time);
  w.Str("type", model_->name);
  w.Close('}');
}

void FakeMiner::WriteStatsNewApi(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int dead = dead_chain();
  w.Open('{');
  WriteNewApiHead(w, "stats");
  w.Key("STATS");
  w.Open('[');
  w.Open('{');
  w.Int("elapsed", s.elapsed);
  w.Fixed("rate_5s", s.rate_5s / fw.ghs_unit, 2);
  w.Fixed("rate_30m", s.rate_av * (1 + 0.002) / fw.ghs_unit, 2);
  w.Fixed("rate_avg", s.rate_av / fw.ghs_unit, 2);
  w.Fixed("rate_ideal", s.rate_ideal / fw.ghs_unit, 1);
  w.Str("rate_unit", "GH/s");
  w.Int("chain_num", model_->boards);
  w.Int("fan_num", fw.fans);
  w.Key("fan");
  w.Open('[');
  for (int f = 0; f < fw.fans; ++f) w.Int(s.fans[f]);
  w.Close(']');
  w.Key("psu");
  w.Open('{');
  w.Int("index", 0);
  w.Str("status", "ok");
  w.Close('}');
  if (fw.power_w > 0) {
    // The PSU's draw follows the work done; asleep it idles near 5 %.
    const double load = std::clamp(s.rate_5s / model_->hashrate_nominal, 0.05, 1.2);
    w.Int("watt", std::lround(fw.power_w * load));
  }
  w.Fixed("hwp_total", 0.0006, 4);
  w.Key("chain");
  w.Open('[');
  for (int b = 0; b < model_->boards; ++b) {
    const bool alive = model_->first_chain + b != dead;
    w.Open('{');
    w.Int("index", b);
    w.Int("freq_avg", alive ? fw.frequency : 0);
    w.Fixed("rate_ideal", s.board_ideal[b] / fw.ghs_unit, 1);
    w.Fixed("rate_real", s.board_rate[b] / fw.ghs_unit, 2);
    w.Int("asic_num", alive ? model_->chips_per_board : 0);
    // Four sensors a kind, inlet pair then outlet pair (the S21's [54,54,68,68]);
    // a board that does not answer has none.
    const int pcb = s.temp_pcb[b];
    const int chip = s.temp_chip[b];
    for (const auto& [key, hot] : {std::pair{"temp_pic", pcb - 10}, std::pair{"temp_pcb", pcb},
                                   std::pair{"temp_chip", chip}}) {
      w.Key(key);
      w.Open('[');
      if (alive) {
        for (const int t : {hot - 14, hot - 14, hot, hot}) w.Int(t);
      }
      w.Close(']');
    }
    w.Int("hw", alive ? s.board_hw[b] : 0);
    scratch_.clear();
    fmt::format_to(fmt::appender(scratch_), "FAKE{:05d}B{}", spec_.index, b);
    w.Str("sn", std::string_view(scratch_.data(), scratch_.size()));
    w.Fixed("hwp", 0, 1);
    w.Close('}');
  }
  w.Close(']');
  w.Close('}');
  w.Close(']');
  w.Close('}');
}

void FakeMiner::WriteSummaryNewApi(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  w.Open('{');
  WriteNewApiHead(w, "summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("elapsed", s.elapsed);
  w.Fixed("rate_5s", s.rate_5s / fw.ghs_unit, 2);
  w.Fixed("rate_30m", s.rate_av * (1 + 0.002) / fw.ghs_unit, 2);
  w.Fixed("rate_avg", s.rate_av / fw.ghs_unit, 2);
  w.Fixed("rate_ideal", s.rate_ideal / fw.ghs_unit, 1);
  w.Str("rate_unit", "GH/s");
  w.Int("hw_all", s.hw_errors);
  w.Int("bestshare", 1000003 + s.accepted * 4093);
  w.Key("status");
  w.Open('[');
  // Each check passes; a unit without fans has no fans check ("").
  for (const std::string_view type : {"rate", "network", "fans", "temp"}) {
    w.Open('{');
    w.Str("type", type);
    w.Str("status", type == "fans" && fw.fans == 0 ? "" : "s");
    w.Int("code", 0);
    w.Str("msg", "");
    w.Close('}');
  }
  w.Close(']');
  w.Close('}');
  w.Close(']');
  w.Close('}');
}

}  // namespace asicmon::fakefarm
