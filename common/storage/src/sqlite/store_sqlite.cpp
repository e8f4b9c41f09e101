// The SQLite backend of StoreDb, the embedded default (see store_db.h).
#include <sqlite3.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include "store_backends.h"
#include "store_sqlite_internal.h"

namespace asicmon::store_internal {
namespace {

// "ASIM": tells our file from another application's SQLite database.
constexpr int kApplicationId = 0x4153494D;

// migrations[i] takes a database from schema version i to i + 1.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE records (
  id INTEGER PRIMARY KEY,
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  ts REAL NOT NULL,
  status TEXT NOT NULL,
  model TEXT,
  worker TEXT,
  hashrate REAL,
  hashrate_avg REAL,
  temp_max REAL,
  uptime_s INTEGER,
  producer_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  record BLOB NOT NULL
);
CREATE INDEX records_ip_ts ON records (ip, ts);
CREATE INDEX records_producer_seq ON records (producer_id, seq);

-- The latest record is records.id = record_id; Maintain copies it into
-- `record` before folding it away (a miner silent for longer than the raw
-- window). Not copying it on every poll halves what each batch writes.
CREATE TABLE miners (
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  ip_key INTEGER,
  ts REAL NOT NULL,
  status TEXT NOT NULL,
  model TEXT,
  worker TEXT,
  hashrate REAL,
  hashrate_avg REAL,
  temp_max REAL,
  uptime_s INTEGER,
  record_id INTEGER NOT NULL,
  record BLOB,
  PRIMARY KEY (ip, port)
);
CREATE INDEX miners_order ON miners (ip_key, port);

CREATE TABLE records_hourly (
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  hour INTEGER NOT NULL,
  polls INTEGER NOT NULL,
  polls_ok INTEGER NOT NULL,
  hashrate_n INTEGER NOT NULL,
  hashrate_avg REAL,
  hashrate_min REAL,
  hashrate_max REAL,
  temp_max REAL,
  model TEXT,
  worker TEXT,
  last_ts REAL NOT NULL,
  PRIMARY KEY (ip, hour, port)
) WITHOUT ROWID;
CREATE INDEX records_hourly_hour ON records_hourly (hour);

CREATE TABLE inventory (
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  ip_key INTEGER,
  first_seen REAL NOT NULL,
  last_seen REAL,
  updated_ts REAL NOT NULL,
  identified INTEGER NOT NULL,
  model TEXT,
  firmware TEXT,
  worker TEXT,
  gone INTEGER NOT NULL,
  PRIMARY KEY (ip, port)
);

CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('record_count', 0);
)sql",
    // 2: control's audit trail of every write command.
    R"sql(
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  ts REAL NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  ip TEXT NOT NULL,
  worker TEXT NOT NULL,
  detail TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  result TEXT NOT NULL
);
CREATE INDEX audit_ip_ts ON audit (ip, ts);
)sql",
    // 3: which discover reported a miner last (several discovers, one store).
    "ALTER TABLE inventory ADD COLUMN producer_id TEXT;",
    // 4: health events.
    R"sql(
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  ts REAL NOT NULL,
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  model TEXT,
  worker TEXT,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  value REAL,
  threshold REAL
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_ip_kind ON events (ip, port, kind);
)sql",
};

constexpr const char* kInsertRecord = R"sql(
INSERT INTO records (ip, port, ts, status, model, worker, hashrate, hashrate_avg, temp_max,
                     uptime_s, producer_id, seq, record)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
)sql";

// An older record of a miner (late delivery) must not replace newer state.
constexpr const char* kUpsertMiner = R"sql(
INSERT INTO miners (ip, port, ts, status, model, worker, hashrate, hashrate_avg, temp_max,
                    uptime_s, record_id, ip_key)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
ON CONFLICT (ip, port) DO UPDATE SET
  ts = excluded.ts, status = excluded.status, model = excluded.model, worker = excluded.worker,
  hashrate = excluded.hashrate, hashrate_avg = excluded.hashrate_avg,
  temp_max = excluded.temp_max, uptime_s = excluded.uptime_s, record_id = excluded.record_id,
  record = NULL
WHERE excluded.ts >= miners.ts
)sql";

// Chunks of one hour may be folded at different times (late rows): the
// merge keeps counts additive, the average weighted and "last" by ts.
constexpr const char* kUpsertHourly = R"sql(
INSERT INTO records_hourly (ip, port, hour, polls, polls_ok, hashrate_n, hashrate_avg,
                            hashrate_min, hashrate_max, temp_max, model, worker, last_ts)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (ip, hour, port) DO UPDATE SET
  polls = polls + excluded.polls,
  polls_ok = polls_ok + excluded.polls_ok,
  hashrate_n = hashrate_n + excluded.hashrate_n,
  hashrate_avg = CASE WHEN hashrate_n + excluded.hashrate_n = 0 THEN NULL
                 ELSE (ifnull(hashrate_avg, 0) * hashrate_n +
                       ifnull(excluded.hashrate_avg, 0) * excluded.hashrate_n) /
                      (hashrate_n + excluded.hashrate_n) END,
  hashrate_min = ifnull(min(hashrate_min, excluded.hashrate_min),
                        ifnull(hashrate_min, excluded.hashrate_min)),
  hashrate_max = ifnull(max(hashrate_max, excluded.hashrate_max),
                        ifnull(hashrate_max, excluded.hashrate_max)),
  temp_max = ifnull(max(temp_max, excluded.temp_max), ifnull(temp_max, excluded.temp_max)),
  model = CASE WHEN excluded.last_ts >= last_ts THEN excluded.model ELSE model END,
  worker = CASE WHEN excluded.last_ts >= last_ts THEN excluded.worker ELSE worker END,
  last_ts = max(last_ts, excluded.last_ts)
)sql";

