// Internal to src/http: an SSE connection with a bounded queue. On plain TCP, send()
// writes the frame straight to the socket from the caller's thread when nothing is
// queued (the common case: a room-wide event costs one send(2) per stream, no
// allocation, no hop to another thread); only what the kernel does not take at once
// waits in a queue that the connection's strand writes out. Over TLS every frame goes
// through that queue (the TLS layer is not thread-safe).
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
  using Frame = std::shared_ptr<const std::string>;
  enum class Put { Written, Queued, WriteLater, Failed };
  // mu_ held. Writes the frame now if nothing waits, else queues it.
  Put put(const Frame& frame, bool counted);
  void afterPut(Put put);  // mu_ not held
  void writeNext();        // strand
  void armHeartbeat();
  void watchPeer();
  void finish();
  void post(void (SseConnection::*step)());

  Stream stream_;     // plain or TLS; one read (watchPeer) and one async write at a time
  bool direct_;       // plain TCP: frames may go straight to the socket
  boost::asio::steady_timer timer_;
  std::chrono::seconds heartbeat_;
  std::size_t queueLimit_;
  Metrics& metrics_;
  char peerByte_ = 0;
  std::atomic<bool> closed_{false};

  // Guarded by mu_. An async write is in flight (or about to start) exactly when
  // writing_ is set; otherwise queue_ is empty and a frame may go straight to the
  // socket. The socket is closed under mu_, so a direct write never hits a reused fd.
  std::mutex mu_;
  std::vector<Frame> queue_;     // waiting for the strand's next write
  std::size_t queueSkip_ = 0;    // bytes of queue_.front() already written
  std::vector<Frame> inflight_;  // strand only while writing_
  std::size_t events_ = 0;       // event frames accepted and not yet written out
  std::size_t inflightEvents_ = 0;
  std::size_t queuedEvents_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point lastWrite_;

  std::mutex callbackMu_;
  std::vector<std::function<void()>> callbacks_;
  bool finished_ = false;  // guarded by callbackMu_
};

}  // namespace amphi::http::impl
