// The summary, stats (estats, litestats) and version replies of Canaan's
// AvalonMiners, in the layouts of the captures in tests/data: the classic
// "MM ID0" string (avalon-1246-stats.json, avalon-10xx-*, avalon-1566-*) and
// the 2025 form (avalon-q-*.json). Field order within a module string is the
// driver's (Canaan-Creative/Avalon_Nano3s driver-avalon.c); the per-chip
// PVT_T/PVT_V/MW arrays of the classic string (some 5 KB a module) are left
// out: no reader uses them. The Q's, in HBinfo, are kept for its key order.
#include <algorithm>
#include <cstdint>

#include "avalon_models.h"
#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
namespace {

// Space-separated values of one field: "MGHS[26907.01 26025.06 26724.56]".
template <typename Get>
void Values(fmt::memory_buffer& out, std::string_view key, int count, Get get) {
  fmt::format_to(fmt::appender(out), " {}[", key);
  for (int i = 0; i < count; ++i) {
    if (i > 0) out.push_back(' ');
    fmt::format_to(fmt::appender(out), "{}", get(i));
  }
  out.push_back(']');
}

}  // namespace

bool FakeMiner::WriteAvalon(ReplyWriter& w, std::string_view command, const std::string* parameter,
                            std::vector<PrivilegedAction>* actions) {
  const AvalonFacts* a = AvalonFactsOf(model_->id);
  if (a == nullptr) return false;
  if (command == "ascset") {
    WriteAvalonAscset(w, *a, parameter ? std::string_view(*parameter) : std::string_view(),
                      actions);
  } else if (command == "summary") {
    WriteAvalonSummary(w, *a);
  } else if (command == "stats" || command == "estats") {
    WriteAvalonStats(w, *a, false);
  } else if (command == "litestats" && a->form_2025) {
    // Only 2025 firmware has litestats (avalon-q-litestats.json); older
    // firmware answers it as any unknown command.
    WriteAvalonStats(w, *a, true);
  } else if (command == "version") {
    WriteAvalonVersion(w, *a);
  } else {
    return false;
  }
  return true;
}

// avalon-10xx-multicommand-*.json's SUMMARY; 2025 firmware logs every 5 s
// where the 10xx logged every 30 (avalon-q-summary.json: "MHS 5s") and moves
// "Found Blocks" up.
void FakeMiner::WriteAvalonSummary(ReplyWriter& w, const AvalonFacts& a) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  const double minutes = std::max<double>(1, static_cast<double>(s.elapsed)) / 60;
  const double diff_accepted = static_cast<double>(s.accepted) * fw.pool_diff;
  const double diff_rejected = static_cast<double>(s.rejected) * fw.pool_diff;
  const double diff1 = diff_accepted + diff_rejected;
  const double rej_pct = diff1 > 0 ? 100.0 * diff_rejected / diff1 : 0;
  w.Open('{');
  WriteStatus(w, 'S', 11, "Summary");
  w.Key("SUMMARY");
  w.Open('[');
  w.Open('{');
  w.Int("Elapsed", s.elapsed);
  w.Fixed("MHS av", s.rate_av / 1e6, 2);
  w.Fixed(a.form_2025 ? "MHS 5s" : "MHS 30s", s.rate_5s / 1e6, 2);
  w.Fixed("MHS 1m", s.rate_5s / 1e6, 2);
  w.Fixed("MHS 5m", s.rate_av / 1e6, 2);
  if (a.form_2025) w.Int("Found Blocks", 0);  // before "MHS 15m" there (avalon-q-summary.json)
  w.Fixed("MHS 15m", s.rate_av / 1e6, 2);
  if (!a.form_2025) w.Int("Found Blocks", 0);
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
  w.Fixed("Total MH", s.rate_av * static_cast<double>(s.elapsed) / 1e6, 4);
  w.Fixed("Work Utility", diff1 / minutes, 2);
  w.Fixed("Difficulty Accepted", diff_accepted, 8);
  w.Fixed("Difficulty Rejected", diff_rejected, 8);
  w.Fixed("Difficulty Stale", 0, 8);
  w.Int("Best Share", 1000003 + s.accepted * 4093);
  w.Fixed("Device Hardware%", 0, 4);
  w.Fixed("Device Rejected%", rej_pct, 4);
  w.Fixed("Pool Rejected%", rej_pct, 4);
  w.Fixed("Pool Stale%", 0, 4);
  w.Int("Last getwork", 0);
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

