// The store's set of miners control put to sleep: control's events decoded
// (and hostile ones refused), records of those miners marked sleeping while
// they hash nothing, a wake by other means noticed, a restart resumed.
#include "asicmon/sleep.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

constexpr double kSleptAt = 1764000000;

nlohmann::json ControlEvent(const std::string& action, const std::string& ip,
                            const std::string& result = "ok") {
  return testing::ControlEvent(action, ip, kSleptAt, result);
}

// A poll of miner 1 `after` seconds past the sleep command: an S19 asleep
// (hashrate 0) or hashing.
Record Poll(double after, bool hashing) {
  Record r = testing::SampleRecord("collect-1", 1, 1, kSleptAt + after);
  if (!hashing) {
    r.hashrate = 0;
    for (BoardStats& b : r.boards) b.hashrate = 0;
  }
  return r;
}

TEST(SleepCommand, DecodesControlsSleepAndWake) {
  const std::string ip = testing::DataOnlyIp(1);
  Result<std::optional<SleepCommand>> sleep =
      DecodeSleepCommand(testing::ToMsgpack(ControlEvent("sleep", ip)));
  ASSERT_OK(sleep);
  ASSERT_TRUE(sleep->has_value());
  EXPECT_EQ(**sleep, (SleepCommand{ip, "farm.w1", true, kSleptAt}));
  Result<std::optional<SleepCommand>> wake =
      DecodeSleepCommand(testing::ToMsgpack(ControlEvent("wake", ip)));
  ASSERT_OK(wake);
  ASSERT_TRUE(wake->has_value());
  EXPECT_FALSE((*wake)->asleep);
}

TEST(SleepCommand, OtherEventsAreNotCommands) {
  nlohmann::json stats = {{"kind", "stats"}, {"stage", "collect"}, {"ts", 1.0}};
  nlohmann::json health = {{"type", "health"}, {"kind", "offline"}, {"ip", "127.0.0.1"}};
  for (const std::string& body :
       {testing::ToMsgpack(ControlEvent("reboot", "127.0.0.1")),
        testing::ToMsgpack(ControlEvent("sleep", "127.0.0.1", "miner did not confirm")),
        testing::ToMsgpack(ControlEvent("locate", "127.0.0.1")), testing::ToMsgpack(stats),
        testing::ToMsgpack(health), testing::ToMsgpack(nlohmann::json::array({1, 2})),
        std::string("\xc1"), std::string()}) {
    Result<std::optional<SleepCommand>> command = DecodeSleepCommand(body);
    ASSERT_OK(command);
    EXPECT_FALSE(command->has_value());
  }
}

TEST(SleepCommand, ASleepWithoutIpOrTsIsAnError) {
  nlohmann::json no_ip = ControlEvent("sleep", "");
  nlohmann::json ip_number = ControlEvent("sleep", "x");
  ip_number["ip"] = 7;
  nlohmann::json no_ts = ControlEvent("wake", "127.0.0.1");
  no_ts.erase("ts");
  nlohmann::json ts_text = ControlEvent("sleep", "127.0.0.1");
  ts_text["ts"] = "now";
  for (const nlohmann::json& event : {no_ip, ip_number, no_ts, ts_text}) {
    SCOPED_TRACE(event.dump());
    EXPECT_FALSE(DecodeSleepCommand(testing::ToMsgpack(event)).ok());
  }
}

TEST(SleepRegistry, MarksItsMinersWhileTheyHashNothing) {
  SleepRegistry registry;
  Record before = Poll(-30, false);
  EXPECT_FALSE(registry.Mark(before)) << "nobody put it to sleep";
  EXPECT_FALSE(before.sleeping);

  registry.Apply({testing::DataOnlyIp(1), "farm.w1", true, kSleptAt});
  for (double after : {5.0, 30.0, 3600.0}) {
    Record r = Poll(after, false);
    EXPECT_TRUE(registry.Mark(r)) << after;
    EXPECT_TRUE(r.sleeping);
  }
  Record unreported = Poll(60, false);
  unreported.hashrate.reset();
  EXPECT_TRUE(registry.Mark(unreported));
  Record other = Poll(60, false);
  other.ip = testing::DataOnlyIp(2);
  EXPECT_FALSE(registry.Mark(other));
  // Silence is a fault, asleep or not.
  Record timeout = Poll(60, false);
  timeout.status = MinerStatus::kTimeout;
  EXPECT_FALSE(registry.Mark(timeout));
  EXPECT_FALSE(timeout.sleeping);
  // Its API said so already: nothing to change.
  Record said = Poll(60, false);
  said.sleeping = true;
  EXPECT_FALSE(registry.Mark(said));
  EXPECT_TRUE(said.sleeping);

  registry.Apply({testing::DataOnlyIp(1), "farm.w1", false, kSleptAt + 4000});
  EXPECT_EQ(registry.size(), 0u);
  Record woken = Poll(4030, false);
  EXPECT_FALSE(registry.Mark(woken));
}

TEST(SleepRegistry, HashingAfterTheSettleTimeMeansWokenByOtherMeans) {
  SleepRegistry registry;
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", true, kSleptAt});
  // Still winding down (or polled just before the command): not asleep yet,
  // and still in the set.
  Record winding = Poll(SleepRegistry::kSettleS - 1, true);
  EXPECT_FALSE(registry.Mark(winding));
  EXPECT_FALSE(winding.sleeping);
  EXPECT_TRUE(registry.Contains(testing::DataOnlyIp(1)));
  Record asleep = Poll(SleepRegistry::kSettleS, false);
  EXPECT_TRUE(registry.Mark(asleep));
  // Woken at the miner's own web page: it hashes, so it leaves the set for good.
  Record hashing = Poll(SleepRegistry::kSettleS + 60, true);
  EXPECT_FALSE(registry.Mark(hashing));
  EXPECT_FALSE(hashing.sleeping);
  EXPECT_FALSE(registry.Contains(testing::DataOnlyIp(1)));
  Record idle = Poll(SleepRegistry::kSettleS + 90, false);
  EXPECT_FALSE(registry.Mark(idle)) << "a miner that stops hashing later is a fault again";
}

TEST(SleepRegistry, RestoresFromTheAuditRows) {
  SleepRegistry registry;
  const std::vector<AuditEntry> asleep = {{.ts = kSleptAt,
                                           .actor = "token:ops",
                                           .action = "sleep",
                                           .ip = testing::DataOnlyIp(1),
                                           .worker = "farm.w1",
                                           .detail = "",
                                           .http_status = 200,
                                           .result = "ok"}};
  registry.Restore(asleep);
  EXPECT_TRUE(registry.Contains(testing::DataOnlyIp(1)));
  Record r = Poll(7200, false);
  EXPECT_TRUE(registry.Mark(r));
}

}  // namespace
}  // namespace asicmon
