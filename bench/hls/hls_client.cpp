#include "hls_client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "http_util.hpp"

namespace bench::hls {
namespace {

constexpr std::size_t kHeadLimit = 16 * 1024;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kReopenDelayNs = 200 * kMs;
constexpr int64_t kRetryDelayNs = 100 * kMs;
constexpr int64_t kScanEveryNs = 100 * kMs;
constexpr int kOne = 1;

enum class State : uint8_t { Fresh, Connecting, Open, Closed };
enum class Req : uint8_t { None, Playlist, Blocking, Part, Load };

}  // namespace

struct Conn {
  int fd = -1;
  State state = State::Fresh;
  Req req = Req::None;
  bool requestOut = false;  // a request was sent and its response is not complete
  bool inBody = false;
  bool started = false;  // got its first 200
  bool delayed = false;  // the next request waits for retryAt
  bool haveLast = false;
  bool haveHint = false;
  bool fresh = false;    // (re)opened, no complete response yet: counts in connecting_
  bool wantOut = false;  // EPOLLOUT registered
  ResponseHead head;
  std::string headBuf, body, out;
  std::size_t bodyGot = 0;
  PartKey asked = 0;  // the part a Blocking or Part request names
  int64_t sentNs = 0;
  int64_t retryAt = 0;  // Closed: reopen then; delayed: next request then
  uint64_t epoch = 0;
  PartKey lastKey = 0;  // newest part fetched (Viewer)
  PartKey hint = 0;
  std::vector<PartKey> toFetch;
  std::size_t fetchAt = 0;
  uint32_t loadIndex = 0;
  uint64_t round = 0;  // Held: the last round this connection asked for
  uint32_t drops = 0;
  int64_t lastDropNs = 0;
};

class HlsClient::Loop {
 public:
  struct Round {
    const std::atomic<uint64_t>& seq;
    const std::atomic<PartKey>& part;
  };
  Loop(const ClientOptions& o, uint32_t first, std::size_t count, double rate,
       const std::atomic<bool>& stop, Round round)
      : o_(o),
        first_(first),
        conns_(count),
        rate_(rate),
        stop_(stop),
        round_(round),
        buf_(256 * 1024) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < conns_.size(); ++i)
      conns_[i].loadIndex = first + static_cast<uint32_t>(i);
  }
  ~Loop() {
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
  }
  void run();

  std::atomic<std::size_t> opened{0}, established{0};
  std::atomic<uint64_t> responses{0}, deliveryCount{0};
  // Read after the thread ended.
  std::vector<Delivery> deliveries;
  ClientCounters counters;
  void addViewerStates(std::vector<ViewerState>& out) const;

 private:
  uint32_t idOf(const Conn& c) const { return first_ + static_cast<uint32_t>(&c - conns_.data()); }
  void openDue(int64_t now);
  void connect(Conn& c, int64_t now);
  void onEvent(Conn& c, uint32_t events);
  void onConnected(Conn& c);
  void readable(Conn& c);
  int readHead(Conn& c, const char*& data, std::size_t& n);
  bool consume(Conn& c, const char* data, std::size_t n);
  bool complete(Conn& c, int64_t now);
  void onPlaylist(Conn& c, int64_t now);
  void onPart(Conn& c, int64_t now);
  void next(Conn& c);
  void first(Conn& c);
  void issue(Conn& c, Req req, PartKey key, const std::string& text);
  void flush(Conn& c);
  void delay(Conn& c, int64_t now, int64_t ns);
  void drop(Conn& c, int64_t now);
  void scan(int64_t now);
  void checkRound();

  const ClientOptions& o_;
  uint32_t first_;
  std::vector<Conn> conns_;
  double rate_;
  const std::atomic<bool>& stop_;
  Round round_;
  uint64_t roundSeen_ = 0;
  PartKey roundPart_ = 0;
  int ep_ = -1;
  std::size_t nextOpen_ = 0, connecting_ = 0;
  int64_t startNs_ = 0;
  std::vector<char> buf_;
  PlaylistView view_;
};

void HlsClient::Loop::run() {
  startNs_ = nowNs();
  epoll_event events[256];
  int64_t nextScan = startNs_;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int64_t now = nowNs();
    openDue(now);
    if (o_.mode == ClientMode::Held) checkRound();
    if (now >= nextScan) {
      scan(now);
      nextScan = now + kScanEveryNs;
    }
    const int timeoutMs = nextOpen_ < conns_.size() ? 1 : 20;
    const int n = epoll_wait(ep_, events, 256, timeoutMs);
    for (int i = 0; i < n; ++i) onEvent(conns_[events[i].data.u64], events[i].events);
  }
  for (auto& c : conns_) {
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
  }
}

