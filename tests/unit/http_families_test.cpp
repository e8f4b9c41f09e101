// The families read over HTTP, ePIC (UMC firmware, on port 4028) and Bitaxe
// (AxeOS, /api/system/info on port 80): their poll plans, and real captures
// (tests/data, see PROVENANCE.md) read by their read_documents into Records,
// every expected value read by hand from the file.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "asicmon/poller.h"
#include "families/family.h"
#include "loopback_server.h"
#include "testlib.h"

namespace asicmon {
namespace {

using testing::Near;

using Ints = std::vector<int32_t>;

// Documents of one poll, each parsed by its own parser (as the poller's are).
class Poll {
 public:
  Poll& Add(std::string_view step, const std::string& text) {
    parsers_.emplace_back();
    simdjson::dom::element doc;
    const auto error = parsers_.back().parse(text).get(doc);
    EXPECT_EQ(error, simdjson::SUCCESS) << step;
    if (error == simdjson::SUCCESS) documents_.push_back({step, doc});
    return *this;
  }
  Poll& Fixture(std::string_view step, const std::string& file) {
    return Add(step, testing::ReadFixture(file));
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
  std::deque<simdjson::dom::parser> parsers_;  // a deque: parsers never move
  std::vector<PolledDocument> documents_;
};

// ---- Poll plans ----------------------------------------------------------------------

TEST(HttpFamilies, EpicAsksItsApiPortOverHttp) {
  const Family* f = FindFamily("epic");
  ASSERT_NE(f, nullptr);
  std::vector<std::string_view> paths;
  for (const PollStep& step : f->poll) {
    EXPECT_EQ(step.framing, Framing::kHttp);
    EXPECT_EQ(step.port, 0);  // the target's port: ePIC serves HTTP on 4028
    EXPECT_EQ(step.name, step.request);
    paths.push_back(step.request);
  }
  EXPECT_EQ(paths, (std::vector<std::string_view>{"/summary", "/capabilities", "/network"}));
}

TEST(HttpFamilies, BitaxeAsksItsWebPort) {
  const Family* f = FindFamily("bitaxe");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 1u);
  EXPECT_EQ(f->poll[0].framing, Framing::kHttp);
  EXPECT_EQ(f->poll[0].port, 80);
  EXPECT_EQ(f->poll[0].request, "/api/system/info");
}

// ---- ePIC: an Antminer S19 XP on PowerPlay-BMS ----------------------------------------

TEST(Epic, SummaryCapabilitiesNetwork) {
  Poll poll;
  poll.Fixture("/summary", "epic-s19xp-summary.json")
      .Fixture("/capabilities", "epic-s19xp-capabilities.json")
      .Fixture("/network", "epic-s19xp-network.json");
  const Record r = poll.Read("epic");
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "Antminer S19 XP");  // /capabilities "Model" "AntMiner S19 XP"
  EXPECT_EQ(r.firmware, "PowerPlay-BMS v1.5.13");
  EXPECT_EQ(r.firmware_build, "umcOS");
  EXPECT_EQ(r.algorithm, "sha256d");  // "Mining": {"Algorithm": "SHA-256"}
  EXPECT_EQ(r.hostname, "cminer32092035");
  EXPECT_EQ(r.mac, "e6:d4:41:51:64:28");  // /network dhcp "mac_address", upper case there
  // Board 0 is detected but disabled: HBs lists boards 1 and 2 only.
  ASSERT_EQ(r.boards.size(), 2u);
  EXPECT_EQ(r.boards[0].index, 1);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 49440724.0e6));  // "Hashrate"[0] is MH/s: 49.4 TH/s
  EXPECT_TRUE(Near(r.boards[1].hashrate, 49925124.0e6));
  EXPECT_TRUE(Near(r.boards[1].temp_board, 64.312));
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 487.5));  // "Core Clock Avg"
  EXPECT_EQ(r.boards[0].chips, 110);               // "Performance Estimator" "Chip Count"
  EXPECT_TRUE(Near(r.hashrate, (49440724.0 + 49925124.0) * 1e6));
  EXPECT_TRUE(Near(r.hashrate_avg, 90071990.0e6));  // Session "Average MHs"
  EXPECT_TRUE(Near(r.hashrate_expected, 143e12));   // the tuner's Target 143 "TH/s"
  EXPECT_EQ(r.uptime_s, 23170);
  EXPECT_EQ(r.accepted, 1862);
  EXPECT_EQ(r.rejected, 2);
  EXPECT_TRUE(Near(r.temp_max, 67.0));  // hottest board; the summary has no chip sensor
  // "Fans Speed 1..4": 5971, 0, 5942, 5745; 5..12 null (no fan there). 0 is a stopped fan.
  EXPECT_EQ(r.fans, (Ints{5971, 5942, 5745, 0}));
  EXPECT_TRUE(Near(r.power_w, 2166.6174));  // "Power Supply Stats" "Input Power"
  ASSERT_EQ(r.pools.size(), 1u);
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://mine.ocean.xyz:3334");
  EXPECT_EQ(r.pools[0].user, "randomuser.randomworker");
  EXPECT_TRUE(r.pools[0].active);  // Stratum "Current Pool" mine.ocean.xyz:3334, connected
  EXPECT_EQ(r.worker, "randomuser.randomworker-0x81x19");  // as the pool sees it
  EXPECT_TRUE(r.errors.empty());                           // Status "Last Error": null
}