// Entries may arrive out of order: seen times take min/max, the identity
// and gone flag follow the newest entry, and a gone entry keeps the identity.
// A gone entry from another discover than the one that reported the miner
// last changes nothing (see UpsertInventory).
constexpr const char* kUpsertInventory = R"sql(
INSERT INTO inventory (ip, port, ip_key, first_seen, last_seen, updated_ts, identified, model,
                       firmware, worker, gone, producer_id)
VALUES (?1, ?2, ?3, ?4, CASE WHEN ?9 THEN NULL ELSE ?4 END, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (ip, port) DO UPDATE SET
  first_seen = min(first_seen, excluded.first_seen),
  last_seen = CASE WHEN excluded.last_seen IS NULL THEN last_seen
              ELSE max(ifnull(last_seen, excluded.last_seen), excluded.last_seen) END,
  identified = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
               THEN excluded.identified ELSE identified END,
  model = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
          THEN excluded.model ELSE model END,
  firmware = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
             THEN excluded.firmware ELSE firmware END,
  worker = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
           THEN excluded.worker ELSE worker END,
  gone = CASE WHEN excluded.updated_ts >= updated_ts THEN excluded.gone ELSE gone END,
  producer_id = CASE WHEN excluded.updated_ts >= updated_ts THEN excluded.producer_id
                ELSE producer_id END,
  updated_ts = max(updated_ts, excluded.updated_ts)
WHERE NOT excluded.gone OR inventory.producer_id IS NULL
  OR inventory.producer_id = excluded.producer_id
)sql";

// A reused statement, reset on entry (a failed step leaves it mid-run) and
// on exit (a query not stepped to its end keeps a read snapshot open, which
// stalls this connection's next write and the WAL checkpoint).
class Use {
 public:
  explicit Use(SQLite::Statement& statement) : statement_(statement) { statement_.tryReset(); }
  ~Use() { statement_.tryReset(); }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  SQLite::Statement& operator*() const { return statement_; }

 private:
  SQLite::Statement& statement_;
};

// Text the record left empty is "not reported": NULL in the column.
void BindText(SQLite::Statement& statement, int index, const std::string& text) {
  if (text.empty()) {
    statement.bind(index);
  } else {
    statement.bindNoCopy(index, text);
  }
}

template <typename T>
void BindOptional(SQLite::Statement& statement, int index, const std::optional<T>& value) {
  if (value) {
    statement.bind(index, *value);
  } else {
    statement.bind(index);
  }
}

void BindSize(SQLite::Statement& statement, int index, size_t value) {
  statement.bind(
      index, static_cast<int64_t>(std::min<size_t>(value, std::numeric_limits<int64_t>::max())));
}

// NULL reads back as "".
std::string ColumnText(const SQLite::Column& column) {
  return std::string(column.getText(), static_cast<size_t>(column.getBytes()));
}

std::optional<double> ColumnDouble(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getDouble();
}

Status FromSqlite(const SQLite::Exception& e, const std::string& path, const char* what) {
  std::string message = path + ": " + what + ": " + e.what();
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Timeout(std::move(message) + " (another connection holds the lock)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Status::IoError(std::move(message) +
                             " (the file is damaged or not a database: restore or move it away)");
    case SQLITE_FULL:
      return Status::IoError(std::move(message) + " (the disk is full: free space on it)");
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_IOERR:
      return Status::IoError(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// Runs `body`, turning SQLiteCpp's exceptions (and any other) into a
// Status: none crosses this module's boundary.
template <typename Body>
auto Guard(const std::string& path, const char* what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const SQLite::Exception& e) {
    return FromSqlite(e, path, what);
  } catch (const std::exception& e) {
    return Status::Internal(path + ": " + what + ": " + e.what());
  }
}

// With synchronous=NORMAL the only fsyncs are a checkpoint's, and done at
// commit (SQLite's default) they were half of WriteBatch's wall time. So a
// thread with its own connection copies the WAL back: the writer's WAL hook
// asks for that once a commit leaves kCheckpointPages in the WAL. A writer
// that never pauses leaves no moment with the WAL fully copied, so the WAL
// never starts over; past kInlineCheckpointPages the writer checkpoints
// itself, and its next transaction restarts the WAL.
constexpr int kCheckpointPages = 2000;         // 8 MiB of 4 KiB pages
constexpr int kInlineCheckpointPages = 16000;  // 64 MiB, the journal_size_limit

class Checkpointer {
 public:
  Checkpointer(const std::string& path, int busy_timeout_ms)
      : db_(path, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX, busy_timeout_ms),
        thread_([this] { Run(); }) {}
  ~Checkpointer() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // sqlite3_wal_hook callback of the writing connection.
  static int OnCommit(void* self, sqlite3* db, const char* name, int wal_pages) {
    if (wal_pages >= kInlineCheckpointPages) {
      sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (wal_pages >= kCheckpointPages) {
      static_cast<Checkpointer*>(self)->Request();
    }
    return SQLITE_OK;
  }

 private:
  void Request() {
    {
      std::lock_guard lock(mutex_);
      wanted_ = true;
    }
    wake_.notify_one();
  }

  void Run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [this] { return stop_ || wanted_; });
      if (stop_) return;
      wanted_ = false;
      lock.unlock();
      // PASSIVE: copies what no reader still needs, never waits for anyone.
      const int rc = sqlite3_wal_checkpoint_v2(db_.getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                               nullptr, nullptr);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        spdlog::warn("store: checkpoint failed path={} error={}", db_.getFilename(),
                     sqlite3_errstr(rc));
      }
      lock.lock();
    }
  }

  SQLite::Database db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool wanted_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

