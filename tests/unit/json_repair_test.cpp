// JSON repair: each firmware quirk at its position, and what must stay an error.
#include "json_repair.h"

#include <gtest/gtest.h>

#include "json_read.h"  // MemberOf
#include "testlib.h"

namespace asicmon {
namespace {

using asicmon::testing::ParseMinerJson;
using asicmon::testing::ReadFixture;

std::string Repaired(std::string_view raw, RepairStats* stats = nullptr) {
  Result<std::string> r = RepairMinerJson(raw, stats);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << " for: " << raw;
  return r.ok() ? *r : std::string();
}

TEST(JsonRepair, StrictJsonPassesUnchangedInMeaning) {
  RepairStats stats;
  const std::string raw = R"({"a": [1, 2.5, -3e2, "x y"], "b": {"c": null, "d": true}})";
  EXPECT_EQ(nlohmann::json::parse(Repaired(raw, &stats)), nlohmann::json::parse(raw));
  EXPECT_EQ(stats.total(), 0);
}

TEST(JsonRepair, ObjectsGluedInsideArrayGetAComma) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"STATS":[{"a":1}{"b":2}]})", &stats), R"({"STATS":[{"a":1},{"b":2}]})");
  EXPECT_EQ(stats.commas_inserted, 1);
}

TEST(JsonRepair, BraceBracePatternInsideStringIsLeftAlone) {
  RepairStats stats;
  const std::string raw = R"({"chain_xtime6":"{X0=58}{X1=59}","n":"inf"})";
  EXPECT_EQ(Repaired(raw, &stats), raw);
  EXPECT_EQ(stats.total(), 0);
}

TEST(JsonRepair, MissingCommaBetweenMembers) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"a":1 "b":"x" "c":{}})", &stats), R"({"a":1,"b":"x","c":{}})");
  EXPECT_EQ(stats.commas_inserted, 2);
}

TEST(JsonRepair, TrailingCommasRemoved) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"a":[1,2,],"b":3,})", &stats), R"({"a":[1,2],"b":3})");
  EXPECT_EQ(stats.trailing_commas_removed, 2);
}

TEST(JsonRepair, NonFiniteLiteralsBecomeNull) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"a":nan,"b":-inf,"c":NaN,"d":inf,"e":Infinity})", &stats),
            R"({"a":null,"b":null,"c":null,"d":null,"e":null})");
  EXPECT_EQ(stats.nonfinite_nulled, 5);
}

TEST(JsonRepair, SingleQuoteEscapeAndUnknownEscapes) {
  RepairStats stats;
  auto doc = ParseMinerJson(R"({"Msg":"can\'t","Path":"C:\data"})", &stats);
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["Msg"], "can't");
  EXPECT_EQ((*doc)["Path"], "C:\\data");
  EXPECT_EQ(stats.escapes_fixed, 2);
}

TEST(JsonRepair, ValidEscapesKept) {
  auto doc = ParseMinerJson(R"({"t":"a\nb\t\"q\" \u00e9 \\"})");
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["t"], "a\nb\t\"q\" \xC3\xA9 \\");
}

TEST(JsonRepair, RawControlBytesInsideStringsEscaped) {
  RepairStats stats;
  auto doc = ParseMinerJson(std::string("{\"Type\":\"Antminer S9\nV1.3\"}"), &stats);
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["Type"], "Antminer S9\nV1.3");
  EXPECT_EQ(stats.control_bytes_escaped, 1);
}

TEST(JsonRepair, TrailingNulAndStrayBytesDropped) {
  RepairStats stats;
  // A stray control byte after the brace and the NUL terminator cgminer sends.
  const std::string raw("{\x01\"a\":1}\0", 9);
  EXPECT_EQ(Repaired(raw, &stats), "{\"a\":1}");
  EXPECT_EQ(stats.stray_bytes_dropped, 2);
}

TEST(JsonRepair, GluedTopLevelDocumentsBecomeAnArray) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"a":1}{"b":2})", &stats), R"([{"a":1},{"b":2}])");
  EXPECT_EQ(stats.documents_merged, 1);
}

