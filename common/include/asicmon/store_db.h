// The SQLite store: every record the farm produces, the latest state of each
// miner, discover's inventory, and hourly aggregates of what is older than the
// raw window. One file, shared by every process that opens it (asicmon-store
// writes, control and others read).
//
// Schema version kStoreSchemaVersion (PRAGMA user_version; application_id
// "ASIM" tells the file from other SQLite databases):
//   records         one row per poll: ip, port, ts (unix s), status word, model,
//                   worker, hashrate, hashrate_avg (H/s), temp_max, uptime_s,
//                   producer_id, seq, and `record`: the msgpack of the whole
//                   Record (EncodeRecord), so any process can DecodeRecord it
//                   back exactly. Indexes (ip, ts): history and latest of one
//                   miner, and Maintain's search for old rows; (producer_id,
//                   seq): refetching records missed on the bus.
//   miners          per (ip, port): the summary columns of its newest record and
//                   record_id pointing at it (a copy of the record once
//                   Maintain folds that row away). Index (ip_key, port) orders
//                   by numeric address.
//   records_hourly  per (ip, hour, port): polls, polls_ok, hashrate avg/min/max,
//                   max temp_max, model and worker of the last poll. Index (hour)
//                   for retention.
//   inventory       discover's view per (ip, port): first/last seen, identity, gone.
//   meta            counters kept in the writing transactions (record_count).
// Columns a record did not report (std::nullopt, empty text) are NULL, never 0.
//
// Every process calls the same Open, which creates the file or migrates its
// schema forward inside one write transaction, so any may start first. A file
// from a newer build is refused, never downgraded.
//
// Disk cost, measured by bench/store_bench (10,000 miners; records of 3
// boards, 4 fans, 3 pools, 479 bytes of msgpack; dbstat page counts):
//   raw      738 bytes per record with its indexes: 2.1 MB per miner-day at
//            30 s polls, so the default 48 h raw window of a 10,000-miner
//            farm holds ~43 GB. raw_hours is the knob.
//   hourly   131 bytes per aggregate with its index: 3.1 KB per miner-day,
//            ~0.94 GB for 10,000 miners over the default 30 days.
// Freed pages are reused, so once Maintain runs the file stops growing.
// WriteBatch sustained 39,000-54,000 records/s wall over 400,000 records
// (53,000-64,000/s of writer CPU) on the 2-core dev machine, other builds
// running beside it.
//
// Thread-safety: a StoreDb is one SQLite connection with its prepared
// statements and belongs to one thread at a time (it also runs a thread of
// its own that checkpoints the WAL). Any number of StoreDb objects, in one
// process or many, may use the same file at once: WAL lets readers run
// beside the one writer, and a writer waits up to busy_timeout for another
// (then Timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon {

// Version 1 is the first published schema. Each later version adds one
// migration step; Open applies those the file lacks.
inline constexpr int kStoreSchemaVersion = 2;  // 2: audit

struct StoreOptions {
  // The database file; its directory is created when missing. The WAL and
  // shared-memory files sit beside it. Default: data/asicmon.db ($ASICMON_DB).
  std::string path = "data/asicmon.db";
  // How long a statement waits for another connection's write lock before
  // it fails with Timeout. Long enough to ride out a Maintain chunk or a
  // checkpoint; short enough that a stuck peer shows up. Default: 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Page cache of this connection. The (ip, ts) index takes one insert per
  // miner per batch at scattered places, but pages the cache misses come from
  // the kernel's page cache, which does not count against the process:
  // bench/store_bench measures the same ingest rate at 2, 8 and 64 MiB.
  // Default: 8 MiB.
  int64_t cache_kib = 8 * 1024;
  // Full-resolution rows are kept this long, then folded into
  // records_hourly by Maintain. Disk grows linearly with it (see above).
  // Default: 48 h.
  int64_t raw_hours = 48;
  // Hourly aggregates older than this are dropped. Must cover raw_hours.
  // Default: 30 days ($RETENTION_DAYS).
  int64_t retention_days = 30;
  // Rows Maintain folds or drops per transaction. Each chunk holds the write
  // lock: smaller chunks let ingest in sooner, larger ones finish with fewer
  // commits. 10,000 rows take ~0.1 s here. Default: 10,000.
  int64_t maintain_chunk_rows = 10000;
};

// Applies ASICMON_DB and RETENTION_DAYS (1..3650) to `options`.
Status LoadStoreOptions(StoreOptions& options);

// Latest() selects miners by any of these; unset means any.
struct LatestFilter {
  std::optional<MinerStatus> status;
  std::optional<std::string> model;   // exact match; "" matches miners without one
  std::optional<std::string> worker;  // exact match; "" matches miners without one
  size_t limit = 100;                 // a page of miners
  size_t offset = 0;                  // miners to skip, in address order
};

