// Options and message type shared by the asynchronous MqttClient, its blocking facade and the
// sans-I/O session that implements the protocol rules for both.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/mqtt/packet.hpp"

namespace fc::client {

/// TLS for MQTT over TLS (MQTT 3.1.1 §5.4) and mutual TLS.
struct TlsOptions {
  std::string caFile;      ///< PEM CA bundle to verify the server; empty = the system's default paths
  std::string certFile;    ///< PEM client certificate chain for mutual TLS; empty = none
  std::string keyFile;     ///< PEM private key of certFile
  std::string serverName;  ///< SNI and the name checked against the server certificate; empty = host
  bool verifyPeer = true;  ///< false accepts any server certificate (tests of a self-signed server only)
};

struct MqttOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::optional<TlsOptions> tls;  ///< set = MQTT over TLS
  /// 3 sends protocol name "MQIsdp" (MQTT 3.1), 4 sends "MQTT" (3.1.1) [MQTT-3.1.2-1], [MQTT-3.1.2-2].
  std::uint8_t protocolLevel = mqtt::kLevel311;
  /// Empty with 3.1.1 lets the server assign one [MQTT-3.1.3-6]; MQTT 3.1 needs 1..23 characters,
  /// so an empty id with level 3 is replaced by a random "fc-…" id.
  std::string clientId;
  bool cleanSession = true;
  std::uint16_t keepAlive = 60;  ///< seconds; 0 disables keepalive (§3.1.2.10)
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<mqtt::Will> will;
  /// false: never send PINGREQ (tests use it to provoke the server's keepalive expiry, [MQTT-3.1.2-24]).
  bool sendPingreq = true;
  /// false: incoming QoS 1/2 PUBLISH is delivered but not answered (PUBACK / PUBREC) until ack(packetId),
  /// so tests can make the server redeliver it.
  bool autoAck = true;
  /// Reconnect after an established connection is lost, waiting reconnectMin·2^n (capped at
  /// reconnectMax) with jitter between attempts. With cleanSession=false the server keeps the
  /// subscriptions; with cleanSession=true the client re-sends the ones it holds.
  bool autoReconnect = false;
  std::chrono::milliseconds reconnectMin{100};
  std::chrono::milliseconds reconnectMax{10000};
  std::size_t maxPacket = 1 << 20;  ///< largest packet accepted from the server, fixed header included
  /// Bound on the whole connect phase: resolve, TCP connect, TLS handshake, CONNECT→CONNACK.
  /// Also bounds the flush of DISCONNECT.
  std::chrono::milliseconds connectTimeout{5000};
};

/// An application message received from the server.
struct Message {
  std::string topic;
  std::vector<std::uint8_t> payload;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;
  bool retain = false;
  bool dup = false;              ///< the server says this may be a redelivery [MQTT-3.3.1-1]
  std::uint16_t packetId = 0;    ///< 0 for QoS 0; what ack() takes when autoAck is false
  bool operator==(const Message&) const = default;
};

}  // namespace fc::client
