// The CoAP endpoint's options (config keys coap.*).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fc::server {

/// The CoAP endpoint over UDP and DTLS (docs/coap.md): RFC 7252 §4.8 transmission parameters and bounds.
struct CoapConfig {
  std::uint32_t ackTimeoutMs = 2000;  // ACK_TIMEOUT
  double ackRandomFactor = 1.5;       // ACK_RANDOM_FACTOR
  std::uint32_t maxRetransmit = 4;    // MAX_RETRANSMIT
  std::uint32_t maxPeers = 10'000;    // peers with state; datagrams from more are dropped
  std::uint32_t maxBodySize = 64 * 1024;  // largest Block1 request body reassembled
  // CoAP over DTLS-PSK (coaps, RFC 7252 §9.1.3.1; docs/dtls.md) on a second UDP socket (ports.coaps).
  std::vector<std::string> dtlsCiphers = {"TLS_PSK_WITH_AES_128_CBC_SHA256", "TLS_PSK_WITH_AES_256_CBC_SHA",
                                          "TLS_PSK_WITH_AES_128_CBC_SHA", "TLS_PSK_WITH_AES_128_CCM_8"};
  std::uint32_t dtlsHandshakeTimeoutMs = 30'000;   // a handshake not finished by then fails
  std::uint32_t dtlsIdleTimeoutMs = 30 * 60'000;   // a session that received nothing this long ends
  std::uint32_t dtlsMaxHalfOpen = 256;             // handshakes in progress at once
};

}  // namespace fc::server