void HlsClient::Loop::openDue(int64_t now) {
  const double elapsed = static_cast<double>(now - startNs_) / 1e9;
  const auto allowed = std::min(conns_.size(), static_cast<std::size_t>(rate_ * elapsed) + 1);
  while (nextOpen_ < allowed && connecting_ < o_.maxConnecting) {
    opened.fetch_add(1, std::memory_order_relaxed);
    connect(conns_[nextOpen_++], now);
  }
}

void HlsClient::Loop::connect(Conn& c, int64_t now) {
  const uint32_t id = idOf(c);
  c.fd = connectLoopback(o_.port, static_cast<int>(2 + id % 249), true);
  c.sentNs = now;  // connect timeout
  if (c.fd < 0) {
    counters.connectErrors++;
    c.state = State::Closed;
    c.retryAt = now + kReopenDelayNs;
    return;
  }
  c.state = State::Connecting;
  c.fresh = true;
  connecting_++;
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.u64 = id - first_;
  epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
}

void HlsClient::Loop::onEvent(Conn& c, uint32_t events) {
  if (c.fd < 0) return;
  if (c.state == State::Connecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) onConnected(c);
    return;
  }
  if (events & EPOLLOUT) flush(c);
  if (c.fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) readable(c);
}

void HlsClient::Loop::onConnected(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  c.state = State::Open;
  if (err != 0) {
    counters.connectErrors++;
    return drop(c, nowNs());
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = idOf(c) - first_;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  c.wantOut = false;
  c.delayed = false;
  first(c);
}

void HlsClient::Loop::readable(Conn& c) {
  for (;;) {
    const auto n = recv(c.fd, buf_.data(), buf_.size(), 0);
    if (n > 0) {
      if (o_.quickAck) setsockopt(c.fd, IPPROTO_TCP, TCP_QUICKACK, &kOne, sizeof kOne);
      if (!consume(c, buf_.data(), static_cast<std::size_t>(n))) return;
      if (static_cast<std::size_t>(n) < buf_.size()) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (c.requestOut || n < 0) counters.serverCloses++;
    return drop(c, nowNs());
  }
}

// Reads a response head from the front of data (most arrive whole in one read and are
// parsed in place). Returns 1 when the head is complete (data and n then point past it),
// 0 when more bytes are needed (all of them were kept), -1 on a protocol error.
int HlsClient::Loop::readHead(Conn& c, const char*& data, std::size_t& n) {
  std::string_view head;
  std::size_t used = 0;
  if (c.headBuf.empty()) {
    const std::string_view chunk(data, n);
    const auto end = chunk.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      c.headBuf.assign(data, n);
      return n > kHeadLimit ? -1 : 0;
    }
    head = chunk.substr(0, end);
    used = end + 4;
  } else {
    const std::size_t old = c.headBuf.size();
    c.headBuf.append(data, std::min(n, kHeadLimit));
    const auto end = c.headBuf.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (end == std::string::npos) return c.headBuf.size() >= kHeadLimit ? -1 : 0;
    head = std::string_view(c.headBuf).substr(0, end);
    used = end + 4 - old;
  }
  c.head = parseHead(head);
  c.headBuf.clear();
  if (c.head.status == 0 || c.head.chunked) return -1;
  data += used;
  n -= used;
  return 1;
}

// Feeds received bytes to the response parser; false when the connection was dropped.
bool HlsClient::Loop::consume(Conn& c, const char* data, std::size_t n) {
  while (n > 0) {
    const int head = !c.requestOut ? -1 : c.inBody ? 1 : readHead(c, data, n);
    if (head < 0) {
      counters.protocolErrors++;  // bytes nobody asked for, or no valid head
      drop(c, nowNs());
      return false;
    }
    if (head == 0) return true;
    if (!c.inBody) {
      c.inBody = true;
      c.body.clear();
      c.bodyGot = 0;
    }
    const std::size_t take = std::min(n, c.head.contentLength - c.bodyGot);
    if (c.req == Req::Playlist || c.req == Req::Blocking) c.body.append(data, take);
    c.bodyGot += take;
    counters.bodyBytes += take;
    data += take;
    n -= take;
    if (c.bodyGot == c.head.contentLength) {
      c.inBody = false;
      c.requestOut = false;
      if (!complete(c, nowNs())) return false;
    }
  }
  return true;
}

bool HlsClient::Loop::complete(Conn& c, int64_t now) {
  if (c.fresh) {
    c.fresh = false;
    connecting_--;
  }
  counters.responses++;
  responses.fetch_add(1, std::memory_order_relaxed);
  if (c.head.status != 200) counters.statuses[c.head.status]++;
  if (c.head.close) {
    // The server ends keep-alive: reopen at once (not a drop); the next request goes out
    // on the new connection (issue() sends nothing on a closed one).
    close(c.fd);
    c.fd = -1;
    c.state = State::Closed;
    c.retryAt = now;
  }
  if (o_.mode == ClientMode::Load) {
    if (!c.started && c.head.status == 200) {
      c.started = true;
      established.fetch_add(1, std::memory_order_relaxed);
    }
    next(c);
  } else if (c.req == Req::Part) {
    onPart(c, now);
  } else {
    onPlaylist(c, now);
  }
  return c.state == State::Open;
}

void HlsClient::Loop::onPlaylist(Conn& c, int64_t now) {
  if (c.head.status != 200) {
    // 503: held three target durations without the part; ask again. Others: start over.
    if (c.head.status != 503) c.haveHint = false;
    return delay(c, now, c.head.status == 503 ? 0 : 5 * kRetryDelayNs);
  }
  if (!c.started) {
    c.started = true;
    established.fetch_add(1, std::memory_order_relaxed);
  }
  if (o_.mode == ClientMode::Held) {
    if (c.req == Req::Blocking) {
      deliveries.push_back({c.asked, c.sentNs, now, idOf(c)});
      deliveryCount.fetch_add(1, std::memory_order_relaxed);
    }
    return next(c);
  }
  parsePlaylist(c.body, view_);
  if (!view_.hint || view_.ended) {
    c.haveHint = false;
    return delay(c, now, 5 * kRetryDelayNs);
  }
  c.epoch = view_.epoch;
  c.hint = *view_.hint;
  c.haveHint = true;
  if (o_.mode == ClientMode::Viewer) {
    if (!c.haveLast) {
      c.lastKey = view_.parts.empty() ? 0 : view_.parts.back();
      c.haveLast = true;
    }
    c.toFetch.clear();
    c.fetchAt = 0;
    for (PartKey k : view_.parts) {
      if (k > c.lastKey) c.toFetch.push_back(k);
    }
  }
  next(c);
}

void HlsClient::Loop::onPart(Conn& c, int64_t now) {
  if (c.head.status == 200) {
    deliveries.push_back({c.asked, c.sentNs, now, idOf(c)});
    deliveryCount.fetch_add(1, std::memory_order_relaxed);
  }
  c.lastKey = std::max(c.lastKey, c.asked);
  c.fetchAt++;
  next(c);
}

// The request that follows a response (or a delay).
void HlsClient::Loop::next(Conn& c) {
  if (o_.mode == ClientMode::Load) {
    const auto& paths = o_.loadPaths;
    return issue(c, Req::Load, 0, pathRequest(paths[c.loadIndex++ % paths.size()], o_.port));
  }
  if (o_.mode == ClientMode::Held) {
    // Idle until the next round (checkRound() sends it).
    if (c.round == roundSeen_ || roundSeen_ == 0) return;
    c.round = roundSeen_;
    return issue(c, Req::Blocking, roundPart_, blockingRequest(o_.room, o_.port, roundPart_));
  }
  if (!c.haveHint) return first(c);
  if (c.fetchAt < c.toFetch.size()) {
    const PartKey k = c.toFetch[c.fetchAt];
    return issue(c, Req::Part, k, partRequest(o_.room, o_.port, c.epoch, k));
  }
  issue(c, Req::Blocking, c.hint, blockingRequest(o_.room, o_.port, c.hint));
}

// The first request on a (re)opened connection: a plain playlist load, as a player starts.
void HlsClient::Loop::first(Conn& c) {
  if (o_.mode == ClientMode::Load) return next(c);
  c.toFetch.clear();
  c.fetchAt = 0;
  issue(c, Req::Playlist, 0, playlistRequest(o_.room, o_.port));
}

void HlsClient::Loop::issue(Conn& c, Req req, PartKey key, const std::string& text) {
  if (c.state != State::Open) return;
  c.req = req;
  c.asked = key;
  c.requestOut = true;
  c.inBody = false;
  c.headBuf.clear();
  c.out = text;
  c.sentNs = nowNs();
  flush(c);
}

void HlsClient::Loop::flush(Conn& c) {
  while (!c.out.empty()) {
    const auto n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      counters.serverCloses++;
      return drop(c, nowNs());
    }
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  const bool wantOut = !c.out.empty();
  if (wantOut == c.wantOut) return;  // no epoll_ctl per request
  c.wantOut = wantOut;
  epoll_event ev{};
  ev.events = EPOLLIN | (wantOut ? static_cast<uint32_t>(EPOLLOUT) : 0u);
  ev.data.u64 = idOf(c) - first_;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
}

void HlsClient::Loop::delay(Conn& c, int64_t now, int64_t ns) {
  c.delayed = true;
  c.retryAt = now + ns;
}

void HlsClient::Loop::drop(Conn& c, int64_t now) {
  if (c.fresh) connecting_--;
  c.fresh = false;
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  c.state = State::Closed;
  c.retryAt = now + kReopenDelayNs;
  c.requestOut = c.inBody = c.delayed = false;
  c.out.clear();
  c.drops++;
  c.lastDropNs = now;
}

void HlsClient::Loop::scan(int64_t now) {
  const int64_t timeout = std::chrono::nanoseconds(o_.requestTimeout).count();
  for (std::size_t i = 0; i < nextOpen_; ++i) {
    Conn& c = conns_[i];
    if (c.state == State::Closed && c.retryAt <= now && connecting_ < o_.maxConnecting) {
      counters.reconnects++;
      connect(c, now);
    } else if ((c.state == State::Connecting || c.requestOut) && now - c.sentNs > timeout) {
      counters.clientTimeouts++;
      drop(c, now);
    } else if (c.state == State::Open && c.delayed && c.retryAt <= now) {
      c.delayed = false;
      next(c);
    }
  }
}

void HlsClient::Loop::checkRound() {
  const uint64_t seq = round_.seq.load(std::memory_order_acquire);
  if (seq == roundSeen_) return;
  roundSeen_ = seq;
  roundPart_ = round_.part.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < nextOpen_; ++i) {
    Conn& c = conns_[i];
    if (c.state == State::Open && c.started && !c.requestOut && !c.delayed) next(c);
  }
}

