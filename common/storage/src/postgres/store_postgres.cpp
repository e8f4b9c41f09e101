// The PostgreSQL backend of StoreDb (libpqxx 6). Same tables and answers as
// the SQLite one (store_sqlite.cpp), in the schema "asicmon" of the database
// the URL names, so it can share a database with other applications.
// records and records_hourly are partitioned by UTC day; see store_db.h.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string_view>

#include "store_backends.h"

namespace asicmon::store_internal {
namespace {

// Any two Opens migrating at once take turns on this advisory lock
// ("ASIM", as SQLite's application_id).
constexpr int64_t kMigrationLock = 0x4153494D;

// migrations[i] takes the schema from version i to i + 1, as SQLite's do.
constexpr std::array<const char*, kStoreSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE records (
  ip text NOT NULL,
  port integer NOT NULL,
  ts double precision NOT NULL,
  status text NOT NULL,
  model text,
  worker text,
  hashrate double precision,
  hashrate_avg double precision,
  temp_max double precision,
  uptime_s bigint,
  producer_id text NOT NULL,
  seq bigint NOT NULL,
  record bytea NOT NULL
) PARTITION BY RANGE (ts);
CREATE INDEX records_ip_ts ON records (ip, ts);
CREATE INDEX records_producer_seq ON records (producer_id, seq);

-- Rows per day partition, kept by every write: CountRecords without a scan,
-- and what Maintain folds when it drops a day.
CREATE TABLE record_counts (day bigint PRIMARY KEY, n bigint NOT NULL);

-- A copy of the newest record: the raw row goes when its day is dropped.
CREATE TABLE miners (
  ip text NOT NULL,
  port integer NOT NULL,
  ip_key bigint,
  ts double precision NOT NULL,
  status text NOT NULL,
  model text,
  worker text,
  hashrate double precision,
  hashrate_avg double precision,
  temp_max double precision,
  uptime_s bigint,
  record bytea NOT NULL,
  PRIMARY KEY (ip, port)
);
CREATE INDEX miners_order ON miners (ip_key, port);

CREATE TABLE records_hourly (
  ip text NOT NULL,
  port integer NOT NULL,
  hour bigint NOT NULL,
  polls bigint NOT NULL,
  polls_ok bigint NOT NULL,
  hashrate_n bigint NOT NULL,
  hashrate_avg double precision,
  hashrate_min double precision,
  hashrate_max double precision,
  temp_max double precision,
  model text,
  worker text,
  last_ts double precision NOT NULL,
  PRIMARY KEY (ip, hour, port)
) PARTITION BY RANGE (hour);

CREATE TABLE inventory (
  ip text NOT NULL,
  port integer NOT NULL,
  ip_key bigint,
  first_seen double precision NOT NULL,
  last_seen double precision,
  updated_ts double precision NOT NULL,
  identified boolean NOT NULL,
  model text,
  firmware text,
  worker text,
  gone boolean NOT NULL,
  PRIMARY KEY (ip, port)
);
)sql",
    R"sql(
CREATE TABLE audit (
  id bigserial PRIMARY KEY,
  ts double precision NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  ip text NOT NULL,
  worker text NOT NULL,
  detail text NOT NULL,
  http_status integer NOT NULL,
  result text NOT NULL
);
CREATE INDEX audit_ip_ts ON audit (ip, ts);
)sql",
    "ALTER TABLE inventory ADD COLUMN producer_id text;",
    R"sql(
CREATE TABLE events (
  id bigserial PRIMARY KEY,
  ts double precision NOT NULL,
  ip text NOT NULL,
  port integer NOT NULL,
  model text,
  worker text,
  kind text NOT NULL,
  state text NOT NULL,
  severity text NOT NULL,
  message text NOT NULL,
  value double precision,
  threshold double precision
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_ip_kind ON events (ip, port, kind);
)sql",
};

// The newest of each miner in a batch, staged by COPY and merged by one
// statement (a round trip per miner would cap ingest at the latency).
constexpr const char* kStageMiners = R"sql(
CREATE TEMPORARY TABLE IF NOT EXISTS miners_in
  (LIKE asicmon.miners INCLUDING DEFAULTS) ON COMMIT DELETE ROWS)sql";

