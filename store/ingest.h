// The store's ingest loop: pulls records, inventory entries and events from
// every producer, commits them to the store (SQLite or PostgreSQL) in batches,
// one transaction each, then republishes each message as it came (same
// topic, same bytes) on the publish socket, so a subscriber never sees a
// record that is not in the database. One exception:
// a record of a miner control put to sleep (sleep.h) that hashes nothing is
// marked sleeping, stored and published so.
//
// After each commit it publishes an acknowledgement (topic "ack", outbox.h)
// of the seqs it committed per producer; producers keep what they sent until
// they see it there, and send it again after a store restart. A record this
// store already has (same producer, seq and ts: a resend) is dropped,
// counted and acknowledged again, never stored or published twice. Relay
// only (no database), a resend is recognised within its batch only.
//
// Nothing is dropped without a count and a log line: undecodable input is
// bad_messages, records a producer sent that never arrived are seq_gaps, a
// batch the database refuses is kept and retried (ingest paused meanwhile,
// so the producers' queues hold what follows), and whatever is still
// unstored at exit is reported as lost.
//
// Thread-safety: Run() owns the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/log.h"
#include "asicmon/health.h"
#include "asicmon/record.h"
#include "asicmon/shutdown.h"
#include "identity.h"
#include "sleep.h"
#include "asicmon/store_db.h"

namespace asicmon {

struct IngestOptions {
  bus::Endpoints endpoints;
  // Write to the database; false relays only (no file is opened).
  bool enable_db = true;
  StoreOptions db;
  // A batch is written once it holds this many messages... Default: 2000.
  size_t batch_max = 2000;
  // ...or this long after its first message arrived. Default: 100 ms.
  std::chrono::milliseconds batch_wait{100};
  // How often retention (Maintain) starts a pass; a pass runs one chunk
  // between batches until done, so ingest never waits long. Default: 60 s.
  std::chrono::seconds maintain_interval{60};
  // Seconds between counter lines in the log. Default: 60.
  std::chrono::seconds stats_interval{60};
  // On shutdown, how long to keep draining what producers already queued
  // and retrying a refused batch before giving up on it. Default: 1.5 s.
  std::chrono::milliseconds shutdown_grace{1500};
  // The health rules applied to every record (health.h).
  HealthRules health;
};

struct IngestCounters {
  uint64_t records_in = 0;
  uint64_t inventory_in = 0;
  uint64_t events_in = 0;
  uint64_t bad_messages = 0;      // bad framing, wrong topic, undecodable body
  uint64_t seq_gaps = 0;          // messages producers sent that never arrived
  uint64_t stored = 0;            // records committed
  uint64_t inventory_stored = 0;  // inventory entries committed
  uint64_t published = 0;         // messages handed to the publish socket
  uint64_t publish_failed = 0;    // the socket refused one (only while closing)
  uint64_t db_errors = 0;         // failed writes (retried) and failed Maintain calls
  uint64_t batches = 0;
  uint64_t health_events = 0;     // events the health rules produced
  uint64_t marked_sleeping = 0;   // records marked asleep as control put their miner to sleep
  uint64_t duplicates_dropped = 0;  // records already stored (resent): dropped, acknowledged
  // Records stored that came after a higher seq of their producer: resent
  // after a store restart (they fill what seq_gaps counted), or a producer
  // restarted under the same PRODUCER_ID.
  uint64_t late_stored = 0;
  uint64_t acks_published = 0;    // ack messages handed to the publish socket
};

class Ingest {
 public:
  // Binds the sockets and opens the database (unless enable_db is false).
  static Result<std::unique_ptr<Ingest>> Create(const IngestOptions& options);
  // The same with `db` instead of opening options.db (null: relay only, as
  // enable_db false): tests give a fake.
  static Result<std::unique_ptr<Ingest>> Create(const IngestOptions& options,
                                                std::unique_ptr<StoreDb> db);

  // Runs until `shutdown` fires; then stops intake, stores and publishes
  // what it holds (bounded by shutdown_grace) and closes. Not OK when
  // messages were left unstored or the loop failed.
  Status Run(const ShutdownSignal& shutdown);
  // One turn of Run's loop: waits for input until the next thing falls due,
  // at most `max_wait` (a readable `wake_fd` ends the wait; -1 for none),
  // takes what arrived, writes and publishes a batch that is due, looks for
  // silent miners, runs retention and logs stats when due. Error when the
  // sockets fail.
  Status Turn(int wake_fd, std::chrono::milliseconds max_wait);
  const IngestCounters& counters() const { return counters_; }
  // Miners control holds at reduced power now (stats: power_held_by_control).
  size_t power_held() const { return health_.power_held(); }
  // Where the sockets live: an inproc:// endpoint is reached from this
  // context only (tests).
  zmq::context_t& context() { return context_; }

