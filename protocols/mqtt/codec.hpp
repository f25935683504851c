// MQTT 3.1/3.1.1 wire codec: an incremental, non-throwing decoder and an appending encoder.
// The decoder takes whatever bytes have arrived and returns one packet plus the bytes it used,
// Incomplete when more are needed, or a precise error naming the rule that was broken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/mqtt/packet.hpp"

namespace fc::mqtt {

enum class DecodeError : std::uint8_t {
  Incomplete = 1,        ///< not enough bytes yet; call again with more
  MalformedLength,       ///< remaining length longer than 4 bytes (§2.2.3) or fields overrun it
  TooLarge,              ///< packet bigger than Limits::maxPacket
  UnknownPacketType,     ///< type 0 or 15 (§2.2.1)
  BadFlags,              ///< reserved fixed-header flags wrong (§2.2.2, [MQTT-2.2.2-2])
  BadQos,                ///< QoS 3 [MQTT-3.3.1-4], or a will/subscription QoS above 2
  ZeroPacketId,          ///< packet identifier 0 [MQTT-2.3.1-1]
  BadUtf8,               ///< ill-formed UTF-8 or U+0000 in a string [MQTT-1.5.3-1], [MQTT-1.5.3-2]
  BadTopicName,          ///< empty topic name or wildcard in a topic name [MQTT-3.3.2-1], [MQTT-3.3.2-2]
  BadTopicFilter,        ///< empty filter or misplaced '#'/'+' [MQTT-4.7.1-2], [MQTT-4.7.1-3]
  BadProtocolName,       ///< CONNECT protocol name neither "MQTT" nor "MQIsdp" [MQTT-3.1.2-1]
  BadConnectFlags,       ///< reserved bit set [MQTT-3.1.2-3], will flags inconsistent [MQTT-3.1.2-11..15],
                         ///< password without username [MQTT-3.1.2-22]
  EmptySubscription,     ///< SUBSCRIBE/UNSUBSCRIBE with no topic [MQTT-3.8.3-3], [MQTT-3.10.3-2]
  TrailingBytes,         ///< bytes left inside the remaining length after the last field
};

const std::error_category& decodeCategory() noexcept;
std::error_code make_error_code(DecodeError e) noexcept;

struct Limits {
  std::size_t maxPacket = 256 * 1024;  ///< whole packet, fixed header included
};

template <class T>
struct Decoded {
  T value;
  std::size_t consumed = 0;
};

/// Decodes the first packet in `in`. Never throws on any input.
[[nodiscard]] Expected<Decoded<Packet>, DecodeError> decode(std::span<const std::uint8_t> in,
                                                            const Limits& limits) noexcept;

/// Appends the wire form of `p` to `out`. Packets are assumed valid (the encoder does not validate).
void encode(const Packet& p, std::vector<std::uint8_t>& out);

/// Appends a PUBLISH built from borrowed fields, so a broker fanning one message out to many
/// subscribers does not copy the payload into a Publish first. encode(Publish) gives the same bytes.
void encodePublish(std::string_view topic, std::span<const std::uint8_t> payload, QoS qos, bool retain, bool dup,
                   std::uint16_t packetId, std::vector<std::uint8_t>& out);

/// Convenience: the wire form of `p` in a fresh vector.
[[nodiscard]] std::vector<std::uint8_t> encode(const Packet& p);

}  // namespace fc::mqtt

template <>
struct std::is_error_code_enum<fc::mqtt::DecodeError> : std::true_type {};
