// asicmon-alert: POSTs every health event the store publishes (health.h) to
// the operator's webhook (ALERT_WEBHOOK_URL) as one JSON object per request,
// with push's retry discipline: no answer, 408, 429 and 5xx are retried with
// exponential backoff and jitter (Retry-After honoured), other 4xx are given
// up on and logged. Each event carries an Idempotency-Key of its own, the same
// on every attempt, so a receiver can drop the copies a lost answer causes.
//
// Events wait in memory (bounded: past queue_max the oldest are dropped and
// counted); what is published while asicmon-alert is down stays readable in
// the store (GET /events) but is not sent.
//
// Thread-safety: one thread runs an AlertStage.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <zmq.hpp>

#include "asicmon/bus.h"
#include "asicmon/health.h"
#include "asicmon/shutdown.h"
#include "asicmon/http_sender.h"
#include "asicmon/retry.h"

namespace asicmon::alert {

struct AlertOptions {
  bus::Endpoints endpoints;
  http::HttpOptions http;  // url: ALERT_WEBHOOK_URL, api_key: ALERT_WEBHOOK_KEY, API_TIMEOUT
  http::RetryOptions retry;
  size_t queue_max = 10000;                 // ALERT_QUEUE_MAX
  std::chrono::seconds stats_interval{60};  // STATS_INTERVAL
};

struct AlertCounters {
  uint64_t events_in = 0;  // health events taken from the bus
  uint64_t sent = 0;       // accepted by the webhook (2xx)
  uint64_t retries = 0;    // attempts that failed and will be repeated
  uint64_t rejected = 0;   // given up: the webhook refused them (4xx)
  uint64_t dropped = 0;    // pushed out of a full queue
  uint64_t bad_messages = 0;
};

class AlertStage {
 public:
  static Result<std::unique_ptr<AlertStage>> Create(const AlertOptions& options);
  // Until `shutdown`; what is still queued then is logged as not sent.
  Status Run(const ShutdownSignal& shutdown);
  const AlertCounters& counters() const { return counters_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    std::string json;
    std::string key;  // Idempotency-Key
    int failures = 0;
  };

  explicit AlertStage(const AlertOptions& options);
  void Take();
  // One attempt at the oldest queued event.
  void SendOne();
  void LogStats();

  AlertOptions options_;
  zmq::context_t context_{1};
  zmq::socket_t sub_;
  std::unique_ptr<http::HttpSender> sender_;
  std::deque<Pending> queue_;
  Clock::time_point next_attempt_;
  AlertCounters counters_;
  Clock::time_point last_refusal_log_;
  std::mt19937_64 jitter_{std::random_device{}()};  // spreads retries of many alerters
};

}  // namespace asicmon::alert
