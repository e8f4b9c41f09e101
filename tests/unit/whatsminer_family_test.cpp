// MicroBT Whatsminer, API v2 (4028, family "whatsminer") and API v3 (4433,
// family "whatsminer3"), read from the captures in tests/data (see
// PROVENANCE.md). Expected values are read by hand from the capture files.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "families/family.h"
#include "json_repair.h"
#include "normalise.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;
using testing::Multi;
using Ints = std::vector<int32_t>;

::testing::AssertionResult Near(const std::optional<double>& actual, double expected) {
  if (!actual) return ::testing::AssertionFailure() << "not reported, expected " << expected;
  if (std::fabs(*actual - expected) <= std::fabs(expected) * 1e-9) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << *actual << " != " << expected;
}

json Fixture(const std::string& name) {
  Result<json> doc = testing::ParseMinerJson(testing::ReadFixture(name));
  EXPECT_TRUE(doc.ok()) << name << ": " << doc.status().ToString();
  return doc.ok() ? std::move(*doc) : json();
}

// The documents of a v2 poll, as normalisation reads them glued together.
Record PollV2(const std::vector<json>& documents) {
  return testing::NormaliseJson(json(documents));
}

// A v3 poll: each step's document, read by the whatsminer3 family.
class V3Poll {
 public:
  V3Poll& Add(std::string_view step, std::string text) {
    auto& parser = parsers_.emplace_back(std::make_unique<MinerJsonParser>());
    Result<simdjson::dom::element> doc = parser->Parse(text);
    EXPECT_TRUE(doc.ok()) << step << ": " << doc.status().ToString();
    if (doc.ok()) documents_.push_back({step, *doc});
    return *this;
  }
  V3Poll& File(std::string_view step, const std::string& name) {
    return Add(step, testing::ReadFixture(name));
  }
  Record Read() const {
    const Family* family = FindFamily("whatsminer3");
    EXPECT_NE(family, nullptr);
    Record r;
    r.ip = "10.0.0.7";
    r.port = kWhatsminerV3Port;
    if (family != nullptr) family->read_documents(documents_, r);
    return r;
  }

 private:
  std::vector<std::unique_ptr<MinerJsonParser>> parsers_;
  std::vector<PolledDocument> documents_;
};

V3Poll M60s() {
  V3Poll poll;
  poll.File("get.device.info", "whatsminer-m60s-v3-get.device.info.json")
      .File("get.miner.status", "whatsminer-m60s-v3-get.miner.status-summary.json")
      .File("get.miner.status", "whatsminer-m60s-v3-get.miner.status-pools.json")
      .File("get.miner.status", "whatsminer-m60s-v3-get.miner.status-edevs.json");
  return poll;
}

// ---- API v2 -------------------------------------------------------------------

// What a poll asks: the cgminer commands as one multi-command (btminer has no
// "stats"), then status and the get_* commands, which it answers only alone.
TEST(WhatsminerV2, PollPlan) {
  const Family* f = FindFamily("whatsminer");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 4u);
  EXPECT_EQ(f->poll[0].request, R"({"command":"summary+pools+edevs+devdetails"})");
  for (const PollStep& step : f->poll) {
    EXPECT_EQ(step.framing, Framing::kCgminer) << step.name;
    EXPECT_EQ(step.port, 0) << step.name;  // the target's port, 4028
    EXPECT_EQ(step.request.find("stats"), std::string_view::npos) << step.name;
  }
  EXPECT_EQ(f->poll[2].request, R"({"command":"get_miner_info"})");
}