// An older record of a miner (late delivery) must not replace newer state.
constexpr const char* kMergeMiners = R"sql(
INSERT INTO miners SELECT * FROM miners_in
ON CONFLICT (ip, port) DO UPDATE SET
  ip_key = excluded.ip_key, ts = excluded.ts, status = excluded.status, model = excluded.model,
  worker = excluded.worker, hashrate = excluded.hashrate, hashrate_avg = excluded.hashrate_avg,
  temp_max = excluded.temp_max, uptime_s = excluded.uptime_s, record = excluded.record
WHERE excluded.ts >= miners.ts)sql";

// Latest() up to its ORDER BY.
constexpr const char* kLatest = R"sql(
SELECT record FROM miners
WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR coalesce(model, '') = $2)
  AND ($3::text IS NULL OR coalesce(worker, '') = $3)
)sql";

constexpr const char* kAddCount = R"sql(
INSERT INTO record_counts (day, n) VALUES ($1, $2)
ON CONFLICT (day) DO UPDATE SET n = record_counts.n + excluded.n)sql";

// As SQLite's kUpsertInventory (see there).
constexpr const char* kUpsertInventory = R"sql(
INSERT INTO inventory AS i (ip, port, ip_key, first_seen, last_seen, updated_ts, identified,
                            model, firmware, worker, gone, producer_id)
VALUES ($1, $2::integer, $3::bigint, $4::double precision,
        CASE WHEN $9::boolean THEN NULL ELSE $4::double precision END, $4::double precision,
        $5::boolean, $6, $7, $8, $9::boolean, $10)
ON CONFLICT (ip, port) DO UPDATE SET
  first_seen = LEAST(i.first_seen, excluded.first_seen),
  last_seen = GREATEST(i.last_seen, excluded.last_seen),
  identified = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
               THEN excluded.identified ELSE i.identified END,
  model = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
          THEN excluded.model ELSE i.model END,
  firmware = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
             THEN excluded.firmware ELSE i.firmware END,
  worker = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
           THEN excluded.worker ELSE i.worker END,
  gone = CASE WHEN excluded.updated_ts >= i.updated_ts THEN excluded.gone ELSE i.gone END,
  producer_id = CASE WHEN excluded.updated_ts >= i.updated_ts THEN excluded.producer_id
                ELSE i.producer_id END,
  updated_ts = GREATEST(i.updated_ts, excluded.updated_ts)
WHERE NOT excluded.gone OR i.producer_id IS NULL OR i.producer_id = excluded.producer_id)sql";

// One day of raw rows into hourly aggregates, merged into what an earlier
// fold of the same hour left (as SQLite's kUpsertHourly).
constexpr const char* kFoldDay = R"sql(
INSERT INTO records_hourly AS h
SELECT ip, port, (floor(ts / 3600) * 3600)::bigint AS hour, count(*),
       count(*) FILTER (WHERE status = 'ok'), count(hashrate), avg(hashrate), min(hashrate),
       max(hashrate), max(temp_max), (array_agg(model ORDER BY ts DESC))[1],
       (array_agg(worker ORDER BY ts DESC))[1], max(ts)
FROM {} GROUP BY ip, port, hour
ON CONFLICT (ip, hour, port) DO UPDATE SET
  polls = h.polls + excluded.polls,
  polls_ok = h.polls_ok + excluded.polls_ok,
  hashrate_n = h.hashrate_n + excluded.hashrate_n,
  hashrate_avg = CASE WHEN h.hashrate_n + excluded.hashrate_n = 0 THEN NULL
                 ELSE (coalesce(h.hashrate_avg, 0) * h.hashrate_n +
                       coalesce(excluded.hashrate_avg, 0) * excluded.hashrate_n) /
                      (h.hashrate_n + excluded.hashrate_n) END,
  hashrate_min = LEAST(h.hashrate_min, excluded.hashrate_min),
  hashrate_max = GREATEST(h.hashrate_max, excluded.hashrate_max),
  temp_max = GREATEST(h.temp_max, excluded.temp_max),
  model = CASE WHEN excluded.last_ts >= h.last_ts THEN excluded.model ELSE h.model END,
  worker = CASE WHEN excluded.last_ts >= h.last_ts THEN excluded.worker ELSE h.worker END,
  last_ts = GREATEST(h.last_ts, excluded.last_ts))sql";

// Partition names carry their UTC day: records_20261126.
std::string PartitionName(std::string_view table, int64_t day) {
  const auto t = static_cast<time_t>(day);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}_{:04}{:02}{:02}", table, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

