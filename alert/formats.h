// The bodies asicmon-alert POSTs, one builder per format, each from its
// receiver's public documentation (cited at each builder in formats.cpp):
//   json       the event object GET /events serves (one event), or a group
//              object holding those objects (several)
//   slack      an incoming webhook message: {"text"}
//   telegram   Bot API sendMessage: {"chat_id", "text"}
//   pagerduty  Events API v2: one incident per kind (dedup_key
//              "asicmon:<kind>"): a group of fired events triggers it (or
//              adds to it, saying how many miners are in it), and it is
//              resolved when the last of them clears
//
// Thread-safety: plain functions.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "destination_config.h"
#include "grouping.h"

namespace asicmon::alert {

struct Message {
  std::string body;  // application/json
  // Sent as Idempotency-Key (json: the same on every attempt); empty: none.
  std::string idempotency_key;
};

// Miners named in a group's text; the rest are counted ("and 190 more").
inline constexpr size_t kNamedMiners = 10;

// What people read: "[CRITICAL] 200 miners offline: 10.0.0.1, ... and 190
// more", or for one event its miner, model, worker and message.
std::string GroupText(const Group& group);

// What one PagerDuty destination has open: per kind, the miners (ip:port)
// in that condition. So a burst of 200 miners going offline pages once, and
// the incident is resolved by the clear of the last of them, not the first.
// Known only since asicmon-alert started: a clear with none known resolves.
class PagerDutyIncidents {
 public:
  static constexpr size_t kMaxOpenPerKind = 100000;
  static constexpr size_t kListedMiners = 100;  // in custom_details.miners

  // A trigger for fired events; for cleared ones a resolve when none of the
  // kind is left, else nothing.
  std::vector<Message> Render(const DestinationConfig& destination, const Group& group);
  size_t open(const std::string& kind) const;

 private:
  std::map<std::string, std::set<std::string>> open_;
};

// The messages `group` makes for `destination`: one, or for pagerduty what
// `incidents` (that destination's) says (none without them).
std::vector<Message> Render(const DestinationConfig& destination, const Group& group,
                            PagerDutyIncidents* incidents = nullptr);

}  // namespace asicmon::alert
