// One-line descriptions of MQTT packets for logs and the packet journal.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "protocols/mqtt/packet.hpp"

namespace fc::mqtt {

/// What the journal shows of one packet.
struct PacketSummary {
  std::string topic;  ///< a PUBLISH's topic, a SUBSCRIBE's first filter, else empty
  std::string text;   ///< "PUBLISH qos=1 id=7 devices/x/telemetry (14 bytes)"
};

/// Describes a decoded packet: its name and the fields a reader of a trace looks for (packet id,
/// QoS, flags, topic and payload size, filters, return codes). Payloads are not shown.
[[nodiscard]] PacketSummary summarize(const Packet& packet);

/// Decodes one whole packet (whatever its size) and describes it; "undecodable (why)" when the
/// bytes are not one.
[[nodiscard]] PacketSummary summarize(std::span<const std::uint8_t> bytes);

/// summarize(bytes) for bytes this side encoded (a packet the broker sends), the same text; a
/// PUBLISH is read off its header without decoding (copying) its payload, since every delivery to
/// a journaled device comes through here.
[[nodiscard]] PacketSummary summarizeEncoded(std::span<const std::uint8_t> bytes);

}  // namespace fc::mqtt
