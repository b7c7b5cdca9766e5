// Publishes one egress run's CMAF output to the HLS stream: the init segment with the
// stream's metadata, then each part (split into chunks below the server's max_payload),
// every message with a Nats-Msg-Id a retry repeats.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/hls_window.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::egress {

// Where a new egress run continues: the next msn after the newest part in the stream, an
// epoch above the newest one (names are never reused) and the run after the newest one.
struct StartPoint {
  uint64_t epoch = 0;
  uint64_t firstMsn = 0;
  uint64_t run = 0;
};
StartPoint startPoint(bus::Bus& bus, const std::string& room, int64_t nowMs);

class HlsPublisher {
 public:
  // The init is published again every `initEvery` while parts flow: the stream keeps a
  // few minutes, and an origin that starts following later needs the run's init.
  HlsPublisher(bus::Bus& bus, std::string room,
               std::chrono::milliseconds initEvery = std::chrono::seconds(30));
  void publishInit(const core::hls::InitMeta& meta, const std::string& bytes);
  void publishPart(const core::hls::PartMeta& meta, const std::string& bytes);
  // The broadcast ended (not a restart): origins close the playlist with ENDLIST.
  void publishEnd(uint64_t epoch);

  uint64_t parts() const { return parts_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t initsPublished() const { return inits_; }

 private:
  bus::Bus& bus_;
  std::string room_;
  std::size_t chunkLimit_;
  std::chrono::milliseconds initEvery_;
  core::hls::InitMeta initMeta_;
  std::string initBytes_;
  std::chrono::steady_clock::time_point initAt_;
  uint64_t inits_ = 0;
  uint64_t parts_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace amphi::egress
