// Topic "event"'s envelope: each kind named by "type", bodies of the forms
// written before the envelope still read as their kind (a pipeline upgraded
// one stage at a time), and hostile bytes refused before any parse.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "asicmon/bus.h"
#include "asicmon/events.h"
#include "asicmon/health.h"
#include "testlib.h"

namespace asicmon {
namespace {

template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

EventKind KindOf(const nlohmann::json& map) {
  Result<Event> event = DecodeEvent(testing::ToMsgpack(map));
  EXPECT_OK(event);
  return event.ok() ? event->kind : EventKind::kOther;
}

// Bytes as asicmon-collect 2fc9ecf sent its stats: the kind named by "kind".
TEST(EventEnvelope, StatsOfThePreviousFormDecode) {
  const std::string bytes = Bytes(
      "\x85\xa8\x63\x6f\x75\x6e\x74\x65\x72\x73\x82\xa4\x6a\x6f\x62\x73"
      "\x0c\xa2\x6f\x6b\x0b\xa4\x6b\x69\x6e\x64\xa5\x73\x74\x61\x74\x73"
      "\xab\x70\x72\x6f\x64\x75\x63\x65\x72\x5f\x69\x64\xaf\x63\x6f\x6c"
      "\x6c\x65\x63\x74\x2d\x72\x69\x67\x31\x2d\x34\x32\xa5\x73\x74\x61"
      "\x67\x65\xa7\x63\x6f\x6c\x6c\x65\x63\x74\xa2\x74\x73\xcb\x41\xd9"
      "\x54\xfc\x40\x20\x00\x00");
  Result<Event> event = DecodeEvent(bytes);
  ASSERT_OK(event);
  EXPECT_EQ(event->kind, EventKind::kStats);
  Result<bus::StageStats> stats = bus::StageStatsFromJson(event->body);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->stage, "collect");
  EXPECT_EQ(stats->producer_id, "collect-rig1-42");
  EXPECT_EQ(stats->ts, 1700000000.5);
  auto values = stats->values;
  std::sort(values.begin(), values.end());
  EXPECT_EQ(values, (std::vector<std::pair<std::string, double>>{{"jobs", 12}, {"ok", 11}}));
}

// Bytes as asicmon-control 2fc9ecf published a sleep: the kind named by "kind".
TEST(EventEnvelope, ControlEventsOfThePreviousFormDecode) {
  const std::string bytes = Bytes(
      "\x8b\xa6\x61\x63\x74\x69\x6f\x6e\xa5\x73\x6c\x65\x65\x70\xa5\x61"
      "\x63\x74\x6f\x72\xaf\x74\x6f\x6b\x65\x6e\x40\x31\x32\x37\x2e\x30"
      "\x2e\x30\x2e\x31\xa6\x64\x65\x74\x61\x69\x6c\xa0\xab\x68\x74\x74"
      "\x70\x5f\x73\x74\x61\x74\x75\x73\xcc\xc8\xa2\x69\x70\xaa\x31\x32"
      "\x37\x2e\x34\x31\x2e\x30\x2e\x32\xa4\x6b\x69\x6e\x64\xa7\x63\x6f"
      "\x6e\x74\x72\x6f\x6c\xab\x70\x72\x6f\x64\x75\x63\x65\x72\x5f\x69"
      "\x64\xa9\x63\x6f\x6e\x74\x72\x6f\x6c\x2d\x31\xa6\x72\x65\x73\x75"
      "\x6c\x74\xa2\x6f\x6b\xa3\x73\x65\x71\x01\xa2\x74\x73\xcb\x41\xda"
      "\x49\x20\x40\x00\x00\x00\xa6\x77\x6f\x72\x6b\x65\x72\xa7\x66\x61"
      "\x72\x6d\x2e\x77\x31");
  Result<Event> event = DecodeEvent(bytes);
  ASSERT_OK(event);
  EXPECT_EQ(event->kind, EventKind::kControl);
  EXPECT_EQ(event->body["action"], "sleep");
  EXPECT_EQ(event->body["ip"], "127.41.0.2");
  EXPECT_EQ(event->body["result"], "ok");
}

// Bytes as the store 2fc9ecf relayed a health event: "type" named it already.
TEST(EventEnvelope, HealthEventsOfThePreviousFormDecode) {
  const std::string bytes = Bytes(
      "\x8a\xa2\x69\x70\xaa\x31\x32\x37\x2e\x34\x31\x2e\x30\x2e\x32\xa4"
      "\x6b\x69\x6e\x64\xa7\x6f\x66\x66\x6c\x69\x6e\x65\xa7\x6d\x65\x73"
      "\x73\x61\x67\x65\xa9\x6e\x6f\x20\x61\x6e\x73\x77\x65\x72\xa5\x6d"
      "\x6f\x64\x65\x6c\xab\x41\x6e\x74\x6d\x69\x6e\x65\x72\x20\x53\x39"
      "\xa4\x70\x6f\x72\x74\xcd\x0f\xbc\xa8\x73\x65\x76\x65\x72\x69\x74"
      "\x79\xa8\x63\x72\x69\x74\x69\x63\x61\x6c\xa5\x73\x74\x61\x74\x65"
      "\xa5\x66\x69\x72\x65\x64\xa2\x74\x73\xcb\x41\xda\x49\x20\x40\x20"
      "\x00\x00\xa4\x74\x79\x70\x65\xa6\x68\x65\x61\x6c\x74\x68\xa6\x77"
      "\x6f\x72\x6b\x65\x72\xa7\x66\x61\x72\x6d\x2e\x77\x31");
  Result<Event> event = DecodeEvent(bytes);
  ASSERT_OK(event);
  EXPECT_EQ(event->kind, EventKind::kHealth);
  Result<HealthEvent> health = HealthEventFromJson(event->body);
  ASSERT_OK(health);
  EXPECT_EQ(*health, (HealthEvent{.ts = 1764000000.5, .ip = "127.41.0.2", .port = 4028,
                                  .model = "Antminer S9", .worker = "farm.w1", .kind = "offline",
                                  .state = "fired", .severity = "critical",
                                  .message = "no answer", .value = {}, .threshold = {}}));
}

TEST(EventEnvelope, WritersNameTheKindByTypeAndKeepTheOldKey) {
  Result<Event> stats =
      DecodeEvent(bus::EncodeStageStats({"store", "store-1", 1, {{"records_in", 3}}}));
  ASSERT_OK(stats);
  EXPECT_EQ(stats->kind, EventKind::kStats);
  EXPECT_EQ(stats->body["type"], "stats");
  EXPECT_EQ(stats->body["kind"], "stats") << "read by stages not upgraded yet";
  HealthEvent offline;
  offline.kind = "offline";
  Result<Event> health = DecodeEvent(EncodeHealthEvent(offline));
  ASSERT_OK(health);
  EXPECT_EQ(health->kind, EventKind::kHealth);
  EXPECT_EQ(health->body["kind"], "offline") << "a health event's kind is its condition";
}

TEST(EventEnvelope, TypeDecidesAndOnlyStatsAndControlFallBackToKind) {
  EXPECT_EQ(KindOf({{"type", "control"}, {"action", "sleep"}}), EventKind::kControl);
  EXPECT_EQ(KindOf({{"type", "health"}, {"kind", "control"}}), EventKind::kHealth);
  EXPECT_EQ(KindOf({{"type", "stats"}, {"kind", "control"}}), EventKind::kStats);
  // A type this build does not know leaves the previous form to decide.
  EXPECT_EQ(KindOf({{"type", "future"}, {"kind", "stats"}}), EventKind::kStats);
  EXPECT_EQ(KindOf({{"type", 7}, {"kind", "control"}}), EventKind::kControl);
  // Health's conditions are no kinds of event, nor is a made-up event.
  EXPECT_EQ(KindOf({{"kind", "health"}}), EventKind::kOther);
  EXPECT_EQ(KindOf({{"kind", "reboot"}, {"producer_id", "control-1"}, {"seq", 1}}),
            EventKind::kOther);
  EXPECT_EQ(KindOf(nlohmann::json::object()), EventKind::kOther);
}

TEST(EventEnvelope, WhatIsNoMapWithinTheLimitsIsRefused) {
  std::string nested(64, '\x91');  // [[[[... deeper than any event
  nested.push_back('\xc0');
  std::string huge = testing::ToMsgpack({{"type", "control"}, {"detail", std::string(60000, 'x')}});
  std::string over_cap(kMaxRecordBytes + 1, '\xc0');
  for (const std::string& bytes :
       {testing::ToMsgpack(nlohmann::json::array({1, 2})), testing::ToMsgpack("health"),
        std::string("\xc1"), std::string(), nested, over_cap}) {
    Result<Event> event = DecodeEvent(bytes);
    EXPECT_EQ(event.status().code(), Status::Code::kParseError) << bytes.size() << " bytes";
  }
  EXPECT_TRUE(DecodeEvent(huge).ok()) << "a long string within the limits is fine";
}

}  // namespace
}  // namespace asicmon
