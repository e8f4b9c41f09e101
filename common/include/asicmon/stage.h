// What every executable's main shares: the logging and counter flags (with
// their env vars) and the start-up order: parse flags, start logging, then
// report a bad environment, each with the same exit codes (0 after --help,
// 2 for any bad configuration).
//
// Thread-safety: call from main before starting threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "asicmon/status.h"

namespace asicmon {

struct StageFlags {
  std::string log_level = "info";  // LOG_LEVEL
  int64_t stats_interval_s = 60;   // STATS_INTERVAL: seconds between counter lines in the log
};

// Applies LOG_LEVEL and STATS_INTERVAL.
Status LoadStageEnv(StageFlags& flags);

// Adds --log-level and, when `with_stats`, --stats-interval.
void AddStageFlags(CLI::App& app, StageFlags& flags, bool with_stats = true);

// Parses the command line, starts logging as `name`, then checks `env` (the
// Status of loading env vars, done before parsing so flags override them).
// Returns the exit code when main should return now, nullopt to go on.
std::optional<int> StartStage(CLI::App& app, int argc, char** argv, const std::string& name,
                              const StageFlags& flags, const Status& env);

}  // namespace asicmon
