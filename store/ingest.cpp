#include "ingest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/log.h"
#include "asicmon/outbox.h"

namespace asicmon {
namespace {

using namespace std::chrono_literals;

// ingest (PULL, bound): messages queued per connected producer. Past it
// that producer's PUSH refuses sends (collect keeps them in its own bounded,
// counted backlog). Kept modest on purpose: a queue here is memory of this
// process (~5 MB per producer at ~500 bytes a record) and is lost if it
// crashes, while the producers' backlogs survive a store restart. 10,000 is
// still 0.2 s of this store's write rate, plenty to ride out a batch commit.
constexpr int kIngestRcvHwm = 10000;
// publish (PUB, bound): messages queued per subscriber. Past it PUB drops
// that subscriber's messages (it never blocks the store); subscribers see
// the drop as seq gaps and count it. 100,000 is minutes of a 10,000-miner
// farm, so a subscriber that pauses or reconnects loses nothing; it costs
// up to ~50 MB per stalled subscriber.
constexpr int kPublishSndHwm = 100000;
// A refused batch is retried after 100 ms, doubling up to 10 s.
constexpr std::chrono::milliseconds kFirstBackoff = 100ms;
constexpr std::chrono::milliseconds kMaxBackoff = 10s;
// Maintain's budget per call: a chunk (~0.1 s holding the write lock) of
// folding and one of dropping. With 1, a call spent on folding never
// reaches the drop phase and the pass reports `more` for ever.
constexpr int64_t kMaintainChunks = 2;
// Between the calls of one retention pass: lets other writers in.
constexpr std::chrono::milliseconds kMaintainPause = 20ms;
// How often silent miners are looked for (they send no record to react to).
constexpr std::chrono::seconds kHealthTick{1};
// On shutdown, intake ends once nothing arrived for this long.
constexpr std::chrono::milliseconds kDrainQuiet = 100ms;

double Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}


}  // namespace

Result<std::unique_ptr<Ingest>> Ingest::Create(const IngestOptions& options) {
  std::unique_ptr<Ingest> ingest(new Ingest(options));
  if (options.enable_db) {
    Result<std::unique_ptr<StoreDb>> db = StoreDb::Open(options.db);
    if (!db.ok()) return db.status();
    ingest->db_ = std::move(*db);
    // Start from what the store knows, so a restart neither fires again
    // what already fired nor misses a miner that fell silent meanwhile.
    Result<std::vector<ActiveCondition>> active = ingest->db_->ActiveConditions();
    if (!active.ok()) return active.status();
    LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    Result<std::vector<Record>> latest = ingest->db_->Latest(all);
    if (!latest.ok()) return latest.status();
    ingest->health_.Restore(*active, *latest);
    Result<std::vector<AuditEntry>> asleep = ingest->db_->AsleepByControl();
    if (!asleep.ok()) return asleep.status();
    ingest->sleep_.Restore(*asleep);
    // Resume each producer's seq where the database ends: what a killed
    // store had received but not committed shows as a gap, counted and
    // logged, when the producer's next record arrives, and is filled when
    // the producer resends it (late_stored).
    Result<std::vector<std::pair<std::string, uint64_t>>> last_seqs = ingest->db_->LastSeqs();
    if (!last_seqs.ok()) return last_seqs.status();
    for (const auto& [producer, seq] : *last_seqs) {
      ingest->record_seq_.Resume(producer, seq);
      ingest->record_high_[producer] = seq;  // what producers resend below it is checked
    }
  }
  // Before any bind: a Curve socket bound without its ZAP handler would let any key in.
  Result<std::unique_ptr<bus::ZapHandler>> zap =
      bus::StartZapHandler(ingest->context_, options.endpoints.curve);
  if (!zap.ok()) return zap.status();
  ingest->zap_ = std::move(*zap);
  bus::SocketOptions in_options;
  in_options.rcvhwm = kIngestRcvHwm;
  in_options.curve = &options.endpoints.curve;
  in_options.zap = ingest->zap_.get();
  Result<zmq::socket_t> in =
      bus::Bind(ingest->context_, zmq::socket_type::pull, options.endpoints.ingest, in_options);
  if (!in.ok()) return in.status();
  ingest->ingest_ = std::move(*in);

  bus::SocketOptions out_options;
  out_options.sndhwm = kPublishSndHwm;
  out_options.curve = &options.endpoints.curve;
  out_options.zap = ingest->zap_.get();
  Result<zmq::socket_t> out =
      bus::Bind(ingest->context_, zmq::socket_type::pub, options.endpoints.publish, out_options);
  if (!out.ok()) return out.status();
  ingest->publish_ = std::move(*out);
  return ingest;
}

