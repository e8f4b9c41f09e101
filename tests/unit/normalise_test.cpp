// Normalisation of real captured replies (tests/data, see PROVENANCE.md) into
// Records: every fixture, with the values worked out by hand from the file.
#include "normalise.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "json_repair.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;
using testing::Fixture;
using testing::Multi;
using testing::Near;
using testing::BoardIndices;
using testing::ParseMinerJson;
using Ints = std::vector<int32_t>;

Record Normalise(const json& reply) { return testing::NormaliseJson(reply); }

// Every board has `chips` chips, `ok` of them 'o' and `failed` of them 'x'.
void ExpectChips(const Record& r, int32_t chips, int32_t ok, int32_t failed) {
  for (const BoardStats& b : r.boards) {
    EXPECT_EQ(b.chips, chips) << "board " << b.index;
    EXPECT_EQ(b.chips_ok, ok) << "board " << b.index;
    EXPECT_EQ(b.chips_failed, failed) << "board " << b.index;
  }
}

// ---- The model table ----------------------------------------------------------

TEST(FindModel, LongestCaseInsensitivePrefix) {
  ASSERT_NE(FindModel("Antminer S19 Pro"), nullptr);
  EXPECT_EQ(FindModel("antminer s19 pro")->type_prefix, "Antminer S19 Pro");
  EXPECT_EQ(FindModel("Antminer S19")->type_prefix, "Antminer S19");
  EXPECT_EQ(FindModel("Antminer S19j Pro")->type_prefix, "Antminer S19j Pro");
  EXPECT_EQ(FindModel("Antminer S19 XP")->chips_per_board, 110);
  EXPECT_EQ(FindModel("Antminer S17+")->type_prefix, "Antminer S17+");
  EXPECT_EQ(FindModel("Antminer T17+")->type_prefix, "Antminer T17+");
  EXPECT_EQ(FindModel("Antminer T9+")->type_prefix, "Antminer T9+");
  EXPECT_EQ(FindModel("Antminer S9j")->type_prefix, "Antminer S9j");
  // Custom firmware appends to Type; the hardware still matches.
  EXPECT_EQ(FindModel("Antminer S9 (vnish 3.8.6)")->type_prefix, "Antminer S9");
  EXPECT_EQ(FindModel("Antminer S9 Hiveon")->type_prefix, "Antminer S9");
  EXPECT_EQ(FindModel("Antminer D3 Blissz v2.06 beta")->type_prefix, "Antminer D3");
  EXPECT_EQ(FindModel("Whatsminer M31S")->type_prefix, "Whatsminer M31S");
  EXPECT_EQ(FindModel("Whatsminer M3")->type_prefix, "Whatsminer M3");
  EXPECT_EQ(FindModel("AvalonMiner 1047")->algorithm, "sha256d");
  EXPECT_EQ(FindModel("Antminer HS3"), nullptr);  // Handshake: not in the table
  EXPECT_EQ(FindModel(""), nullptr);
}

TEST(FindModel, AlgorithmsAndGhsLabelUnits) {
  EXPECT_EQ(FindModel("Antminer S9")->algorithm, "sha256d");
  EXPECT_EQ(FindModel("Antminer S9")->ghs_label_unit, 1e9);
  EXPECT_EQ(FindModel("Antminer S9")->boards, 3);
  EXPECT_EQ(FindModel("Antminer S9")->chips_per_board, 63);
  EXPECT_EQ(FindModel("Antminer L3+")->algorithm, "scrypt");
  EXPECT_EQ(FindModel("Antminer L3+")->ghs_label_unit, 1e6);
  EXPECT_EQ(FindModel("Antminer L3")->ghs_label_unit, 1e6);
  EXPECT_EQ(FindModel("Antminer D3")->algorithm, "x11");
  EXPECT_EQ(FindModel("Antminer D3")->ghs_label_unit, 1e6);
  // The B3 mines Bytom (Tensority) at ~780 H/s, which its "GHS" labels hold.
  EXPECT_EQ(FindModel("Antminer B3")->algorithm, "tensority");
  EXPECT_EQ(FindModel("Antminer B3")->ghs_label_unit, 1);
}

// ---- Antminer S9 --------------------------------------------------------------

