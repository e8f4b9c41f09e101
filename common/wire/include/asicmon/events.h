// What travels on topic "event" besides records: one envelope for every kind
// of event, its decoder, and the words of control's events that more than
// one stage reads.
//
// An event is a msgpack map whose "type" names its kind: "health" (written
// by common/health), "stats" (common/bus) or "control" (asicmon-control).
// Before the envelope, stats and control events named their kind by "kind"
// instead ({"kind":"stats",...}, {"kind":"control",...}), and a health
// event's "kind" is its condition ("offline", ...). So that a pipeline
// upgraded one stage at a time keeps working, writers still put the old
// "kind" in stats and control events, and the decoder reads a map without a
// known "type" by that "kind".
//
// Each kind's body is typed where its logic lives: HealthEventFromJson in
// health, StageStatsFromJson in bus, SleepCommandFromJson in store (wire sits
// below them all). A consumer decodes the bytes once, switches on the kind
// and types only the kinds it reads, so a malformed event of a kind it does
// not read is not its error (the store relays those untouched).
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "asicmon/status.h"

namespace asicmon {

// The key naming an event's kind, and the words it takes.
inline constexpr std::string_view kEventTypeKey = "type";
inline constexpr std::string_view kEventHealth = "health";
inline constexpr std::string_view kEventStats = "stats";
inline constexpr std::string_view kEventControl = "control";

// The result control gives a sleep or wake it is about to carry out.
inline constexpr std::string_view kControlPending = "pending";
// The result of a command the gate refused because another one holds the miner.
inline constexpr std::string_view kControlBusy = "busy";

// A power change's detail (its event's and its audit row's) starts with the
// setting, "mode=<low|normal|high>" or "limit_w=<watts>", then says what
// else it likes after a space: control writes it, the store reads it.
inline constexpr std::string_view kPowerModeDetail = "mode=";
inline constexpr std::string_view kPowerLimitDetail = "limit_w=";
// The detail sets a low mode or a power limit: the miner hashes less on purpose.
bool PowerDetailReduces(std::string_view detail);

enum class EventKind : uint8_t {
  kOther,    // a kind this build does not know: relayed, read by nobody
  kHealth,
  kStats,
  kControl,
};

struct Event {
  EventKind kind = EventKind::kOther;
  nlohmann::json body;  // the whole map, envelope key included
};

// The event in `bytes`: ParseError when they are not one msgpack map within
// the decoders' limits (checked before any parse, see DecodeEventBody).
Result<Event> DecodeEvent(std::string_view bytes);

// An event's bytes (a msgpack value) as JSON, or a discarded value when they
// are not one msgpack value within the decoders' limits. The limits are
// checked first: nlohmann's msgpack reader recurses once per nesting level,
// so a body of nested arrays up to the bus's cap would overflow the stack.
// For tools that show any value; stages read events through DecodeEvent.
nlohmann::json DecodeEventBody(std::string_view bytes);

}  // namespace asicmon
