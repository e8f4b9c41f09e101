// asicmon-push's engine: takes records off store's publish socket, spools
// each to disk first, and a sender thread POSTs them from the spool to the
// operator's receiver in batches, in spool order, each batch once accepted.
//
//   bus (SUB "record") --> intake thread --> Spool (disk) --> sender thread --> HTTP receiver
//                              |  seq gap                          | 4xx
//                              v                                   v
//                  StoreDb::RecordsBySeq (backfill)      <spool>/dead-letter.jsonl
//
// Nothing is lost silently. Records PUB dropped for push, or published while
// push was down, show up as seq gaps per producer; with the store enabled they
// are fetched back from the database (store publishes only after commit, so
// what push missed is there), else counted. The per-producer seqs and the
// open gaps are saved in <spool>/producers.json (and rebuilt from the spool
// after a crash), so a restart finds what it missed meanwhile. Spool full:
// the oldest unsent records are deleted and counted as dropped. A batch the
// receiver rejects (4xx other than 408/429) goes to the dead-letter file with
// the answer and is not retried.
//
// Idempotency: each request carries "Idempotency-Key: <push id>:<first>-<last>"
// (spool seqs of the batch). The range is persisted before the request, so a
// retry, or a resend after a crash, carries the same key; a receiver that
// remembers keys drops the duplicate.
//
// Thread-safety: Run() owns the calling thread and starts the sender thread;
// counters() may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/log.h"
#include "asicmon/record.h"
#include "asicmon/shutdown.h"
#include "asicmon/store_db.h"
#include "format.h"
#include "asicmon/http_sender.h"
#include "asicmon/retry.h"
#include "spool.h"

namespace asicmon::push {

struct PushOptions {
  bus::Endpoints endpoints;
  http::HttpOptions http;
  Format format = Format::kJson;  // $PUSH_FORMAT
  // Records per request at most. Default: 500 ($PUSH_BATCH).
  size_t batch_max = 500;
  // A record waits at most this long for its batch to fill. Default: 1 s ($PUSH_FLUSH_MS).
  std::chrono::milliseconds flush_interval{1000};
  SpoolOptions spool;  // $PUSH_SPOOL_DIR, $PUSH_SPOOL_MAX_MB
  http::RetryOptions retry;  // $PUSH_RETRY_MAX
  // Fetch records missed on the bus back from the store's database; false
  // counts and logs them only. Default: true ($ENABLE_DB).
  bool backfill = true;
  StoreOptions db;  // $ASICMON_DB
  // Messages queued for push in its SUB socket; past it (with store's own
  // PUB mark) records are missed, then backfilled. Default: 10,000 (~5 MB).
  int bus_rcvhwm = 10000;
  std::chrono::seconds stats_interval{60};
  // On SIGTERM: how long to keep sending what is spooled. What is not
  // accepted by then stays in the spool for the next start. Default: 5 s.
  std::chrono::milliseconds shutdown_grace{5000};
};

// Counters since start, for the stats log line and control's /metrics.
struct PushCounters {
  std::atomic<uint64_t> received{0};          // records taken off the bus
  std::atomic<uint64_t> bad_messages{0};      // undecodable bus messages (skipped)
  std::atomic<uint64_t> spooled{0};           // records appended to the spool (received + backfilled)
  std::atomic<uint64_t> sent{0};              // records the receiver accepted (2xx)
  std::atomic<uint64_t> batches_sent{0};      // requests accepted
  std::atomic<uint64_t> retried{0};           // failed attempts, retried later
  std::atomic<uint64_t> dropped{0};           // unsent records deleted because the spool was full
  std::atomic<uint64_t> dead_lettered{0};     // records the receiver rejected (dead-letter file)
  std::atomic<uint64_t> bus_gaps{0};          // records missed on the bus
  std::atomic<uint64_t> backfilled{0};        // missed records fetched back from the store
  std::atomic<uint64_t> backfill_missing{0};  // missed records the store does not have either
  // Records that came on the bus after their gap was counted: resent to a
  // restarted store (outbox.h); no longer fetched back.
  std::atomic<uint64_t> late{0};
  std::atomic<uint64_t> spool_corrupt{0};     // records lost to damaged spool segments
  std::atomic<uint64_t> spool_errors{0};      // failed spool reads or writes
  std::atomic<uint64_t> spool_pending{0};     // gauge: records spooled, not yet accepted
  std::atomic<uint64_t> spool_bytes{0};       // gauge
};

class Push {
 public:
  // Opens the spool (rebuilding per-producer state), prepares the HTTP
  // handle and connects to the bus. InvalidArgument for bad options.
  static Result<std::unique_ptr<Push>> Create(const PushOptions& options);
  // The same, backfilling from `db` instead of opening options.db (tests).
  static Result<std::unique_ptr<Push>> Create(const PushOptions& options,
                                              std::unique_ptr<StoreDb> db);
  ~Push();

