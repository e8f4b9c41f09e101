// The fake farm's miners whose API is HTTP (testing/fakefarm/epic_*.cpp,
// bitaxe_*.cpp): what each path answers, with the keys of the captures in
// tests/data, and what the epic and bitaxe families read from those
// documents.
#include <gtest/gtest.h>

#include <deque>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_miner.h"
#include "families/family.h"
#include "farm_plan.h"
#include "http.h"
#include "testlib.h"

namespace asicmon::fakefarm {
namespace {

using ::asicmon::testing::ReadFixture;
using nlohmann::ordered_json;
using Keys = std::vector<std::string>;

constexpr double kNow = 1.7e9;

FakeMinerSpec Spec(ModelId model, bool dead_board = false) {
  FakeMinerSpec spec;
  spec.model = model;
  spec.index = 4;
  spec.ip = 0x7F420105;  // 127.66.1.5
  spec.dead_board = dead_board;
  return spec;
}

struct Answer {
  int status = 0;
  std::string headers;
  std::string body;
};

Answer Get(FakeMiner& miner, std::string_view path, double at = kNow,
           std::string_view method = "GET") {
  fmt::memory_buffer out;
  miner.HandleHttp(method, path, at, out);
  const std::string raw(out.data(), out.size());
  Answer a;
  const size_t end = raw.find("\r\n\r\n");
  EXPECT_NE(end, std::string::npos) << raw;
  if (end == std::string::npos || !raw.starts_with("HTTP/1.1 ")) return a;
  a.status = std::stoi(raw.substr(9, 3));
  a.headers = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  EXPECT_NE(a.headers.find("Content-Length: " + std::to_string(a.body.size())), std::string::npos);
  return a;
}

// Every key in document order, a list's by its first entry: the layout,
// whatever the number of pools or boards.
void CollectKeys(const ordered_json& j, Keys& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      out.push_back(key);
      CollectKeys(value, out);
    }
  } else if (j.is_array() && !j.empty()) {
    CollectKeys(j.front(), out);
  }
}

Keys KeysOf(const std::string& text) {
  Keys keys;
  CollectKeys(ordered_json::parse(text), keys);
  return keys;
}

// Documents of one poll read by a family, as the poller hands them over.
class Documents {
 public:
  Documents& Add(std::string_view step, const std::string& text) {
    texts_.push_back(text);
    parsers_.emplace_back();
    simdjson::dom::element doc;
    const auto error = parsers_.back().parse(texts_.back()).get(doc);
    EXPECT_EQ(error, simdjson::SUCCESS) << step;
    if (error == simdjson::SUCCESS) documents_.push_back({step, doc});
    return *this;
  }
  Record Read(std::string_view family) const {
    const Family* f = FindFamily(family);
    Record r;
    if (f == nullptr || f->read_documents == nullptr) {
      ADD_FAILURE() << family << " reads no documents";
      return r;
    }
    f->read_documents(documents_, r);
    return r;
  }

 private:
  std::deque<std::string> texts_;
  std::deque<simdjson::dom::parser> parsers_;
  std::vector<PolledDocument> documents_;
};

Record ReadEpic(FakeMiner& miner, double at) {
  Documents d;
  for (std::string_view path : {"/summary", "/capabilities", "/network"}) {
    d.Add(path, Get(miner, path, at).body);
  }
  return d.Read("epic");
}

// ---- ePIC UMC on an S19 XP ------------------------------------------------------------

TEST(FakeEpic, EveryPathHasTheKeysOfItsCapture) {
  FakeMiner miner(Spec(ModelId::kEpicS19XP), kNow);
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"/summary", "epic-s19xp-summary.json"},
      {"/capabilities", "epic-s19xp-capabilities.json"},
      {"/network", "epic-s19xp-network.json"},
      {"/temps", "epic-s19xp-temps.json"},
  };
  for (const auto& [path, fixture] : cases) {
    SCOPED_TRACE(path);
    const Answer a = Get(miner, path);
    EXPECT_EQ(a.status, 200);
    EXPECT_NE(a.headers.find("Content-Type: application/json"), std::string::npos);
    EXPECT_EQ(KeysOf(a.body), KeysOf(ReadFixture(std::string(fixture))));
  }
}

