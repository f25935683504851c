// One-line descriptions of MQTT packets.
#include "protocols/mqtt/describe.hpp"

#include <optional>
#include <string_view>

#include "protocols/mqtt/codec.hpp"

namespace fc::mqtt {
namespace {

std::string describePublish(std::string_view topic, QoS qos, std::uint16_t packetId, bool retain, bool dup,
                            std::size_t payloadSize) {
  return " qos=" + std::to_string(static_cast<int>(qos)) +
         (qos != QoS::AtMostOnce ? " id=" + std::to_string(packetId) : "") + (retain ? " retain" : "") +
         (dup ? " dup" : "") + " " + std::string(topic) + " (" + std::to_string(payloadSize) + " bytes)";
}

/// The fixed header, topic and packet id of an encoded PUBLISH; nullopt for any other packet or
/// bytes that are not exactly one PUBLISH (summarize decodes those and says why).
std::optional<PacketSummary> summarizeEncodedPublish(std::span<const std::uint8_t> b) {
  if (b.empty() || (b[0] >> 4) != 3) return std::nullopt;
  const int qos = (b[0] >> 1) & 3;
  if (qos == 3) return std::nullopt;
  std::size_t i = 1, remaining = 0;
  for (std::size_t shift = 0;; shift += 7, ++i) {
    if (i >= b.size() || i > 4) return std::nullopt;
    remaining |= static_cast<std::size_t>(b[i] & 0x7f) << shift;
    if ((b[i] & 0x80) == 0) break;
  }
  ++i;
  if (b.size() - i != remaining || remaining < 2) return std::nullopt;
  const std::size_t topicLength = static_cast<std::size_t>(b[i]) << 8 | b[i + 1];
  i += 2;
  if (b.size() - i < topicLength) return std::nullopt;
  const std::string_view topic(reinterpret_cast<const char*>(b.data() + i), topicLength);
  i += topicLength;
  std::uint16_t packetId = 0;
  if (qos != 0) {
    if (b.size() - i < 2) return std::nullopt;
    packetId = static_cast<std::uint16_t>(b[i] << 8 | b[i + 1]);
    i += 2;
  }
  PacketSummary out;
  out.topic = topic;
  out.text = "PUBLISH" + describePublish(topic, static_cast<QoS>(qos), packetId, (b[0] & 1) != 0,
                                         (b[0] & 8) != 0, b.size() - i);
  return out;
}

}  // namespace

PacketSummary summarize(const Packet& packet) {
  PacketSummary out;
  out.text = packetName(packet);
  std::visit(
      [&out](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          out.text += " client=" + p.clientId + " level=" + std::to_string(p.protocolLevel) +
                      " clean=" + std::to_string(p.cleanSession) + " keepalive=" + std::to_string(p.keepAlive);
        } else if constexpr (std::is_same_v<T, Connack>) {
          out.text += " rc=" + std::to_string(static_cast<int>(p.returnCode)) +
                      " sessionPresent=" + std::to_string(p.sessionPresent);
        } else if constexpr (std::is_same_v<T, Publish>) {
          out.topic = p.topic;
          out.text += describePublish(p.topic, p.qos, p.packetId, p.retain, p.dup, p.payload.size());
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          out.text += " id=" + std::to_string(p.packetId);
          for (const auto& s : p.subscriptions)
            out.text += " " + s.filter + "(" + std::to_string(static_cast<int>(s.qos)) + ")";
          if (!p.subscriptions.empty()) out.topic = p.subscriptions.front().filter;
        } else if constexpr (std::is_same_v<T, Suback>) {
          out.text += " id=" + std::to_string(p.packetId);
          for (auto rc : p.returnCodes) out.text += " " + std::to_string(rc);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          out.text += " id=" + std::to_string(p.packetId);
          for (const auto& f : p.filters) out.text += " " + f;
        } else if constexpr (requires { p.packetId; }) {
          out.text += " id=" + std::to_string(p.packetId);
        }
      },
      packet);
  return out;
}

PacketSummary summarize(std::span<const std::uint8_t> bytes) {
  Limits unlimited;
  unlimited.maxPacket = bytes.size() + 8;
  auto decoded = decode(bytes, unlimited);
  if (!decoded) return {"", "undecodable (" + make_error_code(decoded.error()).message() + ")"};
  return summarize(decoded->value);
}

PacketSummary summarizeEncoded(std::span<const std::uint8_t> bytes) {
  if (auto publish = summarizeEncodedPublish(bytes)) return std::move(*publish);
  return summarize(bytes);
}

}  // namespace fc::mqtt