TEST(NormaliseS9, StockStatsVersionPools) {
  const Record r = Normalise(Multi({{"stats", "antminer-s9-stats.json"},
                                    {"pools", "antminer-s9-pools.json"},
                                    {"version", "antminer-s9-version-newline-type.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "Antminer S9");  // Type "Antminer S9\nV1.3.58"
  EXPECT_EQ(r.firmware, "BMMiner 2.0.0");
  EXPECT_EQ(r.firmware_build, "30.0.1.3 (Wed Jul 31 16:18:27 CST 2019)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.worker, "xxx");
  EXPECT_TRUE(Near(r.hashrate, 13883.81e9));  // "GHS 5s":"13883.81", a string
  EXPECT_TRUE(Near(r.hashrate_avg, 13890.36e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 13862.52e9));
  EXPECT_EQ(r.uptime_s, 293628);
  EXPECT_EQ(r.accepted, 22673);  // no summary: the pools' counters
  EXPECT_EQ(r.rejected, 8);
  EXPECT_EQ(r.hw_errors, 3085 + 289 + 175165);  // chain_hw6..8
  EXPECT_TRUE(Near(r.temp_max, 62));            // temp2_7 = -83 is a broken sensor
  EXPECT_EQ(r.fans, (Ints{3720, 2400}));        // fan5, fan6 of fan_num 2
  EXPECT_EQ(r.power_w, std::nullopt);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://ss.antpool.com:3333");
  EXPECT_EQ(r.pools[2].status, "Dead");
}

TEST(NormaliseS9, StatsWithGluedObjectsGiveThreeBoardsOf63Chips) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-stats.json"));  // `}{` inside
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S9");  // from STATS[0], the object before the `}{`
  EXPECT_EQ(r.firmware, "BMMiner 2.0.0");
  EXPECT_TRUE(Near(r.hashrate, 13883.81e9));
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  ExpectChips(r, 63, 63, 0);
  const BoardStats& b6 = r.boards[0];
  EXPECT_TRUE(Near(b6.hashrate, 4618.85e9));
  EXPECT_TRUE(Near(b6.hashrate_expected, 4620.34e9));
  EXPECT_TRUE(Near(b6.temp_board, 75));
  EXPECT_TRUE(Near(b6.temp_chip, 62));
  EXPECT_TRUE(Near(b6.freq_mhz, 649.10));
  EXPECT_EQ(b6.hw_errors, 3085);
  // Chain 7's sensors read temp7 = 0 and temp2_7 = -83: neither is a reading.
  const BoardStats& b7 = r.boards[1];
  EXPECT_EQ(b7.temp_board, std::nullopt);
  EXPECT_EQ(b7.temp_chip, std::nullopt);
  EXPECT_TRUE(Near(b7.hashrate, 4624.55e9));
  EXPECT_TRUE(Near(b7.freq_mhz, 650.40));
  const BoardStats& b8 = r.boards[2];
  EXPECT_TRUE(Near(b8.hashrate, 4640.41e9));
  EXPECT_TRUE(Near(b8.temp_board, 73));
  EXPECT_EQ(b8.hw_errors, 175165);
  EXPECT_TRUE(Near(r.temp_max, 62));
  EXPECT_TRUE(r.pools.empty());
  EXPECT_EQ(r.worker, "");
}

TEST(NormaliseS9, PoolsAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-pools.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(r.pools.size(), 3u);
  const PoolInfo& p = r.pools[0];
  EXPECT_EQ(p.index, 0);
  EXPECT_EQ(p.user, "xxx");
  EXPECT_EQ(p.status, "Alive");
  EXPECT_EQ(p.priority, 0);
  EXPECT_EQ(p.accepted, 22673);
  EXPECT_EQ(p.rejected, 8);
  EXPECT_EQ(p.stale, 0);
  EXPECT_TRUE(p.active);
  EXPECT_EQ(r.pools[1].url, "stratum+tcp://ss.antpool.com:443");
  EXPECT_EQ(r.pools[1].priority, 1);
  EXPECT_EQ(r.worker, "xxx");
  EXPECT_EQ(r.model, "");
  EXPECT_EQ(r.hashrate, std::nullopt);
}

TEST(NormaliseS9, BmminerVersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-bmminer-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S9");
  // VERSION's "BMMiner":"2.0.0" wins over the Description's "bmminer 1.0.0".
  EXPECT_EQ(r.firmware, "BMMiner 2.0.0");
  EXPECT_EQ(r.firmware_build, "16.8.1.3 (Fri Nov 17 17:37:49 CST 2017)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.hashrate, std::nullopt);
  EXPECT_TRUE(r.boards.empty());
  EXPECT_TRUE(r.fans.empty());
}

TEST(NormaliseS9, NewlineTypeVersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-version-newline-type.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.model, "Antminer S9");
  EXPECT_EQ(r.firmware_build, "30.0.1.3 (Wed Jul 31 16:18:27 CST 2019)");
}

TEST(NormaliseS9, HiveonStats) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-hiveon-stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S9");  // the Type without " Hiveon"
  EXPECT_EQ(r.firmware, "BMMiner 2.0.0 rwglr");
  EXPECT_EQ(r.firmware_build, "30.0.1.3 (Tue Nov 20 10:12:30 UTC 2019)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 11781.40e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 11609.55e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 11850.30e9));
  EXPECT_EQ(r.uptime_s, 69);
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_TRUE(Near(r.temp_max, 74));
  EXPECT_EQ(r.fans, (Ints{3840, 4920}));
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  ExpectChips(r, 63, 63, 0);
  EXPECT_TRUE(Near(r.boards[1].hashrate, 3913.70e9));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 50));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 65));
  EXPECT_TRUE(Near(r.boards[1].freq_mhz, 550));
  EXPECT_EQ(r.power_w, std::nullopt);  // "chain_power" is not watts
}

TEST(NormaliseS9, VnishStats) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-vnish-stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S9");  // the Type without "(vnish 3.8.6)"
  EXPECT_EQ(r.firmware, "Vnish 3.8.6");  // the Type's "(vnish 3.8.6)", not its "Cgminer" 4.11.1
  EXPECT_EQ(r.firmware_build, "26.0.1.3 (Fri May  8 15:27:59 CST 2020)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 12795.48e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 12900.71e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 12927.60e9));
  EXPECT_EQ(r.uptime_s, 3617);
  EXPECT_EQ(r.hw_errors, 1 + 3 + 293);
  EXPECT_TRUE(Near(r.temp_max, 80));
  EXPECT_EQ(r.fans, (Ints{5400, 5880}));
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  ExpectChips(r, 63, 63, 0);
  EXPECT_TRUE(Near(r.boards[2].hashrate, 4232.67e9));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 63));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 78));
  EXPECT_TRUE(Near(r.power_w, 3 * 495));  // vnish's chain_consumptionN
}

TEST(NormaliseS9, OldBraiinsOsVersion) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-braiinsos-bmminer-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "braiins-am1-s9");
  EXPECT_EQ(r.firmware, "BMMiner bOS_am1-s9-20181127-0_c34516b0");
  EXPECT_EQ(r.firmware_build, "bOS_am1-s9-20181127-0_c34516b0");  // CompileTime is ""
  EXPECT_EQ(r.algorithm, "sha256d");
}

// ---- Braiins OS+ on an S9 --------------------------------------------------------

TEST(NormaliseBraiinsPlus, VersionSummaryPoolsFansTemps) {
  const Record r = Normalise(Multi({{"version", "braiinsos-plus-s9-version.json"},
                                    {"summary", "braiinsos-plus-s9-summary.json"},
                                    {"pools", "braiinsos-plus-s9-pools.json"},
                                    {"fans", "braiinsos-plus-s9-fans.json"},
                                    {"temps", "braiinsos-plus-s9-temps.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "Braiins OS+");  // no Type anywhere
  EXPECT_EQ(r.firmware, "BOSminer+ 0.2.0");
  EXPECT_EQ(r.firmware_build, "0.2.0-36c56a9363");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 15740915.842676325e6));      // MHS
  EXPECT_TRUE(Near(r.hashrate_avg, 11988299.650652435e6));  // "MHS av", not the "MHS 24h"
  EXPECT_EQ(r.hashrate_expected, std::nullopt);
  EXPECT_EQ(r.uptime_s, 3680);
  EXPECT_EQ(r.accepted, 153);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.hw_errors, 186);
  EXPECT_EQ(r.fans, (Ints{2820, 3780}));
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 75));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 63));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 70));
  EXPECT_EQ(r.boards[0].temp_chip, std::nullopt);  // "Chip":0.0
  EXPECT_TRUE(Near(r.temp_max, 75));               // no chip sensor: the hottest board
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "antminer_1");
}