struct SqliteConnection {
  explicit SqliteConnection(const StoreOptions& options)
      : db(options.database, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
           static_cast<int>(options.busy_timeout.count())) {}
  ~SqliteConnection() {
    if (checkpointer) sqlite3_wal_hook(db.getHandle(), nullptr, nullptr);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Needs the file to be a database in WAL mode.
  void StartCheckpointer(const StoreOptions& options) {
    checkpointer = std::make_unique<Checkpointer>(options.database,
                                                  static_cast<int>(options.busy_timeout.count()));
    sqlite3_wal_hook(db.getHandle(), &Checkpointer::OnCommit, checkpointer.get());
  }

  // Latest() up to its ORDER BY.
  static constexpr const char* kLatest = R"sql(
SELECT ifnull(m.record, r.record) FROM miners m LEFT JOIN records r ON r.id = m.record_id
WHERE (?1 IS NULL OR m.status = ?1) AND (?2 IS NULL OR ifnull(m.model, '') = ?2)
  AND (?3 IS NULL OR ifnull(m.worker, '') = ?3)
)sql";

  // Everything below needs the schema in place.
  void Prepare() {
    insert_record.emplace(db, kInsertRecord);
    upsert_miner.emplace(db, kUpsertMiner);
    add_count.emplace(db, "UPDATE meta SET value = value + ?1 WHERE key = 'record_count'");
    get_count.emplace(db, "SELECT value FROM meta WHERE key = 'record_count'");
    latest.emplace(db, std::string(kLatest) + "ORDER BY m.ip_key, m.port LIMIT ?4 OFFSET ?5");
    history.emplace(
        db,
        "SELECT record FROM records WHERE ip = ?1 AND ts >= ?2 AND ts <= ?3 ORDER BY ts "
        "LIMIT ?4");
    by_seq.emplace(db,
                   "SELECT record FROM records WHERE producer_id = ?1 AND seq >= ?2 AND seq <= ?3 "
                   "ORDER BY seq LIMIT ?4");
    hourly.emplace(db, R"sql(
SELECT ip, port, hour, polls, polls_ok, hashrate_avg, hashrate_min, hashrate_max, temp_max,
       model, worker
FROM records_hourly WHERE ip = ?1 AND hour >= ?2 AND hour <= ?3 ORDER BY hour, port LIMIT ?4)sql");
    inventory.emplace(db, R"sql(
SELECT ip, port, first_seen, last_seen, identified, model, firmware, worker, gone, producer_id
FROM inventory ORDER BY ip_key, port)sql");
    upsert_inventory.emplace(db, kUpsertInventory);
    miner_ips.emplace(db, "SELECT DISTINCT ip FROM miners WHERE ip >= ?1 ORDER BY ip");
    old_rows.emplace(db, R"sql(
SELECT r.id, r.port, r.ts, r.status, r.model, r.worker, r.hashrate, r.temp_max,
       m.record_id IS NOT NULL
FROM records r LEFT JOIN miners m ON m.ip = r.ip AND m.port = r.port AND m.record_id = r.id
WHERE r.ip = ?1 AND r.ts < ?2 LIMIT ?3)sql");
    keep_latest.emplace(db, R"sql(
UPDATE miners SET record = (SELECT record FROM records WHERE id = ?1)
WHERE ip = ?2 AND port = ?3 AND record_id = ?1)sql");
    delete_record.emplace(db, "DELETE FROM records WHERE id = ?1");
    upsert_hourly.emplace(db, kUpsertHourly);
    drop_hourly.emplace(db, R"sql(
DELETE FROM records_hourly WHERE (ip, hour, port) IN
  (SELECT ip, hour, port FROM records_hourly WHERE hour < ?1 LIMIT ?2))sql");
  }

  // Runs a query whose first column is a record blob; decodes each row.
  Result<std::vector<Record>> Records(SQLite::Statement& query) {
    std::vector<Record> out;
    while (query.executeStep()) {
      const SQLite::Column blob = query.getColumn(0);
      Result<Record> record =
          DecodeRecord(std::string_view(static_cast<const char*>(blob.getBlob()), blob.getBytes()));
      if (!record.ok()) {
        return Status::ParseError("stored record: " + record.status().message());
      }
      out.push_back(std::move(record).value());
    }
    return out;
  }

  void AddCount(int64_t delta) {
    Use use(*add_count);
    (*use).bind(1, delta);
    (*use).exec();
  }

