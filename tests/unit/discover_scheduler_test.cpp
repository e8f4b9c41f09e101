// discover's Scheduler (discover/scheduler.h) on a clock the test moves:
// one job per miner per interval, skipped (not queued) when the workers
// cannot take it, lost when its record never came back.
#include "scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace asicmon::discover {
namespace {

using namespace std::chrono_literals;
using Clock = Scheduler::Clock;

const Clock::time_point kOrigin{};  // any fixed point: the scheduler only subtracts

class SchedulerTest : public ::testing::Test {
 protected:
  // Issues what is due at origin + `at`, counting the jobs sent per miner;
  // `refuse` are the miners whose job the workers cannot take.
  void IssueAt(Clock::duration at, const std::vector<MinerKey>& refuse = {}) {
    scheduler_.IssueDue(kOrigin + at, [&](MinerKey key) {
      for (MinerKey r : refuse) {
        if (r == key) return false;
      }
      ++sent_[key];
      return true;
    });
  }

  Scheduler scheduler_{1000ms, kOrigin};
  std::map<MinerKey, int> sent_;
  const std::vector<MinerKey> miners_ = {KeyOf(0x7f290001, 4028), KeyOf(0x7f290002, 4028),
                                         KeyOf(0x7f290003, 4028)};
};

TEST_F(SchedulerTest, EachMinerOncePerIntervalAtItsOwnPhase) {
  for (MinerKey m : miners_) scheduler_.Add(m, kOrigin);
  scheduler_.Add(miners_[0], kOrigin);  // known already: still one job per interval
  EXPECT_EQ(scheduler_.size(), 3u);
  for (int interval = 1; interval <= 5; ++interval) {
    IssueAt(interval * 1000ms);
    for (MinerKey m : miners_) {
      EXPECT_EQ(sent_[m], interval) << "miner " << m;
      scheduler_.OnRecord(m);
    }
  }
  EXPECT_EQ(scheduler_.counters().jobs_sent, 15u);
  EXPECT_EQ(scheduler_.counters().records_matched, 15u);
  EXPECT_EQ(scheduler_.counters().jobs_lost, 0u);
  EXPECT_EQ(scheduler_.counters().jobs_behind, 0u);
  // Nothing more is due until the next interval.
  EXPECT_LE(scheduler_.NextDueIn(kOrigin + 5000ms, 10s), 1000ms);
}

TEST_F(SchedulerTest, RefusedJobIsSkippedNotQueued) {
  for (MinerKey m : miners_) scheduler_.Add(m, kOrigin);
  IssueAt(1000ms, {miners_[1]});
  EXPECT_EQ(sent_[miners_[1]], 0);
  EXPECT_EQ(scheduler_.counters().jobs_behind, 1u);
  // Its next job is the next interval's, one only, and it is not "lost":
  // nothing went out for the skipped one.
  IssueAt(2000ms);
  EXPECT_EQ(sent_[miners_[1]], 1);
  EXPECT_EQ(scheduler_.counters().jobs_sent, 2u + 3u);
  EXPECT_EQ(scheduler_.counters().jobs_lost, 2u);  // the two sent at 1 s got no record
}

TEST_F(SchedulerTest, JobWithoutARecordIsCountedLostAtTheNextOne) {
  for (MinerKey m : miners_) scheduler_.Add(m, kOrigin);
  IssueAt(1000ms);
  scheduler_.OnRecord(miners_[0]);
  scheduler_.OnRecord(miners_[0]);  // a second record for one job matches nothing
  IssueAt(2000ms);
  EXPECT_EQ(scheduler_.counters().records_matched, 1u);
  EXPECT_EQ(scheduler_.counters().jobs_lost, 2u);
}

TEST_F(SchedulerTest, AStallIssuesOneJobPerMinerNotTheBacklog) {
  for (MinerKey m : miners_) scheduler_.Add(m, kOrigin);
  IssueAt(10500ms);  // ten intervals late
  for (MinerKey m : miners_) EXPECT_EQ(sent_[m], 1) << "miner " << m;
}

TEST_F(SchedulerTest, RemovedMinerGetsNoMoreJobs) {
  for (MinerKey m : miners_) scheduler_.Add(m, kOrigin);
  IssueAt(1000ms);
  scheduler_.Remove(miners_[2]);
  IssueAt(3000ms);
  EXPECT_EQ(sent_[miners_[2]], 1);
  EXPECT_EQ(sent_[miners_[0]], 2);
  EXPECT_EQ(scheduler_.size(), 2u);
}

}  // namespace
}  // namespace asicmon::discover