std::optional<int64_t> PartitionDay(std::string_view table, std::string_view name) {
  if (name.size() != table.size() + 9 || !name.starts_with(table) || name[table.size()] != '_') {
    return std::nullopt;
  }
  std::tm tm{};
  const std::string digits(name.substr(table.size() + 1));
  if (std::sscanf(digits.c_str(), "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm));
}

// COPY's text format wants \N for NULL; pqxx escapes the rest.
const char* OrNull(const std::string& text) { return text.empty() ? nullptr : text.c_str(); }

// Numbers as COPY text: shortest form that reads back exactly; NaN is NULL
// (as SQLite stores it).
template <typename T>
void AppendNumber(std::string& buffer, std::vector<size_t>& offsets, const std::optional<T>& v) {
  if (!v || (std::is_floating_point_v<T> && std::isnan(static_cast<double>(*v)))) {
    offsets.push_back(std::string::npos);
    return;
  }
  offsets.push_back(buffer.size());
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isinf(*v)) {
      buffer += *v > 0 ? "Infinity" : "-Infinity";
    } else {
      fmt::format_to(std::back_inserter(buffer), "{}", *v);
    }
  } else {
    fmt::format_to(std::back_inserter(buffer), "{}", *v);
  }
  buffer.push_back('\0');
}

// bytea's hex input form.
void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
}

std::string FieldText(const pqxx::field& field) {
  return field.is_null() ? std::string() : std::string(field.c_str(), field.size());
}

std::optional<double> FieldDouble(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<double>();
}

Result<Record> FieldRecord(const pqxx::field& field) {
  const pqxx::binarystring bytes(field);
  Result<Record> record =
      DecodeRecord(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!record.ok()) return Status::ParseError("stored record: " + record.status().message());
  return record;
}

class PostgresStore final : public StoreDb {
 public:
  explicit PostgresStore(const StoreOptions& options) : StoreDb(options) {}

  // Connects (again, after a broken connection) and sets the session up;
  // once the schema is in place (Migrate), also prepares the statements.
  Status Connect();
  Status Migrate();
  Status PrepareAfterMigrate();

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

  void Prepare();

  std::unique_ptr<pqxx::connection> conn_;
  bool migrated_ = false;
  std::set<std::pair<std::string, int64_t>> partitions_made_;  // (table, day)
  // Reused by WriteBatch: COPY fields of one row, and each record's bytea.
  std::string encoded_, numbers_;
  std::vector<std::string> hex_rows_;  // keep their capacity: ~1 KB per record of a batch
  std::vector<size_t> number_offsets_;
};

Status PostgresStore::Connect() {
  try {
    conn_ = std::make_unique<pqxx::connection>(options().database);
    {
      pqxx::nontransaction setup(*conn_);
      setup.exec("SET search_path = asicmon");
      setup.exec(fmt::format("SET lock_timeout = {}", options().busy_timeout.count()));
      // The same durability as SQLite's synchronous=NORMAL: a server crash may
      // lose the last batches, never corrupt; a flush per batch halves ingest.
      setup.exec("SET synchronous_commit = off");
      // IF NOT EXISTS would otherwise print a notice on stderr for every hit.
      setup.exec("SET client_min_messages = warning");
    }
    if (migrated_) Prepare();
    return Status::Ok();
  } catch (...) {
    return FromException("connect");
  }
}

