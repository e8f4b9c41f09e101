// Health rules: each condition fires once when it starts to hold and clears
// once when it stops, never on every poll; happenings fire once; silence is
// noticed; a restart starts from what the store knew; events survive the bus.
#include "asicmon/health.h"

#include <cstdlib>

#include <gtest/gtest.h>

#include "sample_records.h"
#include "testlib.h"

namespace asicmon {
namespace {

using testing::SampleRecord;

// A healthy S19 Pro poll number `seq` at 30 s intervals: uptime and shares grow.
Record Healthy(uint64_t seq) {
  Record r = SampleRecord("collect-1", seq, 1, 1764000000 + 30.0 * static_cast<double>(seq));
  r.temp_max = 75;
  return r;
}

Record Failed(uint64_t seq) {
  Record r;
  r.producer_id = "collect-1";
  r.seq = seq;
  r.ts = 1764000000 + 30.0 * static_cast<double>(seq);
  r.ip = testing::DataOnlyIp(1);
  r.status = MinerStatus::kTimeout;
  r.error = "no reply within 5 s";
  return r;
}

// kind/state of each event, in order: what a test compares.
std::vector<std::string> Kinds(const std::vector<HealthEvent>& events) {
  std::vector<std::string> out;
  for (const HealthEvent& e : events) out.push_back(e.kind + "/" + e.state);
  return out;
}

class HealthTest : public ::testing::Test {
 protected:
  std::vector<std::string> Feed(const Record& r) {
    std::vector<HealthEvent> events;
    engine_.Observe(r, events);
    last_ = events;
    return Kinds(events);
  }

  HealthEngine engine_{HealthRules{}};
  std::vector<HealthEvent> last_;
};

using Events = std::vector<std::string>;

TEST_F(HealthTest, AHealthyMinerMakesNoEvents) {
  for (uint64_t seq = 1; seq <= 20; ++seq) EXPECT_EQ(Feed(Healthy(seq)), Events{}) << seq;
}

TEST_F(HealthTest, OfflineAfterThreeFailedPollsOnceThenBackOnline) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  EXPECT_EQ(Feed(Failed(2)), Events{});
  EXPECT_EQ(Feed(Failed(3)), Events{});
  EXPECT_EQ(Feed(Failed(4)), Events{"offline/fired"});
  EXPECT_EQ(last_[0].severity, "critical");
  EXPECT_NE(last_[0].message.find("3 polls in a row failed (timeout: no reply within 5 s)"),
            std::string::npos)
      << last_[0].message;
  EXPECT_EQ(last_[0].model, "Antminer S19 Pro");  // remembered from the last ok poll
  EXPECT_EQ(Feed(Failed(5)), Events{});
  EXPECT_EQ(Feed(Healthy(6)), Events{"offline/cleared"});
  EXPECT_EQ(last_[0].message, "back online");
  EXPECT_EQ(Feed(Healthy(7)), Events{});
}

TEST_F(HealthTest, OverheatFiresAtTheModelsLimitAndClearsBelowTheHysteresis) {
  Record r = Healthy(1);
  r.temp_max = 94;
  EXPECT_EQ(Feed(r), Events{});
  r = Healthy(2);
  r.temp_max = 95;  // the default limit
  EXPECT_EQ(Feed(r), Events{"overheat/fired"});
  EXPECT_EQ(last_[0].value, 95);
  EXPECT_EQ(last_[0].threshold, 95);
  r = Healthy(3);
  r.temp_max = 92;  // still within 5 °C of the limit: holds
  EXPECT_EQ(Feed(r), Events{});
  r = Healthy(4);
  r.temp_max = 90;
  EXPECT_EQ(Feed(r), Events{"overheat/cleared"});

  r = Healthy(5);
  r.model = "Antminer S9";  // 90 °C for the S9 family
  r.temp_max = 91;
  EXPECT_EQ(Feed(r), Events{"overheat/fired"});
  EXPECT_EQ(last_[0].threshold, 90);
}

TEST_F(HealthTest, ADeadOrMissingBoardFiresOnce) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  Record r = Healthy(2);
  r.boards[1].hashrate = 0;
  r.boards[1].chips_ok = 0;
  r.boards[1].chips_failed = 114;  // all 'x': dead, not "chips failed"
  EXPECT_EQ(Feed(r), Events{"board_dead/fired"});
  EXPECT_EQ(last_[0].message, "1 hash board(s) dead or missing of 3");
  r.ts += 30;
  EXPECT_EQ(Feed(r), Events{});
  EXPECT_EQ(Feed(Healthy(4)), Events{"board_dead/cleared"});
  r = Healthy(5);
  r.boards.pop_back();  // the firmware stopped reporting a board
  EXPECT_EQ(Feed(r), Events{"board_dead/fired"});
}