  SQLite::Database db;
  // Prepared once, reused for every call.
  std::optional<SQLite::Statement> insert_record, upsert_miner, add_count, get_count, latest,
      history, by_seq, hourly, inventory, upsert_inventory, miner_ips, old_rows, keep_latest,
      delete_record, upsert_hourly, drop_hourly;
  std::string encoded;  // reused across records: no allocation per row once warm
  std::unique_ptr<Checkpointer> checkpointer;  // after db: stops before db closes
};

class SqliteStore final : public StoreDb {
 public:
  SqliteStore(const StoreOptions& options, std::unique_ptr<SqliteConnection> impl)
      : StoreDb(options), impl_(std::move(impl)) {}

  Status WriteBatch(std::span<const Record> records) override;
  Status UpsertInventory(std::span<const InventoryEntry> entries) override;
  Result<std::vector<Record>> Latest(const LatestFilter& filter) override;
  Result<std::vector<Record>> History(const std::string& ip, double from_ts, double to_ts,
                                      size_t limit) override;
  Result<std::vector<Record>> RecordsBySeq(const std::string& producer_id, uint64_t first_seq,
                                           uint64_t last_seq, size_t limit) override;
  Result<std::vector<std::pair<std::string, uint64_t>>> LastSeqs() override;
  Result<int64_t> CountRecords() override;
  Result<std::vector<HourlyRow>> Hourly(const std::string& ip, double from_ts, double to_ts,
                                        size_t limit) override;
  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> Audit(const std::string& ip, size_t limit) override;
  Result<std::vector<AuditEntry>> AsleepByControl() override;
  Result<std::vector<InventoryRow>> Inventory() override;
  Status AppendEvents(std::span<const HealthEvent> events) override;
  Result<std::vector<HealthEvent>> Events(const EventFilter& filter) override;
  Result<std::vector<ActiveCondition>> ActiveConditions() override;
  Result<MaintainStats> Maintain(double now, int64_t max_chunks) override;

 private:
  std::unique_ptr<SqliteConnection> impl_;
};

}  // namespace

Result<int> OurSchemaVersion(SQLite::Database& db, const std::string& path) {
  constexpr const char* kWhatToDo =
      ": point ASICMON_DB at another file, or move this one away (it is left as it is)";
  // One statement, so one read transaction: a migration that another process
  // commits between separate reads would show its tables without its version.
  SQLite::Statement read(db,
                         "SELECT (SELECT application_id FROM pragma_application_id),"
                         " (SELECT user_version FROM pragma_user_version),"
                         " (SELECT count(*) FROM sqlite_schema)");
  read.executeStep();
  const int app_id = read.getColumn(0).getInt();
  const int version = read.getColumn(1).getInt();
  const int64_t tables = read.getColumn(2).getInt64();
  if (app_id != kApplicationId && app_id != 0) {
    return Status::InvalidArgument(path + ": not an asicmon database (application_id " +
                                   std::to_string(app_id) + ")" + kWhatToDo);
  }
  if (version > kStoreSchemaVersion) {
    return Status::InvalidArgument(path + ": database schema version " + std::to_string(version) +
                                   " is newer than this build's " +
                                   std::to_string(kStoreSchemaVersion) +
                                   ": run a newer asicmon (or move the file away)");
  }
  if (version == 0 && tables != 0) {
    return Status::InvalidArgument(path + ": not an asicmon database (tables but no version)" +
                                   kWhatToDo);
  }
  return version;
}

namespace {

// Creates or migrates the schema in one write transaction, so processes
// opening a new file at the same moment take turns and the second sees
// the first's work.
Status Migrate(SQLite::Database& db, const std::string& path) {
  SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
  Result<int> version = OurSchemaVersion(db, path);
  if (!version.ok()) return version.status();
  if (*version == kStoreSchemaVersion) return Status::Ok();  // migrated meanwhile: roll back
  for (int v = *version; v < kStoreSchemaVersion; ++v) {
    db.exec(kMigrations[static_cast<size_t>(v)]);
  }
  db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
  db.exec("PRAGMA user_version = " + std::to_string(kStoreSchemaVersion));
  transaction.commit();
  return Status::Ok();
}

}  // namespace

