// The HTTP and HTTPS listeners (Boost.Beast): reads requests with size limits and timeouts and answers them
// through a Router. Beast stays inside http_server.cpp and server/http/session/.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/http/router.hpp"
#include "server/net/tls_context.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::server::http {

struct HttpLimits {
  std::size_t maxBodyBytes = 1 << 20;
  std::uint32_t idleTimeoutMs = 30'000;
  std::size_t maxWebSocketBacklog = 10'000;  // frames queued for a slow WebSocket client before it is dropped
};

/// A WebSocket endpoint at `path`. `check` looks at the upgrade request and may refuse it with an
/// error response; after the handshake `subscribe` starts the stream and returns the function that
/// ends it (called once, when the socket closes). `send` queues one text frame, from any thread.
struct WebSocketRoute {
  std::string path;
  std::function<std::optional<ApiResponse>(const ApiRequest& request)> check;
  std::function<std::function<void()>(const ApiRequest& request, std::function<void(std::string)> send)> subscribe;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, std::shared_ptr<const Router> router, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Adds a WebSocket endpoint; call before listen().
  void addWebSocket(WebSocketRoute route);

  /// Binds and starts accepting; returns the bound port. Throws std::runtime_error.
  std::uint16_t listen(const std::string& address, std::uint16_t port);
  /// The same over TLS (HTTPS) with the given certificate; client certificates are not asked for.
  std::uint16_t listenTls(const std::string& address, std::uint16_t port, const TlsFiles& tls);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::http
