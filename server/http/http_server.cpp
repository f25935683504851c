// Beast HTTP/1.1 sessions: one strand each, body limit and idle timeout, keep-alive, and every
// answer produced by the Router from plain structs.
#include "server/http/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <spdlog/spdlog.h>

#include "server/net/acceptor.hpp"
#include "server/net/tls_context.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <type_traits>

namespace fc::server::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

ApiRequest toApiRequest(const bhttp::request<bhttp::string_body>& req, bool tls) {
  ApiRequest out;
  out.tls = tls;
  out.method = std::string(req.method_string());
  const std::string target(req.target());
  const auto q = target.find('?');
  out.path = target.substr(0, q);
  if (q != std::string::npos) out.query = target.substr(q + 1);
  for (const auto& field : req) {
    std::string name(field.name_string());
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    out.headers[name] = std::string(field.value());
  }
  out.body = req.body();
  return out;
}

/// One WebSocket client: text frames out from a bounded queue, frames in read only to notice the
/// close (and to let Beast answer pings). `Stream` is beast::tcp_stream or TlsStream.
template <class Stream>
class WebSocketSession : public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  using std::enable_shared_from_this<WebSocketSession<Stream>>::shared_from_this;

  WebSocketSession(Stream stream, std::size_t maxBacklog)
      : ws_(std::move(stream)), maxBacklog_(maxBacklog) {}

  /// Completes the upgrade; `opened` subscribes and returns the unsubscribe function. It subscribes
  /// before the 101 goes out, so a client that acts once its handshake returns misses no event;
  /// events until then wait in the outbox.
  void accept(bhttp::request<bhttp::string_body> req,
              std::function<std::function<void()>(std::function<void(std::string)>)> opened) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
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
  void send(std::string text) {
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
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
    ws_.async_write(net::buffer(outbox_.front()), [self = shared_from_this()](error_code ec, std::size_t) {
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
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  websocket::stream<Stream> ws_;
  std::size_t maxBacklog_;
  beast::flat_buffer inbox_;
  std::deque<std::string> outbox_;
  std::function<void()> unsubscribe_;
  bool accepted_ = false;
  bool closed_ = false;
};

/// One HTTP/1.1 connection. `Stream` is beast::tcp_stream or TlsStream (handshake first).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  Session(Stream stream, std::shared_ptr<const Router> router,
          std::shared_ptr<const std::vector<WebSocketRoute>> webSockets, HttpLimits limits)
      : stream_(std::move(stream)), router_(std::move(router)), webSockets_(std::move(webSockets)), limits_(limits) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (kTls) self->doHandshake();
      else self->doRead();
    });
  }

 private:
  void doHandshake() {
    lowest().expires_after(std::chrono::milliseconds(limits_.idleTimeoutMs));
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (ec) {
        spdlog::info("https: TLS handshake with {} failed: {}", self->remote(), ec.message());
        return self->close();
      }
      self->doRead();
    });
  }

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void doRead() {
    parser_.emplace();
    parser_->body_limit(limits_.maxBodyBytes);
    lowest().expires_after(std::chrono::milliseconds(limits_.idleTimeoutMs));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, std::size_t) { self->onRead(ec); });
  }

  void onRead(error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == ssl::error::stream_truncated)
      return close();
    if (ec == bhttp::error::body_limit) {
      return respond(errorResponse(413, "payload_too_large",
                                   "request body exceeds " + std::to_string(limits_.maxBodyBytes) + " bytes"),
                     false, 11);
    }
    if (ec) {
      spdlog::info("http: bad request from {}: {}", remote(), ec.message());
      return respond(errorResponse(400, "bad_request", "malformed HTTP request: " + ec.message()), false, 11);
    }
    auto req = parser_->release();
    if (websocket::is_upgrade(req)) return upgrade(std::move(req));
    const bool head = req.method() == bhttp::verb::head;
    const bool keepAlive = req.keep_alive();
    const unsigned version = req.version();
    // The handler may answer later from another strand; the answer is written on ours.
    router_->dispatch(toApiRequest(req, kTls), [self = shared_from_this(), head, keepAlive, version](ApiResponse r) {
      net::post(self->stream_.get_executor(), [self, r = std::move(r), head, keepAlive, version]() mutable {
        if (head) r.body.clear();
        self->respond(std::move(r), keepAlive, version);
      });
    });
  }

  void upgrade(bhttp::request<bhttp::string_body> req) {
    auto api = toApiRequest(req, kTls);
    for (const auto& route : *webSockets_) {
      if (route.path != api.path) continue;
      if (auto refused = router_->admit(api)) return respond(std::move(*refused), false, req.version());
      if (auto refused = route.check(api)) return respond(std::move(*refused), false, req.version());
      auto ws = std::make_shared<WebSocketSession<Stream>>(std::move(stream_), limits_.maxWebSocketBacklog);
      ws->accept(std::move(req), [subscribe = route.subscribe, api](std::function<void(std::string)> send) {
        return subscribe(api, std::move(send));
      });
      return;
    }
    respond(errorResponse(404, "not_found", "no WebSocket endpoint at " + api.path), false, req.version());
  }

  void respond(ApiResponse r, bool keepAlive, unsigned version) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), version);
    res->set(bhttp::field::server, "fakecloud");
    res->set(bhttp::field::content_type, r.contentType);
    for (const auto& [name, value] : r.headers) res->set(name, value);
    res->keep_alive(keepAlive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    bhttp::async_write(stream_, *res, [self = shared_from_this(), res, keepAlive](error_code ec, std::size_t) {
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
        lowest().expires_after(std::chrono::milliseconds(limits_.idleTimeoutMs));
        return stream_.async_shutdown([self = shared_from_this()](error_code) { self->lowest().close(); });
      }
    }
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().close();
  }

  Stream stream_;
  bool shuttingDown_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<const Router> router_;
  std::shared_ptr<const std::vector<WebSocketRoute>> webSockets_;
  HttpLimits limits_;
};

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  net::io_context& ioc;
  std::shared_ptr<const Router> router;
  std::shared_ptr<std::vector<WebSocketRoute>> webSockets = std::make_shared<std::vector<WebSocketRoute>>();
  HttpLimits limits;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<ssl::context>> tlsContexts;
  std::atomic<bool> stopping{false};
  LogLimiter acceptWarnings{std::chrono::seconds(5)};

  Impl(net::io_context& io, std::shared_ptr<const Router> r, HttpLimits l) : ioc(io), router(std::move(r)), limits(l) {}

  /// Accepts forever; `tls` null means plain HTTP.
  void accept(std::shared_ptr<tcp::acceptor> acceptor, std::shared_ptr<ssl::context> tls) {
    acceptor->async_accept(net::make_strand(ioc), [self = shared_from_this(), acceptor, tls](error_code ec,
                                                                                            tcp::socket s) {
      if (ec == net::error::operation_aborted || self->stopping) return;
      if (ec && acceptShouldBackOff(ec)) {
        // Out of descriptors or memory: accepting again at once would fail again, in a busy loop.
        std::uint64_t held = 0;
        if (self->acceptWarnings.allow(held))
          spdlog::warn("http: accept failed: {}; retrying every {} ms ({} more failures since the last warning)",
                       ec.message(), kAcceptBackoff.count(), held);
        acceptLater(acceptor, [self, acceptor, tls] {
          if (!self->stopping) self->accept(acceptor, tls);
        });
        return;
      }
      if (ec)
        spdlog::warn("http: accept failed: {}", ec.message());
      else if (tls)
        std::make_shared<Session<TlsStream>>(TlsStream(beast::tcp_stream(std::move(s)), *tls), self->router,
                                             self->webSockets, self->limits)
            ->start();
      else
        std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(s)), self->router, self->webSockets,
                                                     self->limits)
            ->start();
      self->accept(acceptor, tls);
    });
  }
};

HttpServer::HttpServer(net::io_context& ioc, std::shared_ptr<const Router> router, HttpLimits limits)
    : impl_(std::make_shared<Impl>(ioc, std::move(router), limits)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::addWebSocket(WebSocketRoute route) { impl_->webSockets->push_back(std::move(route)); }

std::uint16_t HttpServer::listen(const std::string& address, std::uint16_t port) {
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->accept(acceptor, nullptr);
  return acceptor->local_endpoint().port();
}

std::uint16_t HttpServer::listenTls(const std::string& address, std::uint16_t port, const TlsFiles& tls) {
  auto ctx = makeServerTlsContext(tls);
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->tlsContexts.push_back(ctx);
  impl_->accept(acceptor, ctx);
  return acceptor->local_endpoint().port();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  for (auto& a : impl_->acceptors)
    net::post(a->get_executor(), [a] {
      error_code ignored;
      a->close(ignored);
    });
}

}  // namespace fc::server::http
