// A blocking Beast WebSocket client. Reads are asynchronous underneath, run on a private
// io_context for at most the timeout; a read that timed out stays pending and is picked up by the
// next call, so no frame is lost and the stream stays usable.
#include "tests/integration/websocket_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <stdexcept>

namespace fc::test {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

struct WebSocketClient::Impl {
  net::io_context ioc;
  websocket::stream<tcp::socket> ws{ioc};
  boost::beast::flat_buffer buffer;
  bool reading = false;
  bool done = false;
  boost::system::error_code error;
};

WebSocketClient::WebSocketClient(std::uint16_t port, const std::string& target) : impl_(std::make_unique<Impl>()) {
  boost::system::error_code ec;
  impl_->ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
  if (ec) throw std::runtime_error("WebSocket connect failed: " + ec.message());
  impl_->ws.handshake("127.0.0.1:" + std::to_string(port), target, ec);
  if (ec) throw std::runtime_error("WebSocket handshake failed: " + ec.message());
}

WebSocketClient::~WebSocketClient() {
  boost::system::error_code ignored;
  impl_->ws.next_layer().close(ignored);
  impl_->ioc.restart();
  impl_->ioc.poll();
}

std::optional<std::string> WebSocketClient::next(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (!s.reading) {
    s.reading = true;
    s.done = false;
    s.ws.async_read(s.buffer, [&s](boost::system::error_code ec, std::size_t) {
      s.done = true;
      s.error = ec;
    });
  }
  s.ioc.restart();
  s.ioc.run_for(timeout);
  if (!s.done) return std::nullopt;
  s.reading = false;
  if (s.error) return std::nullopt;
  auto text = boost::beast::buffers_to_string(s.buffer.data());
  s.buffer.clear();
  return text;
}

}  // namespace fc::test
