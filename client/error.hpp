// Errors reported by fc::client: a std::error_category so that they sit beside the transport's
// (Asio) and the codec's (fc::mqtt::DecodeError) codes in one std::error_code.
#pragma once

#include <system_error>

namespace fc::client {

/// Client-side failures. Transport failures (refused, reset, TLS) keep their original category;
/// a malformed packet from the server keeps fc::mqtt::DecodeError's.
enum class Error {
  Timeout = 1,          ///< connect phase, flush or a blocking call did not finish in time
  NotConnected,         ///< the operation needs an established MQTT connection
  AlreadyConnected,     ///< connect() while connecting or connected
  ConnectionRefused,    ///< CONNACK with a non-zero return code (MQTT 3.1.1 §3.2.2.3)
  ProtocolError,        ///< the server broke an MQTT rule, e.g. a first packet other than CONNACK [MQTT-3.2.0-1]
  Closed,               ///< closed locally by disconnect(), abort() or the client's destruction
  ConnectionLost,       ///< the connection ended while the operation was pending
  KeepaliveTimeout,     ///< no PINGRESP within the keepalive interval after a PINGREQ (§3.1.2.10)
  SubscriptionRefused,  ///< SUBACK return code 0x80 (§3.9.3)
  PacketIdsExhausted,   ///< all 65535 packet identifiers are in flight [MQTT-2.3.1-4]
  QueueFull,            ///< the outbound queue is over its limit; try again once it drains
  InvalidArgument,      ///< invalid topic name or filter, empty subscription list, bad QoS
  TlsSetup,             ///< CA, certificate or key file could not be loaded
  DtlsHandshakeFailed,  ///< coaps: the DTLS-PSK handshake failed (wrong key, unknown identity, no common suite, no answer)
  ErrorResponse,        ///< coap: a block-wise download was answered with a 4.xx/5.xx code
  HttpStatus,           ///< a download was answered with a status other than 200 or 206
  BadResponse,          ///< a download's answer is not HTTP/1.x, or its Content-Range does not continue the bytes so far
  TooLarge,             ///< a download is larger than its limit
  DigestMismatch,       ///< a downloaded image does not match its MD5 or SHA-256
  DownloadIncomplete,   ///< a download was cut more often than it may be resumed
};

const std::error_category& clientCategory() noexcept;
std::error_code make_error_code(Error e) noexcept;

}  // namespace fc::client

template <>
struct std::is_error_code_enum<fc::client::Error> : std::true_type {};
