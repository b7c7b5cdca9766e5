#include "http/sse_connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace amphi::http::impl {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {
const auto kHeartbeat = std::make_shared<const std::string>(":\n\n");
const auto kGoodbye =
    std::make_shared<const std::string>(": server shutting down, reconnect\nretry: 500\n\n");
}  // namespace

SseConnection::SseConnection(Stream stream, std::chrono::seconds heartbeat,
                             std::size_t queueLimit, Metrics& metrics)
    : stream_(std::move(stream)),
      timer_(stream_.get_executor()),
      heartbeat_(heartbeat),
      queueLimit_(queueLimit),
      metrics_(metrics) {
  metrics_.sseConnections++;
  metrics_.sseOpened++;
}

SseConnection::~SseConnection() { metrics_.sseConnections--; }

void SseConnection::start(std::string head) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), head = std::move(head)]() mutable {
    self->enqueue(std::make_shared<const std::string>(std::move(head)));
    self->armHeartbeat();
    self->watchPeer();
  });
}

bool SseConnection::send(std::shared_ptr<const std::string> frame) {
  if (closed_) return false;
  if (pending_.fetch_add(1) >= queueLimit_) {
    pending_--;
    metrics_.sseDroppedSlow++;
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->finish(); });
    return false;
  }
  metrics_.sseFramesSent++;
  asio::post(stream_.get_executor(), [self = shared_from_this(), frame = std::move(frame)] {
    self->enqueue(frame, true);
  });
  return true;
}

void SseConnection::close() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    if (!self->writing_) self->finish();
  });
}

void SseConnection::goodbye() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    self->enqueue(kGoodbye);
    self->closing_ = true;
  });
}

void SseConnection::onClose(std::function<void()> callback) {
  {
    std::lock_guard lock(callbackMu_);
    if (!finished_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

void SseConnection::enqueue(std::shared_ptr<const std::string> frame, bool counted) {
  if (closed_) return;
  queue_.push_back(std::move(frame));
  if (counted) ++queuedCounted_;
  if (!writing_) writeNext();
}

void SseConnection::writeNext() {
  if (queue_.empty()) {
    writing_ = false;
    if (closing_) finish();
    return;
  }
  writing_ = true;
  inflight_.swap(queue_);
  queue_.clear();
  inflightCounted_ = queuedCounted_;
  queuedCounted_ = 0;
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(inflight_.size());
  for (const auto& f : inflight_) buffers.emplace_back(asio::buffer(*f));
  asio::async_write(stream_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    self->inflight_.clear();
    self->pending_ -= self->inflightCounted_;
    self->inflightCounted_ = 0;
    self->lastWrite_ = std::chrono::steady_clock::now();
    if (ec) return self->finish();
    self->writeNext();
  });
}

void SseConnection::armHeartbeat() {
  timer_.expires_after(heartbeat_);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return;
    if (std::chrono::steady_clock::now() - self->lastWrite_ >= self->heartbeat_ / 2) {
      self->enqueue(kHeartbeat);
    }
    self->armHeartbeat();
  });
}

// Clients never send anything after the request: a read completing means the
// peer went away, which is how presence notices a closed tab at once.
void SseConnection::watchPeer() {
  stream_.async_read_some(asio::buffer(&peerByte_, 1),
                          [self = shared_from_this()](error_code, std::size_t) {
                            self->finish();
                          });
}

void SseConnection::finish() {
  if (closed_.exchange(true)) return;
  error_code ignored;
  timer_.cancel();
  stream_.tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(callbackMu_);
    finished_ = true;
    callbacks.swap(callbacks_);
  }
  for (auto& cb : callbacks) cb();
}

}  // namespace amphi::http::impl
