// MQTT 3.1 and 3.1.1 control packets as plain value types.
// One struct per packet type (MQTT 3.1.1 §2.2.1), owning its fields, compared with defaulted operator==.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace fc::mqtt {

/// Protocol names and levels accepted in CONNECT: MQTT 3.1 ("MQIsdp", 3) and 3.1.1 ("MQTT", 4).
inline constexpr std::uint8_t kLevel31 = 3;
inline constexpr std::uint8_t kLevel311 = 4;
inline constexpr const char* kProtocolName31 = "MQIsdp";
inline constexpr const char* kProtocolName311 = "MQTT";

enum class QoS : std::uint8_t { AtMostOnce = 0, AtLeastOnce = 1, ExactlyOnce = 2 };

/// CONNACK return codes, MQTT 3.1.1 §3.2.2.3 table 3.1.
enum class ConnectReturn : std::uint8_t {
  Accepted = 0x00,
  UnacceptableProtocolVersion = 0x01,
  IdentifierRejected = 0x02,
  ServerUnavailable = 0x03,
  BadUsernameOrPassword = 0x04,
  NotAuthorized = 0x05,
};

/// SUBACK failure return code, MQTT 3.1.1 §3.9.3.
inline constexpr std::uint8_t kSubackFailure = 0x80;

struct Will {
  std::string topic;
  std::vector<std::uint8_t> payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  bool operator==(const Will&) const = default;
};

/// CONNECT. The decoder accepts any protocol level so that the server can answer an unknown one
/// with CONNACK 0x01 [MQTT-3.1.2-2]; it rejects an unknown protocol name [MQTT-3.1.2-1].
struct Connect {
  std::string protocolName = kProtocolName311;
  std::uint8_t protocolLevel = kLevel311;
  bool cleanSession = true;
  std::uint16_t keepAlive = 60;  // seconds; 0 disables keepalive
  std::string clientId;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::vector<std::uint8_t>> password;  // binary data in 3.1.1 §3.1.3.5
  bool operator==(const Connect&) const = default;
};

struct Connack {
  bool sessionPresent = false;
  ConnectReturn returnCode = ConnectReturn::Accepted;
  bool operator==(const Connack&) const = default;
};

struct Publish {
  std::string topic;
  std::vector<std::uint8_t> payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  bool dup = false;
  std::uint16_t packetId = 0;  // present on the wire only when qos > 0
  bool operator==(const Publish&) const = default;
};

struct Puback {
  std::uint16_t packetId = 0;
  bool operator==(const Puback&) const = default;
};
struct Pubrec {
  std::uint16_t packetId = 0;
  bool operator==(const Pubrec&) const = default;
};
struct Pubrel {
  std::uint16_t packetId = 0;
  bool operator==(const Pubrel&) const = default;
};
struct Pubcomp {
  std::uint16_t packetId = 0;
  bool operator==(const Pubcomp&) const = default;
};

struct Subscription {
  std::string filter;
  QoS qos = QoS::AtMostOnce;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  std::uint16_t packetId = 0;
  std::vector<Subscription> subscriptions;  // at least one [MQTT-3.8.3-3]
  bool operator==(const Subscribe&) const = default;
};

struct Suback {
  std::uint16_t packetId = 0;
  std::vector<std::uint8_t> returnCodes;  // 0x00..0x02 granted QoS, or kSubackFailure
  bool operator==(const Suback&) const = default;
};

struct Unsubscribe {
  std::uint16_t packetId = 0;
  std::vector<std::string> filters;  // at least one [MQTT-3.10.3-2]
  bool operator==(const Unsubscribe&) const = default;
};

struct Unsuback {
  std::uint16_t packetId = 0;
  bool operator==(const Unsuback&) const = default;
};

struct Pingreq {
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {
  bool operator==(const Pingresp&) const = default;
};
struct Disconnect {
  bool operator==(const Disconnect&) const = default;
};

/// The variant's index + 1 is the packet type on the wire (CONNECT = 1 … DISCONNECT = 14).
using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe, Suback,
                            Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect>;

/// Human-readable packet type name ("CONNECT", "PUBLISH", …) for logs.
const char* packetName(const Packet& p) noexcept;

}  // namespace fc::mqtt
