// What every executable's main shares: the logging and counter flags (with
// their env vars) and the start-up order: parse flags, start logging, then
// report a bad environment, each with the same exit codes (0 after --help,
// 2 for any bad configuration).
//
// Thread-safety: call from main before starting threads.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "asicmon/config.h"
#include "asicmon/settings.h"
#include "asicmon/status.h"

namespace asicmon {

struct StageFlags {
  std::string log_level = "info";                 // LOG_LEVEL
  std::chrono::seconds stats_interval{60};        // STATS_INTERVAL: between counter lines in the log
};

// Adds the rows --log-level (LOG_LEVEL) and, when `with_stats`,
// --stats-interval (STATS_INTERVAL).
void AddStageSettings(SettingsTable& settings, StageFlags& flags, bool with_stats = true);

// Parses the command line (flags, then the env vars of the flags not given),
// starts logging as `name`, then checks `env` (SettingsTable::env_status:
// the env-only settings, read before parsing).
// Returns the exit code when main should return now, nullopt to go on.
std::optional<int> StartStage(CLI::App& app, int argc, char** argv, const std::string& name,
                              const StageFlags& flags, const Status& env);

// Where the secret sits in a flag's value (SecretSpan, asicmon/config.h), or
// nullopt when the value holds none.
using SecretIn = std::function<std::optional<SecretSpan>(std::string_view value)>;

// Overwrites with '*', in this process's own argv, the values given to `flag`
// ("--flag value" or "--flag=value"; all of each value, or the span `secret_in`
// finds), so ps and /proc/<pid>/cmdline stop showing them to other users.
// Call after StartStage: CLI11 has copied the values by then.
void HideFlagValues(int argc, char** argv, std::string_view flag, const SecretIn& secret_in = {});

}  // namespace asicmon
