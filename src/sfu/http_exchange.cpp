#include "sfu/http_exchange.hpp"

#include <fmt/format.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <stdexcept>

namespace amphi::sfu::detail {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr size_t kBodyLimit = 4 * 1024 * 1024;

}  // namespace

HttpUrl parseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme))
    throw std::runtime_error(fmt::format("not an http:// URL: {}", url));
  std::string_view rest(url);
  rest.remove_prefix(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == authority.size())
    throw std::runtime_error(fmt::format("URL without a port: {}", url));
  out.host = std::string(authority.substr(0, colon));
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
    out.host = out.host.substr(1, out.host.size() - 2);
  std::string_view port = authority.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || end != port.data() + port.size() || out.port == 0 || out.host.empty())
    throw std::runtime_error(fmt::format("bad host or port in URL: {}", url));
  return out;
}

HttpReply httpExchange(const HttpUrl& url, const std::string& method, const std::string& target,
                       const std::string& body, std::chrono::milliseconds timeout) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  tcp::resolver resolver(ioc);
  beast::error_code ec;
  auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
  if (ec) throw std::runtime_error(fmt::format("{}:{}: {}", url.host, url.port, ec.message()));

  http::request<http::string_body> req{method == "POST" ? http::verb::post : http::verb::get,
                                       target, 11};
  req.set(http::field::host, fmt::format("{}:{}", url.host, url.port));
  req.set(http::field::connection, "close");
  if (req.method() == http::verb::post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  const char* step = "connect";

  // Async operations under one deadline (tcp_stream's timeout covers them all).
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
    if ((ec = e)) return;
    step = "write";
    http::async_write(stream, req, [&](beast::error_code e2, size_t) {
      if ((ec = e2)) return;
      step = "read";
      http::async_read(stream, buffer, parser, [&](beast::error_code e3, size_t) { ec = e3; });
    });
  });
  ioc.run();
  if (ec)
    throw std::runtime_error(fmt::format("{} http://{}:{}{}: {} failed: {}", method, url.host,
                                         url.port, target, step, ec.message()));
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  auto& res = parser.get();
  return HttpReply{static_cast<int>(res.result_int()), std::move(res.body())};
}

}  // namespace amphi::sfu::detail
