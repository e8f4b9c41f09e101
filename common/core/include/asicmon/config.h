// Settings from the environment, the layer between built-in defaults and
// command-line flags: a stage fills its Config with defaults, applies the env
// vars (the seed's names: SUBNET, SCAN_INTERVAL, ENABLE_DB, API_URL, ...),
// then lets CLI11 flags override, and validates once before connecting.
//
// Each Env* leaves `out` untouched when the variable is unset, and returns
// InvalidArgument naming the variable when its value does not parse or is
// out of range.
//
// Thread-safety: reads the environment; call before starting threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "asicmon/status.h"

namespace asicmon {

// Where a secret sits within a setting's text: [first, first + size).
struct SecretSpan {
  size_t first = 0;
  size_t size = 0;
};

Status EnvString(const char* name, std::string& out);
Status EnvInt(const char* name, int64_t& out, int64_t min, int64_t max);
Status EnvDouble(const char* name, double& out, double min, double max);
// true/false, 1/0, yes/no, on/off (any case).
Status EnvBool(const char* name, bool& out);
// A number of seconds (may be fractional), stored as milliseconds.
Status EnvSeconds(const char* name, std::chrono::milliseconds& out, double min_s, double max_s);

// Parses "2.5" (seconds) into milliseconds within [min_s, max_s]; `what`
// names the setting in the error.
Result<std::chrono::milliseconds> ParseSeconds(const std::string& text, const std::string& what,
                                               double min_s, double max_s);

}  // namespace asicmon