namespace {

// What an open does to the file before using it: check it is ours, WAL,
// the connection's pragmas, the schema. Throws SQLite::Exception.
Status SetUpFile(SQLite::Database& db, const StoreOptions& options) {
  // The first read of the file: a file that is not a database, or is
  // damaged, fails here; another application's database is refused
  // before anything is written to it (switching to WAL rewrites its header).
  Result<int> version = OurSchemaVersion(db, options.database);
  if (!version.ok()) return version.status();
  // WAL lets readers (control) run while the store writes; it persists in
  // the file, so this is a no-op after the first open.
  const std::string mode = db.execAndGet("PRAGMA journal_mode = WAL").getString();
  if (mode != "wal") {
    return Status::IoError(options.database + ": cannot use WAL (journal_mode " + mode + ")");
  }
  // NORMAL in WAL mode: a power cut may lose the last transactions but
  // never corrupts; FULL would fsync every batch.
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA cache_size = -" + std::to_string(options.cache_kib));
  // Debian builds SQLite with secure_delete on: it rewrites every freed
  // byte with zeros, costly for Maintain and pointless for telemetry.
  db.exec("PRAGMA secure_delete = OFF");
  // Truncate the WAL after checkpoints instead of keeping its peak size.
  db.exec("PRAGMA journal_size_limit = " + std::to_string(64 << 20));
  // A current schema takes no write lock: another writer holding it does
  // not stop a start.
  if (*version != kStoreSchemaVersion) return Migrate(db, options.database);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<StoreDb>> OpenSqlite(const StoreOptions& options) {
  const std::filesystem::path parent = std::filesystem::path(options.database).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return Status::IoError(options.database + ": cannot create directory " + parent.string() +
                             ": " + ec.message());
    }
  }
  return Guard(options.database, "open", [&]() -> Result<std::unique_ptr<StoreDb>> {
    auto impl = std::make_unique<SqliteConnection>(options);
    // Stages opening a new file at once (supervisord starts them together on
    // a fresh install) meet where SQLite answers BUSY without waiting, as
    // waiting could deadlock: a reader upgrading to writer, the switch to
    // WAL. Every step below is idempotent, so they are tried again until
    // busy_timeout.
    const auto give_up = std::chrono::steady_clock::now() + options.busy_timeout;
    for (int attempt = 1;; ++attempt) {
      try {
        if (Status s = SetUpFile(impl->db, options); !s.ok()) return s;
        break;
      } catch (const SQLite::Exception& e) {
        if ((e.getErrorCode() & 0xff) != SQLITE_BUSY ||
            std::chrono::steady_clock::now() >= give_up) {
          throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * std::min(attempt, 20)));
      }
    }
    impl->Prepare();
    impl->StartCheckpointer(options);
    return std::unique_ptr<StoreDb>(new SqliteStore(options, std::move(impl)));
  });
}

Status SqliteStore::WriteBatch(std::span<const Record> records) {
  if (records.empty()) return Status::Ok();
  return Guard(database(), "write batch", [&]() -> Status {
    const std::vector<bool> newest = NewestOfEachMiner(records);
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement& insert = *impl_->insert_record;
    SQLite::Statement& upsert = *impl_->upsert_miner;
    std::string& encoded = impl_->encoded;
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      encoded.clear();
      EncodeRecord(r, encoded);
      // Columns 1..10 are the same in both statements.
      auto bind_columns = [&r](SQLite::Statement& statement) {
        statement.bindNoCopy(1, r.ip);
        statement.bind(2, r.port);
        statement.bind(3, r.ts);
        statement.bindNoCopy(4, StatusWord(r.status));
        BindText(statement, 5, r.model);
        BindText(statement, 6, r.worker);
        BindOptional(statement, 7, r.hashrate);
        BindOptional(statement, 8, r.hashrate_avg);
        BindOptional(statement, 9, r.temp_max);
        BindOptional(statement, 10, r.uptime_s);
      };
      {
        Use use(insert);
        bind_columns(insert);
        insert.bindNoCopy(11, r.producer_id);
        insert.bind(12, static_cast<int64_t>(r.seq));
        insert.bindNoCopy(13, encoded.data(), static_cast<int>(encoded.size()));
        insert.exec();
      }
      if (!newest[i]) continue;
      Use use(upsert);
      bind_columns(upsert);
      upsert.bind(11, impl_->db.getLastInsertRowid());
      BindOptional(upsert, 12, IpKey(r.ip));
      upsert.exec();
    }
    impl_->AddCount(static_cast<int64_t>(records.size()));
    transaction.commit();
    return Status::Ok();
  });
}

Status SqliteStore::UpsertInventory(std::span<const InventoryEntry> entries) {
  if (entries.empty()) return Status::Ok();
  return Guard(database(), "upsert inventory", [&]() -> Status {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    for (const InventoryEntry& e : entries) {
      Use use(*impl_->upsert_inventory);
      SQLite::Statement& s = *use;
      s.bindNoCopy(1, e.ip);
      s.bind(2, e.port);
      BindOptional(s, 3, IpKey(e.ip));
      s.bind(4, e.ts);
      s.bind(5, e.identified ? 1 : 0);
      BindText(s, 6, e.model);
      BindText(s, 7, e.firmware);
      BindText(s, 8, e.worker);
      s.bind(9, e.change == InventoryChange::kGone ? 1 : 0);
      BindText(s, 10, e.producer_id);
      s.exec();
    }
    transaction.commit();
    return Status::Ok();
  });
}

Result<std::vector<Record>> SqliteStore::Latest(const LatestFilter& filter) {
  return Guard(database(), "latest", [&]() -> Result<std::vector<Record>> {
    auto run = [&](SQLite::Statement& q) {
      q.clearBindings();  // unset filters are NULL
      if (filter.status) q.bindNoCopy(1, StatusWord(*filter.status));
      if (filter.model) q.bindNoCopy(2, *filter.model);
      if (filter.worker) q.bindNoCopy(3, *filter.worker);
      BindSize(q, 4, filter.limit);
      BindSize(q, 5, filter.offset);
      return impl_->Records(q);
    };
    if (filter.sort == MinerSort::kAddress && !filter.descending) {
      Use use(*impl_->latest);
      return run(*use);
    }
    // Other orders are a dashboard's page at a time: preparing costs far
    // less than the page's records take to decode.
    SQLite::Statement sorted(impl_->db, std::string(SqliteConnection::kLatest) + "ORDER BY " +
                                            LatestOrderBy(filter, "m.") + " LIMIT ?4 OFFSET ?5");
    return run(sorted);
  });
}

