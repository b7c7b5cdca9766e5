#include "auth/rate_limit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace amphi::auth {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

const Clock::time_point t0 = Clock::time_point{} + 1h;

TEST(RateLimiter, AllowsBurstThenDeniesWithRetryAfter) {
  RateLimiter limiter(60, 3);  // one token per second
  for (int i = 0; i < 3; ++i) {
    const auto decision = limiter.check("u1", t0);
    EXPECT_TRUE(decision.allowed);
    EXPECT_EQ(decision.retryAfter, 0s);
  }
  const auto denied = limiter.check("u1", t0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retryAfter, 1s);
}

TEST(RateLimiter, RetryAfterCountsDownAndIsAtLeastOneSecond) {
  RateLimiter limiter(6, 1);  // one token per ten seconds
  EXPECT_TRUE(limiter.check("u1", t0).allowed);
  EXPECT_EQ(limiter.check("u1", t0).retryAfter, 10s);
  EXPECT_EQ(limiter.check("u1", t0 + 4s).retryAfter, 6s);
  EXPECT_EQ(limiter.check("u1", t0 + 9900ms).retryAfter, 1s);
  EXPECT_TRUE(limiter.check("u1", t0 + 10s).allowed);
}

TEST(RateLimiter, DeniedRequestsDoNotConsume) {
  RateLimiter limiter(60, 1);
  EXPECT_TRUE(limiter.check("u1", t0).allowed);
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(limiter.check("u1", t0 + 500ms).allowed);
  EXPECT_TRUE(limiter.check("u1", t0 + 1s).allowed);
}

TEST(RateLimiter, RefillsOverTimeUpToBurst) {
  RateLimiter limiter(60, 3);
  for (int i = 0; i < 3; ++i) limiter.check("u1", t0);
  EXPECT_FALSE(limiter.check("u1", t0 + 999ms).allowed);
  EXPECT_TRUE(limiter.check("u1", t0 + 1s).allowed);
  EXPECT_FALSE(limiter.check("u1", t0 + 1s).allowed);
  // A long pause refills to the burst, not beyond.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.check("u1", t0 + 1h).allowed);
  EXPECT_FALSE(limiter.check("u1", t0 + 1h).allowed);
}

TEST(RateLimiter, TimeGoingBackwardsDoesNotRefill) {
  RateLimiter limiter(60, 1);
  EXPECT_TRUE(limiter.check("u1", t0).allowed);
  EXPECT_FALSE(limiter.check("u1", t0 - 10min).allowed);
  EXPECT_TRUE(limiter.check("u1", t0 + 1s).allowed);
}

TEST(RateLimiter, KeysAreIndependent) {
  RateLimiter limiter(60, 1);
  EXPECT_TRUE(limiter.check("user:a", t0).allowed);
  EXPECT_FALSE(limiter.check("user:a", t0).allowed);
  EXPECT_TRUE(limiter.check("user:b", t0).allowed);
  EXPECT_TRUE(limiter.check(std::string_view("ip:10.0.0.1"), t0).allowed);
  EXPECT_EQ(limiter.size(), 3u);
}

TEST(RateLimiter, NonPositiveRateIsUnlimited) {
  for (double perMinute : {0.0, -5.0}) {
    RateLimiter limiter(perMinute, 1);
    for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.check("u1", t0).allowed);
    EXPECT_EQ(limiter.size(), 0u);
  }
}

TEST(RateLimiter, NeverTracksMoreThanMaxKeys) {
  RateLimiter limiter(1, 5, 10);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(limiter.check("k" + std::to_string(i), t0 + std::chrono::milliseconds(i)).allowed);
    ASSERT_LE(limiter.size(), 10u);
  }
}

TEST(RateLimiter, DropsIdleBucketsFirst) {
  RateLimiter limiter(60, 1, 4);
  EXPECT_TRUE(limiter.check("idle1", t0).allowed);
  EXPECT_TRUE(limiter.check("idle2", t0).allowed);
  EXPECT_TRUE(limiter.check("busy1", t0 + 10s).allowed);
  EXPECT_TRUE(limiter.check("busy2", t0 + 10s).allowed);
  // At t0+10.5s the idle buckets are full again; the busy ones are not.
  EXPECT_TRUE(limiter.check("new", t0 + 10500ms).allowed);
  EXPECT_EQ(limiter.size(), 3u);
  EXPECT_FALSE(limiter.check("busy1", t0 + 10500ms).allowed);
  EXPECT_FALSE(limiter.check("busy2", t0 + 10500ms).allowed);
}

TEST(RateLimiter, DropsLeastRecentlyTouchedWhenNoneIdle) {
  RateLimiter limiter(1, 1, 3);  // one token per minute: nothing refills in this test
  EXPECT_TRUE(limiter.check("a", t0).allowed);
  EXPECT_TRUE(limiter.check("b", t0 + 1s).allowed);
  EXPECT_TRUE(limiter.check("c", t0 + 2s).allowed);
  EXPECT_FALSE(limiter.check("a", t0 + 3s).allowed);  // touches a: b is now the oldest
  EXPECT_TRUE(limiter.check("d", t0 + 4s).allowed);
  EXPECT_EQ(limiter.size(), 3u);
  EXPECT_FALSE(limiter.check("a", t0 + 5s).allowed);
  EXPECT_FALSE(limiter.check("c", t0 + 5s).allowed);
  EXPECT_FALSE(limiter.check("d", t0 + 5s).allowed);
  EXPECT_TRUE(limiter.check("b", t0 + 5s).allowed);  // forgotten, so a fresh bucket
}

TEST(RateLimiter, IsThreadSafe) {
  RateLimiter limiter(1, 100);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if (limiter.check("shared", t0).allowed) ++allowed;
        limiter.check("own" + std::to_string(t), t0);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 100);
  EXPECT_EQ(limiter.size(), 5u);
}

}  // namespace
}  // namespace amphi::auth

namespace amphi::auth {
namespace {

const std::vector<std::string> kProxies{"127.0.0.1", "10.0.0.5"};

TEST(ClientAddress, UntrustedPeerIsTheClientWhateverItForwards) {
  EXPECT_EQ(clientAddress("203.0.113.7", "198.51.100.1", kProxies), "203.0.113.7");
  EXPECT_EQ(clientAddress("203.0.113.7", "", {}), "203.0.113.7");
}

TEST(ClientAddress, TrustedProxyNamesTheClient) {
  EXPECT_EQ(clientAddress("127.0.0.1", "198.51.100.1", kProxies), "198.51.100.1");
  // A client's own (forged) entries sit left of what our proxies appended.
  EXPECT_EQ(clientAddress("127.0.0.1", "6.6.6.6, 198.51.100.1 ,10.0.0.5", kProxies),
            "198.51.100.1");
}

TEST(ClientAddress, OnlyProxiesOrNoHeaderFallBack) {
  EXPECT_EQ(clientAddress("127.0.0.1", "", kProxies), "127.0.0.1");
  EXPECT_EQ(clientAddress("127.0.0.1", "10.0.0.5, ", kProxies), "10.0.0.5");
}

}  // namespace
}  // namespace amphi::auth
