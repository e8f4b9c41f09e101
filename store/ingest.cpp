#include "ingest.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include <spdlog/spdlog.h>

#include "asicmon/clock.h"
#include "asicmon/events.h"
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



}  // namespace

Result<std::unique_ptr<Ingest>> Ingest::Create(const IngestOptions& options) {
  std::unique_ptr<StoreDb> db;
  if (options.enable_db) {
    Result<std::unique_ptr<StoreDb>> opened = StoreDb::Open(options.db);
    if (!opened.ok()) return opened.status();
    db = std::move(*opened);
  }
  return Create(options, std::move(db));
}

Result<std::unique_ptr<Ingest>> Ingest::Create(const IngestOptions& options,
                                               std::unique_ptr<StoreDb> db) {
  std::unique_ptr<Ingest> ingest(new Ingest(options));
  if (db) {
    ingest->db_ = std::move(db);
    // Start from what the store knows, so a restart neither fires again
    // what already fired nor misses a miner that fell silent meanwhile.
    Result<std::vector<ActiveCondition>> active = ingest->db_->ActiveConditions();
    if (!active.ok()) return active.status();
    LatestFilter all;
    all.limit = std::numeric_limits<size_t>::max();
    Result<std::vector<Record>> latest = ingest->db_->Latest(all);
    if (!latest.ok()) return latest.status();
    ingest->health_.Restore(*active, *latest);
    Result<std::vector<AuditEntry>> held = ingest->db_->HeldByControl();
    if (!held.ok()) return held.status();
    ingest->sleep_.Restore(*held);
    std::vector<std::string> reduced;
    for (const AuditEntry& e : *held) {
      if (e.action == "power" && PowerDetailReduces(e.detail)) reduced.push_back(e.ip);
    }
    ingest->health_.RestorePowerHolds(reduced);
    Result<std::vector<InventoryRow>> inventory = ingest->db_->Inventory();
    if (!inventory.ok()) return inventory.status();
    ingest->identities_.Restore(*inventory);
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
      health_(options.health),
      next_maintain_(Clock::now()),  // catch up on retention right away after downtime
      last_stats_(next_maintain_),
      next_stats_(last_stats_ + options_.stats_interval) {
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
    const bool marked = sleep_.Mark(*record);
    if (marked) ++counters_.marked_sleeping;
    if (identities_.Stamp(*record) || marked) {
      // Subscribers get the record as stored.
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
    identities_.Apply(*entry);
    batch_inventory_.push_back(std::move(*entry));
  } else if (message.topic == bus::kTopicEvent) {
    ++counters_.events_in;  // relayed as they are
    Result<Event> event = DecodeEvent(message.body);
    if (!event.ok()) return CountBad("event", event.status().message());
    if (event->kind == EventKind::kHealth) {
      // Health events other stages make (control's remediation_failed) are
      // stored with the store's own, so /events and a restart see them.
      Result<HealthEvent> health = HealthEventFromJson(event->body);
      if (!health.ok()) return CountBad("event", health.status().message());
      batch_relayed_events_.push_back(std::move(*health));
    } else if (event->kind == EventKind::kControl) {
      // Control's sleep and wake, announced and done, say which miners sleep
      // (or are going to sleep, or waking) on purpose.
      Result<std::optional<SleepCommand>> command = SleepCommandFromJson(event->body);
      if (!command.ok()) return CountBad("event", command.status().message());
      if (*command) {
        sleep_.Apply(**command);
        if ((*command)->power) {
          health_.ObservePowerChange((*command)->ip, PowerHold(**command),
                                     (*command)->ts + (*command)->timeout_s);
        }
      }
    }
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
       {"power_held_by_control", health_.power_held()},
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
  Status failure;
  while (!shutdown.requested()) {
    failure = Turn(shutdown.fd(), std::chrono::milliseconds::max());
    if (!failure.ok()) break;
  }
  Status drained = Drain(shutdown);
  if (failure.ok()) return drained;
  // main logs the failure returned; what the drain lost is not returned with it.
  if (!drained.ok()) spdlog::error("{}", drained.message());
  return failure;
}

Status Ingest::Turn(int wake_fd, std::chrono::milliseconds max_wait) {
  auto now = Clock::now();
  const bool take = !retrying_ && batch_.size() < options_.batch_max;
  auto wake = next_stats_;
  if (!batch_.empty()) {
    wake = std::min(wake, retrying_ ? retry_at_ : batch_first_ + options_.batch_wait);
  }
  if (db_ && !retrying_) wake = std::min(wake, next_maintain_);
  const auto timeout = std::min(
      max_wait,
      std::chrono::ceil<std::chrono::milliseconds>(std::max(wake - now, Clock::duration(0))));
  std::vector<zmq::pollitem_t> items = {
      {ingest_.handle(), 0, static_cast<short>(take ? ZMQ_POLLIN : 0), 0},
  };
  if (wake_fd >= 0) items.push_back({nullptr, wake_fd, ZMQ_POLLIN, 0});
  try {
    zmq::poll(items, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) return Status::IoError(std::string("poll: ") + e.what());
  }
  if (take) {
    Result<size_t> taken = Take();
    if (!taken.ok()) return taken.status();
  }
  now = Clock::now();
  if (FlushDue(now)) Flush(now);
  if (now >= next_health_tick_ && !retrying_) {
    health_.Tick(UnixNow(), silence_events_);
    EmitEvents(silence_events_);
    next_health_tick_ = now + kHealthTick;
  }
  MaybeMaintain(Clock::now());
  if (now >= next_stats_) {
    LogStats(now);
    next_stats_ = now + options_.stats_interval;
  }
  return Status::Ok();
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