void HlsClient::Loop::addViewerStates(std::vector<ViewerState>& out) const {
  for (const auto& c : conns_) {
    out.push_back({c.started, c.state == State::Open, c.drops, c.lastDropNs});
  }
}

HlsClient::HlsClient(ClientOptions options) : options_(std::move(options)) {
  const auto threads = static_cast<std::size_t>(std::max(1, options_.threads));
  const std::size_t n = options_.connections;
  for (std::size_t t = 0; t < threads; ++t) {
    const std::size_t from = n * t / threads, to = n * (t + 1) / threads;
    loops_.push_back(std::make_unique<Loop>(options_, static_cast<uint32_t>(from), to - from,
                                            options_.openRate / static_cast<double>(threads), stop_,
                                            Loop::Round{round_, roundPart_}));
  }
}

HlsClient::~HlsClient() {
  stop();
}

void HlsClient::start() {
  for (auto& loop : loops_) threads_.emplace_back([l = loop.get()] { l->run(); });
}

void HlsClient::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void HlsClient::startRound(PartKey part) {
  roundPart_.store(part, std::memory_order_release);
  round_.fetch_add(1, std::memory_order_acq_rel);
}

std::size_t HlsClient::opened() const {
  std::size_t n = 0;
  for (const auto& l : loops_) n += l->opened.load();
  return n;
}

