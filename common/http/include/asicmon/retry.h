// What a sender (push, alert) does with a receiver's answer, and how long it waits before the
// next attempt: 2xx accepts the batch; no answer (connect error, timeout,
// reset), 408, 429 and 5xx keep it and retry with exponential backoff and
// jitter, 429 and 503 after the receiver's Retry-After when it gave one;
// anything else (3xx, other 4xx) rejects it for good: dead letter.
//
// Thread-safety: plain functions.
#pragma once

#include <chrono>
#include <optional>

namespace asicmon::http {

enum class Outcome { kAccepted, kRetry, kRejected };

// `http_status` 0 means no HTTP answer came.
Outcome Classify(long http_status);

struct RetryOptions {
  // The first wait after a failure; doubles per failure. Default: 1 s.
  std::chrono::milliseconds initial{1000};
  // The backoff never exceeds this. Default: 32 s ($PUSH_RETRY_MAX).
  std::chrono::milliseconds max{32000};
  // A receiver's Retry-After is honoured up to this. Default: 10 min.
  std::chrono::milliseconds max_retry_after{600000};
};

// The wait before retry number `failures` (1 after the first failure):
// initial * 2^(failures-1), capped at max, then jittered down to between
// half and all of it by `jitter` in [0, 1), so many pushers do not retry in
// step. For 429 and 503 with a Retry-After, that many seconds (capped)
// instead.
std::chrono::milliseconds RetryDelay(const RetryOptions& options, int failures, long http_status,
                                     std::optional<std::chrono::seconds> retry_after,
                                     double jitter);

}  // namespace asicmon::http
