// discover's memory across restarts: the miners it knew, in a file replaced
// after every sweep and at exit. A restarted discover polls them at once
// rather than only as its first sweep finds them again (minutes on a /16,
// every poll of every miner skipped meanwhile).
//
// Format: JSON lines. A header {"asicmon_discover_state":1,"saved_ts":…},
// then one miner a line {"ip","port","identified","model",
// "firmware","worker","family","mac","serial","hostname","missed_sweeps"}
// (the four identity keys may be absent: files written before them).
//
// The file is hostile input like any other: a bad line is skipped and
// counted, a miner outside this discover's targets or port (SUBNET or
// MINER_PORT changed since) is left out, and a file that is not this format is ignored as a whole.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "asicmon/status.h"
#include "inventory.h"

namespace asicmon::discover {

struct KnownState {
  std::vector<KnownMiner> miners;
  double saved_ts = 0;  // unix seconds
  size_t bad_lines = 0;
  size_t outside_targets = 0;
};

// The default file for a discover of `addresses` on `port` under `run_dir`:
// named by a hash of both, so discovers of different targets never share one.
std::string DefaultStatePath(const std::string& run_dir, std::span<const uint32_t> addresses,
                             uint16_t port);

// nullopt when there is no file; ParseError when it is not a state file.
// Only the miners `in_targets` accepts are kept.
Result<std::optional<KnownState>> LoadKnownState(
    const std::string& path, const std::function<bool(uint32_t address, uint16_t port)>& in_targets);

// Writes `miners` to a temporary file beside `path`, then renames it over.
Status SaveKnownState(const std::string& path, std::span<const KnownMiner> miners);

}  // namespace asicmon::discover
