// The server side of one MQTT 3.1/3.1.1 connection as a sans-I/O state machine: the rules that
// belong to the connection rather than to the broker — CONNECT first, PINGREQ answered here,
// nothing read after DISCONNECT, the connect timeout and the keepalive. Bytes and the time go in;
// packets to deliver (each with the bytes it arrived as), packets to send, a close and the next
// deadline come out. The server's Asio connection drives it on its strand; the unit tests drive
// it with made-up time points. Sessions, subscriptions and QoS flows are the broker's, not this.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/packet.hpp"

namespace fc::mqtt {

/// Why a ServerSession ends its connection.
enum class CloseReason : std::uint8_t {
  ConnectTimeout,    ///< no CONNECT within ServerSessionOptions::connectTimeout
  KeepaliveTimeout,  ///< nothing received for 1.5 keepalive periods [MQTT-3.1.2-24]
  NotConnect,        ///< the first packet was not CONNECT [MQTT-3.1.0-1]
  Malformed,         ///< the bytes do not decode (the DecodeError is in the message) [MQTT-4.8.0-1]
  TooManyPings,      ///< more PINGREQs within ConnectionRules::pingWindow than ConnectionRules::maxPings
};

/// Rules a server may set for one connection from its CONNECT, beyond the protocol's (a platform
/// that caps the keepalive it honours, or drops clients that ping too fast). The defaults are none.
struct ConnectionRules {
  /// 0: none. A CONNECT keepalive above this (or 0, "no keepalive") is treated as this.
  std::uint16_t maxKeepAlive = 0;
  /// 0: no limit. The connection closes at the PINGREQ that makes more than this many within
  /// any `pingWindow`.
  std::uint32_t maxPings = 0;
  std::chrono::milliseconds pingWindow{0};
  bool operator==(const ConnectionRules&) const = default;
};

struct ServerSessionOptions {
  std::chrono::milliseconds connectTimeout{10'000};
  Limits limits;
  /// Asked once per connection with its CONNECT, before it is delivered (e.g. the dialect of the
  /// device it names); none: no rules. Called on the connection's strand: it must be thread-safe.
  std::function<ConnectionRules(const Connect&)> rules;
};

/// Where a ServerSession's output goes, in the order the input called for it.
class ServerSessionHandler {
 public:
  /// A packet for the broker: the CONNECT, then every later packet except PINGREQ (DISCONNECT
  /// included, as the last one). `bytes` is the packet as it arrived: a view into the input of
  /// the onBytes call, valid while the caller keeps that buffer.
  virtual void deliver(Packet&& packet, std::span<const std::uint8_t> bytes) = 0;
  /// A packet the session answers itself: PINGRESP [MQTT-3.12.4-1].
  virtual void send(const Packet& packet) = 0;
  /// End the connection (packets delivered before still count); the session is Closed.
  virtual void close(CloseReason reason, std::string_view message) = 0;

 protected:
  ~ServerSessionHandler() = default;
};

class ServerSession {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  enum class State : std::uint8_t {
    AwaitingConnect,  ///< nothing decoded yet; the connect timeout runs
    Connected,        ///< CONNECT delivered; the keepalive (if any) runs
    Disconnected,     ///< DISCONNECT delivered: nothing more is read [MQTT-3.14.4-1]
    Closed,           ///< the session asked for a close
  };

  /// `options` must outlive the session (one set serves every connection of a listener).
  ServerSession(const ServerSessionOptions& options, TimePoint now) noexcept : options_(&options), mark_(now) {}

  /// Decodes the whole packets at the front of `in`, received at `now`, and reports them to
  /// `out`; returns how many bytes it used (the rest is an incomplete packet to offer again with
  /// more). Once Disconnected or Closed it uses nothing and reports nothing.
  std::size_t onBytes(std::span<const std::uint8_t> in, TimePoint now, ServerSessionHandler& out);

  /// When the connection must be closed unless bytes arrive first: the connect timeout before
  /// CONNECT, 1.5 keepalive periods after the last receipt once connected (none for keepalive 0),
  /// none once Disconnected or Closed.
  [[nodiscard]] std::optional<TimePoint> deadline() const noexcept;

  /// Call at or after deadline() (early calls do nothing): closes with the timeout's reason.
  void onTimer(TimePoint now, ServerSessionHandler& out);

  [[nodiscard]] State state() const noexcept { return state_; }
  /// The client id of the CONNECT, as sent (empty before it, or when the client sent none).
  [[nodiscard]] const std::string& clientId() const noexcept { return clientId_; }
  /// The keepalive in force: the CONNECT's, capped by the connection's rules.
  [[nodiscard]] std::uint16_t keepAlive() const noexcept { return keepAlive_; }
  [[nodiscard]] const ConnectionRules& rules() const noexcept { return rules_; }

 private:
  void closeWith(CloseReason reason, std::string_view message, ServerSessionHandler& out);

  const ServerSessionOptions* options_;
  TimePoint mark_;  // AwaitingConnect: when the connection began; then: the last receipt
  std::string clientId_;
  std::uint16_t keepAlive_ = 0;
  State state_ = State::AwaitingConnect;
  ConnectionRules rules_;
  std::deque<TimePoint> pings_;  // the recent PINGREQs, while rules_.maxPings is set
};

/// The message for a CloseReason, for logs ("keepalive timeout").
std::string_view toString(CloseReason reason) noexcept;

}  // namespace fc::mqtt
