// Prints what the SQLite store costs: WriteBatch records/s (batches of 1000,
// 10,000 distinct miners, realistic records of 3 boards, 4 fans, 3 pools,
// latest-state upsert included), bytes per raw row and per miner-day, the
// same for the hourly aggregates Maintain folds them into, and the time of
// the API's queries. Figures only; nothing passes or fails.
//
// Usage: store_bench [--polls N] [--hours N] [--cache-mib N] [--db PATH] [--keep]
//   --polls  30 s polls of every miner written at full rate (default 40:
//            400,000 records)
//   --hours  hours of one poll per miner folded hour by hour, for the
//            aggregates' steady-state size (default 24)
//   --cache-mib  SQLite page cache of the writer (default: StoreOptions')
//   --db     database file, replaced (default a fresh one under /tmp)
//   --keep   leave the database for a look with sqlite3
#include <sys/resource.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "asicmon/record.h"
#include "asicmon/store_db.h"
#include "sample_records.h"

namespace {

using Clock = std::chrono::steady_clock;
using asicmon::Record;

constexpr int kMiners = 10000;
constexpr size_t kBatch = 1000;
constexpr double kPollSeconds = asicmon::testing::kPollSeconds;
constexpr double kPollsPerDay = 86400 / kPollSeconds;
constexpr double kStartTs = 1764000000;  // an hour boundary

// CPU time of this thread: less disturbed by the machine's other load
// than wall time, but blind to waits for the disk and to the store's
// checkpoint thread.
double ThreadCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Bytes of the pages (dbstat) that `objects` occupy.
int64_t PageBytes(SQLite::Database& raw, const std::vector<std::string>& objects) {
  int64_t total = 0;
  SQLite::Statement q(raw, "SELECT sum(pgsize) FROM dbstat WHERE name = ?1");
  for (const std::string& name : objects) {
    q.reset();
    q.bind(1, name);
    if (q.executeStep()) total += q.getColumn(0).getInt64();
  }
  return total;
}

void PrintObjects(SQLite::Database& raw) {
  SQLite::Statement q(raw,
                      "SELECT name, sum(pgsize), count(*) FROM dbstat GROUP BY name "
                      "HAVING count(*) > 1 ORDER BY sum(pgsize) DESC");
  while (q.executeStep()) {
    std::printf("    %-28s %10.1f MB %9lld pages\n", q.getColumn(0).getText(),
                static_cast<double>(q.getColumn(1).getInt64()) / 1e6,
                static_cast<long long>(q.getColumn(2).getInt64()));
  }
}

template <typename Fn>
void TimeQuery(const char* what, int runs, Fn&& fn) {
  size_t rows = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < runs; ++i) rows = fn(i);
  std::printf("  %-40s %9.3f ms  (%zu rows)\n", what, Seconds(t0) / runs * 1e3, rows);
}

