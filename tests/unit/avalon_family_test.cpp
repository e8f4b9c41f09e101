// Canaan AvalonMiners and Bitdeer SealMiners, the cgminer-alike families of
// issue 19 item 4: real captures (tests/data, see PROVENANCE.md) normalised
// into Records, every expected value read by hand from the file.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "families/family.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;
using testing::Multi;
using testing::Near;
using testing::BoardIndices;
using Ints = std::vector<int32_t>;
using Errors = std::vector<MinerError>;

json Fixture(const std::string& name) {
  Result<json> doc = testing::ParseMinerJson(testing::ReadFixture(name));
  EXPECT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
  return doc.ok() ? std::move(*doc) : json();
}

// ---- Avalon Q (2025 firmware, soft-off) ------------------------------------------

TEST(AvalonQ, VersionSummaryStatsPools) {
  const Record r = testing::NormaliseJson(Multi({{"version", "avalon-q-version.json"},
                                                 {"summary", "avalon-q-summary.json"},
                                                 {"stats", "avalon-q-stats.json"},
                                                 {"pools", "avalon-q-pools.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.family, "avalon");
  EXPECT_EQ(r.model, "Avalon Q");  // Ver[Q-...], as VERSION's "PROD" says it
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "CGMiner 4.11.1");
  EXPECT_EQ(r.firmware_build, "Q-25052801_14a19a2");  // Ver[...] in "MM ID0:Summary"
  EXPECT_EQ(r.mac, "aa:bb:cc:dd:ee:ff");              // "AA:BB:CC:DD:EE:FF" (anonymised)
  // Soft-off: "Work: In Idle", STATE[2], SoftOFF[4]; fans stopped.
  EXPECT_TRUE(r.sleeping);
  EXPECT_TRUE(Near(r.hashrate, 0));                    // "MHS 5s": 0.0 and GHSspd[0.00]
  EXPECT_TRUE(Near(r.hashrate_avg, 44539601.86e6));    // "MHS av" is MH/s: 44.5 TH/s
  EXPECT_TRUE(Near(r.hashrate_expected, 55032.79e9));  // GHSmm[55032.79] is GH/s
  EXPECT_EQ(r.uptime_s, 37714);
  EXPECT_EQ(r.accepted, 890);
  EXPECT_EQ(r.rejected, 2);
  EXPECT_EQ(r.hw_errors, 0);
  EXPECT_EQ(r.fans, (Ints{0, 0, 0, 0}));  // Fan1[0]..Fan4[0]: four stopped fans
  // TMax[0] is no reading while idle: the hottest is the board's HBITemp/HBOTemp.
  EXPECT_TRUE(Near(r.temp_max, 27));
  ASSERT_EQ(BoardIndices(r), (Ints{0}));
  EXPECT_TRUE(Near(r.boards[0].hashrate, 44499.41e9));  // MGHS: since-start average, GH/s
  EXPECT_EQ(r.boards[0].chips, 160);                    // TA[160] over one board
  EXPECT_TRUE(Near(r.boards[0].temp_board, 27));
  EXPECT_TRUE(Near(r.power_w, 146));  // PS[0 1222 4 0 0 2245 146]: PS[6] the wall power
  EXPECT_EQ(r.efficiency_j_per_th, std::nullopt);  // asleep
  EXPECT_EQ(r.errors, Errors{});                   // ECMM[0] ECHU[0] PS[0 ...]
  ASSERT_EQ(r.pools.size(), 1u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "worker1");
}

TEST(AvalonQ, LitestatsAlone) {
  const Record r = testing::NormaliseJson(Fixture("avalon-q-litestats.json"));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "avalon");
  EXPECT_EQ(r.model, "Avalon Q");  // no VERSION: Ver[Q-25052801_...] names it alike
  EXPECT_EQ(r.firmware_build, "Q-25052801_14a19a2");
  EXPECT_TRUE(r.sleeping);
  EXPECT_TRUE(Near(r.hashrate, 0));   // GHSspd[0.00], not the MGHS average
  EXPECT_TRUE(Near(r.power_w, 146));  // PS[0 1221 4 0 0 2245 146]
  EXPECT_TRUE(Near(r.boards.at(0).hashrate, 44350.83e9));
}

// ---- AvalonMiner 1246 and 1566: classic "MM ID0" strings --------------------------

TEST(AvalonMiner1246, StatsAlone) {
  const Record r = testing::NormaliseJson(Fixture("avalon-1246-stats.json"));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "AvalonMiner 1246-83");  // Ver[1246-83-21072802_...]
  EXPECT_EQ(r.firmware_build, "1246-83-21072802_4ec6bb0_211fc46");
  EXPECT_FALSE(r.sleeping);  // "Work: In Work"
  // No summary: the short window is the driver's real-time GHSspd, not the
  // boards' since-start MGHS (26907.01 + 26025.06 + 26724.56 = GHSavg 79656.63).
  EXPECT_TRUE(Near(r.hashrate, 81072.68e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 83923.04e9));  // GHSmm
  EXPECT_EQ(r.uptime_s, 24684);
  EXPECT_EQ(r.fans, (Ints{5344, 5392, 5349, 5309}));
  EXPECT_TRUE(Near(r.temp_max, 77));  // TMax[77]
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_TRUE(Near(r.boards[1].hashrate, 26025.06e9));
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 76));                  // MTmax[77 77 76]
  for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, 120);  // TA[360] over 3 boards
  EXPECT_TRUE(Near(r.power_w, 3504));  // PS[0 1214 1316 242 3189 1320 3504], no WALLPOWER
  EXPECT_TRUE(Near(r.efficiency_j_per_th, 3504 / 81.07268));
  EXPECT_EQ(r.errors, Errors{});
}

