// The gizwits dialect as the server registers it (docs/dialects/gizwits.md): its MQTT part and
// command sender (gizwits.hpp), its GService routes (gizwits_http.hpp), and its rules:
//   product   keys.productKey: given (32 hex digits, 422 otherwise), or 32 random hex digits;
//             unique among gizwits products (409); keys.productSecret optional (a string)
//   device    identifiers.did: given (22 letters and digits), else the device id when it is one,
//             else generated; a device created without an id takes its DID as its id; unique
//             among gizwits devices (409).
//             identifiers.mac: optional, 12 hex digits (':' or '-' pairs accepted), kept lower-case,
//             unique in its product (409). secrets.passcode: given (10 printable characters, no
//             & = % + or space), or 10 random letters and digits
//   command   name `[kind][@appClientId]` (kind "", passthrough, ack, logLevel), else 422; a logLevel
//             payload is an integer 0..65535 (or 2 raw bytes)
// OTA (v4.0 target_fid, v4.1 update_and_check/latest, pushes 0x020E/0x0211) comes with the OTA service.
#pragma once

#include <memory>
#include <string>

#include "server/dialects/dialect.hpp"
#include "server/dialects/gizwits/gizwits.hpp"
#include "server/dialects/gizwits/gizwits_http.hpp"

namespace fc::server::dialects {

class GizwitsModule final : public Dialect {
 public:
  /// `bind`: the address the listeners bind, the provision answer's host when nothing better is known.
  GizwitsModule(const DialectContext& context, GizwitsConfig config, const std::string& bind);

  std::string_view name() const override { return "gizwits"; }
  std::optional<core::Failure> prepareProduct(const core::Platform& platform, core::Product& product) const override;
  std::optional<core::Failure> prepareDevice(const core::Platform& platform, core::Device& device,
                                             core::DeviceChange change) const override;
  std::optional<core::Failure> checkCommand(const core::Product& product, const core::CommandSpec& spec) const override;

  const MqttDialect* mqtt() const override { return &gizwits_; }
  core::CommandSender* commandSender() override { return &gizwits_; }
  void addRoutes(http::Router& router) override;
  http::OpenApiFragment openApi() const override { return gizwitsOpenApi(); }
  void reset() override { gizwits_.reset(); }
  void serving(const ServedPorts& ports) override { endpoints_.mqttPort = ports.mqtt; }

 private:
  core::Platform& platform_;
  GizwitsDialect gizwits_;
  GizwitsEndpoints endpoints_;
};

}  // namespace fc::server::dialects