TEST(NormaliseBraiinsPlus, VersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Braiins OS+");
  EXPECT_EQ(r.firmware, "BOSminer+ 0.2.0");
  EXPECT_EQ(r.firmware_build, "0.2.0-36c56a9363");
}

TEST(NormaliseBraiinsPlus, SummaryAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-summary.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Braiins OS+");  // from the Description
  EXPECT_EQ(r.firmware, "BOSminer+ 0.2.0");
  EXPECT_TRUE(Near(r.hashrate, 15740915.842676325e6));
  EXPECT_EQ(r.hw_errors, 186);
  EXPECT_EQ(r.temp_max, std::nullopt);
}

TEST(NormaliseBraiinsPlus, PoolsAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-pools.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.pools[2].url, "stratum+tcp://stratum.antpool.com:25");
  EXPECT_EQ(r.pools[0].accepted, 152);
  EXPECT_EQ(r.worker, "antminer_1");
  EXPECT_EQ(r.accepted, 152);  // no summary: the pools' sum
}

TEST(NormaliseBraiinsPlus, FansAloneDropUnusedHeaders) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-fans.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.fans, (Ints{2820, 3780}));  // 4 headers, 2 at 0 rpm
  EXPECT_EQ(r.model, "Braiins OS+");
}

TEST(NormaliseBraiinsPlus, TempsAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-temps.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  EXPECT_TRUE(Near(r.temp_max, 75));
  EXPECT_EQ(r.boards[1].chips, std::nullopt);
}

TEST(NormaliseBraiinsPlus, DevsAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("braiinsos-plus-s9-devs.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Braiins OS+");  // "BOSminer bosminer-plus-am1-s9 0.4.0-908ca41d"
  EXPECT_EQ(r.firmware, "BOSminer 0.4.0");
  EXPECT_EQ(r.firmware_build, "0.4.0-908ca41d");
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));  // ID, the S9's chain numbers
  EXPECT_TRUE(Near(r.boards[0].hashrate, 4683070.74742169e6));
  EXPECT_TRUE(Near(r.boards[0].hashrate_expected, 4668300e6));  // "Nominal MHS"
  EXPECT_EQ(r.boards[2].hw_errors, 1);
  EXPECT_EQ(r.boards[0].temp_board, std::nullopt);  // "Temperature":0.0
  // No summary: the boards add up.
  EXPECT_TRUE(Near(r.hashrate, (4683070.74742169 + 4687913.424447901 + 4213098.705765925) * 1e6));
  EXPECT_TRUE(Near(r.hashrate_expected, 3 * 4668300e6));
  EXPECT_EQ(r.hw_errors, 1);
  EXPECT_EQ(r.temp_max, std::nullopt);
}

// ---- Antminer S17 / T17 / T15 ---------------------------------------------------

TEST(NormaliseS17, ProStatsVersionPools) {
  const Record r = Normalise(Multi({{"stats", "antminer-s17pro-stats.json"},
                                    {"pools", "antminer-s17pro-pools.json"},
                                    {"version", "antminer-s17pro-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S17 Pro");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "19.10.1.3 (Tue Aug 20 10:37:07 CST 2019)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 54997.01e9));  // rate_unit "GH"
  EXPECT_TRUE(Near(r.hashrate_avg, 54512.07e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 53619e9));
  EXPECT_EQ(r.uptime_s, 253447);
  EXPECT_EQ(r.accepted, 86241 + 63 + 196);
  EXPECT_EQ(r.rejected, 411 + 0 + 5);
  EXPECT_EQ(r.hw_errors, 731 + 1074 + 1080);
  EXPECT_TRUE(Near(r.temp_max, 80));  // temp_chip1 "48-80-49-70"; the firmware says 53
  EXPECT_EQ(r.fans, (Ints{2400, 3000, 3120, 2400}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  ExpectChips(r, 48, 48, 0);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 17968.26e9));
  EXPECT_EQ(r.boards[0].hashrate_expected, std::nullopt);  // chain_rateideal1 0.00
  EXPECT_TRUE(Near(r.boards[0].temp_board, 53));           // temp_pcb1 "22-53-21-50" over temp1 50
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 80));
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 570));  // freq1
  EXPECT_TRUE(Near(r.boards[2].temp_board, 45));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 63));
  // All three pools have "Stratum Active": the one in use is the first by Priority.
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_FALSE(r.pools[2].active);
  EXPECT_EQ(r.pools[1].stale, 2);
  EXPECT_EQ(r.worker, "CosmosCapitalFund.COSMOSxCNKxS17Px00001");
}

