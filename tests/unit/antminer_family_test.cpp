// The antminer family on Bitmain's 2022+ stock firmware: the new API layout
// ("new_api":true; STATUS one object, INFO, STATS[0].chain[]), the classic
// layout of the same firmware, both in one poll, the model table's units, and
// the poll plan. Real captures (tests/data, see PROVENANCE.md); every value
// below was read by hand from the file, unit traps noted where they bite.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "families/family.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;
using testing::Near;
using testing::BoardIndices;
using Ints = std::vector<int32_t>;

json Fixture(const std::string& name) {
  Result<json> doc = testing::ParseMinerJson(testing::ReadFixture(name));
  EXPECT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
  return doc.ok() ? std::move(*doc) : json();
}

Record Raw(const std::string& name) {
  Record r;
  NormaliseRawReply(testing::ReadFixture(name), r);
  return r;
}

// ---- The new layout alone ----------------------------------------------------

TEST(AntminerNewApi, S21StatsAlone) {
  const Record r = Raw("antminer-s21-stats-newapi.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;  // STATUS is one object, not a list
  EXPECT_EQ(r.family, "antminer");
  EXPECT_EQ(r.model, "Antminer S21");  // INFO "type", lowercase: no "Type" anywhere
  EXPECT_EQ(r.firmware_build, "uart_trans.1.3 (Thu Jul 11 16:38:25 CST 2024)");
  EXPECT_EQ(r.firmware, "");  // names no miner software: not invented
  EXPECT_EQ(r.algorithm, "sha256d");
  // rate_unit "GH/s": 206901.8 is GH/s.
  EXPECT_TRUE(Near(r.hashrate, 206901.8e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 203856.36e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 200000.0e9));
  EXPECT_EQ(r.uptime_s, 8152);  // "elapsed", lowercase
  EXPECT_EQ(r.fans, (Ints{7000, 7000, 7000, 7000}));
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));  // chain[].index counts from 0
  const BoardStats& b0 = r.boards[0];
  EXPECT_TRUE(Near(b0.hashrate, 67293.41e9));
  EXPECT_TRUE(Near(b0.hashrate_expected, 67525.0e9));
  EXPECT_TRUE(Near(b0.temp_board, 68));  // temp_pcb [54,54,68,68]
  EXPECT_TRUE(Near(b0.temp_chip, 73));   // temp_chip [59,59,73,73]
  EXPECT_EQ(b0.chips, 108);
  EXPECT_EQ(b0.chips_ok, std::nullopt);  // no "asic" string in this capture
  EXPECT_TRUE(Near(b0.freq_mhz, 490));
  EXPECT_EQ(b0.hw_errors, 0);
  EXPECT_TRUE(Near(r.boards[2].hashrate, 70691.63e9));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 72));
  EXPECT_EQ(r.hw_errors, 0 + 1 + 1);  // summed over the boards' "hw"
  EXPECT_TRUE(Near(r.temp_max, 73));
  EXPECT_EQ(r.power_w, std::nullopt);  // no watt/power key: not reported
  EXPECT_EQ(r.efficiency_j_per_th, std::nullopt);
  EXPECT_TRUE(r.errors.empty());
}

// The summary.cgi of the same S21 firmware writes STATUS as cgminer's list
// (with Code 0) around the new layout's lowercase SUMMARY.
TEST(AntminerNewApi, S21SummaryAlone) {
  const Record r = Raw("antminer-s21-summary-newapi.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S21");
  EXPECT_TRUE(Near(r.hashrate, 206238.69e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 203719.72e9));  // rate_avg, before rate_30m
  EXPECT_TRUE(Near(r.hashrate_expected, 200000.0e9));
  EXPECT_EQ(r.uptime_s, 3817);
  EXPECT_TRUE(r.errors.empty());  // every check "s"
}

