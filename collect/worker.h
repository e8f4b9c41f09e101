// The collect worker: pulls poll jobs from discover, keeps hundreds of
// exchanges in flight on one thread, and pushes one record per job to store.
//
// Every job yields a record, ok or not, by its deadline. A record that store
// cannot take yet (its ingest socket at the high-water mark, or store down)
// waits in a bounded backlog; past the bound the oldest is dropped and counted.
//
// Thread-safety: Run() owns the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/miner_api.h"
#include "asicmon/shutdown.h"

namespace asicmon {

struct WorkerOptions {
  bus::Endpoints endpoints;
  ExchangeOptions exchange;
  // Exchanges open at once; each holds a file descriptor. Default: 512.
  size_t max_in_flight = 512;
  // Records kept while store cannot take them. Default: 100,000 (~30 MB).
  size_t backlog_max = 100000;
  // Seconds between counter lines in the log. Default: 60.
  std::chrono::seconds stats_interval{60};
  std::string producer_id;
};

struct WorkerCounters {
  uint64_t jobs_received = 0;
  uint64_t jobs_expired = 0;    // still queued after their interval ended: skipped
  uint64_t bad_messages = 0;    // undecodable bus input
  uint64_t polls[kMinerStatusCount] = {};
  uint64_t records_sent = 0;
  uint64_t records_dropped = 0;  // backlog overflow
};

class CollectWorker {
 public:
  static Result<std::unique_ptr<CollectWorker>> Create(const WorkerOptions& options);

  // Runs until `shutdown` fires; then stops taking jobs, finishes the
  // exchanges in flight, hands their records on (bounded by linger) and returns.
  Status Run(const ShutdownSignal& shutdown);
  const WorkerCounters& counters() const { return counters_; }

 private:
  CollectWorker(const WorkerOptions& options, std::unique_ptr<MinerClient> client);
  void TakeJobs();
  void OnPolled(Record&& record);
  void FlushBacklog();
  void LogCounters();

  WorkerOptions options_;
  std::unique_ptr<MinerClient> client_;
  zmq::context_t context_;
  zmq::socket_t jobs_;
  zmq::socket_t ingest_;
  bus::Sequencer sequencer_;
  std::deque<std::string> backlog_;  // encoded records store has not taken yet
  std::string request_;
  WorkerCounters counters_;
  bool dropping_logged_ = false;
};

}  // namespace asicmon
