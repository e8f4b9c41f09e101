// Logging: one named spdlog logger per process, always on stderr (stdout is
// for data, e.g. --json lines). Lines are "time level name: message" with
// key=value details, so they read well and grep well.
//
// Thread-safety: spdlog's stderr sink is thread-safe.
#pragma once

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

}  // namespace asicmon
