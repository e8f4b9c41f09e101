// Grouping of a burst: health events of the same kind, state and severity
// that arrive within `window` of the first become one Group, sent as one
// message ("200 miners offline: ..."), so a switch failing pages people once,
// not 200 times. A group is sent when its window has passed; during quiet
// hours one below critical is held (and keeps taking events of its kind)
// until they end, then sent as one digest. Critical groups always go out.
//
// Bounds: a group closes at max_group_events (sent at once, the next event
// opens another); past max_held events in all groups the oldest event is
// dropped and counted.
//
// The clock is the caller's (steady time and whether it is quiet now), so
// tests need no sleeps. Thread-safety: a plain object; one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "asicmon/health.h"

namespace asicmon::alert {

struct Group {
  std::string kind;                 // "offline", ...
  std::string state;                // "fired" or "cleared"
  std::string severity;             // "critical", "warning" or "info"
  std::vector<HealthEvent> events;  // in arrival order; at least one
};

struct GroupingOptions {
  // How long a group waits for more of its kind after its first event.
  // 0: every event is sent alone at once. Default: 5 s ($ALERT_GROUP_S).
  std::chrono::milliseconds window{5000};
  // Events in one group (one message). Default: 500.
  size_t max_group_events = 500;
  // Events held in all groups; past it the oldest is dropped. Default: 10000.
  size_t max_held = 10000;
};

class Grouper {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Grouper(GroupingOptions options) : options_(options) {}

  void Add(HealthEvent event, Clock::time_point now);
  // The groups to send now, oldest first: their window has passed (or they
  // are full), and they are critical or it is not `quiet`.
  std::vector<Group> TakeDue(Clock::time_point now, bool quiet);
  // When the next group falls due (nullopt: none will while `quiet` holds).
  std::optional<Clock::time_point> NextDue(bool quiet) const;

  size_t held() const { return held_; }
  uint64_t dropped() const { return dropped_; }
  // Forgets every held event and says how many (unsent at shutdown).
  size_t Clear();

 private:
  struct Open {
    Group group;
    Clock::time_point due;
    bool full = false;
  };
  bool Sendable(const Open& open, bool quiet) const;

  GroupingOptions options_;
  std::deque<Open> open_;  // oldest first
  size_t held_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace asicmon::alert