void FakeMiner::WriteAvalonModule(const AvalonFacts& a) {
  const Snapshot& s = Snap();
  const int boards = model_->boards;
  const int fans = model_->firmware.fans;
  const int dead = DeadBoard();
  int tmax = 0;
  int tsum = 0;
  for (int b = 0; b < boards; ++b) {
    if (b == dead) continue;
    tmax = std::max(tmax, s.temp_chip[b]);
    tsum += s.temp_pcb[b];
  }
  const int tavg = boards > (dead >= 0 ? 1 : 0) ? tsum / (boards - (dead >= 0 ? 1 : 0)) : 0;
  // Watts follow the rate, and the Q's work mode (its rated watts scale with its rate).
  const double nominal = model_->hashrate_nominal * AvalonModeShare();
  const double share = nominal > 0 ? s.rate_5s / nominal : 0;
  const auto watts = static_cast<int64_t>(
      std::llround(a.watts * AvalonModeShare() * std::clamp(share, 0.05, 1.2)));
  auto& out = scratch_;
  out.clear();
  if (a.form_2025) {
    // Soft-off: STATE[2] and "In Idle" (avalon-q-stats.json), else 1 "In Work".
    fmt::format_to(
        fmt::appender(out),
        "'STATS':{{Ver[{}-{}] LVer[{}] BVer[{}] FW[Release] DNA[020100{:010x}] STATE[{}]", a.model,
        a.firmware, a.firmware, a.firmware, spec_.index + 1, sleeping_ ? 2 : 1);
    fmt::format_to(fmt::appender(out),
                   " MEMFREE[67892] NETFAIL[0 0 0 0 0 0 0 0] SYSTEMSTATU[Work: {}, Hash Board: {}]",
                   sleeping_ ? "In Idle" : "In Work", boards);
  } else {
    fmt::format_to(fmt::appender(out),
                   "Ver[{}-{}] DNA[020100{:010x}] MEMFREE[1201472.0] NETFAIL[0 0 0 0 0 0 0 0]",
                   a.model, a.firmware, spec_.index + 1);
    // No capture of a classic module in soft-off: "In Idle" as the Q's.
    fmt::format_to(fmt::appender(out), " SYSTEMSTATU[Work: {}, Hash Board: {} ]",
                   sleeping_ ? "In Idle" : "In Work", boards);
  }
  fmt::format_to(fmt::appender(out), " Elapsed[{}] BOOTBY[0x08.00000000] LW[{}]", s.elapsed,
                 s.getworks * 64);
  Values(out, "MH", boards, [&](int b) { return s.board_hw[b]; });
  fmt::format_to(fmt::appender(out), " HW[{}] DH[0.000%]", s.hw_errors);
  if (a.form_2025) {
    fmt::format_to(fmt::appender(out), " ITemp[{}] HBITemp[{}] HBOTemp[{}]", a.intake_c,
                   s.temp_pcb[0] - 5, s.temp_pcb[0]);
  } else {
    fmt::format_to(fmt::appender(out), " Temp[{}]", a.intake_c);
  }
  fmt::format_to(fmt::appender(out), " TMax[{}] TAvg[{}]", tmax, tavg);
  for (int f = 0; f < fans; ++f) fmt::format_to(fmt::appender(out), " Fan{}[{}]", f + 1, s.fans[f]);
  fmt::format_to(fmt::appender(out), " FanR[{}%]", a.fan_percent);
  fmt::format_to(fmt::appender(out), " PS[0 1214 1316 242 {} 1320 {}]", watts * 91 / 100, watts);
  fmt::format_to(fmt::appender(out), " GHSspd[{:.2f}] DHspd[0.000%] GHSmm[{:.2f}] GHSavg[{:.2f}]",
                 s.rate_5s / 1e9, s.rate_ideal / 1e9, s.rate_av / 1e9);
  fmt::format_to(fmt::appender(out), " WU[{:.2f}] Freq[{}.00]", s.rate_av / 1e9 * 13.97,
                 model_->firmware.frequency);
  if (!a.form_2025) fmt::format_to(fmt::appender(out), " Led[{}]", blinking_ ? 1 : 0);
  // Each board's rate since start, as the driver computes MGHS from diff-1 shares.
  fmt::format_to(fmt::appender(out), " MGHS[");
  for (int b = 0; b < boards; ++b) {
    const bool hashing = b != dead && s.board_ideal[b] > 0 && s.rate_ideal > 0;
    if (b > 0) out.push_back(' ');
    fmt::format_to(fmt::appender(out), "{:.2f}",
                   hashing ? s.board_ideal[b] * s.rate_av / s.rate_ideal / 1e9 : 0.0);
  }
  out.push_back(']');
  if (!a.form_2025) {
    Values(out, "MTmax", boards, [&](int b) { return b == dead ? 0 : s.temp_chip[b]; });
    Values(out, "MTavg", boards, [&](int b) { return b == dead ? 0 : s.temp_pcb[b]; });
  }
  // SoftOFF[4] in soft-off as avalon-q-stats.json (what 4 counts is not documented).
  fmt::format_to(fmt::appender(out), " TA[{}] Core[{}] PING[120] SoftOFF[{}]",
                 boards * model_->chips_per_board, a.core, sleeping_ ? 4 : 0);
  Values(out, "ECHU", boards, [](int) { return 0; });
  fmt::format_to(fmt::appender(out), " ECMM[0] WORKMODE[{}]", a.form_2025 ? avalon_mode_ : 1);
  if (a.form_2025) out.push_back('}');
}

