#include "gateway/rate_limiter.h"

#include <gtest/gtest.h>

#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

RateLimit Limit(double per_second, int burst) {
  RateLimit limit;
  limit.per_second = per_second;
  limit.burst = burst;
  return limit;
}

TEST(RateLimiterTest, AllowsTheBurstThenAnswersSecondsToWait) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(1, 3);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 1);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 1);
}

TEST(RateLimiterTest, RetryAfterReflectsASlowRate) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(0.2, 1);  // one every 5 seconds
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 5);
  clock.Advance(seconds(2));
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 3);
  clock.Advance(seconds(3));
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
}

TEST(RateLimiterTest, RefillsOverTime) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(2, 2);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_GT(limiter.TryAcquire("ci", limit), 0);
  clock.Advance(milliseconds(400));
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 1) << "0.8 tokens: not yet";
  clock.Advance(milliseconds(200));
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0) << "1.2 tokens";
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 1) << "0.2 tokens left";
}

TEST(RateLimiterTest, RefillStopsAtTheBurst) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(10, 3);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  clock.Advance(std::chrono::hours(1));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.TryAcquire("ci", limit), 0) << i;
  EXPECT_GT(limiter.TryAcquire("ci", limit), 0);
}

TEST(RateLimiterTest, ZeroRateIsUnlimited) {
  ManualClock clock;
  RateLimiter limiter(clock);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(limiter.TryAcquire("ci", Limit(0, 0)), 0) << i;
}

TEST(RateLimiterTest, ABurstOfZeroStillAllowsOneRequest) {
  ManualClock clock;
  RateLimiter limiter(clock);
  EXPECT_EQ(limiter.TryAcquire("ci", Limit(1, 0)), 0);
  EXPECT_GT(limiter.TryAcquire("ci", Limit(1, 0)), 0);
}

TEST(RateLimiterTest, EachClientHasItsOwnBucket) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(1, 1);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  EXPECT_GT(limiter.TryAcquire("ci", limit), 0);
  EXPECT_EQ(limiter.TryAcquire("release-bot", limit), 0);
  EXPECT_GT(limiter.TryAcquire("release-bot", limit), 0);
  EXPECT_GT(limiter.TryAcquire("ci", limit), 0);
}

TEST(RateLimiterTest, AClockGoingBackwardsDoesNotMintTokens) {
  ManualClock clock;
  RateLimiter limiter(clock);
  RateLimit limit = Limit(1, 1);
  EXPECT_EQ(limiter.TryAcquire("ci", limit), 0);
  clock.Advance(seconds(-100));
  EXPECT_GT(limiter.TryAcquire("ci", limit), 0);
}

}  // namespace
}  // namespace sluice