TEST(NormaliseS17, PlusSleeping) {
  const Record r = Normalise(Multi({{"stats", "antminer-s17plus-stats-sleeping.json"},
                                    {"version", "antminer-s17plus-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S17+");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "35.0.1.3 (Tue Jun  2 10:31:07 CST 2020)");
  EXPECT_TRUE(Near(r.hashrate, 0));  // reported 0.00: a measured 0
  EXPECT_TRUE(Near(r.hashrate_avg, 0));
  EXPECT_EQ(r.hashrate_expected, std::nullopt);  // total_rateideal 0.00
  EXPECT_EQ(r.uptime_s, 279);
  EXPECT_TRUE(r.boards.empty());
  EXPECT_TRUE(r.fans.empty());  // fan_num 0
  EXPECT_EQ(r.temp_max, std::nullopt);
  EXPECT_EQ(r.hw_errors, std::nullopt);
  EXPECT_TRUE(r.sleeping);  // "Mode":254
}

TEST(NormaliseS17, ProHashingIsNotSleeping) {
  const Record r = Normalise(Multi(
      {{"stats", "antminer-s17pro-stats.json"}, {"version", "antminer-s17pro-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_FALSE(r.sleeping);  // "Mode":1
}

TEST(NormaliseS17, OnlyMode254IsSleep) {
  json stats = Fixture("antminer-s17plus-stats-sleeping.json");
  for (const json& mode : {json(1), json(2), json("sleep"), json(nullptr), json(254.5)}) {
    SCOPED_TRACE(mode.dump());
    stats["STATS"][1]["Mode"] = mode;
    EXPECT_FALSE(Normalise(stats).sleeping);
  }
  stats["STATS"][1].erase("Mode");
  EXPECT_FALSE(Normalise(stats).sleeping);
  stats["STATS"][1]["Mode"] = "254";  // numbers in strings read as numbers everywhere
  EXPECT_TRUE(Normalise(stats).sleeping);
}

TEST(NormaliseS17, PlusVersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s17plus-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.model, "Antminer S17+");
  EXPECT_EQ(r.algorithm, "sha256d");
}

TEST(NormaliseT17, PlusSleeping) {
  const Record r = Normalise(Multi({{"stats", "antminer-t17plus-stats-sleeping.json"},
                                    {"version", "antminer-t17plus-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer T17+");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "b023.0.1.3 (Tue Jun  2 10:11:10 CST 2020)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 0));
  EXPECT_EQ(r.uptime_s, 8105);
  EXPECT_TRUE(r.boards.empty());
  EXPECT_TRUE(r.fans.empty());
  EXPECT_EQ(r.temp_max, std::nullopt);
  EXPECT_TRUE(r.sleeping);
}

TEST(NormaliseT15, StatsVersion) {
  const Record r = Normalise(
      Multi({{"stats", "antminer-t15-stats.json"}, {"version", "antminer-t15-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer T15");
  EXPECT_EQ(r.firmware, "CGMiner 4.9.0");  // VERSION's key, not STATS[0]'s "BMMiner"
  EXPECT_EQ(r.firmware_build, "27.10.1.3 (Fri Dec 13 15:46:16 CST 2019)");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_TRUE(Near(r.hashrate, 21615.78e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 22411.07e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 21000e9));
  EXPECT_EQ(r.uptime_s, 13263);
  EXPECT_EQ(r.hw_errors, 7 + 17 + 6);
  // temp2_1 is 29 but temp_chip1 "29-54-30-55" has a hotter chip.
  EXPECT_TRUE(Near(r.temp_max, 55));
  EXPECT_EQ(r.fans, (Ints{2880, 2880}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  ExpectChips(r, 60, 60, 0);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 8048.19e9));
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 55));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 40));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 50));
  EXPECT_TRUE(Near(r.boards[1].freq_mhz, 420));  // freq_avg2 0.00, freq2 "420"
}

// ---- Antminer S19 ------------------------------------------------------------

TEST(NormaliseS19, ProOverheatingTempMaxIgnoresFirmwareField) {
  const Record r = Normalise(Multi({{"stats", "antminer-s19pro-stats-overheating.json"},
                                    {"version", "antminer-s19pro-version-b.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S19 Pro");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "49.0.1.3 (Mon Oct 26 17:55:33 CST 2020)");
  EXPECT_EQ(r.algorithm, "sha256d");
  // The firmware's "temp_max" is 0; the hottest chip sensor says 96.
  EXPECT_TRUE(Near(r.temp_max, 96));
  EXPECT_TRUE(Near(r.hashrate, 0));  // "GHS 5s": 0.0, a number
  EXPECT_TRUE(Near(r.hashrate_avg, 93556.98e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 111859e9));
  EXPECT_EQ(r.uptime_s, 321734);
  EXPECT_EQ(r.hw_errors, 880 + 885 + 943);
  EXPECT_EQ(r.fans, (Ints{6000, 5880, 6120, 6120}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 91));  // temp_pcb1 "55-66-78-91"
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 96));   // temp_chip1 "60-71-83-96"
  EXPECT_TRUE(Near(r.boards[1].temp_board, 85));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 90));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 83));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 88));
  EXPECT_TRUE(Near(r.boards[0].hashrate, 0));
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 525));
}

TEST(NormaliseS19, ProOverheatingEveryChipFailed) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19pro-stats-overheating.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  // chain_acsN is 38 groups of "xxx": each 'x' is one of the board's 114 chips.
  ASSERT_EQ(r.boards.size(), 3u);
  ExpectChips(r, 114, 0, 114);
}

TEST(NormaliseS19, ProColdKeepsSmallNegativeReadings) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19pro-stats-cold.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S19 Pro");
  EXPECT_EQ(r.firmware_build, "49.0.1.3 (Wed Oct 21 10:18:10 CST 2020)");
  EXPECT_TRUE(Near(r.hashrate, 110786.79e9));
  EXPECT_TRUE(Near(r.hashrate_avg, 111730.11e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 111859e9));
  EXPECT_EQ(r.uptime_s, 82852);
  EXPECT_EQ(r.hw_errors, 1527 + 2752 + 269);
  EXPECT_TRUE(Near(r.temp_max, 27));  // temp_chip1 "7-4-25-27"
  EXPECT_EQ(r.fans, (Ints{5520, 5400, 5040, 5040}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  ExpectChips(r, 114, 114, 0);
  // "2--1-20-22" is 2, -1, 20, 22; "1--2-21-19" is 1, -2, 21, 19.
  EXPECT_TRUE(Near(r.boards[0].temp_board, 22));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 20));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 21));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 26));
  EXPECT_TRUE(Near(r.boards[1].hashrate, 38109.07e9));
}

TEST(NormaliseS19, ProVersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19pro-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S19 Pro");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "49.0.1.3 (Mon Jun  1 20:27:44 CST 2020)");
  EXPECT_EQ(FindModel(r.model)->chips_per_board, 114);
}

