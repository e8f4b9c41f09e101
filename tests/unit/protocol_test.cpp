// The API message layer: requests, STATUS blocks, multi-command parts.
#include "asicmon/protocol.h"

#include <gtest/gtest.h>

#include "asicmon/json_repair.h"
#include "testlib.h"

namespace asicmon {
namespace {

using nlohmann::json;

TEST(Protocol, BuildsRequests) {
  EXPECT_EQ(json::parse(BuildRequest("summary+stats+pools")), json({{"command", "summary+stats+pools"}}));
  EXPECT_EQ(json::parse(BuildRequest("addpool", "stratum+tcp://p:3333,u.w,x")),
            json({{"command", "addpool"}, {"parameter", "stratum+tcp://p:3333,u.w,x"}}));
  // Quotes in a parameter cannot break out of the JSON string.
  EXPECT_EQ(json::parse(BuildRequest("addpool", "a\",\"command\":\"restart"))["command"], "addpool");
}

TEST(Protocol, SuccessStatus) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-pools.json"));
  ASSERT_OK(doc);
  ReplyStatus s = CheckReplyStatus(*doc);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code, 7);
}

TEST(Protocol, AccessDeniedIsDenied) {
  json reply = json::parse(
      R"({"STATUS":[{"STATUS":"E","When":1,"Code":45,"Msg":"Access denied to 'restart' command","Description":"cgminer 4.9.0"}],"id":1})");
  ReplyStatus s = CheckReplyStatus(reply);
  EXPECT_EQ(s.kind, ReplyStatus::Kind::kDenied);
  EXPECT_EQ(s.code, 45);
}

TEST(Protocol, ErrorStatusKeepsMessage) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m31s-multicommand-error.json"));
  ASSERT_OK(doc);
  ReplyStatus s = CheckReplyStatus(*doc);
  EXPECT_EQ(s.kind, ReplyStatus::Kind::kError);
  EXPECT_EQ(s.code, 24);
  EXPECT_NE(s.msg.find("Missing JSON"), std::string::npos) << s.msg;
}

TEST(Protocol, WhatsminerStringStatusWithObjectMsg) {
  auto doc = ParseMinerJson(testing::ReadFixture("whatsminer-m31s-status-sleeping.json"));
  ASSERT_OK(doc);
  ReplyStatus s = CheckReplyStatus(*doc);
  EXPECT_NE(s.kind, ReplyStatus::Kind::kMissing);
}

TEST(Protocol, MissingOrOddStatus) {
  EXPECT_EQ(CheckReplyStatus(json::array()).kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(CheckReplyStatus(json({{"a", 1}})).kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(CheckReplyStatus(json({{"STATUS", 5}})).kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(CheckReplyStatus(json({{"STATUS", json::array({1})}})).kind, ReplyStatus::Kind::kMissing);
  EXPECT_EQ(CheckReplyStatus(json({{"STATUS", json::array({{{"STATUS", "W"}}})}})).kind,
            ReplyStatus::Kind::kError);
}

TEST(Protocol, ReplyPartOfMultiCommand) {
  auto doc = ParseMinerJson(testing::ReadFixture("avalon-10xx-multicommand-pools+summary+stats.json"));
  ASSERT_OK(doc);
  for (const char* part : {"summary", "stats", "pools"}) {
    const json* p = ReplyPart(*doc, part);
    ASSERT_NE(p, nullptr) << part;
    EXPECT_TRUE(CheckReplyStatus(*p).ok()) << part;
  }
  EXPECT_EQ(ReplyPart(*doc, "devs"), nullptr);
}

TEST(Protocol, ReplyPartOfSingleCommand) {
  auto doc = ParseMinerJson(testing::ReadFixture("antminer-s9-stats.json"));
  ASSERT_OK(doc);
  EXPECT_EQ(ReplyPart(*doc, "stats"), &*doc);
  EXPECT_EQ(ReplyPart(*doc, "pools"), nullptr);
}

}  // namespace
}  // namespace asicmon
