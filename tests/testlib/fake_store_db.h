// A StoreDb in memory, for unit tests of what writes and reads the store
// (Ingest) without a database: it keeps what Commit wrote, in order, and
// refuses the Commits or reads a test asks it to, so a test can check that a
// refused batch is written again whole (nothing lost, nothing written twice).
// Reads answer from what was committed, with the backends' filters and
// orders except Latest's sort (always by ip text, then port). Nothing is
// ever folded: Maintain counts its calls, Hourly is empty.
//
// Thread-safety: none; one thread, as a StoreDb.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "asicmon/store_db.h"

namespace asicmon::testing {

class FakeStoreDb final : public StoreDb {
 public:
  FakeStoreDb();

  // The next `n` Commits fail with `status`, writing nothing.
  void FailCommits(int n, Status status = Status::IoError("fake: disk unplugged"));
  // The next `n` RecordsBySeq calls (the ingest's look-up of resends) fail.
  void FailRecordsBySeq(int n, Status status = Status::IoError("fake: disk unplugged"));

  // What the Commits that succeeded wrote, in order.
  const std::vector<Record>& records() const { return records_; }
  const std::vector<InventoryEntry>& inventory() const { return inventory_; }
  const std::vector<HealthEvent>& events() const { return events_; }
  int commits() const { return commits_; }                // that wrote something
  int failed_commits() const { return failed_commits_; }  // refused as asked
  int maintain_calls() const { return maintain_calls_; }

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
  // True (and one fewer left) when the call is to fail.
  static bool Take(std::pair<int, Status>& failures, Status& status);

  std::vector<Record> records_;
  std::vector<InventoryEntry> inventory_;
  std::vector<HealthEvent> events_;
  std::vector<AuditEntry> audit_;
  std::vector<ApiKey> keys_;
  std::pair<int, Status> commit_failures_{0, Status::Ok()};
  std::pair<int, Status> by_seq_failures_{0, Status::Ok()};
  int commits_ = 0;
  int failed_commits_ = 0;
  int maintain_calls_ = 0;
};

}  // namespace asicmon::testing
