#include "http/ws_proxy.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include <spdlog/spdlog.h>

namespace amphi::http::impl {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using boost::system::error_code;
using UpStream = websocket::stream<beast::tcp_stream>;  // to Janus, plain ws://
using DownStream = websocket::stream<Stream>;           // from the browser, ws:// or wss://

bool parseWsUrl(const std::string& url, WsUpstream& out) {
  const std::string scheme = "ws://";
  if (url.rfind(scheme, 0) != 0) return false;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto hostPort = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = hostPort.rfind(':');
  if (colon == std::string::npos) return false;
  out.host = hostPort.substr(0, colon);
  out.port = hostPort.substr(colon + 1);
  return !out.host.empty() && !out.port.empty();
}

namespace {

template <typename From, typename To>
awaitable<void> pump(From& from, To& to, const std::function<void(std::string&)>& rewrite) {
  beast::flat_buffer buffer;
  error_code ec;
  for (;;) {
    co_await from.async_read(buffer, asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    to.text(from.got_text());
    if (rewrite && from.got_text()) {
      std::string text = beast::buffers_to_string(buffer.data());
      rewrite(text);
      co_await to.async_write(asio::buffer(text), asio::redirect_error(use_awaitable, ec));
    } else {
      co_await to.async_write(buffer.data(), asio::redirect_error(use_awaitable, ec));
    }
    if (ec) break;
    buffer.consume(buffer.size());
  }
  // One side is done: close the other so its pump ends too.
  beast::get_lowest_layer(to).close();
  beast::get_lowest_layer(from).close();
}

bool wantsSubprotocol(const beast::http::request<beast::http::string_body>& req,
                      const std::string& name) {
  auto offered = req[beast::http::field::sec_websocket_protocol];
  return !name.empty() && offered.find(name) != beast::string_view::npos;
}

}  // namespace

awaitable<void> relayWebSocket(Stream stream,
                               beast::http::request<beast::http::string_body> request,
                               WsUpstream upstream, std::function<void(std::string&)> rewrite) {
  auto executor = co_await asio::this_coro::executor;
  error_code ec;
  UpStream up(executor);
  asio::ip::tcp::resolver resolver(executor);
  auto endpoints = co_await resolver.async_resolve(upstream.host, upstream.port,
                                                   asio::redirect_error(use_awaitable, ec));
  if (!ec) {
    beast::get_lowest_layer(up).expires_after(std::chrono::seconds(5));
    co_await beast::get_lowest_layer(up).async_connect(endpoints,
                                                       asio::redirect_error(use_awaitable, ec));
  }
  const bool sub = wantsSubprotocol(request, upstream.subprotocol);
  if (!ec) {
    up.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      if (sub) req.set(beast::http::field::sec_websocket_protocol, upstream.subprotocol);
    }));
    co_await up.async_handshake(upstream.host + ":" + upstream.port, upstream.path,
                                asio::redirect_error(use_awaitable, ec));
  }
  if (ec) {
    spdlog::warn("ws proxy: upstream ws://{}:{}{} unreachable: {}", upstream.host, upstream.port,
                 upstream.path, ec.message());
    beast::http::response<beast::http::string_body> res{beast::http::status::bad_gateway, 11};
    res.set(beast::http::field::content_type, "application/json");
    res.body() = R"({"error":{"code":"unavailable","message":"the media server is not reachable"}})";
    res.prepare_payload();
    co_await beast::http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    co_return;
  }
  beast::get_lowest_layer(up).expires_never();
  stream.tcp().expires_never();
  struct Pair {
    DownStream down;
    UpStream up;
  };
  auto pair = std::make_shared<Pair>(Pair{DownStream(std::move(stream)), std::move(up)});
  pair->down.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  pair->up.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
  pair->down.set_option(websocket::stream_base::decorator([sub, upstream](websocket::response_type& res) {
    if (sub) res.set(beast::http::field::sec_websocket_protocol, upstream.subprotocol);
  }));
  co_await pair->down.async_accept(request, asio::redirect_error(use_awaitable, ec));
  if (ec) co_return;
  // Two pumps on this connection's strand; whichever ends first closes both sockets.
  asio::co_spawn(
      executor, [pair]() -> awaitable<void> { co_await pump(pair->up, pair->down, nullptr); },
      asio::detached);
  co_await pump(pair->down, pair->up, rewrite);
}

}  // namespace amphi::http::impl
