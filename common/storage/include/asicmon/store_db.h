// The store: every record the farm produces, the latest state of each
// miner, discover's inventory, hourly aggregates of what is older than the
// raw window, and control's audit trail. Two backends behind one interface,
// chosen by StoreOptions::database:
//   a file path             SQLite, embedded (the default): one file shared by
//                           every process on the host that opens it.
//   postgresql://... URL    PostgreSQL (libpqxx), for farms that outgrow one
//                           machine: many readers, other hosts, years of data.
// Both hold the same tables and answer the same queries the same way; the
// differences are in how they store and expire rows (below).
//
// Schema version kStoreSchemaVersion (SQLite: PRAGMA user_version, with
// application_id "ASIM" telling the file from other SQLite databases;
// PostgreSQL: the asicmon_meta table):
//   records         one row per poll: ip, port, ts (unix s), status word, model,
//                   worker, hashrate, hashrate_avg (H/s), temp_max, uptime_s,
//                   producer_id, seq, and `record`: the msgpack of the whole
//                   Record (EncodeRecord), so any process can DecodeRecord it
//                   back exactly. Indexes (ip, ts): history and latest of one
//                   miner, and Maintain's search for old rows; (producer_id,
//                   seq): refetching records missed on the bus.
//   miners          per (ip, port): the summary columns of its newest record and
//                   that record (SQLite: record_id pointing at it, a copy once
//                   Maintain folds that row away). Index (ip_key, port) orders
//                   by numeric address.
//   records_hourly  per (ip, hour, port): polls, polls_ok, hashrate avg/min/max,
//                   max temp_max, model and worker of the last poll.
//   inventory       discover's view per (ip, port): first/last seen, identity
//                   (model, firmware, worker, family, mac, serial, hostname),
//                   gone, which discover (producer_id) said so last, and the
//                   address it moved from (previous_ip).
//   addresses       (mac, ip, since): each time a machine, known by its MAC,
//                   is first seen at an address. History and Hourly of an
//                   address are its machine's: the rows recorded at each
//                   address it had while it was there, so they follow it
//                   through DHCP moves, and two machines that swap addresses
//                   keep their own. Rows are never rewritten for a move.
//   audit           control's write commands.
//   events          health events (health.h), fired and cleared; kept retention_days.
// Columns a record did not report (std::nullopt, empty text) are NULL, never 0.
//
// PostgreSQL specifics: records and records_hourly are partitioned by day
// (declarative range partitions, created as rows arrive), so Maintain folds
// and expires whole days and drops their partitions instead of deleting rows:
// raw rows stay until their whole UTC day is older than raw_hours (up to
// raw_hours + 24 h). Batches go in with COPY.
//
// Every process calls the same Open, which creates the schema or migrates it
// forward inside one write transaction, so any may start first. A database
// from a newer build is refused, never downgraded.
//
// Disk cost (SQLite), measured by bench/store_bench (10,000 miners; records
// of 3 boards, 4 fans, 3 pools, 479 bytes of msgpack; dbstat page counts):
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
// Thread-safety: a StoreDb is one database connection with its prepared
// statements and belongs to one thread at a time (SQLite's also runs a thread
// of its own that checkpoints the WAL). Any number of StoreDb objects, in one
// process or many, may use the same database at once: readers run beside the
// one writer (SQLite: WAL), and a writer waits up to busy_timeout for another
// (then Timeout).
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "asicmon/config.h"
#include "asicmon/health.h"
#include "asicmon/record.h"
#include "asicmon/status.h"

