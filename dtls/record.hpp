// DTLS 1.2 record and handshake headers (RFC 6347 §4.1, §4.2.2), read without decrypting anything.
// The server uses this to route a datagram before OpenSSL sees it: a ClientHello in epoch 0 goes to
// the stateless cookie exchange, everything else from an unknown peer is dropped. Tests use it to
// recognise HelloVerifyRequest and ServerHello flights on the wire.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace fc::dtls {

/// RFC 5246 §6.2.1 ContentType.
enum class ContentType : std::uint8_t { ChangeCipherSpec = 20, Alert = 21, Handshake = 22, ApplicationData = 23 };

/// RFC 5246 §7.4 / RFC 6347 §4.2.2 HandshakeType values that matter here.
enum class HandshakeType : std::uint8_t {
  ClientHello = 1,
  ServerHello = 2,
  HelloVerifyRequest = 3,  ///< RFC 6347 §4.2.1
  ServerHelloDone = 14,
  ClientKeyExchange = 16,
  Finished = 20,
};

/// One DTLSPlaintext/DTLSCiphertext header (RFC 6347 §4.1): 13 bytes before the fragment.
struct RecordHeader {
  std::uint8_t contentType = 0;
  std::uint16_t version = 0;  ///< 0xFEFD for DTLS 1.2, 0xFEFF for DTLS 1.0 (RFC 6347 §4.1)
  std::uint16_t epoch = 0;
  std::uint64_t sequence = 0;  ///< 48 bits
  std::uint16_t length = 0;
  /// For an epoch-0 Handshake record with at least a handshake header: its msg_type (§4.2.2).
  std::optional<std::uint8_t> handshakeType;
  bool operator==(const RecordHeader&) const = default;
};

inline constexpr std::size_t kRecordHeaderSize = 13;

/// The headers of every complete record in `datagram`, in order (RFC 6347 §4.1.1: a datagram may
/// carry several records). Stops at the first record that is truncated or has an unknown content
/// type, so a garbage datagram yields an empty or short list; never reads past the span.
[[nodiscard]] std::vector<RecordHeader> inspectRecords(std::span<const std::uint8_t> datagram);

/// What the server needs from a ClientHello before any state exists (RFC 6347 §4.2.1).
struct ClientHello {
  std::array<std::uint8_t, 32> random{};  ///< tells a retransmission from a new handshake
  std::vector<std::uint8_t> cookie;       ///< empty in an initial ClientHello
  bool operator==(const ClientHello&) const = default;
};

/// The ClientHello in the first record of `datagram`, or nullopt when that record is not a
/// complete, unfragmented epoch-0 ClientHello.
[[nodiscard]] std::optional<ClientHello> parseClientHello(std::span<const std::uint8_t> datagram);

/// A fatal alert record in epoch 0 (RFC 5246 §7.2) with the given 48-bit sequence number.
[[nodiscard]] std::vector<std::uint8_t> plaintextAlert(std::uint8_t description, std::uint64_t sequence);

}  // namespace fc::dtls
