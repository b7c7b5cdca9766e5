// Internal to amphi_sfu: one blocking HTTP/1.1 exchange with Janus (Beast inside the .cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace amphi::sfu::detail {

// "http://host:port/base" split up. Only http:// is accepted.
struct HttpUrl {
  std::string host;
  uint16_t port = 0;
  std::string path;  // "/janus", "" when the URL has none
};
HttpUrl parseHttpUrl(const std::string& url);  // throws std::runtime_error

struct HttpReply {
  int status = 0;
  std::string body;
};

// method is "GET" or "POST" (a POST sends body as application/json). One connection per
// exchange; the whole exchange (connect, write, read) must end within timeout. Throws
// std::runtime_error naming the URL on connection failure, timeout or a malformed reply.
HttpReply httpExchange(const HttpUrl& url, const std::string& method, const std::string& target,
                       const std::string& body, std::chrono::milliseconds timeout);

}  // namespace amphi::sfu::detail
