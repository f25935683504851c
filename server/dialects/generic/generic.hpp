// The generic dialect: fakecloud's own, for any firmware (docs/dialects/generic.md).
//   login        username = device id, password = the device's secrets.secret
//   telemetry    device → devices/{id}/telemetry (any payload; JSON is shown as JSON)
//   commands     cloud → devices/{id}/commands, QoS 1: {"id","name","payload"} (binary payloads base64)
//                the device's PUBACK makes the command DELIVERED
//   results      device → devices/{id}/commands/{commandId}/result: any JSON; {"success": false, …} → FAILED,
//                anything else → SUCCESSFUL, the payload kept as the result
//   OTA          devices/{id}/ota/…: see generic_ota.hpp
//   ACL          the device may publish and subscribe under devices/{id}/ only
#pragma once

#include "server/dialects/mqtt_dialect.hpp"

namespace fc::server::dialects {

class GenericOta;

class GenericDialect final : public MqttDialect {
 public:
  /// `ota`: where devices/{id}/ota/… uplinks go; without one they are plain uplinks.
  explicit GenericDialect(const GenericOta* ota = nullptr) : ota_(ota) {}
  std::string_view name() const override { return "generic"; }
  std::optional<MqttLogin> identify(const core::Platform& platform, const broker::ClientIdentity& client) const override;
  bool verify(const MqttLogin& login, const broker::ClientIdentity& client,
              const std::optional<std::vector<std::uint8_t>>& password) const override;
  broker::TopicAcl topicAcl(const core::Device& device) const override;
  void uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& publish,
              MqttPublisher& out) const override;
  bool receivesCommands(const core::Device& device, std::string_view filter) const override;
  MqttDownlink encodeCommand(const core::Device& device, const core::Command& command) const override;

 private:
  const GenericOta* ota_;
};

}  // namespace fc::server::dialects