// fw 20210322 (H3 control board): summary, edevs and pools of one capture.
TEST(WhatsminerV2, Fw2021SummaryEdevsPools) {
  const Record r = PollV2({Multi({{"summary", "whatsminer-v1.4-summary.json"},
                                  {"edevs", "whatsminer-v1.4-devs.json"},
                                  {"pools", "whatsminer-v1.4-pools.json"}})});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.family, "whatsminer");
  EXPECT_EQ(r.model, "Whatsminer");  // no devdetails in this capture
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware_build, "20210322.22.REL");  // "'20210322.22.REL'", quotes dropped
  EXPECT_TRUE(Near(r.hashrate, 70668114.52e6));     // "MHS 5s" is MH/s: 70.7 TH/s
  EXPECT_TRUE(Near(r.hashrate_avg, 67753251.19e6));
  EXPECT_TRUE(Near(r.hashrate_expected, 65362500e6));  // "Target MHS", before "Factory GHS"
  EXPECT_EQ(r.uptime_s, 10154);                         // Elapsed, not the system's Uptime 10792
  EXPECT_EQ(r.accepted, 2338);
  EXPECT_EQ(r.rejected, 0);
  EXPECT_EQ(r.hw_errors, 69);
  EXPECT_TRUE(Near(r.power_w, 3417));  // "Power"; "Power_RT" 3427 is the second choice
  EXPECT_TRUE(Near(r.efficiency_j_per_th, 3417 / 70.66811452));
  EXPECT_EQ(r.fans, (Ints{6450, 6480}));
  EXPECT_TRUE(Near(r.temp_max, 92.5));
  EXPECT_EQ(r.mac, "c4:08:28:00:a4:19");  // summary "MAC", lower-cased
  EXPECT_TRUE(r.errors.empty());          // "Error Code Count": 0
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 20053438.74e6));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 70.0));
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 90.0));
  EXPECT_EQ(r.boards[0].chips, 105);
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 650));
  EXPECT_EQ(r.boards[0].hw_errors, 15);
  EXPECT_TRUE(Near(r.boards[2].temp_chip, 92.5));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.pools[0].index, 1);  // btminer numbers pools from 1
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_EQ(r.worker, "asic-rs.test");
}

// "Error Code N" members of summary, "Error Code Count" not among them.
TEST(WhatsminerV2, SummaryErrorCodes) {
  const Record r = PollV2({Fixture("whatsminer-v1.4-summary-errors.json")});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], (MinerError{"110", ""}));
  EXPECT_EQ(r.errors[1], (MinerError{"600", ""}));
}

// fw 20230803 (H616): the multi-command, then get_version, get_miner_info and
// get_error_code, each answering STATUS "S" with Msg an object.
TEST(WhatsminerV2, Fw2023WithGetCommands) {
  const Record r = PollV2({Multi({{"summary", "whatsminer-v2-summary.json"},
                                  {"edevs", "whatsminer-v2-devs.json"},
                                  {"pools", "whatsminer-v2-pools.json"}}),
                           Fixture("whatsminer-v2-get_version.json"),
                           Fixture("whatsminer-v2-get_miner_info.json"),
                           Fixture("whatsminer-v2-get_error_code.json")});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.family, "whatsminer");
  EXPECT_EQ(r.firmware_build, "20230803.11.REL");  // get_version "fw_ver": summary has none
  EXPECT_TRUE(Near(r.hashrate, 124500000.0e6));   // "HS RT" is MH/s whatever its name: 124.5 TH/s
  EXPECT_TRUE(Near(r.hashrate_avg, 125000000.0e6));
  EXPECT_TRUE(Near(r.hashrate_expected, 126000e9));  // "Factory GHS" is true GH/s: 126 TH/s
  EXPECT_TRUE(Near(r.power_w, 3200));
  EXPECT_EQ(r.uptime_s, 25000);
  EXPECT_EQ(r.fans, (Ints{5400, 5280}));
  EXPECT_TRUE(Near(r.temp_max, 81.0));
  EXPECT_EQ(r.mac, "d4:01:02:03:04:05");  // get_miner_info "mac"
  EXPECT_EQ(r.hostname, "WhatsMiner");
  EXPECT_EQ(r.serial, "");  // this firmware's get_miner_info gives none
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0], (MinerError{"218", ""}));  // the value is when, not a message
  EXPECT_EQ(r.errors[1], (MinerError{"110", ""}));
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.boards[1].chips, 135);
  EXPECT_TRUE(Near(r.boards[1].temp_board, 66.0));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 81.0));
  EXPECT_TRUE(Near(r.boards[1].hashrate, 41800000.0e6));  // edevs give only "MHS av" (MH/s)
  EXPECT_TRUE(Near(r.boards[1].hashrate_expected, 42000e9));  // "Factory GHS", true GH/s
  EXPECT_EQ(r.firmware, "btminer");  // every Description says "cgminer 4.9.2"
  EXPECT_EQ(r.worker, "asic-rs.test");
}