TEST(AvalonMiner1566, VersionStatsPoolsDevs) {
  // pyasic's A1566 replies, one after the other as the repair glues them.
  json reply = json::array({Fixture("avalon-1566-version.json"), Fixture("avalon-1566-stats.json"),
                            Fixture("avalon-1566-pools.json"), Fixture("avalon-1566-devs.json")});
  const Record r = testing::NormaliseJson(reply);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "AvalonMiner 15-194");  // Ver[15-194-...] and VERSION "PROD" alike
  EXPECT_EQ(r.mac, "12:34:56:78:90:12");     // "MAC":"123456789012", no separators
  EXPECT_TRUE(Near(r.power_w, 3731));        // WALLPOWER[3731] (= PS[6])
  // GHSspd, the real-time rate (no summary); DEVS' "MHS 30s" is not a board of its own.
  EXPECT_TRUE(Near(r.hashrate, 199241.07e9));
  EXPECT_TRUE(Near(r.hashrate_expected, 201920.42e9));
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, 160);  // TA[480]
  EXPECT_TRUE(Near(r.temp_max, 78));
  EXPECT_EQ(r.fans, (Ints{4275, 4282}));
  EXPECT_EQ(r.worker, "pool_username.real_worker");
  EXPECT_EQ(r.errors, Errors{});
}

