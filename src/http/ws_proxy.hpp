// Internal to src/http: relays a WebSocket upgrade (e.g. /janus) to an upstream
// WebSocket server, so browsers reach Janus through serve's own origin and port.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>

#include "http/stream.hpp"

namespace amphi::http::impl {

struct WsUpstream {
  std::string host;  // "127.0.0.1"
  std::string port;  // "8188"
  std::string path = "/";
  std::string subprotocol;  // e.g. "janus-protocol"; echoed to the browser when asked for
};

// Parses "ws://host:port/path"; false when the URL is not of that form.
bool parseWsUrl(const std::string& url, WsUpstream& out);

// Takes over the connection: completes the upgrade and relays frames both ways until
// either side closes. `rewrite`, when set, may change each text message the browser
// sends before it goes upstream.
boost::asio::awaitable<void> relayWebSocket(
    Stream stream,
    boost::beast::http::request<boost::beast::http::string_body> request, WsUpstream upstream,
    std::function<void(std::string&)> rewrite);

}  // namespace amphi::http::impl
