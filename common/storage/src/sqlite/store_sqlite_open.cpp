// The SQLite backend's file: checks it is ours, sets it up, creates or
// migrates the schema, prepares the statements, checkpoints the WAL.
#include <spdlog/spdlog.h>

#include <array>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "store_sqlite_internal.h"
#include "store_sqlite_store.h"

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
    // 5: the machine's identity, and where each machine answered (kAddressesSchema).
    R"sql(
ALTER TABLE inventory ADD COLUMN family TEXT;
ALTER TABLE inventory ADD COLUMN mac TEXT;
ALTER TABLE inventory ADD COLUMN serial TEXT;
ALTER TABLE inventory ADD COLUMN hostname TEXT;
ALTER TABLE inventory ADD COLUMN previous_ip TEXT;
)sql",
    // 6: control's API keys (salted hashes only); a revoked key's row stays for the audit.
    R"sql(
CREATE TABLE api_keys (
  key_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_ts REAL NOT NULL,
  last_used_ts REAL,
  expires_ts REAL,
  revoked_ts REAL
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_ts IS NULL;
CREATE INDEX audit_actor ON audit (actor);
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
// last changes nothing (see StoreDb::Commit), nor one naming another MAC than
// the row's (a machine displaced by the one that answers there now).
constexpr const char* kUpsertInventory = R"sql(
INSERT INTO inventory (ip, port, ip_key, first_seen, last_seen, updated_ts, identified, model,
                       firmware, worker, gone, producer_id, family, mac, serial, hostname,
                       previous_ip)
VALUES (?1, ?2, ?3, ?4, CASE WHEN ?9 THEN NULL ELSE ?4 END, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
        ?12, ?13, ?14, ?15)
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
  family = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
           THEN excluded.family ELSE family END,
  mac = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
        THEN excluded.mac ELSE mac END,
  serial = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
           THEN excluded.serial ELSE serial END,
  hostname = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
             THEN excluded.hostname ELSE hostname END,
  previous_ip = CASE WHEN excluded.updated_ts >= updated_ts AND NOT excluded.gone
                THEN ifnull(excluded.previous_ip, previous_ip) ELSE previous_ip END,
  gone = CASE WHEN excluded.updated_ts >= updated_ts THEN excluded.gone ELSE gone END,
  producer_id = CASE WHEN excluded.updated_ts >= updated_ts THEN excluded.producer_id
                ELSE producer_id END,
  updated_ts = max(updated_ts, excluded.updated_ts)
WHERE NOT excluded.gone
  OR ((inventory.producer_id IS NULL OR inventory.producer_id = excluded.producer_id)
      AND (excluded.mac IS NULL OR inventory.mac IS NULL OR inventory.mac = excluded.mac))
)sql";

// A reused statement, reset on entry (a failed step leaves it mid-run) and

}  // namespace

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

SqliteConnection::SqliteConnection(const StoreOptions& options)
    : db(options.database, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX,
         static_cast<int>(options.busy_timeout.count())) {}

SqliteConnection::~SqliteConnection() {
  if (checkpointer) sqlite3_wal_hook(db.getHandle(), nullptr, nullptr);
}

void SqliteConnection::StartCheckpointer(const StoreOptions& options) {
  checkpointer = std::make_unique<Checkpointer>(options.database,
                                                static_cast<int>(options.busy_timeout.count()));
  sqlite3_wal_hook(db.getHandle(), &Checkpointer::OnCommit, checkpointer.get());
}

void SqliteConnection::Prepare() {
  insert_record.emplace(db, kInsertRecord);
  upsert_miner.emplace(db, kUpsertMiner);
  add_count.emplace(db, "UPDATE meta SET value = value + ?1 WHERE key = 'record_count'");
  get_count.emplace(db, "SELECT value FROM meta WHERE key = 'record_count'");
  latest.emplace(db, std::string(kLatest) + "ORDER BY m.ip_key, m.port LIMIT ?4 OFFSET ?5");
  history.emplace(db, std::string(kMachineSpans) + kMachineHistory);
  by_seq.emplace(db,
                 "SELECT record FROM records WHERE producer_id = ?1 AND seq >= ?2 AND seq <= ?3 "
                 "ORDER BY seq LIMIT ?4");
  hourly.emplace(db, std::string(kMachineSpans) + kMachineHourly);
  inventory.emplace(db, R"sql(
SELECT ip, port, first_seen, last_seen, identified, model, firmware, worker, gone, producer_id,
       family, mac, serial, hostname, previous_ip
FROM inventory ORDER BY ip_key, port)sql");
  upsert_inventory.emplace(db, kUpsertInventory);
  note_address.emplace(db, kNoteAddress);
  moved_inventory.emplace(db, kMovedFromInventory);
  moved_miners.emplace(db, kMovedFromMiners);
  insert_event.emplace(db, R"sql(
INSERT INTO events (ts, ip, port, model, worker, kind, state, severity, message, value, threshold)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11))sql");
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
    if (v == 4) db.exec(kAddressesSchema);  // shared with PostgreSQL
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

}  // namespace asicmon::store_internal