Result<std::vector<Record>> SqliteStore::History(const std::string& ip, double from_ts,
                                                 double to_ts, size_t limit) {
  return Guard(database(), "history", [&]() -> Result<std::vector<Record>> {
    Use use(*impl_->history);
    SQLite::Statement& q = *use;
    q.bindNoCopy(1, ip);
    q.bind(2, from_ts);
    q.bind(3, to_ts);
    BindSize(q, 4, limit);
    return impl_->Records(q);
  });
}

Result<std::vector<Record>> SqliteStore::RecordsBySeq(const std::string& producer_id,
                                                      uint64_t first_seq, uint64_t last_seq,
                                                      size_t limit) {
  return Guard(database(), "records by seq", [&]() -> Result<std::vector<Record>> {
    constexpr auto kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    Use use(*impl_->by_seq);
    SQLite::Statement& q = *use;
    q.bindNoCopy(1, producer_id);
    q.bind(2, static_cast<int64_t>(std::min(first_seq, kMaxSeq)));
    q.bind(3, static_cast<int64_t>(std::min(last_seq, kMaxSeq)));
    BindSize(q, 4, limit);
    return impl_->Records(q);
  });
}

Result<std::vector<std::pair<std::string, uint64_t>>> SqliteStore::LastSeqs() {
  return Guard(database(), "last seqs",
               [&]() -> Result<std::vector<std::pair<std::string, uint64_t>>> {
                 SQLite::Statement q(impl_->db, kLastSeqs);
                 std::vector<std::pair<std::string, uint64_t>> out;
                 while (q.executeStep()) {
                   out.emplace_back(ColumnText(q.getColumn(0)),
                                    static_cast<uint64_t>(q.getColumn(1).getInt64()));
                 }
                 return out;
               });
}

Result<int64_t> SqliteStore::CountRecords() {
  return Guard(database(), "count records", [&]() -> Result<int64_t> {
    Use use(*impl_->get_count);
    SQLite::Statement& q = *use;
    if (!q.executeStep()) return Status::Internal("meta has no record_count");
    return q.getColumn(0).getInt64();
  });
}

Status SqliteStore::AppendAudit(const AuditEntry& entry) {
  return Guard(database(), "append audit", [&]() -> Status {
    SQLite::Statement insert(impl_->db, R"sql(
INSERT INTO audit (ts, actor, action, ip, worker, detail, http_status, result)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8))sql");
    insert.bind(1, entry.ts);
    insert.bind(2, entry.actor);
    insert.bind(3, entry.action);
    insert.bind(4, entry.ip);
    insert.bind(5, entry.worker);
    insert.bind(6, entry.detail);
    insert.bind(7, entry.http_status);
    insert.bind(8, entry.result);
    insert.exec();
    return Status::Ok();
  });
}

namespace {

// Audit rows as SELECT ts, actor, action, ip, worker, detail, http_status, result gives them.
std::vector<AuditEntry> ReadAudit(SQLite::Statement& q) {
  std::vector<AuditEntry> out;
  while (q.executeStep()) {
    AuditEntry& e = out.emplace_back();
    e.ts = q.getColumn(0).getDouble();
    e.actor = q.getColumn(1).getString();
    e.action = q.getColumn(2).getString();
    e.ip = q.getColumn(3).getString();
    e.worker = q.getColumn(4).getString();
    e.detail = q.getColumn(5).getString();
    e.http_status = q.getColumn(6).getInt();
    e.result = q.getColumn(7).getString();
  }
  return out;
}

}  // namespace

Result<std::vector<AuditEntry>> SqliteStore::Audit(const std::string& ip, size_t limit) {
  return Guard(database(), "audit", [&]() -> Result<std::vector<AuditEntry>> {
    SQLite::Statement q(impl_->db, R"sql(
SELECT ts, actor, action, ip, worker, detail, http_status, result FROM audit
WHERE ?1 = '' OR ip = ?1 ORDER BY id DESC LIMIT ?2)sql");
    q.bind(1, ip);
    BindSize(q, 2, limit);
    return ReadAudit(q);
  });
}

Result<std::vector<AuditEntry>> SqliteStore::AsleepByControl() {
  return Guard(database(), "asleep by control", [&]() -> Result<std::vector<AuditEntry>> {
    SQLite::Statement q(impl_->db, kAsleepByControlSql);
    return ReadAudit(q);
  });
}

Result<std::vector<HourlyRow>> SqliteStore::Hourly(const std::string& ip, double from_ts,
                                                   double to_ts, size_t limit) {
  return Guard(database(), "hourly", [&]() -> Result<std::vector<HourlyRow>> {
    Use use(*impl_->hourly);
    SQLite::Statement& q = *use;
    q.bindNoCopy(1, ip);
    q.bind(2, from_ts);
    q.bind(3, to_ts);
    BindSize(q, 4, limit);
    std::vector<HourlyRow> out;
    while (q.executeStep()) {
      HourlyRow row;
      row.ip = ColumnText(q.getColumn(0));
      row.port = static_cast<uint16_t>(q.getColumn(1).getInt());
      row.hour = q.getColumn(2).getInt64();
      row.polls = q.getColumn(3).getInt64();
      row.polls_ok = q.getColumn(4).getInt64();
      row.hashrate_avg = ColumnDouble(q.getColumn(5));
      row.hashrate_min = ColumnDouble(q.getColumn(6));
      row.hashrate_max = ColumnDouble(q.getColumn(7));
      row.temp_max = ColumnDouble(q.getColumn(8));
      row.model = ColumnText(q.getColumn(9));
      row.worker = ColumnText(q.getColumn(10));
      out.push_back(std::move(row));
    }
    return out;
  });
}