void PostgresStore::Prepare() {
  pqxx::connection& c = *conn_;
  {
    pqxx::nontransaction setup(c);
    setup.exec(kStageMiners);
  }
  c.prepare("add_count", kAddCount);
  c.prepare("upsert_inventory", kUpsertInventory);
  c.prepare("latest",
            std::string(kLatest) + "ORDER BY ip_key NULLS FIRST, port LIMIT $4 OFFSET $5");
  c.prepare("history",
            "SELECT record FROM records WHERE ip = $1 AND ts >= $2 AND ts <= $3 ORDER BY ts "
            "LIMIT $4");
  c.prepare("by_seq",
            "SELECT record FROM records WHERE producer_id = $1 AND seq >= $2 AND seq <= $3 "
            "ORDER BY seq LIMIT $4");
  c.prepare("hourly", R"sql(
SELECT ip, port, hour, polls, polls_ok, hashrate_avg, hashrate_min, hashrate_max, temp_max,
       model, worker
FROM records_hourly WHERE ip = $1 AND hour >= $2 AND hour <= $3 ORDER BY hour, port LIMIT $4)sql");
  c.prepare("inventory", R"sql(
SELECT ip, port, first_seen, last_seen, identified, model, firmware, worker, gone, producer_id
FROM inventory ORDER BY ip_key NULLS FIRST, port)sql");
  c.prepare("append_audit", R"sql(
INSERT INTO audit (ts, actor, action, ip, worker, detail, http_status, result)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8))sql");
  c.prepare("append_event", R"sql(
INSERT INTO events (ts, ip, port, model, worker, kind, state, severity, message, value, threshold)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))sql");
  c.prepare("events", R"sql(
SELECT ts, ip, port, model, worker, kind, state, severity, message, value, threshold FROM events
WHERE ts >= $1 AND ($2 = '' OR ip = $2) AND ($3 = '' OR kind = $3) ORDER BY id DESC LIMIT $4)sql");
  c.prepare("audit", R"sql(
SELECT ts, actor, action, ip, worker, detail, http_status, result FROM audit
WHERE $1 = '' OR ip = $1 ORDER BY id DESC LIMIT $2)sql");
  c.prepare("asleep_by_control", kAsleepByControlSql);
}

Status PostgresStore::FromException(const char* what) {
  const std::string where = database() + ": " + what + ": ";
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    return Status::IoError(where + e.what() + " (will reconnect)");
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    std::string message = where + e.what();
    if (!message.empty() && message.back() == '\n') message.pop_back();
    // 55P03 lock_not_available, 40P01 deadlock, 40001 serialization, 57014 cancelled.
    if (state == "55P03" || state == "40P01" || state == "40001" || state == "57014") {
      return Status::Timeout(message + " (another connection holds the lock)");
    }
    // 08 connection, 28 authorization, 42501 privilege, 53 resources (disk full), 3D000 no db.
    if (state.starts_with("08") || state.starts_with("28") || state == "42501" ||
        state.starts_with("53") || state == "3D000") {
      if (state.starts_with("08")) conn_.reset();
      return Status::IoError(message);
    }
    return Status::Internal(message);
  } catch (const pqxx::in_doubt_error& e) {
    conn_.reset();
    return Status::IoError(where + e.what() + " (the commit may or may not have happened)");
  } catch (const std::exception& e) {
    return Status::Internal(where + e.what());
  }
}

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

Status PostgresStore::Migrate() {
  return Guard("migrate", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    tx.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLock));
    tx.exec("CREATE SCHEMA IF NOT EXISTS asicmon");
    const bool has_meta =
        tx.exec("SELECT to_regclass('asicmon.asicmon_meta') IS NOT NULL")[0][0].as<bool>();
    int version = 0;
    if (has_meta) {
      const pqxx::result row =
          tx.exec("SELECT value FROM asicmon_meta WHERE key = 'schema_version'");
      if (row.empty()) {
        return Status::InvalidArgument(database() + ": asicmon_meta has no schema_version");
      }
      version = row[0][0].as<int>();
    } else if (tx.exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'asicmon'")[0][0]
                   .as<int64_t>() != 0) {
      return Status::InvalidArgument(database() +
                                     ": schema asicmon holds tables but no asicmon_meta: not an "
                                     "asicmon store");
    }
    if (version > kStoreSchemaVersion) {
      return Status::InvalidArgument(database() + ": database schema version " +
                                     std::to_string(version) + " is newer than this build's " +
                                     std::to_string(kStoreSchemaVersion) + ": run a newer asicmon");
    }
    if (version == kStoreSchemaVersion) return Status::Ok();
    if (!has_meta) {
      tx.exec("CREATE TABLE asicmon_meta (key text PRIMARY KEY, value bigint NOT NULL)");
      tx.exec("INSERT INTO asicmon_meta VALUES ('schema_version', 0)");
    }
    for (int v = version; v < kStoreSchemaVersion; ++v) {
      tx.exec(kMigrations[static_cast<size_t>(v)]);
    }
    tx.exec(fmt::format("UPDATE asicmon_meta SET value = {} WHERE key = 'schema_version'",
                        kStoreSchemaVersion));
    tx.commit();
    return Status::Ok();
  });
}

Status PostgresStore::PrepareAfterMigrate() {
  migrated_ = true;
  return Guard("prepare", [&](pqxx::connection&) -> Status {
    Prepare();
    return Status::Ok();
  });
}