// 2024+ status: STATUS a string, Msg an object with "mineroff" and
// "FirmwareVersion" (no quotes), Description empty.
TEST(WhatsminerV2, Fw2024StatusAlone) {
  const Record r = PollV2({Fixture("whatsminer-v2-status.json")});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.family, "whatsminer");
  EXPECT_EQ(r.firmware_build, "20240624.18.REL");
  EXPECT_FALSE(r.sleeping);  // "mineroff":"false"
  EXPECT_EQ(r.hashrate, std::nullopt);
}

TEST(WhatsminerV2, MinerOffIsSleeping) {
  json status = Fixture("whatsminer-v2-status.json");
  status["Msg"]["mineroff"] = "true";
  const Record r = PollV2({status});
  EXPECT_TRUE(r.sleeping);
  EXPECT_TRUE(Near(r.hashrate, 0));
  EXPECT_EQ(r.efficiency_j_per_th, std::nullopt);
}

// fw 2022 status and get_version of the v1.4 API: the build either way.
TEST(WhatsminerV2, ApiV14StatusAndGetVersion) {
  const Record status = PollV2({Fixture("whatsminer-v1.4-status.json")});
  EXPECT_EQ(status.status, MinerStatus::kOk);
  EXPECT_EQ(status.family, "whatsminer");
  EXPECT_EQ(status.firmware_build, "20220919.15.REL");  // "'20220919.15.REL'"
  EXPECT_FALSE(status.sleeping);                         // "btmineroff":"false"
  const Record version = PollV2({Fixture("whatsminer-v1.4-get_version.json")});
  EXPECT_EQ(version.family, "whatsminer");
  EXPECT_EQ(version.firmware_build, "20210322.22.REL");
}

// get_psu names the supply and its fan; no power reading, so nothing is taken.
TEST(WhatsminerV2, GetPsuAddsNoMeasurement) {
  const Record r = PollV2({Fixture("whatsminer-v2-get_psu.json")});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.power_w, std::nullopt);
  EXPECT_TRUE(r.fans.empty());  // "fan_speed" is the PSU's fan, not the miner's
}

// An older firmware refuses a get_* command (the refusal as a 2026 M31S
// answered "version", quoted in a public protocol note; hand-copied): the
// rest of the poll still reads.
TEST(WhatsminerV2, RefusedGetCommandLeavesTheRest) {
  const json refused = json::parse(
      R"({"STATUS":"E","When":1771351973,"Code":14,"Msg":"invalid cmd","Description":"whatsminer v1.1"})");
  const Record r = PollV2({Multi({{"summary", "whatsminer-v1.4-summary.json"}}), refused});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "invalid cmd");
  EXPECT_TRUE(Near(r.hashrate, 70668114.52e6));
}

// Hand-made (no capture found): 2026 btminer is said to write Elapsed as a
// float; the uptime is its whole seconds.
TEST(WhatsminerV2, FloatElapsed) {
  json summary = Fixture("whatsminer-v1.4-summary.json");
  summary["SUMMARY"][0]["Elapsed"] = 10154.6;
  const Record r = PollV2({summary});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.uptime_s, 10155);
}

TEST(WhatsminerV2, HostileIdentityAndErrors) {
  const json info = json::parse(R"({"STATUS":"S","Code":131,"Msg":{"mac":"not a mac",
      "hostname":["x"],"error_code":[{"abc":"t"},"12",-5,1e30,{"7":"t","8":"t"},null]}})");
  const Record r = PollV2({info});
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.mac, "");
  EXPECT_EQ(r.hostname, "");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].code, "12");
  EXPECT_EQ(r.errors[1].code, "7");
  EXPECT_EQ(r.errors[2].code, "8");
}

