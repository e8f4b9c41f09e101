// The PostgreSQL backend of StoreDb (libpqxx 6), as its files share it:
// store_postgres_open.cpp connects and migrates, store_postgres_write.cpp
// writes, folds and drops partitions, store_postgres_read.cpp answers.
// Same tables and answers as the SQLite one (store_sqlite_store.h), in the
// schema "asicmon" of the database the URL names, so it can share a database
// with other applications. records and records_hourly are partitioned by UTC
// day; see store_db.h.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store_backends.h"

namespace asicmon::store_internal {

// NULL reads back as nullopt.
inline std::optional<double> FieldDouble(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<double>();
}

// Latest() up to its ORDER BY.
inline constexpr const char* kLatest = R"sql(
SELECT record FROM miners
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR coalesce(model, '') = $2)
  AND ($3::text IS NULL OR coalesce(worker, '') = $3)
)sql";

class PostgresStore final : public StoreDb {
 public:
  explicit PostgresStore(const StoreOptions& options) : StoreDb(options) {}

  // Connects (again, after a broken connection) and sets the session up;
  // once the schema is in place (Migrate), also prepares the statements.
  Status Connect();
  Status Migrate();
  Status PrepareAfterMigrate();

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
  // Runs `body` on a live connection, turning libpqxx's exceptions into a
  // Status: none crosses this module's boundary. A broken connection is
  // dropped, so the next call connects again.
  template <typename Body>
  auto Guard(const char* what, Body&& body) -> decltype(body(std::declval<pqxx::connection&>()));
  Status FromException(const char* what);

  // Creates the day partitions of `table` that `days` need and this process
  // has not seen yet, each in its own short transaction.
  void EnsurePartitions(const std::string& table, const std::set<int64_t>& days);
  // The day partitions of `table`, by day.
  std::map<int64_t, std::string> Partitions(pqxx::connection& conn, const std::string& table);
  Result<std::vector<Record>> Records(const pqxx::result& result);
  // Commit's records (and their miners' newest state), inside `tx`.
  void CopyRecords(pqxx::work& tx, std::span<const Record> records,
                   const std::map<int64_t, int64_t>& per_day);

  void Prepare();

  std::unique_ptr<pqxx::connection> conn_;
  bool migrated_ = false;
  std::set<std::pair<std::string, int64_t>> partitions_made_;  // (table, day)
  // Reused by CopyRecords: COPY fields of one row, and each record's bytea.
  std::string encoded_, numbers_;
  std::vector<std::string> hex_rows_;  // keep their capacity: ~1 KB per record of a batch
  std::vector<size_t> number_offsets_;
};

template <typename Body>
auto PostgresStore::Guard(const char* what, Body&& body)
    -> decltype(body(std::declval<pqxx::connection&>())) {
  if (!conn_ || !conn_->is_open()) {
    if (Status s = Connect(); !s.ok()) return s;
  }
  try {
    return body(*conn_);
  } catch (...) {
    return FromException(what);
  }
}

}  // namespace asicmon::store_internal