std::map<int64_t, std::string> PostgresStore::Partitions(pqxx::connection& conn,
                                                         const std::string& table) {
  pqxx::nontransaction q(conn);
  const pqxx::result rows = q.exec_params(
      "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "WHERE i.inhparent = $1::regclass",
      fmt::format("asicmon.{}", table));
  std::map<int64_t, std::string> out;
  for (const auto& row : rows) {
    std::string name = row[0].as<std::string>();
    if (std::optional<int64_t> day = PartitionDay(table, name)) out.emplace(*day, std::move(name));
  }
  return out;
}

void PostgresStore::EnsurePartitions(const std::string& table, const std::set<int64_t>& days) {
  for (int64_t day : days) {
    if (partitions_made_.contains({table, day})) continue;
    pqxx::work tx(*conn_);
    tx.exec(
        fmt::format("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})",
                    PartitionName(table, day), table, day, day + kSecondsPerDay));
    tx.commit();
    partitions_made_.emplace(table, day);
  }
}

Result<std::vector<Record>> PostgresStore::Records(const pqxx::result& result) {
  std::vector<Record> out;
  out.reserve(result.size());
  for (const auto& row : result) {
    Result<Record> record = FieldRecord(row[0]);
    if (!record.ok()) return record.status();
    out.push_back(std::move(record).value());
  }
  return out;
}

Status PostgresStore::WriteBatch(std::span<const Record> records) {
  if (records.empty()) return Status::Ok();
  std::map<int64_t, int64_t> per_day;
  for (const Record& r : records) {
    if (!StorableTs(r.ts)) {
      return Status::InvalidArgument(
          fmt::format("record of {} has ts {} outside years 1-9999", r.ip, r.ts));
    }
    ++per_day[DayOf(r.ts)];
  }
  const std::vector<bool> newest = NewestOfEachMiner(records);
  return Guard("write batch", [&](pqxx::connection& conn) -> Status {
    std::set<int64_t> days;
    for (const auto& [day, n] : per_day) days.insert(day);
    EnsurePartitions("records", days);

    pqxx::work tx(conn);
    // Fields are written as text; the columns both tables share come first.
    // Each record's bytea once: both COPYs carry the newest ones.
    hex_rows_.resize(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      encoded_.clear();
      EncodeRecord(records[i], encoded_);
      hex_rows_[i].clear();
      AppendHex(hex_rows_[i], encoded_);
    }
    auto copy_rows = [&](pqxx::stream_to& stream, bool newest_only) {
      for (size_t i = 0; i < records.size(); ++i) {
        if (newest_only && !newest[i]) continue;
        const Record& r = records[i];
        const std::string& hex = hex_rows_[i];
        numbers_.clear();
        number_offsets_.clear();
        AppendNumber(numbers_, number_offsets_, std::optional<double>(r.ts));
        AppendNumber(numbers_, number_offsets_, r.hashrate);
        AppendNumber(numbers_, number_offsets_, r.hashrate_avg);
        AppendNumber(numbers_, number_offsets_, r.temp_max);
        AppendNumber(numbers_, number_offsets_, r.uptime_s);
        AppendNumber(numbers_, number_offsets_, std::optional<int64_t>(IpKey(r.ip)));
        auto number = [&](size_t k) -> const char* {
          return number_offsets_[k] == std::string::npos ? nullptr
                                                         : numbers_.c_str() + number_offsets_[k];
        };
        const std::string port = std::to_string(r.port);
        if (newest_only) {
          stream << std::make_tuple(r.ip.c_str(), port.c_str(), number(5), number(0),
                                    StatusWord(r.status).c_str(), OrNull(r.model), OrNull(r.worker),
                                    number(1), number(2), number(3), number(4), hex.c_str());
        } else {
          const std::string seq = std::to_string(r.seq);
          stream << std::make_tuple(r.ip.c_str(), port.c_str(), number(0),
                                    StatusWord(r.status).c_str(), OrNull(r.model), OrNull(r.worker),
                                    number(1), number(2), number(3), number(4),
                                    r.producer_id.c_str(), seq.c_str(), hex.c_str());
        }
      }
      stream.complete();
    };
    {
      pqxx::stream_to stream(
          tx, "records",
          std::vector<std::string>{"ip", "port", "ts", "status", "model", "worker", "hashrate",
                                   "hashrate_avg", "temp_max", "uptime_s", "producer_id", "seq",
                                   "record"});
      copy_rows(stream, false);
    }
    {
      pqxx::stream_to stream(
          tx, "miners_in",
          std::vector<std::string>{"ip", "port", "ip_key", "ts", "status", "model", "worker",
                                   "hashrate", "hashrate_avg", "temp_max", "uptime_s", "record"});
      copy_rows(stream, true);
    }
    tx.exec(kMergeMiners);
    for (const auto& [day, n] : per_day) tx.exec_prepared("add_count", day, n);
    tx.commit();
    return Status::Ok();
  });
}

