// Wall-clock time as the records carry it.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace asicmon {

// Unix seconds, with sub-second precision.
inline double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "HH:MM" (24-hour, two digits each) as minutes after midnight; nullopt
// for anything else. Quiet hours and time-of-use windows are written so.
inline std::optional<int> ParseClockMinute(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (size_t i : {0u, 1u, 3u, 4u}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  return hours * 60 + minutes;
}

}  // namespace asicmon
