// Ingest's batch path: a batch due is settled (resends dropped, health
// events made), committed in one transaction, published, acknowledged.
#include <algorithm>

#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/log.h"
#include "asicmon/outbox.h"
#include "ingest.h"

namespace asicmon {
namespace {

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

}  // namespace

bool Ingest::FlushDue(Clock::time_point now) const {
  if (batch_.empty()) return false;
  if (retrying_) return now >= retry_at_;
  return !db_ || batch_.size() >= options_.batch_max || now - batch_first_ >= options_.batch_wait;
}

Status Ingest::DropDuplicates() {
  if (batch_candidates_.empty()) return Status::Ok();
  std::vector<bool> duplicate(batch_records_.size(), false);
  // A candidate's original may be earlier in this batch...
  std::unordered_map<std::string, std::vector<uint64_t>> to_look_up;
  for (size_t i : batch_candidates_) {
    const Record& r = batch_records_[i];
    for (size_t j = 0; j < i && !duplicate[i]; ++j) {
      const Record& o = batch_records_[j];
      duplicate[i] =
          !duplicate[j] && o.seq == r.seq && o.ts == r.ts && o.producer_id == r.producer_id;
    }
    if (!duplicate[i]) to_look_up[r.producer_id].push_back(r.seq);
  }
  // ...or in the database. The ts tells a resend from a record with the same
  // seq of an earlier run of a producer that kept its PRODUCER_ID.
  std::unordered_map<std::string, std::unordered_map<uint64_t, double>> stored;
  if (db_) {
    for (const auto& [producer, seqs] : to_look_up) {
      auto& found = stored[producer];
      auto look_up = [&](uint64_t first, uint64_t last) -> Status {
        Result<std::vector<Record>> rows =
            db_->RecordsBySeq(producer, first, last, last - first + 1);
        if (!rows.ok()) return rows.status();
        for (const Record& row : *rows) found.emplace(row.seq, row.ts);
        return Status::Ok();
      };
      const auto [low, high] = std::minmax_element(seqs.begin(), seqs.end());
      // Resends come in runs: one range read; scattered seqs one by one.
      if (*high - *low <= 2 * seqs.size() + 64) {
        if (Status s = look_up(*low, *high); !s.ok()) return s;
      } else {
        for (uint64_t seq : seqs) {
          if (Status s = look_up(seq, seq); !s.ok()) return s;
        }
      }
    }
  }
  for (size_t i : batch_candidates_) {
    const Record& r = batch_records_[i];
    if (!duplicate[i]) {
      auto p = stored.find(r.producer_id);
      if (p != stored.end()) {
        auto s = p->second.find(r.seq);
        duplicate[i] = s != p->second.end() && s->second == r.ts;
      }
    }
    if (duplicate[i]) {
      batch_duplicates_[r.producer_id].push_back(r.seq);
      ++counters_.duplicates_dropped;
    } else {
      ++counters_.late_stored;
    }
  }
  // Records are in batch_ in the order of batch_records_.
  // Moved down in place (never onto itself: a self-move empties a string).
  size_t record = 0, kept_message = 0, kept_record = 0;
  for (size_t m = 0; m < batch_.size(); ++m) {
    if (batch_[m].topic == bus::kTopicRecord) {
      const bool drop = duplicate[record];
      if (!drop && kept_record++ != record) {
        batch_records_[kept_record - 1] = std::move(batch_records_[record]);
      }
      ++record;
      if (drop) continue;
    }
    if (kept_message++ != m) batch_[kept_message - 1] = std::move(batch_[m]);
  }
  batch_.resize(kept_message);
  batch_records_.resize(kept_record);
  return Status::Ok();
}

bool Ingest::Flush(Clock::time_point now) {
  const auto start = Clock::now();
  Status s;
  // Once per batch: a retried batch keeps the events it made the first time.
  if (!settled_) {
    s = DropDuplicates();
    if (s.ok()) {
      for (const Record& r : batch_records_) health_.Observe(r, batch_events_);
      settled_ = true;
    }
  }
  if (db_) {
    if (s.ok()) {
      if (batch_relayed_events_.empty()) {
        s = db_->Commit({batch_records_, batch_inventory_, batch_events_});
      } else {
        std::vector<HealthEvent> all = batch_events_;
        all.insert(all.end(), batch_relayed_events_.begin(), batch_relayed_events_.end());
        s = db_->Commit({batch_records_, batch_inventory_, all});
      }
    }
    if (!s.ok()) {
      ++counters_.db_errors;
      backoff_ = retrying_ ? std::min(backoff_ * 2, kMaxBackoff) : kFirstBackoff;
      retrying_ = true;
      retry_at_ = now + backoff_;
      uint64_t suppressed = 0;
      if (Gate("db", suppressed)) {
        spdlog::error(
            "database refused a batch ({} records, {} inventory entries): {}; keeping it, retrying "
            "in {} ms, ingest paused (producers hold what follows){}",
            batch_records_.size(), batch_inventory_.size(), s.ToString(), backoff_.count(),
            HeldBackNote(suppressed));
      }
      return false;
    }
    if (retrying_) spdlog::info("database accepts writes again; ingest resumed");
    counters_.stored += batch_records_.size();
    counters_.inventory_stored += batch_inventory_.size();
  }
  counters_.health_events += batch_events_.size();
  LogEvents(batch_events_);
  const auto committed = Clock::now();
  if (db_ && !batch_records_.empty()) {
    const double oldest_ts =
        std::min_element(batch_records_.begin(), batch_records_.end(),
                         [](const Record& a, const Record& b) { return a.ts < b.ts; })
            ->ts;
    poll_to_stored_ms_max_ = std::max(poll_to_stored_ms_max_, (UnixNow() - oldest_ts) * 1000);
  }
  Publish();
  PublishAcks();
  const auto published = Clock::now();
  ++counters_.batches;
  ++timed_batches_;
  commit_ms_sum_ += Ms(committed - start);
  commit_ms_max_ = std::max(commit_ms_max_, Ms(committed - start));
  age_ms_max_ = std::max(age_ms_max_, Ms(published - batch_first_));

  batch_.clear();
  batch_records_.clear();
  batch_inventory_.clear();
  batch_events_.clear();
  batch_relayed_events_.clear();
  batch_candidates_.clear();
  batch_duplicates_.clear();
  settled_ = false;
  retrying_ = false;
  return true;
}

void Ingest::PublishOne(std::string_view topic, std::string_view body) {
  if (bus::TrySend(publish_, topic, body)) {
    ++counters_.published;
    return;
  }
  ++counters_.publish_failed;
  uint64_t suppressed = 0;
  if (Gate("publish", suppressed)) {
    spdlog::error("publish socket refused a {} message: not published{}", topic,
                  HeldBackNote(suppressed));
  }
}

void Ingest::Publish() {
  for (const bus::Message& m : batch_) PublishOne(m.topic, m.body);
  for (const HealthEvent& e : batch_events_) PublishOne(bus::kTopicEvent, EncodeHealthEvent(e));
}

void Ingest::PublishAcks() {
  std::unordered_map<std::string, std::vector<uint64_t>> records = std::move(batch_duplicates_);
  std::unordered_map<std::string, std::vector<uint64_t>> inventory;
  for (const Record& r : batch_records_) records[r.producer_id].push_back(r.seq);
  for (const InventoryEntry& e : batch_inventory_) inventory[e.producer_id].push_back(e.seq);
  bus::StoreAck ack;
  ack.store_id = store_id_;
  size_t numbers = 0;
  auto send = [&] {
    if (ack.acked.empty()) return;
    PublishOne(bus::kTopicAck, bus::EncodeStoreAck(ack));
    ++counters_.acks_published;
    ack.acked.clear();
    numbers = 0;
  };
  auto add = [&](std::string_view topic,
                 std::unordered_map<std::string, std::vector<uint64_t>>& by_producer) {
    for (auto& [producer, seqs] : by_producer) {
      std::vector<uint64_t> ranges;
      bus::AppendRanges(std::move(seqs), ranges);
      // Split so that no message passes bus::kMaxAckNumbers (ranges stay whole: even counts).
      for (size_t at = 0; at < ranges.size();) {
        if (numbers >= bus::kMaxAckNumbers) send();
        const size_t take = std::min(ranges.size() - at, bus::kMaxAckNumbers - numbers);
        ack.acked.push_back(
            {std::string(topic), producer,
             std::vector<uint64_t>(ranges.begin() + static_cast<ptrdiff_t>(at),
                                   ranges.begin() + static_cast<ptrdiff_t>(at + take))});
        numbers += take;
        at += take;
      }
    }
  };
  add(bus::kTopicRecord, records);
  add(bus::kTopicInventory, inventory);
  send();
}

void Ingest::LogEvents(const std::vector<HealthEvent>& events) {
  constexpr size_t kShown = 5;  // a farm-wide outage is one line, not thousands
  if (events.empty()) return;
  std::string shown;
  for (size_t i = 0; i < std::min(events.size(), kShown); ++i) {
    const HealthEvent& e = events[i];
    fmt::format_to(std::back_inserter(shown), "{}{} {} {}:{} ({})", i ? "; " : "", e.kind,
                   e.state, e.ip, e.port, SafeForLog(e.message));
  }
  spdlog::info("health: {} event(s): {}{}", events.size(), shown,
               events.size() > kShown ? "; ..." : "");
}

void Ingest::EmitEvents(std::vector<HealthEvent>& events) {
  if (events.empty()) return;
  if (db_) {
    if (Status s = db_->AppendEvents(events); !s.ok()) {
      ++counters_.db_errors;
      uint64_t suppressed = 0;
      if (Gate("db events", suppressed)) {
        spdlog::error("database refused {} health event(s): {}; keeping them, retrying{}",
                      events.size(), s.ToString(), HeldBackNote(suppressed));
      }
      return;
    }
  }
  counters_.health_events += events.size();
  LogEvents(events);
  for (const HealthEvent& e : events) PublishOne(bus::kTopicEvent, EncodeHealthEvent(e));
  events.clear();
}

}  // namespace asicmon