TEST(NormaliseS19, SleepingOnlyChains2And3) {
  const Record r = Normalise(Multi({{"stats", "antminer-s19-stats-sleeping.json"},
                                    {"pools", "antminer-s19-pools.json"},
                                    {"version", "antminer-s19-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S19");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  EXPECT_EQ(r.firmware_build, "49.0.1.3 (Fri Dec 11 11:15:40 CST 2020)");
  EXPECT_TRUE(Near(r.hashrate, 0));
  EXPECT_TRUE(Near(r.hashrate_avg, 0));
  EXPECT_TRUE(Near(r.hashrate_expected, 63919e9));
  EXPECT_EQ(r.uptime_s, 735);
  ASSERT_EQ(BoardIndices(r), (Ints{2, 3}));
  ExpectChips(r, 76, 0, 76);  // 38 groups of "xx"
  for (const BoardStats& b : r.boards) {
    EXPECT_TRUE(Near(b.hashrate, 0));
    EXPECT_TRUE(Near(b.temp_board, 40));
    EXPECT_TRUE(Near(b.temp_chip, 40));
    EXPECT_TRUE(Near(b.freq_mhz, 675));
    EXPECT_EQ(b.hw_errors, 0);
  }
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_TRUE(Near(r.temp_max, 40));
  EXPECT_EQ(r.fans, (Ints{1560, 1560, 600, 720}));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.worker, "aaa.226x94");
  EXPECT_EQ(r.accepted, 0);
  // "Mode":2 as when hashing: the API alone cannot tell (the store marks it
  // when control put it to sleep).
  EXPECT_FALSE(r.sleeping);
}

TEST(NormaliseS19, PoolsWithDoublePercentKeyParse) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19-pools.json"));  // "Pool Stale%%"
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://aaa:700");
  EXPECT_EQ(r.pools[0].user, "aaa.226x94");
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.pools[1].url, "stratum+tcp://bbb:6000");
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_EQ(r.pools[2].status, "Deed");  // as published
  EXPECT_EQ(r.pools[2].priority, 2);
  EXPECT_EQ(r.pools[2].stale, 0);
  EXPECT_EQ(r.worker, "aaa.226x94");
}

TEST(NormaliseS19, VersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.model, "Antminer S19");
  EXPECT_EQ(r.algorithm, "sha256d");
}

TEST(NormaliseS19, WebCgiConfigIsNotAnApiReply) {
  // /cgi-bin/get_miner_conf.cgi: a "pools" list of url/user/pass, no STATUS.
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s19-get_miner_conf.cgi.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_NE(r.error.find("no STATUS"), std::string::npos) << r.error;
  EXPECT_TRUE(r.pools.empty());  // and its passwords go nowhere
  EXPECT_EQ(r.worker, "");
  EXPECT_EQ(r.model, "");
}

// ---- Antminer L3+ / D3 / B3 ---------------------------------------------------

TEST(NormaliseL3Plus, GhsLabelIsMegahashes) {
  const Record r = Normalise(Multi({{"stats", "antminer-l3plus-stats.json"},
                                    {"pools", "antminer-l3plus-pools.json"},
                                    {"version", "antminer-l3plus-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer L3+");
  EXPECT_EQ(r.firmware, "CGMiner 4.9.0");
  EXPECT_EQ(r.firmware_build, "1.0.1.3 (Fri Aug 25 17:28:57 CST 2017)");
  EXPECT_EQ(r.algorithm, "scrypt");
  EXPECT_TRUE(Near(r.hashrate, 504.56e6));  // "GHS 5s":"504.56" is 504.56 MH/s
  EXPECT_TRUE(Near(r.hashrate_avg, 500.28e6));
  EXPECT_EQ(r.hashrate_expected, std::nullopt);
  EXPECT_EQ(r.uptime_s, 393983);
  EXPECT_EQ(r.hw_errors, 153);
  EXPECT_EQ(r.accepted, 47384);
  EXPECT_EQ(r.rejected, 212);
  EXPECT_TRUE(Near(r.temp_max, 56));  // temp2_2, temp2_3; the firmware says 46
  EXPECT_EQ(r.fans, (Ints{3840, 3810}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3, 4}));
  ExpectChips(r, 72, 72, 0);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 126.12e6));
  EXPECT_TRUE(Near(r.boards[3].hashrate, 126.59e6));
  EXPECT_TRUE(Near(r.boards[3].temp_board, 45));
  EXPECT_TRUE(Near(r.boards[3].temp_chip, 53));
  EXPECT_EQ(r.boards[0].freq_mhz, std::nullopt);
  EXPECT_EQ(r.boards[2].hw_errors, 153);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "obmllc.l3_1");
}

TEST(NormaliseD3, BlisszStatsAreMegahashes) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-d3-blissz-stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer D3 Blissz v2.06 beta");
  EXPECT_EQ(r.firmware, "CGMiner 4.10.0");
  EXPECT_EQ(r.firmware_build, "1.0.0.9 (Fri Jan 05 16:48:56 CST 2018)");
  EXPECT_EQ(r.algorithm, "x11");
  // A D3 does ~15-19 GH/s of X11: 16346.64 "GHS" can only be MH/s.
  EXPECT_TRUE(Near(r.hashrate, 16346.64e6));
  EXPECT_TRUE(Near(r.hashrate_avg, 16868.38e6));
  EXPECT_EQ(r.uptime_s, 54422);
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_TRUE(Near(r.temp_max, 69));
  EXPECT_EQ(r.fans, (Ints{6030, 5790}));
  ASSERT_EQ(BoardIndices(r), (Ints{1, 2, 3}));
  ExpectChips(r, 60, 60, 0);
  EXPECT_TRUE(Near(r.boards[1].hashrate, 5631.41e6));
  EXPECT_TRUE(Near(r.boards[1].freq_mhz, 450));  // frequency2 "450"
  EXPECT_TRUE(Near(r.boards[2].temp_board, 48));
}

TEST(NormaliseB3, VersionAlone) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-b3-version.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer B3");
  EXPECT_EQ(r.firmware, "CGMiner 2.0.0");
  EXPECT_EQ(r.firmware_build, "A.0.0.1 (Wed Apr 11 22:21:40 CST 2018)");
  EXPECT_EQ(r.algorithm, "tensority");
}

// ---- Whatsminer ---------------------------------------------------------------

TEST(NormaliseWhatsminer, M20sSummaryWithBadEscapeParses) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m20s-summary.json"));  // `\'`
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Whatsminer");  // no reply here names the model
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "btminer");  // Description "cgminer 4.9.2": btminer's base
  EXPECT_EQ(r.firmware_build, "20200917.22.REL");  // "\'20200917.22.REL\'"
  EXPECT_TRUE(Near(r.hashrate, 64143777.95e6));    // 64 TH/s: MHS are MH/s
  EXPECT_TRUE(Near(r.hashrate_avg, 68710597.19e6));
  EXPECT_TRUE(Near(r.hashrate_expected, 68765832e6));  // "Target MHS"
  EXPECT_EQ(r.uptime_s, 66295);                        // Elapsed, not the system's Uptime
  EXPECT_EQ(r.accepted, 5018);
  EXPECT_EQ(r.rejected, 29);
  EXPECT_EQ(r.hw_errors, 912);
  EXPECT_TRUE(Near(r.power_w, 3491));
  EXPECT_EQ(r.fans, (Ints{4950, 4920}));  // Fan Speed In, Out
  EXPECT_TRUE(Near(r.temp_max, 87.70));   // "Chip Temp Max"
}

