#include "http/server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <array>
#include <mutex>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "http/sse_connection.hpp"
#include "http/stream.hpp"
#include "http/ws_proxy.hpp"

namespace amphi::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using boost::system::error_code;
using impl::Stream;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, ServerOptions options, Handler handler, Metrics& metrics)
      : io(io),
        options(std::move(options)),
        handler(std::move(handler)),
        metrics(metrics),
        acceptor(io),
        pool(this->options.workerThreads) {}

  awaitable<void> acceptLoop();
  awaitable<void> session(tcp::socket socket);
  awaitable<bool> handshake(Stream& stream, const std::string& remote);
  awaitable<void> shutdown(Stream& stream);
  awaitable<bool> writeResponse(Stream& stream, Response res, bool keepAlive, bool headOnly,
                                unsigned version);
  Response runHandler(Request& req);
  std::optional<Response> answerInline(Request& req);
  void startSse(Stream& stream, Response& res);
  std::string sseHead(const Response& res);

  asio::io_context& io;
  ServerOptions options;
  Handler handler;
  Metrics& metrics;
  tcp::acceptor acceptor;
  std::unique_ptr<asio::ssl::context> tls;  // set by start() when serving HTTPS
  std::string hsts;                         // Strict-Transport-Security value, or ""
  asio::thread_pool pool;
  std::atomic<bool> stopping{false};
  std::mutex sseMu;
  std::set<std::shared_ptr<impl::SseConnection>> sse;  // guarded by sseMu
};

namespace {

Request toRequest(bhttp::request<bhttp::string_body>&& msg, std::string remote) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  std::string_view target = req.target;
  auto q = target.find('?');
  req.path = percentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) req.query = parseQuery(target.substr(q + 1));
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers[name] = std::string(field.value());
  }
  req.body = std::move(msg.body());
  req.remoteAddress = std::move(remote);
  return req;
}

// The server side of TLS: TLS 1.2 and 1.3 only, the certificate chain and key from PEM
// files. Throws naming the file that failed.
std::unique_ptr<asio::ssl::context> tlsContext(const std::string& certFile,
                                               const std::string& keyFile) {
  auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  error_code ec;
  context->use_certificate_chain_file(certFile, ec);
  if (ec) throw std::runtime_error("TLS certificate " + certFile + ": " + ec.message());
  context->use_private_key_file(keyFile, asio::ssl::context::pem, ec);
  if (ec) throw std::runtime_error("TLS key " + keyFile + ": " + ec.message());
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    throw std::runtime_error("TLS key " + keyFile + " does not belong to certificate " + certFile);
  }
  return context;
}

// The status line and header block of a response, as Beast's serializer writes them.
std::string headerText(bhttp::response<bhttp::string_body>& msg) {
  std::string out;
  bhttp::response_serializer<bhttp::string_body> sr{msg};
  sr.split(true);
  error_code ec;
  while (!ec && !sr.is_header_done()) {
    sr.next(ec, [&](error_code&, const auto& buffers) {
      for (auto b : beast::buffers_range_ref(buffers)) {
        out.append(static_cast<const char*>(b.data()), b.size());
      }
      sr.consume(beast::buffer_bytes(buffers));
    });
  }
  return out;
}

bool isParseError(const error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_target).category();
}

}  // namespace

Response Server::Impl::runHandler(Request& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    spdlog::error("http: unhandled error in {} {}: {}", req.method, req.path, e.what());
    return errorResponse(500, "internal", "internal error; see the server log");
  }
}

std::optional<Response> Server::Impl::answerInline(Request& req) {
  if (!options.inlineHandler || options.inlinePrefix.empty() ||
      req.path.compare(0, options.inlinePrefix.size(), options.inlinePrefix) != 0) {
    return std::nullopt;
  }
  try {
    return options.inlineHandler(req);
  } catch (const std::exception& e) {
    spdlog::error("http: unhandled error in {} {}: {}", req.method, req.path, e.what());
    return errorResponse(500, "internal", "internal error; see the server log");
  }
}