Result<std::vector<InventoryRow>> SqliteStore::Inventory() {
  return Guard(database(), "inventory", [&]() -> Result<std::vector<InventoryRow>> {
    Use use(*impl_->inventory);
    SQLite::Statement& q = *use;
    std::vector<InventoryRow> out;
    while (q.executeStep()) {
      InventoryRow row;
      row.ip = ColumnText(q.getColumn(0));
      row.port = static_cast<uint16_t>(q.getColumn(1).getInt());
      row.first_seen = q.getColumn(2).getDouble();
      row.last_seen = ColumnDouble(q.getColumn(3));
      row.identified = q.getColumn(4).getInt() != 0;
      row.model = ColumnText(q.getColumn(5));
      row.firmware = ColumnText(q.getColumn(6));
      row.worker = ColumnText(q.getColumn(7));
      row.gone = q.getColumn(8).getInt() != 0;
      row.producer_id = ColumnText(q.getColumn(9));
      out.push_back(std::move(row));
    }
    return out;
  });
}

Status SqliteStore::AppendEvents(std::span<const HealthEvent> events) {
  if (events.empty()) return Status::Ok();
  return Guard(database(), "append events", [&]() -> Status {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement insert(impl_->db, R"sql(
INSERT INTO events (ts, ip, port, model, worker, kind, state, severity, message, value, threshold)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11))sql");
    for (const HealthEvent& e : events) {
      Use use(insert);
      insert.bind(1, e.ts);
      insert.bindNoCopy(2, e.ip);
      insert.bind(3, e.port);
      BindText(insert, 4, e.model);
      BindText(insert, 5, e.worker);
      insert.bindNoCopy(6, e.kind);
      insert.bindNoCopy(7, e.state);
      insert.bindNoCopy(8, e.severity);
      insert.bindNoCopy(9, e.message);
      BindOptional(insert, 10, e.value);
      BindOptional(insert, 11, e.threshold);
      insert.exec();
    }
    transaction.commit();
    return Status::Ok();
  });
}

Result<std::vector<HealthEvent>> SqliteStore::Events(const EventFilter& filter) {
  return Guard(database(), "events", [&]() -> Result<std::vector<HealthEvent>> {
    SQLite::Statement q(impl_->db, R"sql(
SELECT ts, ip, port, model, worker, kind, state, severity, message, value, threshold FROM events
WHERE ts >= ?1 AND (?2 = '' OR ip = ?2) AND (?3 = '' OR kind = ?3) ORDER BY id DESC LIMIT ?4)sql");
    q.bind(1, filter.since);
    q.bind(2, filter.ip);
    q.bind(3, filter.kind);
    BindSize(q, 4, filter.limit);
    std::vector<HealthEvent> out;
    while (q.executeStep()) {
      HealthEvent& e = out.emplace_back();
      e.ts = q.getColumn(0).getDouble();
      e.ip = ColumnText(q.getColumn(1));
      e.port = static_cast<uint16_t>(q.getColumn(2).getInt());
      e.model = ColumnText(q.getColumn(3));
      e.worker = ColumnText(q.getColumn(4));
      e.kind = ColumnText(q.getColumn(5));
      e.state = ColumnText(q.getColumn(6));
      e.severity = ColumnText(q.getColumn(7));
      e.message = ColumnText(q.getColumn(8));
      e.value = ColumnDouble(q.getColumn(9));
      e.threshold = ColumnDouble(q.getColumn(10));
    }
    return out;
  });
}

Result<std::vector<ActiveCondition>> SqliteStore::ActiveConditions() {
  return Guard(database(), "active conditions", [&]() -> Result<std::vector<ActiveCondition>> {
    SQLite::Statement q(impl_->db, R"sql(
SELECT ip, port, kind FROM events
WHERE id IN (SELECT max(id) FROM events GROUP BY ip, port, kind) AND state = 'fired')sql");
    std::vector<ActiveCondition> out;
    while (q.executeStep()) {
      out.push_back({ColumnText(q.getColumn(0)), static_cast<uint16_t>(q.getColumn(1).getInt()),
                     ColumnText(q.getColumn(2))});
    }
    return out;
  });
}

