// Minimal HTTP/1.1 clients for the benchmark's control traffic: a blocking keep-alive
// connection and a pool of pipelined keep-alive connections with open-loop pacing.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace bench {

// Monotonic clock in nanoseconds (CLOCK_MONOTONIC, the clock of every timestamp here).
int64_t nowNs();

struct HttpResponse {
  int status = 0;  // 0: no response (connection failed)
  std::string body;
};

// "METHOD path HTTP/1.1" with Host, an optional bearer token and a JSON body.
std::string buildRequest(std::string_view method, std::string_view path, uint16_t port,
                         std::string_view body = {}, std::string_view token = {});

// A non-blocking (or blocking) TCP socket connected, or connecting, to 127.0.0.1:port.
// sourceHost > 0 binds 127.0.0.<sourceHost> first (port chosen at connect). -1 on error.
int connectLoopback(uint16_t port, int sourceHost, bool nonBlocking);

// A loopback port that was free a moment ago (for servers that take a port number).
uint16_t freeLoopbackPort();

// Parses one complete response at the start of buf. Returns the bytes it used, or 0
// when buf does not hold a complete response yet. Needs Content-Length (or no body).
std::size_t parseResponse(std::string_view buf, HttpResponse& out);

// One blocking keep-alive connection; reconnects once when the server closed it.
class HttpConn {
 public:
  explicit HttpConn(uint16_t port) : port_(port) {}
  ~HttpConn();
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;
  // Sends a request built by buildRequest; *sentNs is set just before the write.
  HttpResponse send(const std::string& request, int64_t* sentNs = nullptr);
  HttpResponse request(std::string_view method, std::string_view path, std::string_view body = {},
                       std::string_view token = {});

 private:
  HttpResponse attempt(const std::string& request, int64_t* sentNs);
  uint16_t port_;
  int fd_ = -1;
  std::string in_;
};

// Issues `total` requests over `connections` keep-alive connections from the calling
// thread. Request k is sent at due(k) (open loop: a request that is late because every
// connection was busy goes out as soon as one has room) on the least loaded connection
// with fewer than maxInFlight outstanding requests.
struct PoolJob {
  std::size_t total = 0;
  std::function<std::string(std::size_t k)> request;
  std::function<int64_t(std::size_t k)> due;  // empty: as fast as possible
  // status 0: the connection failed before a response came.
  std::function<void(std::size_t k, int64_t sentNs, int64_t doneNs, const HttpResponse&)> done;
  int connections = 8;
  int maxInFlight = 1;
};
struct PoolResult {
  std::size_t sent = 0;
  std::size_t failed = 0;     // no response
  std::size_t pipelined = 0;  // sent while the connection still had a request outstanding
  int64_t startNs = 0;
  int64_t endNs = 0;
};
PoolResult runPool(uint16_t port, const PoolJob& job);

}  // namespace bench