std::size_t HlsClient::established() const {
  std::size_t n = 0;
  for (const auto& l : loops_) n += l->established.load();
  return n;
}

uint64_t HlsClient::responses() const {
  uint64_t n = 0;
  for (const auto& l : loops_) n += l->responses.load(std::memory_order_relaxed);
  return n;
}

uint64_t HlsClient::deliveryCount() const {
  uint64_t n = 0;
  for (const auto& l : loops_) n += l->deliveryCount.load(std::memory_order_relaxed);
  return n;
}

std::vector<Delivery> HlsClient::deliveries() const {
  std::vector<Delivery> all;
  for (const auto& l : loops_) all.insert(all.end(), l->deliveries.begin(), l->deliveries.end());
  return all;
}

std::vector<ViewerState> HlsClient::viewers() const {
  std::vector<ViewerState> all;
  for (const auto& l : loops_) l->addViewerStates(all);
  return all;
}

ClientCounters HlsClient::counters() const {
  ClientCounters sum;
  for (const auto& l : loops_) {
    const auto& c = l->counters;
    sum.responses += c.responses;
    sum.bodyBytes += c.bodyBytes;
    sum.connectErrors += c.connectErrors;
    sum.serverCloses += c.serverCloses;
    sum.clientTimeouts += c.clientTimeouts;
    sum.protocolErrors += c.protocolErrors;
    sum.reconnects += c.reconnects;
    for (const auto& [status, n] : c.statuses) sum.statuses[status] += n;
  }
  return sum;
}

}  // namespace bench::hls