TEST(WhatsminerV2, MacAddressForms) {
  EXPECT_EQ(MacAddress("C4:08:28:00:A4:19"), "c4:08:28:00:a4:19");
  EXPECT_EQ(MacAddress(" c4-08-28-00-a4-19 "), "c4:08:28:00:a4:19");
  EXPECT_EQ(MacAddress("c4:08:28:00:a4"), "");
  EXPECT_EQ(MacAddress("g4:08:28:00:a4:19"), "");
  EXPECT_EQ(MacAddress("c4:08:28:00:a4:190"), "");
  EXPECT_EQ(MacAddress("c4.08.28.00.a4.19"), "");
}

// ---- API v3 -------------------------------------------------------------------

TEST(WhatsminerV3, PollPlanIsLengthPrefixedOn4433) {
  const Family* f = FindFamily("whatsminer3");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->poll.size(), 2u);
  for (const PollStep& step : f->poll) {
    EXPECT_EQ(step.framing, Framing::kLengthPrefixed) << step.name;
    EXPECT_EQ(step.port, kWhatsminerV3Port) << step.name;
    EXPECT_EQ(step.request.find("token"), std::string_view::npos);  // reads need none
  }
  EXPECT_EQ(f->poll[0].request, R"({"cmd":"get.device.info"})");
  EXPECT_EQ(f->poll[1].request, R"({"cmd":"get.miner.status","param":"summary+pools+edevs"})");
}

// M60S_VK40, fw 20251209.16.Rel2, API 3.0.2.
TEST(WhatsminerV3, M60sDeviceInfoAndStatus) {
  const Record r = M60s().Read();
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.ip, "10.0.0.7");  // the caller's address stays
  EXPECT_EQ(r.port, kWhatsminerV3Port);
  EXPECT_EQ(r.family, "whatsminer3");
  EXPECT_EQ(r.model, "Whatsminer M60S");  // "M60S_VK40": the hash board variant goes
  EXPECT_EQ(r.algorithm, "sha256d");
  EXPECT_EQ(r.firmware, "btminer");
  EXPECT_EQ(r.firmware_build, "20251209.16.Rel2");
  EXPECT_EQ(r.mac, "ce:02:01:00:8c:36");
  EXPECT_EQ(r.hostname, "WhatsMiner");
  EXPECT_EQ(r.serial, "BTM3CS40HD24083100000000000000000");
  EXPECT_TRUE(Near(r.hashrate, 171.259e12));  // v3 rates are TH/s
  EXPECT_TRUE(Near(r.hashrate_avg, 170.8e12));
  EXPECT_TRUE(Near(r.hashrate_expected, 181.051e12));  // "factory-hash"
  EXPECT_EQ(r.uptime_s, 50000);                         // "elapsed", not "bootup-time"
  EXPECT_TRUE(Near(r.power_w, 3156.0));                 // "power-realtime"
  EXPECT_TRUE(Near(r.efficiency_j_per_th, 3156.0 / 171.259));
  EXPECT_EQ(r.fans, (Ints{5400, 5280}));
  EXPECT_TRUE(Near(r.temp_max, 82.0));  // "chip-temp-max"
  EXPECT_FALSE(r.sleeping);             // "working":"true"
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.boards.size(), 3u);
  EXPECT_EQ(r.boards[0].index, 0);
  EXPECT_TRUE(Near(r.boards[0].hashrate, 57.2e12));  // "hash-realtime" before "hash-average"
  EXPECT_TRUE(Near(r.boards[0].hashrate_expected, 60.35e12));
  EXPECT_EQ(r.boards[0].chips, 75);
  EXPECT_TRUE(Near(r.boards[0].freq_mhz, 625));
  EXPECT_TRUE(Near(r.boards[0].temp_chip, 80.0));
  EXPECT_TRUE(Near(r.boards[0].temp_board, 41.1));  // "board-temperature"[0]
  EXPECT_TRUE(Near(r.boards[2].temp_board, 41.5));
  EXPECT_TRUE(Near(r.boards[1].temp_chip, 82.0));
  ASSERT_EQ(r.pools.size(), 3u);
  EXPECT_EQ(r.pools[0].url, "stratum+tcp://btc.example.pool:3333");
  EXPECT_EQ(r.pools[0].status, "alive");
  EXPECT_EQ(r.pools[0].priority, 0);
  EXPECT_TRUE(r.pools[0].active);
  EXPECT_FALSE(r.pools[1].active);
  EXPECT_EQ(r.pools[2].index, 2);  // no "id": by position
  EXPECT_EQ(r.worker, "asic-rs.test");
  EXPECT_EQ(r.accepted, std::nullopt);  // v3 reports no share counts here
}

