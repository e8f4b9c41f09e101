// The store's set of miners control put to sleep: control's events decoded
// (and hostile ones refused), records of those miners marked sleeping while
// they hash nothing, announced sleeps and wakes covering the mining
// software's restart, a wake by other means noticed, a restart resumed.
#include "sleep.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "asicmon/health.h"

#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

constexpr double kSleptAt = 1764000000;

nlohmann::json ControlEvent(const std::string& action, const std::string& ip,
                            const std::string& result = "ok") {
  return testing::ControlEvent(action, ip, kSleptAt, result);
}

// An announcement of `action` on miner 1, as control's gate publishes it.
nlohmann::json Pending(const std::string& action, double ts, double timeout_s = 240) {
  nlohmann::json event = testing::ControlEvent(action, testing::DataOnlyIp(1), ts, "pending");
  event["http_status"] = 202;
  event["timeout_s"] = timeout_s;
  return event;
}

// The sleep or wake in an event's bytes, as the store's ingest reads them
// after DecodeEvent; nullopt for anything else (bytes that are no event are
// no command either).
Result<std::optional<SleepCommand>> DecodeSleepCommand(std::string_view bytes) {
  Result<Event> event = DecodeEvent(bytes);
  if (!event.ok() || event->kind != EventKind::kControl) return std::optional<SleepCommand>();
  return SleepCommandFromJson(event->body);
}

