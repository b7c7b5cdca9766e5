#include "http_client.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace amphi::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds left(Clock::time_point deadline) {
  return std::max(milliseconds(0),
                  std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& headers,
               const std::string& name) {
  return std::any_of(headers.begin(), headers.end(),
                     [&](const auto& h) { return lower(h.first) == name; });
}

std::string buildRequest(const wire::Endpoint& ep, const std::string& method,
                         const std::string& target, const std::string& body,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string req = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n", method,
                                target, ep.host, ep.port);
  for (const auto& [name, value] : headers) req += fmt::format("{}: {}\r\n", name, value);
  bool bodyMethod = method == "POST" || method == "PUT" || method == "PATCH";
  if ((!body.empty() || bodyMethod) && !hasHeader(headers, "content-length"))
    req += fmt::format("Content-Length: {}\r\n", body.size());
  if (!body.empty() && !hasHeader(headers, "content-type"))
    req += "Content-Type: application/json\r\n";
  return req + "\r\n" + body;
}

}  // namespace

nlohmann::json HttpResult::json() const {
  return nlohmann::json::parse(body);
}

HttpResult httpRequest(const std::string& baseUrl, const std::string& method,
                       const std::string& target, const std::string& body,
                       const std::vector<std::pair<std::string, std::string>>& headers,
                       milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  auto ep = wire::parseBaseUrl(baseUrl);
  wire::Socket sock(ep, timeout);
  sock.sendAll(buildRequest(ep, method, target, body, headers), left(deadline));
  std::string raw;
  std::optional<wire::ResponseHead> head;
  bool open = true;
  while (!(head = wire::takeHead(raw))) {
    if (!open || left(deadline).count() == 0)
      throw std::runtime_error(
          fmt::format("{} {}{}: no complete response head", method, baseUrl, target));
    open = sock.receive(raw, left(deadline));
  }
  HttpResult result{head->status, head->headers, {}};
  wire::BodyDecoder decoder(*head, method == "HEAD");
  decoder.feed(raw, result.body);
  while (!decoder.complete() && open) {
    if (left(deadline).count() == 0)
      throw std::runtime_error(
          fmt::format("{} {}{}: timed out reading the body", method, baseUrl, target));
    open = sock.receive(raw, left(deadline));
    decoder.feed(raw, result.body);
  }
  return result;
}

std::string rawExchange(const std::string& host, uint16_t port, const std::string& bytes,
                        milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  wire::Socket sock(host, port, timeout);
  try {
    sock.sendAll(bytes, left(deadline));
  } catch (const std::runtime_error&) {  // the server may close before reading everything
  }
  std::string out;
  while (left(deadline).count() > 0 && sock.receive(out, left(deadline))) {
  }
  return out;
}

namespace wire {

Endpoint parseBaseUrl(const std::string& baseUrl) {
  const bool tls = baseUrl.rfind("https://", 0) == 0;
  if (!tls && baseUrl.rfind("http://", 0) != 0)
    throw std::runtime_error("not an http:// or https:// URL: " + baseUrl);
  std::string rest = baseUrl.substr(tls ? 8 : 7);
  rest = rest.substr(0, rest.find('/'));
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') {
    return {rest, static_cast<uint16_t>(tls ? 443 : 80), tls};
  }
  std::string host = rest.substr(0, colon);
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(std::stoi(rest.substr(colon + 1))), tls};
}

struct Socket::Tls {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  ~Tls() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
  }
};

namespace {

// Waits until the socket is ready for what OpenSSL asked for; false on timeout or an
// error that is not a retry.
bool waitTls(int fd, SSL* ssl, int rc, Clock::time_point deadline) {
  const int err = SSL_get_error(ssl, rc);
  if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return false;
  pollfd p{fd, static_cast<short>(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
  return ::poll(&p, 1, static_cast<int>(left(deadline).count())) == 1;
}

std::string tlsError() {
  unsigned long e = ERR_get_error();
  const char* reason = e ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason ? reason : "connection closed or timed out";
}

}  // namespace

void Socket::handshake(const std::string& host, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  tls_ = std::make_unique<Tls>();
  tls_->ctx = SSL_CTX_new(TLS_client_method());
  if (!tls_->ctx) throw std::runtime_error("SSL_CTX_new: " + tlsError());
  SSL_CTX_set_verify(tls_->ctx, SSL_VERIFY_NONE, nullptr);
  tls_->ssl = SSL_new(tls_->ctx);
  SSL_set_fd(tls_->ssl, fd_);
  unsigned char ip[16];
  if (inet_pton(AF_INET, host.c_str(), ip) != 1 && inet_pton(AF_INET6, host.c_str(), ip) != 1) {
    SSL_set_tlsext_host_name(tls_->ssl, host.c_str());
  }
  for (;;) {
    const int rc = SSL_connect(tls_->ssl);
    if (rc == 1) return;
    if (!waitTls(fd_, tls_->ssl, rc, deadline))
      throw std::runtime_error(fmt::format("TLS handshake with {}: {}", host, tlsError()));
  }
}

std::string Socket::peerFingerprint() const {
  if (!tls_) return "";
  X509* cert = SSL_get1_peer_certificate(tls_->ssl);
  if (!cert) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  X509_free(cert);
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{}{:02X}", i ? ":" : "", md[i]);
  return out;
}

Socket::Socket(const std::string& host, uint16_t port, milliseconds timeout, bool tls) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &list);
  if (rc != 0) throw std::runtime_error(fmt::format("resolve {}: {}", host, ::gai_strerror(rc)));
  int err = ECONNREFUSED;
  for (addrinfo* ai = list; ai && fd_ < 0; ai = ai->ai_next) {
    fd_ = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd_ < 0) continue;
    pollfd p{fd_, POLLOUT, 0};
    socklen_t len = sizeof err;
    if (::connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0) break;
    if (errno != EINPROGRESS)
      err = errno;
    else if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
      err = ETIMEDOUT;
    else if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
      break;
    close();
  }
  ::freeaddrinfo(list);
  if (fd_ < 0)
    throw std::runtime_error(fmt::format("connect {}:{}: {}", host, port, std::strerror(err)));
  if (tls) {
    try {
      handshake(host, timeout);
    } catch (...) {
      close();
      throw;
    }
  }
}

