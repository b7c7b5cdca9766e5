// The HTTP/1.1 server (Boost.Beast): one strand per connection, a fresh parser per
// request with body and header limits, timeouts, handlers run on a worker pool so
// blocking bus calls never stall I/O (except an inline handler's answers: see
// ServerOptions), and SSE hand-over.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "http/message.hpp"
#include "http/metrics.hpp"

namespace boost::asio {
class io_context;
}

namespace amphi::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;  // 0: any free port
  std::size_t bodyLimit = 64 * 1024;
  std::size_t headerLimit = 16 * 1024;
  std::chrono::seconds readTimeout{30};   // to receive one whole request
  std::chrono::seconds idleTimeout{75};   // keep-alive between requests
  std::chrono::seconds heartbeat{15};     // SSE comment when idle
  std::size_t sseQueueLimit = 1000;       // frames queued before a client is dropped
  int sseRetryMs = 3000;                  // "retry:" sent to clients (with jitter)
  std::size_t workerThreads = 8;          // handler pool
  std::string addressFlag = "--http";     // named in "cannot listen" errors
  // HTTPS: the certificate chain and private key (PEM files); both empty for plain HTTP.
  std::string tlsCertFile;
  std::string tlsKeyFile;
  std::chrono::seconds tlsHandshakeTimeout{10};
  int hstsSeconds = 0;  // with TLS: Strict-Transport-Security max-age (0: no header)
  // WebSocket upgrades: the upstream ws:// URL to relay a path to, or "" for none
  // (e.g. "/janus" → the Janus WebSocket transport).
  std::function<std::string(const std::string& path)> webSocketUpstream;
  std::string webSocketSubprotocol = "janus-protocol";
  // Applied to every text message a browser sends upstream (may change it).
  std::function<void(std::string&)> webSocketRewrite;
  // Tried first, on the connection's strand, for paths starting with inlinePrefix: it
  // must answer without blocking (no bus call, short locks) or return nullopt, and the
  // request goes to the pool as usual. Spares the hot LL-HLS requests two thread hops.
  std::string inlinePrefix;
  std::function<std::optional<Response>(Request&)> inlineHandler;
};

class Server {
 public:
  using Handler = std::function<Response(Request&)>;

  Server(boost::asio::io_context& io, ServerOptions options, Handler handler, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the TLS certificate (if any), binds and starts accepting; returns the bound
  // port. Throws naming the address or the certificate file.
  uint16_t start();
  // Stops accepting and closes every SSE stream with a "reconnect" hint.
  void stop();
  // Waits for the handler pool to finish queued work.
  void join();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace amphi::http
