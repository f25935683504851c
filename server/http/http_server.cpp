// The HTTP and HTTPS listeners: acceptors and their back-off. The sessions live in
// server/http/session/ (plain HTTP, HTTPS, WebSocket over each: one translation unit apiece).
#include "server/http/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "server/http/session/beast_session.hpp"
#include "server/net/acceptor.hpp"
#include "server/net/tls_context.hpp"

#include <atomic>
#include <chrono>

namespace fc::server::http {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

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
        session::startTls(std::move(s), *tls, {self->router, self->webSockets, self->limits});
      else
        session::startPlain(std::move(s), {self->router, self->webSockets, self->limits});
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
