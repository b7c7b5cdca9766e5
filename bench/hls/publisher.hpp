// The synthetic broadcast: an egress stand-in inside the benchmark that publishes a real
// CMAF init segment (audio-only, from the project's packager) and then parts of synthetic
// bytes on a fixed cadence through HlsPublisher, stamping the monotonic time around each
// publishPart() call (the clock the viewers stamp receipts with).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hls_text.hpp"

namespace amphi::bus {
class Bus;
}

namespace bench::hls {

struct PublisherOptions {
  std::string natsUrl;
  std::string room = "bench";
  double partSeconds = 0.5;
  int partsPerSegment = 4;        // segments of 2 s
  std::size_t partBytes = 18750;  // 300 kbit/s x 0.5 s
  std::size_t keepParts = 64;     // newest parts whose bytes stay readable (for nginx)
};

struct PublishedPart {
  PartKey key = 0;
  int64_t startNs = 0;   // just before publishPart()
  int64_t returnNs = 0;  // just after it returned (the stream acknowledged every chunk)
  bool ok = false;
};

class SyntheticPublisher {
 public:
  explicit SyntheticPublisher(PublisherOptions options);
  ~SyntheticPublisher();  // stop()
  SyntheticPublisher(const SyntheticPublisher&) = delete;
  SyntheticPublisher& operator=(const SyntheticPublisher&) = delete;

  // Connects, publishes the init and starts the part cadence. Throws when NATS is not ready.
  void start();
  void stop();

  uint64_t epoch() const { return epoch_; }
  std::size_t published() const { return published_.load(); }
  std::size_t errors() const { return errors_.load(); }
  std::vector<PublishedPart> log() const;
  // The bytes of a recent part (the newest keepParts), for writing them to disk.
  std::optional<std::string> bytes(PartKey key) const;
  // The part published n parts after key.
  PartKey after(PartKey key, int n) const;
  // Waits until `count` more parts than now were published; false after timeoutMs.
  bool waitParts(std::size_t count, int timeoutMs) const;

 private:
  void loop();
  std::string partBytes(PartKey key) const;

  PublisherOptions options_;
  std::unique_ptr<amphi::bus::Bus> bus_;
  uint64_t epoch_ = 0;
  uint64_t firstMsn_ = 0;
  std::string pattern_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> published_{0}, errors_{0};
  mutable std::mutex mu_;
  std::vector<PublishedPart> log_;         // guarded by mu_
  std::map<PartKey, std::string> recent_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace bench::hls