TEST(NormaliseWhatsminer, M20sSummaryAndDevs) {
  const Record r = Normalise(
      Multi({{"summary", "whatsminer-m20s-summary.json"}, {"devs", "whatsminer-m20s-devs.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_TRUE(Near(r.hashrate, 64143777.95e6));
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  const BoardStats& b0 = r.boards[0];
  EXPECT_TRUE(Near(b0.hashrate, 19540157.81e6));
  EXPECT_TRUE(Near(b0.temp_board, 71.5));
  EXPECT_TRUE(Near(b0.temp_chip, 87.7));
  EXPECT_EQ(b0.chips, 111);  // "Effective Chips"
  EXPECT_EQ(b0.chips_ok, std::nullopt);
  EXPECT_TRUE(Near(b0.freq_mhz, 617));
  EXPECT_EQ(b0.hw_errors, 324);
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 84.5));
  EXPECT_TRUE(Near(r.boards[2].hashrate, 21747874.70e6));
  EXPECT_TRUE(Near(r.temp_max, 87.7));
  EXPECT_EQ(r.hw_errors, 912);  // the summary's, not the boards' sum
}

TEST(NormaliseWhatsminer, M20sOldFirmwareStatsBoards) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m20s-stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Whatsminer");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "btminer");  // Description "cgminer 4.9.2": btminer's base
  EXPECT_EQ(r.hashrate, std::nullopt);  // stats carry no rate
  EXPECT_EQ(r.uptime_s, 97139);
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));  // SM0..SM2; POOL0/1 are not boards
  for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, 105);
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 656));
  EXPECT_TRUE(Near(r.boards[2].freq_mhz, 616));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 75));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 72.5));
  EXPECT_TRUE(Near(r.temp_max, 75));  // board sensors only
  EXPECT_TRUE(r.fans.empty());
}

TEST(NormaliseWhatsminer, M3StatsChipCounts) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m3-stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Whatsminer");
  EXPECT_EQ(r.uptime_s, 550974);
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_EQ(r.boards[0].chips, 63);
  EXPECT_EQ(r.boards[0].chips_ok, 62);
  EXPECT_EQ(r.boards[0].chips_failed, 1);
  EXPECT_EQ(r.boards[1].chips_ok, 63);
  EXPECT_EQ(r.boards[1].chips_failed, 0);
  EXPECT_EQ(r.boards[2].chips_failed, 1);
  EXPECT_TRUE(Near(r.boards[1].freq_mhz, 636));
  EXPECT_TRUE(Near(r.temp_max, 85.5));
}

TEST(NormaliseWhatsminer, M31sSummaryEdevsPools) {
  const Record r = Normalise(Multi({{"summary", "whatsminer-m31s-summary.json"},
                                    {"edevs", "whatsminer-m31s-edevs.json"},
                                    {"pools", "whatsminer-m31s-pools.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Whatsminer");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "btminer");
  EXPECT_EQ(r.firmware_build, "20201202.22.REL");
  EXPECT_TRUE(Near(r.hashrate, 92768288.94e6));
  EXPECT_TRUE(Near(r.hashrate_avg, 76718604.38e6));
  EXPECT_TRUE(Near(r.hashrate_expected, 71472240e6));
  EXPECT_EQ(r.uptime_s, 33102);
  EXPECT_EQ(r.accepted, 2296);
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_TRUE(Near(r.power_w, 3553));
  EXPECT_EQ(r.fans, (Ints{5700, 0}));  // the outlet fan reads 0: stopped
  EXPECT_TRUE(Near(r.temp_max, 93));
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, 105);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 25012892.74e6));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 57.5));
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 77.44));
  EXPECT_TRUE(Near(r.boards[1].freq_mhz, 726));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 89.17));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.pools[0].index, 1);  // Whatsminer numbers pools from 1
  EXPECT_EQ(r.pools[2].index, 3);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.pools[0].accepted, 2296);
  EXPECT_EQ(r.worker, "x.12x22");
}

TEST(NormaliseWhatsminer, HsRtIsMegahashes) {
  json summary = Fixture("whatsminer-m31s-summary.json");
  summary["SUMMARY"][0].erase("MHS 5s");
  const Record r = Normalise(summary);
  // "HS RT": 76690808.44 on a ~76 TH/s M31S.
  EXPECT_TRUE(Near(r.hashrate, 76690808.44e6));
}

TEST(NormaliseWhatsminer, M31sStatusSleeping) {
  // STATUS is the string "S", Msg an object: btminer is off.
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m31s-status-sleeping.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "Whatsminer");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "");  // "whatsminer v1.3" is the API, not the miner software
  EXPECT_EQ(r.firmware_build, "20210109.22.REL");
  EXPECT_TRUE(Near(r.hashrate, 0));  // "btmineroff":"true"
  EXPECT_EQ(r.hashrate_avg, std::nullopt);
  EXPECT_TRUE(r.boards.empty());
  EXPECT_TRUE(r.sleeping);
}

TEST(NormaliseWhatsminer, BtminerOnIsNotSleeping) {
  json status = Fixture("whatsminer-m31s-status-sleeping.json");
  status["Msg"]["btmineroff"] = "false";
  EXPECT_FALSE(Normalise(status).sleeping);
  EXPECT_FALSE(Normalise(Fixture("whatsminer-m31s-summary.json")).sleeping);
}

TEST(NormaliseWhatsminer, M31sMultiCommandError) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m31s-multicommand-error.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_EQ(r.error, "Missing JSON 'command'");
  EXPECT_EQ(r.model, "");
  EXPECT_EQ(r.algorithm, "");
  EXPECT_EQ(r.hashrate, std::nullopt);
}

TEST(NormaliseWhatsminer, DevdetailsNamesTheModel) {
  const json reply = json::parse(R"({"STATUS":[{"STATUS":"S","Description":"btminer"}],
      "DEVDETAILS":[{"DEVDETAILS":0,"Name":"SM","ID":0,"Driver":"bitmicro","Model":"M31S.V10"}]})");
  const Record r = Normalise(reply);
  EXPECT_EQ(r.model, "Whatsminer M31S");
  EXPECT_EQ(r.algorithm, "sha256d");
}