TEST(Epic, LastErrorIsTheFirmwaresOwn) {
  std::string summary = testing::ReadFixture("epic-s19xp-summary.json");
  const std::string from = R"("Last Error":null)";  // the capture is compact
  ASSERT_NE(summary.find(from), std::string::npos);
  summary.replace(summary.find(from), from.size(), R"("Last Error":"Board 0 failed to start")");
  const Record r = Poll().Add("/summary", summary).Read("epic");
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message, "Board 0 failed to start");
  EXPECT_EQ(r.model, "");  // no /capabilities came: not invented
  EXPECT_EQ(r.mac, "");
}

// What fingerprinting relies on: another firmware's document is not ePIC's.
TEST(Epic, OnlyItsOwnSummaryIsOk) {
  EXPECT_EQ(Poll().Fixture("/summary", "bitaxe-supra-api_system_info.json").Read("epic").status,
            MinerStatus::kApiError);
  EXPECT_EQ(Poll().Fixture("/capabilities", "epic-s19xp-capabilities.json").Read("epic").status,
            MinerStatus::kApiError);
  EXPECT_EQ(Poll()
                .Fixture("/summary", "avalon-q-summary.json")  // a cgminer reply
                .Read("epic")
                .status,
            MinerStatus::kApiError);
  EXPECT_EQ(Poll().Add("/summary", "[1,2]").Read("epic").status, MinerStatus::kApiError);
}

TEST(Epic, HostileValuesReadNothingWrong) {
  const Record r =
      Poll()
          .Add("/summary", R"({"Session":{"Uptime":"x","Average MHs":-5},"HBs":[{"Hashrate":"9"},)"
                           R"({"Hashrate":[],"Temperature":900},{"Index":3,"Hashrate":[-1]}],)"
                           R"("Stratum":{},"Fans Rpm":{"Fans Speed 99999999999":5,"x":1},)"
                           R"("Power Supply Stats":{"Input Power":0},"StratumConfigs":7})")
          .Read("epic");
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.hashrate, std::nullopt);  // no board gives a usable rate
  EXPECT_EQ(r.hashrate_avg, std::nullopt);
  EXPECT_EQ(r.uptime_s, std::nullopt);
  EXPECT_EQ(r.temp_max, std::nullopt);  // 900 °C is a broken sensor
  EXPECT_TRUE(r.fans.empty());
  EXPECT_EQ(r.power_w, std::nullopt);
  EXPECT_TRUE(r.pools.empty());
}

// ---- Through the poller, against an HTTP server on the API port (127.64.0.x) ----