// The firmware's own error list: the code the key, "reason" its message.
TEST(WhatsminerV3, DeviceInfoErrors) {
  V3Poll poll;
  poll.File("get.device.info", "whatsminer-m60s-v3-get.device.info-errors.json");
  const Record r = poll.Read();
  EXPECT_EQ(r.status, MinerStatus::kOk);
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0], (MinerError{"264", "Power xfer error. code: 0xffffffffc0000000"}));
  EXPECT_EQ(r.errors[3], (MinerError{"267", "Power watch dog protected. code: 0xffffffffc0000000"}));
  EXPECT_EQ(r.errors[4].code, "270");
  EXPECT_EQ(r.hashrate, std::nullopt);  // device info alone carries no rate
  EXPECT_EQ(r.model, "Whatsminer M60S");
}

// The MicroBT document's example: bare codes and a "working":"false" miner.
TEST(WhatsminerV3, StoppedMinerIsSleeping) {
  V3Poll poll;
  poll.Add("get.device.info",
           R"({"code":0,"when":1692685443,"msg":{"miner":{"working":"false","type":"M30S++_VH70"},
              "power":{"pin":3264},"error-code":[541,"2010"]},"desc":"get.device.info"})");
  const Record r = poll.Read();
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.model, "Whatsminer M30S++");
  EXPECT_TRUE(r.sleeping);
  EXPECT_TRUE(Near(r.hashrate, 0));
  EXPECT_TRUE(Near(r.power_w, 3264));  // the PSU's output when no summary says
  EXPECT_EQ(r.efficiency_j_per_th, std::nullopt);
  ASSERT_EQ(r.errors.size(), 2u);  // bare codes, a number or a string of digits
  EXPECT_EQ(r.errors[0], (MinerError{"541", ""}));
  EXPECT_EQ(r.errors[1], (MinerError{"2010", ""}));
}

// Fingerprinting asks the v3 reader about replies that are not v3.
TEST(WhatsminerV3, OtherRepliesAreNotV3) {
  V3Poll poll;
  poll.File("get.device.info", "whatsminer-v1.4-summary.json");
  const Record r = poll.Read();
  EXPECT_EQ(r.status, MinerStatus::kApiError);
  EXPECT_EQ(r.error, "get.device.info: not a Whatsminer API v3 reply");
  EXPECT_EQ(r.family, "");
  EXPECT_EQ(r.model, "");
  EXPECT_EQ(V3Poll().Read().status, MinerStatus::kApiError);  // nothing came
}

TEST(WhatsminerV3, RefusalsAndPartialFailures) {
  V3Poll denied;
  denied.Add("get.device.info", R"({"code":-4,"when":1,"msg":"no permission","desc":"get.device.info"})");
  const Record d = denied.Read();
  EXPECT_EQ(d.status, MinerStatus::kAuthError);
  EXPECT_EQ(d.error, "get.device.info: no permission (code -4)");

  V3Poll partial = M60s();
  partial.Add("get.miner.status", R"({"code":-2,"when":1,"msg":"invalid command","desc":"get.miner.status"})");
  const Record p = partial.Read();
  EXPECT_EQ(p.status, MinerStatus::kOk);
  EXPECT_EQ(p.error, "get.miner.status: invalid command (code -2)");
}

