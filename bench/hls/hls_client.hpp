// An epoll client for many simulated LL-HLS viewers, one keep-alive connection each, one
// request in flight per connection. Modes:
//   Viewer        what hls.js does in low-latency mode: a blocking playlist reload for the
//                 preload hint, then GET every part the playlist newly lists, repeat;
//   Held          rounds: on startRound(part) every connection sends one blocking playlist
//                 reload for that part and waits for the next round (the caller names a
//                 part two ahead, so every request is held when it is published);
//   Load          plain GETs of fixed paths in turn, as fast as the server answers.
// Connections open gradually (openRate) from 127.0.0.2-250 (so source ports never run out);
// a dropped connection is counted and reopened like a player would.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hls_text.hpp"

namespace bench::hls {

enum class ClientMode { Viewer, Held, Load };

struct ClientOptions {
  uint16_t port = 0;
  std::string room = "bench";
  ClientMode mode = ClientMode::Viewer;
  std::size_t connections = 0;
  double openRate = 500;  // new connections per second, all threads together
  // Connections between connect() and their first complete response, per thread: the
  // ramp (and reopening) never runs ahead of the server's accept queue by more.
  std::size_t maxConnecting = 256;
  int threads = 1;                     // epoll threads; connections are split between them
  std::vector<std::string> loadPaths;  // Load: request paths taken in turn
  std::chrono::seconds requestTimeout{15};
  // ACK every read at once (TCP_QUICKACK after each recv), unlike browsers: hides a
  // server's Nagle + delayed-ACK stall, to see what else remains.
  bool quickAck = false;
};

// One response that counts: a part received (Viewer: key is the part) or a blocking
// playlist answered (Held: key is the part asked for).
struct Delivery {
  PartKey key = 0;
  int64_t sentNs = 0;
  int64_t recvNs = 0;  // last byte received
  uint32_t viewer = 0;
};

struct ViewerState {
  bool established = false;  // got its first 200
  bool open = false;         // connection open at stop()
  uint32_t drops = 0;        // connections lost (closed, failed, timed out)
  int64_t lastDropNs = 0;
};

struct ClientCounters {
  uint64_t responses = 0;  // complete HTTP responses
  uint64_t bodyBytes = 0;
  uint64_t connectErrors = 0;
  uint64_t serverCloses = 0;    // closed by the server (or reset) while a request was out
  uint64_t clientTimeouts = 0;  // no complete response within requestTimeout
  uint64_t protocolErrors = 0;  // unparsable head, chunked body, bytes after a response
  uint64_t reconnects = 0;
  std::map<int, uint64_t> statuses;  // every status other than 200
};

class HlsClient {
 public:
  explicit HlsClient(ClientOptions options);
  ~HlsClient();  // stop()
  HlsClient(const HlsClient&) = delete;
  HlsClient& operator=(const HlsClient&) = delete;

  void start();
  // Stops the threads and closes every connection (idempotent).
  void stop();

  std::size_t opened() const;       // connections started at least once
  std::size_t established() const;  // viewers that got their first 200
  uint64_t responses() const;       // complete responses so far
  uint64_t deliveryCount() const;   // deliveries recorded so far
  // Held: every established connection asks for `part` (now, or once its previous
  // request is answered).
  void startRound(PartKey part);

  // After stop():
  std::vector<Delivery> deliveries() const;
  std::vector<ViewerState> viewers() const;
  ClientCounters counters() const;

 private:
  class Loop;
  ClientOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> round_{0};
  std::atomic<PartKey> roundPart_{0};
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace bench::hls