TEST_F(HealthTest, ANotHashingMinerHasNoDeadBoards) {
  Record r = Healthy(1);
  r.hashrate = 0;
  for (BoardStats& b : r.boards) b.hashrate = 0;
  // Starting or sleeping: every board at zero is not three dead boards (the
  // low hashrate would only fire after three such polls).
  EXPECT_EQ(Feed(r), Events{});
}

TEST_F(HealthTest, FailedChipsOverTheShareFire) {
  Record r = Healthy(1);
  r.boards[2].chips_failed = 10;  // of 114: 8.8 %
  r.boards[2].chips_ok = 104;
  EXPECT_EQ(Feed(r), Events{"chips_failed/fired"});
  EXPECT_NEAR(*last_[0].value, 10.0 / 114, 1e-9);
  EXPECT_EQ(Feed(Healthy(2)), Events{"chips_failed/cleared"});
}

TEST_F(HealthTest, LowHashrateNeedsThreePollsInARow) {
  auto low = [](uint64_t seq) {
    Record r = Healthy(seq);
    r.hashrate = 0.5 * *r.hashrate_expected;
    return r;
  };
  EXPECT_EQ(Feed(low(1)), Events{});
  EXPECT_EQ(Feed(low(2)), Events{});
  EXPECT_EQ(Feed(Healthy(3)), Events{});  // the count starts again
  EXPECT_EQ(Feed(low(4)), Events{});
  EXPECT_EQ(Feed(low(5)), Events{});
  EXPECT_EQ(Feed(low(6)), Events{"hashrate_low/fired"});
  EXPECT_EQ(last_[0].message, "hashrate at 50 % of expected");
  EXPECT_EQ(Feed(low(7)), Events{});
  EXPECT_EQ(Feed(Healthy(8)), Events{"hashrate_low/cleared"});
}

TEST_F(HealthTest, AStoppedFanAndRejectedSharesFire) {
  Record r = Healthy(1);
  r.fans[2] = 0;
  EXPECT_EQ(Feed(r), Events{"fan_stopped/fired"});
  EXPECT_EQ(last_[0].message, "1 of 4 fans stopped");
  r = Healthy(2);
  r.accepted = 900;
  r.rejected = 100;
  EXPECT_EQ(Feed(r), (Events{"fan_stopped/cleared", "rejected_high/fired"}));
  r = Healthy(3);
  r.accepted = 50;  // too few shares to judge
  r.rejected = 50;
  EXPECT_EQ(Feed(r), Events{});
}

// An S19 asleep: zero hashrate, every chip 'x', fans at idle, as
// antminer-s19-stats-sleeping.json normalises.
Record Asleep(uint64_t seq) {
  Record r = Healthy(seq);
  r.sleeping = true;
  r.hashrate = 0;
  r.hashrate_avg = 0;
  for (BoardStats& b : r.boards) {
    b.hashrate = 0;
    b.chips_ok = 0;
    b.chips_failed = 114;
  }
  r.fans = {1560, 1560, 600, 0};
  r.temp_max = 40;
  return r;
}

TEST_F(HealthTest, ASleepingMinerIsNoFaultForManyPolls) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  for (uint64_t seq = 2; seq <= 12; ++seq) EXPECT_EQ(Feed(Asleep(seq)), Events{}) << seq;
  // The S17 family asleep reports no board and no fan at all.
  Record bare = Asleep(13);
  bare.boards.clear();
  bare.fans.clear();
  EXPECT_EQ(Feed(bare), Events{});
  EXPECT_EQ(Feed(Healthy(14)), Events{});  // awake again, hashing: nothing was wrong
}