Status PostgresStore::UpsertInventory(std::span<const InventoryEntry> entries) {
  if (entries.empty()) return Status::Ok();
  return Guard("upsert inventory", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    for (const InventoryEntry& e : entries) {
      const std::optional<int64_t> ip_key = IpKey(e.ip);
      tx.exec_prepared("upsert_inventory", e.ip, e.port, ip_key, e.ts, e.identified,
                       OrNull(e.model), OrNull(e.firmware), OrNull(e.worker),
                       e.change == InventoryChange::kGone, OrNull(e.producer_id));
    }
    tx.commit();
    return Status::Ok();
  });
}

int64_t Clamp(size_t value) {
  return static_cast<int64_t>(std::min<size_t>(value, std::numeric_limits<int64_t>::max()));
}

Result<std::vector<Record>> PostgresStore::Latest(const LatestFilter& filter) {
  return Guard("latest", [&](pqxx::connection& conn) -> Result<std::vector<Record>> {
    pqxx::nontransaction q(conn);
    const char* status = filter.status ? StatusWord(*filter.status).c_str() : nullptr;
    const char* model = filter.model ? filter.model->c_str() : nullptr;
    const char* worker = filter.worker ? filter.worker->c_str() : nullptr;
    if (filter.sort == MinerSort::kAddress && !filter.descending) {
      return Records(q.exec_prepared("latest", status, model, worker, Clamp(filter.limit),
                                     Clamp(filter.offset)));
    }
    // Other orders are a dashboard's page at a time, planned per call.
    return Records(q.exec_params(
        std::string(kLatest) + "ORDER BY " + LatestOrderBy(filter, "") + " LIMIT $4 OFFSET $5",
        status, model, worker, Clamp(filter.limit), Clamp(filter.offset)));
  });
}

Result<std::vector<Record>> PostgresStore::History(const std::string& ip, double from_ts,
                                                   double to_ts, size_t limit) {
  return Guard("history", [&](pqxx::connection& conn) -> Result<std::vector<Record>> {
    pqxx::nontransaction q(conn);
    return Records(q.exec_prepared("history", ip, from_ts, to_ts, Clamp(limit)));
  });
}

Result<std::vector<Record>> PostgresStore::RecordsBySeq(const std::string& producer_id,
                                                        uint64_t first_seq, uint64_t last_seq,
                                                        size_t limit) {
  return Guard("records by seq", [&](pqxx::connection& conn) -> Result<std::vector<Record>> {
    constexpr auto kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    pqxx::nontransaction q(conn);
    return Records(
        q.exec_prepared("by_seq", producer_id, static_cast<int64_t>(std::min(first_seq, kMaxSeq)),
                        static_cast<int64_t>(std::min(last_seq, kMaxSeq)), Clamp(limit)));
  });
}

Result<std::vector<std::pair<std::string, uint64_t>>> PostgresStore::LastSeqs() {
  return Guard("last seqs",
               [&](pqxx::connection& conn) -> Result<std::vector<std::pair<std::string, uint64_t>>> {
                 pqxx::nontransaction q(conn);
                 std::vector<std::pair<std::string, uint64_t>> out;
                 for (const auto& row : q.exec(kLastSeqs)) {
                   out.emplace_back(row[0].as<std::string>(),
                                    static_cast<uint64_t>(row[1].as<int64_t>()));
                 }
                 return out;
               });
}

Result<int64_t> PostgresStore::CountRecords() {
  return Guard("count records", [&](pqxx::connection& conn) -> Result<int64_t> {
    pqxx::nontransaction q(conn);
    return q.exec("SELECT coalesce(sum(n), 0)::bigint FROM record_counts")[0][0].as<int64_t>();
  });
}

