// The MQTT broker's core: sessions, subscriptions, retained messages, QoS 1/2 flows, wills and
// persistence. It does no I/O: connections hand it decoded packets and it answers through each
// connection's ConnectionPort. Calls must be serialised: one at a time, each seeing the effects of
// the last (MqttServer holds the broker's mutex around every call).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocols/mqtt/packet.hpp"
#include "server/broker/access.hpp"
#include "server/broker/frame.hpp"

namespace fc::storage {
class BrokerStore;
struct BrokerSnapshot;
}  // namespace fc::storage

namespace fc::server::broker {

using ConnectionId = std::uint64_t;

/// The broker's handle on one network connection. Called by the broker (from whichever thread
/// holds it); implementations hand the work to their own strand.
class ConnectionPort {
 public:
  virtual ~ConnectionPort() = default;
  /// Queues one packet for writing, in call order.
  virtual void send(Frame frame) = 0;
  /// Writes what is queued, then closes. `reason` is logged once by the connection.
  virtual void close(std::string reason) = 0;
  /// Bytes queued but not yet written; the broker drops QoS 0 messages to clients too far behind.
  virtual std::size_t pendingBytes() const noexcept = 0;
};

/// Carried with a platform message meant for one client and told when that client acknowledges
/// its copy (PUBACK for QoS 1, PUBCOMP for QoS 2). The broker does not look inside: what the
/// acknowledgement means (a command delivered …) stays with whoever published. Called with the
/// broker held, so it must be quick and must not call back into the Broker.
class Acknowledgement {
 public:
  virtual ~Acknowledgement() = default;
  virtual void acknowledged() = 0;
};
using AckToken = std::shared_ptr<Acknowledgement>;

/// What the platform learns from the broker; called while the broker is held, so it must be quick
/// and must not call back into the Broker (post instead).
class BrokerObserver {
 public:
  virtual ~BrokerObserver() = default;
  /// Returns whether to report this client's packets (clientPacket) until it disconnects.
  virtual bool clientConnected(const ClientIdentity& client) = 0;
  /// The client's connection ended; `reason` says why as the connection or the broker logged it
  /// ("client disconnected", "keepalive timeout", "more than 60 PINGREQ within 180 s" …).
  virtual void clientDisconnected(const ClientIdentity& client, std::string_view reason) = 0;
  /// The client holds a subscription to `filter`: granted by a SUBSCRIBE, or resumed with its
  /// session at CONNECT.
  virtual void clientSubscribed(const ClientIdentity& client, const std::string& filter) = 0;
  /// A PUBLISH from a client that the access policy allowed.
  virtual void clientPublished(const ClientIdentity& client, const mqtt::Publish& publish) = 0;
  /// A CONNECT the access policy refused (after authenticate(), or for its will topic), with the
  /// refusing CONNACK, both as on the wire: the observer may know the client from authenticate().
  virtual void clientRefused(const ClientIdentity& /*client*/, std::span<const std::uint8_t> /*connect*/,
                             std::span<const std::uint8_t> /*connack*/) {}
  /// A packet to or from a client whose clientConnected returned true: `bytes` as it is on the
  /// wire, and the decoded `packet` when the broker has it (every incoming packet; outgoing
  /// ones are only bytes, since the broker encodes them without building a Packet).
  virtual void clientPacket(const ClientIdentity& client, bool incoming, const mqtt::Packet* packet,
                            std::span<const std::uint8_t> bytes) = 0;
};

struct BrokerOptions {
  std::uint32_t maxInflight = 32;       // unacknowledged QoS 1/2 PUBLISHes per session
  std::uint32_t maxQueued = 1000;       // further messages held per session; beyond it new ones are dropped
  std::size_t maxOutboundBytes = 8 << 20;  // QoS 0 messages to a client this far behind are dropped
};

struct BrokerStats {
  std::uint64_t connections = 0;       // currently connected clients
  std::uint64_t sessions = 0;          // sessions, connected or not
  std::uint64_t persistentSessions = 0;
  std::uint64_t subscriptions = 0;
  std::uint64_t retained = 0;
  std::uint64_t publishesReceived = 0;
  std::uint64_t messagesSent = 0;
  std::uint64_t messagesDropped = 0;   // queue full, slow client (QoS 0), or offline QoS 0
  std::uint64_t publishesDenied = 0;   // refused by the access policy
};

/// What a connection learned before CONNECT: where it came from and its TLS identity.
struct ConnectionInfo {
  std::string remote;
  bool tls = false;
  std::string certSubject;
};

class Broker {
 public:
  /// `defer(fn)` must run fn later, serialised with the other calls; the broker uses it to continue once the
  /// store has committed. `store` may be null (nothing persists).
  Broker(BrokerOptions options, AccessPolicy& access, storage::BrokerStore* store,
         std::function<void(std::function<void()>)> defer, BrokerObserver* observer = nullptr);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  /// Rebuilds persistent sessions and retained messages saved by an earlier run.
  void restore(const storage::BrokerSnapshot& snapshot);

  /// A CONNECT arrived on a new connection. Answers CONNACK (or refuses and closes). `bytes` is
  /// the packet as it arrived, for BrokerObserver::clientPacket (only read during the call; may
  /// be empty where nobody traces packets).
  void onConnect(ConnectionId id, std::shared_ptr<ConnectionPort> port, mqtt::Connect connect, ConnectionInfo info,
                 std::span<const std::uint8_t> bytes = {});
  /// Any later packet from that connection (PINGREQ is answered by the connection itself), with
  /// its bytes as for onConnect.
  void onPacket(ConnectionId id, mqtt::Packet&& packet, std::span<const std::uint8_t> bytes = {});
  /// The connection is gone. Unless it ended with DISCONNECT, the will is published.
  void onClosed(ConnectionId id, const std::string& reason);

  /// Publishes as the platform (the API's mqtt/publish), bypassing the access policy.
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain);
  /// Publishes as the platform (not retained) and tells `ack` when client `clientId` acknowledges
  /// its copy (a QoS 1/2 subscription of its own is needed for that); other subscribers get
  /// their copies as usual.
  void publishFor(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, std::string clientId,
                  AckToken ack);

  /// Closes every connection and forgets every session, subscription and retained message
  /// (the admin API's reset; the store is cleared by whoever calls this). No will is published.
  void reset();

  BrokerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fc::server::broker