TEST(AntminerNewApi, S23HydStatsReportsPower) {
  const Record r = Raw("antminer-s23hyd-stats-newapi.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S23 Hyd.");
  EXPECT_EQ(r.firmware_build, "platform[AML] (Fri Jun 26 09:24:23 CST 2026)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 572845.56e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 576153.9e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 581972.7e9));
  EXPECT_EQ(r.uptime_s, 167430);
  EXPECT_TRUE(Near(r.power_w, 5525));  // "watt"
  // J/TH from power and the 5 s rate: 5525 W / 572.84556 TH/s.
  EXPECT_TRUE(Near(r.efficiency_j_per_th, 5525 / 572.84556));
  EXPECT_TRUE(r.fans.empty());  // a hydro unit: fan [] and fan_num 0
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  for (const BoardStats& b : r.boards) {
    EXPECT_EQ(b.chips, 84) << b.index;
    // "asic": 7 groups of 11 'o', then "ooooooo----": 84 'o', the '-' are not chips.
    EXPECT_EQ(b.chips_ok, 84) << b.index;
    EXPECT_EQ(b.chips_failed, 0) << b.index;
    EXPECT_TRUE(Near(b.freq_mhz, 327)) << b.index;
    EXPECT_TRUE(Near(b.temp_board, 52)) << b.index;  // temp_pcb [44,44,52,52]
    EXPECT_EQ(b.hw_errors, std::nullopt) << b.index;  // no "hw" in this firmware's chains
  }
  EXPECT_TRUE(Near(r.boards[0].hashrate, 188896.1e9));
  EXPECT_TRUE(Near(r.boards[0].hashrate_expected, 194099.1e9));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 55));
  EXPECT_TRUE(Near(r.temp_max, 56));
  EXPECT_EQ(r.hw_errors, std::nullopt);
}

// A check the unit does not have ("status":"" for the hydro unit's fans) is no error.
TEST(AntminerNewApi, S23HydSummaryChecks) {
  const Record r = Raw("antminer-s23hyd-summary-newapi.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S23 Hyd.");
  EXPECT_TRUE(Near(r.hashrate, 572845.56e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 576152.67e9));
  EXPECT_EQ(r.uptime_s, 167431);
  EXPECT_TRUE(r.errors.empty());
}

// The capture with two of its checks failed, as summary.cgi documents them
// ("e" error, "w" warning; code and msg beside): each becomes a MinerError.
TEST(AntminerNewApi, FailedChecksAreTheFirmwaresErrors) {
  json doc = Fixture("antminer-s23hyd-summary-newapi.json");
  doc["SUMMARY"][0]["status"][1] = {{"code", 2}, {"msg", ""}, {"status", "w"}, {"type", "network"}};
  doc["SUMMARY"][0]["status"][3] = {
      {"code", 541}, {"msg", "Temp too high"}, {"status", "E"}, {"type", "temp"}};
  const Record r = testing::NormaliseJson(doc);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], (MinerError{"2", "network"}));  // no msg: the check's type
  EXPECT_EQ(r.errors[1], (MinerError{"541", "Temp too high"}));
}

// ---- The classic layout of 2026 firmware, and both in one poll ------------------

TEST(AntminerClassic2026, S21XpHydStats) {
  const Record r = Raw("antminer-s21xphyd-stats.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S21 XP Hyd.");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "71.0.1.3 (Thu Jan 8 15:44:15 CST 20266)");  // year as sent
  EXPECT_TRUE(Near(r.hashrate, 483979.25e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 487129.33e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 473000.0e9));
  EXPECT_EQ(r.uptime_s, 602534);
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));  // classic chains count from 1
  for (const BoardStats& b : r.boards) {
    EXPECT_EQ(b.chips, 160);
    EXPECT_EQ(b.chips_ok, 160);
  }
  EXPECT_EQ(r.hw_errors, 21981 + 3230 + 1714);
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 63));   // temp_chip1 "63-59-56-61"
  EXPECT_TRUE(Near(r.boards[0].temp_board, 52));  // temp_pcb1 "38-48-47-52"
  EXPECT_TRUE(Near(r.temp_max, 63));
  // Hydro: fan1..4 all 0 while fan_num says 4: four stopped fans, as firmware declares.
  EXPECT_EQ(r.fans, (Ints{0, 0, 0, 0}));
  EXPECT_EQ(r.power_w, std::nullopt);  // the classic layout reports no power
}