namespace asicmon {

// Version 1 is the first published schema. Each later version adds one
// migration step; Open applies those the file lacks.
// 2: audit; 3: inventory.producer_id; 4: events; 5: inventory identity and addresses
inline constexpr int kStoreSchemaVersion = 6;

struct StoreOptions {
  // A SQLite file (its directory is created when missing; the WAL and
  // shared-memory files sit beside it) or a PostgreSQL connection URL,
  // postgresql://user:password@host:port/dbname?options (libpq's URI form;
  // the database must exist, the tables are created). Default:
  // data/asicmon.db ($ASICMON_DB).
  std::string database = "data/asicmon.db";
  // How long a statement waits for another connection's lock before it
  // fails with Timeout (PostgreSQL: lock_timeout). Long enough to ride out a Maintain chunk or a
  // checkpoint; short enough that a stuck peer shows up. Default: 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // SQLite's page cache of this connection. The (ip, ts) index takes one insert per
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
  // Rows Maintain folds or drops per transaction (SQLite; PostgreSQL
  // folds and drops a day's partition per transaction). Each chunk holds the write
  // lock: smaller chunks let ingest in sooner, larger ones finish with fewer
  // commits. 10,000 rows take ~0.1 s here. Default: 10,000.
  int64_t maintain_chunk_rows = 10000;
};

// Applies ASICMON_DB and RETENTION_DAYS (1..3650) to `options`.
Status LoadStoreOptions(StoreOptions& options);

// Timestamps the store takes: finite, within years 1..9999 (PostgreSQL's
// partitions are named by date). Anything else is refused by Commit as
// a whole, so the ingest drops such records one by one first.
inline bool StorableTs(double ts) { return ts >= -62135596800.0 && ts < 253402300800.0; }

// True when `database` names a PostgreSQL server rather than a SQLite file.
bool IsPostgresUrl(std::string_view database);
// `database` fit for logs and error messages: a URL's password is masked.
std::string RedactDatabase(std::string_view database);
// Where a PostgreSQL URL holds its password (for HideFlagValues); nullopt
// for a SQLite path or a URL without one.
std::optional<SecretSpan> DatabasePassword(std::string_view database);

// The miners table's columns Latest() may sort by: a closed list, so no
// caller's text ever reaches the SQL.
enum class MinerSort { kAddress, kTs, kStatus, kModel, kWorker, kHashrate, kHashrateAvg,
                       kTempMax, kUptime };
// "address", "ts", "status", "model", "worker", "hashrate", "hashrate_avg",
// "temp_max", "uptime_s"; nullopt for any other text.
std::optional<MinerSort> ParseMinerSort(std::string_view name);

// Latest() selects miners by any of these; unset means any.
struct LatestFilter {
  std::optional<MinerStatus> status;
  std::optional<std::string> model;   // exact match; "" matches miners without one
  std::optional<std::string> worker;  // exact match; "" matches miners without one
  size_t limit = 100;                 // a page of miners
  size_t offset = 0;                  // miners to skip, in the order below
  // Order of the page: by `sort`, then by address. Miners without a value
  // (NULL: not reported) come last in either direction.
  MinerSort sort = MinerSort::kAddress;
  bool descending = false;
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
  bool gone = false;        // the newest entry that counts says gone
  std::string producer_id;  // the discover that reported it last
  // Schema 5: the machine's identity ("" unknown), and the address it
  // answered at before it last moved here ("" never moved).
  std::string family;
  std::string mac;
  std::string serial;
  std::string hostname;
  std::string previous_ip;

  bool operator==(const InventoryRow&) const = default;
};

// One write command control carried out (or refused), for the audit table.
struct AuditEntry {
  double ts = 0;       // unix seconds when it ended
  std::string actor;   // "<key name>@<peer>" ("token@" for CONTROL_TOKEN); never the key itself
  std::string action;  // "reset", "reboot", "pool"
  std::string ip;
  std::string worker;
  std::string detail;   // the request's parameters (pool url and user; never a password)
  int http_status = 0;  // what control answered
  std::string result;   // "ok" or why not