// ---- Avalon --------------------------------------------------------------------

TEST(NormaliseAvalon, MultiCommand) {
  auto doc =
      ParseMinerJson(testing::ReadFixture("avalon-10xx-multicommand-pools+summary+stats.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "AvalonMiner 1047");  // Ver[1047-...] in "MM ID0"
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "CGMiner 4.11.1");
  EXPECT_EQ(r.firmware_build, "1047-20051101_85dc6f0_0332654");
  EXPECT_TRUE(Near(r.hashrate, 32247416.81e6));  // "MHS 30s", its shortest window
  EXPECT_TRUE(Near(r.hashrate_avg, 25536751.74e6));
  EXPECT_EQ(r.uptime_s, 155);
  EXPECT_EQ(r.accepted, 6);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_EQ(r.fans, (Ints{2896, 2927}));
  EXPECT_TRUE(Near(r.temp_max, 64));  // TMax[64]; Temp[18] is the intake
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1}));
  EXPECT_TRUE(Near(r.boards[0].hashrate, 12362.61e9));  // MGHS[12362.61 12812.16]
  EXPECT_TRUE(Near(r.boards[1].hashrate, 12812.16e9));
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 61));  // MTmax[61 64]
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 64));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "xxx");
}

TEST(NormaliseAvalon, NanAverageIsNotReported) {
  auto doc = ParseMinerJson(testing::ReadFixture("avalon-10xx-multicommand-nan.json"));
  ASSERT_OK(doc);
  const Record r = Normalise(*doc);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.hashrate_avg, std::nullopt);  // "MHS av":nan
  EXPECT_TRUE(Near(r.hashrate, 0));         // "MHS 30s":0 is a reading
  EXPECT_EQ(r.model, "AvalonMiner 1047");
  EXPECT_EQ(r.pools.size(), 3u);
}

// ---- Rules, on replies made up for them ------------------------------------------

json StatsReply(json stats) {
  return {{"STATUS", json::array({{{"STATUS", "S"}, {"Description", "cgminer 4.9.0"}}})},
          {"STATS", json::array({std::move(stats)})}};
}