// Both stats layouts of one S23 Hyd. (captured within a second) in one read, as
// the poller glues a poll's documents: the new layout's chains stand for the
// boards (numbered from 0, not the classic 1..3, never both) and bring power.
TEST(AntminerClassic2026, S23HydBothLayoutsInOnePoll) {
  const json poll = json::array({Fixture("antminer-s23hyd-stats.json"),
                                 Fixture("antminer-s23hyd-stats-newapi.json")});
  const Record r = testing::NormaliseJson(poll);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S23 Hyd.");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");  // STATS[0]'s key; its STATUS says "cminer 1.0.0"
  EXPECT_EQ(r.firmware_build, "platform[AML] (Fri Jun 26 09:24:23 CST 2026)");
  EXPECT_TRUE(Near(r.hashrate, 572845.56e9));
  EXPECT_EQ(r.uptime_s, 167431);  // the classic "Elapsed" first
  EXPECT_TRUE(Near(r.power_w, 5525));
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_EQ(r.boards[0].chips_ok, 84);
  EXPECT_TRUE(r.fans.empty());  // new layout: fan [], fan_num 0
}

TEST(AntminerClassic2026, S23HydClassicAlone) {
  const Record r = Raw("antminer-s23hyd-stats.json");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S23 Hyd.");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.hw_errors, 506 + 0 + 45);
  EXPECT_TRUE(r.fans.empty());  // fan_num 0 and every fanN 0
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  EXPECT_EQ(r.boards[0].chips_ok, 84);  // "----" are no chips
  EXPECT_EQ(r.power_w, std::nullopt);
}

// L9/L11 on 86.48-2.0.0: chain_rateN a JSON number, the board sensor split in
// inlet and outlet (the keys and values asic-rs PR #324 quotes from that firmware).
TEST(AntminerClassic2026, L9InletOutletBoardSensors) {
  const json reply = {
      {"STATUS", json::array({{{"STATUS", "S"}, {"Msg", "CGMiner stats"}}})},
      {"STATS", json::array({{{"Type", "Antminer L9"}},
                             {{"GHS 5s", 20.3}, {"rate_unit", "GH"}, {"chain_acn1", 110},
                              {"chain_rate1", 6.790325248}, {"temp_in_pcb_1", "47"},
                              {"temp_out_pcb_1", "57"}}})}};
  const Record r = testing::NormaliseJson(reply);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.algorithm, "scrypt");
  ASSERT_EQ(r.boards.size(), 1u);
  // rate_unit "GH" overrides the table's MH/s for the L-series' "GHS" labels.
  EXPECT_TRUE(Near(r.boards[0].hashrate, 6.790325248e9));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 57));
}

// ---- Units by model ------------------------------------------------------------

// Unit trap: the Z11's "GHS 5s":"141.54" is 141.54 ksol/s (nominal 135 ksol/s), not GH/s.
TEST(AntminerEquihash, Z11ReportsKsolUnderGhsLabels) {
  json reply = {{"version", json::array({Fixture("antminer-z11-version.json")})},
                {"stats", json::array({Fixture("antminer-z11-stats.json")})},
                {"pools", json::array({Fixture("antminer-z11-pools.json")})},
                {"id", 1}};
  const Record r = testing::NormaliseJson(reply);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer Z11");
  EXPECT_EQ(r.algorithm, "equihash");
  EXPECT_EQ(r.firmware, "CGMiner 4.9.0");
  EXPECT_TRUE(Near(r.hashrate, 141.54e3));  // sol/s
  EXPECT_TRUE(Near(r.hashrate_avg, 139.59e3));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  EXPECT_TRUE(Near(r.boards[0].hashrate, 53.24e3));  // chain_rate1 "53.24"
  EXPECT_EQ(r.boards[0].chips, 3);
  EXPECT_EQ(r.fans, (Ints{5640, 5760}));
  EXPECT_EQ(r.worker, "x.001");
}