Socket::Socket(const Endpoint& ep, milliseconds timeout) : Socket(ep.host, ep.port, timeout, ep.tls) {}

Socket::~Socket() {
  close();
}

void Socket::close() {
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Socket::sendAll(const std::string& bytes, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (tls_) {
    // Without partial writes, SSL_write sends all or nothing; retried with the same buffer.
    for (;;) {
      const int rc = SSL_write(tls_->ssl, bytes.data(), static_cast<int>(bytes.size()));
      if (rc > 0) return;
      if (!waitTls(fd_, tls_->ssl, rc, deadline))
        throw std::runtime_error("TLS send: " + tlsError());
    }
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      throw std::runtime_error(fmt::format("send: {}", std::strerror(errno)));
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(left(deadline).count())) != 1)
      throw std::runtime_error("send: timed out");
  }
}

bool Socket::receive(std::string& out, milliseconds timeout) {
  if (fd_ < 0) return false;
  if (tls_) return receiveTls(out, timeout);
  pollfd p{fd_, POLLIN, 0};
  int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready <= 0) return true;
  std::string chunk(size_t{64} * 1024, '\0');
  ssize_t n = ::recv(fd_, chunk.data(), chunk.size(), 0);
  if (n > 0) out.append(chunk.data(), static_cast<size_t>(n));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  return n > 0;
}

bool Socket::receiveTls(std::string& out, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string chunk(size_t{64} * 1024, '\0');
  for (;;) {
    const int rc = SSL_read(tls_->ssl, chunk.data(), static_cast<int>(chunk.size()));
    if (rc > 0) {
      out.append(chunk.data(), static_cast<size_t>(rc));
      return true;
    }
    const int err = SSL_get_error(tls_->ssl, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      ERR_clear_error();
      return false;  // close_notify, reset or a TLS error: the end
    }
    if (left(deadline).count() == 0 || !waitTls(fd_, tls_->ssl, rc, deadline)) return true;
  }
}

std::optional<ResponseHead> takeHead(std::string& buffer) {
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  std::string text = buffer.substr(0, end + 2);
  buffer.erase(0, end + 4);
  ResponseHead head;
  size_t lineEnd = text.find("\r\n");
  std::string statusLine = text.substr(0, lineEnd);
  if (statusLine.rfind("HTTP/1.", 0) != 0 || statusLine.size() < 12)
    throw std::runtime_error("malformed status line: " + statusLine);
  head.status = std::stoi(statusLine.substr(9, 3));
  for (size_t pos = lineEnd + 2; pos < text.size();) {
    size_t next = text.find("\r\n", pos);
    std::string line = text.substr(pos, next - pos);
    pos = next + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = lower(trim(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    auto [it, fresh] = head.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  return head;
}

BodyDecoder::BodyDecoder(const ResponseHead& head, bool headRequest) {
  auto te = head.headers.find("transfer-encoding");
  auto cl = head.headers.find("content-length");
  bool noBody = headRequest || head.status / 100 == 1 || head.status == 204 || head.status == 304;
  if (noBody) {
    mode_ = Mode::Length;
  } else if (te != head.headers.end() && lower(te->second).find("chunked") != std::string::npos) {
    mode_ = Mode::Chunked;
  } else if (cl != head.headers.end()) {
    mode_ = Mode::Length;
    remaining_ = std::stoul(cl->second);
  }
  complete_ = mode_ == Mode::Length && remaining_ == 0;
}

void BodyDecoder::feed(std::string& raw, std::string& out) {
  if (complete_) return;
  if (mode_ == Mode::UntilClose) {
    out += raw;
    raw.clear();
  } else if (mode_ == Mode::Length) {
    size_t take = std::min(remaining_, raw.size());
    out.append(raw, 0, take);
    raw.erase(0, take);
    remaining_ -= take;
    complete_ = remaining_ == 0;
  } else {
    while (!complete_ && feedChunk(raw, out)) {
    }
  }
}

bool BodyDecoder::feedChunk(std::string& raw, std::string& out) {
  if (chunk_ == Chunk::Data) {
    size_t take = std::min(remaining_, raw.size());
    out.append(raw, 0, take);
    raw.erase(0, take);
    remaining_ -= take;
    if (remaining_ > 0) return false;
    chunk_ = Chunk::DataEnd;
  }
  size_t eol = raw.find("\r\n");
  if (eol == std::string::npos) return false;
  std::string line = raw.substr(0, eol);
  raw.erase(0, eol + 2);
  if (chunk_ == Chunk::DataEnd) {  // the CRLF after a chunk's data
    chunk_ = Chunk::Size;
    return true;
  }
  remaining_ = std::stoul(line.substr(0, line.find(';')), nullptr, 16);
  chunk_ = Chunk::Data;
  complete_ = remaining_ == 0;  // trailers after the last chunk are ignored
  return true;
}

}  // namespace wire
}  // namespace amphi::testing
