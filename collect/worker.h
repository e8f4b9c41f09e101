// The collect worker: pulls poll jobs from discover, keeps hundreds of
// exchanges in flight on one thread, and pushes one record per job to store.
//
// Every job yields a record, ok or not, by its deadline. A record waits in an
// Outbox (outbox.h) until store acknowledges it on its publish socket: while
// store cannot take it yet (its ingest socket at the high-water mark, or
// store down), and after it was sent, so that what a killed store had not
// committed is sent again. Past the bound the oldest is dropped and counted.
//
// Thread-safety: Run() owns the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/miner_api.h"
#include "asicmon/poller.h"
#include "asicmon/outbox.h"
#include "asicmon/shutdown.h"

namespace asicmon {

struct WorkerOptions {
  bus::Endpoints endpoints;
  ExchangeOptions exchange;
  // Where a job with no family (or a miner that stopped answering as its
  // family) is fingerprinted (DISCOVER_PORTS).
  PollerOptions poller;
  // Exchanges open at once; each holds a file descriptor. Default: 512.
  size_t max_in_flight = 512;
  // Records kept until store acknowledges them (outbox.h). Default: 100,000
  // (~30 MB).
  size_t backlog_max = 100000;
  // An unacknowledged record is sent again after this long, when store
  // acknowledges later ones. Default: 10 s.
  std::chrono::milliseconds resend_after{10000};
  // Seconds between counter lines in the log. Default: 60.
  std::chrono::seconds stats_interval{60};
  std::string producer_id;
};

struct WorkerCounters {
  uint64_t jobs_received = 0;
  uint64_t jobs_expired = 0;    // still queued after their interval ended: skipped
  uint64_t bad_messages = 0;    // undecodable bus input
  uint64_t polls[kMinerStatusCount] = {};
  uint64_t bad_acks = 0;         // undecodable acknowledgements from store
};

class CollectWorker {
 public:
  static Result<std::unique_ptr<CollectWorker>> Create(const WorkerOptions& options);

  // Runs until `shutdown` fires; then stops taking jobs, finishes the
  // exchanges in flight, hands their records on (bounded by linger) and returns.
  Status Run(const ShutdownSignal& shutdown);
  // One turn of Run's loop: waits for jobs, replies and acks (at most until
  // the next exchange deadline, and 500 ms; a readable `wake_fd` ends the
  // wait, -1 for none), starts jobs, hands records on, logs stats when due.
  // Error when the sockets fail.
  Status Turn(int wake_fd);
  const WorkerCounters& counters() const { return counters_; }
  const bus::OutboxCounters& outbox_counters() const { return outbox_.counters(); }
  // Records kept until store acknowledges them.
  size_t kept() const { return outbox_.kept(); }
  // Where the sockets live: an inproc:// endpoint is reached from this
  // context only (tests).
  zmq::context_t& context() { return context_; }

 private:
  CollectWorker(const WorkerOptions& options, std::unique_ptr<MinerClient> client);
  void TakeJobs();
  void OnPolled(Record&& record);
  void TakeAcks();
  void LogCounters();

  WorkerOptions options_;
  std::unique_ptr<MinerClient> client_;
  zmq::context_t context_;
  zmq::socket_t jobs_;
  zmq::socket_t ingest_;
  zmq::socket_t acks_;
  bus::Sequencer sequencer_;
  bus::Outbox outbox_;  // encoded records store has not acknowledged yet
  Poller poller_;  // polls through client_
  WorkerCounters counters_;
  bool dropping_logged_ = false;  // one line per episode of a full outbox
  std::chrono::steady_clock::time_point next_stats_;
};

}  // namespace asicmon
