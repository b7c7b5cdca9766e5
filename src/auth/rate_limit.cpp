#include "auth/rate_limit.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace amphi::auth {
namespace {

constexpr double kMaxRetrySeconds = 86400.0;  // keeps absurd rates from overflowing

}  // namespace

RateLimiter::RateLimiter(double perMinute, double burst, std::size_t maxKeys)
    : perSecond_(perMinute / 60.0),
      burst_(burst >= 1.0 ? burst : 1.0),
      maxKeys_(std::max<std::size_t>(maxKeys, 1)) {}

RateDecision RateLimiter::check(std::string_view key, Clock::time_point now) {
  if (!(perSecond_ > 0)) return {true, std::chrono::seconds(0)};
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= maxKeys_) evict(now);
    it = buckets_.emplace(std::string(key), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = tokensAt(bucket, now);
  bucket.updated = std::max(bucket.updated, now);
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return {true, std::chrono::seconds(0)};
  }
  const double wait = std::min(std::ceil((1.0 - bucket.tokens) / perSecond_), kMaxRetrySeconds);
  return {false, std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(wait)))};
}

std::size_t RateLimiter::size() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

double RateLimiter::tokensAt(const Bucket& bucket, Clock::time_point now) const {
  if (now <= bucket.updated) return bucket.tokens;  // time injected out of order: no refill
  const std::chrono::duration<double> elapsed = now - bucket.updated;
  return std::min(burst_, bucket.tokens + elapsed.count() * perSecond_);
}

// Frees at least a tenth of the table so that the scan's cost is shared by many inserts.
// Dropping a busy bucket resets its limit: the price of bounded memory.
void RateLimiter::evict(Clock::time_point now) {
  const std::size_t target = maxKeys_ - std::max<std::size_t>(maxKeys_ / 10, 1);
  std::erase_if(buckets_, [&](const auto& entry) { return tokensAt(entry.second, now) >= burst_; });
  if (buckets_.size() <= target) return;

  std::vector<decltype(buckets_)::iterator> byAge;
  byAge.reserve(buckets_.size());
  for (auto it = buckets_.begin(); it != buckets_.end(); ++it) byAge.push_back(it);
  const auto drop = static_cast<std::ptrdiff_t>(buckets_.size() - target);
  std::nth_element(byAge.begin(), byAge.begin() + drop - 1, byAge.end(),
                   [](auto a, auto b) { return a->second.updated < b->second.updated; });
  for (auto it = byAge.begin(); it != byAge.begin() + drop; ++it) buckets_.erase(*it);
}

namespace {

std::string_view trimmed(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

bool trusted(std::string_view address, const std::vector<std::string>& proxies) {
  return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
}

}  // namespace

std::string clientAddress(std::string_view peer, std::string_view forwardedFor,
                          const std::vector<std::string>& trustedProxies) {
  if (!trusted(peer, trustedProxies)) return std::string(peer);
  std::string_view client = peer;
  while (!forwardedFor.empty()) {
    const auto comma = forwardedFor.rfind(',');
    const std::string_view hop =
        trimmed(comma == std::string_view::npos ? forwardedFor : forwardedFor.substr(comma + 1));
    forwardedFor =
        comma == std::string_view::npos ? std::string_view{} : forwardedFor.substr(0, comma);
    if (hop.empty()) continue;
    client = hop;
    if (!trusted(hop, trustedProxies)) break;
  }
  return std::string(client);
}

}  // namespace amphi::auth
