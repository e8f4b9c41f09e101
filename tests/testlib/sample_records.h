// Realistic records for the tests and benchmarks that feed a store, the bus
// or a receiver: an S19-class miner's poll with 3 boards, 4 fans and 3
// pools (~480 bytes of msgpack). No GoogleTest here, so benches link it too.
//
// Their addresses come from DataOnlyIp: records are stored and relayed,
// never polled, and no test puts a private farm address where a running
// process could act on it.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "asicmon/record.h"

namespace asicmon::testing {

inline constexpr double kPollSeconds = 30;
inline constexpr int kCollectors = 4;  // producers RandomSampleRecord spreads records over

// 127.41.x.y (x = n / 250, y = n % 250 + 1, n < 62,500): the address plan's
// data-only range. Nothing listens there and nothing contacts it, so any
// number of tests may use it at once.
std::string DataOnlyIp(int n);

// Miner `miner`'s poll number `seq` from `producer`, finished at `ts`; the
// numbers vary with seq so each record is its own, and the same arguments
// always give the same record.
Record SampleRecord(const std::string& producer, uint64_t seq, int miner, double ts);

// Records 10 ms apart from an hour ago on (inside a store's raw window, which
// its retention keeps), one of 1,000 miners per seq.
Record RecentSampleRecord(const std::string& producer, uint64_t seq);

// A farm's stream for sizing a store: the poll of `miner` finishing near
// `ts` (a sweep's spread added), counters grown with the polls since
// `start_ts`, numbers varied by `rng`, 2% of polls timed out.
Record RandomSampleRecord(int miner, double ts, double start_ts, uint64_t seq,
                          std::mt19937_64& rng);

}  // namespace asicmon::testing
