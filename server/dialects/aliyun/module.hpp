// The aliyun dialect as the server registers it (docs/dialects/aliyun.md): its MQTT part
// (aliyun.hpp), its CoAP channel (aliyun_coap.hpp), its HTTP routes (aliyun_http.hpp), and its
// rules for products and devices:
//   product   keys.productKey: given, or generated like Alibaba's ("a1" + 9 letters and digits);
//             1-64 characters without / + # & | or controls (422), unique among aliyun products (409)
//   device    identifiers.deviceName: given, or the device id; the same character rule (422),
//             unique in its product (409); secrets.deviceSecret: given (non-empty), or 32 random
//             letters and digits
//   command   a name is "" or property.set or a service identifier (letters, digits, _), else 422
#pragma once

#include "server/dialects/aliyun/aliyun.hpp"
#include "server/dialects/aliyun/aliyun_ota.hpp"
#include "server/dialects/dialect.hpp"

namespace fc::server::dialects {

class AliyunModule final : public Dialect {
 public:
  explicit AliyunModule(const DialectContext& context);

  std::string_view name() const override { return "aliyun"; }
  std::optional<core::Failure> prepareProduct(const core::Platform& platform, core::Product& product) const override;
  std::optional<core::Failure> prepareDevice(const core::Platform& platform, core::Device& device,
                                             core::DeviceChange change) const override;
  std::optional<core::Failure> checkCommand(const core::Product& product, const core::CommandSpec& spec) const override;

  const MqttDialect* mqtt() const override { return &aliyun_; }
  CoapPart coap() override;
  void addRoutes(http::Router& router) override;
  http::OpenApiFragment openApi() const override;
  ota::OtaPart* ota() override { return &ota_; }
  void tick() override { aliyun_.tick(); }  // RRPC timeouts (real time)
  /// The pre-step (POST /auth/devicename) sends devices to the plain MQTT port.
  void serving(const ServedPorts& ports) override { aliyun_.setMqttPort(ports.mqtt); }

 private:
  core::Platform& platform_;
  AliyunDialect aliyun_;
  AliyunOta ota_;
};

}  // namespace fc::server::dialects