TEST(WhatsminerV3, HostileTypes) {
  V3Poll poll;
  poll.Add("get.device.info", R"({"code":"0","msg":{},"desc":"get.device.info"})")
      .Add("get.miner.status", R"({"code":0,"msg":[1,2],"desc":"get.miner.status"})")
      .Add("get.miner.status",
           R"({"code":0,"desc":"get.miner.status","msg":{"summary":{"hash-realtime":"x",
              "elapsed":1e300,"power-realtime":-5,"board-temperature":"hot",
              "fan-speed-in":1e12},"edevs":[{"id":1e20,"freq":-1},7],"pools":{"a":1}}})");
  const Record r = poll.Read();
  EXPECT_EQ(r.status, MinerStatus::kOk);
  EXPECT_EQ(r.hashrate, std::nullopt);
  EXPECT_EQ(r.uptime_s, std::nullopt);
  EXPECT_EQ(r.power_w, std::nullopt);
  EXPECT_TRUE(r.fans.empty());
  ASSERT_EQ(r.boards.size(), 1u);
  EXPECT_EQ(r.boards[0].freq_mhz, std::nullopt);
  EXPECT_TRUE(r.pools.empty());
  EXPECT_EQ(r.error, "get.device.info: not a Whatsminer API v3 reply");
}

// btminer before API v2.0 refuses get_miner_info and get_error_code: its
// poll needs only the first two steps from then on; a 2023+ form that
// answers them keeps the full plan.
TEST(WhatsminerLeanPlan, OnlyFirmwareThatRefusesTheV2CommandsIsPolledLean) {
  const Family* f = FindFamily("whatsminer");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->lean_poll.size(), 2u);
  EXPECT_EQ(f->lean_poll[0].name, f->poll[0].name);
  const std::string refusal =
      R"({"STATUS":"E","When":1,"Code":14,"Msg":"invalid cmd","Description":""})";
  const std::string answered = testing::ReadFixture("whatsminer-v2-get_miner_info.json");
  using Payloads = std::vector<std::optional<std::string>>;
  EXPECT_TRUE(f->lean_suffices(Payloads{"{}", "{}", refusal, refusal}));
  EXPECT_TRUE(f->lean_suffices(Payloads{"{}", "{}", std::nullopt, refusal}));
  EXPECT_FALSE(f->lean_suffices(Payloads{"{}", "{}", answered, refusal}));
  EXPECT_FALSE(f->lean_suffices(Payloads{std::nullopt, "{}", refusal, refusal}));
  EXPECT_FALSE(f->lean_suffices(Payloads{"{}", "{}"}));
}

TEST(StatusForm, ReadsHowAReplysStatusBegins) {
  EXPECT_EQ(StatusForm(R"({"STATUS":[{"STATUS":"S"}]})"), '[');
  EXPECT_EQ(StatusForm(R"({"STATUS": [{"STATUS": "S"}]})"), '[');
  EXPECT_EQ(StatusForm(R"({"STATUS":{"STATUS":"S","when":1}})"), '{');
  EXPECT_EQ(StatusForm(R"({"STATUS":"E","Code":14})"), 'E');
  EXPECT_EQ(StatusForm(R"({"STATUS" : "E"})"), 'E');
  EXPECT_EQ(StatusForm(R"({"STATUS":"S","Msg":{}})"), '"');
  EXPECT_FALSE(StatusForm(R"({"SUMMARY":[],"STATUS":[]})"));
  EXPECT_FALSE(StatusForm(R"({"STATUS")"));
  EXPECT_FALSE(StatusForm(""));
  EXPECT_TRUE(StepRefused(std::nullopt));
  EXPECT_FALSE(StepRefused(std::string(R"({"STATUS":[{"STATUS":"E"}]})")));
}

}  // namespace
}  // namespace asicmon