awaitable<bool> Server::Impl::writeResponse(Stream& stream, Response res, bool keepAlive,
                                            bool headOnly, unsigned version) {
  metrics.countResponse(res.status);
  bhttp::response<bhttp::string_body> msg{static_cast<bhttp::status>(res.status), version};
  msg.set(bhttp::field::server, "amphi");
  if (!hsts.empty()) msg.set(bhttp::field::strict_transport_security, hsts);
  if (!res.contentType.empty()) msg.set(bhttp::field::content_type, res.contentType);
  for (auto& [name, value] : res.headers) msg.insert(name, value);
  msg.keep_alive(keepAlive && !stopping);
  error_code ec;
  if (res.sharedBody && !headOnly) {
    // Header from msg, then the shared bytes as they are: no copy per viewer.
    // One gather write (header, then the shared bytes as they are): no copy per viewer.
    auto body = std::move(res.sharedBody);
    msg.content_length(body->size());
    const std::string head = headerText(msg);
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(*body)};
    co_await asio::async_write(stream, buffers, asio::redirect_error(use_awaitable, ec));
    co_return !ec && msg.keep_alive();
  }
  const auto size = res.sharedBody ? res.sharedBody->size() : res.body.size();
  if (!headOnly) msg.body() = std::move(res.body);
  msg.prepare_payload();
  if (headOnly) msg.content_length(size);
  if (headOnly) {
    bhttp::response_serializer<bhttp::string_body> sr{msg};
    co_await bhttp::async_write_header(stream, sr, asio::redirect_error(use_awaitable, ec));
  } else {
    co_await bhttp::async_write(stream, msg, asio::redirect_error(use_awaitable, ec));
  }
  co_return !ec && msg.keep_alive();
}

// Initiates the wait for a deferred response: hands the handler a completion that posts
// the response to the connection's executor, once. (A named type rather than a lambda in
// a coroutine: GCC 12 mishandles lambda captures in coroutine frames.)
struct DeferredInit {
  std::shared_ptr<std::function<void(Response::Complete)>> start;
  asio::any_io_executor executor;

  template <typename Handler>
  void operator()(Handler&& handler) const {
    auto shared = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    auto once = std::make_shared<std::atomic<bool>>(false);
    auto ex = executor;
    (*start)([ex, shared, once](Response res) {
      if (once->exchange(true)) return;
      asio::post(ex, [shared, res = std::move(res)]() mutable { (*shared)(std::move(res)); });
    });
  }
};

std::string Server::Impl::sseHead(const Response& res) {
  std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                     "Cache-Control: no-cache, no-store\r\nX-Accel-Buffering: no\r\n"
                     "Connection: close\r\n";
  if (!hsts.empty()) head += "Strict-Transport-Security: " + hsts + "\r\n";
  for (const auto& [name, value] : res.headers) head += name + ": " + value + "\r\n";
  thread_local std::minstd_rand rng{std::random_device{}()};
  const int jitter = static_cast<int>(rng() % static_cast<unsigned>(options.sseRetryMs / 2 + 1));
  head += "\r\nretry: " + std::to_string(options.sseRetryMs + jitter) + "\n\n";
  return head;
}

void Server::Impl::startSse(Stream& stream, Response& res) {
  metrics.countResponse(200);
  auto conn = std::make_shared<impl::SseConnection>(std::move(stream), options.heartbeat,
                                                    options.sseQueueLimit, metrics);
  {
    std::lock_guard lock(sseMu);
    if (stopping) return;
    sse.insert(conn);
  }
  conn->onClose([weak = weak_from_this(), raw = conn.get()] {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->sseMu);
      for (auto it = self->sse.begin(); it != self->sse.end(); ++it) {
        if (it->get() == raw) {
          self->sse.erase(it);
          break;
        }
      }
    }
  });
  conn->start(sseHead(res));
  asio::post(pool, [cb = std::move(res.onStream), conn]() mutable {
    try {
      cb(conn);
    } catch (const std::exception& e) {
      spdlog::error("http: starting event stream failed: {}", e.what());
      conn->close();
    }
  });
}

