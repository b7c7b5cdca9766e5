#include "http/sse_connection.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace amphi::http::impl {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {
// The kernel's share of a stream's backlog. Left to autotuning, a loopback or fast-LAN
// socket grows its send buffer past a megabyte, which would hold thousands of frames for
// a client that stopped reading before the queue limit could notice it.
constexpr int kSendBuffer = 64 * 1024;
const auto kHeartbeat = std::make_shared<const std::string>(":\n\n");
const auto kGoodbye =
    std::make_shared<const std::string>(": server shutting down, reconnect\nretry: 500\n\n");
}  // namespace

SseConnection::SseConnection(Stream stream, std::chrono::seconds heartbeat,
                             std::size_t queueLimit, Metrics& metrics)
    : stream_(std::move(stream)),
      direct_(stream_.tls() == nullptr),
      timer_(stream_.get_executor()),
      heartbeat_(heartbeat),
      queueLimit_(queueLimit),
      metrics_(metrics) {
  error_code ignored;
  stream_.tcp().socket().set_option(asio::socket_base::send_buffer_size(kSendBuffer), ignored);
  metrics_.sseConnections++;
  metrics_.sseOpened++;
}

SseConnection::~SseConnection() { metrics_.sseConnections--; }

void SseConnection::post(void (SseConnection::*step)()) {
  asio::post(stream_.get_executor(), [self = shared_from_this(), step] { ((*self).*step)(); });
}

void SseConnection::start(std::string head) {
  Put p;
  {
    std::lock_guard lock(mu_);
    p = put(std::make_shared<const std::string>(std::move(head)), false);
  }
  afterPut(p);
  post(&SseConnection::armHeartbeat);
  post(&SseConnection::watchPeer);
}

bool SseConnection::send(Frame frame) {
  if (closed_) return false;
  Put p = Put::Failed;
  bool behind = false;
  {
    std::lock_guard lock(mu_);
    if (closed_ || closing_) return false;
    behind = events_ >= queueLimit_;
    if (!behind) p = put(frame, true);
  }
  if (behind) {  // fell too far behind: it resumes by id
    metrics_.sseDroppedSlow++;
    post(&SseConnection::finish);
    return false;
  }
  if (p == Put::Failed) return false;  // the peer is gone
  metrics_.sseFramesSent++;
  afterPut(p);
  return true;
}

// Only one writer at a time: a direct send(2) while nothing is in flight, else the
// strand's async write. WriteLater means this call started the strand's writing.
SseConnection::Put SseConnection::put(const Frame& frame, bool counted) {
  if (closed_) return Put::Failed;
  Put result = Put::Queued;
  if (!writing_ && !direct_) {
    queueSkip_ = 0;
    writing_ = true;
    result = Put::WriteLater;
  } else if (!writing_) {
    const ssize_t n = ::send(stream_.tcp().socket().native_handle(), frame->data(), frame->size(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(frame->size())) {
      lastWrite_ = Clock::now();
      return Put::Written;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      post(&SseConnection::finish);
      return Put::Failed;
    }
    queueSkip_ = n > 0 ? static_cast<std::size_t>(n) : 0;
    writing_ = true;
    result = Put::WriteLater;
  }
  queue_.push_back(frame);
  if (counted) {
    ++events_;
    ++queuedEvents_;
  }
  return result;
}

void SseConnection::afterPut(Put p) {
  if (p == Put::WriteLater) post(&SseConnection::writeNext);
}

void SseConnection::close() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    bool idle = false;
    {
      std::lock_guard lock(self->mu_);
      self->closing_ = true;
      idle = !self->writing_;
    }
    if (idle) self->finish();
  });
}

void SseConnection::goodbye() {
  asio::post(stream_.get_executor(), [self = shared_from_this()] {
    Put p;
    bool idle = false;
    {
      std::lock_guard lock(self->mu_);
      p = self->put(kGoodbye, false);
      self->closing_ = true;
      idle = !self->writing_;
    }
    self->afterPut(p);
    if (idle) self->finish();
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

// Strand. Writes out what the kernel did not take at once, and whatever queued behind it.
void SseConnection::writeNext() {
  std::vector<asio::const_buffer> buffers;
  bool finishNow = false;
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    if (queue_.empty()) {
      writing_ = false;
      finishNow = closing_;
    } else {
      inflight_.swap(queue_);
      inflightEvents_ = queuedEvents_;
      queuedEvents_ = 0;
      buffers.reserve(inflight_.size());
      for (const auto& f : inflight_) buffers.emplace_back(asio::buffer(*f));
      buffers.front() += queueSkip_;
      queueSkip_ = 0;
    }
  }
  if (finishNow) return finish();
  if (buffers.empty()) return;
  asio::async_write(stream_, buffers, [self = shared_from_this()](error_code ec, std::size_t) {
    {
      std::lock_guard lock(self->mu_);
      self->inflight_.clear();
      self->events_ -= self->inflightEvents_;
      self->inflightEvents_ = 0;
      self->lastWrite_ = Clock::now();
    }
    if (ec) return self->finish();
    self->writeNext();
  });
}

void SseConnection::armHeartbeat() {
  timer_.expires_after(heartbeat_);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return;
    Put p = Put::Queued;
    {
      std::lock_guard lock(self->mu_);
      if (Clock::now() - self->lastWrite_ >= self->heartbeat_ / 2) p = self->put(kHeartbeat, false);
    }
    self->afterPut(p);
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

// Strand.
void SseConnection::finish() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    timer_.cancel();
    stream_.tcp().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
    queue_.clear();
  }
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(callbackMu_);
    finished_ = true;
    callbacks.swap(callbacks_);
  }
  for (auto& cb : callbacks) cb();
}

}  // namespace amphi::http::impl
