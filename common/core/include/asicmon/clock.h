// Wall-clock time as the records carry it.
#pragma once

#include <chrono>

namespace asicmon {

// Unix seconds, with sub-second precision.
inline double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace asicmon
