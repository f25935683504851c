// A connected UDP socket on the loopback for hand-built datagrams: what the client library is too
// polite to send (garbage, duplicates, RST, raw DTLS records), for the CoAP, CoAPS and oceanconnect
// integration tests.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "protocols/coap/message.hpp"

namespace fc::test {

class RawUdp {
 public:
  explicit RawUdp(std::uint16_t port) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ADD_FAILURE() << "connect";
  }
  ~RawUdp() { close(fd_); }
  RawUdp(const RawUdp&) = delete;
  RawUdp& operator=(const RawUdp&) = delete;

  void send(const std::vector<std::uint8_t>& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  void send(const coap::Message& m) { send(coap::encode(m).value()); }

  /// The next datagram, or nullopt after `timeout`.
  std::optional<std::vector<std::uint8_t>> receiveBytes(std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    std::vector<std::uint8_t> buf(65536);
    const auto n = recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return buf;
  }
  /// The next datagram as a CoAP message; nullopt after `timeout` or when it does not decode.
  std::optional<coap::Message> receive(std::chrono::milliseconds timeout = std::chrono::seconds(2)) {
    auto bytes = receiveBytes(timeout);
    if (!bytes) return std::nullopt;
    auto m = coap::decode(*bytes);
    return m ? std::optional<coap::Message>(*m) : std::nullopt;
  }
  /// Sends `m` and returns the answer (an empty message, and a test failure, when none comes).
  coap::Message exchange(const coap::Message& m) {
    send(m);
    auto r = receive();
    EXPECT_TRUE(r) << "no answer";
    return r.value_or(coap::Message{});
  }

 private:
  int fd_ = -1;
};

}  // namespace fc::test
