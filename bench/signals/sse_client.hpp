// An epoll SSE client for many streams: parses frames incrementally (no allocation per
// frame), stamps the receive time of the first "watched" frame of each round on every
// connection, and hands complete frames of a few "capture" connections to the caller.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

struct SseTarget {
  std::string request;   // the complete HTTP request
  bool capture = false;  // keep this connection's frames for takeCaptured()
};

struct CapturedFrame {
  std::size_t conn = 0;
  int64_t recvNs = 0;
  std::string id, type, data;
};

struct SseCounts {
  std::size_t headOk = 0;   // got "200" and a text/event-stream head
  std::size_t refused = 0;  // connect failed, non-200 status, or closed before the head
  std::size_t closed = 0;   // closed after the head (by the server or an error)
  std::size_t frames = 0;   // complete frames with a field (comments excluded)
  uint64_t bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> byType;  // frames per event type
  // Why streams were refused: an HTTP status, -errno, or 0 for a close before the head.
  std::vector<std::pair<int, std::size_t>> statuses;
};

class SseClient {
 public:
  struct Options {
    uint16_t port = 0;
    int threads = 1;
    std::size_t maxConnecting = 256;  // connections between connect() and the head
    std::vector<std::string> watch;   // event types that stamp a round ("message": no type)
  };
  explicit SseClient(Options options);
  ~SseClient();  // closes every connection
  SseClient(const SseClient&) = delete;
  SseClient& operator=(const SseClient&) = delete;

  // Opens one stream per target; returns when each has its head or failed, or when no
  // head came for `stall` (the rest keep opening in the background).
  void open(std::vector<SseTarget> targets, std::chrono::milliseconds stall);
  std::size_t size() const;

  // Clears every connection's stamp; the next watched frame on each stamps it.
  void armRound();
  std::size_t roundCount() const { return roundCount_.load(); }
  // Waits until roundCount() >= want; false on timeout.
  bool waitRound(std::size_t want, std::chrono::milliseconds timeout) const;
  int64_t stamp(std::size_t conn) const { return stamps_[conn].load(std::memory_order_acquire); }
  bool isOpen(std::size_t conn) const;
  // When the connection's response head arrived (0: never).
  int64_t headAt(std::size_t conn) const;

  // Frames of capture connections received since the last call; waits up to timeout
  // for at least one when there are none.
  std::vector<CapturedFrame> takeCaptured(std::chrono::milliseconds timeout = {});
  SseCounts counts() const;

 private:
  struct Conn;
  struct Worker;
  void run(Worker& w);
  void startConnects(Worker& w);
  void onEvent(Worker& w, std::size_t i, uint32_t events);
  void readable(Worker& w, std::size_t i);
  void feed(Worker& w, std::size_t i, const char* p, std::size_t n, int64_t now);
  bool feedHead(Worker& w, std::size_t i, const char*& p, std::size_t& n);
  void feedBody(std::size_t i, const char* p, std::size_t n, int64_t now);
  void feedSse(std::size_t i, const char* p, std::size_t n, int64_t now);
  void endFrame(std::size_t i, int64_t now);
  void closeConn(Worker& w, std::size_t i, int reason);

  Options options_;
  std::vector<Conn> conns_;
  std::unique_ptr<std::atomic<int64_t>[]> stamps_;
  std::unique_ptr<std::atomic<int64_t>[]> heads_;
  std::atomic<std::size_t> roundCount_{0};
  std::atomic<std::size_t> headOk_{0}, refused_{0}, closed_{0}, frames_{0};
  std::atomic<uint64_t> bytes_{0};
  std::vector<std::string> typeNames_;
  std::unique_ptr<std::atomic<uint64_t>[]> typeCounts_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<CapturedFrame> captured_;                // guarded by mu_
  std::vector<std::pair<int, std::size_t>> statuses_;  // guarded by mu_
};

}  // namespace bench