TEST(AntminerModels, TwentyTwentyThreeTable) {
  struct Want {
    const char* type;
    const char* algorithm;
    double ghs_unit;
    int chips;
  };
  const Want wants[] = {
      {"Antminer S21", "sha256d", 1e9, 108},
      {"Antminer S21 Pro", "sha256d", 1e9, 65},
      {"Antminer S21 XP Hyd.", "sha256d", 1e9, 160},
      {"Antminer S21+ Hyd.", "sha256d", 1e9, 95},
      {"Antminer T21", "sha256d", 1e9, 108},
      {"Antminer S23 Hyd.", "sha256d", 1e9, 84},
      {"Antminer S19k Pro", "sha256d", 1e9, 77},
      {"Antminer S19Pro+", "sha256d", 1e9, 120},
      {"Antminer L7", "scrypt", 1e6, 120},
      {"Antminer L9", "scrypt", 1e6, 110},
      {"Antminer KS7", "kheavyhash", 1e9, 0},
      {"Antminer E9 Pro", "etchash", 1e9, 8},
      {"Antminer K7", "eaglesong", 1e9, 92},
      {"Antminer D9", "x11", 1e6, 126},
      {"Antminer Z9", "equihash", 1e3, 0},
      {"Antminer Z15", "equihash", 1e3, 3},
      {"Antminer Z15 Pro", "equihash", 1e3, 6},
  };
  for (const Want& w : wants) {
    const ModelInfo* m = FindModel(w.type);
    ASSERT_NE(m, nullptr) << w.type;
    EXPECT_EQ(m->algorithm, w.algorithm) << w.type;
    EXPECT_EQ(m->ghs_label_unit, w.ghs_unit) << w.type;
    EXPECT_EQ(m->chips_per_board, w.chips) << w.type;
  }
}

// ---- The poll plan -----------------------------------------------------------

// Asked of every Antminer: cgminer's summary, pools and version, then stats
// with "new_api" as a top-level member (nested in "parameter" the firmware
// ignores it).
TEST(AntminerPoll, ClassicSummaryThenNewApiStats) {
  const Family* f = FindFamily("antminer");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 2u);
  EXPECT_EQ(json::parse(f->poll[0].request), (json{{"command", "summary+pools+version"}}));
  EXPECT_EQ(json::parse(f->poll[1].request), (json{{"command", "stats"}, {"new_api", true}}));
  for (const PollStep& step : f->poll) {
    EXPECT_EQ(step.framing, Framing::kCgminer);
    EXPECT_EQ(step.port, 0);
  }
}

// ---- Hostile new-layout replies --------------------------------------------------

TEST(AntminerNewApi, ErrorStatusObjectIsAnApiError) {
  const json reply = {{"STATUS", {{"STATUS", "E"}, {"when", 1}, {"Msg", "unavailable"}}}};
  const Record r = testing::NormaliseJson(reply);
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_EQ(r.error, "unavailable");
}

TEST(AntminerNewApi, WrongTypesReadAsNotReported) {
  json doc = Fixture("antminer-s21-stats-newapi.json");
  json& stats = doc["STATS"][0];
  stats["fan"] = "7000";                                   // not a list
  stats["chain"][0]["temp_chip"] = {"59125", nullptr, {}};  // millidegrees, null, object
  stats["chain"][0]["temp_pcb"] = 54;                      // not a list
  stats["chain"][0]["rate_real"] = -1;                     // impossible
  stats["chain"][1]["index"] = "one";                      // falls back to its position
  stats["watt"] = "3357 W";                                // power as text with its unit
  const Record r = testing::NormaliseJson(doc);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.fans, (Ints{0, 0, 0, 0}));  // fan_num 4, no reading
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_EQ(r.boards[0].temp_chip, std::nullopt);
  EXPECT_EQ(r.boards[0].temp_board, std::nullopt);
  EXPECT_EQ(r.boards[0].hashrate, std::nullopt);
  EXPECT_TRUE(Near(r.power_w, 3357));
}

TEST(AntminerNewApi, HugeChainListIsBounded) {
  json doc = Fixture("antminer-s21-stats-newapi.json");
  json chains = json::array();
  for (int i = 0; i < 1000; ++i) chains.push_back({{"index", i}, {"asic_num", 1}});
  doc["STATS"][0]["chain"] = chains;
  const Record r = testing::NormaliseJson(doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_LE(r.boards.size(), 16u);
}

}  // namespace
}  // namespace asicmon
