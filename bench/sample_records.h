// Realistic records for the benchmarks that fill a store: an S19-class
// miner's poll with 3 boards, 4 fans and 3 pools, numbers varied so the
// msgpack and JSON have real widths.
#pragma once

#include <random>
#include <string>

#include "asicmon/record.h"

namespace asicmon::bench {

inline constexpr double kPollSeconds = 30;
inline constexpr int kCollectors = 4;  // producers the records are spread over

// 10.20.x.y, 250 miners per /24.
std::string MinerIp(int miner);

// The poll of `miner` finishing near `ts` (a sweep's spread added); the
// uptime and counters grow with the polls since `start_ts`. 2% of polls
// time out (nothing measured).
Record SampleRecord(int miner, double ts, double start_ts, uint64_t seq, std::mt19937_64& rng);

}  // namespace asicmon::bench
