#include "scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace asicmon::discover {
namespace {

constexpr std::chrono::seconds kLostReportEvery{60};

// SplitMix64's finaliser: neighbouring addresses land at unrelated phases.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

Scheduler::Scheduler(std::chrono::milliseconds interval, Clock::time_point origin)
    : interval_(std::max(interval, std::chrono::milliseconds(1))),
      origin_(origin),
      window_end_(origin + interval_),
      next_lost_report_(origin) {}

Scheduler::Clock::time_point Scheduler::FirstDue(MinerKey key, Clock::time_point now) const {
  const auto phase = std::chrono::milliseconds(
      static_cast<int64_t>(Mix(key) % static_cast<uint64_t>(interval_.count())));
  const auto since_origin = now - origin_;
  auto at = origin_ + (since_origin / interval_) * interval_ + phase;
  if (at < now) at += interval_;
  return at;
}

void Scheduler::Add(MinerKey key, Clock::time_point now) {
  auto [it, inserted] = miners_.try_emplace(key);
  if (!inserted) return;
  it->second.due = FirstDue(key, now);
  queue_.push({it->second.due, key});
}

void Scheduler::Remove(MinerKey key) { miners_.erase(key); }

void Scheduler::OnRecord(MinerKey key) {
  auto it = miners_.find(key);
  if (it == miners_.end() || !it->second.awaiting_record) return;
  it->second.awaiting_record = false;
  ++counters_.records_matched;
}

void Scheduler::CloseWindows(Clock::time_point now) {
  if (now < window_end_) return;
  if (window_behind_ > 0) {
    spdlog::warn(
        "polls are falling behind: {} of {} jobs in the last interval skipped (collect workers' "
        "queues full, or no worker connected); jobs_behind={}",
        window_behind_, window_due_, counters_.jobs_behind);
  }
  window_due_ = 0;
  window_behind_ = 0;
  window_end_ += ((now - window_end_) / interval_ + 1) * interval_;
}

void Scheduler::ReportLost(Clock::time_point now) {
  if (lost_unreported_ == 0 || now < next_lost_report_) return;
  spdlog::warn(
      "{} poll jobs got no record before their miner's next job (a collect worker died holding "
      "them, or store is not publishing); jobs_lost={}",
      lost_unreported_, counters_.jobs_lost);
  lost_unreported_ = 0;
  next_lost_report_ = now + kLostReportEvery;
}

void Scheduler::IssueDue(Clock::time_point now, const SendJob& send) {
  CloseWindows(now);
  while (!queue_.empty() && queue_.top().at <= now) {
    const Due due = queue_.top();
    queue_.pop();
    auto it = miners_.find(due.key);
    if (it == miners_.end() || it->second.due != due.at) continue;  // removed or rescheduled
    State& state = it->second;
    if (state.awaiting_record) {
      ++counters_.jobs_lost;
      ++lost_unreported_;
    }
    ++window_due_;
    if (send(due.key)) {
      ++counters_.jobs_sent;
      state.awaiting_record = true;
    } else {
      // Skipped, not queued: the next interval's job replaces it.
      ++counters_.jobs_behind;
      ++window_behind_;
      state.awaiting_record = false;
    }
    // The same phase next interval; after a stall, the first one still ahead.
    state.due = due.at + interval_;
    if (state.due <= now) state.due += ((now - state.due) / interval_ + 1) * interval_;
    queue_.push({state.due, due.key});
  }
  ReportLost(now);
}

std::chrono::milliseconds Scheduler::NextDueIn(Clock::time_point now,
                                               std::chrono::milliseconds max_wait) const {
  if (queue_.empty()) return max_wait;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(queue_.top().at - now);
  return std::clamp(left, std::chrono::milliseconds(0), max_wait);
}

}  // namespace asicmon::discover