TEST(FakeEpic, RefusesWhatItDoesNotServe) {
  FakeMiner miner(Spec(ModelId::kEpicS19XP), kNow);
  EXPECT_EQ(Get(miner, "/summary", kNow, "POST").status, 405);
  EXPECT_EQ(Get(miner, "/api/system/info").status, 404);
  EXPECT_EQ(Get(miner, "/").status, 404);
  // A cgminer request on its port is no HTTP request: 400 at once, not a
  // wait for a line end that never comes.
  HttpRequest request;
  for (std::string_view cgminer : {R"({"command":"summary+stats+pools"})", "{"}) {
    const HttpParseResult parsed = ParseHttpRequest(cgminer, request);
    EXPECT_EQ(parsed.state, HttpParseState::kError) << cgminer;
    EXPECT_EQ(parsed.error_status, 400) << cgminer;
  }
  EXPECT_EQ(ParseHttpRequest("GET /sum", request).state, HttpParseState::kNeedHeaders);
}

TEST(FakeEpic, ItsDocumentsReadAsEpicWithFiguresThatMove) {
  FakeMiner miner(Spec(ModelId::kEpicS19XP), kNow);
  const ModelSpec& model = GetModel(ModelId::kEpicS19XP);
  const Record r = ReadEpic(miner, kNow + 60);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Antminer S19 XP");  // "AntMiner" spelt as stock firmware
  EXPECT_EQ(r.firmware, "PowerPlay-BMS v1.5.13");
  EXPECT_EQ(r.algorithm, "sha256d");
  ASSERT_TRUE(r.hashrate.has_value());  // H/s from the boards' MH/s
  EXPECT_NEAR(*r.hashrate, model.hashrate_nominal, 0.05 * model.hashrate_nominal);
  EXPECT_EQ(r.hashrate_expected, 143e12);  // the tuner's target, TH/s
  ASSERT_EQ(r.boards.size(), 3u);
  for (const BoardStats& b : r.boards) EXPECT_EQ(b.chips, 110);
  EXPECT_EQ(r.fans.size(), 4u);  // slots 5-12 are null: no fan fitted
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3350, 3350 * 0.05);
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "farm.w0005-66x1x5");  // the address suffix of "IpAddress"
  EXPECT_EQ(r.mac, "02:01:00:00:00:04");     // /network's upper case, lowered
  EXPECT_EQ(r.uptime_s, 3660);

  const Record later = ReadEpic(miner, kNow + 660);
  EXPECT_EQ(later.uptime_s, 4260);
  EXPECT_GT(later.accepted.value_or(0), r.accepted.value_or(0));
  EXPECT_NE(later.hashrate, r.hashrate);
}

TEST(FakeEpic, ADeadBoardIsDisabledAsTheFirmwareDoes) {
  FakeMiner miner(Spec(ModelId::kEpicS19XP, true), kNow);
  const ordered_json summary = ordered_json::parse(Get(miner, "/summary").body);
  EXPECT_EQ(summary["HBs"].size(), 2u);
  EXPECT_EQ(summary["Session"]["Active HBs"], 2);
  int disabled = 0;
  for (const ordered_json& hb : summary["HBStatus"]) disabled += hb["Enabled"] == false;
  EXPECT_EQ(disabled, 1);
  const Record r = ReadEpic(miner, kNow + 10);
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.boards.size(), 2u);
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 3350.0 * 2 / 3, 3350 * 0.05);
}

// ---- Bitaxe Supra on AxeOS ------------------------------------------------------------