template <typename T>
T Must(asicmon::Result<T> result) {
  if (!result.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", result.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void Must(const asicmon::Status& status) {
  if (!status.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", status.ToString().c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int polls = 40;
  int hours = 24;
  std::string path = "/tmp/asicmon_store_bench_" + std::to_string(getpid()) + "/asicmon.db";
  bool keep = false;
  int64_t cache_mib = asicmon::StoreOptions{}.cache_kib / 1024;
  bool own_dir = true;  // the default directory is the bench's to remove
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--polls") == 0 && i + 1 < argc) {
      polls = std::max(10, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--hours") == 0 && i + 1 < argc) {
      hours = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--cache-mib") == 0 && i + 1 < argc) {
      cache_mib = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      path = argv[++i];
      own_dir = false;
    } else if (std::strcmp(argv[i], "--keep") == 0) {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: store_bench [--polls N] [--hours N] [--cache-mib N] [--db PATH] [--keep]\n");
      return 2;
    }
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

  asicmon::StoreOptions options;
  options.database = path;
  options.cache_kib = cache_mib * 1024;
  std::unique_ptr<asicmon::StoreDb> db = Must(asicmon::StoreDb::Open(options));

  std::mt19937_64 rng(42);
  std::vector<uint64_t> seqs(asicmon::testing::kCollectors, 0);
  auto make = [&](int miner, double ts) {
    return asicmon::testing::RandomSampleRecord(miner, ts, kStartTs, ++seqs[static_cast<size_t>(miner % asicmon::testing::kCollectors)], rng);
  };
  const Record sample = make(7, kStartTs);
  std::printf("store_bench: %s, page cache %lld MiB\n  record: %zu bytes of msgpack (3 boards, 4 fans, 3 pools)\n",
              path.c_str(), static_cast<long long>(cache_mib), asicmon::EncodeRecord(sample).size());

  // Phase 1: full-rate ingest, a poll of every miner every 30 s.
  const int64_t total = static_cast<int64_t>(polls) * kMiners;
  std::printf("\nWriteBatch: %d miners x %d polls = %lld records in batches of %zu\n", kMiners,
              polls, static_cast<long long>(total), kBatch);
  std::printf("  (insert + latest-state upsert, one transaction per batch)\n");
  std::vector<Record> batch;
  batch.reserve(kBatch);
  int64_t written = 0;
  double wall_s = 0, cpu_s = 0, tenth_wall_s = 0, tenth_cpu_s = 0;
  const int64_t tenth = total / 10;
  for (int poll = 0; poll < polls; ++poll) {
    for (int m = 0; m < kMiners; ++m) {
      batch.push_back(make(m, kStartTs + kPollSeconds * poll));
      if (batch.size() < kBatch) continue;
      const auto t0 = Clock::now();
      const double cpu0 = ThreadCpuSeconds();
      Must(db->WriteBatch(batch));
      tenth_wall_s += Seconds(t0);
      tenth_cpu_s += ThreadCpuSeconds() - cpu0;
      written += static_cast<int64_t>(batch.size());
      batch.clear();
      if (written % tenth == 0) {
        std::printf("  %8lld records: %7.0f records/s wall, %7.0f /s writer CPU\n",
                    static_cast<long long>(written), static_cast<double>(tenth) / tenth_wall_s,
                    static_cast<double>(tenth) / tenth_cpu_s);
        wall_s += tenth_wall_s;
        cpu_s += tenth_cpu_s;
        tenth_wall_s = tenth_cpu_s = 0;
      }
    }
  }
  std::printf("  overall : %7.0f records/s wall (%.1f s), %7.0f /s writer CPU\n",
              static_cast<double>(written) / wall_s, wall_s, static_cast<double>(written) / cpu_s);

  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  const double per_row =
      static_cast<double>(PageBytes(raw, {"records", "records_ip_ts", "records_producer_seq"})) /
      static_cast<double>(written);
  std::printf("\nDisk, raw (dbstat: pages of each table and index)\n");
  PrintObjects(raw);
  std::printf("  per record (records + its 2 indexes) %6.0f bytes\n", per_row);
  std::printf("  per miner-day at 30 s polls          %6.2f MB (%.0f records)\n",
              per_row * kPollsPerDay / 1e6, kPollsPerDay);
  std::printf("  10,000 miners, 48 h raw window       %6.1f GB\n",
              per_row * kPollsPerDay * 2 * kMiners / 1e9);

  std::printf("\nQueries (%lld records, %d miners)\n", static_cast<long long>(written), kMiners);
  TimeQuery("Latest(limit 100, some offset)", 200, [&](int i) {
    asicmon::LatestFilter f;
    f.offset = static_cast<size_t>(i * 37 % 9900);
    return Must(db->Latest(f)).size();
  });
  TimeQuery("Latest(status=timeout, limit 100)", 50, [&](int) {
    asicmon::LatestFilter f;
    f.status = asicmon::MinerStatus::kTimeout;
    return Must(db->Latest(f)).size();
  });
  TimeQuery("Latest(worker=farm.w777)", 50, [&](int) {
    asicmon::LatestFilter f;
    f.worker = "farm.w777";
    return Must(db->Latest(f)).size();
  });
  TimeQuery("Latest(all 10,000 miners)", 5, [&](int) {
    asicmon::LatestFilter f;
    f.limit = kMiners;
    return Must(db->Latest(f)).size();
  });
  TimeQuery("History(one miner, all its records)", 200, [&](int i) {
    return Must(db->History(asicmon::testing::DataOnlyIp(i * 53 % kMiners), 0, 1e12, 10000)).size();
  });
  TimeQuery("History(one miner, 10 minutes)", 200, [&](int i) {
    return Must(db->History(asicmon::testing::DataOnlyIp(i * 53 % kMiners), kStartTs + 300, kStartTs + 900, 10000))
        .size();
  });
  TimeQuery("RecordsBySeq(1000 seqs)", 50, [&](int i) {
    const auto first = static_cast<uint64_t>(1 + i * 1000);
    return Must(db->RecordsBySeq("collect-rack1-12345", first, first + 999)).size();
  });
  TimeQuery("CountRecords()", 1000,
            [&](int) { return static_cast<size_t>(Must(db->CountRecords())); });

  // Everything so far is older than the raw window at `now`: fold it all.
  double now = kStartTs + kPollSeconds * polls + 50 * 3600;
  auto t0 = Clock::now();
  const asicmon::MaintainStats folded = Must(db->Maintain(now));
  const double fold_s = Seconds(t0);
  std::printf("\nMaintain: folded %lld records in %.1f s (%.0f /s, %lld per transaction)\n",
              static_cast<long long>(folded.rows_folded), fold_s,
              static_cast<double>(folded.rows_folded) / fold_s,
              static_cast<long long>(options.maintain_chunk_rows));
  t0 = Clock::now();
  Must(db->Maintain(now));
  std::printf("  a pass with nothing to fold: %.1f ms\n", Seconds(t0) * 1e3);

  // Phase 2: aggregates as they build up in service, one hour after the
  // other (one poll per miner per hour is enough: a row's size does not
  // depend on how many polls it sums).
  const double phase2_start = std::ceil(now / 3600) * 3600;
  for (int h = 0; h < hours; ++h) {
    for (int m = 0; m < kMiners; ++m) {
      batch.push_back(make(m, phase2_start + 3600.0 * h));
      if (batch.size() < kBatch) continue;
      Must(db->WriteBatch(batch));
      batch.clear();
    }
    Must(db->Maintain(phase2_start + 3600.0 * (h + 1) + 48 * 3600));
  }
  const int64_t hourly_rows = raw.execAndGet("SELECT count(*) FROM records_hourly").getInt64();
  const double per_hourly =
      static_cast<double>(PageBytes(raw, {"records_hourly", "records_hourly_hour"})) /
      static_cast<double>(hourly_rows);
  std::printf("\nDisk, downsampled (after %d more hours folded hour by hour)\n", hours);
  PrintObjects(raw);
  std::printf("  free pages %lld (reused by later writes)\n",
              static_cast<long long>(raw.execAndGet("PRAGMA freelist_count").getInt64()));
  std::printf("  per hourly row (+ its hour index)    %6.0f bytes (%lld rows)\n", per_hourly,
              static_cast<long long>(hourly_rows));
  std::printf("  per miner-day (24 rows)              %6.0f bytes\n", per_hourly * 24);
  std::printf("  10,000 miners, 30 days retention     %6.2f GB\n",
              per_hourly * 24 * 30 * kMiners / 1e9);
  TimeQuery("Hourly(one miner, all its hours)", 200, [&](int i) {
    return Must(db->Hourly(asicmon::testing::DataOnlyIp(i * 53 % kMiners), 0, 1e12, 1000)).size();
  });

  db.reset();
  if (!keep) {
    if (own_dir) {
      std::filesystem::remove_all(std::filesystem::path(path).parent_path());
    } else {
      for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    }
  }
  return 0;
}
