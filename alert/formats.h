// The bodies asicmon-alert POSTs, one builder per format, each from its
// receiver's public documentation (cited at each builder in formats.cpp):
//   json       the event object GET /events serves (one event), or a group
//              object holding those objects (several)
//   slack      an incoming webhook message: {"text"}
//   telegram   Bot API sendMessage: {"chat_id", "text"}
//   pagerduty  Events API v2: one event per miner and kind (dedup_key), a
//              "fired" triggers, a "cleared" resolves what it triggered
//
// Thread-safety: plain functions.
#pragma once

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

// The messages `group` makes for `destination`: one, except for pagerduty,
// whose model needs one event per dedup key (see formats.cpp).
std::vector<Message> Render(const DestinationConfig& destination, const Group& group);

}  // namespace asicmon::alert
