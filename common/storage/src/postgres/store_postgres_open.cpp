// The PostgreSQL backend's connection: session settings, the schema and its
// migrations, prepared statements, errors as Status.
#include <fmt/format.h>

#include <array>

#include "store_postgres_store.h"

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
    // 5: the machine's identity, and where each machine answered (kAddressesSchema).
    R"sql(
ALTER TABLE inventory ADD COLUMN family text;
ALTER TABLE inventory ADD COLUMN mac text;
ALTER TABLE inventory ADD COLUMN serial text;
ALTER TABLE inventory ADD COLUMN hostname text;
ALTER TABLE inventory ADD COLUMN previous_ip text;
)sql",
    // 6: control's API keys (salted hashes only); a revoked key's row stays for the audit.
    R"sql(
CREATE TABLE api_keys (
  key_id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL,
  salt text NOT NULL,
  hash text NOT NULL,
  created_ts double precision NOT NULL,
  last_used_ts double precision,
  expires_ts double precision,
  revoked_ts double precision
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_ts IS NULL;
CREATE INDEX audit_actor ON audit (actor);
)sql",
};

// The newest of each miner in a batch, staged by COPY and merged by one
// statement (a round trip per miner would cap ingest at the latency).
constexpr const char* kStageMiners = R"sql(
CREATE TEMPORARY TABLE IF NOT EXISTS miners_in
  (LIKE asicmon.miners INCLUDING DEFAULTS) ON COMMIT DELETE ROWS)sql";

constexpr const char* kAddCount = R"sql(
INSERT INTO record_counts (day, n) VALUES ($1, $2)
ON CONFLICT (day) DO UPDATE SET n = record_counts.n + excluded.n)sql";

// As SQLite's kUpsertInventory (see there).
constexpr const char* kUpsertInventory = R"sql(
INSERT INTO inventory AS i (ip, port, ip_key, first_seen, last_seen, updated_ts, identified,
                            model, firmware, worker, gone, producer_id, family, mac, serial,
                            hostname, previous_ip)
VALUES ($1, $2::integer, $3::bigint, $4::double precision,
        CASE WHEN $9::boolean THEN NULL ELSE $4::double precision END, $4::double precision,
        $5::boolean, $6, $7, $8, $9::boolean, $10, $11, $12, $13, $14, $15)
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
  family = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
           THEN excluded.family ELSE i.family END,
  mac = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
        THEN excluded.mac ELSE i.mac END,
  serial = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
           THEN excluded.serial ELSE i.serial END,
  hostname = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
             THEN excluded.hostname ELSE i.hostname END,
  previous_ip = CASE WHEN excluded.updated_ts >= i.updated_ts AND NOT excluded.gone
                THEN coalesce(excluded.previous_ip, i.previous_ip) ELSE i.previous_ip END,
  gone = CASE WHEN excluded.updated_ts >= i.updated_ts THEN excluded.gone ELSE i.gone END,
  producer_id = CASE WHEN excluded.updated_ts >= i.updated_ts THEN excluded.producer_id
                ELSE i.producer_id END,
  updated_ts = GREATEST(i.updated_ts, excluded.updated_ts)
WHERE NOT excluded.gone
  OR ((i.producer_id IS NULL OR i.producer_id = excluded.producer_id)
      AND (excluded.mac IS NULL OR i.mac IS NULL OR i.mac = excluded.mac)))sql";

}  // namespace

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
  c.prepare("history", PostgresParams(std::string(kMachineSpans) + kMachineHistory));
  c.prepare("note_address", PostgresParams(kNoteAddress));
  c.prepare("moved_inventory", PostgresParams(kMovedFromInventory));
  c.prepare("moved_miners", PostgresParams(kMovedFromMiners));
  c.prepare("by_seq",
            "SELECT record FROM records WHERE producer_id = $1 AND seq >= $2 AND seq <= $3 "
            "ORDER BY seq LIMIT $4");
  c.prepare("hourly", PostgresParams(std::string(kMachineSpans) + kMachineHourly));
  c.prepare("inventory", R"sql(
SELECT ip, port, first_seen, last_seen, identified, model, firmware, worker, gone, producer_id,
       family, mac, serial, hostname, previous_ip
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
WHERE ($1 = '' OR ip = $1) AND ($2 = '' OR substr(actor, 1, length($2) + 1) = $2 || '@')
ORDER BY id DESC LIMIT $3)sql");
  c.prepare("held_by_control", kHeldByControlSql);
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
      if (v == 4) tx.exec(kAddressesSchema);  // shared with SQLite
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

Result<std::unique_ptr<StoreDb>> OpenPostgres(const StoreOptions& options) {
  auto store = std::make_unique<PostgresStore>(options);
  if (Status s = store->Connect(); !s.ok()) return s;
  if (Status s = store->Migrate(); !s.ok()) return s;
  if (Status s = store->PrepareAfterMigrate(); !s.ok()) return s;
  return std::unique_ptr<StoreDb>(std::move(store));
}

}  // namespace asicmon::store_internal
