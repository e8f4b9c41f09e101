// The STATS reply of the Antminer family: STATS[0] (the version fields)
// and STATS[1] in the layout of the model's firmware generation
// (Firmware::stats), each from the captures its comment names.
#include <algorithm>
#include <array>
#include <iterator>
#include <string>

#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

// Per-chip nonce timing as S9 firmware prints it, {X0=58,X1=59,...}: the
// same text on every simulated S9, so built once.
std::string_view S9Xtime(int board) {
  static const std::array<std::string, 3> kText = [] {
    std::array<std::string, 3> text;
    for (int b = 0; b < 3; ++b) {
      fmt::memory_buffer chain;
      chain.push_back('{');
      for (int x = 0; x < 63; ++x) {
        fmt::format_to(fmt::appender(chain), "{}X{}={}", x ? "," : "", x, 55 + (x * 5 + b * 3) % 7);
      }
      chain.push_back('}');
      text[b] = fmt::to_string(chain);
    }
    return text;
  }();
  return kText[board];
}

}  // namespace

void FakeMiner::WriteStats(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  scratch_.clear();
  fmt::format_to(fmt::appender(scratch_), "{} stats", fw.msg_prefix);
  w.Open('{');
  WriteStatus(w, 'S', 70, std::string_view(scratch_.data(), scratch_.size()));
  w.Key("STATS");
  w.Open('[');
  w.Open('{');
  WriteVersionFields(w, false);
  w.Close('}');
  // S9 bmminer and L3+ cgminer 4.9.0 glue STATS[0] and STATS[1] as `}{`.
  if (fw.glued_stats) w.Glue();
  w.Open('{');
  const Snapshot& s = Snap();
  w.Int("STATS", 0);
  w.Str("ID", fw.stats_id);
  w.Int("Elapsed", s.elapsed);
  w.Int("Calls", 0);
  if (w.spaced()) {
    w.Int("Wait", 0);
    w.Int("Max", 0);
    w.Int("Min", 99999999);
  } else {
    w.Fixed("Wait", 0, 6);
    w.Fixed("Max", 0, 6);
    w.Fixed("Min", 99999999, 6);
  }
  w.Key("GHS 5s");
  if (fw.ghs_5s_string) {
    w.FixedStr(s.rate_5s / fw.ghs_unit, 2);
  } else {
    w.Fixed(s.rate_5s / fw.ghs_unit, 2);
  }
  w.Fixed("GHS av", s.rate_av / fw.ghs_unit, 2);
  switch (fw.stats) {
    case StatsLayout::kS9:
      WriteStatsS9(w);
      break;
    case StatsLayout::kS17:
      WriteStatsS17(w);
      break;
    case StatsLayout::kS19:
      WriteStatsS19(w);
      break;
    case StatsLayout::kAvalon:      // never here: avalon_replies.cpp answers an Avalon's stats
    case StatsLayout::kWhatsminer:  // nor here: whatsminer_replies.cpp refuses stats
    case StatsLayout::kBraiins:     // nor here: braiins_replies.cpp answers bosminer's
    case StatsLayout::kEpic:        // nor here: no cgminer API, the farm asks HandleHttp
    case StatsLayout::kBitaxe:
    case StatsLayout::kVnish:       // nor here: vnish_replies.cpp answers Vnish's
      break;
    case StatsLayout::kL3:
      WriteStatsL3(w);
      break;
  }
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// " oooooooo oooooooo ...": one letter per chip, 'x' for a chip that does not
// answer, all of them on a dead board and on a sleeping S19's boards.
void FakeMiner::AppendChipStatus(ReplyWriter& w, int board) {
  const char chip = board == DeadBoard() || sleeping_ ? 'x' : 'o';
  const int group = model_->firmware.chip_group;
  scratch_.clear();
  for (int i = 0; i < model_->chips_per_board; ++i) {
    if (i % group == 0) scratch_.push_back(' ');
    scratch_.push_back(chip);
  }
  w.Str(std::string_view(scratch_.data(), scratch_.size()));
}

// chain_acn, chain_acs, chain_hw and chain_rate for slots 1 to `slots`, as
// every Antminer layout lists them: each chain in the slot of its number,
// "" for the text of a slot with no chain (or of every slot when `listed`
// is false), 0 for the numbers of a dead chain.
void FakeMiner::WriteChains(ReplyWriter& w, int slots, bool listed) {
  const Snapshot& s = Snap();
  const int first = model_->first_chain;
  const int dead = dead_chain();
  auto populated = [&](int i) { return listed && i >= first && i < first + model_->boards; };
  auto alive = [&](int i) { return populated(i) && i != dead; };
  for (int i = 1; i <= slots; ++i) w.IntN("chain_acn", i, alive(i) ? model_->chips_per_board : 0);
  for (int i = 1; i <= slots; ++i) {
    w.Key("chain_acs", i);
    if (populated(i)) {
      AppendChipStatus(w, i - first);
    } else {
      w.Str("");
    }
  }
  for (int i = 1; i <= slots; ++i) w.IntN("chain_hw", i, alive(i) ? s.board_hw[i - first] : 0);
  for (int i = 1; i <= slots; ++i) {
    w.Key("chain_rate", i);
    if (populated(i)) {
      w.FixedStr(s.board_rate[i - first] / model_->firmware.ghs_unit, 2);
    } else {
      w.Str("");
    }
  }
}

// antminer-s9-stats.json: 16 slots per family of keys, chains 6-8 populated.
void FakeMiner::WriteStatsS9(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int first = model_->first_chain;
  const int last = first + model_->boards - 1;
  const int dead = dead_chain();
  auto board = [&](int slot) { return slot - first; };
  auto populated = [&](int slot) { return slot >= first && slot <= last; };
  auto alive = [&](int slot) { return populated(slot) && slot != dead; };
  int max_temp = 0;
  for (int b = 0; b < model_->boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Int("miner_count", model_->boards);
  w.Int("frequency", fw.frequency);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= 8; ++i) {
    const int f = i - fw.fan_first;
    w.IntN("fan", i, f >= 0 && f < fw.fans ? s.fans[f] : 0);
  }
  w.Int("temp_num", model_->boards);
  for (int i = 1; i <= 16; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[board(i)] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[board(i)] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp3_", i, 0);
  for (int i = 1; i <= 16; ++i) {
    w.FixedN("freq_avg", i, alive(i) ? fw.frequency + 0.1 * (i % 7) : 0, 2);
  }
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 2);
  w.Fixed("total_freqavg", fw.frequency + 0.3, 2);
  w.Int("total_acn", (model_->boards - (dead >= 0 ? 1 : 0)) * model_->chips_per_board);
  w.Fixed("total_rate", s.rate_5s / fw.ghs_unit, 2);
  for (int i = 1; i <= 16; ++i) {
    w.FixedN("chain_rateideal", i, alive(i) ? s.board_ideal[board(i)] / fw.ghs_unit : 0, 2);
  }
  w.Int("temp_max", max_temp);
  w.Fixed("Device Hardware%", 0.0184, 4);
  w.Int("no_matching_work", s.hw_errors);
  WriteChains(w, 16, true);
  for (int i = first; i <= last; ++i)
    w.StrN("chain_xtime", i, alive(i) ? S9Xtime(i - first) : "{}");
  for (int i = first; i <= last; ++i) w.StrN("chain_offside_", i, "0");
  for (int i = first; i <= last; ++i) w.StrN("chain_opencore_", i, "0");
  w.Str("miner_version", fw.miner);
}

// antminer-s17pro-stats.json: 16 slots, chains 1-3, "a-b-c-d" sensor strings.
void FakeMiner::WriteStatsS17(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  // Asleep, the firmware lists no chain (antminer-s17plus-stats-sleeping.json).
  auto populated = [&](int i) { return !sleeping_ && i >= 1 && i <= boards; };
  auto alive = [&](int i) { return populated(i) && i != dead; };
  int max_temp = 0;
  for (int b = 0; b < boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Fixed("GHS 30m", s.rate_av * (1 - 0.004) / fw.ghs_unit, 2);
  w.Int("Mode", sleeping_ ? 254 : 1);
  w.Int("miner_count", boards);
  w.Str("frequency", "");
  w.Int("fan_num", sleeping_ ? 0 : fw.fans);
  for (int i = 1; i <= 16; ++i) w.IntN("fan", i, i <= fw.fans ? s.fans[i - 1] : 0);
  w.Int("temp_num", boards);
  for (int i = 1; i <= 16; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) w.IntN("temp3_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= 16; ++i) {
    w.Key("temp_pcb", i);
    const int p = alive(i) ? s.temp_pcb[i - 1] : 0;
    if (p == 0) {
      w.Str("0-0-0-0");
    } else {
      w.Sensors(p - 28, p + 3, p - 29, p);
    }
  }
  for (int i = 1; i <= 16; ++i) {
    w.Key("temp_chip", i);
    const int c = alive(i) ? s.temp_chip[i - 1] : 0;
    if (c == 0) {
      w.Str("0-0-0-0");
    } else {
      w.Sensors(c - 32, c, c - 31, c - 10);
    }
  }
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 2);
  w.Str("rate_unit", "GH");
  w.Fixed("total_freqavg", 0, 2);
  w.Int("total_acn", sleeping_ ? 0 : (boards - (dead >= 0 ? 1 : 0)) * model_->chips_per_board);
  w.Fixed("total_rate", s.rate_5s / fw.ghs_unit, 2);
  for (int i = 1; i <= 16; ++i) w.FixedN("chain_rateideal", i, 0, 2);
  w.Int("temp_max", max_temp);
  w.Int("no_matching_work", s.hw_errors);
  WriteChains(w, 16, !sleeping_);
  for (int i = 1; i <= boards; ++i) w.StrN("chain_xtime", i, "{}");
  for (int i = 1; i <= boards; ++i) w.StrN("chain_offside_", i, "");
  for (int i = 1; i <= boards; ++i) w.StrN("chain_opencore_", i, "1");
  for (int i = 1; i <= 16; ++i) w.IntN("freq", i, alive(i) ? fw.frequency - 5 + i * 2 : 0);
  w.Str("miner_version", fw.miner);
  w.Str("miner_id", miner_id_);
}

// antminer-s19pro-stats-*.json: 4 slots, temp{i}/temp2_{i} pairs only for
// chains that report (as antminer-s19-stats-sleeping.json shows), sensor
// strings, "total rate" with a space.
void FakeMiner::WriteStatsS19(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  auto populated = [&](int i) { return i >= 1 && i <= boards; };
  auto alive = [&](int i) { return populated(i) && i != dead; };
  const int alive_boards = boards - (dead >= 0 ? 1 : 0);

  w.Fixed("rate_30m", s.rate_av * (1 + 0.002) / fw.ghs_unit, 2);
  w.Int("Mode", 2);
  w.Int("miner_count", boards);
  w.Int("frequency", fw.frequency);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= fw.fans; ++i) w.IntN("fan", i, s.fans[i - 1]);
  w.Int("temp_num", alive_boards);
  for (int i = 1; i <= boards; ++i) {
    if (!alive(i)) continue;
    w.IntN("temp", i, s.temp_pcb[i - 1]);
    w.IntN("temp2_", i, s.temp_chip[i - 1]);
  }
  auto sensors = [&](std::string_view key, int offset) {
    for (int i = 1; i <= 4; ++i) {
      w.Key(key, i);
      if (!alive(i)) {
        w.Str("0-0-0-0");
        continue;
      }
      const int t = (key == "temp_pcb" ? s.temp_pcb[i - 1] : s.temp_chip[i - 1]) + offset;
      if (sleeping_) {
        w.Sensors(t, t - 2, t + 1, t);  // a cold board reads alike everywhere: "39-37-40-39"
      } else {
        w.Sensors(t - 36, t - 25, t - 13, t);
      }
    }
  };
  sensors("temp_pcb", 0);
  sensors("temp_chip", 0);
  sensors("temp_pic", sleeping_ ? 0 : -15);
  w.Fixed("total_rateideal", s.rate_ideal / fw.ghs_unit, 1);
  w.Str("rate_unit", "GH");
  w.Int("total_freqavg", fw.frequency);
  w.Int("total_acn", alive_boards * model_->chips_per_board);
  w.Fixed("total rate", s.rate_av / fw.ghs_unit, 2);
  w.Int("temp_max", 0);
  w.Int("no_matching_work", s.hw_errors);
  WriteChains(w, 4, true);
  for (int i = 1; i <= 4; ++i) w.IntN("freq", i, alive(i) ? fw.frequency : 0);
  w.Str("miner_version", fw.miner);
  w.Str("miner_id", miner_id_);
}

// antminer-l3plus-stats.json: scrypt, the "GHS" labels carry MH/s.
void FakeMiner::WriteStatsL3(ReplyWriter& w) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int dead = dead_chain();
  auto alive = [&](int i) { return i != dead; };
  int max_temp = 0;
  for (int b = 0; b < boards; ++b) max_temp = std::max(max_temp, s.temp_pcb[b]);

  w.Int("miner_count", boards);
  w.Key("frequency");
  w.FixedStr(fw.frequency, 0);
  w.Int("fan_num", fw.fans);
  for (int i = 1; i <= fw.fans; ++i) w.IntN("fan", i, s.fans[i - 1]);
  w.Int("temp_num", boards);
  for (int i = 1; i <= boards; ++i) w.IntN("temp", i, alive(i) ? s.temp_pcb[i - 1] : 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp2_", i, alive(i) ? s.temp_chip[i - 1] : 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp3", i, 0);
  for (int i = 1; i <= boards; ++i) w.IntN("temp4_", i, 0);
  w.Int("temp_max", max_temp);
  w.Fixed("Device Hardware%", 0, 4);
  w.Int("no_matching_work", s.hw_errors);
  WriteChains(w, boards, true);
}

}  // namespace asicmon::fakefarm
