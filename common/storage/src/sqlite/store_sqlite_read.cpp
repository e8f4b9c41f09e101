// The SQLite backend's queries (see store_db.h).
#include "store_sqlite_store.h"

namespace asicmon::store_internal {

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

Result<std::vector<AuditEntry>> SqliteStore::Audit(const AuditFilter& filter) {
  return Guard(database(), "audit", [&]() -> Result<std::vector<AuditEntry>> {
    SQLite::Statement q(impl_->db, R"sql(
SELECT ts, actor, action, ip, worker, detail, http_status, result FROM audit
WHERE (?1 = '' OR ip = ?1) AND (?2 = '' OR substr(actor, 1, length(?2) + 1) = ?2 || '@')
ORDER BY id DESC LIMIT ?3)sql");
    q.bind(1, filter.ip);
    q.bind(2, filter.key);
    BindSize(q, 3, filter.limit);
    return ReadAudit(q);
  });
}

Result<std::vector<AuditEntry>> SqliteStore::HeldByControl() {
  return Guard(database(), "held by control", [&]() -> Result<std::vector<AuditEntry>> {
    SQLite::Statement q(impl_->db, kHeldByControlSql);
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
      row.family = ColumnText(q.getColumn(10));
      row.mac = ColumnText(q.getColumn(11));
      row.serial = ColumnText(q.getColumn(12));
      row.hostname = ColumnText(q.getColumn(13));
      row.previous_ip = ColumnText(q.getColumn(14));
      out.push_back(std::move(row));
    }
    return out;
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

}  // namespace asicmon::store_internal
