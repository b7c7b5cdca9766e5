// A Server-Sent Events connection as seen by the code that feeds it.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace amphi::http {

class SseStream {
 public:
  virtual ~SseStream() = default;
  // Queues a complete frame. Thread-safe. Returns false, and closes the stream,
  // when the client has fallen too far behind (it can resume by id).
  virtual bool send(std::shared_ptr<const std::string> frame) = 0;
  // Flushes what is queued, then closes. Thread-safe, idempotent.
  virtual void close() = 0;
  // Called once, from any thread, when the connection has ended for any reason.
  virtual void onClose(std::function<void()> callback) = 0;
  virtual bool closed() const = 0;
};

}  // namespace amphi::http
