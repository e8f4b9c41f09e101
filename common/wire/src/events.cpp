#include "asicmon/events.h"

#include <exception>
#include <string>

#include "asicmon/record.h"
#include "decode_limits.h"

namespace asicmon {
namespace {

// The string at `key` of `map`, or empty when absent or not a string.
std::string_view TextAt(const nlohmann::json& map, std::string_view key) {
  const auto it = map.find(key);
  if (it == map.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

EventKind KindNamed(std::string_view word) {
  if (word == kEventHealth) return EventKind::kHealth;
  if (word == kEventStats) return EventKind::kStats;
  if (word == kEventControl) return EventKind::kControl;
  return EventKind::kOther;
}

}  // namespace

nlohmann::json DecodeEventBody(std::string_view bytes) {
  if (bytes.size() > kMaxRecordBytes) return nlohmann::json(nlohmann::json::value_t::discarded);
  try {
    // msgpack-c's unpacker keeps its own stack and enforces the depth limit.
    msgpack::unpack(bytes.data(), bytes.size(), nullptr, nullptr, wire::DecodeLimits());
  } catch (const std::exception&) {
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  return nlohmann::json::from_msgpack(bytes, true, false);
}

bool PowerDetailReduces(std::string_view detail) {
  const std::string_view setting = detail.substr(0, detail.find(' '));
  return setting.starts_with(kPowerLimitDetail) ||
         (setting.starts_with(kPowerModeDetail) &&
          setting.substr(kPowerModeDetail.size()) == "low");
}

Result<Event> DecodeEvent(std::string_view bytes) {
  Event event{EventKind::kOther, DecodeEventBody(bytes)};
  if (event.body.is_discarded() || !event.body.is_object()) {
    return Status::ParseError("event is not a msgpack map");
  }
  event.kind = KindNamed(TextAt(event.body, kEventTypeKey));
  // The previous form: stats and control named by "kind". Only those two
  // words, since a health event's "kind" is its condition.
  if (event.kind == EventKind::kOther) {
    const EventKind legacy = KindNamed(TextAt(event.body, "kind"));
    if (legacy == EventKind::kStats || legacy == EventKind::kControl) event.kind = legacy;
  }
  return event;
}

}  // namespace asicmon
