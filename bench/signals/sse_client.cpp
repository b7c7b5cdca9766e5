#include "sse_client.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "http_util.hpp"

namespace bench {
namespace {

enum class State : uint8_t { Idle, Connecting, Head, Stream, Closed };
enum Line : uint8_t { kStart, kName, kSkipSpace, kValue, kComment };
enum Field : uint8_t { kOther, kId, kEvent, kData };
enum Chunk : uint8_t { kSize, kSizeExt, kChunkData, kChunkEnd };

constexpr int kFirstSource = 2;    // 127.0.0.2 ..
constexpr int kSourceCount = 249;  // .. 127.0.0.250
constexpr std::size_t kReadBuffer = 64 * 1024;

const std::vector<std::string> kKnownTypes = {
    "ROOM_LIVE",     "ROOM_ENDED",         "RAISE_HAND",       "LOWER_HAND", "PROMOTE", "DEMOTE",
    "STAGE_CHANGED", "PARTICIPANT_JOINED", "PARTICIPANT_LEFT", "RESET",      "message", "other"};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

struct SseClient::Conn {
  int fd = -1;
  std::atomic<State> state{State::Idle};
  bool capture = false;
  bool chunked = false;
  bool hasField = false;  // the current frame has an event or data line
  uint8_t line = kStart;
  uint8_t field = kOther;
  uint8_t nameLen = 0;
  uint8_t typeLen = 0;
  uint8_t chunk = kSize;
  char name[6] = {};
  char type[24] = {};
  uint32_t chunkLeft = 0;
  std::size_t sent = 0;
  std::string request;                 // until it is sent
  std::string head;                    // until the response head is complete
  std::unique_ptr<CapturedFrame> cap;  // the frame being read, capture connections only
};

struct SseClient::Worker {
  int ep = -1;
  std::thread thread;
  std::vector<std::size_t> pending;  // connections to open, in order
  std::size_t next = 0;
  std::size_t connecting = 0;
  std::vector<char> buf = std::vector<char>(kReadBuffer);
};

SseClient::SseClient(Options options) : options_(std::move(options)), typeNames_(kKnownTypes) {
  typeCounts_ = std::make_unique<std::atomic<uint64_t>[]>(typeNames_.size());
}

SseClient::~SseClient() {
  stop_ = true;
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    close(w->ep);
  }
  for (auto& c : conns_) {
    if (c.fd >= 0) close(c.fd);
  }
}

void SseClient::open(std::vector<SseTarget> targets, std::chrono::milliseconds stall) {
  conns_ = std::vector<Conn>(targets.size());
  stamps_ = std::make_unique<std::atomic<int64_t>[]>(targets.size());
  heads_ = std::make_unique<std::atomic<int64_t>[]>(targets.size());
  const int threads = std::max(1, options_.threads);
  for (int t = 0; t < threads; ++t) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->ep = epoll_create1(EPOLL_CLOEXEC);
  }
  for (std::size_t i = 0; i < targets.size(); ++i) {
    conns_[i].request = std::move(targets[i].request);
    conns_[i].capture = targets[i].capture;
    if (conns_[i].capture) conns_[i].cap = std::make_unique<CapturedFrame>();
    workers_[i % workers_.size()]->pending.push_back(i);
  }
  for (auto& w : workers_) w->thread = std::thread([this, raw = w.get()] { run(*raw); });
  std::size_t done = 0;
  auto progress = std::chrono::steady_clock::now();
  while (done < conns_.size() && std::chrono::steady_clock::now() - progress < stall) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (headOk_ + refused_ != done) {
      done = headOk_ + refused_;
      progress = std::chrono::steady_clock::now();
    }
  }
}

void SseClient::run(Worker& w) {
  epoll_event events[512];
  while (!stop_) {
    startConnects(w);
    const int n = epoll_wait(w.ep, events, 512, 10);
    for (int e = 0; e < n; ++e) onEvent(w, events[e].data.u64, events[e].events);
  }
}

