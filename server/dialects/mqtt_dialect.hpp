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

class MqttDialect {
 public:
  virtual ~MqttDialect() = default;
  /// The product dialect name this handles ("generic", "aliyun", …).
  virtual std::string_view name() const = 0;
  /// The device this CONNECT claims to be, if it is in this dialect's form and the device exists.
  virtual std::optional<MqttLogin> identify(const core::Platform& platform, const broker::ClientIdentity& client) const = 0;
  /// Whether the CONNECT proves it (password, signature …).
  virtual bool verify(const MqttLogin& login, const broker::ClientIdentity& client,
                      const std::optional<std::vector<std::uint8_t>>& password) const = 0;
  virtual bool mayPublish(const core::Device& device, std::string_view topic) const = 0;
  virtual bool maySubscribe(const core::Device& device, std::string_view filter) const = 0;
  /// Turns an accepted PUBLISH from the device into platform events (uplink, command result …).
  virtual void uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& publish) const = 0;
  /// Does a subscription to `filter` let the device receive its commands?
  virtual bool receivesCommands(const core::Device& device, std::string_view filter) const = 0;
  virtual MqttDownlink encodeCommand(const core::Device& device, const core::Command& command) const = 0;
};

}  // namespace fc::server::dialects
