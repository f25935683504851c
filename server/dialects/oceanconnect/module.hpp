// The oceanconnect dialect as the server registers it (docs/dialects/oceanconnect.md): its LwM2M
// side (oceanconnect.hpp: Register decision, /19/0/0 uplinks, /19/1/0 commands), its northbound
// IoCM API (oceanconnect_iocm.hpp), and its rules for products and devices
// (oceanconnect_devices.hpp). Its devices do not speak MQTT; commands go out over LwM2M.
#pragma once

#include "server/dialects/dialect.hpp"
#include "server/dialects/oceanconnect/oceanconnect.hpp"
#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"
#include "server/dialects/oceanconnect/oceanconnect_iocm.hpp"

namespace fc::server::dialects {

class OceanConnectModule final : public Dialect {
 public:
  /// Becomes the LwM2M server's authorizer and listener; DTLS peers are looked up on the CoAP server.
  explicit OceanConnectModule(const DialectContext& context);

  std::string_view name() const override { return kOceanConnectDialect; }
  std::optional<core::Failure> prepareProduct(const core::Platform& platform, core::Product& product) const override;
  std::optional<core::Failure> prepareDevice(const core::Platform& platform, core::Device& device,
                                             core::DeviceChange change) const override;

  void addRoutes(http::Router& router) override { addIocmRoutes(router, iocm_); }
  http::OpenApiFragment openApi() const override;
  core::CommandSender* commandSender() override { return &lwm2m_; }
  void tick() override { iocm_.tick(); }    // deviceCredentials timeouts (platform time)
  void reset() override { iocm_.reset(); }  // IoCM tokens, subscriptions, callbacks

 private:
  OceanConnectDialect lwm2m_;
  IocmService iocm_;
};

}  // namespace fc::server::dialects
