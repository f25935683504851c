// Opening a listening TCP socket, shared by the MQTT and HTTP listeners. Included only by .cpp
// files that already compile Asio.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace fc::server {

/// Binds `address:port` (port 0: ephemeral) and listens. Throws std::runtime_error naming the endpoint.
inline std::shared_ptr<boost::asio::ip::tcp::acceptor> bindAcceptor(boost::asio::io_context& ioc,
                                                                    const std::string& address, std::uint16_t port) {
  using boost::asio::ip::tcp;
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("invalid bind address '" + address + "'");
  tcp::endpoint endpoint(ip, port);
  auto acceptor = std::make_shared<tcp::acceptor>(ioc);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  return acceptor;
}

}  // namespace fc::server
