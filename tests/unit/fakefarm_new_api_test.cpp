// The fake farm's Bitmain models of 2022+ firmware answer "new_api" requests
// in the layout of the captures (tests/data/antminer-*-newapi.json), older
// models ignore the flag as their firmware does, and the antminer family's
// poll plan reads them all: power where the model reports it, Equihash in sol/s.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "asicmon/record.h"
#include "fake_miner.h"
#include "families/family.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

using nlohmann::json;

constexpr double kNow = 1.7e9;
constexpr std::string_view kNewApiStats = R"({"command":"stats","new_api":true})";

FakeMinerSpec Spec(ModelId model) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 3;
  spec.seed = 7;
  return spec;
}

json Parsed(const std::string& reply) {
  Result<json> doc = testing::ParseMinerJson(reply);
  EXPECT_TRUE(doc.ok()) << reply;
  return doc.ok() ? std::move(*doc) : json();
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& item : object.items()) keys.insert(item.key());
  return keys;
}

// What the antminer family's poll plan brings back from `miner`, read as the
// poller reads a poll's documents.
Record PollWithPlan(FakeMiner& miner) {
  const Family* antminer = FindFamily("antminer");
  EXPECT_NE(antminer, nullptr);
  json documents = json::array();
  for (const PollStep& step : antminer->poll) {
    documents.push_back(Parsed(miner.Handle(step.request, kNow)));
  }
  return testing::NormaliseJson(documents);
}

// Same keys at every level as the S21 capture (and "watt" where power is reported).
TEST(FakeFarmNewApi, StatsLayoutIsTheCapturesLayout) {
  const json capture = testing::ParseMinerJson(testing::ReadFixture(
                                                   "antminer-s21-stats-newapi.json"))
                           .value();
  for (const ModelId id : {ModelId::kS21, ModelId::kKS7}) {
    SCOPED_TRACE(GetModel(id).key);
    FakeMiner miner(Spec(id), kNow);
    const json reply = Parsed(miner.Handle(kNewApiStats, kNow));
    EXPECT_EQ(Keys(reply), Keys(capture));
    EXPECT_EQ(Keys(reply["STATUS"]), Keys(capture["STATUS"]));
    EXPECT_EQ(Keys(reply["INFO"]), Keys(capture["INFO"]));
    std::set<std::string> stats_keys = Keys(capture["STATS"][0]);
    if (GetModel(id).firmware.power_w > 0) stats_keys.insert("watt");
    EXPECT_EQ(Keys(reply["STATS"][0]), stats_keys);
    ASSERT_EQ(reply["STATS"][0]["chain"].size(), 3u);
    EXPECT_EQ(Keys(reply["STATS"][0]["chain"][0]), Keys(capture["STATS"][0]["chain"][0]));
    EXPECT_EQ(reply["INFO"]["type"], GetModel(id).name);
    EXPECT_EQ(reply["STATS"][0]["rate_unit"], "GH/s");
  }
}

TEST(FakeFarmNewApi, S21ReadsAsTheCaptureDoes) {
  FakeMiner miner(Spec(ModelId::kS21), kNow);
  Record r;
  NormaliseRawReply(miner.Handle(kNewApiStats, kNow), r);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.family, "antminer");
  EXPECT_EQ(r.model, "Antminer S21");
  EXPECT_EQ(r.firmware_build, "uart_trans.1.3 (Thu Jul 11 16:38:25 CST 2024)");
  ASSERT_TRUE(r.hashrate.has_value());
  EXPECT_NEAR(*r.hashrate, 200e12, 20e12);
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.boards[0].index, 0);
  EXPECT_EQ(r.boards[0].chips, 108);
  EXPECT_EQ(r.fans.size(), 4u);
  EXPECT_EQ(r.power_w, std::nullopt);  // as the S21 capture: no watt
}

// The replies of two identical miners, one asked `a`, the other `b`.
void ExpectSameReply(ModelId id, std::string_view a, std::string_view b) {
  FakeMiner one(Spec(id), kNow);
  FakeMiner two(Spec(id), kNow);
  EXPECT_EQ(one.Handle(a, kNow), two.Handle(b, kNow));
}

// Firmware before the new layout ignores the flag (asic-rs PR #328): the
// same classic reply, byte for byte.
TEST(FakeFarmNewApi, OlderModelsIgnoreTheFlag) {
  for (const ModelId id : {ModelId::kS9, ModelId::kS19Pro, ModelId::kL3Plus, ModelId::kZ15}) {
    SCOPED_TRACE(GetModel(id).key);
    ExpectSameReply(id, kNewApiStats, R"({"command":"stats"})");
  }
}

// The flag is asked of one command at a time: a multi-command keeps the classic layout.
TEST(FakeFarmNewApi, MultiCommandStaysClassic) {
  ExpectSameReply(ModelId::kS21, R"({"command":"summary+stats","new_api":true})",
                  R"({"command":"summary+stats"})");
}

TEST(FakeFarmNewApi, SummaryHasTheFirmwaresChecks) {
  FakeMiner miner(Spec(ModelId::kKS7), kNow);
  const json reply = Parsed(miner.Handle(R"({"command":"summary","new_api":true})", kNow));
  EXPECT_EQ(reply["STATUS"]["Msg"], "summary");
  ASSERT_EQ(reply["SUMMARY"][0]["status"].size(), 4u);
  Record r;
  NormaliseRawReply(miner.Handle(R"({"command":"summary","new_api":true})", kNow), r);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer KS7");
  EXPECT_TRUE(r.errors.empty());
}

TEST(FakeFarmNewApi, PollPlanReadsPowerWhereReported) {
  FakeMiner ks7(Spec(ModelId::kKS7), kNow);
  const Record r = PollWithPlan(ks7);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer KS7");
  EXPECT_EQ(r.algorithm, "kheavyhash");
  EXPECT_EQ(r.firmware, "BMMiner 1.0.0");
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3500, 350);
  ASSERT_TRUE(r.efficiency_j_per_th.has_value());
  EXPECT_NEAR(*r.efficiency_j_per_th, 3500 / 9.4, 50);
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.boards[0].index, 0);  // the new layout's chains stand for the boards
  EXPECT_EQ(r.pools.empty(), false);
  EXPECT_EQ(r.worker, std::string(ks7.worker()));
}

// Unit trap: the Z15's "GHS" labels hold ksol/s; the record holds sol/s.
TEST(FakeFarmNewApi, Z15ReadsInSolPerSecond) {
  FakeMiner z15(Spec(ModelId::kZ15), kNow);
  const Record r = PollWithPlan(z15);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer Z15");
  EXPECT_EQ(r.algorithm, "equihash");
  ASSERT_TRUE(r.hashrate.has_value());
  EXPECT_NEAR(*r.hashrate, 420e3, 42e3);
  EXPECT_EQ(r.power_w, std::nullopt);
}

}  // namespace
}  // namespace asicmon::fakefarm