// What discover asks (version+pools): VERSION alone names the miner.
TEST(AvalonMiner1566, VersionAndPoolsAlone) {
  const Record r = testing::NormaliseJson(
      Multi({{"version", "avalon-1566-version.json"}, {"pools", "avalon-1566-pools.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "avalon");
  EXPECT_EQ(r.model, "AvalonMiner 15-194");  // "PROD"
  EXPECT_EQ(r.firmware, "CGMiner 4.11.1");
  EXPECT_EQ(r.firmware_build, "24102401_25462b2_9ddf522");  // "VERSION"
  EXPECT_EQ(r.mac, "12:34:56:78:90:12");
  EXPECT_FALSE(r.sleeping);
  EXPECT_TRUE(r.boards.empty());
  EXPECT_EQ(r.worker, "pool_username.real_worker");
}

// The foreman capture's ECHU[512 512]: each hash board's own error code.
TEST(AvalonMiner1047, HashBoardErrorCodes) {
  const Record r =
      testing::NormaliseJson(Fixture("avalon-10xx-multicommand-pools+summary+stats.json"));
  EXPECT_EQ(r.errors, (Errors{{"ECHU[512]", "hash board error code 0"},
                              {"ECHU[512]", "hash board error code 1"}}));
  EXPECT_EQ(r.power_w, std::nullopt);  // PS[0 0 0 0 0 0]: six fields, no wall power
}

// ---- Rules, on module strings made up for them -------------------------------------

json StatsReply(const std::string& mm) {
  return {{"STATUS", json::array({{{"STATUS", "S"}, {"Description", "cgminer 4.11.1"}}})},
          {"STATS", json::array({{{"STATS", 0}, {"ID", "AVA100"}, {"MM ID0", mm}}})}};
}

TEST(AvalonRules, ControllerBoardAndPowerErrors) {
  const Record r = testing::NormaliseJson(
      StatsReply("Ver[1166Pro-72-21042601] SYSTEMSTATU[Work: In Fault, Hash Board: 2 ] MGHS[1 2] "
                 "PS[3 1200 0 0 0 0 0] ECHU[0 4] ECMM[16]"));
  EXPECT_EQ(r.model, "AvalonMiner 1166Pro-72");
  EXPECT_EQ(r.errors, (Errors{{"ECMM[16]", "controller error code"},
                              {"ECHU[4]", "hash board error code 1"},
                              {"PS[3]", "power supply status"},
                              {"", "Work: In Fault, Hash Board: 2"}}));
  EXPECT_EQ(r.power_w, std::nullopt);  // PS[6] 0: not reported
}

TEST(AvalonRules, Nano3sLitestatsIdleByStateAlone) {
  const Record r = testing::NormaliseJson(
      StatsReply("LVer[25012001_85ce93f] BVer[25012001_85ce93f] MVer[0] FW[Release] STATE[2] "
                 "MODE[0] GHSspd[0.000000] ITemp[25] ECHU[0] ECMM[0]"));
  EXPECT_EQ(r.family, "avalon");
  EXPECT_EQ(r.model, "Avalon");  // no Ver and no VERSION: nothing names the product
  EXPECT_TRUE(r.sleeping);
  EXPECT_TRUE(Near(r.hashrate, 0));
}

TEST(AvalonRules, WithoutVerTheVersionsProdNamesIt) {
  json reply =
      json::array({{{"STATUS", json::array({{{"STATUS", "S"}, {"Description", "cgminer 4.11.1"}}})},
                    {"VERSION", json::array({{{"CGMiner", "4.11.1"}, {"PROD", "Avalon Nano3s"}}})}},
                   StatsReply("LVer[25012001_85ce93f] STATE[1] GHSspd[6.2]")});
  EXPECT_EQ(testing::NormaliseJson(reply).model, "Avalon Nano3s");
}

TEST(AvalonRules, HostileStringsReadNothingWrong) {
  for (const std::string& mm : std::vector<std::string>{
           "Ver[", "MGHS[1 2", "Fan1[] Fan2[x]", "TA[7] MGHS[1 2]", "PS[1e300 0 0 0 0 0 -5]",
           "MGHS[" + std::string(5000, '9') + "]", "'STATS':{Ver[Nano3-1] MGHS[nan inf -1]}"}) {
    const Record r = testing::NormaliseJson(StatsReply(mm));
    EXPECT_EQ(r.family, "avalon") << mm;
    for (const BoardStats& b : r.boards) {
      EXPECT_TRUE(!b.hashrate || (std::isfinite(*b.hashrate) && *b.hashrate >= 0)) << mm;
      EXPECT_NE(b.chips, 3) << mm;  // TA[7] does not share evenly over 2 boards
    }
    EXPECT_TRUE(!r.power_w || *r.power_w > 0) << mm;
  }
}

// ---- SealMiner A2 (bdminer) ---------------------------------------------------------

TEST(SealMinerA2, VersionSummaryStatsPools) {
  const Record r = testing::NormaliseJson(Multi({{"version", "sealminer-a2-version.json"},
                                                 {"summary", "sealminer-a2-summary.json"},
                                                 {"stats", "sealminer-a2-stats.json"},
                                                 {"pools", "sealminer-a2-pools.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.family, "sealminer");
  EXPECT_EQ(r.model, "SealMiner A2");  // STATS "Model":"A2"
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "BDMiner 4.11.1");
  EXPECT_EQ(r.firmware_build, "2025091001");  // STATS "Firmware"
  EXPECT_EQ(r.mac, "50:d4:48:4b:86:78");
  // "MHS 5s" is MH/s: 368 TH/s, a 5-second spike on a 230 TH/s unit ("MHS(30s)" 220 TH/s).
  EXPECT_TRUE(Near(r.hashrate, 368479432.78e6));
  EXPECT_TRUE(Near(r.hashrate_avg, 206860473.51e6));
  // The boards' "N MHS(Ideal)" add up to the machine's "MHS(Ideal)": 221663472 MH/s.
  EXPECT_TRUE(Near(r.hashrate_expected, 221663472e6));
  EXPECT_EQ(r.uptime_s, 2481);
  EXPECT_EQ(r.accepted, 1421);
  EXPECT_EQ(r.rejected, 3);
  EXPECT_EQ(r.hw_errors, 54);
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_TRUE(Near(r.boards[0].hashrate, 73905832.003432e6));
  EXPECT_TRUE(Near(r.boards[1].hashrate_expected, 73927728e6));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 70));  // hottest of "2 Temp 0..3": 56 51 70 65
  EXPECT_EQ(r.boards[0].chips, 153);
  EXPECT_EQ(r.boards[0].chips_failed, 0);
  EXPECT_TRUE(Near(r.boards[2].freq_mhz, 344));
  EXPECT_TRUE(Near(r.temp_max, 70));                  // board sensors only: no chip temperature
  EXPECT_EQ(r.fans, (Ints{3723, 3723, 3753, 3723}));  // "0 Speed".."3 Speed", "Fan Count" 4
  EXPECT_TRUE(Near(r.power_w, 3504));                 // "PSU Input Power"
  EXPECT_EQ(r.errors, Errors{});                      // "Error Code":"", "PSU Error":"0x00000000"
  ASSERT_EQ(r.pools.size(), 1u);
  EXPECT_EQ(r.worker, "Dow_Mining.SealMinerA2");
}

TEST(SealMinerRules, ErrorCodeAndPsuError) {
  json stats = Fixture("sealminer-a2-stats.json");
  stats["STATS"][0]["Error Code"] = "E104";
  stats["STATS"][0]["Error Chip"] = "1-17";
  stats["STATS"][0]["PSU Error"] = "0x00000004";
  const Record r = testing::NormaliseJson(stats);
  EXPECT_EQ(r.family, "sealminer");  // "bdminer" in the STATUS Description
  EXPECT_EQ(r.errors, (Errors{{"E104", "1-17"}, {"0x00000004", "PSU error"}}));
}

// ---- Poll plans --------------------------------------------------------------------

TEST(AvalonPoll, AsksForVersionToo) {
  const Family* f = FindFamily("avalon");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 1u);
  EXPECT_EQ(f->poll[0].framing, Framing::kCgminer);
  EXPECT_EQ(f->poll[0].port, 0);
  EXPECT_EQ(f->poll[0].request, R"({"command":"version+summary+stats+pools"})");
}

}  // namespace
}  // namespace asicmon
