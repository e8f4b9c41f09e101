#include "fake_store_db.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

namespace asicmon::testing {

namespace {

StoreOptions FakeOptions() {
  StoreOptions options;
  options.database = "fake";  // names it in logs; nothing is opened
  return options;
}

}  // namespace

FakeStoreDb::FakeStoreDb() : StoreDb(FakeOptions()) {}

void FakeStoreDb::FailCommits(int n, Status status) { commit_failures_ = {n, std::move(status)}; }

void FakeStoreDb::FailRecordsBySeq(int n, Status status) {
  by_seq_failures_ = {n, std::move(status)};
}

bool FakeStoreDb::Take(std::pair<int, Status>& failures, Status& status) {
  if (failures.first <= 0) return false;
  --failures.first;
  status = failures.second;
  return true;
}

Status FakeStoreDb::Commit(const StoreBatch& batch) {
  if (batch.records.empty() && batch.inventory.empty() && batch.events.empty()) {
    return Status::Ok();
  }
  if (Status refused; Take(commit_failures_, refused)) {
    ++failed_commits_;
    return refused;
  }
  records_.insert(records_.end(), batch.records.begin(), batch.records.end());
  inventory_.insert(inventory_.end(), batch.inventory.begin(), batch.inventory.end());
  events_.insert(events_.end(), batch.events.begin(), batch.events.end());
  ++commits_;
  return Status::Ok();
}

Result<std::vector<Record>> FakeStoreDb::Latest(const LatestFilter& filter) {
  // Of equal ts, the later one wins, as in the backends.
  std::map<std::pair<std::string, uint16_t>, const Record*> newest;
  for (const Record& r : records_) {
    const Record*& n = newest[{r.ip, r.port}];
    if (!n || r.ts >= n->ts) n = &r;
  }
  std::vector<Record> out;
  size_t skipped = 0;
  for (const auto& [miner, r] : newest) {
    if (filter.status && r->status != *filter.status) continue;
    if (filter.model && r->model != *filter.model) continue;
    if (filter.worker && r->worker != *filter.worker) continue;
    if (skipped++ < filter.offset) continue;
    if (out.size() == filter.limit) break;
    out.push_back(*r);
  }
  return out;
}

Result<std::vector<Record>> FakeStoreDb::History(const std::string& ip, double from_ts,
                                                 double to_ts, size_t limit) {
  std::vector<Record> out;
  for (const Record& r : records_) {
    if (r.ip == ip && r.ts >= from_ts && r.ts <= to_ts) out.push_back(r);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Record& a, const Record& b) { return a.ts < b.ts; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::vector<Record>> FakeStoreDb::RecordsBySeq(const std::string& producer_id,
                                                      uint64_t first_seq, uint64_t last_seq,
                                                      size_t limit) {
  if (Status refused; Take(by_seq_failures_, refused)) return refused;
  std::vector<Record> out;
  for (const Record& r : records_) {
    if (r.producer_id == producer_id && r.seq >= first_seq && r.seq <= last_seq) {
      out.push_back(r);
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Record& a, const Record& b) { return a.seq < b.seq; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<std::vector<std::pair<std::string, uint64_t>>> FakeStoreDb::LastSeqs() {
  std::map<std::string, uint64_t> last;
  for (const Record& r : records_) last[r.producer_id] = std::max(last[r.producer_id], r.seq);
  return std::vector<std::pair<std::string, uint64_t>>(last.begin(), last.end());
}

Result<int64_t> FakeStoreDb::CountRecords() { return static_cast<int64_t>(records_.size()); }

Result<std::vector<HourlyRow>> FakeStoreDb::Hourly(const std::string&, double, double, size_t) {
  return std::vector<HourlyRow>();
}

Status FakeStoreDb::AppendAudit(const AuditEntry& entry) {
  audit_.push_back(entry);
  return Status::Ok();
}

Result<std::vector<AuditEntry>> FakeStoreDb::Audit(const AuditFilter& filter) {
  std::vector<AuditEntry> out;
  for (auto e = audit_.rbegin(); e != audit_.rend() && out.size() < filter.limit; ++e) {
    if ((filter.ip.empty() || e->ip == filter.ip) &&
        (filter.key.empty() || e->actor.starts_with(filter.key + "@"))) {
      out.push_back(*e);
    }
  }
  return out;
}

Status FakeStoreDb::AddApiKey(const ApiKey& key) {
  for (const ApiKey& k : keys_) {
    if (k.name == key.name && !k.revoked_ts) {
      return Status::InvalidArgument("a key named '" + key.name + "' exists: revoke it first");
    }
  }
  keys_.push_back(key);
  return Status::Ok();
}

Result<std::optional<ApiKey>> FakeStoreDb::FindApiKey(const std::string& key_id) {
  for (const ApiKey& k : keys_) {
    if (k.key_id == key_id) return std::optional<ApiKey>(k);
  }
  return std::optional<ApiKey>();
}

Result<std::vector<ApiKey>> FakeStoreDb::ApiKeys() { return keys_; }

Result<bool> FakeStoreDb::RevokeApiKey(const std::string& name, double ts) {
  for (ApiKey& k : keys_) {
    if (k.name == name && !k.revoked_ts) {
      k.revoked_ts = ts;
      return true;
    }
  }
  return false;
}

Status FakeStoreDb::TouchApiKey(const std::string& key_id, double ts) {
  for (ApiKey& k : keys_) {
    if (k.key_id == key_id) k.last_used_ts = ts;
  }
  return Status::Ok();
}

Result<std::vector<AuditEntry>> FakeStoreDb::HeldByControl() {
  // Positions in audit_ (the backends' ids): by ip, the newest ok sleep or
  // wake and the newest ok power change.
  std::map<std::string, std::pair<std::optional<size_t>, std::optional<size_t>>> newest;
  for (size_t i = 0; i < audit_.size(); ++i) {
    const AuditEntry& e = audit_[i];
    if (e.result != "ok") continue;
    if (e.action == "sleep" || e.action == "wake") newest[e.ip].first = i;
    if (e.action == "power") newest[e.ip].second = i;
  }
  std::vector<AuditEntry> out;
  for (const auto& [ip, held] : newest) {
    std::vector<size_t> rows;
    if (held.first && audit_[*held.first].action == "sleep") rows.push_back(*held.first);
    if (held.second) rows.push_back(*held.second);
    std::sort(rows.begin(), rows.end());
    for (size_t i : rows) out.push_back(audit_[i]);
  }
  return out;
}

Result<std::vector<InventoryRow>> FakeStoreDb::Inventory() {
  // The entries of one miner as the backends fold them, without the
  // several-discovers rule (tests of that use a real store).
  std::map<std::pair<std::string, uint16_t>, InventoryRow> rows;
  for (const InventoryEntry& e : inventory_) {
    auto [it, added] = rows.try_emplace({e.ip, e.port});
    InventoryRow& row = it->second;
    row.ip = e.ip;
    row.port = e.port;
    row.first_seen = added ? e.ts : std::min(row.first_seen, e.ts);
    row.gone = e.change == InventoryChange::kGone;
    row.producer_id = e.producer_id;
    if (row.gone) continue;
    row.last_seen = std::max(row.last_seen.value_or(e.ts), e.ts);
    row.identified = e.identified;
    row.model = e.model;
    row.firmware = e.firmware;
    row.worker = e.worker;
  }
  std::vector<InventoryRow> out;
  for (auto& [miner, row] : rows) out.push_back(std::move(row));
  return out;
}

Result<std::vector<HealthEvent>> FakeStoreDb::Events(const EventFilter& filter) {
  std::vector<HealthEvent> out;
  for (auto e = events_.rbegin(); e != events_.rend() && out.size() < filter.limit; ++e) {
    if (e->ts < filter.since) continue;
    if (!filter.ip.empty() && e->ip != filter.ip) continue;
    if (!filter.kind.empty() && e->kind != filter.kind) continue;
    out.push_back(*e);
  }
  return out;
}

Result<std::vector<ActiveCondition>> FakeStoreDb::ActiveConditions() {
  std::map<std::tuple<std::string, uint16_t, std::string>, bool> fired;
  for (const HealthEvent& e : events_) fired[{e.ip, e.port, e.kind}] = e.state == "fired";
  std::vector<ActiveCondition> out;
  for (const auto& [key, on] : fired) {
    if (on) out.push_back({std::get<0>(key), std::get<1>(key), std::get<2>(key)});
  }
  return out;
}

Result<MaintainStats> FakeStoreDb::Maintain(double, int64_t) {
  ++maintain_calls_;
  return MaintainStats{};
}

}  // namespace asicmon::testing
