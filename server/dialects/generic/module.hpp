// The generic dialect as the server registers it (docs/dialects/generic.md): its MQTT part
// (generic.hpp), its OTA part (generic_ota.hpp) and its device rule — a device without
// secrets.secret gets a random one.
#pragma once

#include "server/dialects/dialect.hpp"
#include "server/dialects/generic/generic.hpp"
#include "server/dialects/generic/generic_ota.hpp"

namespace fc::server::dialects {

class GenericModule final : public Dialect {
 public:
  explicit GenericModule(const DialectContext& context) : ota_(context.mqtt), mqtt_(&ota_) {}
  std::string_view name() const override { return "generic"; }
  std::optional<core::Failure> prepareDevice(const core::Platform& platform, core::Device& device,
                                             core::DeviceChange change) const override;
  const MqttDialect* mqtt() const override { return &mqtt_; }
  ota::OtaPart* ota() override { return &ota_; }

 private:
  GenericOta ota_;
  GenericDialect mqtt_;
};

}  // namespace fc::server::dialects
