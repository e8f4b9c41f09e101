#include "asicmon/retry.h"

#include <algorithm>

namespace asicmon::http {

Outcome Classify(long http_status) {
  if (http_status >= 200 && http_status < 300) return Outcome::kAccepted;
  if (http_status == 0 || http_status == 408 || http_status == 429 || http_status >= 500) {
    return Outcome::kRetry;
  }
  return Outcome::kRejected;
}

std::chrono::milliseconds RetryDelay(const RetryOptions& options, int failures, long http_status,
                                     std::optional<std::chrono::seconds> retry_after,
                                     double jitter) {
  if (retry_after && (http_status == 429 || http_status == 503)) {
    return std::min<std::chrono::milliseconds>(std::max(*retry_after, std::chrono::seconds(0)),
                                               options.max_retry_after);
  }
  std::chrono::milliseconds delay = options.initial;
  for (int i = 1; i < failures && delay < options.max; ++i) delay *= 2;
  delay = std::min(delay, options.max);
  const double factor = 0.5 + 0.5 * std::clamp(jitter, 0.0, 1.0);
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(delay.count()) * factor));
}

}  // namespace asicmon::http
