// fc::dtls — DTLS 1.2 with pre-shared keys (RFC 6347, RFC 4279) as a sans-I/O library on OpenSSL 3:
// datagrams in, datagrams and plaintext out. It owns no socket, thread or clock; the caller passes
// every received datagram with the peer it came from, and `now` (a steady clock reading) into every
// call, and arms one timer for nextDeadline(). Used for CoAPS (RFC 7252 §9.1.3.1, PreSharedKey mode)
// by the server's CoAP endpoint and by fc::client's CoAP client.
//
// Time: idle expiry and the handshake timeout follow the `now` the caller passes. Handshake
// retransmission (RFC 6347 §4.2.4) is OpenSSL's own timer, which runs on the real (wall) clock:
// nextDeadline() converts it to the caller's clock at the time of the last call, and tick() asks
// OpenSSL to retransmit only once real time has passed. A frozen or advanced test clock therefore
// does not speed retransmission up; a short `retransmitInitial` does.
//
// Objects are not thread-safe: one owner (e.g. the UDP endpoint's strand) makes every call. The
// PSK lookup is called synchronously from receive().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::dtls {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

/// Identifies a remote endpoint, e.g. "192.0.2.1:5684" — the same string as fc::coap::PeerKey.
using PeerKey = std::string;

/// The four suites fakecloud offers by default, by IANA name (RFC 5487, RFC 4279, RFC 6655): LiteOS
/// (mbedTLS) offers only the three CBC ones, tinydtls-based LwM2M stacks only CCM_8 (RFC 7252
/// §9.1.3.1 makes TLS_PSK_WITH_AES_128_CCM_8 mandatory to implement).
inline constexpr std::string_view kPskAes128CbcSha256 = "TLS_PSK_WITH_AES_128_CBC_SHA256";
inline constexpr std::string_view kPskAes256CbcSha = "TLS_PSK_WITH_AES_256_CBC_SHA";
inline constexpr std::string_view kPskAes128CbcSha = "TLS_PSK_WITH_AES_128_CBC_SHA";
inline constexpr std::string_view kPskAes128Ccm8 = "TLS_PSK_WITH_AES_128_CCM_8";
[[nodiscard]] std::vector<std::string> defaultCiphers();

/// Largest datagram either side sends: the IPv6 minimum MTU (1280) less the IPv6 and UDP headers.
/// A 1152-byte CoAP message (RFC 7252 §4.6) plus the worst record overhead here (13-byte header,
/// 16-byte IV, 32-byte HMAC-SHA256, 16 bytes of padding) fits. No path-MTU discovery is done.
inline constexpr std::size_t kDefaultMtu = 1232;
/// RFC 6347 §4.1 / RFC 5246 §6.2.1: the largest plaintext a record carries (2^14).
inline constexpr std::size_t kMaxPlaintext = 16384;

/// Send `bytes` to `peer` as one UDP datagram.
struct SendDatagram {
  PeerKey peer;
  std::vector<std::uint8_t> bytes;
  bool operator==(const SendDatagram&) const = default;
};

/// Application data received from `peer` (one record's plaintext, RFC 6347 §4.1): for CoAPS, one
/// CoAP message to hand to the message layer.
struct Received {
  PeerKey peer;
  std::vector<std::uint8_t> bytes;
  bool operator==(const Received&) const = default;
};

/// The handshake with `peer` finished (RFC 5246 §7.4.9): application data may flow.
struct Established {
  PeerKey peer;
  std::string identity;  ///< the PSK identity the client sent (RFC 4279 §2)
  std::string cipher;    ///< IANA name of the negotiated suite, e.g. "TLS_PSK_WITH_AES_128_CCM_8"
  bool operator==(const Established&) const = default;
};

/// An established session ended: close_notify either way (RFC 5246 §7.2.1), idle expiry, a new
/// handshake from the same address (RFC 6347 §4.2.8), or an error after the handshake. Any
/// close_notify to send is a SendDatagram in the same batch.
struct Closed {
  PeerKey peer;
  std::string why;
  bool operator==(const Closed&) const = default;
};

/// A handshake did not complete: unknown identity, wrong key, timeout, limits, a fatal alert. `why`
/// is a sentence for the log. Any alert to send is a SendDatagram in the same batch.
struct Failed {
  PeerKey peer;
  std::string why;
  bool operator==(const Failed&) const = default;
};

using Action = std::variant<SendDatagram, Received, Established, Closed, Failed>;

/// Why send() sent nothing.
enum class SendError : std::uint8_t {
  NoSession,  ///< no established session with that peer (none, or still handshaking)
  TooLarge,   ///< more than kMaxPlaintext bytes
};
const char* sendErrorName(SendError e) noexcept;

/// Looks up the key for a PSK identity (RFC 4279 §5.1): nullopt for an unknown identity, which
/// fails the handshake with unknown_psk_identity. Called during receive(); must not throw (an
/// exception is caught and fails the handshake).
using PskLookup = std::function<std::optional<std::vector<std::uint8_t>>(std::string_view identity)>;

