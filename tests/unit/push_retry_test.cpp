// What push does with each answer, and how long it waits.
#include <gtest/gtest.h>

#include "asicmon/retry.h"

namespace asicmon::http {
namespace {

using namespace std::chrono_literals;

TEST(PushRetryTest, ClassifiesAnswers) {
  struct Case {
    long status;
    Outcome outcome;
  };
  for (const Case& c : std::vector<Case>{{200, Outcome::kAccepted}, {202, Outcome::kAccepted},
                                         {204, Outcome::kAccepted}, {0, Outcome::kRetry},
                                         {408, Outcome::kRetry}, {429, Outcome::kRetry},
                                         {500, Outcome::kRetry}, {502, Outcome::kRetry},
                                         {503, Outcome::kRetry}, {400, Outcome::kRejected},
                                         {401, Outcome::kRejected}, {404, Outcome::kRejected},
                                         {413, Outcome::kRejected}, {301, Outcome::kRejected}}) {
    EXPECT_EQ(Classify(c.status), c.outcome) << c.status;
  }
}

TEST(PushRetryTest, BackoffDoublesToTheCapWithJitterBetweenHalfAndAll) {
  const RetryOptions options;  // 1 s -> 32 s
  EXPECT_EQ(RetryDelay(options, 1, 0, std::nullopt, 0.999999), 999ms);
  EXPECT_EQ(RetryDelay(options, 1, 0, std::nullopt, 0.0), 500ms);
  EXPECT_EQ(RetryDelay(options, 2, 500, std::nullopt, 0.0), 1000ms);
  EXPECT_EQ(RetryDelay(options, 4, 502, std::nullopt, 0.0), 4000ms);
  EXPECT_EQ(RetryDelay(options, 6, 0, std::nullopt, 0.0), 16000ms);
  EXPECT_EQ(RetryDelay(options, 7, 0, std::nullopt, 0.0), 16000ms);  // 32 s capped, halved
  EXPECT_EQ(RetryDelay(options, 1000, 0, std::nullopt, 0.999999), 31999ms);
  for (double jitter : {0.0, 0.3, 0.7, 0.99}) {
    const auto d = RetryDelay(options, 3, 0, std::nullopt, jitter);
    EXPECT_GE(d, 2000ms);
    EXPECT_LE(d, 4000ms);
  }
}

TEST(PushRetryTest, RetryAfterIsHonouredFor429And503Only) {
  RetryOptions options;
  options.max_retry_after = 120s;
  EXPECT_EQ(RetryDelay(options, 1, 429, 7s, 0.5), 7000ms);
  EXPECT_EQ(RetryDelay(options, 5, 503, 3s, 0.5), 3000ms);
  EXPECT_EQ(RetryDelay(options, 1, 429, 100000s, 0.5), 120000ms);  // capped
  EXPECT_EQ(RetryDelay(options, 1, 500, 7s, 0.0), 500ms);           // 500: its own backoff
  EXPECT_EQ(RetryDelay(options, 1, 429, std::nullopt, 0.0), 500ms);
}

}  // namespace
}  // namespace asicmon::http