// ePIC's web server on 4028: each GET answered with its capture, anything
// else (the generic poll's JSON) with a 400, as a web server answers junk.
testing::LoopbackServer::Behaviour EpicServer() {
  return [](int fd, const std::string& request) {
    auto answer = [fd](int status, const std::string& body) {
      testing::SendAll(fd, "HTTP/1.1 " + std::to_string(status) +
                               (status == 200 ? " OK" : " Bad Request") +
                               "\r\nContent-Type: application/json\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body);
    };
    for (const auto& [path, file] : {std::pair{"GET /summary ", "epic-s19xp-summary.json"},
                                     {"GET /capabilities ", "epic-s19xp-capabilities.json"},
                                     {"GET /network ", "epic-s19xp-network.json"}}) {
      if (request.starts_with(path)) return answer(200, testing::ReadFixture(file));
    }
    answer(400, "{}");
  };
}

ExchangeOptions Fast() {
  ExchangeOptions o;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.deadline = std::chrono::milliseconds(2000);
  return o;
}

TEST(Epic, FingerprintedByItsHttpAnswerOnTheApiPort) {
  testing::LoopbackServer server("127.64.0.1", EpicServer());
  const PollResult r = PollOnce({"127.64.0.1", 4028}, {}, Fast(), PollerOptions{{}});
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_FALSE(r.foreign);
  EXPECT_EQ(r.record.family, "epic");
  EXPECT_EQ(r.record.model, "Antminer S19 XP");
  EXPECT_EQ(r.record.mac, "e6:d4:41:51:64:28");
  EXPECT_EQ(r.record.port, 4028);
  // 2166.6174 W over 99.37 TH/s, computed once the family has read the record.
  ASSERT_TRUE(r.record.efficiency_j_per_th.has_value());
  EXPECT_NEAR(*r.record.efficiency_j_per_th, 2166.6174 / 99.365848, 1e-6);
}

TEST(Epic, KnownFamilyAsksItsThreePaths) {
  testing::LoopbackServer server("127.64.0.2", EpicServer());
  const PollResult r = PollOnce({"127.64.0.2", 4028}, "epic", Fast(), PollerOptions{{}});
  ASSERT_EQ(r.record.status, MinerStatus::kOk) << r.record.error;
  EXPECT_EQ(r.record.family, "epic");
  EXPECT_EQ(server.accepted(), 3);  // /summary, /capabilities, /network: nothing else
}

// ---- Bitaxe Supra on AxeOS 2.4.5 ------------------------------------------------------

TEST(Bitaxe, SystemInfo) {
  const Record r =
      Poll().Fixture("/api/system/info", "bitaxe-supra-api_system_info.json").Read("bitaxe");
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.model, "Bitaxe Supra");  // "ASICModel": "BM1368" (board 401)
  EXPECT_EQ(r.firmware, "AxeOS v2.4.5-3-gb5d1e36-dirty");
  EXPECT_EQ(r.firmware_build, "v5.4");  // "idfVersion"
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.hostname, "bitaxe");
  EXPECT_EQ(r.mac, "aa:bb:cc:dd:ee:ff");
  EXPECT_TRUE(Near(r.hashrate, 1000e9));         // "hashRate": 1000 is GH/s, i.e. 1 TH/s
  EXPECT_EQ(r.hashrate_expected, std::nullopt);  // 2.4.5 has no "expectedHashrate"
  ASSERT_EQ(r.boards.size(), 1u);
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 27));     // "temp": the ASIC, 4 s after boot
  EXPECT_EQ(r.boards[0].temp_board, std::nullopt);  // "vrTemp": 0, no regulator sensor
  EXPECT_EQ(r.boards[0].chips, 1);
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 490));
  EXPECT_TRUE(Near(r.temp_max, 27));
  EXPECT_TRUE(Near(r.power_w, 2.65000009536743));  // W: a 4-second-old boot
  EXPECT_EQ(r.uptime_s, 4);
  EXPECT_EQ(r.accepted, 0);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.fans, (Ints{3517}));
  ASSERT_EQ(r.pools.size(), 2u);
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://btc.example.pool:3333");
  EXPECT_TRUE(r.pools[0].active);  // "isUsingFallbackStratum": 0
  EXPECT_EQ(r.pools[1].url, "stratum+tcp://btc2.example.pool:3333");
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_EQ(r.worker, "asic-rs.test");
}

TEST(Bitaxe, OnlyItsOwnDocumentIsOk) {
  EXPECT_EQ(Poll().Fixture("/api/system/info", "epic-s19xp-summary.json").Read("bitaxe").status,
            MinerStatus::kApiError);
  EXPECT_EQ(Poll().Read("bitaxe").status, MinerStatus::kApiError);
  EXPECT_EQ(Poll()
                .Add("/api/system/info", R"({"ASICModel":"BM1370","hashRate":"x"})")
                .Read("bitaxe")
                .model,
            "Bitaxe Gamma");
}

}  // namespace
}  // namespace asicmon
