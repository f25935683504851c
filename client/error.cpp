#include "client/error.hpp"

#include <string>

namespace fc::client {
namespace {

class ClientCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "fc.client"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::Timeout: return "timed out";
      case Error::NotConnected: return "not connected";
      case Error::AlreadyConnected: return "already connected or connecting";
      case Error::ConnectionRefused: return "connection refused by CONNACK";
      case Error::ProtocolError: return "MQTT protocol error by the server";
      case Error::Closed: return "connection closed locally";
      case Error::ConnectionLost: return "connection lost";
      case Error::KeepaliveTimeout: return "no PINGRESP within the keepalive interval";
      case Error::SubscriptionRefused: return "subscription refused by SUBACK";
      case Error::PacketIdsExhausted: return "no free packet identifier";
      case Error::QueueFull: return "outbound queue full";
      case Error::InvalidArgument: return "invalid argument";
      case Error::TlsSetup: return "TLS setup failed (CA, certificate or key file)";
      case Error::DtlsHandshakeFailed: return "DTLS handshake failed";
      case Error::ErrorResponse: return "the server answered with an error code";
      case Error::HttpStatus: return "unexpected HTTP status";
      case Error::BadResponse: return "malformed or inconsistent HTTP response";
      case Error::TooLarge: return "larger than the limit";
      case Error::DigestMismatch: return "digest mismatch";
      case Error::DownloadIncomplete: return "download cut too often";
    }
    return "unknown fc.client error " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& clientCategory() noexcept {
  static const ClientCategory category;
  return category;
}

std::error_code make_error_code(Error e) noexcept { return {static_cast<int>(e), clientCategory()}; }

}  // namespace fc::client
