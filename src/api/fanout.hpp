// Internal to src/api: one SSE frame to many streams, split between the calling thread
// and a few helper threads. A send(2) of a small frame on TCP costs ~10 us of kernel
// time here (the receiver's side of loopback included), so 15,000 streams are ~150 ms on
// one core. send() returns once every stream has the frame, so a room's events still
// reach each stream one after the other, in order.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <vector>

#include "http/sse.hpp"

namespace amphi::api {

class Fanout {
 public:
  // helpers: threads besides the caller's (0: the caller sends to everyone).
  explicit Fanout(std::size_t helpers);
  ~Fanout();
  Fanout(const Fanout&) = delete;
  Fanout& operator=(const Fanout&) = delete;

  // A stream that fell too far behind is closed by its own send().
  void send(const std::vector<std::shared_ptr<http::SseStream>>& streams,
            const std::shared_ptr<const std::string>& frame);
  // One helper per CPU beyond the first, at most 3.
  static std::size_t defaultHelpers();

 private:
  std::size_t helpers_;
  boost::asio::thread_pool pool_;
};

}  // namespace amphi::api
