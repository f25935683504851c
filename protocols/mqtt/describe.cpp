// One-line descriptions of MQTT packets.
#include "protocols/mqtt/describe.hpp"

#include "protocols/mqtt/codec.hpp"

namespace fc::mqtt {

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
          out.text += " qos=" + std::to_string(static_cast<int>(p.qos)) +
                      (p.qos != QoS::AtMostOnce ? " id=" + std::to_string(p.packetId) : "") +
                      (p.retain ? " retain" : "") + (p.dup ? " dup" : "") + " " + p.topic + " (" +
                      std::to_string(p.payload.size()) + " bytes)";
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

}  // namespace fc::mqtt
