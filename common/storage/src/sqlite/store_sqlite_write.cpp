// The SQLite backend's writes: a batch (Commit), the audit trail, and
// Maintain's folding and expiry (see store_db.h).
#include <map>
#include <tuple>

#include "store_sqlite_store.h"

namespace asicmon::store_internal {
namespace {

// Commit's parts, run inside its transaction. They throw SQLite::Exception.

void InsertRecords(SqliteConnection& c, std::span<const Record> records) {
  const std::vector<bool> newest = NewestOfEachMiner(records);
  SQLite::Statement& insert = *c.insert_record;
  SQLite::Statement& upsert = *c.upsert_miner;
  std::string& encoded = c.encoded;
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
    upsert.bind(11, c.db.getLastInsertRowid());
    BindOptional(upsert, 12, IpKey(r.ip));
    upsert.exec();
  }
  c.AddCount(static_cast<int64_t>(records.size()));
}

void UpsertInventoryRows(SqliteConnection& c, std::span<const InventoryEntry> entries) {
  for (const InventoryEntry& e : entries) {
    Use use(*c.upsert_inventory);
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
    BindText(s, 11, e.family);
    BindText(s, 12, e.mac);
    BindText(s, 13, e.serial);
    BindText(s, 14, e.hostname);
    BindText(s, 15, e.previous_ip);
    s.exec();
    if (e.mac.empty() || e.change == InventoryChange::kGone) continue;
    {
      Use note(*c.note_address);
      (*note).bindNoCopy(1, e.mac);
      (*note).bindNoCopy(2, e.ip);
      (*note).bind(3, e.ts);
      (*note).exec();
    }
    if (e.change != InventoryChange::kMoved || e.previous_ip.empty()) continue;
    {
      Use moved(*c.moved_inventory);
      (*moved).bindNoCopy(1, e.previous_ip);
      (*moved).bind(2, e.port);
      (*moved).bindNoCopy(3, e.mac);
      (*moved).exec();
    }
    Use moved(*c.moved_miners);
    (*moved).bindNoCopy(1, e.previous_ip);
    (*moved).bind(2, e.port);
    (*moved).bind(3, e.ts);
    (*moved).exec();
  }
}

void InsertEvents(SqliteConnection& c, std::span<const HealthEvent> events) {
  SQLite::Statement& insert = *c.insert_event;
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
}

}  // namespace

Status SqliteStore::Commit(const StoreBatch& batch) {
  if (batch.records.empty() && batch.inventory.empty() && batch.events.empty()) {
    return Status::Ok();
  }
  return Guard(database(), "commit", [&]() -> Status {
    SQLite::Transaction transaction(impl_->db, SQLite::TransactionBehavior::IMMEDIATE);
    if (!batch.records.empty()) InsertRecords(*impl_, batch.records);
    UpsertInventoryRows(*impl_, batch.inventory);
    if (!batch.events.empty()) InsertEvents(*impl_, batch.events);
    transaction.commit();
    return Status::Ok();
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
