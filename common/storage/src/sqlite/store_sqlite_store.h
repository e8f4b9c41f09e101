// The SQLite backend of StoreDb, the embedded default (see store_db.h), as
// its files share it: store_sqlite_open.cpp makes the file and the schema,
// store_sqlite_write.cpp writes and folds, store_sqlite_read.cpp answers.
#pragma once

#include <sqlite3.h>

#include <SQLiteCpp/SQLiteCpp.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store_backends.h"

namespace asicmon::store_internal {

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
inline void BindText(SQLite::Statement& statement, int index, const std::string& text) {
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

inline void BindSize(SQLite::Statement& statement, int index, size_t value) {
  statement.bind(
      index, static_cast<int64_t>(std::min<size_t>(value, std::numeric_limits<int64_t>::max())));
}

// NULL reads back as "".
inline std::string ColumnText(const SQLite::Column& column) {
  return std::string(column.getText(), static_cast<size_t>(column.getBytes()));
}

inline std::optional<double> ColumnDouble(const SQLite::Column& column) {
  if (column.isNull()) return std::nullopt;
  return column.getDouble();
}

inline Status FromSqlite(const SQLite::Exception& e, const std::string& path, const char* what) {
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

class Checkpointer;  // store_sqlite_open.cpp

struct SqliteConnection {
  explicit SqliteConnection(const StoreOptions& options);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Needs the file to be a database in WAL mode.
  void StartCheckpointer(const StoreOptions& options);

  // Latest() up to its ORDER BY.
  static constexpr const char* kLatest = R"sql(
SELECT ifnull(m.record, r.record) FROM miners m LEFT JOIN records r ON r.id = m.record_id
WHERE (?1 IS NULL OR m.status = ?1) AND (?2 IS NULL OR ifnull(m.model, '') = ?2)
  AND (?3 IS NULL OR ifnull(m.worker, '') = ?3)
)sql";

  // Everything below needs the schema in place.
  void Prepare();

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
      history, by_seq, hourly, inventory, upsert_inventory, insert_event, miner_ips, old_rows,
      keep_latest, delete_record, upsert_hourly, drop_hourly, note_address, moved_inventory,
      moved_miners;
  std::string encoded;  // reused across records: no allocation per row once warm
  std::unique_ptr<Checkpointer> checkpointer;  // after db: stops before db closes
};

class SqliteStore final : public StoreDb {
 public:
  SqliteStore(const StoreOptions& options, std::unique_ptr<SqliteConnection> impl)
      : StoreDb(options), impl_(std::move(impl)) {}

  Status Commit(const StoreBatch& batch) override;
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
  using StoreDb::Audit;
  Result<std::vector<AuditEntry>> Audit(const AuditFilter& filter) override;
  Status AddApiKey(const ApiKey& key) override;
  Result<std::optional<ApiKey>> FindApiKey(const std::string& key_id) override;
  Result<std::vector<ApiKey>> ApiKeys() override;
  Result<bool> RevokeApiKey(const std::string& name, double ts) override;
  Status TouchApiKey(const std::string& key_id, double ts) override;
  Result<std::vector<AuditEntry>> HeldByControl() override;
  Result<std::vector<InventoryRow>> Inventory() override;
  Result<std::vector<HealthEvent>> Events(const EventFilter& filter) override;
  Result<std::vector<ActiveCondition>> ActiveConditions() override;
  Result<MaintainStats> Maintain(double now, int64_t max_chunks) override;

 private:
  std::unique_ptr<SqliteConnection> impl_;
};

}  // namespace asicmon::store_internal