// 2025 firmware's per-board chip sensors, "'HB0':{PVT_T0[ 58  59 ...]
// PVT_V0[282 ...] MW0[526 ...]}" (avalon-q-stats.json), one value a chip.
void FakeMiner::WriteAvalonBoardInfo() {
  const Snapshot& s = Snap();
  const int chips = model_->chips_per_board;
  auto& out = scratch_;
  out.clear();
  for (int b = 0; b < model_->boards; ++b) {
    fmt::format_to(fmt::appender(out), "{}'HB{}':{{PVT_T{}[", b == 0 ? "" : " ", b, b);
    for (int c = 0; c < chips; ++c) {
      fmt::format_to(fmt::appender(out), "{:3}", s.temp_chip[b] - c % 7);  // " 58  59": width 3
    }
    fmt::format_to(fmt::appender(out), "] PVT_V{}[", b);
    for (int c = 0; c < chips; ++c) {
      if (c > 0) out.push_back(' ');
      fmt::format_to(fmt::appender(out), "{}", 270 + c % 13);
    }
    fmt::format_to(fmt::appender(out), "] MW{}[", b);
    for (int c = 0; c < chips; ++c) {
      if (c > 0) out.push_back(' ');
      fmt::format_to(fmt::appender(out), "{}", 520 + (c * 37) % 170);
    }
    out.append(std::string_view("]}"));
  }
}

