// The poll scheduler: one job per known miner per interval, each miner at a
// stable phase inside the interval (a hash of its address), so the workers
// see a steady trickle rather than a burst every interval.
//
// It also keeps the two alarms of the jobs hop:
//   jobs_behind  the workers could not take a job (queues full, or no worker
//                connected): that miner is skipped this interval, never queued
//                up here; logged once per interval with counts.
//   jobs_lost    a miner's next job came due and no record arrived for its
//                previous one (a worker died holding it, or store is down):
//                counted, and logged at most once a minute.
//
// Thread-safety: one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "inventory.h"

namespace asicmon::discover {

struct SchedulerCounters {
  uint64_t jobs_sent = 0;
  uint64_t jobs_behind = 0;
  uint64_t jobs_lost = 0;
  uint64_t records_matched = 0;  // records for a miner with a job out
};

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  // Returns false when the workers cannot take the job now.
  using SendJob = std::function<bool(MinerKey key)>;

  Scheduler(std::chrono::milliseconds interval, Clock::time_point origin);

  // Starts polling a miner at its phase: its first job comes within one interval.
  void Add(MinerKey key, Clock::time_point now);
  void Remove(MinerKey key);
  // A record for this miner arrived: its job came back.
  void OnRecord(MinerKey key);

  // Issues every job due by `now`.
  void IssueDue(Clock::time_point now, const SendJob& send);
  // Time until the next job is due (max_wait when none is sooner).
  std::chrono::milliseconds NextDueIn(Clock::time_point now,
                                      std::chrono::milliseconds max_wait) const;

  std::chrono::milliseconds interval() const { return interval_; }
  size_t size() const { return miners_.size(); }
  const SchedulerCounters& counters() const { return counters_; }

 private:
  struct Due {
    Clock::time_point at;
    MinerKey key;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  struct State {
    Clock::time_point due;
    bool awaiting_record = false;  // a job went out and no record came back yet
  };

  Clock::time_point FirstDue(MinerKey key, Clock::time_point now) const;
  void CloseWindows(Clock::time_point now);
  void ReportLost(Clock::time_point now);

  std::chrono::milliseconds interval_;
  Clock::time_point origin_;
  std::unordered_map<MinerKey, State> miners_;
  // Lazy deletion: an entry whose time differs from its miner's due is stale.
  std::priority_queue<Due, std::vector<Due>, std::greater<>> queue_;
  SchedulerCounters counters_;

  // The interval window being counted for the "falling behind" line.
  Clock::time_point window_end_;
  uint64_t window_due_ = 0;
  uint64_t window_behind_ = 0;
  // jobs_lost since the last warning, and when that was.
  uint64_t lost_unreported_ = 0;
  Clock::time_point next_lost_report_;
};

}  // namespace asicmon::discover
