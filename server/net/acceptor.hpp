// Opening a listening TCP socket and surviving accept() failures, shared by the MQTT and HTTP
// listeners. Included only by .cpp files that already compile Asio.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
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

/// How long a listener waits before accepting again after running out of descriptors or memory.
inline constexpr std::chrono::milliseconds kAcceptBackoff{100};

/// Whether an accept() error means the process or the system is out of something (descriptors,
/// socket buffers, memory): accepting again at once would fail the same way, in a busy loop.
inline bool acceptShouldBackOff(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

/// Lets a repeated warning through at most once per `interval` and counts the ones it held back,
/// so that a flood of identical failures costs one log line every few seconds. Thread-safe.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}

  /// True when the caller should log now; `suppressed` is then set to how many were held back
  /// since the last line.
  bool allow(std::uint64_t& suppressed) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    auto last = last_.load(std::memory_order_relaxed);
    if (last != 0 && now - last < interval_.count()) {
      held_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (!last_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      held_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    suppressed = held_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::atomic<std::chrono::steady_clock::rep> last_{0};
  std::atomic<std::uint64_t> held_{0};
};

/// Calls `again` after kAcceptBackoff on `acceptor`'s executor (`again` checks whether the
/// listener stopped meanwhile).
inline void acceptLater(const std::shared_ptr<boost::asio::ip::tcp::acceptor>& acceptor, std::function<void()> again) {
  auto timer = std::make_shared<boost::asio::steady_timer>(acceptor->get_executor(), kAcceptBackoff);
  timer->async_wait([timer, again = std::move(again)](const boost::system::error_code& ec) {
    if (!ec) again();
  });
}

}  // namespace fc::server
