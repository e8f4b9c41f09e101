// One receiver of asicmon-alert with its own thread, so a slow or dead one
// never holds the others: events offered to it wait in its inbox, are
// grouped (grouping.h), held through its quiet hours unless critical,
// rendered in its format (formats.h) and POSTed with push's retry
// discipline: no answer, 408, 429 and 5xx are retried with exponential
// backoff and jitter (Retry-After honoured), in order, under the same
// Idempotency-Key (json); other 4xx are given up on, counted and logged.
//
// Bounds: the inbox and the outbox each hold at most queue_max entries (past
// it the oldest goes, counted in `dropped`); the grouper holds at most
// queue_max events.
//
// Thread-safety: Offer and counters from any thread; Start and Stop from the
// owner's.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "asicmon/health.h"
#include "asicmon/http_sender.h"
#include "asicmon/retry.h"
#include "destination_config.h"
#include "formats.h"
#include "grouping.h"

namespace asicmon::alert {

struct DestinationOptions {
  http::HttpOptions http;  // timeout and ca_file; url and key come from the DestinationConfig
  http::RetryOptions retry;
  GroupingOptions grouping;  // grouping.max_held is set to queue_max
  size_t queue_max = 10000;  // ALERT_QUEUE_MAX
};

struct DestinationCounters {
  uint64_t events_in = 0;  // offered at or over its minimum severity
  uint64_t below_min = 0;  // offered under its minimum severity: not for it
  uint64_t sent = 0;       // messages accepted (2xx)
  uint64_t retries = 0;    // attempts that failed and will be repeated
  uint64_t rejected = 0;   // messages given up: the receiver refused them (4xx)
  uint64_t dropped = 0;    // events pushed out of a full inbox, grouper or outbox
  uint64_t held = 0;       // events waiting: inbox and groups (quiet hours, window)
  uint64_t queued = 0;     // messages waiting to be sent
};

class Destination {
 public:
  // InvalidArgument when the URL cannot be used.
  static Result<std::unique_ptr<Destination>> Create(DestinationConfig config,
                                                     const DestinationOptions& options);
  ~Destination();
  Destination(const Destination&) = delete;
  Destination& operator=(const Destination&) = delete;

  // Takes `event` when its severity is at or over the minimum; never waits
  // on the network.
  void Offer(const HealthEvent& event, Severity severity);
  void Start();
  // Ends the thread, cutting an attempt in flight short; returns how many
  // events were not sent.
  size_t Stop();

  DestinationCounters counters() const;
  const DestinationConfig& config() const { return config_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Message message;
    size_t events = 0;  // health events it carries
    int failures = 0;
  };

  Destination(DestinationConfig config, const DestinationOptions& options);
  void Run();
  bool QuietNow() const;
  void Enqueue(Message message, size_t events);
  void SendOne();

  const DestinationConfig config_;
  const DestinationOptions options_;
  std::unique_ptr<http::HttpSender> sender_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<HealthEvent> inbox_;  // guarded by mu_
  bool stop_ = false;              // guarded by mu_
  std::atomic<bool> abort_{false};

  // The thread's own.
  Grouper grouper_;
  PagerDutyIncidents incidents_;  // pagerduty only
  std::deque<Pending> outbox_;
  Clock::time_point next_attempt_;
  Clock::time_point last_refusal_log_;
  std::mt19937_64 jitter_{std::random_device{}()};  // spreads retries of many alerters
  std::thread thread_;

  std::atomic<uint64_t> events_in_{0}, below_min_{0}, sent_{0}, retries_{0}, rejected_{0},
      dropped_{0}, held_{0}, queued_{0};
};

}  // namespace asicmon::alert