awaitable<void> Server::Impl::session(tcp::socket socket) {
  error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string remote = ec ? "unknown" : endpoint.address().to_string();
  Stream stream = tls ? Stream(beast::tcp_stream(std::move(socket)), *tls)
                      : Stream(beast::tcp_stream(std::move(socket)));
  if (!co_await handshake(stream, remote)) co_return;
  beast::flat_buffer buffer;
  for (bool first = true; !stopping; first = false) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(options.bodyLimit);
    parser.header_limit(static_cast<uint32_t>(options.headerLimit));
    stream.tcp().expires_after(first ? options.readTimeout : options.idleTimeout);
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec == bhttp::error::body_limit) {
      co_await writeResponse(stream, errorResponse(413, "payload_too_large",
                                                   "request body is over the 64 KiB limit"),
                             false, false, 11);
      break;
    }
    if (ec) {
      if (isParseError(ec) && ec != bhttp::error::end_of_stream) {
        co_await writeResponse(stream, errorResponse(400, "bad_request",
                                                     "malformed HTTP request: " + ec.message()),
                               false, false, 11);
      }
      break;
    }
    stream.tcp().expires_after(options.readTimeout + std::chrono::seconds(30));
    if (beast::websocket::is_upgrade(parser.get()) && options.webSocketUpstream) {
      impl::WsUpstream upstream;
      const std::string path(parser.get().target().substr(0, parser.get().target().find('?')));
      const std::string url = options.webSocketUpstream(path);
      if (!url.empty() && impl::parseWsUrl(url, upstream)) {
        upstream.subprotocol = options.webSocketSubprotocol;
        metrics.countResponse(101);
        co_await impl::relayWebSocket(std::move(stream), parser.release(), std::move(upstream),
                                      options.webSocketRewrite);
        co_return;
      }
    }
    const bool keepAlive = parser.keep_alive();
    const unsigned version = parser.get().version();
    Request req = toRequest(parser.release(), remote);
    const bool headOnly = req.method == "HEAD";
    // (No co_await inside a conditional expression: GCC 12 miscompiles it.)
    std::optional<Response> quick = answerInline(req);
    Response res;
    if (quick) {
      res = std::move(*quick);
    } else {
      res = co_await asio::co_spawn(
          pool, [this, &req]() -> awaitable<Response> { co_return runHandler(req); },
          use_awaitable);
    }
    if (res.deferred) {
      DeferredInit init{std::make_shared<std::function<void(Response::Complete)>>(
                            std::move(res.deferred)),
                        stream.get_executor()};
      res = co_await asio::async_initiate<decltype(use_awaitable), void(Response)>(
          std::move(init), use_awaitable);
    }
    if (res.onStream && res.status == 200) {
      stream.tcp().expires_never();
      startSse(stream, res);
      co_return;
    }
    if (!co_await writeResponse(stream, std::move(res), keepAlive, headOnly, version)) break;
  }
  co_await shutdown(stream);
}

// TLS: the server handshake, within its own timeout. Plain: nothing to do.
awaitable<bool> Server::Impl::handshake(Stream& stream, const std::string& remote) {
  auto* tlsStream = stream.tls();
  if (!tlsStream) co_return true;
  error_code ec;
  stream.tcp().expires_after(options.tlsHandshakeTimeout);
  co_await tlsStream->async_handshake(asio::ssl::stream_base::server,
                                      asio::redirect_error(use_awaitable, ec));
  if (!ec) co_return true;
  metrics.tlsHandshakeFailures++;
  // Plain HTTP sent to the HTTPS port, a client refusing the certificate, a scanner:
  // common and harmless, so debug level.
  spdlog::debug("http: TLS handshake with {} failed: {}", remote, ec.message());
  stream.close();
  co_return false;
}

// Ends the connection after the last response: TLS sends close_notify (bounded in time),
// plain TCP half-closes so the client reads everything before the end.
awaitable<void> Server::Impl::shutdown(Stream& stream) {
  error_code ec;
  if (auto* tlsStream = stream.tls()) {
    stream.tcp().expires_after(std::chrono::seconds(3));
    co_await tlsStream->async_shutdown(asio::redirect_error(use_awaitable, ec));
    stream.close();
  } else {
    stream.tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

awaitable<void> Server::Impl::acceptLoop() {
  auto self = shared_from_this();
  while (!stopping) {
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(asio::make_strand(io),
                                                        asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      spdlog::warn("http: accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors) {
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      }
      continue;
    }
    error_code nd;
    socket.set_option(tcp::no_delay(true), nd);  // a response's header and body go out at once
    auto executor = socket.get_executor();
    asio::co_spawn(executor, session(std::move(socket)), asio::detached);
  }
}

Server::Server(asio::io_context& io, ServerOptions options, Handler handler, Metrics& metrics)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(handler), metrics)) {}

Server::~Server() {
  stop();
  join();
}

uint16_t Server::start() {
  auto& a = impl_->acceptor;
  const auto& o = impl_->options;
  error_code ec;
  tcp::endpoint endpoint(asio::ip::make_address(o.host, ec), o.port);
  if (ec) throw std::runtime_error("invalid listen address '" + o.host + "': " + ec.message());
  if (!o.tlsCertFile.empty()) impl_->tls = tlsContext(o.tlsCertFile, o.tlsKeyFile);
  if (impl_->tls && o.hstsSeconds > 0) {
    impl_->hsts = "max-age=" + std::to_string(o.hstsSeconds);
  }
  a.open(endpoint.protocol());
  a.set_option(asio::socket_base::reuse_address(true));
  a.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                             ec.message() + " (choose another address with " + o.addressFlag + ")");
  }
  a.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->io, impl_->acceptLoop(), asio::detached);
  return a.local_endpoint().port();
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  asio::post(impl_->io, [impl = impl_] {
    error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<impl::SseConnection>> conns;
  {
    std::lock_guard lock(impl_->sseMu);
    conns.assign(impl_->sse.begin(), impl_->sse.end());
  }
  for (auto& c : conns) c->goodbye();
}

void Server::join() { impl_->pool.join(); }

}  // namespace amphi::http