Ingest::Ingest(const IngestOptions& options)
    : options_(options),
      context_(1),
      store_id_(fmt::format("{}-{:.6f}", producer_id_, UnixNow())),
      health_(options.health) {
  batch_.reserve(options_.batch_max);
  batch_records_.reserve(options_.batch_max);
}

bool Ingest::Gate(const std::string& kind, uint64_t& suppressed) {
  return gates_[kind].Allow(suppressed);
}

void Ingest::CountBad(const std::string& kind, const std::string& why) {
  ++counters_.bad_messages;
  uint64_t suppressed = 0;
  if (Gate("bad " + kind, suppressed)) {
    spdlog::warn("bad message on ingest ({}), skipped: {}{}", kind, SafeForLog(why),
                 HeldBackNote(suppressed));
  }
}

void Ingest::ObserveSeq(bus::SeqTracker& tracker, std::string_view topic,
                        const std::string& producer, uint64_t seq) {
  const uint64_t missed = tracker.Observe(producer, seq);
  if (missed == 0) return;
  counters_.seq_gaps += missed;
  uint64_t suppressed = 0;
  if (Gate("gap", suppressed)) {
    spdlog::warn("seq gap: {} {} messages of producer {} never reached ingest (seq {}..{}){}",
                 missed, topic, SafeForLog(producer), seq - missed, seq - 1,
                 HeldBackNote(suppressed));
  }
}

void Ingest::Accept(bus::Message&& message) {
  if (message.topic == bus::kTopicRecord) {
    Result<Record> record = DecodeRecord(message.body);
    if (!record.ok()) return CountBad("record", record.status().message());
    // A ts the database refuses (SQLite stores NaN as NULL, which the schema
    // refuses) would fail the whole batch on every retry.
    if (!StorableTs(record->ts)) return CountBad("record", "ts is not a time in years 1-9999");
    ++counters_.records_in;
    ObserveSeq(record_seq_, message.topic, record->producer_id, record->seq);
    uint64_t& high = record_high_[record->producer_id];
    if (record->seq <= high && high - record->seq < bus::kResendWindow) {
      batch_candidates_.push_back(batch_records_.size());
    }
    high = std::max(high, record->seq);
    if (sleep_.Mark(*record)) {
      // Subscribers get the record as stored.
      ++counters_.marked_sleeping;
      message.body.clear();
      EncodeRecord(*record, message.body);
    }
    batch_records_.push_back(std::move(*record));
  } else if (message.topic == bus::kTopicInventory) {
    Result<InventoryEntry> entry = DecodeInventory(message.body);
    if (!entry.ok()) return CountBad("inventory", entry.status().message());
    if (!std::isfinite(entry->ts)) return CountBad("inventory", "ts is not a finite number");
    ++counters_.inventory_in;
    ObserveSeq(inventory_seq_, message.topic, entry->producer_id, entry->seq);
    batch_inventory_.push_back(std::move(*entry));
  } else if (message.topic == bus::kTopicEvent) {
    ++counters_.events_in;  // relayed as they are
    // Health events other stages make (control's remediation_failed) are
    // stored with the store's own, so /events and a restart see them.
    Result<std::optional<HealthEvent>> health = DecodeHealthEvent(message.body);
    if (!health.ok()) return CountBad("event", health.status().message());
    // Control's sleep and wake, announced and done, say which miners sleep
    // (or are going to sleep, or waking) on purpose.
    Result<std::optional<SleepCommand>> command = DecodeSleepCommand(message.body);
    if (!command.ok()) return CountBad("event", command.status().message());
    if (health->has_value()) batch_relayed_events_.push_back(std::move(**health));
    if (*command) sleep_.Apply(**command);
  } else {
    return CountBad("topic", "topic '" + message.topic + "' does not belong on ingest");
  }
  if (batch_.empty()) batch_first_ = Clock::now();
  batch_.push_back(std::move(message));
}