  bool operator==(const AuditEntry&) const = default;
};

// Audit() selects by any of these; empty means any.
struct AuditFilter {
  std::string ip;
  std::string key;  // the API key's name: rows whose actor is "<key>@<peer>"
  size_t limit = 100;
};

// One API key of control's callers (control/keys.h). The key itself is
// never stored: only a salted SHA-256 of its secret part.
struct ApiKey {
  std::string key_id;  // the key's public part, how a presented key is found
  std::string name;    // unique among keys not revoked
  std::string role;    // "viewer", "operator" or "admin"
  std::string salt;    // hex
  std::string hash;    // hex SHA-256 of salt and secret
  double created_ts = 0;
  std::optional<double> last_used_ts;
  std::optional<double> expires_ts;
  std::optional<double> revoked_ts;

  bool operator==(const ApiKey&) const = default;
};

// Events() selects by any of these; empty means any.
struct EventFilter {
  double since = 0;  // unix s: events with ts >= since
  std::string ip;
  std::string kind;
  size_t limit = 100;
};

// What the store's ingest writes of one batch (StoreDb::Commit).
struct StoreBatch {
  std::span<const Record> records = {};
  std::span<const InventoryEntry> inventory = {};
  std::span<const HealthEvent> events = {};
};

struct MaintainStats {
  int64_t rows_folded = 0;          // raw rows folded into records_hourly and deleted
  int64_t hourly_rows_dropped = 0;  // aggregates past retention
  bool more = false;                // stopped at max_chunks with work left
};

// One connection to the store. Errors of every call: IoError when the
// database cannot be reached, read or written (a PostgreSQL connection that
// broke is reopened by the next call), Timeout when another connection holds
// a lock too long, ParseError for a stored record that no longer decodes.
class StoreDb {
 public:
  // Opens (creating when missing) and migrates the database. Errors:
  // InvalidArgument for bad options, a schema newer than this build or a
  // database that is another application's; IoError for a path that cannot
  // be created or written, a file that is not a database or is corrupt, or a
  // server that cannot be reached or refuses the login; Timeout when another
  // process holds the write lock too long.
  static Result<std::unique_ptr<StoreDb>> Open(const StoreOptions& options);
  virtual ~StoreDb() = default;
  StoreDb(const StoreDb&) = delete;
  StoreDb& operator=(const StoreDb&) = delete;

  // Writes a batch in one transaction, all or nothing: appends its records
  // and upserts the newest of each miner into miners (a record older than the
  // stored state leaves it alone); applies its inventory entries in order
  // (first_seen keeps the earliest ts; a gone entry keeps the last known
  // identity and marks nothing when it names another MAC than the row's; a
  // moved entry removes the machine's rows at its previous address from
  // inventory and miners, and notes the new one in addresses); appends its
  // health events. An empty batch writes nothing.
  // With several discovers (one per subnet or site), a gone entry only
  // counts from the discover (producer_id) that reported the miner last, so
  // one whose scan no longer covers an address never hides a miner another
  // one sees. Give each discover a stable PRODUCER_ID so its restarts keep it.
  virtual Status Commit(const StoreBatch& batch) = 0;
  // Commit of records, inventory entries or events alone.
  Status WriteBatch(std::span<const Record> records) { return Commit({.records = records}); }
  Status UpsertInventory(std::span<const InventoryEntry> entries) {
    return Commit({.inventory = entries});
  }
  Status AppendEvents(std::span<const HealthEvent> events) { return Commit({.events = events}); }