TEST(FakeBitaxe, SystemInfoHasTheKeysOfTheCaptureAndReadsAsBitaxe) {
  FakeMiner miner(Spec(ModelId::kBitaxeSupra), kNow);
  const Answer a = Get(miner, "/api/system/info", kNow + 60);
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(KeysOf(a.body), KeysOf(ReadFixture("bitaxe-supra-api_system_info.json")));
  const Record r = Documents().Add("/api/system/info", a.body).Read("bitaxe");
  ASSERT_EQ(r.status, MinerStatus::kOk) << r.error;
  EXPECT_EQ(r.model, "Bitaxe Supra");
  EXPECT_EQ(r.firmware, "AxeOS v2.4.5-3-gb5d1e36-dirty");
  ASSERT_TRUE(r.hashrate.has_value());  // "hashRate" GH/s
  EXPECT_NEAR(*r.hashrate, 625.24e9, 625.24e9 * 0.05);
  ASSERT_EQ(r.boards.size(), 1u);
  EXPECT_TRUE(r.boards[0].temp_chip.has_value());
  EXPECT_EQ(r.fans.size(), 1u);
  ASSERT_TRUE(r.power_w.has_value());
  EXPECT_NEAR(*r.power_w, 12.5, 1);
  ASSERT_EQ(r.pools.size(), 2u);  // primary and fallback
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://pool-a.example:3333");
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "farm.w0005");
  EXPECT_EQ(r.uptime_s, 3660);

  const ordered_json later = ordered_json::parse(Get(miner, "/api/system/info", kNow + 660).body);
  EXPECT_EQ(later["uptimeSeconds"], 4260);
}

TEST(FakeBitaxe, RefusesWhatItDoesNotServe) {
  FakeMiner miner(Spec(ModelId::kBitaxeSupra), kNow);
  EXPECT_EQ(Get(miner, "/api/system/info", kNow, "POST").status, 405);
  EXPECT_EQ(Get(miner, "/summary").status, 404);
  // A model of a cgminer family answers no HTTP API.
  FakeMiner s9(Spec(ModelId::kS9), kNow);
  EXPECT_EQ(Get(s9, "/summary").status, 404);
}

// ---- In a farm ------------------------------------------------------------------------

TEST(FakeHttpApiFarm, BitaxeListensOnTheWebPortAndEpicOnTheApiPort) {
  FarmOptions options;
  options.base = "127.66.9.1";
  options.count = 3;
  auto models = ParseModels("epic-s19xp,bitaxe-supra,s9");
  ASSERT_TRUE(models.ok());
  options.models = *models;
  auto plans = PlanFarm(options);
  ASSERT_TRUE(plans.ok());
  EXPECT_EQ((*plans)[0].port, 4028);
  EXPECT_EQ((*plans)[1].port, 80);  // AxeOS: nothing on 4028
  options.http_port = 8080;
  plans = PlanFarm(options);
  ASSERT_TRUE(plans.ok());
  EXPECT_EQ((*plans)[0].http_port, 0);  // no stock CGI on ePIC
  EXPECT_EQ((*plans)[1].port, 8080);
  EXPECT_EQ((*plans)[1].http_port, 0);
  EXPECT_EQ((*plans)[2].http_port, 8080);
  const ordered_json epic = ordered_json::parse(ManifestLine((*plans)[0]));
  EXPECT_EQ(epic["worker"], "farm.w0001-66x9x1");
  EXPECT_EQ(epic["model"], "Antminer S19 XP");

  // "all" has them; the default mix is the cgminer-API models.
  auto all = ParseModels("all");
  auto defaults = ParseModels("default");
  ASSERT_TRUE(all.ok() && defaults.ok());
  EXPECT_EQ(all->size(), AllModels().size());
  EXPECT_EQ(defaults->size(), AllModels().size() - 2);
  for (ModelId id : *defaults) EXPECT_FALSE(HasHttpApi(id));
}

}  // namespace
}  // namespace asicmon::fakefarm
