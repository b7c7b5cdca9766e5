#include "http/metrics.hpp"

#include <fmt/format.h>

namespace amphi::http {

void Histogram::observe(double ms) {
  for (std::size_t i = 0; i < kBucketsMs.size(); ++i) {
    if (ms <= kBucketsMs[i]) buckets_[i].fetch_add(1, std::memory_order_relaxed);
  }
  count_.fetch_add(1, std::memory_order_relaxed);
  sumMicros_.fetch_add(static_cast<uint64_t>(ms * 1000), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (std::size_t i = 0; i < kBucketsMs.size(); ++i) {
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBucketsMs[i] / 1000.0,
                       buckets_[i].load());
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, count_.load());
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, sumMicros_.load() / 1e6, name,
                     count_.load());
}

void Metrics::countResponse(int status) {
  const int cls = status / 100;
  if (cls >= 1 && cls <= 5) responsesByClass[cls].fetch_add(1, std::memory_order_relaxed);
  if (status == 429) {
    rejectedRateLimit++;
  } else if (status == 401 || status == 403) {
    rejectedAuth++;
  } else if (cls == 4) {
    rejectedInput++;
  }
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](std::string_view name, std::string_view help, uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, value);
  };
  out += "# HELP amphi_http_responses_total HTTP responses by status class\n";
  out += "# TYPE amphi_http_responses_total counter\n";
  for (int cls = 1; cls <= 5; ++cls) {
    out += fmt::format("amphi_http_responses_total{{class=\"{}xx\"}} {}\n", cls,
                       responsesByClass[cls].load());
  }
  out += fmt::format(
      "# HELP amphi_sse_connections Open SSE connections\n# TYPE amphi_sse_connections gauge\n"
      "amphi_sse_connections {}\n",
      sseConnections.load());
  counter("amphi_sse_opened_total", "SSE connections accepted", sseOpened);
  counter("amphi_sse_dropped_slow_total", "SSE clients dropped for falling behind",
          sseDroppedSlow);
  counter("amphi_sse_frames_sent_total", "SSE event frames queued to clients", sseFramesSent);
  counter("amphi_events_published_total", "Events published to NATS", eventsPublished);
  counter("amphi_events_received_total", "Events received from NATS", eventsReceived);
  counter("amphi_kv_cas_conflicts_total", "KV compare-and-set retries", casConflicts);
  counter("amphi_rejected_rate_limit_total", "Requests rejected with 429", rejectedRateLimit);
  counter("amphi_rejected_auth_total", "Requests rejected with 401/403", rejectedAuth);
  counter("amphi_rejected_input_total", "Requests rejected as bad input", rejectedInput);
  counter("amphi_tls_handshake_failures_total", "TLS handshakes that failed or timed out",
          tlsHandshakeFailures);
  requestMs.render(out, "amphi_request_seconds", "API handler time");
  busMs.render(out, "amphi_bus_change_seconds", "KV compare-and-set plus publish per change");
  casMs.render(out, "amphi_kv_cas_seconds", "KV compare-and-set of a room record");
  return out;
}

}  // namespace amphi::http