  // Runs until `shutdown` fires; then stops intake, sends what it can within
  // shutdown_grace, and leaves the rest in the spool.
  Status Run(const ShutdownSignal& shutdown);
  // One turn of Run's intake loop: waits for records until the next thing
  // falls due, at most `max_wait` (a readable `wake_fd` ends the wait; -1 for
  // none), spools what arrived, backfills gaps that are due, does
  // housekeeping and stats when due. Sends nothing: Run's sender thread does.
  // Error when the bus socket fails.
  Status Turn(int wake_fd, std::chrono::milliseconds max_wait);
  const PushCounters& counters() const { return counters_; }
  const std::string& producer_id() const { return spool_->producer_id(); }
  // Where the sockets live: an inproc:// endpoint is reached from this
  // context only (tests).
  zmq::context_t& context() { return context_; }

 private:
  using Clock = std::chrono::steady_clock;

  // A run of seqs of one producer missed on the bus, still to be backfilled.
  struct Gap {
    std::string producer;
    uint64_t first = 0;
    uint64_t last = 0;
    Clock::time_point due{};  // not fetched before: what is resent may still come
  };
  struct ProducerState {
    uint64_t last_seq = 0;
    double last_seen = 0;  // unix s, to forget producers silent for long
  };

  explicit Push(const PushOptions& options);
  Status LoadState();
  Status SaveState();
  // Feeds one live record's seq to the tracker; a gap is counted and, with
  // backfill, queued.
  void Observe(const std::string& producer, uint64_t seq, double now_unix, bool from_rebuild);
  // `seq` of `producer` is here after all: no longer part of its open gap.
  void CloseInGap(const std::string& producer, uint64_t seq);
  Status Take();
  void Append(uint8_t origin, std::string_view msgpack);
  void BackfillStep(Clock::time_point now);
  void Housekeeping();
  void LogStats(Clock::time_point now);
  void CountBad(const std::string& why);

  void SenderLoop();
  // Sends one batch until the receiver accepts or rejects it (true), or
  // shutdown's deadline comes first (false: it stays in the spool).
  bool Deliver(const SpoolBatch& batch, const std::string& body,
               const std::vector<Record>& records);
  void DeadLetter(const std::string& key, const http::HttpReply& reply,
                  const std::vector<Record>& records);
  // Waits until `until` or shutdown; false when shutdown's deadline comes first.
  bool SleepUntil(Clock::time_point until);

  const PushOptions options_;
  PushCounters counters_;
  std::unique_ptr<Spool> spool_;
  std::unique_ptr<http::HttpSender> http_;
  zmq::context_t context_{1};
  zmq::socket_t sub_;
  zmq::socket_t stats_out_;  // PUSH to ingest: this stage's counters as stats events

  // Intake thread only.
  std::unordered_map<std::string, ProducerState> producers_;
  bool restarted_ = false;  // state came from an earlier run: new producers are checked from seq 1
  std::deque<Gap> gaps_;
  std::unique_ptr<StoreDb> db_;
  Clock::time_point backfill_retry_at_{};
  bool state_dirty_ = false;
  uint64_t records_lost_to_spool_errors_ = 0;
  uint64_t spool_dropped_logged_ = 0;
  uint64_t spool_corrupt_logged_ = 0;
  uint64_t received_at_last_stats_ = 0;
  uint64_t sent_at_last_stats_ = 0;
  Clock::time_point last_stats_;
  Clock::time_point next_stats_;
  Clock::time_point next_housekeeping_;
  LogGate bad_log_;
  LogGate gap_log_;

  // Shared with the sender thread.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  Clock::time_point deadline_{};
  std::atomic<bool> abort_{false};  // ends a request in flight once the grace is over
  bool sender_done_ = false;
  std::thread sender_;

  // Sender thread only.
  std::mt19937_64 rng_{std::random_device{}()};  // retry jitter
  LogGate retry_log_;
  LogGate dead_letter_log_;
};

}  // namespace asicmon::push
