// Braiins OS / BOS+, LuxOS, Vnish and Hiveon: the families of firmware that
// runs on Antminers, read from real captures and the firmware's own API docs
// (tests/data, see PROVENANCE.md), values worked out by hand from the files.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "families/family.h"
#include "json_repair.h"
#include "normalise.h"
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

// ---- Braiins OS+ ------------------------------------------------------------

// What the braiins poll plan asks, answered by the doc's S9 (tunerstatus,
// devdetails, temps) and foreman's captured bOS+ S9 (summary, pools, fans).
TEST(BraiinsPlus, PollPlanReplyNamesTheHardwareAndPower) {
  const Record r = Normalise(Multi({{"summary", "braiinsos-plus-s9-summary.json"},
                                    {"fans", "braiinsos-plus-s9-fans.json"},
                                    {"temps", "braiinsos-plus-s9-temps-chip.json"},
                                    {"tunerstatus", "braiinsos-plus-s9-tunerstatus.json"},
                                    {"pools", "braiinsos-plus-s9-pools.json"},
                                    {"devdetails", "braiinsos-plus-s9-devdetails.json"},
                                    {"version", "braiinsos-plus-s9-version.json"}}));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.family, "braiins");
  // devdetails "Model":"Bitmain Antminer S9": the maker's name goes, the
  // model table then knows the unit (SHA-256, 3 boards of 63 chips).
  EXPECT_EQ(r.model, "Antminer S9");
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "BOSminer+ 0.2.0");
  // Summary "MHS 5s" is MH/s.
  EXPECT_TRUE(Near(r.hashrate, 15740915.842676325e6));
  // tunerstatus "ApproximateMinerPowerConsumption" 1419 W, not "PowerLimit" 1420.
  EXPECT_TRUE(Near(r.power_w, 1419));
  EXPECT_TRUE(Near(r.efficiency_j_per_th, 1419 / 15.740915842676325));
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));  // "ID": the S9's chain numbers
  EXPECT_EQ(r.boards[0].chips, 63);
  // devdetails "Frequency" is Hz: 799682118 Hz is 799.68 MHz.
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 799.682118));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 85.875));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 108.9375));
  EXPECT_TRUE(Near(r.temp_max, 108.9375));  // the hottest chip
  EXPECT_EQ(r.fans, (Ints{2820, 3780}));
  EXPECT_EQ(r.worker, "antminer_1");
}

TEST(BraiinsPlus, TunerstatusAlone) {
  const Record r = Normalise(Fixture("braiinsos-plus-s9-tunerstatus.json"));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "braiins");
  EXPECT_EQ(r.firmware, "BOSminer+ 0.2.0");  // its Description
  EXPECT_TRUE(Near(r.power_w, 1419));
  EXPECT_EQ(r.hashrate, std::nullopt);
  EXPECT_EQ(r.efficiency_j_per_th, std::nullopt);  // no hashrate: no efficiency
}

TEST(BraiinsPlus, DevdetailsAloneNamesTheModel) {
  const Record r = Normalise(Fixture("braiinsos-plus-s9-devdetails.json"));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Antminer S9");
  ASSERT_EQ(BoardIndices(r), (Ints{6, 7, 8}));
  EXPECT_TRUE(Near(r.boards[2].freq_mhz, 770.406487));
  EXPECT_EQ(r.boards[2].chips, 63);
}

// Without devdetails the model stays the firmware's name, as before.
TEST(BraiinsPlus, WithoutDevdetailsTheModelIsTheFirmware) {
  const Record r = Normalise(Multi({{"summary", "braiinsos-plus-s9-summary.json"},
                                    {"tunerstatus", "braiinsos-plus-s9-tunerstatus.json"}}));
  EXPECT_EQ(r.model, "Braiins OS+");
  EXPECT_EQ(r.algorithm, "sha256d");
}

// The reply to "pause" (am2-s17, bosminer 0.6.0): a command reply, not a
// state; it carries no miner data.
TEST(BraiinsPlus, PauseReplyCarriesNoMinerData) {
  const Record r = Normalise(Fixture("braiinsos-plus-s17-pause.json"));
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_EQ(r.error, "reply carries no miner data");
}

// BOSer (bosminer's rewrite, 22.x+) names itself "BOSer" in VERSION and in
// every Description (layout from the BOSMiner-py README, not saved: see
// PROVENANCE.md).
TEST(BraiinsPlus, BoserIsBraiins) {
  const json version = json::parse(R"({"STATUS":[{"STATUS":"S","When":1684938931,"Code":22,
      "Msg":"BOSer versions","Description":"BOSer boser-buildroot 0.1.0-0ce150e9"}],
      "VERSION":[{"API":"3.7","BOSer":"boser-buildroot 0.1.0-0ce150e9"}],"id":1})");
  const Record r = Normalise(version);
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "braiins");
  EXPECT_EQ(r.firmware, "BOSer boser-buildroot 0.1.0");
  EXPECT_EQ(r.firmware_build, "boser-buildroot 0.1.0-0ce150e9");
  EXPECT_EQ(r.model, "Braiins OS");
}