SleepCommand Decoded(const nlohmann::json& event) {
  Result<std::optional<SleepCommand>> command = DecodeSleepCommand(testing::ToMsgpack(event));
  EXPECT_OK(command);
  EXPECT_TRUE(command.ok() && command->has_value()) << event.dump();
  return command.ok() && command->has_value() ? **command : SleepCommand{};
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

// An S19 as antminer-s19-stats-sleeping.json shows it: no hashrate, chains
// present with every chip 'x'.
Record AsleepS19(double after) {
  Record r = Poll(after, false);
  for (BoardStats& b : r.boards) {
    b.chips_ok = 0;
    b.chips_failed = b.chips;
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

// Control names its events by "type" too now; the store reads both forms.
TEST(SleepCommand, DecodesTheEnvelopesFormAsThePreviousOne) {
  const nlohmann::json previous = ControlEvent("sleep", testing::DataOnlyIp(1));
  nlohmann::json typed = previous;
  typed["type"] = "control";
  EXPECT_EQ(Decoded(typed), Decoded(previous));
  typed.erase("kind");
  EXPECT_EQ(Decoded(typed), Decoded(previous));
}

TEST(SleepCommand, DecodesAnnouncementsAndFailures) {
  const SleepCommand pending = Decoded(Pending("sleep", kSleptAt, 240));
  EXPECT_EQ(pending.phase, SleepPhase::kPending);
  EXPECT_TRUE(pending.asleep);
  EXPECT_EQ(pending.timeout_s, 240);
  const SleepCommand failed = Decoded(ControlEvent("wake", "127.0.0.1", "not confirmed"));
  EXPECT_EQ(failed.phase, SleepPhase::kFailed);
  EXPECT_FALSE(failed.asleep);
  EXPECT_EQ(Decoded(ControlEvent("sleep", "127.0.0.1")).phase, SleepPhase::kDone);
}

TEST(SleepCommand, APendingCommandWithoutAGoodTimeoutIsAnError) {
  nlohmann::json none = Pending("sleep", kSleptAt);
  none.erase("timeout_s");
  nlohmann::json text = Pending("sleep", kSleptAt);
  text["timeout_s"] = "240";
  for (const nlohmann::json& event :
       {none, text, Pending("wake", kSleptAt, 0), Pending("wake", kSleptAt, -5),
        Pending("sleep", kSleptAt, 1e9)}) {
    SCOPED_TRACE(event.dump());
    EXPECT_FALSE(DecodeSleepCommand(testing::ToMsgpack(event)).ok());
  }
}

TEST(SleepCommand, OtherEventsAreNotCommands) {
  nlohmann::json stats = {{"kind", "stats"}, {"stage", "collect"}, {"ts", 1.0}};
  nlohmann::json health = {{"type", "health"}, {"kind", "offline"}, {"ip", "127.0.0.1"}};
  for (const std::string& body :
       {testing::ToMsgpack(ControlEvent("reboot", "127.0.0.1")),
        // Refused by the gate while another command holds the miner: that
        // one's outcome decides, not this.
        testing::ToMsgpack(ControlEvent("sleep", "127.0.0.1", "busy")),
        testing::ToMsgpack(ControlEvent("reboot", "127.0.0.1", "pending")),
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

  // Woken: still starting up while it hashes nothing, awake once it hashes.
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", false, kSleptAt + 4000});
  EXPECT_EQ(registry.transitioning(), 1u);
  Record starting = Poll(4030, false);
  EXPECT_TRUE(registry.Mark(starting));
  Record hashing = Poll(4060, true);
  EXPECT_FALSE(registry.Mark(hashing));
  EXPECT_FALSE(hashing.sleeping);
  EXPECT_EQ(registry.size(), 0u);
  Record idle = Poll(4090, false);
  EXPECT_FALSE(registry.Mark(idle)) << "awake: hashing nothing is a fault again";
}

TEST(SleepRegistry, AWakeThatNeverHashesIsAFaultAfterTheRampUp) {
  SleepRegistry registry;
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", false, kSleptAt});
  Record starting = Poll(SleepRegistry::kWakeRampS - 1, false);
  EXPECT_TRUE(registry.Mark(starting));
  Record stuck = Poll(SleepRegistry::kWakeRampS, false);
  EXPECT_FALSE(registry.Mark(stuck));
  EXPECT_FALSE(registry.Contains(testing::DataOnlyIp(1)));
}

TEST(SleepRegistry, APendingSleepCoversTheRestartBeforeControlConfirms) {
  SleepRegistry registry;
  registry.Apply(Decoded(Pending("sleep", kSleptAt)));
  EXPECT_EQ(registry.transitioning(), 1u);
  // Polled before the config write took: still hashing, still pending.
  Record before = Poll(0.5, true);
  EXPECT_FALSE(registry.Mark(before));
  EXPECT_FALSE(before.sleeping);
  EXPECT_TRUE(registry.Contains(testing::DataOnlyIp(1)));
  // Back from the restart, asleep, a second before control's confirmation.
  Record asleep = AsleepS19(3.5);
  EXPECT_TRUE(registry.Mark(asleep));
  registry.Apply(Decoded(ControlEvent("sleep", testing::DataOnlyIp(1))));
  EXPECT_EQ(registry.transitioning(), 0u);
  Record later = AsleepS19(60);
  EXPECT_TRUE(registry.Mark(later));
}

TEST(SleepRegistry, AFailedCommandEndsItsAnnouncementAndKeepsWhatWasKnown) {
  SleepRegistry registry;
  registry.Apply(Decoded(Pending("sleep", kSleptAt)));
  registry.Apply(Decoded(ControlEvent("sleep", testing::DataOnlyIp(1), "web unreachable")));
  EXPECT_EQ(registry.size(), 0u);
  Record idle = Poll(30, false);
  EXPECT_FALSE(registry.Mark(idle));

  // Asleep, then a wake that was not confirmed: asleep as before.
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", true, kSleptAt});
  registry.Apply(Decoded(Pending("wake", kSleptAt + 100)));
  registry.Apply(Decoded(ControlEvent("wake", testing::DataOnlyIp(1), "not confirmed")));
  EXPECT_EQ(registry.transitioning(), 0u);
  Record still = Poll(400, false);
  EXPECT_TRUE(registry.Mark(still));
}

TEST(SleepRegistry, APowerChangeIsCoveredAsAWakeAndNeverWakesASleepingMiner) {
  const SleepCommand pending = Decoded(Pending("power", kSleptAt));
  EXPECT_TRUE(pending.power);
  EXPECT_FALSE(pending.asleep);
  SleepRegistry registry;
  registry.Apply(pending);
  // A btminer power limit reboots it: back, hashing nothing yet.
  Record restarting = Poll(20, false);
  EXPECT_TRUE(registry.Mark(restarting));
  registry.Apply(Decoded(ControlEvent("power", testing::DataOnlyIp(1))));
  Record ramping = Poll(60, false);
  EXPECT_TRUE(registry.Mark(ramping));
  Record hashing = Poll(120, true);
  EXPECT_FALSE(registry.Mark(hashing));
  EXPECT_FALSE(registry.Contains(testing::DataOnlyIp(1)));

  // Asleep, then a power setting confirmed (a mode set while asleep): still asleep.
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", true, kSleptAt});
  registry.Apply(Decoded(Pending("power", kSleptAt + 100)));
  registry.Apply(Decoded(ControlEvent("power", testing::DataOnlyIp(1))));
  EXPECT_EQ(registry.transitioning(), 0u);
  EXPECT_EQ(registry.asleep(), 1u);
  Record later = AsleepS19(SleepRegistry::kWakeRampS + 100);
  EXPECT_TRUE(registry.Mark(later));
}

// Whether a power change holds the miner at reduced power is in its detail,
// which control starts with the setting, whoever asked for it.
TEST(SleepCommand, APowerChangeSaysWhetherItReducesThePower) {
  auto power = [](const std::string& detail, const std::string& result) {
    nlohmann::json event = ControlEvent("power", testing::DataOnlyIp(1), result);
    event["detail"] = detail;
    if (result == "pending") event["timeout_s"] = 240;
    return Decoded(event);
  };
  EXPECT_EQ(PowerHold(power("mode=low", "ok")), PowerHoldChange::kReduced);
  EXPECT_EQ(PowerHold(power("limit_w=2000 (curtailment to 5.000 kW)", "ok")),
            PowerHoldChange::kReduced);
  EXPECT_EQ(PowerHold(power("mode=low (job 7f3a)", "ok")), PowerHoldChange::kReduced);
  EXPECT_EQ(PowerHold(power("mode=normal (curtailment: back to its previous state)", "ok")),
            PowerHoldChange::kReleased);
  EXPECT_EQ(PowerHold(power("mode=high", "ok")), PowerHoldChange::kReleased);
  EXPECT_EQ(PowerHold(power("mode=lowest", "ok")), PowerHoldChange::kReleased);
  EXPECT_EQ(PowerHold(power("", "ok")), PowerHoldChange::kReleased);  // a control of before
  EXPECT_EQ(PowerHold(power("mode=low", "pending")), PowerHoldChange::kAnnounced);
  EXPECT_EQ(PowerHold(power("mode=low", "miner did not confirm")), PowerHoldChange::kFailed);
  EXPECT_FALSE(power("mode=low", "ok").asleep);
}

TEST(SleepRegistry, AnAnnouncementWithoutOutcomeLapsesAfterItsTimeout) {
  SleepRegistry registry;
  registry.Apply(Decoded(Pending("sleep", kSleptAt, 240)));
  Record within = Poll(239, false);
  EXPECT_TRUE(registry.Mark(within));
  EXPECT_EQ(registry.expired(), 0u);
  Record past = Poll(240, false);
  EXPECT_FALSE(registry.Mark(past)) << "control died mid-command: no longer masked";
  EXPECT_EQ(registry.expired(), 1u);
  EXPECT_EQ(registry.size(), 0u);
}

TEST(SleepRegistry, APendingWakeEndsWhenTheMinerHashes) {
  SleepRegistry registry;
  registry.Apply({testing::DataOnlyIp(1), "farm.w1", true, kSleptAt});
  registry.Apply(Decoded(Pending("wake", kSleptAt + 600)));
  Record starting = Poll(605, false);
  EXPECT_TRUE(registry.Mark(starting));
  Record hashing = Poll(620, true);
  EXPECT_FALSE(registry.Mark(hashing));
  EXPECT_EQ(registry.size(), 0u);
}

// Issue 17: a bulk sleep stored chips_failed ("100 % of its chips failed")
// for miners polled between the firmware's restart into sleep (~3 s after
// set_miner_conf) and control's confirmation about a second later. With the
// announcement, every record from the request until the miner hashes again
// is judged as a miner changing state on purpose: the health rules fire
// nothing but the restart itself ("rebooted", info).
TEST(SleepRegistry, Issue17NoFaultFromTheRequestUntilTheMinerHashesAgain) {
  SleepRegistry registry;
  HealthEngine health{HealthRules{}};
  std::vector<HealthEvent> events;
  auto observe = [&](Record r, std::optional<int64_t> uptime_s = std::nullopt) {
    if (uptime_s) r.uptime_s = *uptime_s;
    registry.Mark(r);
    health.Observe(r, events);
  };
  auto refused = [&](double after) {
    Record r = Poll(after, false);
    r.status = MinerStatus::kRefused;
    r.boards.clear();
    r.hashrate.reset();
    return r;
  };
  observe(Poll(-5, true));
  registry.Apply(Decoded(Pending("sleep", kSleptAt)));
  observe(Poll(0.5, true));
  observe(refused(2));         // the mining software restarting
  observe(AsleepS19(3.5), 1);  // back, asleep, before control's confirmation
  registry.Apply(Decoded(ControlEvent("sleep", testing::DataOnlyIp(1))));
  for (double after : {8.5, 13.5, 18.5}) observe(AsleepS19(after), after - 2);
  registry.Apply(Decoded(Pending("wake", kSleptAt + 20)));
  observe(refused(22));
  // Up again, chains answering, nothing hashed yet, then ramping up.
  auto starting = [&](double after, double share) {
    Record r = Poll(after, share > 0);
    *r.hashrate *= share;
    for (BoardStats& b : r.boards) *b.hashrate *= share;
    return r;
  };
  observe(starting(24, 0), 1);
  registry.Apply(Decoded(ControlEvent("wake", testing::DataOnlyIp(1))));
  observe(starting(29, 0), 6);
  observe(starting(34, 0.4), 11);
  observe(starting(39, 0.9), 16);
  observe(starting(44, 1), 21);

  std::vector<std::string> kinds;
  for (const HealthEvent& e : events) kinds.push_back(e.kind + "/" + e.state);
  EXPECT_EQ(kinds, (std::vector<std::string>{"rebooted/fired", "rebooted/fired"}));
  EXPECT_EQ(registry.size(), 0u) << "hashing again: awake";
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
  auto row = [](const std::string& action, int miner, const std::string& detail) {
    return AuditEntry{.ts = kSleptAt,
                      .actor = "token:ops",
                      .action = action,
                      .ip = testing::DataOnlyIp(miner),
                      .worker = "farm.w1",
                      .detail = detail,
                      .http_status = 200,
                      .result = "ok"};
  };
  // StoreDb::HeldByControl's rows: a sleep, and power changes (the health
  // rules' business, not the sleep set's).
  const std::vector<AuditEntry> held = {row("sleep", 1, ""), row("power", 1, "mode=low"),
                                        row("power", 2, "limit_w=2000")};
  registry.Restore(held);
  EXPECT_TRUE(registry.Contains(testing::DataOnlyIp(1)));
  EXPECT_FALSE(registry.Contains(testing::DataOnlyIp(2)));
  EXPECT_EQ(registry.asleep(), 1u);
  Record r = Poll(7200, false);
  EXPECT_TRUE(registry.Mark(r));
}

}  // namespace
}  // namespace asicmon
