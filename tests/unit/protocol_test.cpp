// The API message layer: requests, STATUS blocks, multi-command parts.
#include "asicmon/protocol.h"

#include <gtest/gtest.h>

#include "json_read.h"  // MemberOf
#include "json_repair.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;

// The STATUS of a reply given as text (repaired and parsed as the client does).
ReplyStatus StatusOf(std::string_view raw) {
  MinerJsonParser parser;
  Result<simdjson::dom::element> doc = parser.Parse(raw);
  EXPECT_TRUE(doc.ok()) << doc.status().ToString();
  return doc.ok() ? CheckReplyStatus(*doc) : ReplyStatus{};
}

TEST(Protocol, BuildsRequests) {
  EXPECT_EQ(json::parse(BuildRequest("summary+stats+pools")), json({{"command", "summary+stats+pools"}}));
  EXPECT_EQ(json::parse(BuildRequest("addpool", "stratum+tcp://p:3333,u.w,x")),
            json({{"command", "addpool"}, {"parameter", "stratum+tcp://p:3333,u.w,x"}}));
  // Quotes in a parameter cannot break out of the JSON string.
  EXPECT_EQ(json::parse(BuildRequest("addpool", "a\",\"command\":\"restart"))["command"], "addpool");
}

TEST(Protocol, SuccessStatus) {
  const ReplyStatus s = StatusOf(testing::ReadFixture("antminer-s9-pools.json"));
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code, 7);
}

TEST(Protocol, AccessDeniedIsDenied) {
  const ReplyStatus s = StatusOf(
      R"({"STATUS":[{"STATUS":"E","When":1,"Code":45,"Msg":"Access denied to 'restart' command","Description":"cgminer 4.9.0"}],"id":1})");
  EXPECT_EQ(s.kind, ReplyStatus::Kind::kDenied);
  EXPECT_EQ(s.code, 45);
}

TEST(Protocol, ErrorStatusKeepsMessage) {
  const ReplyStatus s = StatusOf(testing::ReadFixture("whatsminer-m31s-multicommand-error.json"));
  EXPECT_EQ(s.kind, ReplyStatus::Kind::kError);
  EXPECT_EQ(s.code, 24);
  EXPECT_NE(s.msg.find("Missing JSON"), std::string::npos) << s.msg;
}

TEST(Protocol, WhatsminerStringStatusWithObjectMsg) {
  const ReplyStatus s = StatusOf(testing::ReadFixture("whatsminer-m31s-status-sleeping.json"));
  EXPECT_NE(s.kind, ReplyStatus::Kind::kMissing);
  EXPECT_NE(s.msg.find('{'), std::string::npos) << "an object Msg is shown as JSON: " << s.msg;
}

TEST(Protocol, MissingOrOddStatus) {
  EXPECT_EQ(StatusOf("[]").kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(StatusOf(R"({"a":1})").kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(StatusOf(R"({"STATUS":5})").kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(StatusOf(R"({"STATUS":[1]})").kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(StatusOf(R"({"STATUS":[]})").kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(StatusOf(R"({"STATUS":[{"STATUS":"W"}]})").kind, ReplyStatus::Kind::kError);
  EXPECT_EQ(StatusOf(R"({"STATUS":[{"STATUS":"S","Code":99999999999}]})").code, -1);
}

TEST(Protocol, ReplyPartOfMultiCommand) {
  MinerJsonParser parser;
  auto doc = parser.Parse(testing::ReadFixture("avalon-10xx-multicommand-pools+summary+stats.json"));
  ASSERT_OK(doc);
  for (const char* part : {"summary", "stats", "pools"}) {
    const std::optional<simdjson::dom::element> p = ReplyPart(*doc, part);
    ASSERT_TRUE(p.has_value()) << part;
    EXPECT_TRUE(CheckReplyStatus(*p).ok()) << part;
  }
  EXPECT_FALSE(ReplyPart(*doc, "devs").has_value());
}

TEST(Protocol, ReplyPartOfSingleCommand) {
  MinerJsonParser parser;
  auto doc = parser.Parse(testing::ReadFixture("antminer-s9-stats.json"));
  ASSERT_OK(doc);
  const std::optional<simdjson::dom::element> stats = ReplyPart(*doc, "stats");
  ASSERT_TRUE(stats.has_value());
  EXPECT_TRUE(MemberOf(*stats, "STATS").has_value());
  EXPECT_FALSE(ReplyPart(*doc, "pools").has_value());
}

// Whatsminer API v3 frames both ways with a 4-byte little-endian length
// (a 300-byte body has a NUL in its prefix: 2c 01 00 00).
TEST(Protocol, LengthPrefixedFraming) {
  const std::string body(300, 'x');
  const PollStep step{"get.device.info", Framing::kLengthPrefixed, kWhatsminerV3Port, body};
  const std::string framed = FrameRequest(step, "127.0.0.1");
  ASSERT_EQ(framed.size(), 304u);
  EXPECT_EQ(framed.substr(0, 4), std::string("\x2c\x01\x00\x00", 4));
  EXPECT_EQ(CompleteReplySize(Framing::kLengthPrefixed, framed.substr(0, 3)), std::nullopt);
  EXPECT_EQ(CompleteReplySize(Framing::kLengthPrefixed, framed.substr(0, 10)), 304u);
  const Payload whole = ReplyPayload(Framing::kLengthPrefixed, framed + "trailing");
  ASSERT_TRUE(whole.ok);
  EXPECT_EQ(whole.text, body);
  const Payload cut = ReplyPayload(Framing::kLengthPrefixed, framed.substr(0, 100));
  EXPECT_FALSE(cut.ok);
  EXPECT_EQ(cut.text, "reply shorter than its length prefix");
}

TEST(Protocol, HttpFramingAndBodies) {
  const PollStep step{"/api/system/info", Framing::kHttp, 80, "/api/system/info"};
  EXPECT_EQ(FrameRequest(step, "127.0.0.5"),
            "GET /api/system/info HTTP/1.1\r\nHost: 127.0.0.5\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n");
  const std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "content-length: 11\r\n\r\n{\"power\":1}";
  EXPECT_EQ(CompleteReplySize(Framing::kHttp, reply.substr(0, 20)), std::nullopt);
  EXPECT_EQ(CompleteReplySize(Framing::kHttp, reply), reply.size());
  Payload p = ReplyPayload(Framing::kHttp, reply);
  ASSERT_TRUE(p.ok) << p.text;
  EXPECT_EQ(p.text, "{\"power\":1}");
  EXPECT_EQ(p.http_status, 200);

  p = ReplyPayload(Framing::kHttp,
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=1\r\n:1}\r\n0\r\n\r\n");
  ASSERT_TRUE(p.ok) << p.text;
  EXPECT_EQ(p.text, "{\"a\":1}");
  EXPECT_FALSE(ReplyPayload(Framing::kHttp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nab").ok);
  p = ReplyPayload(Framing::kHttp, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.text, "HTTP 401");
  EXPECT_EQ(p.http_status, 401);
  EXPECT_FALSE(ReplyPayload(Framing::kHttp, "{\"STATUS\":[]}").ok);
  EXPECT_FALSE(ReplyPayload(Framing::kHttp, "HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n").ok);
  EXPECT_TRUE(LooksLikeHttp("HTTP/1.0 404 Not Found\r\n"));
  EXPECT_FALSE(LooksLikeHttp("{\"STATUS\""));
}

}  // namespace
}  // namespace asicmon
