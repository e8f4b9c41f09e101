// push's bodies: a JSON array and NDJSON carry RecordToJson's objects; the
// influx form follows line protocol (escaped tags, typed fields, ns stamps).
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "format.h"
#include "testlib.h"

namespace asicmon::push {
namespace {

using nlohmann::json;

Record MakeRecord(uint64_t seq) {
  Record r;
  r.producer_id = "collect-a";
  r.seq = seq;
  r.ts = 1700000000.25;
  r.ip = "10.0.0." + std::to_string(seq);
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.worker = "farm.w1";
  r.hashrate = 110e12;
  r.temp_max = 71.5;
  r.uptime_s = 1234;
  r.accepted = 10;
  r.fans = {5800, 5900};
  return r;
}

TEST(PushFormatTest, JsonArrayHoldsEveryRecordAsRecordToJson) {
  const std::vector<Record> records = {MakeRecord(1), MakeRecord(2), MakeRecord(3)};
  std::string body;
  FormatBatch(Format::kJson, records, body);
  const json parsed = json::parse(body);
  ASSERT_TRUE(parsed.is_array());
  ASSERT_EQ(parsed.size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) EXPECT_EQ(parsed[i], RecordToJson(records[i]));
  FormatBatch(Format::kJson, {}, body);
  EXPECT_EQ(body, "[]");
}

TEST(PushFormatTest, NdjsonIsOneObjectPerLine) {
  const std::vector<Record> records = {MakeRecord(1), MakeRecord(2)};
  std::string body;
  FormatBatch(Format::kNdjson, records, body);
  ASSERT_EQ(body.back(), '\n');
  std::vector<json> lines;
  for (size_t at = 0, nl; (nl = body.find('\n', at)) != std::string::npos; at = nl + 1) {
    lines.push_back(json::parse(body.substr(at, nl - at)));
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], RecordToJson(records[0]));
  EXPECT_EQ(lines[1], RecordToJson(records[1]));
}

TEST(PushFormatTest, InvalidUtf8FromAMinerIsReplacedNotThrown) {
  Record r = MakeRecord(1);
  r.worker = "bad\xff\xfe";
  std::string body;
  FormatBatch(Format::kJson, std::vector<Record>{r}, body);
  EXPECT_NO_THROW(json::parse(body));
}

// The direct writer against RecordToJson, on every kind of value a record holds.
TEST(PushFormatTest, InfluxTagValuesAreEscaped) {
  EXPECT_EQ(EscapeInfluxTag("Antminer S19 Pro"), "Antminer\\ S19\\ Pro");
  EXPECT_EQ(EscapeInfluxTag("a,b=c"), "a\\,b\\=c");
  EXPECT_EQ(EscapeInfluxTag("line\nbreak"), "line\\ break");
  EXPECT_EQ(EscapeInfluxTag("C:\\path\\"), "C:\\path");  // no trailing backslash
  EXPECT_EQ(EscapeInfluxTag("plain.w1"), "plain.w1");
  EXPECT_EQ(QuoteInfluxString("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
}

TEST(PushFormatTest, InfluxLineHasTagsTypedFieldsAndNanoseconds) {
  Record r = MakeRecord(7);
  r.worker = "farm w,1";
  std::string line;
  AppendInfluxLine(r, line);
  EXPECT_EQ(line,
            "miner,ip=10.0.0.7,model=Antminer\\ S19\\ Pro,worker=farm\\ w\\,1,"
            "firmware=BMMiner\\ 1.0.0 status=\"ok\",hashrate=110000000000000,temp_max=71.5,"
            "uptime_s=1234i,accepted=10i,port=4028i,seq=7i,sleeping=false,"
            "producer_id=\"collect-a\" 1700000000250000000");
  r.sleeping = true;
  line.clear();
  AppendInfluxLine(r, line);
  EXPECT_NE(line.find(",seq=7i,sleeping=true,producer_id="), std::string::npos) << line;
}

TEST(PushFormatTest, InfluxLeavesOutEmptyTagsAndUnreportedOrNonFiniteFields) {
  Record r;
  r.producer_id = "p";
  r.seq = 1;
  r.ts = 1700000000;
  r.ip = "10.0.0.1";
  r.status = MinerStatus::kTimeout;
  r.hashrate = std::numeric_limits<double>::quiet_NaN();
  std::string body;
  FormatBatch(Format::kInflux, std::vector<Record>{r, r}, body);
  const std::string line =
      "miner,ip=10.0.0.1 status=\"timeout\",port=4028i,seq=1i,sleeping=false,producer_id=\"p\" "
      "1700000000000000000\n";
  EXPECT_EQ(body, line + line);
}

TEST(PushFormatTest, FormatWordsAndContentTypes) {
  for (Format f : {Format::kJson, Format::kNdjson, Format::kInflux}) {
    EXPECT_EQ(ParseFormat(ToString(f)), f);
  }
  EXPECT_FALSE(ParseFormat("xml"));
  EXPECT_EQ(ContentType(Format::kJson), "application/json");
  EXPECT_EQ(ContentType(Format::kNdjson), "application/x-ndjson");
}

}  // namespace
}  // namespace asicmon::push
