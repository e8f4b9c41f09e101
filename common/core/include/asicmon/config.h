// Settings from the environment and the parsers behind them. A stage's own
// settings are rows of its table (settings.h), where CLI11 reads the flag or
// the env var; the Env* here serve the libraries' env-only settings (bus
// endpoints and keys, health rules, the store's database).
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
#include <string_view>

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

// The parsers behind the Env* above and the settings tables (settings.h):
// each takes already trimmed text, and `what` names the setting in the error.
Result<int64_t> ParseInt(const std::string& text, const std::string& what, int64_t min,
                         int64_t max);
Result<double> ParseDouble(const std::string& text, const std::string& what, double min,
                           double max);
// true/false, 1/0, yes/no, on/off (any case).
Result<bool> ParseBool(const std::string& text, const std::string& what);
// Parses "2.5" (seconds) into milliseconds within [min_s, max_s].
Result<std::chrono::milliseconds> ParseSeconds(const std::string& text, const std::string& what,
                                               double min_s, double max_s);

// `text` without its leading and trailing blanks.
std::string Trimmed(std::string_view text);

}  // namespace asicmon
