// The fake farm's AvalonMiners (testing/fakefarm/avalon_*.cpp): their replies
// in the layouts of the real captures, and what asicmon reads from them.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "avalon_models.h"
#include "fake_miner.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

using ::asicmon::testing::ReadFixture;
using Keys = std::vector<std::string>;

constexpr double kNow = 1.7e9;
constexpr std::string_view kAvalonPoll = R"({"command":"version+summary+stats+pools"})";
constexpr std::string_view kGenericPoll = R"({"command":"summary+stats+pools"})";

FakeMinerSpec Spec(ModelId model, int index = 3) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = index;
  return spec;
}

// Every key of a document, depth first, in the order it is written.
void CollectKeys(const nlohmann::ordered_json& j, Keys& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.push_back(key);
      CollectKeys(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& value : j) CollectKeys(value, out);
  }
}

Keys KeysOfText(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  Keys keys;
  CollectKeys(nlohmann::ordered_json::parse(text), keys);
  return keys;
}

Keys KeysOf(const nlohmann::ordered_json& j) {
  Keys keys;
  CollectKeys(j, keys);
  return keys;
}

Record Normalise(const std::string& raw) {
  Record r;
  NormaliseRawReply(raw, r);
  return r;
}

// Keys in the order of the captures that keep the firmware's order: the
// 10xx's summary and stats (foreman) and the 1566's version (pyasic).
TEST(FakeAvalon, ClassicKeysInTheOrderOfTheCaptures) {
  FakeMiner miner(Spec(ModelId::kAvalon1246), kNow);
  const auto capture = nlohmann::ordered_json::parse(
      ReadFixture("avalon-10xx-multicommand-pools+summary+stats.json"));
  EXPECT_EQ(KeysOfText(miner.Handle(R"({"command":"summary"})", kNow)),
            KeysOf(capture["summary"][0]));
  EXPECT_EQ(KeysOfText(miner.Handle(R"({"command":"stats"})", kNow)), KeysOf(capture["stats"][0]));
  EXPECT_EQ(KeysOfText(miner.Handle(R"({"command":"version"})", kNow)),
            KeysOfText(ReadFixture("avalon-1566-version.json")));
}

// The Q's captures: the 2025 layouts, key for key.
TEST(FakeAvalon, QKeysInTheOrderOfItsCaptures) {
  FakeMiner miner(Spec(ModelId::kAvalonQ), kNow);
  for (const auto& [command, fixture] : {std::pair{"version", "avalon-q-version.json"},
                                         {"summary", "avalon-q-summary.json"},
                                         {"stats", "avalon-q-stats.json"},
                                         {"litestats", "avalon-q-litestats.json"}}) {
    SCOPED_TRACE(command);
    const std::string request = std::string(R"({"command":")") + command + "\"}";
    Keys ours = KeysOfText(miner.Handle(request, kNow));
    const Keys real = KeysOfText(ReadFixture(fixture));
    // The captured Q has one pool, the fake three: stats lists a POOL entry each.
    if (std::string_view(command) == "stats" && ours.size() > real.size()) {
      ours.erase(ours.begin() + static_cast<std::ptrdiff_t>(real.size()) - 1, ours.end() - 1);
    }
    EXPECT_EQ(ours, real);
  }
}

TEST(FakeAvalon, EveryModelReadsAsItsFamily) {
  for (const ModelSpec& model : AvalonModels()) {
    SCOPED_TRACE(model.key);
    FakeMiner miner(Spec(model.id), kNow);
    FakeMiner other(Spec(model.id, 4), kNow);
    const std::string raw = miner.Handle(kAvalonPoll, kNow + 60);
    EXPECT_EQ(raw.back(), '\0');  // cgminer's api.c sends the NUL
    const Record r = Normalise(raw);
    EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
    EXPECT_EQ(r.family, "avalon");
    EXPECT_EQ(r.model, model.name);
    EXPECT_EQ(r.firmware, "CGMiner 4.11.1");
    EXPECT_EQ(r.algorithm, "sha256d");
    ASSERT_TRUE(r.hashrate.has_value());
    EXPECT_NEAR(*r.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
    EXPECT_TRUE(r.hashrate_expected.has_value());
    EXPECT_EQ(r.boards.size(), static_cast<size_t>(model.boards));
    for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, model.chips_per_board);
    EXPECT_EQ(r.fans.size(), 4u);
    ASSERT_TRUE(r.temp_max.has_value());
    ASSERT_TRUE(r.power_w.has_value());
    EXPECT_GT(*r.power_w, 0);
    EXPECT_TRUE(r.efficiency_j_per_th.has_value());
    EXPECT_TRUE(r.errors.empty());
    EXPECT_FALSE(r.sleeping);
    EXPECT_EQ(r.pools.size(), 3u);
    EXPECT_EQ(r.mac.size(), 17u);
    EXPECT_NE(r.mac, Normalise(other.Handle(kAvalonPoll, kNow + 60)).mac) << "one MAC a miner";
    // The generic poll, before the family is known, names the miner alike.
    const Record generic = Normalise(miner.Handle(kGenericPoll, kNow + 70));
    EXPECT_EQ(generic.status, MinerStatus::kOk) << generic.error;
    EXPECT_EQ(generic.model, model.name);
    EXPECT_EQ(generic.mac, "");  // no VERSION asked
  }
}

TEST(FakeAvalon, LitestatsOnlyOn2025Firmware) {
  FakeMiner q(Spec(ModelId::kAvalonQ), kNow);
  const Record r = Normalise(q.Handle(R"({"command":"litestats"})", kNow));
  EXPECT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Avalon Q");
  FakeMiner classic(Spec(ModelId::kAvalon1246), kNow);
  std::string raw = classic.Handle(R"({"command":"litestats"})", kNow);
  if (!raw.empty() && raw.back() == '\0') raw.pop_back();
  const auto reply = nlohmann::json::parse(raw);
  EXPECT_EQ(reply["STATUS"][0]["STATUS"], "E");
  EXPECT_EQ(reply["STATUS"][0]["Msg"], "Invalid command");
}

TEST(FakeAvalon, DeadBoardAndHotterBoards) {
  const ModelSpec& model = GetModel(ModelId::kAvalon1246);
  FakeMinerSpec spec = Spec(model.id);
  spec.dead_board = true;
  FakeMiner miner(spec, kNow);
  const Record r = Normalise(miner.Handle(kAvalonPoll, kNow));
  ASSERT_EQ(r.boards.size(), 3u);
  int dead = 0;
  for (const BoardStats& b : r.boards) {
    if (b.hashrate == 0.0) {
      ++dead;
      EXPECT_EQ(b.index, miner.dead_chain());
      EXPECT_EQ(b.temp_chip, std::nullopt);  // MTmax 0: no reading
    }
  }
  EXPECT_EQ(dead, 1);
  ASSERT_TRUE(r.hashrate.has_value());
  EXPECT_NEAR(*r.hashrate, model.hashrate_nominal * 2 / 3, 0.05 * model.hashrate_nominal);

  FakeMiner plain(Spec(model.id), kNow);
  FakeMiner hot(Spec(model.id), kNow);
  hot.SetTempOffset(30);
  const Record before = Normalise(plain.Handle(kAvalonPoll, kNow + 60));
  const Record after = Normalise(hot.Handle(kAvalonPoll, kNow + 60));
  ASSERT_TRUE(before.temp_max && after.temp_max);
  EXPECT_EQ(*after.temp_max, *before.temp_max + 30);
}

}  // namespace
}  // namespace asicmon::fakefarm
