// Publishes one egress run's CMAF output to the HLS stream: the init segment with the
// stream's metadata, then each part (split into chunks below the server's max_payload),
// every message with a Nats-Msg-Id a retry repeats.
#pragma once

#include <cstdint>
#include <string>

#include "core/hls_window.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::egress {

// Where a new egress run continues: the next msn after the newest part in the stream and
// an epoch above the newest one (names are never reused).
struct StartPoint {
  uint64_t epoch = 0;
  uint64_t firstMsn = 0;
};
StartPoint startPoint(bus::Bus& bus, const std::string& room, int64_t nowMs);

class HlsPublisher {
 public:
  HlsPublisher(bus::Bus& bus, std::string room);
  void publishInit(const core::hls::InitMeta& meta, const std::string& bytes);
  void publishPart(const core::hls::PartMeta& meta, const std::string& bytes);
  // The broadcast ended (not a restart): origins close the playlist with ENDLIST.
  void publishEnd(uint64_t epoch);

  uint64_t parts() const { return parts_; }
  uint64_t bytes() const { return bytes_; }

 private:
  bus::Bus& bus_;
  std::string room_;
  std::size_t chunkLimit_;
  uint64_t parts_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace amphi::egress
