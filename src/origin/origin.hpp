// The LL-HLS origin inside serve: follows the HLS stream for the rooms its viewers
// watch, keeps each room's live window in memory (core/hls_window.hpp) and answers
// GET /hls/<room>/{index.m3u8, media.m3u8, <epoch>/init.mp4, <epoch>/<msn>.<part>.m4s,
// <epoch>/<msn>.m4s}. Blocking playlist reloads and requests for the part named by the
// preload hint wait without a thread and are answered the moment the part arrives.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"

namespace amphi::bus {
class Bus;
}

namespace amphi::origin {

struct OriginOptions {
  double retentionSeconds = 24;            // segments listed in the media playlist
  std::chrono::seconds backfill{40};       // history read when a serve starts following a room
  std::chrono::seconds idleTimeout{60};    // a room nobody asked for this long is dropped
  std::chrono::milliseconds firstDataWait{3000};  // a fresh follower waits this long for data
};

struct OriginStats {
  std::size_t rooms = 0;
  std::size_t waiting = 0;  // held requests
};

class Origin {
 public:
  Origin(bus::Bus& bus, OriginOptions options);
  ~Origin();
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;

  // Handles GET/HEAD/OPTIONS of a path under /hls/.
  http::Response handle(http::Request& request);
  // The same without blocking, for the server's I/O threads: nullopt when the room is not
  // followed yet (starting to follow reads the stream), and handle() must be used.
  std::optional<http::Response> handleInline(http::Request& request);
  OriginStats stats() const;
  // Answers every held request (503) and stops following rooms.
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace amphi::origin