TEST_F(HealthTest, GoingToSleepClearsTheFaultsItExplains) {
  Record r = Healthy(1);
  r.boards[1].hashrate = 0;
  r.boards[1].chips_ok = 0;
  r.boards[1].chips_failed = 114;
  r.fans[0] = 0;
  EXPECT_EQ(Feed(r), (Events{"board_dead/fired", "fan_stopped/fired"}));
  Events seen;
  for (uint64_t seq = 2; seq <= 4; ++seq) {
    Record low = Healthy(seq);
    low.hashrate = 0.5 * *low.hashrate_expected;
    for (const std::string& e : Feed(low)) seen.push_back(e);
  }
  EXPECT_EQ(seen, (Events{"board_dead/cleared", "fan_stopped/cleared", "hashrate_low/fired"}));
  Record chips = Healthy(5);
  chips.hashrate = 0.5 * *chips.hashrate_expected;
  chips.boards[2].chips_failed = 20;
  chips.boards[2].chips_ok = 94;
  EXPECT_EQ(Feed(chips), Events{"chips_failed/fired"});
  // Put to sleep: each fault it explains clears once, with what is fine now.
  EXPECT_EQ(Feed(Asleep(6)), (Events{"chips_failed/cleared", "hashrate_low/cleared"}));
  for (const HealthEvent& e : last_) {
    EXPECT_EQ(e.message, "asleep on purpose");
    EXPECT_EQ(e.severity, "info");
  }
  EXPECT_EQ(Feed(Asleep(7)), Events{});
  // Woken with a fan really stopped: that fires as ever.
  Record awake = Healthy(8);
  awake.fans[3] = 0;
  EXPECT_EQ(Feed(awake), Events{"fan_stopped/fired"});
}

TEST_F(HealthTest, ASleepingMinerStillGoesOfflineAndOverheats) {
  EXPECT_EQ(Feed(Asleep(1)), Events{});
  Record hot = Asleep(2);
  hot.temp_max = 96;
  EXPECT_EQ(Feed(hot), Events{"overheat/fired"});
  EXPECT_EQ(Feed(Failed(3)), Events{});
  EXPECT_EQ(Feed(Failed(4)), Events{});
  EXPECT_EQ(Feed(Failed(5)), Events{"offline/fired"});
  EXPECT_EQ(Feed(Asleep(6)), (Events{"offline/cleared", "overheat/cleared"}));
}

TEST_F(HealthTest, PoolChangesAndRebootsFireOnce) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  Record r = Healthy(2);
  r.pools[0].active = false;
  r.pools[1].active = true;
  EXPECT_EQ(Feed(r), Events{"pool_changed/fired"});
  EXPECT_EQ(last_[0].message,
            "pool in use is now stratum+tcp://pool-1.example.com:3333 as farm.w1");
  r.ts += 30;
  r.uptime_s = 40;
  EXPECT_EQ(Feed(r), Events{"rebooted/fired"});
  EXPECT_EQ(last_[0].severity, "info");
  r.ts += 30;
  r.uptime_s = 70;
  EXPECT_EQ(Feed(r), Events{});
}

TEST_F(HealthTest, SilenceIsOfflineAndALateRecordChangesNothing) {
  EXPECT_EQ(Feed(Healthy(10)), Events{});
  std::vector<HealthEvent> events;
  const double last = Healthy(10).ts;
  engine_.Tick(last + 89, events);
  EXPECT_TRUE(events.empty());
  engine_.Tick(last + 90, events);  // 3 intervals of 30 s without a record
  ASSERT_EQ(Kinds(events), Events{"offline/fired"});
  EXPECT_EQ(events[0].message, "no record for 90 s");
  events.clear();
  engine_.Tick(last + 200, events);
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(Feed(Healthy(5)), Events{});  // older than what was seen: ignored
  EXPECT_EQ(Feed(Healthy(20)), Events{"offline/cleared"});
}

TEST_F(HealthTest, ARestartStartsFromWhatTheStoreKnew) {
  Record before = Healthy(1);
  before.temp_max = 99;
  const std::vector<ActiveCondition> active = {{before.ip, before.port, "overheat"},
                                               {before.ip, before.port, "pool_changed"}};
  engine_.Restore(active, std::vector<Record>{before});
  Record hot = Healthy(2);
  hot.temp_max = 99;
  EXPECT_EQ(Feed(hot), Events{});  // fired before the restart: not again
  Record rebooted = Healthy(3);
  rebooted.uptime_s = 5;  // lower than the stored record's
  EXPECT_EQ(Feed(rebooted), (Events{"overheat/cleared", "rebooted/fired"}));
}

