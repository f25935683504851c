// Internals shared by DtlsServer and DtlsClient: the OpenSSL context, the datagram BIO, and one
// SSL object with what its callbacks observed.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dtls/dtls.hpp"

namespace fc::dtls::detail {

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const noexcept { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

/// What the datagram BIO reads from and writes to: at most one received datagram at a time, and
/// the datagrams OpenSSL wrote, one per write.
struct Pipe {
  std::span<const std::uint8_t> in;
  std::vector<std::vector<std::uint8_t>> out;
  std::size_t mtu = kDefaultMtu;
};

/// A DTLS context for PSK suites only, DTLS 1.2 only, no tickets, no renegotiation, no MTU
/// queries; `ciphers` validated one by one so that a typo is reported rather than ignored.
[[nodiscard]] Expected<SslCtxPtr, std::string> makeContext(bool server, const std::vector<std::string>& ciphers,
                                                           std::size_t mtu);

/// One SSL object over a Pipe, with what its callbacks saw. Heap-allocated and never moved: the
/// SSL's app data points at it.
struct Link {
  Link(SSL_CTX* ctx, PeerKey peer, std::size_t mtu, std::chrono::milliseconds retransmitInitial);
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  PeerKey peer;
  std::vector<std::uint8_t> address;
  Pipe pipe;  // before ssl: the BIO points into it
  SslPtr ssl;
  std::chrono::milliseconds retransmitInitial;
  void* owner = nullptr;  // the DtlsServer::Impl or DtlsClient::Impl, for the C callbacks

  bool peerChangeCipherSpec = false;        // OpenSSL accepted the peer's ChangeCipherSpec
  std::optional<std::uint64_t> lastPlainSequence;  // highest epoch-0 record sequence we sent
  bool sentEncrypted = false;                      // we sent a record in epoch ≥ 1 (our Finished)
  std::string cause;                        // a reason our callbacks found (unknown identity, …)
  std::string alertReceived;
  std::string alertSent;

  /// Forgets what the callbacks saw: the listener reuses one Link for many peers.
  void resetObservations();
  /// The output OpenSSL wrote since the last call, as actions to `peer`; remembers the epoch-0
  /// sequence numbers used.
  void drainTo(std::vector<Action>& out);
  /// Feeds one datagram to OpenSSL for the duration of `fn`.
  template <class Fn>
  auto withInput(std::span<const std::uint8_t> datagram, Fn&& fn) {
    pipe.in = datagram;
    struct Reset {
      Pipe& p;
      ~Reset() { p.in = {}; }
    } reset{pipe};
    return fn();
  }
  /// A sentence for a failed handshake or session: our own cause first, then an alert received or
  /// sent, then OpenSSL's error queue (which it clears), then `fallback`.
  [[nodiscard]] std::string reason(std::string_view fallback);
  /// Reads every record available: application data to `out`; returns 1 while healthy,
  /// 0 on close_notify, -1 on a fatal error.
  int readAll(std::vector<Action>& out);
  /// OpenSSL's retransmission timer: time left, nullopt when none runs.
  [[nodiscard]] std::optional<Duration> retransmitIn() const;
  /// IANA name of the current suite.
  [[nodiscard]] std::string cipherName() const;
};

Link* linkOf(const SSL* ssl) noexcept;

}  // namespace fc::dtls::detail