void SseClient::startConnects(Worker& w) {
  const std::size_t limit = std::max<std::size_t>(1, options_.maxConnecting / workers_.size());
  while (w.connecting < limit && w.next < w.pending.size()) {
    const std::size_t i = w.pending[w.next++];
    auto& c = conns_[i];
    c.fd = connectLoopback(options_.port, kFirstSource + static_cast<int>(i % kSourceCount), true);
    if (c.fd < 0) {
      const int err = errno;
      std::lock_guard lock(mu_);
      statuses_.emplace_back(-err, 1);
      c.state = State::Closed;
      refused_++;
      continue;
    }
    c.state = State::Connecting;
    w.connecting++;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(w.ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
}

void SseClient::onEvent(Worker& w, std::size_t i, uint32_t events) {
  auto& c = conns_[i];
  if (c.state == State::Connecting && (events & EPOLLOUT)) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return closeConn(w, i, -err);
    while (c.sent < c.request.size()) {
      const auto n = send(c.fd, c.request.data() + c.sent, c.request.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EAGAIN) return;  // EPOLLOUT again later
      if (n <= 0) return closeConn(w, i, -errno);
      c.sent += static_cast<std::size_t>(n);
    }
    std::string().swap(c.request);
    c.state = State::Head;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(w.ep, EPOLL_CTL_MOD, c.fd, &ev);
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) readable(w, i);
}

void SseClient::readable(Worker& w, std::size_t i) {
  auto& c = conns_[i];
  while (c.fd >= 0) {
    const auto n = read(c.fd, w.buf.data(), w.buf.size());
    if (n > 0) {
      const int64_t now = nowNs();
      bytes_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      feed(w, i, w.buf.data(), static_cast<std::size_t>(n), now);
      if (static_cast<std::size_t>(n) < w.buf.size()) return;  // most likely drained
      continue;
    }
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0 && errno == EINTR) continue;
    return closeConn(w, i, n < 0 ? -errno : 0);
  }
}

void SseClient::feed(Worker& w, std::size_t i, const char* p, std::size_t n, int64_t now) {
  if (conns_[i].state == State::Head && !feedHead(w, i, p, n)) return;
  if (conns_[i].state == State::Stream && n > 0) feedBody(i, p, n, now);
}

// Consumes the response head; on return p/n hold what follows it. False: closed.
bool SseClient::feedHead(Worker& w, std::size_t i, const char*& p, std::size_t& n) {
  auto& c = conns_[i];
  const std::size_t from = c.head.size() >= 3 ? c.head.size() - 3 : 0;
  c.head.append(p, n);
  const auto end = c.head.find("\r\n\r\n", from);
  if (end == std::string::npos) {
    p += n;
    n = 0;
    return true;
  }
  const std::size_t rest = c.head.size() - (end + 4);
  p += n - rest;
  n = rest;
  const int status = c.head.size() > 12 ? std::atoi(c.head.c_str() + 9) : 0;
  std::string lower = c.head.substr(0, end);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  c.chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
  std::string().swap(c.head);
  if (status != 200) {
    closeConn(w, i, status);
    return false;
  }
  heads_[i].store(nowNs(), std::memory_order_relaxed);
  c.state = State::Stream;
  w.connecting--;
  headOk_++;
  return true;
}

void SseClient::feedBody(std::size_t i, const char* p, std::size_t n, int64_t now) {
  auto& c = conns_[i];
  if (!c.chunked) return feedSse(i, p, n, now);
  while (n > 0) {
    if (c.chunk == kChunkData) {
      const std::size_t take = std::min<std::size_t>(n, c.chunkLeft);
      feedSse(i, p, take, now);
      p += take;
      n -= take;
      c.chunkLeft -= static_cast<uint32_t>(take);
      if (c.chunkLeft == 0) c.chunk = kChunkEnd;
      continue;
    }
    const char ch = *p++;
    --n;
    if (c.chunk == kSize && hexDigit(ch) >= 0) {
      c.chunkLeft = c.chunkLeft * 16 + static_cast<uint32_t>(hexDigit(ch));
    } else if (c.chunk == kSize && ch == ';') {
      c.chunk = kSizeExt;
    } else if (ch == '\n') {
      // End of the size line: data follows (a 0 chunk ends the body: nothing follows).
      c.chunk = (c.chunk == kChunkEnd || c.chunkLeft == 0) ? kSize : kChunkData;
    }
  }
}