// A poll of a miner held at `watts` (a low mode or a power limit), hashing
// `share` of its nominal rate; its firmware still reports the nominal rate as
// expected (stock Antminer, btminer, LuxOS, Vnish do).
Record AtPower(uint64_t seq, double watts, double share) {
  Record r = Healthy(seq);
  r.power_w = watts;
  r.hashrate = share * *r.hashrate_expected;
  return r;
}

TEST_F(HealthTest, AMinerHeldAtReducedPowerIsJudgedAgainstWhatItCanHashThere) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});  // 3250 W: the baseline
  const std::string ip = Healthy(1).ip;
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kReduced);
  EXPECT_EQ(engine_.power_held(), 1u);
  // At 2000 W of 3250 W it can hash about 62 % of nominal: 58 % is no fault.
  for (uint64_t seq = 2; seq <= 8; ++seq)
    EXPECT_EQ(Feed(AtPower(seq, 2000, 0.58)), Events{}) << seq;
  // A second, deeper limit is measured against the miner at full power still.
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kReduced);
  for (uint64_t seq = 9; seq <= 12; ++seq)
    EXPECT_EQ(Feed(AtPower(seq, 1300, 0.39)), Events{}) << seq;
  // Hashing far less than the power it draws allows is a fault, held or not.
  EXPECT_EQ(Feed(AtPower(13, 2000, 0.3)), Events{});
  EXPECT_EQ(Feed(AtPower(14, 2000, 0.3)), Events{});
  EXPECT_EQ(Feed(AtPower(15, 2000, 0.3)), Events{"hashrate_low/fired"});
  EXPECT_EQ(last_[0].message,
            "hashrate at 49 % of expected at 2000 W of 3250 W (held at reduced power)");
  EXPECT_EQ(Feed(AtPower(16, 2000, 0.6)), Events{"hashrate_low/cleared"});
  // Back to normal: judged against the nominal rate again.
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kReleased);
  EXPECT_EQ(engine_.power_held(), 0u);
  EXPECT_EQ(Feed(AtPower(17, 2000, 0.6)), Events{});
  EXPECT_EQ(Feed(AtPower(18, 2000, 0.6)), Events{});
  EXPECT_EQ(Feed(AtPower(19, 2000, 0.6)), Events{"hashrate_low/fired"});
  EXPECT_EQ(last_[0].message, "hashrate at 60 % of expected");
}

TEST_F(HealthTest, AFirmwareWhoseExpectedRateFollowsTheSettingIsNotScaledTwice) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  engine_.ObservePowerChange(Healthy(1).ip, PowerHoldChange::kReduced);
  // Braiins OS reports the rate its power target allows: 58 % of nominal
  // at 2000 W, and the miner hashes 45 % of nominal (78 % of that).
  auto braiins = [](uint64_t seq) {
    Record r = AtPower(seq, 2000, 0.45);
    r.hashrate_expected = 0.58 * *r.hashrate_expected;
    return r;
  };
  EXPECT_EQ(Feed(braiins(2)), Events{});
  EXPECT_EQ(Feed(braiins(3)), Events{});
  EXPECT_EQ(Feed(braiins(4)), Events{"hashrate_low/fired"});
  EXPECT_EQ(last_[0].message,
            "hashrate at 78 % of expected at 2000 W of 3250 W (held at reduced power)");
}

TEST_F(HealthTest, AnAnnouncedChangeThatFailedEndsTheHoldAndAConfirmedOneStays) {
  EXPECT_EQ(Feed(Healthy(1)), Events{});
  const std::string ip = Healthy(1).ip;
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  EXPECT_EQ(engine_.power_held(), 1u);  // the miner may drop before control confirms
  engine_.ObservePowerChange(ip, PowerHoldChange::kFailed);
  EXPECT_EQ(engine_.power_held(), 0u);
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kReduced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kAnnounced);
  engine_.ObservePowerChange(ip, PowerHoldChange::kFailed);  // a release that failed
  EXPECT_EQ(engine_.power_held(), 1u);
  for (uint64_t seq = 2; seq <= 6; ++seq)
    EXPECT_EQ(Feed(AtPower(seq, 2000, 0.58)), Events{}) << seq;
}

