// discover's long-running mode: sweeps the targets (at start, then every
// sweep interval), owns the inventory and publishes each change of it to
// store, hands one poll job per known miner per interval to the collect
// workers, and watches the records store publishes to notice jobs that never
// came back.
//
// Sockets (see asicmon/bus.h):
//   jobs     PUSH, bound     -> collect workers ("job", PollJob)
//   ingest   PUSH, connected -> store ("inventory", InventoryEntry)
//   publish  SUB, connected  <- store ("record", to match jobs with records;
//                                     "ack", what it committed of the inventory)
//
// Thread-safety: Run() owns the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/outbox.h"
#include "asicmon/shutdown.h"
#include "inventory.h"
#include "scanner.h"
#include "scheduler.h"

namespace asicmon::discover {

struct ServiceOptions {
  bus::Endpoints endpoints;
  ScannerOptions scanner;
  std::vector<uint32_t> addresses;  // the expanded targets (sorted, as ExpandTargets gives them)
  // SCAN_INTERVAL: one poll job per miner per interval. Default: 30 s.
  std::chrono::milliseconds scan_interval{30000};
  // SWEEP_INTERVAL: time from one sweep's start to the next's. Default: 300 s.
  std::chrono::milliseconds sweep_interval{300000};
  // Consecutive sweeps a miner may miss before it is gone. Default: 3.
  int gone_after_sweeps = 3;
  // Inventory entries kept until store acknowledges them (outbox.h).
  // Default: 10,000.
  size_t backlog_max = 10000;
  std::chrono::seconds stats_interval{60};
  std::string producer_id;
  // DISCOVER_STATE: where the known miners are kept across restarts
  // (known_state.h); empty keeps none. A file there that cannot be read as
  // one is left alone, and none is kept.
  std::string state_path;
};

struct ServiceCounters {
  uint64_t sweeps = 0;  // finished
  uint64_t found = 0;   // inventory changes published, by kind
  uint64_t changed = 0;
  uint64_t gone = 0;
  uint64_t moved = 0;
  uint64_t foreign = 0;  // probes that met another protocol
  uint64_t shared_macs = 0;        // MACs two addresses answered with in one sweep
  uint64_t records = 0;            // records seen on publish
  uint64_t bad_messages = 0;       // undecodable bus input (acks included)
  uint64_t resumed = 0;            // miners restored from the state file at start
  uint64_t state_errors = 0;       // state file writes that failed
};

class DiscoverService {
 public:
  static Result<std::unique_ptr<DiscoverService>> Create(const ServiceOptions& options);

  // Runs until `shutdown` fires; then hands on pending inventory entries
  // (bounded) and returns.
  Status Run(const ShutdownSignal& shutdown);

 private:
  explicit DiscoverService(const ServiceOptions& options);
  void ResumeKnownMiners();
  void SaveKnownMiners();
  void StartSweep();
  void OnOutcome(ProbeOutcome&& outcome);
  void OnSweepDone();
  void Publish(InventoryEntry entry);
  void TakeAck(const bus::Message& message);
  bool SendJob(MinerKey key);
  void TakeRecords();
  void LogProgress();
  void LogCounters();

  ServiceOptions options_;
  std::unique_ptr<Scanner> scanner_;
  Inventory inventory_;
  Scheduler scheduler_;
  zmq::context_t context_;
  std::unique_ptr<bus::ZapHandler> zap_;  // with Curve keys; stops after the sockets close
  zmq::socket_t jobs_;
  zmq::socket_t ingest_;
  zmq::socket_t publish_;
  bus::Sequencer inventory_seq_;
  bus::Sequencer job_seq_;
  bus::SeqTracker record_seqs_;
  bus::Outbox outbox_;  // encoded entries store has not acknowledged yet
  bool dropping_logged_ = false;
  std::unordered_set<MinerKey> foreign_logged_;  // each foreign service logged once at info
  std::string job_body_;
  ServiceCounters counters_;
  std::chrono::steady_clock::time_point sweep_started_;
  std::string last_state_error_;  // each distinct failure logged once
};

}  // namespace asicmon::discover
