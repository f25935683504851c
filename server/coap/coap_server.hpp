// The CoAP endpoint on the network (docs/coap.md): a UDP socket for coap and a second one for coaps
// (DTLS-PSK, docs/dtls.md), with per-peer state, driving the sans-I/O fc::coap::Endpoint and
// fc::dtls::DtlsServer on one strand. Asio stays inside coap_server.cpp.
//
// Layering: the CoAP layer sees (peer, plaintext datagram) in and emits (peer, datagram) out. A
// plain UDP peer is "ip:port"; a DTLS peer is "coaps:ip:port": its datagrams go through the DTLS
// session (decrypted records reach the endpoint through the same path as deliver(), the endpoint's
// datagrams to it are encrypted), so everything above treats peer keys as opaque.
// All timing reads the platform clock; the app's 50 ms scheduler tick calls tick(), so a frozen
// clock stops retransmissions and expiries but never stalls the endpoint: datagrams are served.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "server/coap/coap_options.hpp"
#include "server/core/clock.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::server::coap {

/// Platform time as the CoAP layer's time point (the same instant, counted from the same epoch).
fc::coap::TimePoint coapTime(core::TimePoint t);

/// What the endpoint has seen so far.
struct CoapStats {
  std::uint64_t datagramsIn = 0;
  std::uint64_t datagramsOut = 0;
  std::uint64_t notes = 0;  // dropped datagrams, refused requests, refused peers
  std::size_t peers = 0;
  std::size_t pendingRequests = 0;
  std::size_t dtlsSessions = 0;  // established
  std::size_t dtlsHalfOpen = 0;  // handshakes in progress
};

/// A DTLS peer's session as the handshake established it.
struct DtlsPeerInfo {
  std::string identity;  ///< the PSK identity the device sent
  std::string deviceId;  ///< the device whose PSK it is (PskMatch::deviceId)
  std::string cipher;    ///< IANA name of the negotiated suite
};

/// The key for a PSK identity, and whose it is.
struct PskMatch {
  std::string deviceId;
  std::vector<std::uint8_t> key;
};
/// identity → match, nullopt for an unknown identity (the handshake fails). Runs on the strand.
using PskLookup = std::function<std::optional<PskMatch>(std::string_view identity)>;

/// The prefix that makes a DTLS peer's key differ from a UDP one: "coaps:127.0.0.1:40000".
inline constexpr std::string_view kDtlsPeerPrefix = "coaps:";
/// The transport a peer came over, as presence, uplink history and the journal name it.
inline std::string transportOf(std::string_view peer) { return peer.starts_with(kDtlsPeerPrefix) ? "coaps" : "coap"; }

class CoapServer {
 public:
  /// A server-initiated request once it went out: its id (to cancel it) and its first message as
  /// sent, message id and token included (for the journal).
  struct StartedRequest {
    fc::coap::Endpoint::RequestId id = 0;
    fc::coap::Message sent;
  };
  using RequestStarted = std::function<void(Expected<StartedRequest, fc::coap::RequestError>)>;

  CoapServer(boost::asio::io_context& ioc, const CoapConfig& config, const core::Clock& clock);
  ~CoapServer();
  CoapServer(const CoapServer&) = delete;
  CoapServer& operator=(const CoapServer&) = delete;

  /// Call these before listening. Handlers run on the server's strand.
  void addResource(fc::coap::Resource resource);
  void recognizeOption(std::uint16_t number);

  /// Binds the UDP socket and starts receiving; returns the bound port. Throws std::runtime_error.
  std::uint16_t listenUdp(const std::string& address, std::uint16_t port);
  /// Binds the coaps socket and serves DTLS-PSK on it (CoapConfig's dtls* settings); returns the
  /// bound port. Throws std::runtime_error (bad address, port in use, unusable cipher list).
  std::uint16_t listenDtls(const std::string& address, std::uint16_t port, PskLookup lookup);
  /// Closes the sockets; pending requests are dropped.
  void stop();
  /// Retransmissions, timeouts and expiries due on the platform clock; from any thread.
  void tick();

  /// A plaintext datagram from `peer` (the seam for DTLS: it calls this with decrypted records).
  void deliver(fc::coap::PeerKey peer, std::vector<std::uint8_t> datagram);

  // --- server-initiated requests (LwM2M); from any thread, callbacks on the strand ---
  void request(fc::coap::PeerKey peer, fc::coap::Message request, fc::coap::ResponseHandler done,
               fc::coap::RequestOptions options = {}, RequestStarted started = {});
  void observe(fc::coap::PeerKey peer, fc::coap::Message request, fc::coap::NotificationHandler notify,
               RequestStarted started = {});
  /// Ends request or observation `id`. For an established observation, `deregister` sends a GET
  /// with Observe 1 (RFC 7641 §3.6): `sent` gets it as it went on the wire and `answered` its
  /// answer (or why there is none); neither is called when no GET went out.
  void cancel(fc::coap::Endpoint::RequestId id, bool deregister = true,
              std::function<void(const fc::coap::Message&)> sent = {}, fc::coap::ResponseHandler answered = {});

  /// The separate response to `request` (whose resource handler returned fc::coap::deferredResponse())
  /// after `delay` of real time, on a timer: the strand is not held meanwhile. From any thread.
  void respondLater(fc::coap::PeerKey peer, fc::coap::Message request, fc::coap::Message response,
                    std::chrono::milliseconds delay);

  /// The DTLS session of `peer`, or nullopt for a plain UDP peer (or one whose session ended).
  /// Callable from any thread, e.g. a resource handler on the strand.
  std::optional<DtlsPeerInfo> dtlsPeer(const fc::coap::PeerKey& peer) const;

  /// Counters, answered on the strand.
  void stats(std::function<void(CoapStats)> done);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::coap