TEST_F(HealthTest, AHoldFromBeforeARestartIsNotJudgedUntilItEnds) {
  engine_.Restore({}, std::vector<Record>{AtPower(1, 2000, 0.58)});
  const std::string ip = Healthy(1).ip;
  engine_.RestorePowerHolds(std::vector<std::string>{ip});
  EXPECT_EQ(engine_.power_held(), 1u);
  // Its draw before the hold is not known: nothing to scale by.
  for (uint64_t seq = 2; seq <= 6; ++seq) EXPECT_EQ(Feed(AtPower(seq, 2000, 0.3)), Events{}) << seq;
  engine_.ObservePowerChange(ip, PowerHoldChange::kReleased);
  EXPECT_EQ(Feed(AtPower(7, 2000, 0.3)), Events{});
  EXPECT_EQ(Feed(AtPower(8, 2000, 0.3)), Events{});
  EXPECT_EQ(Feed(AtPower(9, 2000, 0.3)), Events{"hashrate_low/fired"});
}

// A health event's bytes as alert and the store read them.
Result<std::optional<HealthEvent>> DecodeHealthEvent(std::string_view bytes) {
  return testing::DecodeEventAs(bytes, EventKind::kHealth, HealthEventFromJson);
}

TEST(HealthEvent, RoundTripOnTheBusAndOtherEventsPass) {
  HealthEvent e{.ts = 1764000000.5, .ip = "127.41.0.2", .port = 4028, .model = "Antminer S9",
                .worker = "farm.w1", .kind = "overheat", .state = "fired",
                .severity = "critical", .message = "overheating at 96 °C (limit 90 °C)",
                .value = 96, .threshold = 90};
  Result<std::optional<HealthEvent>> back = DecodeHealthEvent(EncodeHealthEvent(e));
  ASSERT_OK(back);
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ(**back, e);
  e.value.reset();
  e.threshold.reset();
  back = DecodeHealthEvent(EncodeHealthEvent(e));
  ASSERT_OK(back);
  EXPECT_EQ(**back, e);

  const std::vector<uint8_t> stats =
      nlohmann::json::to_msgpack({{"kind", "stats"}, {"stage", "store"}});
  back = DecodeHealthEvent(std::string(stats.begin(), stats.end()));
  ASSERT_OK(back);
  EXPECT_FALSE(back->has_value());
  const std::vector<uint8_t> broken =
      nlohmann::json::to_msgpack({{"type", "health"}, {"ts", "yesterday"}});
  EXPECT_EQ(DecodeHealthEvent(std::string(broken.begin(), broken.end())).status().code(),
            Status::Code::kParseError);
  EXPECT_FALSE(DecodeHealthEvent("\xc1 not msgpack").ok());
}

TEST(HealthRulesEnv, LimitsByModelAndBadValues) {
  setenv("ALERT_TEMP_MAX_BY_MODEL", "Antminer S19=88,Antminer S19 XP=80", 1);
  setenv("ALERT_OFFLINE_POLLS", "5", 1);
  HealthRules rules;
  ASSERT_TRUE(LoadHealthRules(rules).ok());
  EXPECT_EQ(rules.offline_polls, 5);
  HealthEngine engine(rules);
  std::vector<HealthEvent> events;
  Record r = Healthy(1);
  r.model = "Antminer S19 XP Hyd";
  r.temp_max = 81;  // the longest matching prefix decides: 80
  engine.Observe(r, events);
  EXPECT_EQ(Kinds(events), Events{"overheat/fired"});

  setenv("ALERT_TEMP_MAX_BY_MODEL", "Antminer S19", 1);
  EXPECT_EQ(LoadHealthRules(rules).code(), Status::Code::kInvalidArgument);
  setenv("ALERT_TEMP_MAX_BY_MODEL", "S9=hot", 1);
  EXPECT_EQ(LoadHealthRules(rules).code(), Status::Code::kInvalidArgument);
  unsetenv("ALERT_TEMP_MAX_BY_MODEL");
  setenv("ALERT_OFFLINE_POLLS", "0", 1);
  EXPECT_FALSE(LoadHealthRules(rules).ok());
  unsetenv("ALERT_OFFLINE_POLLS");
  EXPECT_TRUE(IsHealthKind("board_dead"));
  EXPECT_TRUE(IsHealthKind("rebooted"));
  EXPECT_FALSE(IsHealthKind("stats"));
}

}  // namespace
}  // namespace asicmon
