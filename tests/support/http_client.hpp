// A blocking HTTP/1.1 client for tests, on raw POSIX sockets (keeps compile time low).
// One request per connection ("Connection: close"); http:// and https:// (OpenSSL; the
// server's certificate is not verified: tests check its fingerprint themselves).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace amphi::testing {

using namespace std::chrono_literals;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
  std::string body;                            // de-chunked
  nlohmann::json json() const;                 // parses body; throws on invalid JSON
};

// baseUrl is "http://host:port" or "https://host:port". Adds Host, Connection: close, Content-Length (when there
// is a body or the method is POST/PUT/PATCH) and Content-Type: application/json (when there
// is a body and headers do not name one). Throws std::runtime_error on connection failure,
// timeout (whole exchange) or an unparsable response.
HttpResult httpRequest(const std::string& baseUrl, const std::string& method,
                       const std::string& target, const std::string& body = "",
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::chrono::milliseconds timeout = 10s);

// Writes bytes as they are and returns everything received until the server closes or
// timeout passes (for malformed-request tests). Throws if it cannot connect.
std::string rawExchange(const std::string& host, uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout = 5s);

// Building blocks shared with SseClient.
namespace wire {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  bool tls = false;  // https://
};
// Throws on anything but http(s)://host[:port][/...].
Endpoint parseBaseUrl(const std::string& baseUrl);

// A connected TCP socket, with TLS when asked for (handshake done, SNI for host names),
// closed on destruction.
class Socket {
 public:
  Socket(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
         bool tls = false);
  Socket(const Endpoint& ep, std::chrono::milliseconds timeout);
  ~Socket();
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  void sendAll(const std::string& bytes, std::chrono::milliseconds timeout);
  // Appends what arrives within timeout to out. Returns false at EOF (or a reset), true
  // otherwise (also when nothing arrived in time).
  bool receive(std::string& out, std::chrono::milliseconds timeout);
  void close();
  bool isOpen() const { return fd_ >= 0; }
  // TLS: SHA-256 of the server's certificate, "AB:CD:…"; "" on plain TCP.
  std::string peerFingerprint() const;

 private:
  struct Tls;
  bool receiveTls(std::string& out, std::chrono::milliseconds timeout);
  void handshake(const std::string& host, std::chrono::milliseconds timeout);
  int fd_ = -1;
  std::unique_ptr<Tls> tls_;
};

struct ResponseHead {
  int status = 0;
  std::map<std::string, std::string> headers;
};
// Takes a complete head off the front of buffer; nullopt while the head is incomplete.
// Throws on a malformed status line.
std::optional<ResponseHead> takeHead(std::string& buffer);

// Decodes a body framed by chunked encoding, Content-Length or connection close.
class BodyDecoder {
 public:
  explicit BodyDecoder(const ResponseHead& head, bool headRequest = false);
  // Moves decoded bytes from raw into out; raw keeps an incomplete chunk header.
  void feed(std::string& raw, std::string& out);
  bool complete() const { return complete_; }  // the framing says the body ended

 private:
  bool feedChunk(std::string& raw, std::string& out);  // one step; false = need more bytes
  enum class Mode { Chunked, Length, UntilClose } mode_ = Mode::UntilClose;
  enum class Chunk { Size, Data, DataEnd } chunk_ = Chunk::Size;
  size_t remaining_ = 0;  // bytes left in the body (Length) or in the current chunk
  bool complete_ = false;
};

}  // namespace wire
}  // namespace amphi::testing
