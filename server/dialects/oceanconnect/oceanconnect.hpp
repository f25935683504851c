// The oceanconnect dialect on the LwM2M server (docs/dialects/oceanconnect.md;
// ../shared/protocols/oceanconnect.md), as Huawei LiteOS Agent Tiny talks to OceanConnect:
//   Register   ep = the device's identifiers.nodeId; only devices of oceanconnect products (over
//              DTLS: only the device the session's PSK identity belongs to), else 4.03
//   uplink     after Register the server observes /19/0/0 (CON GET, Observe 0, Accept 42); every
//              notification's bytes are an uplink (transport "coap"/"coaps", topic "/19/0/0",
//              application/octet-stream). With the product's codec profile, a notification that
//              is a command response completes its command (SUCCESSFUL / FAILED)
//   commands   CON PUT /19/1/0 (Content-Format 42): the profile-encoded {serviceId, method, paras}
//              or the raw bytes of a binary command; 2.xx → DELIVERED; 4.xx/5.xx or RST → FAILED;
//              no ACK → the command queue's ack timeout resends or times it out
// Queue-mode devices (binding UQ) get requests only while awake: the LwM2M server holds them.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "protocols/coap/endpoint.hpp"
#include "server/coap/coap_server.hpp"
#include "server/coap/lwm2m_server.hpp"
#include "server/core/platform.hpp"

namespace fc::server::dialects {

/// The DTLS session of a peer (coap::CoapServer::dtlsPeer); nullopt: a plain UDP peer.
using OceanConnectPeerLookup = std::function<std::optional<coap::DtlsPeerInfo>(const fc::coap::PeerKey&)>;

class OceanConnectDialect final : public core::CommandSender, public coap::Lwm2mListener {
 public:
  /// Becomes `lwm2m`'s authorizer and listener.
  OceanConnectDialect(core::Platform& platform, coap::Lwm2mServer& lwm2m);
  /// DTLS peers: a Register over DTLS is admitted only for the session's device, with transport
  /// "coaps". Without a lookup every peer is plain UDP. Set before listening.
  void setPeerLookup(OceanConnectPeerLookup lookup) { peerLookup_ = std::move(lookup); }

  /// The Register decision (see the top of this file).
  Expected<coap::Lwm2mAdmission, coap::Lwm2mRefusal> admit(const std::string& endpoint,
                                                           const fc::coap::PeerKey& peer) const;

  // core::CommandSender (any thread)
  void sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) override;

  // coap::Lwm2mListener
  void registered(const coap::Lwm2mClient& client) override;
  void deregistered(const coap::Lwm2mClient& client, const std::string& why) override;
  void updated(const coap::Lwm2mClient& client, bool moved) override;

 private:
  struct Awaiting {  // a command sent, its response not yet seen
    std::string commandId;
    std::optional<std::uint16_t> mid;
  };
  /// The platform's observation of a device's /19/0/0, for one registration.
  struct DataObservation {
    std::string location;                                 // the registration it belongs to
    std::uint64_t serial = 0;                             // which attempt (a new one replaces the last)
    std::optional<fc::coap::Endpoint::RequestId> id;      // once the request went out
    bool ended = false;                                   // refused, timed out or cancelled
  };
  void observeData(const coap::Lwm2mClient& client);
  void notification(const coap::Lwm2mClient& client, const fc::coap::Message& m);
  void commandResponse(const std::string& deviceId, const core::Product& product, std::span<const std::uint8_t> bytes);
  void fail(const std::string& commandId, const std::string& detail);

  core::Platform& platform_;
  coap::Lwm2mServer& lwm2m_;
  OceanConnectPeerLookup peerLookup_;

  std::mutex mutex_;
  std::uint16_t nextMid_ = 1;
  std::map<std::string, std::deque<Awaiting>> awaiting_;  // device id → commands awaiting a response
  /// The PUT of a command still in its CoAP exchange (retransmitting, awaiting the ACK). A resend
  /// from the command queue cancels it first, so the device never gets two live copies.
  struct InFlight {
    std::uint64_t serial = 0;
    std::optional<fc::coap::Endpoint::RequestId> id;  // once it went out
  };
  std::uint64_t nextSendSerial_ = 1;
  std::map<std::string, InFlight> inFlight_;  // command id → its PUT
  std::uint64_t nextObservationSerial_ = 1;
  std::map<std::string, DataObservation> observations_;  // device id → its /19/0/0 observation
};

}  // namespace fc::server::dialects
