// Where MQTT meets the platform. The gateway is the broker's access policy (a login that a dialect
// recognises is checked by that dialect; any other falls through to the static policy, so plain
// MQTT clients keep using the broker as a broker), its observer (presence, uplinks, delivery
// acknowledgements → platform) and the platform's command sender for devices on MQTT.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/broker/broker.hpp"
#include "server/dialects/mqtt_dialect.hpp"

namespace fc::server::broker {
class MqttServer;
}

namespace fc::server::dialects {

class DialectRegistry;

class MqttGateway final : public broker::AccessPolicy,
                          public broker::BrokerObserver,
                          public core::CommandSender,
                          public MqttPublisher {
 public:
  /// Asks `dialects` (their MQTT parts, in registration order) who a CONNECT is.
  MqttGateway(core::Platform& platform, const DialectRegistry& dialects, broker::AccessPolicy& fallback);
  ~MqttGateway() override;
  MqttGateway(const MqttGateway&) = delete;
  MqttGateway& operator=(const MqttGateway&) = delete;
  /// The server that carries commands; set before listening.
  void setServer(broker::MqttServer* server) { server_ = server; }

  // broker::AccessPolicy (broker strand)
  mqtt::ConnectReturn authenticate(const broker::ClientIdentity& client,
                                   const std::optional<std::vector<std::uint8_t>>& password) override;
  bool mayPublish(const broker::ClientIdentity& client, std::string_view topic) override;
  bool maySubscribe(const broker::ClientIdentity& client, std::string_view filter) override;
  /// The first dialect's rules that recognises the CONNECT (any thread).
  mqtt::ConnectionRules connectionRules(const mqtt::Connect& connect) override;

  // broker::BrokerObserver (broker strand)
  bool clientConnected(const broker::ClientIdentity& client) override;
  void clientRefused(const broker::ClientIdentity& client, std::span<const std::uint8_t> connect,
                     std::span<const std::uint8_t> connack) override;
  void clientPacket(const broker::ClientIdentity& client, bool incoming, const mqtt::Packet* packet,
                    std::span<const std::uint8_t> bytes) override;
  void clientDisconnected(const broker::ClientIdentity& client, std::string_view reason) override;
  void clientSubscribed(const broker::ClientIdentity& client, const std::string& filter) override;
  void clientPublished(const broker::ClientIdentity& client, const mqtt::Publish& publish) override;

  // core::CommandSender (any thread)
  void sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) override;

  // MqttPublisher (any thread)
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos) override;

 private:
  /// What the dialect resolved at CONNECT, kept for the connection: the device as it logged in
  /// and its compiled topic rights (both null once the device is deleted: then it may do nothing
  /// more), so a PUBLISH neither looks the device up nor builds a topic pattern. Immutable and
  /// shared: the broker strand reads it without copying.
  struct Binding {
    std::string deviceId;
    const MqttDialect* dialect = nullptr;
    std::shared_ptr<const core::Device> device;
    std::shared_ptr<const broker::TopicAcl> acl;
  };
  std::shared_ptr<const Binding> binding(const std::string& clientId) const;

  core::Platform& platform_;
  broker::AccessPolicy& fallback_;
  broker::MqttServer* server_ = nullptr;
  const DialectRegistry& dialects_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Binding>> authenticated_;  // client id → device, between CONNECT and CONNACK
  std::unordered_map<std::string, std::string> refused_;  // client id → device whose login failed, until its CONNACK
  std::unordered_map<std::string, std::shared_ptr<const Binding>> connected_;    // client id → device, while connected
  std::unordered_map<std::string, std::string> clientOf_;   // device id → client id, while connected
  std::uint64_t platformSubscription_ = 0;                   // device.deleted → forget the cached device
};

}  // namespace fc::server::dialects
