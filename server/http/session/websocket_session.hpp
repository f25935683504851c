// One WebSocket client: text frames out from a bounded queue, frames in read only to notice the
// close (and to let Beast answer pings). A template over the stream, instantiated once per stream
// in its own translation unit (websocket_plain.cpp, websocket_tls.cpp): include it nowhere else.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <memory>
#include <string>

#include "server/http/session/beast_session.hpp"

namespace fc::server::http::session {

template <class Stream>
class WebSocketSession : public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  using std::enable_shared_from_this<WebSocketSession<Stream>>::shared_from_this;

  WebSocketSession(Stream stream, std::size_t maxBacklog) : ws_(std::move(stream)), maxBacklog_(maxBacklog) {}

  /// Completes the upgrade; `opened` subscribes and returns the unsubscribe function. It subscribes
  /// before the 101 goes out, so a client that acts once its handshake returns misses no event;
  /// events until then wait in the outbox.
  void accept(StringRequest req, const WebSocketOpened& opened) {
    namespace websocket = boost::beast::websocket;
    boost::beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(boost::beast::role_type::server));
    std::weak_ptr<WebSocketSession> weak = this->shared_from_this();
    unsubscribe_ = opened([weak](std::string text) {
      if (auto s = weak.lock()) s->send(std::move(text));
    });
    ws_.async_accept(req, [self = shared_from_this()](error_code ec) {
      if (ec) return self->close();
      self->accepted_ = true;
      if (!self->outbox_.empty()) self->doWrite();
      self->doRead();
    });
  }

 private:
  using error_code = boost::system::error_code;

  void send(std::string text) {
    boost::asio::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      if (self->closed_) return;
      if (self->outbox_.size() >= self->maxBacklog_) {
        spdlog::info("http: WebSocket client fell {} events behind; closing it", self->outbox_.size());
        return self->close();
      }
      self->outbox_.push_back(std::move(text));
      if (self->accepted_ && self->outbox_.size() == 1) self->doWrite();
    });
  }

  void doWrite() {
    ws_.text(true);
    ws_.async_write(boost::asio::buffer(outbox_.front()), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->outbox_.pop_front();
      if (!self->outbox_.empty()) self->doWrite();
    });
  }

  void doRead() {
    ws_.async_read(inbox_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      self->inbox_.clear();  // clients have nothing to say; frames are ignored
      self->doRead();
    });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    if (unsubscribe_) unsubscribe_();
    unsubscribe_ = nullptr;
    outbox_.clear();
    error_code ignored;
    boost::beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  boost::beast::websocket::stream<Stream> ws_;
  std::size_t maxBacklog_;
  boost::beast::flat_buffer inbox_;
  std::deque<std::string> outbox_;
  std::function<void()> unsubscribe_;
  bool accepted_ = false;
  bool closed_ = false;
};

template <class Stream>
void startWebSocketSession(Stream stream, StringRequest request, std::size_t maxBacklog,
                           const WebSocketOpened& opened) {
  std::make_shared<WebSocketSession<Stream>>(std::move(stream), maxBacklog)->accept(std::move(request), opened);
}

}  // namespace fc::server::http::session
