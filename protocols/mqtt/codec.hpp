// MQTT 3.1/3.1.1 wire codec: an incremental, non-throwing decoder and an appending encoder.
// The decoder takes whatever bytes have arrived and returns one packet plus the bytes it used,
// Incomplete when more are needed, or a precise error naming the rule that was broken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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

/// What the wire cannot carry. The encoder checks these before writing a byte, so a caller that
/// forgot a limit gets an error instead of a corrupt packet on every subscriber's connection.
enum class EncodeError : std::uint8_t {
  StringTooLong = 1,  ///< a string or binary field longer than kMaxStringLength: its two-byte length
                      ///< prefix cannot hold it (§1.5.3, §3.1.3.4 will message, §3.1.3.5 password)
  PacketTooLarge,     ///< remaining length above kMaxRemainingLength: four length bytes (§2.2.3)
};

/// §1.5.3: UTF-8 strings (topic names and filters, client id, username) and binary fields carry a
/// two-byte length.
inline constexpr std::size_t kMaxStringLength = 65'535;
/// §2.2.3: the remaining length has at most four bytes of seven bits.
inline constexpr std::size_t kMaxRemainingLength = 268'435'455;

const std::error_category& encodeCategory() noexcept;
std::error_code make_error_code(EncodeError e) noexcept;

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

/// Appends the wire form of `p` to `out` and returns how many bytes it appended, or leaves `out`
/// as it was and returns the EncodeError of a field the wire cannot represent. Only lengths are
/// checked: the semantic rules the decoder enforces (topic syntax, UTF-8, non-zero packet ids) stay
/// the caller's duty.
[[nodiscard]] Expected<std::size_t, EncodeError> encode(const Packet& p, std::vector<std::uint8_t>& out);

/// Appends a PUBLISH built from borrowed fields, so a broker fanning one message out to many
/// subscribers does not copy the payload into a Publish first. encode(Publish) gives the same bytes
/// and the same errors.
[[nodiscard]] Expected<std::size_t, EncodeError> encodePublish(std::string_view topic,
                                                               std::span<const std::uint8_t> payload, QoS qos,
                                                               bool retain, bool dup, std::uint16_t packetId,
                                                               std::vector<std::uint8_t>& out);

/// The error encodePublish would return for a topic and payload of these sizes, or nullopt: lets a
/// broker refuse a message where it enters, before it is routed or stored.
[[nodiscard]] std::optional<EncodeError> checkPublish(std::size_t topicSize, std::size_t payloadSize, QoS qos) noexcept;

/// Convenience: the wire form of `p` in a fresh vector, or the EncodeError.
[[nodiscard]] Expected<std::vector<std::uint8_t>, EncodeError> encode(const Packet& p);

}  // namespace fc::mqtt

template <>
struct std::is_error_code_enum<fc::mqtt::DecodeError> : std::true_type {};
template <>
struct std::is_error_code_enum<fc::mqtt::EncodeError> : std::true_type {};