 private:
  using Clock = std::chrono::steady_clock;
  // A refused batch is retried after 100 ms, doubling up to 10 s.
  static constexpr std::chrono::milliseconds kFirstBackoff{100};
  static constexpr std::chrono::milliseconds kMaxBackoff{10000};

  explicit Ingest(const IngestOptions& options);
  // Takes up to batch_max - pending messages; returns how many arrived.
  Result<size_t> Take();
  void Accept(bus::Message&& message);
  // Counts and (rate limited) logs one undecodable message.
  void CountBad(const std::string& kind, const std::string& why);
  // Counts and logs the messages a producer sent that never arrived.
  void ObserveSeq(bus::SeqTracker& tracker, std::string_view topic, const std::string& producer,
                  uint64_t seq);
  bool FlushDue(Clock::time_point now) const;
  // Writes the batch in one transaction and publishes it. On a database
  // error keeps it, schedules a retry and returns false.
  bool Flush(Clock::time_point now);
  // Drops the batch's records this store already has (in the batch or the
  // database): resends. Error when the database cannot be read.
  Status DropDuplicates();
  void Publish();
  // Acknowledges the batch's records and inventory entries (and the
  // duplicates dropped) to their producers.
  void PublishAcks();
  void PublishOne(std::string_view topic, std::string_view body);
  // Stores and publishes `events` (those of silence, found between batches).
  void EmitEvents(std::vector<HealthEvent>& events);
  void LogEvents(const std::vector<HealthEvent>& events);
  // One retention chunk when a pass is due or unfinished.
  void MaybeMaintain(Clock::time_point now);
  void LogStats(Clock::time_point now);
  // The shutdown path: take what producers already queued, store and
  // publish it within shutdown_grace, close.
  Status Drain(const ShutdownSignal& shutdown);

  IngestOptions options_;
  zmq::context_t context_;
  std::unique_ptr<bus::ZapHandler> zap_;  // with Curve keys; stops after the sockets close
  zmq::socket_t ingest_;
  zmq::socket_t publish_;
  std::string producer_id_ = bus::DefaultProducerId("store");  // names its stats events
  // In every ack: differs after each start (a pid may come back), so
  // producers know their unacknowledged messages may be lost.
  std::string store_id_;
  std::unique_ptr<StoreDb> db_;

  // Taken and not yet published, in arrival order; the decoded records and
  // inventory entries of the same messages beside it.
  std::vector<bus::Message> batch_;
  std::vector<Record> batch_records_;
  std::vector<InventoryEntry> batch_inventory_;
  // Indices into batch_records_ of records that may be resends: at or below
  // the newest seq seen of their producer (within bus::kResendWindow).
  std::vector<size_t> batch_candidates_;
  // Seqs of duplicates dropped from this batch, per producer: acknowledged too.
  std::unordered_map<std::string, std::vector<uint64_t>> batch_duplicates_;
  // The newest record seq seen of each producer (from the database at start).
  std::unordered_map<std::string, uint64_t> record_high_;
  Clock::time_point batch_first_;
  // The batch's health events, made once, when its resends are dropped.
  std::vector<HealthEvent> batch_events_;
  std::vector<HealthEvent> batch_relayed_events_;  // from other stages, stored as they are
  // Resends dropped and health events made: a retry only commits again.
  bool settled_ = false;
  // Set while the batch is not committed yet (the database refused it):
  // ingest pauses until retry_at_.
  bool retrying_ = false;
  Clock::time_point retry_at_;
  std::chrono::milliseconds backoff_{0};

  HealthEngine health_;
  SleepRegistry sleep_;
  IdentityBook identities_;  // discover's identity of each address, stamped on records
  std::vector<HealthEvent> silence_events_;  // from Tick, not yet stored
  Clock::time_point next_health_tick_;

  bus::SeqTracker record_seq_;
  bus::SeqTracker inventory_seq_;

  // A retention pass runs in short calls until Maintain says it is done.
  Clock::time_point pass_start_;
  Clock::time_point next_maintain_;  // the next call
  bool maintain_more_ = false;

  int64_t maintain_folded_ = 0;  // rows of the current pass
  int64_t maintain_dropped_ = 0;

  // True when a warning of `kind` may be logged now (LogGate, one per
  // kind); `suppressed` says how many were held back before it.
  bool Gate(const std::string& kind, uint64_t& suppressed);
  std::unordered_map<std::string, LogGate> gates_;

  IngestCounters counters_;
  // Batch timing since the last stats line: commit time and age (first
  // message in -> published).
  double commit_ms_sum_ = 0;
  double commit_ms_max_ = 0;
  double age_ms_max_ = 0;
  // Poll -> stored: a record's ts (its poll) to its batch's commit, wall
  // clock; includes whatever held the record on the way (a store restart).
  double poll_to_stored_ms_max_ = 0;
  uint64_t timed_batches_ = 0;
  uint64_t records_in_at_last_stats_ = 0;
  Clock::time_point last_stats_;
  Clock::time_point next_stats_;
};

}  // namespace asicmon