Status PostgresStore::AppendAudit(const AuditEntry& e) {
  return Guard("append audit", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    tx.exec_prepared("append_audit", e.ts, e.actor, e.action, e.ip, e.worker, e.detail,
                     e.http_status, e.result);
    tx.commit();
    return Status::Ok();
  });
}

// Audit rows as SELECT ts, actor, action, ip, worker, detail, http_status, result gives them.
std::vector<AuditEntry> ReadAudit(const pqxx::result& rows) {
  std::vector<AuditEntry> out;
  for (const auto& row : rows) {
    AuditEntry& e = out.emplace_back();
    e.ts = row[0].as<double>();
    e.actor = FieldText(row[1]);
    e.action = FieldText(row[2]);
    e.ip = FieldText(row[3]);
    e.worker = FieldText(row[4]);
    e.detail = FieldText(row[5]);
    e.http_status = row[6].as<int>();
    e.result = FieldText(row[7]);
  }
  return out;
}

Result<std::vector<AuditEntry>> PostgresStore::Audit(const std::string& ip, size_t limit) {
  return Guard("audit", [&](pqxx::connection& conn) -> Result<std::vector<AuditEntry>> {
    pqxx::nontransaction q(conn);
    return ReadAudit(q.exec_prepared("audit", ip, Clamp(limit)));
  });
}

Result<std::vector<AuditEntry>> PostgresStore::AsleepByControl() {
  return Guard("asleep by control", [&](pqxx::connection& conn) -> Result<std::vector<AuditEntry>> {
    pqxx::nontransaction q(conn);
    return ReadAudit(q.exec_prepared("asleep_by_control"));
  });
}

Result<std::vector<HourlyRow>> PostgresStore::Hourly(const std::string& ip, double from_ts,
                                                     double to_ts, size_t limit) {
  return Guard("hourly", [&](pqxx::connection& conn) -> Result<std::vector<HourlyRow>> {
    pqxx::nontransaction q(conn);
    std::vector<HourlyRow> out;
    for (const auto& row : q.exec_prepared("hourly", ip, from_ts, to_ts, Clamp(limit))) {
      HourlyRow& h = out.emplace_back();
      h.ip = FieldText(row[0]);
      h.port = static_cast<uint16_t>(row[1].as<int>());
      h.hour = row[2].as<int64_t>();
      h.polls = row[3].as<int64_t>();
      h.polls_ok = row[4].as<int64_t>();
      h.hashrate_avg = FieldDouble(row[5]);
      h.hashrate_min = FieldDouble(row[6]);
      h.hashrate_max = FieldDouble(row[7]);
      h.temp_max = FieldDouble(row[8]);
      h.model = FieldText(row[9]);
      h.worker = FieldText(row[10]);
    }
    return out;
  });
}

Result<std::vector<InventoryRow>> PostgresStore::Inventory() {
  return Guard("inventory", [&](pqxx::connection& conn) -> Result<std::vector<InventoryRow>> {
    pqxx::nontransaction q(conn);
    std::vector<InventoryRow> out;
    for (const auto& row : q.exec_prepared("inventory")) {
      InventoryRow& i = out.emplace_back();
      i.ip = FieldText(row[0]);
      i.port = static_cast<uint16_t>(row[1].as<int>());
      i.first_seen = row[2].as<double>();
      i.last_seen = FieldDouble(row[3]);
      i.identified = row[4].as<bool>();
      i.model = FieldText(row[5]);
      i.firmware = FieldText(row[6]);
      i.worker = FieldText(row[7]);
      i.gone = row[8].as<bool>();
      i.producer_id = FieldText(row[9]);
    }
    return out;
  });
}

Status PostgresStore::AppendEvents(std::span<const HealthEvent> events) {
  if (events.empty()) return Status::Ok();
  return Guard("append events", [&](pqxx::connection& conn) -> Status {
    pqxx::work tx(conn);
    for (const HealthEvent& e : events) {
      tx.exec_prepared("append_event", e.ts, e.ip, e.port, OrNull(e.model), OrNull(e.worker),
                       e.kind, e.state, e.severity, e.message, e.value, e.threshold);
    }
    tx.commit();
    return Status::Ok();
  });
}

