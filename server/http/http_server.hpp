// The HTTP listener (Boost.Beast): reads requests with size limits and timeouts and answers them
// through a Router. Beast stays inside http_server.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "server/http/router.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::server::http {

struct HttpLimits {
  std::size_t maxBodyBytes = 1 << 20;
  std::uint32_t idleTimeoutMs = 30'000;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& ioc, std::shared_ptr<const Router> router, HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts accepting; returns the bound port. Throws std::runtime_error.
  std::uint16_t listen(const std::string& address, std::uint16_t port);
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::http
