// What a dialect must say about devices that speak MQTT: who a login is, which topics the device
// may use, what its uplinks mean, and how a command looks on the wire. The MQTT gateway asks the
// dialect of the device's product; transports know no dialect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/packet.hpp"
#include "server/broker/access.hpp"
#include "server/core/platform.hpp"

namespace fc::server::dialects {

/// A login this dialect recognises: the device it names, found in the platform.
struct MqttLogin {
  core::Device device;
  core::Product product;
};

struct MqttDownlink {
  std::string topic;
  std::vector<std::uint8_t> payload;
  mqtt::QoS qos = mqtt::QoS::AtLeastOnce;
};

/// A CONNECT in a dialect's form that the dialect refuses without binding it to a device (an
/// unknown device, a login mode it does not support …): the CONNACK code and why, for the log.
struct MqttRefusal {
  mqtt::ConnectReturn code = mqtt::ConnectReturn::BadUsernameOrPassword;
  std::string reason;
};

/// How a dialect publishes as the platform (replies to a device's requests, pushes): through the
/// broker to whoever subscribed, bypassing the access policy. The MQTT gateway implements it with
/// MqttServer::publish; callable from any thread.
class MqttPublisher {
 public:
  virtual ~MqttPublisher() = default;
  virtual void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos) = 0;
};

class MqttDialect {
 public:
  virtual ~MqttDialect() = default;
  /// The product dialect name this handles ("generic", "aliyun", …).
  virtual std::string_view name() const = 0;
  /// The device this CONNECT claims to be, if it is in this dialect's form and the device exists.
  virtual std::optional<MqttLogin> identify(const core::Platform& platform, const broker::ClientIdentity& client) const = 0;
  /// Whether the CONNECT proves it (password, signature …). A false answer is CONNACK 0x04.
  virtual bool verify(const MqttLogin& login, const broker::ClientIdentity& client,
                      const std::optional<std::vector<std::uint8_t>>& password) const = 0;
  /// Asked when no dialect identified the CONNECT: a refusal if it is in this dialect's form but
  /// must not fall through to the broker's own policy. The default claims nothing.
  virtual std::optional<MqttRefusal> refuse(const core::Platform&, const broker::ClientIdentity&) const {
    return std::nullopt;
  }
  /// The connection rules of a CONNECT this dialect recognises (a capped keepalive, a PINGREQ
  /// rate), asked before the login is checked, from any thread; nullopt: not this dialect's.
  virtual std::optional<mqtt::ConnectionRules> connectionRules(const core::Platform&,
                                                               const broker::ClientIdentity&) const {
    return std::nullopt;
  }
  /// The topics the device may publish and subscribe to; the gateway compiles them once, when the
  /// device signs in, and asks them for every PUBLISH and SUBSCRIBE of that connection.
  virtual broker::TopicAcl topicAcl(const core::Device& device) const = 0;
  /// Turns an accepted PUBLISH from the device into platform events (uplink, command result …);
  /// answers that the protocol requires (replies) go out through `out`.
  virtual void uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& publish,
                      MqttPublisher& out) const = 0;
  /// Does a subscription to `filter` let the device receive its commands?
  virtual bool receivesCommands(const core::Device& device, std::string_view filter) const = 0;
  virtual MqttDownlink encodeCommand(const core::Device& device, const core::Command& command) const = 0;
};

}  // namespace fc::server::dialects
