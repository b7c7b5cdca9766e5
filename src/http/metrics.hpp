// Process-wide counters exported as Prometheus text on /metrics.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace amphi::http {

// Cumulative histogram over fixed millisecond buckets.
class Histogram {
 public:
  // Fine below 2.5 ms so that a p99 against a 1 ms target reads true.
  static constexpr std::array<double, 16> kBucketsMs{0.1, 0.25, 0.5, 0.75, 1,   1.5,  2,    2.5,
                                                     5,   10,   25,  50,   100, 250, 1000, 5000};
  void observe(double ms);
  void render(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<uint64_t>, kBucketsMs.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sumMicros_{0};
};

struct Metrics {
  std::array<std::atomic<uint64_t>, 6> responsesByClass{};  // index = status / 100
  std::atomic<int64_t> sseConnections{0};
  std::atomic<uint64_t> sseOpened{0};
  std::atomic<uint64_t> sseDroppedSlow{0};
  std::atomic<uint64_t> sseFramesSent{0};
  std::atomic<uint64_t> eventsPublished{0};
  std::atomic<uint64_t> eventsReceived{0};
  std::atomic<uint64_t> casConflicts{0};
  std::atomic<uint64_t> rejectedRateLimit{0};
  std::atomic<uint64_t> rejectedAuth{0};  // 401 and 403
  std::atomic<uint64_t> rejectedInput{0};  // 400, 404, 405, 409, 413
  std::atomic<uint64_t> tlsHandshakeFailures{0};
  Histogram requestMs;  // handler time of API requests
  Histogram busMs;      // KV compare-and-set + publish of one state change
  Histogram casMs;      // the KV compare-and-set alone (one round trip to NATS)

  void countResponse(int status);
  std::string render() const;
};

}  // namespace amphi::http
