// A thread-safe token bucket per key (user id, address, ...), bounded in memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace amphi::auth {

// The client a request comes from, for per-address limits and logs. peer is the TCP
// peer; when it is one of trustedProxies (exact addresses, e.g. nginx's 127.0.0.1),
// X-Forwarded-For is read from the right, skipping trusted proxies, and the first other
// address is the client. Without a trusted peer the header is ignored (clients could
// forge it).
std::string clientAddress(std::string_view peer, std::string_view forwardedFor,
                          const std::vector<std::string>& trustedProxies);

struct RateDecision {
  bool allowed;
  std::chrono::seconds retryAfter;  // >= 1 s when not allowed, 0 when allowed
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // perMinute <= 0 means unlimited. Each key starts with `burst` tokens (at least 1).
  // When maxKeys keys are tracked, idle (full) buckets are dropped first, then the
  // least recently touched ones.
  RateLimiter(double perMinute, double burst, std::size_t maxKeys = 100000);

  // Consumes one token when allowed.
  RateDecision check(std::string_view key, Clock::time_point now = Clock::now());

  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;  // last refill, i.e. last touched
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };

  double tokensAt(const Bucket& bucket, Clock::time_point now) const;
  void evict(Clock::time_point now);

  double perSecond_;
  double burst_;
  std::size_t maxKeys_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket, KeyHash, std::equal_to<>> buckets_;
};

}  // namespace amphi::auth
