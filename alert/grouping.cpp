#include "grouping.h"

#include <algorithm>

namespace asicmon::alert {

void Grouper::Add(HealthEvent event, Clock::time_point now) {
  if (held_ >= options_.max_held && !open_.empty()) {
    // The oldest event goes: the newest say most about the farm now.
    std::vector<HealthEvent>& oldest = open_.front().group.events;
    oldest.erase(oldest.begin());
    if (oldest.empty()) open_.pop_front();
    --held_;
    ++dropped_;
  }
  for (Open& open : open_) {
    Group& g = open.group;
    if (!open.full && g.kind == event.kind && g.state == event.state &&
        g.severity == event.severity) {
      g.events.push_back(std::move(event));
      ++held_;
      if (g.events.size() >= options_.max_group_events) open.full = true;
      return;
    }
  }
  Open open;
  open.group.kind = event.kind;
  open.group.state = event.state;
  open.group.severity = event.severity;
  open.group.events.push_back(std::move(event));
  open.due = now + options_.window;
  open.full = options_.max_group_events <= 1 || options_.window <= std::chrono::milliseconds(0);
  open_.push_back(std::move(open));
  ++held_;
}

bool Grouper::Sendable(const Open& open, bool quiet) const {
  return !quiet || open.group.severity == "critical";
}

std::vector<Group> Grouper::TakeDue(Clock::time_point now, bool quiet) {
  std::vector<Group> due;
  for (auto it = open_.begin(); it != open_.end();) {
    if ((it->full || now >= it->due) && Sendable(*it, quiet)) {
      held_ -= it->group.events.size();
      due.push_back(std::move(it->group));
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

std::optional<Grouper::Clock::time_point> Grouper::NextDue(bool quiet) const {
  std::optional<Clock::time_point> next;
  for (const Open& open : open_) {
    if (!Sendable(open, quiet)) continue;
    const Clock::time_point at = open.full ? Clock::time_point::min() : open.due;
    if (!next || at < *next) next = at;
  }
  return next;
}

size_t Grouper::Clear() {
  const size_t n = held_;
  open_.clear();
  held_ = 0;
  return n;
}

}  // namespace asicmon::alert