struct ServerConfig {
  /// IANA ("TLS_PSK_WITH_AES_128_CCM_8") or OpenSSL ("PSK-AES128-CCM8") names of PSK suites.
  std::vector<std::string> ciphers = defaultCiphers();
  /// Handshakes in progress (past the cookie exchange) at once; further ClientHellos are dropped.
  std::size_t maxHalfOpen = 256;
  /// Sessions (established + half-open) at once. A new handshake is refused when full, except
  /// from an address that already has a session (it replaces that one).
  std::size_t maxPeers = 10'000;
  /// A handshake not finished this long after its ClientHello passed the cookie check fails.
  std::chrono::milliseconds handshakeTimeout{30'000};
  /// An established session that received nothing this long is dropped (the device re-handshakes).
  std::chrono::milliseconds idleTimeout{30 * 60'000};
  /// First handshake retransmission timeout, doubled up to 60 s (RFC 6347 §4.2.4.1 says 1 s).
  std::chrono::milliseconds retransmitInitial{1000};
  /// The cookie secret is replaced this often; a cookie stays valid for one to two periods.
  std::chrono::milliseconds cookieSecretLifetime{300'000};
  std::size_t mtu = kDefaultMtu;
};

struct ServerStats {
  std::uint64_t helloVerifySent = 0;  ///< HelloVerifyRequests (one per cookie-less or stale-cookie ClientHello)
  std::uint64_t dropped = 0;          ///< datagrams from peers without a session that were not ClientHellos
  std::uint64_t refused = 0;          ///< valid-cookie ClientHellos refused by maxHalfOpen / maxPeers
  std::uint64_t established = 0;
  std::uint64_t failed = 0;
  std::uint64_t closed = 0;
};

/// The server side of DTLS-PSK for one local endpoint (one UDP socket).
///
/// Cookies (RFC 6347 §4.2.1): a ClientHello from an address without a session is answered by a
/// HelloVerifyRequest whose cookie is an HMAC-SHA256 of the peer's key and address under a secret
/// rotated every cookieSecretLifetime, and nothing is stored. Only a ClientHello echoing a valid
/// cookie creates a session, so spoofed source addresses cannot fill memory. An epoch-0 ClientHello
/// from an address that has a session goes through the same exchange and, once its cookie is
/// valid, replaces the old session (RFC 6347 §4.2.8: the device rebooted).
class DtlsServer {
 public:
  /// Fails with a sentence when the configuration is unusable (unknown or non-PSK suite, an MTU
  /// OpenSSL refuses, no lookup).
  [[nodiscard]] static Expected<DtlsServer, std::string> create(ServerConfig config, PskLookup lookup);

  DtlsServer(DtlsServer&&) noexcept;
  DtlsServer& operator=(DtlsServer&&) noexcept;
  ~DtlsServer();

  /// Handles one datagram from `peer`. `address` are the raw bytes of the peer's socket address
  /// (e.g. the sockaddr), bound into the cookie together with `peer`; may be empty.
  [[nodiscard]] std::vector<Action> receive(const PeerKey& peer, std::span<const std::uint8_t> address,
                                            std::span<const std::uint8_t> datagram, TimePoint now);

  /// Encrypts `plaintext` as one application-data record to an established peer.
  [[nodiscard]] Expected<std::vector<Action>, SendError> send(const PeerKey& peer,
                                                              std::span<const std::uint8_t> plaintext);

  /// Ends the session with `peer`: close_notify if established, then Closed (or Failed for a
  /// half-open handshake). Nothing for an unknown peer.
  [[nodiscard]] std::vector<Action> close(const PeerKey& peer);

  /// Handshake retransmissions and timeouts, and idle expiry, due at `now`. Call it when the timer
  /// for nextDeadline() fires (calling it at any time is harmless).
  [[nodiscard]] std::vector<Action> tick(TimePoint now);

  /// When tick() next has something to do, or nullopt when there are no sessions.
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;

  /// Sessions held: established and half-open.
  [[nodiscard]] std::size_t established() const noexcept;
  [[nodiscard]] std::size_t halfOpen() const noexcept;
  [[nodiscard]] bool isEstablished(const PeerKey& peer) const;
  [[nodiscard]] const ServerStats& stats() const noexcept;

 private:
  struct Impl;
  explicit DtlsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ClientConfig {
  PeerKey peer;  ///< the server's key: the peer of every action (for logs)
  std::string identity;
  std::vector<std::uint8_t> key;
  /// Suites to offer, as for ServerConfig::ciphers.
  std::vector<std::string> ciphers = defaultCiphers();
  std::chrono::milliseconds handshakeTimeout{30'000};
  std::chrono::milliseconds retransmitInitial{1000};
  std::size_t mtu = kDefaultMtu;
};

/// The client side of DTLS-PSK: one session with one server.
class DtlsClient {
 public:
  enum class State : std::uint8_t { Idle, Handshaking, Established, Closed, Failed };

  [[nodiscard]] static Expected<DtlsClient, std::string> create(ClientConfig config);

  DtlsClient(DtlsClient&&) noexcept;
  DtlsClient& operator=(DtlsClient&&) noexcept;
  ~DtlsClient();

  /// Starts the handshake: the first flight (a ClientHello without cookie). Only from Idle.
  [[nodiscard]] std::vector<Action> start(TimePoint now);
  /// Handles one datagram from the server.
  [[nodiscard]] std::vector<Action> receive(std::span<const std::uint8_t> datagram, TimePoint now);
  [[nodiscard]] Expected<std::vector<Action>, SendError> send(std::span<const std::uint8_t> plaintext);
  /// close_notify when established, then Closed; Failed when still handshaking.
  [[nodiscard]] std::vector<Action> close();
  [[nodiscard]] std::vector<Action> tick(TimePoint now);
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;

  [[nodiscard]] State state() const noexcept;
  /// IANA name of the negotiated suite once established, else empty.
  [[nodiscard]] std::string cipher() const;

 private:
  struct Impl;
  explicit DtlsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fc::dtls
