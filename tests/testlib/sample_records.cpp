#include "sample_records.h"

#include <chrono>
#include <cmath>

namespace asicmon::testing {

std::string DataOnlyIp(int n) {
  return "127.41." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1);
}

Record SampleRecord(const std::string& producer, uint64_t seq, int miner, double ts) {
  const auto n = static_cast<int64_t>(seq);
  Record r;
  r.producer_id = producer;
  r.seq = seq;
  r.ts = ts;
  r.ip = DataOnlyIp(miner);
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.firmware_build = "49.0.1.3";
  r.algorithm = "sha256d";
  r.worker = "farm.w" + std::to_string(miner);
  r.hashrate = 110e12 + static_cast<double>(n % 97) * 1e10;
  r.hashrate_avg = 109.8e12;
  r.hashrate_expected = 111.8e12;
  r.uptime_s = 100000 + n;
  r.accepted = 18000 + n;
  r.rejected = 12;
  r.hw_errors = 2708;
  r.temp_max = 70 + static_cast<double>(n % 15);
  for (int f = 0; f < 4; ++f) r.fans.push_back(5800 + static_cast<int32_t>((n + f) % 600));
  for (int b = 1; b <= 3; ++b) {
    r.boards.push_back(
        {b, *r.hashrate / 3, 37.2e12, 60.0 + b, 70.0 + b, 114, 114, 0, 525.0, 880 + n});
  }
  for (int p = 0; p < 3; ++p) {
    r.pools.push_back({p, "stratum+tcp://pool-" + std::to_string(p) + ".example.com:3333", r.worker,
                       "Alive", p, p == 0 ? 18000 + n : 0, p == 0 ? 12 : 0, 0, p == 0});
  }
  r.power_w = 3250;
  r.poll_ms = 12.5;
  return r;
}

Record RecentSampleRecord(const std::string& producer, uint64_t seq) {
  // Whole seconds, fixed for the process: the same arguments, the same record.
  static const double base_ts =
      std::floor(
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count()) -
      3600;
  return SampleRecord(producer, seq, static_cast<int>(seq % 1000),
                      base_ts + static_cast<double>(seq) * 0.01);
}

Record RandomSampleRecord(int miner, double ts, double start_ts, uint64_t seq,
                          std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unit(0, 1);
  Record r;
  r.producer_id = "collect-rack" + std::to_string(miner % kCollectors) + "-12345";
  r.seq = seq;
  r.ts = ts + (miner % 3000) * 0.01 + unit(rng) * 0.2;  // a sweep takes a while
  r.ip = DataOnlyIp(miner);
  if (unit(rng) < 0.02) {
    r.status = asicmon::MinerStatus::kTimeout;
    r.error = "no reply within 5 s";
    return r;
  }
  const auto poll = static_cast<int64_t>((ts - start_ts) / kPollSeconds);
  r.model = "Antminer S19 Pro";
  r.firmware = "BMMiner 1.0.0";
  r.firmware_build = "49.0.1.3 (Mon Oct 26 17:55:33 CST 2020)";
  r.algorithm = "sha256d";
  r.worker = "farm.w" + std::to_string(miner);
  const double rate = 110e12 * (0.95 + 0.1 * unit(rng));
  r.hashrate = rate;
  r.hashrate_avg = 109.8e12 + unit(rng) * 1e11;
  r.hashrate_expected = 111.8e12;
  r.uptime_s = 100000 + poll * 30 + miner;
  r.accepted = 18000 + poll;
  r.rejected = 12 + miner % 7;
  r.hw_errors = 2708 + poll / 3;
  r.temp_max = 70 + static_cast<int>(unit(rng) * 15);
  for (int f = 0; f < 4; ++f) r.fans.push_back(5800 + static_cast<int32_t>(unit(rng) * 600));
  for (int b = 1; b <= 3; ++b) {
    r.boards.push_back({b, rate / 3, 37.2e12, 60.0 + static_cast<int>(unit(rng) * 10),
                        70.0 + static_cast<int>(unit(rng) * 15), 114, 114, 0,
                        525.0 + static_cast<int>(unit(rng) * 20), 880 + poll});
  }
  for (int p = 0; p < 3; ++p) {
    r.pools.push_back({p, "stratum+tcp://pool-" + std::to_string(p) + ".example.com:3333", r.worker,
                       "Alive", p, p == 0 ? 18000 + poll : 0, p == 0 ? 12 : 0, 0, p == 0});
  }
  r.power_w = 3250 + static_cast<int>(unit(rng) * 50);
  r.poll_ms = 10 + unit(rng) * 20;
  return r;
}

}  // namespace asicmon::testing
