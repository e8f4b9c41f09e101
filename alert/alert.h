// asicmon-alert: takes every health event the store publishes (health.h)
// and hands it to each destination (destination.h): the operator's webhooks
// in their formats (generic JSON, Slack, Telegram, PagerDuty), each with its
// own minimum severity, grouping of bursts, quiet hours, queue and retry, on
// a thread of its own so that one slow receiver never holds the others.
//
// Events wait in memory (bounded per destination: past queue_max the oldest
// are dropped and counted); what is published while asicmon-alert is down
// stays readable in the store (GET /events) but is not sent.
//
// Thread-safety: one thread runs an AlertStage; its destinations run their own.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/shutdown.h"
#include "destination.h"
#include "destination_config.h"

namespace asicmon::alert {

struct AlertOptions {
  bus::Endpoints endpoints;
  std::vector<DestinationConfig> destinations;  // at least one
  DestinationOptions destination;               // timeout, CA, retry, grouping, queue_max for each
  std::chrono::seconds stats_interval{60};      // STATS_INTERVAL
};

struct AlertCounters {
  uint64_t events_in = 0;  // health events taken from the bus
  uint64_t bad_messages = 0;
};

class AlertStage {
 public:
  static Result<std::unique_ptr<AlertStage>> Create(const AlertOptions& options);
  // Until `shutdown`; what is still queued then is logged as not sent.
  Status Run(const ShutdownSignal& shutdown);
  const AlertCounters& counters() const { return counters_; }

 private:
  explicit AlertStage(const AlertOptions& options);
  void Take();
  // One line: the totals, then each destination's counters as <name>.<counter>=.
  void LogStats();

  AlertOptions options_;
  zmq::context_t context_{1};
  zmq::socket_t sub_;
  std::vector<std::unique_ptr<Destination>> destinations_;
  AlertCounters counters_;
};

}  // namespace asicmon::alert