Result<std::vector<HealthEvent>> PostgresStore::Events(const EventFilter& filter) {
  return Guard("events", [&](pqxx::connection& conn) -> Result<std::vector<HealthEvent>> {
    pqxx::nontransaction q(conn);
    std::vector<HealthEvent> out;
    for (const auto& row :
         q.exec_prepared("events", filter.since, filter.ip, filter.kind, Clamp(filter.limit))) {
      HealthEvent& e = out.emplace_back();
      e.ts = row[0].as<double>();
      e.ip = FieldText(row[1]);
      e.port = static_cast<uint16_t>(row[2].as<int>());
      e.model = FieldText(row[3]);
      e.worker = FieldText(row[4]);
      e.kind = FieldText(row[5]);
      e.state = FieldText(row[6]);
      e.severity = FieldText(row[7]);
      e.message = FieldText(row[8]);
      e.value = FieldDouble(row[9]);
      e.threshold = FieldDouble(row[10]);
    }
    return out;
  });
}

Result<std::vector<ActiveCondition>> PostgresStore::ActiveConditions() {
  return Guard(
      "active conditions", [&](pqxx::connection& conn) -> Result<std::vector<ActiveCondition>> {
        pqxx::nontransaction q(conn);
        std::vector<ActiveCondition> out;
        for (const auto& row : q.exec(R"sql(
SELECT DISTINCT ON (ip, port, kind) ip, port, kind, state FROM events
ORDER BY ip, port, kind, id DESC)sql")) {
          if (FieldText(row[3]) != "fired") continue;
          out.push_back(
              {FieldText(row[0]), static_cast<uint16_t>(row[1].as<int>()), FieldText(row[2])});
        }
        return out;
      });
}

Result<MaintainStats> PostgresStore::Maintain(double now, int64_t max_chunks) {
  return Guard("maintain", [&](pqxx::connection& conn) -> Result<MaintainStats> {
    MaintainStats stats;
    // Tomorrow's partition, made ahead so midnight's first batch needs no DDL.
    EnsurePartitions("records", {DayOf(now) + kSecondsPerDay});
    const int64_t raw_cutoff =
        HourOf(now - static_cast<double>(options().raw_hours * kSecondsPerHour));
    const int64_t hourly_cutoff =
        HourOf(now - static_cast<double>(options().retention_days * kSecondsPerDay));
    int64_t chunks = 0;

    // A day is folded once all of it is past the raw window.
    for (const auto& [day, name] : Partitions(conn, "records")) {
      if (day + kSecondsPerDay > raw_cutoff) break;
      if (chunks == max_chunks) {
        stats.more = true;
        return stats;
      }
      ++chunks;
      EnsurePartitions("records_hourly", {day});
      pqxx::work tx(conn);
      tx.exec(fmt::format(kFoldDay, tx.quote_name(name)));
      const pqxx::result counted =
          tx.exec(fmt::format("DELETE FROM record_counts WHERE day = {} RETURNING n", day));
      // DROP waits for readers of the parent table, bounded by lock_timeout.
      tx.exec(fmt::format("DROP TABLE {}", tx.quote_name(name)));
      tx.commit();
      partitions_made_.erase({"records", day});
      stats.rows_folded += counted.empty() ? 0 : counted[0][0].as<int64_t>();
    }
    for (const auto& [day, name] : Partitions(conn, "records_hourly")) {
      if (day + kSecondsPerDay > hourly_cutoff) break;
      if (chunks == max_chunks) {
        stats.more = true;
        return stats;
      }
      ++chunks;
      pqxx::work tx(conn);
      const int64_t rows =
          tx.exec(fmt::format("SELECT count(*) FROM {}", tx.quote_name(name)))[0][0].as<int64_t>();
      tx.exec(fmt::format("DROP TABLE {}", tx.quote_name(name)));
      tx.commit();
      partitions_made_.erase({"records_hourly", day});
      stats.hourly_rows_dropped += rows;
    }
    // Events are few (one per change of state): one statement takes them.
    pqxx::work expire(conn);
    expire.exec_params("DELETE FROM events WHERE ts < $1", static_cast<double>(hourly_cutoff));
    expire.commit();
    return stats;
  });
}

}  // namespace

Result<std::unique_ptr<StoreDb>> OpenPostgres(const StoreOptions& options) {
  auto store = std::make_unique<PostgresStore>(options);
  if (Status s = store->Connect(); !s.ok()) return s;
  if (Status s = store->Migrate(); !s.ok()) return s;
  if (Status s = store->PrepareAfterMigrate(); !s.ok()) return s;
  return std::unique_ptr<StoreDb>(std::move(store));
}

}  // namespace asicmon::store_internal