Result<size_t> Ingest::Take() {
  // Bounded by what was received, not by what was kept, so a flood of
  // garbage cannot hold the loop.
  const size_t room = options_.batch_max - std::min(batch_.size(), options_.batch_max);
  size_t taken = 0;
  while (taken < room) {
    Result<std::optional<bus::Message>> message = bus::TryReceive(ingest_);
    if (!message.ok()) {
      if (message.status().code() != Status::Code::kParseError) return message.status();
      ++taken;
      CountBad("framing", message.status().message());
      continue;
    }
    if (!message->has_value()) break;
    ++taken;
    Accept(std::move(**message));
  }
  return taken;
}

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
  if (!deduplicated_) {
    s = DropDuplicates();
    deduplicated_ = s.ok();
  }
  // Once per batch: a retried batch keeps the events it made the first time.
  if (s.ok() && !events_made_) {
    for (const Record& r : batch_records_) health_.Observe(r, batch_events_);
    events_made_ = true;
  }
  if (db_) {
    if (s.ok() && !records_committed_) {
      s = db_->WriteBatch(batch_records_);
      records_committed_ = s.ok();
    }
    if (s.ok() && !inventory_committed_) {
      s = db_->UpsertInventory(batch_inventory_);
      inventory_committed_ = s.ok();
    }
    if (s.ok() && !events_committed_) {
      if (batch_relayed_events_.empty()) {
        s = db_->AppendEvents(batch_events_);
      } else {
        std::vector<HealthEvent> all = batch_events_;
        all.insert(all.end(), batch_relayed_events_.begin(), batch_relayed_events_.end());
        s = db_->AppendEvents(all);
      }
      events_committed_ = s.ok();
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
            records_committed_ ? 0 : batch_records_.size(), batch_inventory_.size(), s.ToString(),
            backoff_.count(), HeldBackNote(suppressed));
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
  deduplicated_ = false;
  records_committed_ = false;
  inventory_committed_ = false;
  events_made_ = false;
  events_committed_ = false;
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

void Ingest::MaybeMaintain(Clock::time_point now) {
  if (!db_ || retrying_ || now < next_maintain_) return;
  if (!maintain_more_) pass_start_ = now;
  Result<MaintainStats> stats = db_->Maintain(UnixNow(), kMaintainChunks);
  if (!stats.ok()) {
    ++counters_.db_errors;
    maintain_more_ = false;
    maintain_folded_ = maintain_dropped_ = 0;
    next_maintain_ = pass_start_ + options_.maintain_interval;
    uint64_t suppressed = 0;
    if (Gate("maintain", suppressed)) {
      spdlog::error("retention pass failed, next one in {} s: {}{}",
                    options_.maintain_interval.count(), stats.status().ToString(),
                    HeldBackNote(suppressed));
    }
    return;
  }
  maintain_more_ = stats->more;
  maintain_folded_ += stats->rows_folded;
  maintain_dropped_ += stats->hourly_rows_dropped;
  if (maintain_more_) {
    next_maintain_ = Clock::now() + kMaintainPause;
    return;
  }
  next_maintain_ = pass_start_ + options_.maintain_interval;
  if (maintain_folded_ > 0 || maintain_dropped_ > 0) {
    spdlog::info("retention: folded {} raw rows into hourly aggregates, dropped {} aggregates",
                 maintain_folded_, maintain_dropped_);
    maintain_folded_ = maintain_dropped_ = 0;
  }
}

void Ingest::LogStats(Clock::time_point now) {
  const double seconds = std::chrono::duration<double>(now - last_stats_).count();
  const double rate =
      seconds > 0 ? static_cast<double>(counters_.records_in - records_in_at_last_stats_) / seconds
                  : 0;
  const IngestCounters& c = counters_;
  const bus::StageStats stats{
      "store",
      producer_id_,
      UnixNow(),
      {{"records_in", c.records_in},
       {"records_in_per_s", std::round(rate)},
       {"inventory_in", c.inventory_in},
       {"events_in", c.events_in},
       {"bad_messages", c.bad_messages},
       {"seq_gaps", c.seq_gaps},
       {"producers", record_seq_.producers() + inventory_seq_.producers()},
       {"stored", c.stored},
       {"inventory_stored", c.inventory_stored},
       {"published", c.published},
       {"publish_failed", c.publish_failed},
       {"db_errors", c.db_errors},
       {"batches", c.batches},
       {"health_events", c.health_events},
       {"marked_sleeping", c.marked_sleeping},
       {"asleep_by_control", sleep_.asleep()},
       {"sleep_transitioning", sleep_.transitioning()},
       {"sleep_pending_expired", sleep_.expired()},
       {"duplicates_dropped", c.duplicates_dropped},
       {"late_stored", c.late_stored},
       {"acks_published", c.acks_published},
       {"batch_commit_ms_avg",
        timed_batches_ > 0 ? commit_ms_sum_ / static_cast<double>(timed_batches_) : 0.0},
       {"batch_commit_ms_max", commit_ms_max_},
       {"batch_age_ms_max", age_ms_max_},
       {"poll_to_stored_ms_max", std::round(poll_to_stored_ms_max_)},
       {"pending", batch_.size()},
       {"retrying", retrying_ ? 1 : 0},
       {"curve_rejected", zap_ ? zap_->rejected() : 0}}};
  spdlog::info("stats {}", stats.ToLogFields());
  // Straight to subscribers: the store is the bus's hub, not its own producer.
  bus::TrySendStageStats(publish_, stats);
  commit_ms_sum_ = commit_ms_max_ = age_ms_max_ = poll_to_stored_ms_max_ = 0;
  timed_batches_ = 0;
  records_in_at_last_stats_ = counters_.records_in;
  last_stats_ = now;
}

Status Ingest::Run(const ShutdownSignal& shutdown) {
  if (db_) {
    spdlog::info("pulling from {}, writing {}, publishing on {}", options_.endpoints.ingest,
                 db_->database(), options_.endpoints.publish);
  } else {
    spdlog::warn(
        "ENABLE_DB=false, relay only: nothing is stored, no database opened; "
        "pulling from {}, publishing on {}",
        options_.endpoints.ingest, options_.endpoints.publish);
  }
  last_stats_ = Clock::now();
  auto next_stats = last_stats_ + options_.stats_interval;
  next_maintain_ = last_stats_;  // catch up on retention right away after downtime
  Status failure;
  while (!shutdown.requested()) {
    auto now = Clock::now();
    const bool take = !retrying_ && batch_.size() < options_.batch_max;
    auto wake = next_stats;
    if (!batch_.empty()) {
      wake = std::min(wake, retrying_ ? retry_at_ : batch_first_ + options_.batch_wait);
    }
    if (db_ && !retrying_) wake = std::min(wake, next_maintain_);
    const auto timeout =
        std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration(0)));
    std::vector<zmq::pollitem_t> items = {
        {nullptr, shutdown.fd(), ZMQ_POLLIN, 0},
        {ingest_.handle(), 0, static_cast<short>(take ? ZMQ_POLLIN : 0), 0},
    };
    try {
      zmq::poll(items, timeout);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        failure = Status::IoError(std::string("poll: ") + e.what());
        break;
      }
    }
    if (take) {
      Result<size_t> taken = Take();
      if (!taken.ok()) {
        failure = taken.status();
        break;
      }
    }
    now = Clock::now();
    if (FlushDue(now)) Flush(now);
    if (now >= next_health_tick_ && !retrying_) {
      health_.Tick(UnixNow(), silence_events_);
      EmitEvents(silence_events_);
      next_health_tick_ = now + kHealthTick;
    }
    MaybeMaintain(Clock::now());
    if (now >= next_stats) {
      LogStats(now);
      next_stats = now + options_.stats_interval;
    }
  }
  Status drained = Drain(shutdown);
  if (failure.ok()) return drained;
  // main logs the failure returned; what the drain lost is not returned with it.
  if (!drained.ok()) spdlog::error("{}", drained.message());
  return failure;
}

