// One HTTP/1.1 connection: its own strand, body limit and idle timeout, keep-alive, every answer
// produced by the Router from plain structs. A template over the stream, instantiated once per
// stream in its own translation unit (session_plain.cpp, session_tls.cpp): include it nowhere else.
#pragma once

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>

#include "server/http/session/beast_session.hpp"

namespace fc::server::http::session {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, const SessionContext& context) : stream_(std::move(stream)), context_(context) {}

  void start() {
    boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (kTls) self->doHandshake();
      else self->doRead();
    });
  }

 private:
  using error_code = boost::system::error_code;

  void doHandshake() {
    lowest().expires_after(std::chrono::milliseconds(context_.limits.idleTimeoutMs));
    stream_.async_handshake(boost::asio::ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (ec) {
        spdlog::info("https: TLS handshake with {} failed: {}", self->remote(), ec.message());
        return self->close();
      }
      self->doRead();
    });
  }

  boost::beast::tcp_stream& lowest() { return boost::beast::get_lowest_layer(stream_); }

  void doRead() {
    parser_.emplace();
    parser_->body_limit(context_.limits.maxBodyBytes);
    lowest().expires_after(std::chrono::milliseconds(context_.limits.idleTimeoutMs));
    boost::beast::http::async_read(stream_, buffer_, *parser_,
                                   [self = shared_from_this()](error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(error_code ec) {
    namespace bhttp = boost::beast::http;
    namespace net = boost::asio;
    if (ec == bhttp::error::end_of_stream || ec == boost::beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset ||
        ec == net::ssl::error::stream_truncated)
      return close();
    if (ec == bhttp::error::body_limit) {
      return respond(errorResponse(413, "payload_too_large",
                                   "request body exceeds " + std::to_string(context_.limits.maxBodyBytes) + " bytes"),
                     false, 11);
    }
    if (ec) {
      spdlog::info("http: bad request from {}: {}", remote(), ec.message());
      return respond(errorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()), false, 11);
    }
    auto req = parser_->release();
    if (boost::beast::websocket::is_upgrade(req)) return upgrade(std::move(req));
    const bool head = req.method() == bhttp::verb::head;
    const bool keepAlive = req.keep_alive();
    const unsigned version = req.version();
    // The handler may answer later from another strand; the answer is written on ours.
    context_.router->dispatch(
        toApiRequest(req, kTls), [self = shared_from_this(), head, keepAlive, version](ApiResponse r) {
          net::post(self->stream_.get_executor(), [self, r = std::move(r), head, keepAlive, version]() mutable {
            if (head) r.body.clear();
            self->respond(std::move(r), keepAlive, version);
          });
        });
  }

  void upgrade(StringRequest req) {
    auto api = toApiRequest(req, kTls);
    for (const auto& route : *context_.webSockets) {
      if (route.path != api.path) continue;
      if (auto refused = context_.router->admit(api)) return respond(std::move(*refused), false, req.version());
      if (auto refused = route.check(api)) return respond(std::move(*refused), false, req.version());
      startWebSocket(std::move(stream_), std::move(req), context_.limits.maxWebSocketBacklog,
                     [subscribe = route.subscribe, api](std::function<void(std::string)> send) {
                       return subscribe(api, std::move(send));
                     });
      return;
    }
    respond(errorResponse(404, "not_found", "no WebSocket endpoint at " + api.path), false, req.version());
  }

  void respond(ApiResponse r, bool keepAlive, unsigned version) {
    auto res = toBeastResponse(std::move(r), keepAlive, version);
    boost::beast::http::async_write(stream_, *res,
                                    [self = shared_from_this(), res, keepAlive](error_code ec, std::size_t) {
                                      if (ec || !keepAlive) return self->close();
                                      self->doRead();
                                    });
  }

  std::string remote() {
    error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    return ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void close() {
    if constexpr (kTls) {
      // Say close_notify (bounded by the idle timeout), then drop the socket either way.
      if (!shuttingDown_) {
        shuttingDown_ = true;
        lowest().expires_after(std::chrono::milliseconds(context_.limits.idleTimeoutMs));
        return stream_.async_shutdown([self = shared_from_this()](error_code) { self->lowest().close(); });
      }
    }
    error_code ignored;
    lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    lowest().close();
  }

  Stream stream_;
  bool shuttingDown_ = false;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  SessionContext context_;
};

}  // namespace fc::server::http::session
