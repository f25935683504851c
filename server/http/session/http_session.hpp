// One HTTP/1.1 connection: its own strand, body limit and idle timeout, keep-alive, every answer
// produced by the Router from plain structs. A template over the stream, instantiated once per
// stream in its own translation unit (session_plain.cpp, session_tls.cpp): include it nowhere else.
//
// A request is read in two steps: the headers, then the body. The Router's upload routes may take
// the body as it arrives (Router::startUpload, a firmware upload streamed to disk); every other
// body is read whole within HttpLimits::maxBodyBytes. A response with a BodySource (a firmware
// download) is written piece by piece: the head, then what the source hands out.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "server/http/session/beast_session.hpp"

namespace fc::server::http::session {

template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, const SessionContext& context)
      : stream_(std::move(stream)), context_(context), timer_(stream_.get_executor()) {}

  ~Session() {
    // Destroyed with the io_context while an upload was still coming in. (A download cut that way
    // is not reported: at shutdown whoever counts it may be gone already.)
    if (sink_) sink_->abort();
  }

  void start() {
    boost::asio::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (kTls)
        self->doHandshake();
      else
        self->doRead();
    });
  }

 private:
  using error_code = boost::system::error_code;
  static constexpr std::size_t kChunk = 64 * 1024;  // upload reads and download writes

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
  void arm() { lowest().expires_after(std::chrono::milliseconds(context_.limits.idleTimeoutMs)); }

  bool quietEnd(error_code ec) {
    namespace net = boost::asio;
    return ec == boost::beast::http::error::end_of_stream || ec == boost::beast::error::timeout ||
           ec == net::error::operation_aborted || ec == net::error::connection_reset ||
           ec == net::ssl::error::stream_truncated || ec == net::error::eof;
  }

  void doRead() {
    header_.emplace();
    header_->body_limit(boost::none);  // the limit depends on the route: see onHeader
    arm();
    boost::beast::http::async_read_header(
        stream_, buffer_, *header_, [self = shared_from_this()](error_code ec, std::size_t) { self->onHeader(ec); });
  }

  void onHeader(error_code ec) {
    namespace bhttp = boost::beast::http;
    if (quietEnd(ec)) return close();
    if (ec) {
      spdlog::info("http: bad request from {}: {}", remote(), ec.message());
      return respond(errorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()), false, 11);
    }
    const auto& h = header_->get();
    if (!boost::beast::websocket::is_upgrade(h)) {
      if (auto upload = context_.router->startUpload(toApiRequest(h, kTls))) {
        if (upload->answer) return refuseUpload(std::move(*upload->answer));
        if (upload->sink) return startUpload(std::move(upload->sink));
      }
    }
    if (header_->content_length() && *header_->content_length() > context_.limits.maxBodyBytes) return tooLarge();
    body_.emplace(std::move(*header_));
    header_.reset();
    body_->body_limit(context_.limits.maxBodyBytes);
    bhttp::async_read(stream_, buffer_, *body_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->onRead(ec); });
  }

  void tooLarge() {
    respond(errorResponse(413, "payload_too_large",
                          "request body exceeds " + std::to_string(context_.limits.maxBodyBytes) + " bytes"),
            false, 11);
  }

  void onRead(error_code ec) {
    namespace bhttp = boost::beast::http;
    namespace net = boost::asio;
    if (quietEnd(ec)) return close();
    if (ec == bhttp::error::body_limit) return tooLarge();
    if (ec) {
      spdlog::info("http: bad request from {}: {}", remote(), ec.message());
      return respond(errorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()), false, 11);
    }
    auto req = body_->release();
    body_.reset();
    if (boost::beast::websocket::is_upgrade(req)) return upgrade(std::move(req));
    const bool head = req.method() == bhttp::verb::head;
    const bool keepAlive = req.keep_alive();
    const unsigned version = req.version();
    // The handler may answer later from another strand; the answer is written on ours.
    context_.router->dispatch(
        toApiRequest(req, kTls), [self = shared_from_this(), head, keepAlive, version](ApiResponse r) {
          net::post(self->stream_.get_executor(), [self, r = std::move(r), head, keepAlive, version]() mutable {
            if (head) {
              r.body.clear();
              if (r.stream) return self->respondStreamed(std::move(r), keepAlive, version, true);
            }
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

  // --- streamed request bodies ------------------------------------------------------------------

  void startUpload(std::shared_ptr<UploadSink> sink) {
    sink_ = std::move(sink);
    upload_.emplace(std::move(*header_));
    header_.reset();
    chunk_.resize(kChunk);
    const auto& h = upload_->get();
    keepAlive_ = h.keep_alive();
    version_ = h.version();
    // RFC 9110 §10.1.1: a client that sent "Expect: 100-continue" may wait for this before the body.
    const auto expect = h[boost::beast::http::field::expect];
    if (version_ >= 11 && boost::beast::iequals(expect, "100-continue")) {
      head_ = "HTTP/1.1 100 Continue\r\n\r\n";
      arm();
      return boost::asio::async_write(stream_, boost::asio::buffer(head_),
                                      [self = shared_from_this()](error_code ec, std::size_t) {
                                        if (ec) return self->close();
                                        self->readUpload();
                                      });
    }
    readUpload();
  }

  void readUpload() {
    if (upload_->is_done()) return onUpload({});  // no body at all (no Content-Length, not chunked)
    auto& body = upload_->get().body();
    body.data = chunk_.data();
    body.size = chunk_.size();
    arm();
    boost::beast::http::async_read(stream_, buffer_, *upload_,
                                   [self = shared_from_this()](error_code ec, std::size_t) { self->onUpload(ec); });
  }

  void onUpload(error_code ec) {
    if (ec == boost::beast::http::error::need_buffer) ec = {};
    if (ec) {
      if (!quietEnd(ec)) spdlog::info("http: upload from {} ended: {}", remote(), ec.message());
      sink_->abort();
      sink_.reset();
      return close();
    }
    const auto* data = static_cast<const std::uint8_t*>(upload_->get().body().data);
    const std::size_t got = data ? chunk_.size() - upload_->get().body().size : 0;
    upload_->get().body().data = nullptr;  // consumed: the next read points it at chunk_ again
    if (got > 0) {
      if (auto answer = sink_->write(std::span<const std::uint8_t>(chunk_.data(), got))) {
        sink_.reset();  // the sink ended the upload itself
        return refuseUpload(std::move(*answer));
      }
    }
    if (!upload_->is_done()) return readUpload();
    auto sink = std::move(sink_);
    upload_.reset();
    sink->finish([self = shared_from_this()](ApiResponse r) {
      boost::asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable {
        self->respond(std::move(r), self->keepAlive_, self->version_);
      });
    });
  }

  /// Answers an upload before its body has been read, then reads and drops what the client still
  /// sends (closing at once would reset the connection under the answer), and closes.
  void refuseUpload(ApiResponse r) {
    upload_.reset();
    header_.reset();
    auto res = toBeastResponse(std::move(r), false, 11);
    arm();
    boost::beast::http::async_write(stream_, *res, [self = shared_from_this(), res](error_code ec, std::size_t) {
      if (ec) return self->close();
      error_code ignored;
      self->lowest().socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      self->drain(0);
    });
  }

  void drain(std::uint64_t dropped) {
    static constexpr std::uint64_t kMaxDrain = 64ull << 20;
    if (dropped > kMaxDrain) return close();
    chunk_.resize(kChunk);
    arm();
    stream_.async_read_some(boost::asio::buffer(chunk_),
                            [self = shared_from_this(), dropped](error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->drain(dropped + n);
                            });
  }

  // --- responses --------------------------------------------------------------------------------

  void respond(ApiResponse r, bool keepAlive, unsigned version) {
    if (r.stream) return respondStreamed(std::move(r), keepAlive, version, false);
    if (r.singleWrite) return respondWhole(std::move(r), keepAlive, version);
    auto res = toBeastResponse(std::move(r), keepAlive, version);
    arm();
    boost::beast::http::async_write(stream_, *res,
                                    [self = shared_from_this(), res, keepAlive](error_code ec, std::size_t) {
                                      if (ec || !keepAlive) return self->close();
                                      self->doRead();
                                    });
  }

  /// Head and body in one buffer, handed to the socket in one write.
  void respondWhole(ApiResponse r, bool keepAlive, unsigned version) {
    head_ = streamedHead(r, keepAlive, version);
    head_ += r.body;
    arm();
    boost::asio::async_write(stream_, boost::asio::buffer(head_),
                             [self = shared_from_this(), keepAlive](error_code ec, std::size_t) {
                               if (ec || !keepAlive) return self->close();
                               self->doRead();
                             });
  }

  /// The head, then (unless `headOnly`) the source's pieces until size() bytes are out.
  void respondStreamed(ApiResponse r, bool keepAlive, unsigned version, bool headOnly) {
    head_ = streamedHead(r, keepAlive, version);
    keepAlive_ = keepAlive;
    if (!headOnly) {
      source_ = std::move(r.stream);
      sent_ = 0;
      chunk_.resize(kChunk);
    }
    arm();
    boost::asio::async_write(stream_, boost::asio::buffer(head_),
                             [self = shared_from_this()](error_code ec, std::size_t) {
                               if (ec) return self->endStreamed(false);
                               self->pump();
                             });
  }

  void pump() {
    if (!source_ || sent_ >= source_->size()) return endStreamed(true);
    const auto room = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_.size(), source_->size() - sent_));
    const auto piece = source_->read(std::span<std::uint8_t>(chunk_.data(), room));
    const auto bytes = std::min(piece.bytes, room);
    const bool hold = bytes == 0 && piece.delay.count() > 0 && !piece.close;  // nothing yet: ask again later
    if (bytes == 0 && !hold) return endStreamed(false);  // the source ended early (a fault, or a read error)
    if (hold) {
      lowest().expires_never();
      timer_.expires_after(piece.delay);
      return timer_.async_wait([self = shared_from_this()](error_code ec) {
        if (!ec) self->pump();
      });
    }
    const auto write = [self = shared_from_this(), bytes, close = piece.close] {
      self->arm();
      boost::asio::async_write(self->stream_, boost::asio::buffer(self->chunk_.data(), bytes),
                               [self, close](error_code ec, std::size_t n) {
                                 self->sent_ += n;
                                 if (ec || close) return self->endStreamed(false);
                                 self->pump();
                               });
    };
    if (piece.delay.count() <= 0) return write();
    lowest().expires_never();  // the delay is the source's choice, not the client's idleness
    timer_.expires_after(piece.delay);
    timer_.async_wait([write](error_code ec) {
      if (!ec) write();
    });
  }

  /// A streamed response is over: all of it (keep the connection) or not (drop it: the client
  /// counts on Content-Length).
  void endStreamed(bool complete) {
    if (source_) {
      auto source = std::move(source_);
      source->finished(sent_, complete && sent_ == source->size());
    }
    if (!complete || !keepAlive_) return close();
    doRead();
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
  std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> header_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> body_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::buffer_body>> upload_;
  SessionContext context_;
  boost::asio::steady_timer timer_;
  std::vector<std::uint8_t> chunk_;     // upload reads, download writes, drained bytes
  std::string head_;                    // a streamed response's head, or 100 Continue
  std::shared_ptr<UploadSink> sink_;    // while an upload's body is being read
  std::shared_ptr<BodySource> source_;  // while a streamed body is being written
  std::uint64_t sent_ = 0;
  bool keepAlive_ = true;
  unsigned version_ = 11;
};

}  // namespace fc::server::http::session