Status Ingest::Drain(const ShutdownSignal& shutdown) {
  spdlog::info("shutting down (signal {}): storing and publishing what producers already sent",
               shutdown.signal_number());
  const auto give_up = Clock::now() + options_.shutdown_grace;
  bool quiet = false;
  while (Clock::now() < give_up) {
    if (retrying_) {
      // Still refused: one more attempt per backoff step until the grace ends.
      if (!Flush(Clock::now())) {
        std::this_thread::sleep_for(
            std::min<Clock::duration>(kFirstBackoff, give_up - Clock::now()));
      }
      continue;
    }
    if (quiet && batch_.empty()) break;
    // What producers sent just before the signal may still be on its way
    // through zmq's I/O thread: done only once nothing came for a while.
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(
        std::min<Clock::duration>(kDrainQuiet, give_up - Clock::now()));
    zmq::pollitem_t item = {ingest_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, wait);
    } catch (const zmq::error_t&) {
      // EINTR (another signal): go round.
    }
    Result<size_t> taken = Take();
    if (!taken.ok()) {
      spdlog::error("{}", taken.status().ToString());
      break;
    }
    quiet = *taken == 0;
    if (!batch_.empty() && (quiet || batch_.size() >= options_.batch_max)) Flush(Clock::now());
  }
  if (!batch_.empty() && !retrying_) Flush(Clock::now());
  // Stop intake: from here on producers keep what they send in their own queues.
  ingest_.close();
  if (!quiet && !retrying_) {
    spdlog::warn(
        "intake stopped after {} ms with producers still sending: what reached this "
        "socket since is lost with it",
        options_.shutdown_grace.count());
  }
  Status status;
  if (!batch_.empty()) {
    status = Status::Unavailable(std::to_string(batch_.size()) + " messages (" +
                                 std::to_string(batch_records_.size()) + " records, " +
                                 std::to_string(batch_inventory_.size()) +
                                 " inventory entries) could not be stored before exit: lost");
  }
  LogStats(Clock::now());
  publish_.close();  // waits up to its linger for subscribers to take what is queued
  db_.reset();
  return status;
}

}  // namespace asicmon
