// The CoAP endpoint on the network (docs/coap.md): one UDP socket with per-peer state, driving the
// sans-I/O fc::coap::Endpoint on its own strand. Asio stays inside coap_server.cpp.
//
// Layering: the CoAP layer sees (peer, plaintext datagram) in and emits (peer, datagram) out; the
// UDP socket below is the only transport for now. A DTLS layer slots in between by taking the
// socket's datagrams and handing plaintext to deliver() (see docs/coap.md, "DTLS").
// All timing reads the platform clock; the app's 50 ms scheduler tick calls tick(), so a frozen
// clock stops retransmissions and expiries but never stalls the endpoint: datagrams are served.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "protocols/coap/endpoint.hpp"
#include "server/app/config.hpp"
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
};

class CoapServer {
 public:
  using RequestStarted = std::function<void(Expected<fc::coap::Endpoint::RequestId, fc::coap::RequestError>)>;

  CoapServer(boost::asio::io_context& ioc, const CoapConfig& config, const core::Clock& clock);
  ~CoapServer();
  CoapServer(const CoapServer&) = delete;
  CoapServer& operator=(const CoapServer&) = delete;

  /// Call these before listening. Handlers run on the server's strand.
  void addResource(fc::coap::Resource resource);
  void recognizeOption(std::uint16_t number);

  /// Binds the UDP socket and starts receiving; returns the bound port. Throws std::runtime_error.
  std::uint16_t listenUdp(const std::string& address, std::uint16_t port);
  /// Closes the socket; pending requests are dropped.
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
  void cancel(fc::coap::Endpoint::RequestId id, bool deregister = true);

  /// Counters, answered on the strand.
  void stats(std::function<void(CoapStats)> done);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::coap
