// Test support: a blocking WebSocket client (Beast) for the event stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace fc::test {

class WebSocketClient {
 public:
  /// Connects to ws://127.0.0.1:port/target; throws std::runtime_error on failure.
  WebSocketClient(std::uint16_t port, const std::string& target);
  ~WebSocketClient();
  /// The next text frame, or nullopt when none arrives within `timeout` or the socket closed.
  std::optional<std::string> next(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fc::test