  // Latest record of each miner that matches, ordered by filter.sort, then
  // by address (numeric IPv4, then port); kept for miners silent longer
  // than the raw window.
  virtual Result<std::vector<Record>> Latest(const LatestFilter& filter) = 0;
  // Raw records of the machine at `ip` (any port) with from_ts <= ts <=
  // to_ts, oldest first, at most `limit`: with a known MAC, those of every
  // address it had while it had it (see addresses); else all of `ip`'s.
  // Rows past the raw window are in Hourly instead.
  virtual Result<std::vector<Record>> History(const std::string& ip, double from_ts, double to_ts,
                                              size_t limit) = 0;
  // Records of one producer with first_seq <= seq <= last_seq, by seq, at
  // most `limit` (a range may be any size; memory is not).
  virtual Result<std::vector<Record>> RecordsBySeq(const std::string& producer_id,
                                                   uint64_t first_seq, uint64_t last_seq,
                                                   size_t limit = 10000) = 0;
  // The highest seq stored of each producer_id in the raw rows: where a
  // restarted store resumes counting each producer's gaps. One index seek
  // per producer (a collector makes a new one per start).
  virtual Result<std::vector<std::pair<std::string, uint64_t>>> LastSeqs() = 0;
  // Raw rows held, from counters kept with every write (no table scan).
  virtual Result<int64_t> CountRecords() = 0;
  // Aggregates of the machine at `ip` (any port, as History) with from_ts <=
  // hour <= to_ts, oldest first. An hour in which it moved counts at both
  // addresses.
  virtual Result<std::vector<HourlyRow>> Hourly(const std::string& ip, double from_ts, double to_ts,
                                                size_t limit) = 0;
  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  // Newest first, those filter selects, at most filter.limit.
  virtual Result<std::vector<AuditEntry>> Audit(const AuditFilter& filter) = 0;
  Result<std::vector<AuditEntry>> Audit(const std::string& ip, size_t limit) {
    return Audit(AuditFilter{.ip = ip, .key = {}, .limit = limit});
  }
  // What control holds miners in: per ip, the newest audit row of action
  // "sleep" or "wake" with result "ok" where that row is a "sleep" (asleep),
  // and the newest "power" row with result "ok" (the mode or limit set);
  // ordered by ip, then as written. Where the store starts its sleep set
  // and its power holds from (sleep.h, health.h).
  virtual Result<std::vector<AuditEntry>> HeldByControl() = 0;
  // The whole inventory, ordered by address.
  virtual Result<std::vector<InventoryRow>> Inventory() = 0;

  // API keys. AddApiKey: InvalidArgument when a key not revoked has that name.
  virtual Status AddApiKey(const ApiKey& key) = 0;
  virtual Result<std::optional<ApiKey>> FindApiKey(const std::string& key_id) = 0;
  // Every key, revoked ones too, oldest first.
  virtual Result<std::vector<ApiKey>> ApiKeys() = 0;
  // Revokes the live key named `name` at `ts`; false when there is none.
  virtual Result<bool> RevokeApiKey(const std::string& name, double ts) = 0;
  virtual Status TouchApiKey(const std::string& key_id, double ts) = 0;

  // Newest first (by arrival), at most filter.limit.
  virtual Result<std::vector<HealthEvent>> Events(const EventFilter& filter) = 0;
  // The conditions whose newest event says "fired": where a restarted
  // health engine starts from.
  virtual Result<std::vector<ActiveCondition>> ActiveConditions() = 0;

  // Folds raw rows older than raw_hours before `now` (unix s) into
  // records_hourly and removes them, then drops aggregates older than
  // retention_days (events too), at most `max_chunks` transactions per call, so a writer
  // on one thread can call it with a small budget between batches while
  // `more`. SQLite: whole hours, maintain_chunk_rows per transaction; old
  // rows are found miner by miner, a pass costs one seek per address (~15 ms
  // for 10,000 miners) even when nothing is due. PostgreSQL: whole days, one
  // partition per transaction, rows are never deleted one by one.
  virtual Result<MaintainStats> Maintain(
      double now, int64_t max_chunks = std::numeric_limits<int64_t>::max()) = 0;

  const StoreOptions& options() const { return options_; }
  // options().database, fit for logs (RedactDatabase).
  const std::string& database() const { return redacted_; }

 protected:
  explicit StoreDb(StoreOptions options)
      : options_(std::move(options)), redacted_(RedactDatabase(options_.database)) {}

 private:
  StoreOptions options_;
  std::string redacted_;
};

}  // namespace asicmon
