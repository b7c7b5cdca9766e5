#include "http_util.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <deque>
#include <stdexcept>
#include <vector>

namespace bench {

int64_t nowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string buildRequest(std::string_view method, std::string_view path, uint16_t port,
                         std::string_view body, std::string_view token) {
  std::string r = fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", method, path, port);
  if (!token.empty()) r += fmt::format("Authorization: Bearer {}\r\n", token);
  if (method == "GET") r += "Accept: text/event-stream\r\n";  // nchan insists on it
  if (method != "GET") {
    r += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  r += "\r\n";
  r += body;
  return r;
}

int connectLoopback(uint16_t port, int sourceHost, bool nonBlocking) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonBlocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (sourceHost > 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | static_cast<uint32_t>(sourceHost));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      close(fd);
      return -1;
    }
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t freeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) throw std::runtime_error("no free loopback port");
  return port;
}

namespace {
bool iequalPrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}
}  // namespace

std::size_t parseResponse(std::string_view buf, HttpResponse& out) {
  const auto headEnd = buf.find("\r\n\r\n");
  if (headEnd == std::string_view::npos) return 0;
  const auto head = buf.substr(0, headEnd);
  std::size_t length = 0;
  for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos;) {
    const auto line = head.substr(pos + 2, head.find("\r\n", pos + 2) - pos - 2);
    if (iequalPrefix(line, "content-length:")) length = std::stoul(std::string(line.substr(15)));
    pos = head.find("\r\n", pos + 2);
  }
  if (buf.size() < headEnd + 4 + length) return 0;
  out.status = head.size() > 12 ? std::atoi(std::string(head.substr(9, 3)).c_str()) : 0;
  out.body.assign(buf.substr(headEnd + 4, length));
  return headEnd + 4 + length;
}

HttpConn::~HttpConn() {
  if (fd_ >= 0) close(fd_);
}

HttpResponse HttpConn::request(std::string_view method, std::string_view path,
                               std::string_view body, std::string_view token) {
  return send(buildRequest(method, path, port_, body, token));
}

HttpResponse HttpConn::send(const std::string& request, int64_t* sentNs) {
  auto r = attempt(request, sentNs);
  if (r.status == 0) r = attempt(request, sentNs);  // keep-alive closed under us
  return r;
}

HttpResponse HttpConn::attempt(const std::string& request, int64_t* sentNs) {
  HttpResponse r;
  if (fd_ < 0) {
    fd_ = connectLoopback(port_, 0, false);
    in_.clear();
    if (fd_ < 0) return r;
  }
  if (sentNs) *sentNs = nowNs();
  if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd_);
    fd_ = -1;
    return r;
  }
  char buf[16384];
  for (;;) {
    if (auto used = parseResponse(in_, r)) {
      in_.erase(0, used);
      return r;
    }
    const auto n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd_);
      fd_ = -1;
      return HttpResponse{};
    }
    in_.append(buf, static_cast<std::size_t>(n));
  }
}

namespace {

struct PoolConn {
  int fd = -1;
  std::string in, out;
  std::deque<std::pair<std::size_t, int64_t>> inflight;  // (k, sentNs)
};

class Pool {
 public:
  Pool(uint16_t port, const PoolJob& job) : port_(port), job_(job), conns_(job.connections) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    for (std::size_t i = 0; i < conns_.size(); ++i) reopen(i);
  }
  ~Pool() {
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
  }
  PoolResult run();

 private:
  void reopen(std::size_t i);
  void fail(std::size_t i);
  bool sendNext(int64_t now);
  void onReadable(std::size_t i);
  void flush(std::size_t i);
  int64_t dueOf(std::size_t k) const { return job_.due ? job_.due(k) : 0; }

  uint16_t port_;
  const PoolJob& job_;
  std::vector<PoolConn> conns_;
  int ep_ = -1;
  std::size_t next_ = 0, finished_ = 0;
  PoolResult result_;
};

void Pool::reopen(std::size_t i) {
  auto& c = conns_[i];
  if (c.fd >= 0) close(c.fd);
  c.fd = connectLoopback(port_, 0, true);
  if (c.fd < 0) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port_));
  c.in.clear();
  c.out.clear();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = i;
  epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
}

void Pool::fail(std::size_t i) {
  auto& c = conns_[i];
  const int64_t now = nowNs();
  for (auto [k, sent] : c.inflight) {
    result_.failed++;
    finished_++;
    if (job_.done) job_.done(k, sent, now, HttpResponse{});
  }
  c.inflight.clear();
  reopen(i);
}

void Pool::flush(std::size_t i) {
  auto& c = conns_[i];
  while (!c.out.empty()) {
    const auto n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == ENOTCONN)) break;  // still connecting
    if (n <= 0) return fail(i);
    c.out.erase(0, static_cast<std::size_t>(n));
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (c.out.empty() ? 0u : static_cast<uint32_t>(EPOLLOUT));
  ev.data.u64 = i;
  epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
}

bool Pool::sendNext(int64_t now) {
  if (next_ >= job_.total || dueOf(next_) > now) return false;
  std::size_t best = conns_.size();
  for (std::size_t i = 0; i < conns_.size(); ++i) {
    const auto load = conns_[i].inflight.size();
    if (static_cast<int>(load) >= job_.maxInFlight) continue;
    if (best == conns_.size() || load < conns_[best].inflight.size()) best = i;
    if (load == 0) break;
  }
  if (best == conns_.size()) return false;
  auto& c = conns_[best];
  if (!c.inflight.empty()) result_.pipelined++;
  const std::size_t k = next_++;
  c.out += job_.request(k);
  const int64_t sent = nowNs();
  c.inflight.emplace_back(k, sent);
  result_.sent++;
  flush(best);
  return true;
}

void Pool::onReadable(std::size_t i) {
  auto& c = conns_[i];
  char buf[65536];
  const auto n = recv(c.fd, buf, sizeof buf, 0);
  if (n == 0 || (n < 0 && errno != EAGAIN)) return fail(i);
  if (n < 0) return;
  const int64_t now = nowNs();
  c.in.append(buf, static_cast<std::size_t>(n));
  HttpResponse r;
  std::size_t used = 0;
  while (!c.inflight.empty()) {
    const auto got = parseResponse(std::string_view(c.in).substr(used), r);
    if (!got) break;
    used += got;
    auto [k, sent] = c.inflight.front();
    c.inflight.pop_front();
    finished_++;
    if (job_.done) job_.done(k, sent, now, r);
  }
  c.in.erase(0, used);
}

PoolResult Pool::run() {
  result_.startNs = nowNs();
  epoll_event events[64];
  while (finished_ < job_.total) {
    while (sendNext(nowNs())) {
    }
    // Until the next request is due; when it is due already, every connection is busy:
    // wait for a response.
    int64_t waitNs = 100'000'000;
    if (next_ < job_.total) {
      const int64_t until = dueOf(next_) - nowNs();
      if (until > 0) waitNs = until;
    }
    const timespec ts{static_cast<time_t>(waitNs / 1'000'000'000),
                      static_cast<long>(waitNs % 1'000'000'000)};
    const int n = epoll_pwait2(ep_, events, 64, &ts, nullptr);
    for (int e = 0; e < n; ++e) {
      const auto i = static_cast<std::size_t>(events[e].data.u64);
      if (events[e].events & EPOLLOUT) flush(i);
      if (events[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) onReadable(i);
    }
  }
  result_.endNs = nowNs();
  return result_;
}

}  // namespace

PoolResult runPool(uint16_t port, const PoolJob& job) {
  Pool pool(port, job);
  return pool.run();
}

}  // namespace bench