TEST(JsonRepair, LoneQuoteAfterCompleteReplyDropped) {
  RepairStats stats;
  EXPECT_EQ(Repaired(R"({"a":1}")", &stats), R"({"a":1})");
  EXPECT_EQ(stats.stray_bytes_dropped, 1);
  // Before the reply is complete, an unterminated string is still an error.
  EXPECT_FALSE(RepairMinerJson(R"({"a":")").ok());
}

TEST(JsonRepair, InvalidUtf8Replaced) {
  RepairStats stats;
  auto doc = ParseMinerJson(std::string("{\"w\":\"a\xFF\xC3\"}"), &stats);
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["w"], "a\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(stats.invalid_utf8_replaced, 2);
}

TEST(JsonRepair, LeadingPlusOnNumber) {
  auto doc = ParseMinerJson(R"({"t":+5})");
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["t"], 5);
}

// A reply cut short is never completed: inventing brackets would invent data.
TEST(JsonRepair, CutShortRepliesAreErrors) {
  for (const char* raw : {R"({"STATUS":[{"STATUS":"S")", R"({"a":"unterminated)", R"({"a":[1,2)",
                          R"({"a":)", R"({"a")", "{", R"({"a":"x\)"}) {
    Result<std::string> r = RepairMinerJson(raw);
    EXPECT_FALSE(r.ok()) << raw;
    EXPECT_EQ(r.status().code(), Status::Code::kParseError);
  }
}

TEST(JsonRepair, CutShortMessageSaysSo) {
  Result<std::string> r = RepairMinerJson(R"({"STATUS":[{"STATUS":"S"}],"SUMMARY":[{"Elapsed":12)");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cut short"), std::string::npos) << r.status().ToString();
}

TEST(JsonRepair, GarbageIsAnErrorNotACrash) {
  for (std::string raw : {std::string(""), std::string("\0\0", 2), std::string("HTTP/1.1 200 OK\r\n"),
                          std::string("<html>"), std::string("}"), std::string("{]"),
                          std::string("{\"a\" 1}"), std::string("{1:2}"), std::string("[\"a\":1]"),
                          std::string("{\"a\":1:2}"), std::string("\xFF\xFE"), std::string("@")}) {
    MinerJsonParser parser;
    Result<simdjson::dom::element> r = parser.Parse(raw);
    EXPECT_FALSE(r.ok()) << "accepted: " << raw;
  }
}

TEST(JsonRepair, MalformedNumberCaughtByParser) {
  MinerJsonParser parser;
  Result<simdjson::dom::element> r = parser.Parse(R"({"a":1.2.3})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kParseError);
}

// One parser serves reply after reply (a collect worker keeps one per thread):
// a failed parse in between leaves it usable, and each document is its own.
TEST(JsonRepair, ParserIsReusedAcrossReplies) {
  MinerJsonParser parser;
  Result<simdjson::dom::element> big = parser.Parse(ReadFixture("antminer-s9-stats.json"));
  ASSERT_OK(big);
  EXPECT_TRUE(MemberOf(*big, "STATS").has_value());
  EXPECT_FALSE(parser.Parse(R"({"a":)").ok());
  Result<simdjson::dom::element> small = parser.Parse(R"({"a":nan})");
  ASSERT_OK(small);
  EXPECT_EQ(parser.text(), R"({"a":null})");
  EXPECT_TRUE(MemberOf(*small, "a")->is_null());
  EXPECT_FALSE(MemberOf(*small, "STATS").has_value());
  EXPECT_FALSE(MemberOf(*small, "a").has_value() && MemberOf(*small, "a")->is_object());
}

// Counters past 2^64 are not an error: the value is kept as a double.
TEST(JsonRepair, IntegersBeyond64BitsStillParse) {
  MinerJsonParser parser;
  RepairStats stats;
  Result<simdjson::dom::element> doc =
      parser.Parse(R"({"Best Share":123456789012345678901234567890,"Diff":18446744073709551615,)"
                   R"("Low":-9223372036854775809})",
                   &stats);
  ASSERT_OK(doc);
  EXPECT_EQ(stats.wide_integers_widened, 2);  // uint64 max still fits as an integer
  double value = 0;
  ASSERT_EQ(MemberOf(*doc, "Best Share")->get(value), simdjson::SUCCESS);
  EXPECT_NEAR(value, 1.2345678901234568e29, 1e15);
}

TEST(JsonRepair, DeepNestingBounded) {
  std::string raw(100000, '[');
  Result<std::string> r = RepairMinerJson(raw);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nesting"), std::string::npos);
}

TEST(JsonRepair, EveryRealFixtureParses) {
  for (const char* name :
       {"antminer-b3-version.json", "antminer-d3-blissz-stats.json", "antminer-l3plus-pools.json",
        "antminer-l3plus-stats.json", "antminer-l3plus-version.json",
        "antminer-s17plus-stats-sleeping.json", "antminer-s17plus-version.json",
        "antminer-s17pro-pools.json", "antminer-s17pro-stats.json", "antminer-s17pro-version.json",
        "antminer-s19-get_miner_conf.cgi.json", "antminer-s19-pools.json",
        "antminer-s19-stats-sleeping.json", "antminer-s19-version.json",
        "antminer-s19pro-stats-cold.json", "antminer-s19pro-stats-overheating.json",
        "antminer-s19pro-version-b.json", "antminer-s19pro-version.json",
        "antminer-s9-bmminer-version.json", "antminer-s9-braiinsos-bmminer-version.json",
        "antminer-s9-hiveon-stats.json", "antminer-s9-pools.json", "antminer-s9-stats.json",
        "antminer-s9-version-newline-type.json", "antminer-s9-vnish-stats.json",
        "antminer-t15-stats.json", "antminer-t15-version.json",
        "antminer-t17plus-stats-sleeping.json", "antminer-t17plus-version.json",
        "avalon-10xx-multicommand-nan.json", "avalon-10xx-multicommand-pools+summary+stats.json",
        "braiinsos-plus-s9-devs.json", "braiinsos-plus-s9-fans.json", "braiinsos-plus-s9-pools.json",
        "braiinsos-plus-s9-summary.json", "braiinsos-plus-s9-temps.json",
        "braiinsos-plus-s9-version.json", "whatsminer-m20s-devs.json", "whatsminer-m20s-stats.json",
        "whatsminer-m20s-summary.json", "whatsminer-m3-stats.json", "whatsminer-m31s-edevs.json",
        "whatsminer-m31s-multicommand-error.json", "whatsminer-m31s-pools.json",
        "whatsminer-m31s-status-sleeping.json", "whatsminer-m31s-summary.json"}) {
    SCOPED_TRACE(name);
    MinerJsonParser parser;
    Result<simdjson::dom::element> doc = parser.Parse(ReadFixture(name));
    ASSERT_OK(doc);
    EXPECT_TRUE(doc->is_object());
  }
}

TEST(JsonRepair, S9StatsGluedObjectsGiveTwoStatsEntries) {
  RepairStats stats;
  Result<nlohmann::json> doc = ParseMinerJson(ReadFixture("antminer-s9-stats.json"), &stats);
  ASSERT_OK(doc);
  EXPECT_EQ((*doc)["STATS"].size(), 2u);
  EXPECT_EQ(stats.commas_inserted, 1);
  // chain_xtime strings hold "}{"-free braces and must be byte-identical.
  EXPECT_EQ((*doc)["STATS"][1]["chain_xtime6"].get<std::string>().substr(0, 12), "{X0=58,X1=59");
}

TEST(JsonRepair, AvalonBareNan) {
  RepairStats stats;
  Result<nlohmann::json> doc = ParseMinerJson(ReadFixture("avalon-10xx-multicommand-nan.json"), &stats);
  ASSERT_OK(doc);
  EXPECT_GE(stats.nonfinite_nulled, 1);
}

TEST(JsonRepair, WhatsminerEscapedQuote) {
  RepairStats stats;
  Result<nlohmann::json> doc = ParseMinerJson(ReadFixture("whatsminer-m20s-summary.json"), &stats);
  ASSERT_OK(doc);
  EXPECT_GE(stats.escapes_fixed, 1);
}

}  // namespace
}  // namespace asicmon
