// Internal to src/http: an SSE connection on its own strand with a bounded queue.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include "http/metrics.hpp"
#include "http/sse.hpp"
#include "http/stream.hpp"

namespace amphi::http::impl {

class SseConnection : public SseStream, public std::enable_shared_from_this<SseConnection> {
 public:
  SseConnection(Stream stream, std::chrono::seconds heartbeat,
                std::size_t queueLimit, Metrics& metrics);
  ~SseConnection() override;

  // Sends the response head (and retry hint), then heartbeats until closed.
  void start(std::string head);
  bool send(std::shared_ptr<const std::string> frame) override;
  void close() override;
  void onClose(std::function<void()> callback) override;
  bool closed() const override { return closed_.load(); }
  // Server shutdown: a last comment asking the client to reconnect, then close.
  void goodbye();

 private:
  // counted: an event frame that counts against the queue limit until written.
  void enqueue(std::shared_ptr<const std::string> frame, bool counted = false);
  void writeNext();
  void armHeartbeat();
  void watchPeer();
  void finish();

  Stream stream_;  // plain or TLS; one read (watchPeer) and one write at a time
  boost::asio::steady_timer timer_;
  std::chrono::seconds heartbeat_;
  std::size_t queueLimit_;
  Metrics& metrics_;
  // Strand-only state.
  std::vector<std::shared_ptr<const std::string>> queue_;
  std::vector<std::shared_ptr<const std::string>> inflight_;
  std::size_t queuedCounted_ = 0;    // event frames in queue_
  std::size_t inflightCounted_ = 0;  // event frames in inflight_
  bool writing_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point lastWrite_;
  char peerByte_ = 0;
  // Any thread: event frames accepted by send() and not yet written to the socket.
  std::atomic<std::size_t> pending_{0};
  std::atomic<bool> closed_{false};
  std::mutex callbackMu_;
  std::vector<std::function<void()>> callbacks_;
  bool finished_ = false;  // guarded by callbackMu_
};

}  // namespace amphi::http::impl