// One row of records_hourly: the polls of one miner in one hour.
struct HourlyRow {
  std::string ip;
  uint16_t port = 0;
  int64_t hour = 0;  // unix seconds at the start of the hour (UTC)
  int64_t polls = 0;
  int64_t polls_ok = 0;
  std::optional<double> hashrate_avg;  // H/s, over the polls that reported one
  std::optional<double> hashrate_min;
  std::optional<double> hashrate_max;
  std::optional<double> temp_max;  // °C, the hottest of the hour
  std::string model;               // of the hour's last poll
  std::string worker;

  bool operator==(const HourlyRow&) const = default;
};

// What the store knows of one miner from discover's inventory entries.
struct InventoryRow {
  std::string ip;
  uint16_t port = 0;
  double first_seen = 0;            // ts of the first entry
  std::optional<double> last_seen;  // ts of the newest found/changed entry
  bool identified = false;
  std::string model;
  std::string firmware;
  std::string worker;
  bool gone = false;  // the newest entry says gone

  bool operator==(const InventoryRow&) const = default;
};

// One write command control carried out (or refused), for the audit table.
struct AuditEntry {
  double ts = 0;         // unix seconds when it ended
  std::string actor;     // "token:<id>" or "peer:<address>"; never the token itself
  std::string action;    // "reset", "reboot", "pool"
  std::string ip;
  std::string worker;
  std::string detail;    // the request's parameters (pool url and user; never a password)
  int http_status = 0;   // what control answered
  std::string result;    // "ok" or why not

  bool operator==(const AuditEntry&) const = default;
};

struct MaintainStats {
  int64_t rows_folded = 0;          // raw rows folded into records_hourly and deleted
  int64_t hourly_rows_dropped = 0;  // aggregates past retention
  bool more = false;                // stopped at max_chunks with work left
};

class StoreDb {
 public:
  // Opens (creating when missing) and migrates the database. Errors:
  // InvalidArgument for bad options, a schema newer than this build or a
  // file that is another application's database; IoError for a path that
  // cannot be created or written, or a file that is not a database or is
  // corrupt; Timeout when another process holds the write lock too long.
  static Result<std::unique_ptr<StoreDb>> Open(const StoreOptions& options);
  ~StoreDb();
  StoreDb(const StoreDb&) = delete;
  StoreDb& operator=(const StoreDb&) = delete;

  // Appends `records` and upserts the newest of each miner into miners (a
  // record older than the stored state leaves it alone), in one transaction:
  // all or nothing.
  Status WriteBatch(std::span<const Record> records);

  // Applies discover's entries in order, one transaction. first_seen keeps
  // the earliest ts; a gone entry keeps the last known identity.
  Status UpsertInventory(std::span<const InventoryEntry> entries);

  // Latest record of each miner that matches, ordered by address (numeric
  // IPv4, then port); kept for miners silent longer than the raw window.
  Result<std::vector<Record>> Latest(const LatestFilter& filter);
  // Raw records of `ip` (any port) with from_ts <= ts <= to_ts, oldest
  // first, at most `limit`. Rows past raw_hours are in Hourly instead.
  Result<std::vector<Record>> History(const std::string& ip, double from_ts, double to_ts,
                                      size_t limit);
  // Records of one producer with first_seq <= seq <= last_seq, by seq, at
  // most `limit` (a range may be any size; memory is not).
  Result<std::vector<Record>> RecordsBySeq(const std::string& producer_id, uint64_t first_seq,
                                           uint64_t last_seq, size_t limit = 10000);
  // Raw rows held, from a counter kept with every write (no table scan).
  Result<int64_t> CountRecords();
  // Aggregates of `ip` (any port) with from_ts <= hour <= to_ts, oldest first.
  Result<std::vector<HourlyRow>> Hourly(const std::string& ip, double from_ts, double to_ts,
                                        size_t limit);
  Status AppendAudit(const AuditEntry& entry);
  // Newest first, of `ip` (every miner when empty), at most `limit`.
  Result<std::vector<AuditEntry>> Audit(const std::string& ip, size_t limit);
  // The whole inventory, ordered by address.
  Result<std::vector<InventoryRow>> Inventory();

  // Folds raw rows older than raw_hours before `now` (unix s; whole hours)
  // into records_hourly and deletes them, then drops aggregates older than
  // retention_days: maintain_chunk_rows per transaction, at most
  // `max_chunks` transactions per call, so a writer on one thread can call
  // it with a small budget between batches while `more`. Old rows are found
  // miner by miner: a pass costs one seek per address (~15 ms for 10,000
  // miners) even when nothing is due.
  Result<MaintainStats> Maintain(double now,
                                 int64_t max_chunks = std::numeric_limits<int64_t>::max());

  const StoreOptions& options() const { return options_; }

 private:
  struct Impl;
  StoreDb(StoreOptions options, std::unique_ptr<Impl> impl);

  StoreOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asicmon