Result<MaintainStats> SqliteStore::Maintain(double now, int64_t max_chunks) {
  return Guard(database(), "maintain", [&]() -> Result<MaintainStats> {
    MaintainStats stats;
    const int64_t chunk = options().maintain_chunk_rows;
    // Whole hours only, so an hour is folded once its last raw row is due.
    const auto raw_cutoff = static_cast<double>(
        HourOf(now - static_cast<double>(options().raw_hours * kSecondsPerHour)));
    const int64_t hourly_cutoff =
        HourOf(now - static_cast<double>(options().retention_days * 24 * kSecondsPerHour));

    struct Aggregate {
      int64_t polls = 0;
      int64_t polls_ok = 0;
      int64_t hashrate_n = 0;
      double hashrate_sum = 0;
      std::optional<double> hashrate_min, hashrate_max, temp_max;
      double last_ts = -std::numeric_limits<double>::infinity();
      std::string model, worker;
    };
    using HourKey = std::tuple<std::string, int, int64_t>;  // ip, port, hour
    const std::string& ok_word = StatusWord(MinerStatus::kOk);

    // Old rows are found miner by miner through (ip, ts): an index on ts
    // alone would cost every insert more than a third of its time (REAL
    // keys compare slowly), while this pass costs one seek per address.
    std::string next_ip;  // where the next chunk starts (inclusive)
    bool folding = true;
    int64_t chunks = 0;
    while (folding && chunks < max_chunks) {
      ++chunks;
      SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
      std::map<HourKey, Aggregate> hours;
      std::vector<int64_t> ids;
      std::vector<std::pair<int64_t, HourKey>> latest;  // rows that are a miner's latest
      folding = false;
      {  // reads first; the scope resets them before the writes
        Use ips_use(*impl_->miner_ips);
        SQLite::Statement& ips = *ips_use;
        ips.bind(1, next_ip);
        while (ips.executeStep()) {
          const std::string ip = ColumnText(ips.getColumn(0));
          Use old_rows(*impl_->old_rows);
          SQLite::Statement& q = *old_rows;
          q.bindNoCopy(1, ip);
          q.bind(2, raw_cutoff);
          q.bind(3, chunk - static_cast<int64_t>(ids.size()));
          while (q.executeStep()) {
            ids.push_back(q.getColumn(0).getInt64());
            const double ts = q.getColumn(2).getDouble();
            HourKey key(ip, q.getColumn(1).getInt(), HourOf(ts));
            if (q.getColumn(8).getInt() != 0) latest.emplace_back(ids.back(), key);
            Aggregate& a = hours[std::move(key)];
            ++a.polls;
            if (q.getColumn(3).getText() == ok_word) ++a.polls_ok;
            if (std::optional<double> h = ColumnDouble(q.getColumn(6))) {
              ++a.hashrate_n;
              a.hashrate_sum += *h;
              a.hashrate_min = std::min(a.hashrate_min.value_or(*h), *h);
              a.hashrate_max = std::max(a.hashrate_max.value_or(*h), *h);
            }
            if (std::optional<double> t = ColumnDouble(q.getColumn(7))) {
              a.temp_max = std::max(a.temp_max.value_or(*t), *t);
            }
            if (ts >= a.last_ts) {
              a.last_ts = ts;
              a.model = ColumnText(q.getColumn(4));
              a.worker = ColumnText(q.getColumn(5));
            }
          }
          if (static_cast<int64_t>(ids.size()) == chunk) {
            next_ip = ip;  // it may have more
            folding = true;
            break;
          }
        }
      }
      for (const auto& [id, key] : latest) {
        Use keep(*impl_->keep_latest);
        (*keep).bind(1, id);
        (*keep).bindNoCopy(2, std::get<0>(key));
        (*keep).bind(3, std::get<1>(key));
        (*keep).exec();
      }
      for (const auto& [key, a] : hours) {
        Use upsert(*impl_->upsert_hourly);
        SQLite::Statement& s = *upsert;
        s.bindNoCopy(1, std::get<0>(key));
        s.bind(2, std::get<1>(key));
        s.bind(3, std::get<2>(key));
        s.bind(4, a.polls);
        s.bind(5, a.polls_ok);
        s.bind(6, a.hashrate_n);
        BindOptional(s, 7,
                     a.hashrate_n > 0
                         ? std::optional<double>(a.hashrate_sum / static_cast<double>(a.hashrate_n))
                         : std::nullopt);
        BindOptional(s, 8, a.hashrate_min);
        BindOptional(s, 9, a.hashrate_max);
        BindOptional(s, 10, a.temp_max);
        BindText(s, 11, a.model);
        BindText(s, 12, a.worker);
        s.bind(13, a.last_ts);
        s.exec();
      }
      for (int64_t id : ids) {
        Use erase(*impl_->delete_record);
        (*erase).bind(1, id);
        (*erase).exec();
      }
      impl_->AddCount(-static_cast<int64_t>(ids.size()));
      transaction.commit();
      stats.rows_folded += static_cast<int64_t>(ids.size());
      // A scan that found nothing to fold leaves its budget to the drop phase,
      // or a caller with a budget of one chunk would never reach it.
      if (ids.empty()) --chunks;
    }

    bool dropping = true;
    while (!folding && dropping && chunks < max_chunks) {
      ++chunks;
      Use use(*impl_->drop_hourly);
      SQLite::Statement& s = *use;
      s.bind(1, hourly_cutoff);
      s.bind(2, chunk);
      const int dropped = s.exec();  // one statement: its own transaction
      stats.hourly_rows_dropped += dropped;
      dropping = dropped == chunk;
    }
    // Events are few (one per change of state): one statement takes them.
    if (!folding) {
      SQLite::Statement expire(impl_->db, "DELETE FROM events WHERE ts < ?1");
      expire.bind(1, static_cast<double>(hourly_cutoff));
      expire.exec();
    }
    stats.more = folding || dropping;
    return stats;
  });
}

}  // namespace asicmon::store_internal