TEST(BraiinsPlus, PollPlanAsksEverythingItReads) {
  const Family* f = FindFamily("braiins");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 1u);
  for (std::string_view command :
       {"summary", "devs", "fans", "temps", "tunerstatus", "pools", "devdetails", "version"}) {
    EXPECT_NE(f->poll[0].request.find(command), std::string_view::npos) << command;
  }
  EXPECT_EQ(f->poll[0].port, 0);
}

// ---- LuxOS ----------------------------------------------------------------------

TEST(Luxos, FansNameTheFamily) {
  const Record r = Normalise(Fixture("luxos-s19-fans.json"));
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "luxos");  // FANS alone is not taken for Braiins
  EXPECT_EQ(r.firmware, "LUXminer 2024.10.11.173603");
  EXPECT_EQ(r.firmware_build, "2024.10.11.173603-b90a165c");
  EXPECT_EQ(r.fans, (Ints{3900, 3900, 3840, 3780}));
}

// A hydro unit's four board sensors (two of them water): the board's
// temperature is the hottest; LuxOS reports no chip temperature.
TEST(Luxos, TempsPerBoard) {
  const Record r = Normalise(Fixture("luxos-hydro-temps.json"));
  EXPECT_EQ(r.family, "luxos");
  ASSERT_EQ(BoardIndices(r), (Ints{0, 1, 2}));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 59));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 58));
  EXPECT_TRUE(Near(r.boards[2].temp_board, 58));
  EXPECT_EQ(r.boards[0].temp_chip, std::nullopt);
  EXPECT_TRUE(Near(r.temp_max, 59));
}

// LuxorLabs' own test fixture (values anonymised: "A model", "some id").
TEST(Luxos, VersionNamesTheFirmware) {
  const Record r = Normalise(Fixture("luxos-anonymised-version.json"));
  EXPECT_EQ(r.family, "luxos");
  EXPECT_EQ(r.firmware, "LUXminer 2000.1.1.12345");
  EXPECT_EQ(r.model, "A model");
}

// "power" (layout as pyasic's luxminer backend reads it: POWER[0].Watts; no
// capture found), with the captured fans.
TEST(Luxos, PowerInWatts) {
  json reply = Multi({{"fans", "luxos-s19-fans.json"}});
  reply["power"] = json::array({json::parse(R"({"POWER":[{"PSU":true,"Watts":3250}],
      "STATUS":[{"Code":339,"Description":"LUXminer 2024.10.11.173603-b90a165c",
      "Msg":"Power","STATUS":"S","When":1728674350}],"id":1})")});
  const Record r = Normalise(reply);
  EXPECT_TRUE(Near(r.power_w, 3250));
  reply["power"][0]["POWER"][0]["Watts"] = "n/a";
  EXPECT_EQ(Normalise(reply).power_w, std::nullopt);
}

// ---- Vnish and Hiveon -----------------------------------------------------------

TEST(Vnish, NamedByItsType) {
  const Record r = Normalise(Fixture("antminer-s9-vnish-stats.json"));
  EXPECT_EQ(r.family, "vnish");
  EXPECT_EQ(r.model, "Antminer S9");  // the Type without "(vnish 3.8.6)"
  EXPECT_TRUE(Near(r.power_w, 3 * 495));  // chain_consumptionN, read by the antminer family
  EXPECT_EQ(r.boards.size(), 3u);
}

TEST(Hiveon, NamedByItsType) {
  const Record s9 = Normalise(Fixture("antminer-s9-hiveon-stats.json"));
  EXPECT_EQ(s9.family, "hiveon");
  EXPECT_EQ(s9.boards.size(), 3u);  // the stock STATS, read by the antminer family

  const Record s19 = Normalise(Multi({{"version", "antminer-s19jpro-hiveon-version.json"},
                                      {"devdetails", "antminer-s19jpro-hiveon-devdetails-denied.json"}}));
  EXPECT_EQ(s19.status, MinerStatus::kOk);  // devdetails denied, version read
  EXPECT_EQ(s19.family, "hiveon");
  EXPECT_EQ(s19.model, "Antminer S19JPRO");  // the Type without " Hiveon"
  EXPECT_EQ(s19.firmware, "BMMiner 4.11.1 rwglr");
  EXPECT_NE(s19.error.find("Access denied to 'devdetails' command"), std::string::npos);
}

// Stock firmware stays "antminer".
TEST(Hiveon, StockIsNotHiveon) {
  const Record r = Normalise(Fixture("antminer-s9-stats.json"));
  EXPECT_EQ(r.family, "antminer");
}

}  // namespace
}  // namespace asicmon
