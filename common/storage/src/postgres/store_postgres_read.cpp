// The PostgreSQL backend's queries (see store_db.h).
#include <algorithm>
#include <limits>

#include "store_postgres_store.h"

namespace asicmon::store_internal {
namespace {

std::string FieldText(const pqxx::field& field) {
  return field.is_null() ? std::string() : std::string(field.c_str(), field.size());
}

Result<Record> FieldRecord(const pqxx::field& field) {
  const pqxx::binarystring bytes(field);
  Result<Record> record =
      DecodeRecord(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if (!record.ok()) return Status::ParseError("stored record: " + record.status().message());
  return record;
}

int64_t Clamp(size_t value) {
  return static_cast<int64_t>(std::min<size_t>(value, std::numeric_limits<int64_t>::max()));
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

}  // namespace

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

Result<std::vector<AuditEntry>> PostgresStore::Audit(const AuditFilter& filter) {
  return Guard("audit", [&](pqxx::connection& conn) -> Result<std::vector<AuditEntry>> {
    pqxx::nontransaction q(conn);
    return ReadAudit(q.exec_prepared("audit", filter.ip, filter.key, Clamp(filter.limit)));
  });
}

Result<std::vector<AuditEntry>> PostgresStore::HeldByControl() {
  return Guard("held by control", [&](pqxx::connection& conn) -> Result<std::vector<AuditEntry>> {
    pqxx::nontransaction q(conn);
    return ReadAudit(q.exec_prepared("held_by_control"));
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
      i.family = FieldText(row[10]);
      i.mac = FieldText(row[11]);
      i.serial = FieldText(row[12]);
      i.hostname = FieldText(row[13]);
      i.previous_ip = FieldText(row[14]);
    }
    return out;
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

}  // namespace asicmon::store_internal