TEST(NormaliseRules, UnknownAntminerGetsFamilyDefaults) {
  const Record r = Normalise(StatsReply({{"Type", "Antminer HS3"}, {"GHS 5s", "10.5"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer HS3");
  EXPECT_EQ(r.algorithm, "");  // not knowable
  EXPECT_TRUE(Near(r.hashrate, 10.5e9));
}

TEST(NormaliseRules, RateUnitOverridesTheTable) {
  const Record l3 =
      Normalise(StatsReply({{"Type", "Antminer L3+"}, {"GHS 5s", 2}, {"rate_unit", "GH"}}));
  EXPECT_TRUE(Near(l3.hashrate, 2e9));
  const Record s19 =
      Normalise(StatsReply({{"Type", "Antminer S19"}, {"GHS av", 95}, {"rate_unit", "TH"}}));
  EXPECT_TRUE(Near(s19.hashrate_avg, 95e12));
}

TEST(NormaliseRules, EmptyInfNanNullAreNotReported) {
  const Record r = Normalise(StatsReply({{"Type", "Antminer S9"},
                                         {"GHS 5s", ""},
                                         {"GHS av", "inf"},
                                         {"total_rateideal", nullptr},
                                         {"Elapsed", "nan"},
                                         {"chain_acn1", "63"},
                                         {"chain_rate1", "-"},
                                         {"chain_hw1", "12"},
                                         {"temp2_1", "70.5"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.hashrate, std::nullopt);
  EXPECT_EQ(r.hashrate_avg, std::nullopt);
  EXPECT_EQ(r.hashrate_expected, std::nullopt);
  EXPECT_EQ(r.uptime_s, std::nullopt);
  ASSERT_EQ(r.boards.size(), 1u);
  EXPECT_EQ(r.boards[0].chips, 63);  // numeric strings count
  EXPECT_EQ(r.boards[0].chips_ok, std::nullopt);
  EXPECT_EQ(r.boards[0].hashrate, std::nullopt);
  EXPECT_EQ(r.boards[0].hw_errors, 12);
  EXPECT_TRUE(Near(r.temp_max, 70.5));
}

TEST(NormaliseRules, StoppedFansPadToFanNum) {
  const Record r = Normalise(StatsReply(
      {{"GHS 5s", 1}, {"fan_num", 4}, {"fan1", 3000}, {"fan2", 0}, {"fan3", "3100"}, {"fan4", 0}}));
  EXPECT_EQ(r.fans, (Ints{3000, 3100, 0, 0}));
  const Record hostile = Normalise(StatsReply({{"GHS 5s", 1}, {"fan_num", 1e12}, {"fan1", 3000}}));
  EXPECT_LE(hostile.fans.size(), 32u);
}

TEST(NormaliseRules, ColdAndBrokenSensors) {
  const Record r = Normalise(StatsReply({{"GHS 5s", 1},
                                         {"chain_acn1", 3},
                                         {"temp_chip1", "-5--3--4--2"},
                                         {"temp_pcb1", "-12--11"},
                                         {"chain_acn2", 3},
                                         {"temp2_2", -41},
                                         {"temp_chip2", "201-250"}}));
  ASSERT_EQ(r.boards.size(), 2u);
  EXPECT_TRUE(Near(r.boards[0].temp_chip, -2));
  EXPECT_TRUE(Near(r.boards[0].temp_board, -11));
  EXPECT_EQ(r.boards[1].temp_chip, std::nullopt);
  EXPECT_TRUE(Near(r.temp_max, -2));
}

TEST(NormaliseRules, AlivePoolByPriorityWithoutStratumActive) {
  json pools = json::parse(R"({"STATUS":[{"STATUS":"S"}],"POOLS":[
      {"POOL":0,"URL":"a","User":"u0","Status":"Dead","Priority":0},
      {"POOL":1,"URL":"b","User":"u1","Status":"Alive","Priority":2},
      {"POOL":2,"URL":"c","User":"u2","Status":"Alive","Priority":1}]})");
  const Record r = Normalise(pools);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_FALSE(r.pools[0].active);
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_TRUE(r.pools[2].active);
  EXPECT_EQ(r.worker, "u2");
}

TEST(NormaliseRules, AccessDeniedIsAuthError) {
  const json reply = json::parse(
      R"({"STATUS":[{"STATUS":"E","When":1,"Code":45,"Msg":"Access denied to 'stats' command","Description":"cgminer 4.9.0"}],"id":1})");
  const Record r = Normalise(reply);
  EXPECT_EQ(r.status, MinerStatus::kAuthError);
  EXPECT_EQ(r.error, "Access denied to 'stats' command");
}

TEST(NormaliseRules, PartialFailureStaysOkWithError) {
  json reply = Multi({{"stats", "antminer-s9-stats.json"}});
  reply["pools"] = json::parse(R"([{"STATUS":[{"STATUS":"E","Code":8,"Msg":"No pools"}]}])");
  const Record r = Normalise(reply);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "pools: No pools");
  EXPECT_TRUE(Near(r.hashrate, 13883.81e9));
}

TEST(NormaliseRules, EveryPartFailedIsApiError) {
  const json reply = json::parse(R"({
      "summary":[{"STATUS":[{"STATUS":"E","Msg":"Invalid command"}]}],
      "pools":[{"STATUS":[{"STATUS":"F","Msg":"Fatal"}]}],"id":1})");
  const Record r = Normalise(reply);
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_NE(r.error.find("summary: Invalid command"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("pools: Fatal"), std::string::npos) << r.error;
}

TEST(NormaliseRules, GluedDocumentsAsAnArray) {
  const json reply = json::array(
      {Fixture("antminer-s19-version.json"), Fixture("antminer-s19-stats-sleeping.json")});
  const Record r = Normalise(reply);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S19");
  EXPECT_EQ(BoardIndices(r), (Ints{2, 3}));
}

TEST(NormaliseRules, LeavesTheEnvelopeAlone) {
  Record r;
  r.producer_id = "collect-1";
  r.seq = 7;
  r.ts = 1700000000.5;
  r.ip = "10.0.0.9";
  r.port = 4029;
  r.poll_ms = 12.5;
  r.fans = {1, 2, 3};  // a stale value is replaced, not appended to
  NormaliseRawReply(testing::ReadFixture("antminer-s9-stats.json"), r);
  EXPECT_EQ(r.producer_id, "collect-1");
  EXPECT_EQ(r.seq, 7u);
  EXPECT_EQ(r.ts, 1700000000.5);
  EXPECT_EQ(r.ip, "10.0.0.9");
  EXPECT_EQ(r.port, 4029);
  EXPECT_EQ(r.poll_ms, 12.5);
  EXPECT_EQ(r.fans, (Ints{3720, 2400}));
}

TEST(NormaliseRules, GarbageShapesNeverThrow) {
  const json ok_status = json::array({{{"STATUS", "S"}}});
  const std::vector<json> no_data = {
      json(),
      json(42),
      json("summary"),
      json::array(),
      json::object(),
      json::array({1, "x", json::array()}),
      json{{"stats", "x"}},
      json{{"stats", json::array()}},
      json{{"stats", json::array({json::array({1, 2})})}},
      json{{"summary", json::array({json::object()})}},
      json{{"STATUS", 5}},
      json{{"STATUS", ok_status}, {"STATS", "not an array"}},
      json{{"STATUS", ok_status}, {"SUMMARY", json::array({1})}},
  };
  std::vector<std::string> texts;
  for (const json& reply : no_data) texts.push_back(reply.dump());
  // 4,000 levels deep, written as text: a DOM that deep overflows the stack
  // of nlohmann's recursive dump under ASan, and the point is the parser.
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += R"({"STATS":[)";
  deep += "1";
  for (int i = 0; i < 2000; ++i) deep += "]}";
  texts.push_back(deep);
  for (const std::string& text : texts) {
    Record r;
    EXPECT_NO_THROW(NormaliseRawReply(text, r)) << text.substr(0, 200);
    EXPECT_NE(r.status, MinerStatus::kOk) << text.substr(0, 200);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.hashrate, std::nullopt);
  }

  // Sections of the right kind holding the wrong shapes: the miner answered, so
  // ok, with nothing made up.
  const std::vector<json> odd_sections = {
      json{{"STATUS", ok_status},
           {"STATS", json::array({json::array({1}),
                                  "x",
                                  {{"Type", 5},
                                   {"BMMiner", json::object()},
                                   {"GHS 5s", {{"a", 1}}},
                                   {"GHS av", json::array({1})},
                                   {"chain_acn1", "abc"},
                                   {"chain_acs1", 5},
                                   {"chain_acn99999999999", 1},
                                   {"chain_acs2", " oox"},
                                   {"chain_rate2", true},
                                   {"temp_chip2", "--"},
                                   {"temp_pcb2", "-"},
                                   {"fan_num", "many"},
                                   {"fan1", -5},
                                   {"fan2", 1e300},
                                   {"MM ID0", "Ver[ MGHS[1 x] MTmax[ Fan1["}}})}},
      json{{"STATUS", ok_status},
           {"POOLS", json::array({{{"POOL", "zero"}, {"URL", 5}, {"Stratum Active", "yes"}},
                                  json::array()})},
           {"SUMMARY", json::array({{{"MHS 5s", "1e999"}, {"Elapsed", -1e30}}})},
           {"DEVS", json::array({{{"ID", 1e20}, {"MHS 5s", "NaN"}}})},
           {"TEMPS", json::array({{{"Board", "hot"}}})},
           {"FANS", json::array({{{"RPM", json::object()}}})},
           {"Msg", {{"btmineroff", 1}}}},
  };
  for (const json& reply : odd_sections) {
    Record r;
    EXPECT_NO_THROW(NormaliseRawReply(reply.dump(), r)) << reply.dump().substr(0, 200);
    EXPECT_EQ(r.status, MinerStatus::kOk);
    EXPECT_EQ(r.hashrate, std::nullopt);
    EXPECT_EQ(r.hashrate_avg, std::nullopt);
    EXPECT_EQ(r.uptime_s, std::nullopt);
    for (int32_t rpm : r.fans) EXPECT_GE(rpm, 0);
  }
}

}  // namespace
}  // namespace asicmon
