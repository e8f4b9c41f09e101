// control's thread on the store's publish socket: records and inventory
// feed the miners' gauges and /metrics counters (with the gaps in each
// producer's sequence), health events feed the remediation rules, stage
// statistics feed /metrics. Between messages it ticks the rules, samples the
// farm's totals for its history, and now and then rebuilds the gauges from
// the store to heal what the bus missed.
//
// Thread-safety: Run is the thread's body; what it feeds is shared with the
// request threads, each behind its own lock.
#pragma once

#include <atomic>

#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/status.h"
#include "db_pool.h"
#include "farm.h"
#include "metrics.h"
#include "remediation.h"

namespace asicmon::control {

// The gauges from the store's state of every miner: at start, then now and
// then, to heal what the bus missed (a restart of store, a gap).
Status ResyncGauges(DbPool& db, MinerGauges& gauges);

class BusWatch {
 public:
  BusWatch(const bus::Endpoints& endpoints, DbPool& db, Metrics& metrics, MinerGauges& gauges,
           Remediation& remediation, FarmHistory& farm_history)
      : endpoints_(endpoints),
        db_(db),
        metrics_(metrics),
        gauges_(gauges),
        remediation_(remediation),
        farm_history_(farm_history) {}

  // Watches until `stopping` (checked every 200 ms) or `context` ends. A bus
  // it cannot connect to is logged and leaves the counters off.
  void Run(zmq::context_t& context, const std::atomic<bool>& stopping);

 private:
  // Decodes one message and hands it to what it feeds; a message that does
  // not decode is counted as bad.
  void Observe(const bus::Message& msg);

  const bus::Endpoints& endpoints_;
  DbPool& db_;
  Metrics& metrics_;
  MinerGauges& gauges_;
  Remediation& remediation_;
  FarmHistory& farm_history_;
  bus::SeqTracker records_seq_;
  bus::SeqTracker inventory_seq_;
};

}  // namespace asicmon::control
