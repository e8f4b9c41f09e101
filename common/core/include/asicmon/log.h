// Logging: one named spdlog logger per process, always on stderr (stdout is
// for data, e.g. --json lines). Lines are "time level name: message" with
// key=value details, so they read well and grep well.
//
// Thread-safety: spdlog's stderr sink is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "asicmon/status.h"

namespace asicmon {

// Makes the default logger "name" on stderr at `level` (trace, debug, info,
// warn, error, off). InvalidArgument for an unknown level.
Status InitLogging(const std::string& name, const std::string& level);

// Miner-supplied text made safe for one log line: control bytes escaped,
// at most `max_len` bytes.
std::string SafeForLog(std::string_view text, size_t max_len = 200);

// One kind of repeated warning, rate limited: at most one line per `every`,
// which says how many were held back since the last (HeldBackNote).
// Thread-safety: a plain value; one thread at a time.
class LogGate {
 public:
  explicit LogGate(std::chrono::steady_clock::duration every = std::chrono::seconds(10))
      : every_(every) {}
  // True when a line may be logged now; `held_back` is then how many calls
  // were refused since the last line.
  bool Allow(uint64_t& held_back);

 private:
  std::chrono::steady_clock::duration every_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_ = false;
  uint64_t held_back_ = 0;
};

// " (N more since the last report)", or "" for none: a gated line's tail.
std::string HeldBackNote(uint64_t held_back);

}  // namespace asicmon