// STATS[0] carries the module; stats (not estats or litestats) then lists
// one entry per pool, as cgminer's api.c does.
void FakeMiner::WriteAvalonStats(ReplyWriter& w, const AvalonFacts& a, bool lite) {
  const Firmware& fw = model_->firmware;
  const Snapshot& s = Snap();
  w.Open('{');
  WriteStatus(w, 'S', 70, "CGMiner stats");
  w.Key("STATS");
  w.Open('[');
  w.Open('{');
  if (!lite) {
    w.Int("STATS", 0);
    w.Str("ID", fw.stats_id);
    w.Int("Elapsed", s.elapsed);
    w.Int("Calls", 0);
    w.Fixed("Wait", 0, 6);
    w.Fixed("Max", 0, 6);
    w.Fixed("Min", 99999999, 6);
  }
  WriteAvalonModule(a);
  w.Str(a.form_2025 ? "MM ID0:Summary" : "MM ID0",
        std::string_view(scratch_.data(), scratch_.size()));
  if (!lite && a.form_2025) {
    WriteAvalonBoardInfo();
    w.Str("HBinfo", std::string_view(scratch_.data(), scratch_.size()));
  }
  if (!lite && !a.form_2025) {
    w.Int("MM Count", 1);
    w.Int("Smart Speed", 1);
    w.Int("Voltage Level Offset", 0);
    w.Int("Nonce Mask", 25);
  }
  w.Close('}');
  for (int i = 0; !lite && i < pool_count(); ++i) {
    const int64_t sent = i == ActivePool() ? s.accepted + s.rejected : 0;
    w.Open('{');
    w.Int("STATS", i + 1);
    char id[16];
    const auto id_end = fmt::format_to_n(id, sizeof id, "POOL{}", i);
    w.Str("ID", std::string_view(id, id_end.size));
    w.Int("Elapsed", s.elapsed);
    w.Int("Calls", 0);
    w.Fixed("Wait", 0, 6);
    w.Fixed("Max", 0, 6);
    w.Fixed("Min", 99999999, 6);
    w.Int("Pool Calls", 0);
    w.Int("Pool Attempts", 0);
    w.Fixed("Pool Wait", 0, 6);
    w.Fixed("Pool Max", 0, 6);
    w.Fixed("Pool Min", 99999999, 6);
    w.Fixed("Pool Av", 0, 6);
    w.Bool("Work Had Roll Time", false);
    w.Bool("Work Can Roll", false);
    w.Bool("Work Had Expire", false);
    w.Int("Work Roll Time", 0);
    w.Fixed("Work Diff", sent > 0 ? fw.pool_diff : 0, 8);
    w.Fixed("Min Diff", sent > 0 ? fw.pool_diff : 0, 8);
    w.Fixed("Max Diff", sent > 0 ? fw.pool_diff : 0, 8);
    w.Int("Min Diff Count", sent);
    w.Int("Max Diff Count", sent);
    w.Int("Times Sent", sent + 4);
    w.Int("Bytes Sent", (sent + 4) * 120);
    w.Int("Times Recv", sent + 7);
    w.Int("Bytes Recv", (sent + 7) * 480);
    w.Int("Net Bytes Sent", (sent + 4) * 120);
    w.Int("Net Bytes Recv", (sent + 7) * 480);
    w.Close('}');
  }
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

// avalon-1566-version.json (classic) and avalon-q-version.json (2025).
void FakeMiner::WriteAvalonVersion(ReplyWriter& w, const AvalonFacts& a) {
  const int n = spec_.index + 1;
  w.Open('{');
  WriteStatus(w, 'S', 22, "CGMiner versions");
  w.Key("VERSION");
  w.Open('[');
  w.Open('{');
  w.Str("CGMiner", "4.11.1");
  w.Str("API", "3.7");
  if (!a.form_2025) w.Str("STM8", "20.08.01");
  w.Str("PROD", model_->name);
  w.Str("MODEL", a.model);
  w.Str("HWTYPE", a.hwtype);
  w.Str("SWTYPE", a.swtype);
  scratch_.clear();
  if (a.form_2025) {
    w.Str("LVERSION", a.firmware);
    w.Str("BVERSION", a.firmware);
    w.Str("CGVERSION", a.firmware);
    w.Str("HBMCUVERSION", a.hash_mcu);
    w.Str("FANMCUVERSION", a.fan_mcu);
    fmt::format_to(fmt::appender(scratch_), "B4:A2:EB:{:02X}:{:02X}:{:02X}", (n >> 16) & 0xff,
                   (n >> 8) & 0xff, n & 0xff);
  } else {
    w.Str("VERSION", a.firmware);
    w.Str("LOADER", "d0d779de.00");
    fmt::format_to(fmt::appender(scratch_), "b4a2eb{:06x}", n & 0xffffff);
  }
  char dna[24];
  const auto dna_end = fmt::format_to_n(dna, sizeof dna, "020100{:010x}", n);
  w.Str("DNA", std::string_view(dna, dna_end.size));
  w.Str("MAC", std::string_view(scratch_.data(), scratch_.size()));
  if (!a.form_2025) w.Str("UPAPI", "2");
  w.Close('}');
  w.Close(']');
  w.Int("id", 1);
  w.Close('}');
}

}  // namespace asicmon::fakefarm
