// The PostgreSQL backend's writes: a batch (Commit) by COPY, the audit
// trail, day partitions made as rows arrive and folded or dropped by Maintain.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "store_postgres_store.h"

namespace asicmon::store_internal {
namespace {

// An older record of a miner (late delivery) must not replace newer state.
constexpr const char* kMergeMiners = R"sql(
INSERT INTO miners SELECT * FROM miners_in
ON CONFLICT (ip, port) DO UPDATE SET
  ip_key = excluded.ip_key, ts = excluded.ts, status = excluded.status, model = excluded.model,
  worker = excluded.worker, hashrate = excluded.hashrate, hashrate_avg = excluded.hashrate_avg,
  temp_max = excluded.temp_max, uptime_s = excluded.uptime_s, record = excluded.record
WHERE excluded.ts >= miners.ts)sql";

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

}  // namespace

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

void PostgresStore::CopyRecords(pqxx::work& tx, std::span<const Record> records,
                                const std::map<int64_t, int64_t>& per_day) {
  const std::vector<bool> newest = NewestOfEachMiner(records);
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
}

Status PostgresStore::Commit(const StoreBatch& batch) {
  if (batch.records.empty() && batch.inventory.empty() && batch.events.empty()) {
    return Status::Ok();
  }
  std::map<int64_t, int64_t> per_day;
  for (const Record& r : batch.records) {
    if (!StorableTs(r.ts)) {
      return Status::InvalidArgument(
          fmt::format("record of {} has ts {} outside years 1-9999", r.ip, r.ts));
    }
    ++per_day[DayOf(r.ts)];
  }
  return Guard("commit", [&](pqxx::connection& conn) -> Status {
    std::set<int64_t> days;
    for (const auto& [day, n] : per_day) days.insert(day);
    EnsurePartitions("records", days);

    pqxx::work tx(conn);
    if (!batch.records.empty()) CopyRecords(tx, batch.records, per_day);
    for (const InventoryEntry& e : batch.inventory) {
      const std::optional<int64_t> ip_key = IpKey(e.ip);
      tx.exec_prepared("upsert_inventory", e.ip, e.port, ip_key, e.ts, e.identified,
                       OrNull(e.model), OrNull(e.firmware), OrNull(e.worker),
                       e.change == InventoryChange::kGone, OrNull(e.producer_id),
                       OrNull(e.family), OrNull(e.mac), OrNull(e.serial), OrNull(e.hostname),
                       OrNull(e.previous_ip));
      if (e.mac.empty() || e.change == InventoryChange::kGone) continue;
      tx.exec_prepared("note_address", e.mac, e.ip, e.ts);
      if (e.change != InventoryChange::kMoved || e.previous_ip.empty()) continue;
      tx.exec_prepared("moved_inventory", e.previous_ip, e.port, e.mac);
      tx.exec_prepared("moved_miners", e.previous_ip, e.port, e.ts);
    }
    for (const HealthEvent& e : batch.events) {
      tx.exec_prepared("append_event", e.ts, e.ip, e.port, OrNull(e.model), OrNull(e.worker),
                       e.kind, e.state, e.severity, e.message, e.value, e.threshold);
    }
    tx.commit();
    return Status::Ok();
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

}  // namespace asicmon::store_internal