void SseClient::feedSse(std::size_t i, const char* p, std::size_t n, int64_t now) {
  auto& c = conns_[i];
  while (n > 0) {
    switch (c.line) {
      case kStart:
        if (*p == '\n') {
          endFrame(i, now);
        } else if (*p == ':') {
          c.line = kComment;
        } else if (*p != '\r') {
          c.line = kName;
          c.nameLen = 0;
          continue;  // this byte is the name's first
        }
        ++p, --n;
        break;
      case kName: {
        const char ch = *p++;
        --n;
        if (ch == ':' || ch == '\n') {
          const std::string_view name(c.name, std::min<std::size_t>(c.nameLen, sizeof c.name));
          c.field = name == "id" ? kId : name == "event" ? kEvent : name == "data" ? kData : kOther;
          if (c.field == kEvent) c.typeLen = 0;
          if (c.field == kEvent || c.field == kData) c.hasField = true;
          if (c.cap && c.field == kId) c.cap->id.clear();
          if (c.cap && c.field == kData && !c.cap->data.empty()) c.cap->data += '\n';
          c.line = ch == ':' ? kSkipSpace : kStart;
        } else if (c.nameLen < sizeof c.name) {
          c.name[c.nameLen++] = ch;
        } else {
          c.nameLen = sizeof c.name + 1;  // longer than any field we know
        }
        break;
      }
      case kSkipSpace:
        if (*p == ' ') ++p, --n;
        c.line = kValue;
        break;
      case kValue:
      case kComment: {
        const auto* nl = static_cast<const char*>(std::memchr(p, '\n', n));
        const std::size_t len = nl ? static_cast<std::size_t>(nl - p) : n;
        if (c.line == kValue && c.field == kEvent) {
          for (std::size_t k = 0; k < len && c.typeLen < sizeof c.type; ++k) {
            if (p[k] != '\r') c.type[c.typeLen++] = p[k];
          }
        } else if (c.line == kValue && c.cap && c.field == kId) {
          c.cap->id.append(p, len);
        } else if (c.line == kValue && c.cap && c.field == kData) {
          c.cap->data.append(p, len);
        }
        p += len;
        n -= len;
        if (nl) {
          ++p, --n;
          c.line = kStart;
        }
        break;
      }
    }
  }
}

void SseClient::endFrame(std::size_t i, int64_t now) {
  auto& c = conns_[i];
  if (!c.hasField) return;
  c.hasField = false;
  frames_.fetch_add(1, std::memory_order_relaxed);
  const std::string_view type =
      c.typeLen ? std::string_view(c.type, c.typeLen) : std::string_view("message");
  c.typeLen = 0;
  std::size_t t = 0;
  while (t + 1 < typeNames_.size() && typeNames_[t] != type) ++t;
  typeCounts_[t].fetch_add(1, std::memory_order_relaxed);
  const bool watched =
      std::find(options_.watch.begin(), options_.watch.end(), type) != options_.watch.end();
  if (watched && stamps_[i].load(std::memory_order_relaxed) == 0) {
    stamps_[i].store(now, std::memory_order_release);
    roundCount_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (c.cap) {
    c.cap->conn = i;
    c.cap->recvNs = now;
    c.cap->type = type;
    {
      std::lock_guard lock(mu_);
      captured_.push_back(std::move(*c.cap));
    }
    cv_.notify_all();
    *c.cap = CapturedFrame{};
  }
}

// reason: for a stream that never got its head, why (see SseCounts::statuses).
void SseClient::closeConn(Worker& w, std::size_t i, int reason) {
  auto& c = conns_[i];
  if (c.fd < 0) return;
  close(c.fd);
  c.fd = -1;
  const State was = c.state.exchange(State::Closed);
  if (was == State::Stream) {
    closed_++;
    return;
  }
  if (was == State::Connecting || was == State::Head) w.connecting--;
  {
    std::lock_guard lock(mu_);
    statuses_.emplace_back(reason, 1);
  }
  refused_++;
}

void SseClient::armRound() {
  for (std::size_t i = 0; i < conns_.size(); ++i) stamps_[i].store(0, std::memory_order_relaxed);
  roundCount_.store(0);
}

bool SseClient::waitRound(std::size_t want, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (roundCount_.load() < want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

std::size_t SseClient::size() const {
  return conns_.size();
}

int64_t SseClient::headAt(std::size_t conn) const {
  return heads_[conn].load();
}

bool SseClient::isOpen(std::size_t conn) const {
  return conns_[conn].state == State::Stream;
}

std::vector<CapturedFrame> SseClient::takeCaptured(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (captured_.empty() && timeout.count() > 0) {
    cv_.wait_for(lock, timeout, [this] { return !captured_.empty(); });
  }
  std::vector<CapturedFrame> out;
  out.swap(captured_);
  return out;
}

SseCounts SseClient::counts() const {
  SseCounts s;
  s.headOk = headOk_;
  s.refused = refused_;
  s.closed = closed_;
  s.frames = frames_;
  s.bytes = bytes_;
  for (std::size_t t = 0; t < typeNames_.size(); ++t) {
    if (auto n = typeCounts_[t].load()) s.byType.emplace_back(typeNames_[t], n);
  }
  std::lock_guard lock(mu_);
  for (const auto& [status, n] : statuses_) {
    auto it = std::find_if(s.statuses.begin(), s.statuses.end(),
                           [&](const auto& e) { return e.first == status; });
    if (it == s.statuses.end()) {
      s.statuses.emplace_back(status, n);
    } else {
      it->second += n;
    }
  }
  return s;
}

}  // namespace bench
