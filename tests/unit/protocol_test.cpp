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

}  // namespace
}  // namespace asicmon
