// Internal to src/http: one connection's byte stream, plain TCP or TLS over TCP, behind
// one type so the HTTP session, SSE and the WebSocket relay have a single code path.
// It is an Asio AsyncStream (async_read_some / async_write_some / get_executor) and has
// the teardown hooks Beast's websocket::stream needs.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <utility>
#include <variant>
#include <vector>

namespace amphi::http::impl {

class Stream {
 public:
  using Tcp = boost::beast::tcp_stream;
  using Tls = boost::beast::ssl_stream<Tcp>;
  using executor_type = Tcp::executor_type;

  // Plain HTTP.
  explicit Stream(Tcp tcp) : s_(std::in_place_type<Tcp>, std::move(tcp)) {}
  // TLS; the server handshake is still to be done (see tls()).
  Stream(Tcp tcp, boost::asio::ssl::context& context)
      : s_(std::in_place_type<Tls>, std::move(tcp), context) {}

  executor_type get_executor() noexcept { return tcp().get_executor(); }
  // The TCP layer: timeouts (expires_after), the socket, close().
  Tcp& tcp() noexcept {
    return std::visit([](auto& s) -> Tcp& { return boost::beast::get_lowest_layer(s); }, s_);
  }
  // The TLS layer, or nullptr on a plain connection.
  Tls* tls() noexcept { return std::get_if<Tls>(&s_); }
  // Closes the socket at once (no TLS close_notify): pending operations complete with
  // an error.
  void close() { tcp().close(); }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        ReadSome{this}, token, buffers);
  }
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        WriteSome{this}, token, buffers);
  }

  // beast::close_socket (websocket::stream on timeout) closes through this.
  friend void beast_close_socket(Stream& stream) { stream.close(); }
  // websocket::stream<Stream> closes through these (found by argument-dependent lookup).
  friend void teardown(boost::beast::role_type role, Stream& stream,
                       boost::system::error_code& ec) {
    using boost::beast::websocket::teardown;
    std::visit([&](auto& s) { teardown(role, s, ec); }, stream.s_);
  }
  template <typename Handler>
  friend void async_teardown(boost::beast::role_type role, Stream& stream, Handler&& handler) {
    using boost::beast::websocket::async_teardown;
    std::visit([&](auto& s) { async_teardown(role, s, std::forward<Handler>(handler)); },
               stream.s_);
  }

 private:
  struct ReadSome {
    Stream* self;
    template <typename Handler, typename Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const {
      std::visit([&](auto& s) { s.async_read_some(buffers, std::forward<Handler>(handler)); },
                 self->s_);
    }
  };
  struct WriteSome {
    Stream* self;
    template <typename Handler, typename Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const {
      if (Tls* tls = self->tls()) {
        // Empty buffers left out: Asio's write of a two-buffer sequence passes an emptied
        // first buffer on after a partial write, and Beast's flat_stream (inside
        // ssl_stream) then writes 0 bytes of a next buffer over 16 KiB, which Asio takes
        // as the end of the write. (The sequence is copied by the operation.)
        std::vector<boost::asio::const_buffer> nonEmpty;
        for (boost::asio::const_buffer b : boost::beast::buffers_range_ref(buffers)) {
          if (b.size() > 0) nonEmpty.push_back(b);
        }
        tls->async_write_some(nonEmpty, std::forward<Handler>(handler));
      } else {
        std::get<Tcp>(self->s_).async_write_some(buffers, std::forward<Handler>(handler));
      }
    }
  };

  std::variant<Tcp, Tls> s_;
};

}  // namespace amphi::http::impl
