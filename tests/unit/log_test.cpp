// The log gate that rate-limits each kind of repeated warning (store, push).
#include "asicmon/log.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace asicmon {
namespace {

using namespace std::chrono_literals;

TEST(LogGateTest, FirstLineGoesOutThenOnePerPeriodSayingHowManyWereHeldBack) {
  LogGate hourly(1h);
  uint64_t held_back = 99;
  EXPECT_TRUE(hourly.Allow(held_back));
  EXPECT_EQ(held_back, 0u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(hourly.Allow(held_back));

  // Three calls come well within a second; the sleep goes past it.
  LogGate each_second(1s);
  EXPECT_TRUE(each_second.Allow(held_back));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(each_second.Allow(held_back));
  std::this_thread::sleep_for(1100ms);
  EXPECT_TRUE(each_second.Allow(held_back));
  EXPECT_EQ(held_back, 3u);
  EXPECT_EQ(HeldBackNote(0), "");
  EXPECT_EQ(HeldBackNote(3), " (3 more since the last report)");
}

}  // namespace
}  // namespace asicmon
