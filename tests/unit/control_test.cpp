// control's input checks and its /metrics rendering.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "asicmon/bus.h"
#include "asicmon/clock.h"
#include "asicmon/events.h"
#include "metrics.h"
#include "testlib.h"
#include "validate.h"

namespace asicmon::control {
namespace {

// The addresses in these tests are text for the validators: farms put their
// miners on private networks (10/8, 192.168/16), so control must accept them,
// but nothing here opens a socket. Tests that contact a miner use 127.x.y.z.
TEST(ValidateIp, AcceptsDottedQuads) {
  for (const char* ip : {"10.0.0.1", "192.168.2.254", "127.39.0.1", "0.0.0.0", "255.255.255.255"}) {
    EXPECT_OK(ValidateIp(ip));
  }
}

TEST(ValidateIp, RefusesEverythingElse) {
  for (const char* ip :
       {"", "10.0.0", "10.0.0.1.2", "10.0.0.256", "010.0.0.1", "10.0.0.-1", "localhost",
        "miner1.farm", "::1", "10.0.0.1 ", " 10.0.0.1", "10.0.0.1:4028", "1e1.0.0.1",
        "10..0.1", "10.0.0.", "4294967295", "10.0.0.1\n"}) {
    Status s = ValidateIp(ip);
    EXPECT_FALSE(s.ok()) << ip;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << ip;
  }
}

TEST(ValidateWorker, AcceptsPoolWorkerNames) {
  for (const char* w : {"farm.w0001", "bc1qxyz.rig_7", "user-1", "a"}) EXPECT_OK(ValidateWorker(w));
}

TEST(ValidateWorker, RefusesSmuggledSeparatorsAndControlBytes) {
  for (std::string w : {std::string(""), std::string("a,b"), std::string("a b"),
                        std::string("a\"b"), std::string("a\\b"), std::string("a|b"),
                        std::string("a\nb"), std::string("a\0b", 3), std::string(129, 'w'),
                        std::string("\xc3\xa9")}) {
    EXPECT_FALSE(ValidateWorker(w).ok()) << w;
  }
  EXPECT_OK(ValidateWorker(std::string(128, 'w')));
}

TEST(ValidatePoolUrl, AcceptsStratumUrls) {
  for (const char* url : {"stratum+tcp://pool.example.com:3333", "stratum+ssl://10.0.0.9:443",
                          "stratum2+tcp://v2.pool.io:3336", "stratum+tcp://a:1"}) {
    EXPECT_OK(ValidatePoolUrl(url));
  }
}

TEST(ValidatePoolUrl, RefusesOtherSchemesHostsAndPorts) {
  for (const char* url :
       {"", "http://pool:3333", "pool.example.com:3333", "stratum+tcp://", "stratum+tcp://pool",
        "stratum+tcp://pool:", "stratum+tcp://pool:0", "stratum+tcp://pool:65536",
        "stratum+tcp://pool:3333/path", "stratum+tcp://po,ol:3333", "stratum+tcp://pool :3333",
        "stratum+tcp://user@pool:3333", "stratum+tcp://.pool:3333", "stratum+tcp://pool:33a"}) {
    EXPECT_FALSE(ValidatePoolUrl(url).ok()) << url;
  }
  EXPECT_FALSE(ValidatePoolUrl("stratum+tcp://" + std::string(300, 'a') + ":1").ok());
}

// Stratum V2 URLs carry the pool's authority public key (issue 17: they were
// refused for "nothing after" the port).
// Braiins Pool's published key (its Stratum V2 manual), a bare 32-byte key:
constexpr const char* kBraiinsPoolKey = "u95GEReVMjK6k5YqiSFNqqTnKU4ypU2Wm8awa6tmbmDmk1bWt";
// The reference implementation's form, a 2-byte version then the key: made
// for this test from SHA-256("asicmon test authority") with version 1.
constexpr const char* kVersionedKey = "9c8u1gsutyfQNLC9RzcmFp2JAztw9eBaBTsvdbdn6muEtdpHxnJ";

TEST(ValidatePoolUrl, AcceptsStratumV2WithItsAuthorityKey) {
  for (const std::string& url :
       {std::string("stratum2+tcp://v2.stratum.braiins.com/") + kBraiinsPoolKey,
        std::string("stratum2+tcp://v2.eu.stratum.braiins.com:3336/") + kBraiinsPoolKey,
        std::string("stratum2+tcp://10.0.0.9:34254/") + kVersionedKey}) {
    EXPECT_OK(ValidatePoolUrl(url));
  }
}

TEST(ValidatePoolUrl, RefusesAStratumV2KeyThatIsNotOne) {
  std::string typo = kBraiinsPoolKey;
  typo[10] = typo[10] == 'a' ? 'b' : 'a';  // the checksum catches one wrong character
  const std::string braiins(kBraiinsPoolKey);
  for (const std::string& key :
       {typo, braiins.substr(0, braiins.size() - 1), braiins + "1", braiins.substr(0, 20),
        std::string(""), "0" + braiins.substr(1), "l" + braiins.substr(1),
        braiins + "/extra", std::string(70, '2')}) {
    const std::string url = "stratum2+tcp://v2.stratum.braiins.com:3336/" + key;
    Status s = ValidatePoolUrl(url);
    EXPECT_FALSE(s.ok()) << url;
  }
  // A key is Stratum V2's: V1 URLs still end at the port.
  EXPECT_FALSE(ValidatePoolUrl(std::string("stratum+tcp://pool:3333/") + kBraiinsPoolKey).ok());
  // Without a key the port is required, as for V1.
  EXPECT_FALSE(ValidatePoolUrl("stratum2+tcp://v2.pool.io").ok());
  EXPECT_FALSE(ValidatePoolUrl(std::string("stratum2+tcp://:3336/") + kBraiinsPoolKey).ok());
  EXPECT_FALSE(ValidatePoolUrl(std::string("stratum2+tcp:///") + kBraiinsPoolKey).ok());
}

TEST(ValidatePoolField, PasswordMayBeEmptyUserMayNot) {
  EXPECT_OK(ValidatePoolField("password", "", true));
  EXPECT_FALSE(ValidatePoolField("user", "", false).ok());
  EXPECT_OK(ValidatePoolField("user", "farm.w1", false));
  Status s = ValidatePoolField("password", "sec,ret", true);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("sec,ret"), std::string::npos) << "a password must not be echoed";
}

TEST(ValidatePoolField, RefusesShellMetacharacters) {
  // Stock firmware hands the pool fields to set_miner_conf.cgi, a shell script.
  for (std::string v : {"$(reboot)", "`id`", "a;b", "a&b", "a>b", "a<b", "a'b", "a*", "a?",
                        "a!b", "a#b", "~root", "a(b)", "a{b}", "a[b]", "a^b", "a\tb"}) {
    EXPECT_FALSE(ValidatePoolField("user", v, false).ok()) << v;
  }
  for (const char* v : {"bc1qxyz.rig_7", "user@example.com", "d=1024", "acct+w1", "x:y/z%20-1"}) {
    EXPECT_OK(ValidatePoolField("password", v, true));
  }
}

// The audit detail control writes for a power change is what the store reads
// a hold at reduced power from (asicmon/events.h).
TEST(PowerChangeDetail, NamesTheSettingTheStoreReadsAHoldFrom) {
  using driver::PowerMode;
  EXPECT_EQ(PowerChangeDetail({.mode = PowerMode::kLow, .limit_w = {}}), "mode=low");
  EXPECT_EQ(PowerChangeDetail({.mode = {}, .limit_w = 2000}), "limit_w=2000");
  EXPECT_TRUE(PowerDetailReduces(PowerChangeDetail({.mode = PowerMode::kLow, .limit_w = {}})));
  EXPECT_TRUE(PowerDetailReduces(PowerChangeDetail({.mode = {}, .limit_w = 2000}) +
                                 " (curtailment to 5.000 kW)"));
  EXPECT_FALSE(PowerDetailReduces(PowerChangeDetail({.mode = PowerMode::kNormal, .limit_w = {}})));
  EXPECT_FALSE(PowerDetailReduces(PowerChangeDetail({.mode = PowerMode::kHigh, .limit_w = {}})));
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("s3cret-token", "s3cret-token"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token", "s3cret-tokeN"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret-token", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

Record Miner(const std::string& ip, MinerStatus status) {
  Record r;
  r.ip = ip;
  r.ts = 1700000000;
  r.status = status;
  r.model = "Antminer S9";
  r.worker = "farm.\"w1\"";  // a quote, to see label escaping
  if (status == MinerStatus::kOk) {
    r.hashrate = 13.5e12;
    r.temp_max = 78;
    r.fans = {5400, 0};
    r.boards.push_back({6, 4.5e12, 4.6e12, 60, 78, 63, 62, 1, 650, 3});
  }
  return r;
}

// Samples of `family` in exposition `text` (lines that start with its name
// and a label set).
size_t Samples(const std::string& text, const std::string& family) {
  size_t n = 0;
  for (size_t at = text.find("\n" + family + "{"); at != std::string::npos;
       at = text.find("\n" + family + "{", at + 1)) {
    ++n;
  }
  return n;
}

TEST(RenderMinerGauges, OneSamplePerReportedValueWithMinerLabels) {
  MinerGauges gauges;
  gauges.Reset({Miner("10.0.0.2", MinerStatus::kTimeout), Miner("10.0.0.1", MinerStatus::kOk)});
  std::string text = "\n";
  gauges.Render(text);
  EXPECT_EQ(Samples(text, "asicmon_miner_up"), 2u);
  EXPECT_EQ(Samples(text, "asicmon_miner_hashrate_hashes_per_second"), 1u);  // none when silent
  EXPECT_EQ(Samples(text, "asicmon_miner_fan_rpm"), 2u);
  EXPECT_EQ(Samples(text, "asicmon_miner_board_chips_failed"), 1u);
  EXPECT_EQ(Samples(text, "asicmon_miner_power_watts"), 0u);  // not reported: no sample, never 0
  EXPECT_NE(text.find("# TYPE asicmon_miner_up gauge\n"), std::string::npos);
  // Every family's samples follow its own header, as the format requires.
  EXPECT_LT(text.find("# TYPE asicmon_miner_fan_rpm gauge"), text.find("\nasicmon_miner_fan_rpm{"));
  EXPECT_NE(text.find("asicmon_miner_hashrate_hashes_per_second{ip=\"10.0.0.1\",model=\"Antminer "
                      "S9\",worker=\"farm.\\\"w1\\\"\"} 13500000000000"),
            std::string::npos)
      << text;
}

TEST(MinerGauges, KeepsTheNewestRecordOfEachMinerInAddressOrder) {
  MinerGauges gauges;
  Record newer = Miner("10.0.0.10", MinerStatus::kOk);
  newer.ts = 2000;
  Record older = Miner("10.0.0.10", MinerStatus::kTimeout);
  older.ts = 1000;
  gauges.Update(newer);
  gauges.Update(older);  // arrives late: ignored
  gauges.Update(Miner("10.0.0.9", MinerStatus::kTimeout));
  std::string text;
  gauges.Render(text);
  EXPECT_EQ(gauges.size(), 2u);
  EXPECT_NE(text.find("asicmon_miner_up{ip=\"10.0.0.10\",model=\"Antminer S9\",worker=\"farm.\\\"w1\\\"\"} 1"),
            std::string::npos);
  EXPECT_LT(text.find("ip=\"10.0.0.9\""), text.find("ip=\"10.0.0.10\""));  // 9 before 10
}

TEST(MinerGauges, SleepingMinersAreAGaugeAndCountedInTheTotals) {
  MinerGauges gauges;
  Record asleep = Miner("10.0.0.1", MinerStatus::kOk);
  asleep.sleeping = true;
  asleep.hashrate = 0;
  gauges.Reset(
      {asleep, Miner("10.0.0.2", MinerStatus::kOk), Miner("10.0.0.3", MinerStatus::kTimeout)});
  std::string text;
  gauges.Render(text);
  EXPECT_EQ(Samples(text, "asicmon_miner_sleeping"), 3u);
  EXPECT_NE(text.find("asicmon_miner_sleeping{ip=\"10.0.0.1\",model=\"Antminer S9\","
                      "worker=\"farm.\\\"w1\\\"\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("asicmon_miner_sleeping{ip=\"10.0.0.2\""), std::string::npos);
  const FarmTotals totals = gauges.Totals();
  EXPECT_EQ(totals.sleeping, 1u);
  EXPECT_EQ(totals.by_status[static_cast<size_t>(MinerStatus::kOk)], 2u);  // asleep is up
  const nlohmann::json j = nlohmann::json::parse(FarmTotalsJson(totals));
  EXPECT_EQ(j["sleeping"], 1);
  EXPECT_EQ(j["up"], 2);
  EXPECT_EQ(j["down"], 1);
  // Woken: the newer record replaces it.
  Record woken = Miner("10.0.0.1", MinerStatus::kOk);
  woken.ts = asleep.ts + 30;
  gauges.Update(woken);
  EXPECT_EQ(gauges.Totals().sleeping, 0u);
}

// SHA-256 and scrypt hashrates do not add up: the totals keep each apart,
// and a miner down at its last poll keeps its algorithm and nominal rate.
TEST(MinerGauges, TotalsPerAlgorithmKeepADownMinersAlgorithm) {
  MinerGauges gauges;
  Record s9 = Miner("10.0.0.1", MinerStatus::kOk);
  s9.algorithm = "sha256d";
  s9.hashrate_expected = 14e12;
  Record l3 = Miner("10.0.0.2", MinerStatus::kOk);
  l3.model = "Antminer L3+";
  l3.algorithm = "scrypt";
  l3.hashrate = 500e6;
  l3.hashrate_expected = 504e6;
  Record silent = Miner("10.0.0.3", MinerStatus::kTimeout);  // never said: unknown
  gauges.Reset({s9, l3, silent});
  Record l3_down = Miner("10.0.0.2", MinerStatus::kTimeout);  // a failed poll: no algorithm
  l3_down.model.clear();
  l3_down.ts = l3.ts + 30;
  gauges.Update(l3_down);

  const FarmTotals totals = gauges.Totals();
  ASSERT_EQ(totals.algorithms.size(), 3u);
  EXPECT_EQ(totals.algorithms.at("sha256d").miners, 1u);
  EXPECT_DOUBLE_EQ(totals.algorithms.at("sha256d").hashrate, 13.5e12);
  EXPECT_DOUBLE_EQ(totals.algorithms.at("sha256d").hashrate_expected, 14e12);
  EXPECT_EQ(totals.algorithms.at("scrypt").miners, 1u);
  EXPECT_DOUBLE_EQ(totals.algorithms.at("scrypt").hashrate, 0);  // down now
  EXPECT_DOUBLE_EQ(totals.algorithms.at("scrypt").hashrate_expected, 504e6);
  EXPECT_EQ(totals.algorithms.at("unknown").miners, 1u);
  EXPECT_DOUBLE_EQ(totals.hashrate_expected, 14e12 + 504e6);

  const nlohmann::json j = nlohmann::json::parse(FarmTotalsJson(totals));
  EXPECT_EQ(j["algorithms"]["scrypt"]["miners"], 1);
  EXPECT_DOUBLE_EQ(j["algorithms"]["sha256d"]["hashrate"].get<double>(), 13.5e12);
  EXPECT_DOUBLE_EQ(j["algorithms"]["scrypt"]["hashrate_expected"].get<double>(), 504e6);

  // Names come off the bus: bytes that are not UTF-8 still make valid JSON.
  Record odd = Miner("10.0.0.4", MinerStatus::kOk);
  odd.algorithm = "x\xff\"y";
  gauges.Update(odd);
  const nlohmann::json with_odd =
      nlohmann::json::parse(FarmTotalsJson(gauges.Totals()), nullptr, false);
  ASSERT_TRUE(with_odd.is_object());
  EXPECT_EQ(with_odd["algorithms"].size(), 4u);
}

TEST(Metrics, AMachinesSeriesCarryItsMacAcrossAddresses) {
  MinerGauges gauges;
  Record before = Miner("10.0.0.1", MinerStatus::kOk);
  before.mac = "02:a5:1c:00:00:0a";
  Record after = before;  // DHCP moved it
  after.ip = "10.0.0.7";
  after.ts = before.ts + 30;
  gauges.Reset({before});
  gauges.Update(after);
  std::string text;
  gauges.Render(text);
  EXPECT_NE(text.find("asicmon_miner_up{ip=\"10.0.0.7\",model=\"Antminer S9\",worker=\"farm."
                      "\\\"w1\\\"\",mac=\"02:a5:1c:00:00:0a\"} 1"),
            std::string::npos)
      << text.substr(0, 2000);
}

TEST(Metrics, RendersExpositionWithEscapedLabelsAndCounters) {
  Metrics metrics;
  metrics.CountRecord(MinerStatus::kTimeout);
  metrics.CountAction("reset", "ok");
  metrics.CountBusGaps("record", 3);
  MinerGauges gauges;
  gauges.Reset({Miner("10.0.0.1", MinerStatus::kOk), Miner("10.0.0.2", MinerStatus::kTimeout)});
  const std::string text = metrics.Render(gauges);
  EXPECT_NE(text.find("asicmon_miner_up{ip=\"10.0.0.1\",model=\"Antminer S9\",worker=\"farm.\\\"w1\\\"\"} 1"),
            std::string::npos)
      << text.substr(0, 2000);
  EXPECT_NE(text.find("asicmon_miner_up{ip=\"10.0.0.2\""), std::string::npos);
  EXPECT_NE(text.find("asicmon_miner_fan_rpm{ip=\"10.0.0.1\",model=\"Antminer S9\","
                      "worker=\"farm.\\\"w1\\\"\",fan=\"1\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("board=\"6\"} 1"), std::string::npos);  // chips failed on chain 6
  EXPECT_NE(text.find("asicmon_records_stored_total{status=\"timeout\"} 1"), std::string::npos);
  EXPECT_NE(text.find("asicmon_records_stored_total{status=\"ok\"} 0"), std::string::npos);
  EXPECT_NE(text.find("asicmon_control_actions_total{action=\"reset\",result=\"ok\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("asicmon_bus_gaps_total{topic=\"record\"} 3"), std::string::npos);
  EXPECT_NE(text.find("asicmon_miners 2"), std::string::npos);
}

// A stats event's bytes as control's bus watch reads them.
Result<std::optional<bus::StageStats>> DecodeStageStats(std::string_view bytes) {
  return testing::DecodeEventAs(bytes, EventKind::kStats, bus::StageStatsFromJson);
}

TEST(StageStats, RoundTripsAsAnEventAndLogsAsFields) {
  const bus::StageStats stats{"collect", "collect-rig1-42", 1700000000.5,
                              {{"jobs", 12}, {"ok", 11}, {"batch_ms", 2.5}}};
  EXPECT_EQ(stats.ToLogFields(), "jobs=12 ok=11 batch_ms=2.5");
  Result<std::optional<bus::StageStats>> back = DecodeStageStats(bus::EncodeStageStats(stats));
  ASSERT_OK(back);
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->stage, "collect");
  EXPECT_EQ((*back)->producer_id, "collect-rig1-42");
  EXPECT_EQ((*back)->ts, 1700000000.5);
  // A msgpack map keeps keys sorted, not in their order: compare as a set.
  auto values = (*back)->values;
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::pair<std::string, double>>{
                        {"batch_ms", 2.5}, {"jobs", 12}, {"ok", 11}}));
}

TEST(StageStats, OtherEventsAreNotStatsAndBadOnesAreErrors) {
  auto msgpack = [](const nlohmann::json& j) {
    const std::vector<uint8_t> b = nlohmann::json::to_msgpack(j);
    return std::string(b.begin(), b.end());
  };
  Result<std::optional<bus::StageStats>> control =
      DecodeStageStats(msgpack({{"kind", "control"}, {"action", "reset"}}));
  ASSERT_OK(control);
  EXPECT_FALSE(control->has_value());
  for (const nlohmann::json& bad :
       {nlohmann::json{{"kind", "stats"}},
        nlohmann::json{{"kind", "stats"}, {"stage", "x"}, {"producer_id", "p"}, {"ts", 1},
                       {"counters", {{"Bad Name", 1}}}},
        nlohmann::json{{"kind", "stats"}, {"stage", "x"}, {"producer_id", "p"}, {"ts", 1},
                       {"counters", {{"n", "text"}}}},
        nlohmann::json{{"kind", "stats"}, {"stage", "x\"}"}, {"producer_id", "p"}, {"ts", 1},
                       {"counters", nlohmann::json::object()}}}) {
    EXPECT_FALSE(DecodeStageStats(msgpack(bad)).ok()) << bad.dump();
  }
  EXPECT_FALSE(DecodeStageStats("\xc1 not msgpack").ok());
}

TEST(Metrics, RendersEachStagesNewestCounters) {
  Metrics metrics;
  metrics.UpdateStage({"store", "store-h-1", UnixNow(), {{"stored", 10}}});
  metrics.UpdateStage({"store", "store-h-1", UnixNow(), {{"stored", 25}}});
  metrics.UpdateStage({"collect", "collect-h-2", UnixNow() - 3600, {{"ok", 5}}});  // long gone
  const std::string text = metrics.Render(MinerGauges());
  EXPECT_NE(text.find("asicmon_stage_counter{stage=\"store\",producer=\"store-h-1\","
                      "counter=\"stored\"} 25\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("stored\"} 10"), std::string::npos);
  EXPECT_EQ(text.find("collect-h-2"), std::string::npos);
}

}  // namespace
}  // namespace asicmon::control
