// Grouping of bursts and quiet hours in asicmon-alert, on an injected clock:
// no sleeps, no timed assertions.
#include <gtest/gtest.h>

#include "grouping.h"

namespace asicmon::alert {
namespace {

using namespace std::chrono_literals;
using Clock = Grouper::Clock;

HealthEvent Event(int n, const std::string& kind, const std::string& severity,
                  const std::string& state = "fired") {
  HealthEvent e;
  e.ts = n;
  e.ip = "10.0.0." + std::to_string(n);
  e.kind = kind;
  e.state = state;
  e.severity = severity;
  return e;
}

GroupingOptions Options(std::chrono::milliseconds window, size_t max_group = 500,
                        size_t max_held = 10000) {
  GroupingOptions o;
  o.window = window;
  o.max_group_events = max_group;
  o.max_held = max_held;
  return o;
}

const Clock::time_point t0 = Clock::time_point() + 1000h;

TEST(AlertGrouping, ABurstOfOneKindBecomesOneGroupWhenItsWindowEnds) {
  Grouper g(Options(5s));
  for (int i = 1; i <= 200; ++i) g.Add(Event(i, "offline", "critical"), t0 + 10ms * (i - 1));
  EXPECT_TRUE(g.TakeDue(t0 + 4999ms, false).empty());
  EXPECT_EQ(g.NextDue(false), t0 + 5s);  // from the first event, not the last
  std::vector<Group> due = g.TakeDue(t0 + 5s, false);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].events.size(), 200u);
  EXPECT_EQ(due[0].events.front().ip, "10.0.0.1");
  EXPECT_EQ(due[0].events.back().ip, "10.0.0.200");
  EXPECT_EQ(g.held(), 0u);
  EXPECT_FALSE(g.NextDue(false).has_value());
}

TEST(AlertGrouping, KindsAndStatesGroupApartAndGoOutInTheOrderTheyOpened) {
  Grouper g(Options(2s));
  g.Add(Event(1, "overheat", "critical"), t0);
  g.Add(Event(2, "offline", "critical"), t0 + 100ms);
  g.Add(Event(1, "overheat", "critical", "cleared"), t0 + 200ms);
  g.Add(Event(3, "overheat", "critical"), t0 + 300ms);
  std::vector<Group> due = g.TakeDue(t0 + 3s, false);
  ASSERT_EQ(due.size(), 3u);
  EXPECT_EQ(due[0].kind, "overheat");
  EXPECT_EQ(due[0].state, "fired");
  EXPECT_EQ(due[0].events.size(), 2u);
  EXPECT_EQ(due[1].kind, "offline");
  EXPECT_EQ(due[2].state, "cleared");
}

TEST(AlertGrouping, AnEventAfterTheWindowOpensANewGroup) {
  Grouper g(Options(1s));
  g.Add(Event(1, "offline", "critical"), t0);
  ASSERT_EQ(g.TakeDue(t0 + 1s, false).size(), 1u);
  g.Add(Event(2, "offline", "critical"), t0 + 1500ms);
  EXPECT_TRUE(g.TakeDue(t0 + 2s, false).empty());
  ASSERT_EQ(g.TakeDue(t0 + 2500ms, false).size(), 1u);
}

TEST(AlertGrouping, NoWindowSendsEachEventAloneAtOnce) {
  Grouper g(Options(0ms));
  g.Add(Event(1, "offline", "critical"), t0);
  g.Add(Event(2, "offline", "critical"), t0);
  std::vector<Group> due = g.TakeDue(t0, false);  // same kind, yet apart
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].events.size(), 1u);
  EXPECT_EQ(due[1].events.front().ip, "10.0.0.2");
}

TEST(AlertGrouping, AFullGroupGoesAtOnceAndTheNextOpensAnother) {
  Grouper g(Options(5s, 3));
  for (int i = 1; i <= 4; ++i) g.Add(Event(i, "offline", "critical"), t0);
  EXPECT_EQ(g.NextDue(false), Clock::time_point::min());
  std::vector<Group> due = g.TakeDue(t0, false);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].events.size(), 3u);
  EXPECT_EQ(g.held(), 1u);
}

TEST(AlertGrouping, PastTheBoundTheOldestEventIsDroppedAndCounted) {
  Grouper g(Options(5s, 500, 3));
  for (int i = 1; i <= 5; ++i) g.Add(Event(i, "offline", "critical"), t0);
  EXPECT_EQ(g.held(), 3u);
  EXPECT_EQ(g.dropped(), 2u);
  std::vector<Group> due = g.TakeDue(t0 + 5s, false);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].events.front().ip, "10.0.0.3");
}

TEST(AlertQuiet, BelowCriticalIsHeldThroughQuietHoursThenSentAsOneDigest) {
  Grouper g(Options(2s));
  g.Add(Event(1, "hashrate_low", "warning"), t0);
  g.Add(Event(2, "offline", "critical"), t0);
  std::vector<Group> night = g.TakeDue(t0 + 2s, /*quiet=*/true);
  ASSERT_EQ(night.size(), 1u);  // critical always goes out
  EXPECT_EQ(night[0].kind, "offline");
  EXPECT_FALSE(g.NextDue(true).has_value());  // nothing else falls due while quiet
  // Hours later, still quiet: more of the held kind join its group.
  g.Add(Event(3, "hashrate_low", "warning"), t0 + 3h);
  g.Add(Event(4, "pool_changed", "info"), t0 + 3h);
  EXPECT_TRUE(g.TakeDue(t0 + 4h, true).empty());
  EXPECT_EQ(g.held(), 3u);
  // The quiet hours end.
  std::vector<Group> morning = g.TakeDue(t0 + 5h, false);
  ASSERT_EQ(morning.size(), 2u);
  EXPECT_EQ(morning[0].kind, "hashrate_low");
  EXPECT_EQ(morning[0].events.size(), 2u);
  EXPECT_EQ(morning[1].kind, "pool_changed");
  EXPECT_EQ(g.held(), 0u);
}

TEST(AlertGrouping, ClearForgetsAndCountsWhatIsHeld) {
  Grouper g(Options(5s));
  g.Add(Event(1, "offline", "critical"), t0);
  g.Add(Event(2, "rebooted", "info"), t0);
  EXPECT_EQ(g.Clear(), 2u);
  EXPECT_EQ(g.held(), 0u);
  EXPECT_TRUE(g.TakeDue(t0 + 1h, false).empty());
}

}  // namespace
}  // namespace asicmon::alert
