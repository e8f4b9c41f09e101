// The summary, pools, devs and version replies of the Antminer family, in
// the layouts of the captures in tests/data (STATS: antminer_stats.cpp).
#include <algorithm>
#include <cstdint>

#include "fake_miner.h"
#include "reply_writer.h"

namespace asicmon::fakefarm {
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
