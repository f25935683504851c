// The dialects the server runs, in registration order: app.cpp registers each once at start-up;
// the MQTT gateway, the command router, the REST validation (as a core::DialectCatalog) and the
// OpenAPI builder all ask here. Filled before the servers start and read-only afterwards, so any
// thread may read it without a lock.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/dialects/dialect.hpp"

namespace fc::server::dialects {

class DialectRegistry final : public core::DialectCatalog, public ota::OtaPartCatalog {
 public:
  /// Registers a dialect; throws std::invalid_argument when its name is taken or empty.
  Dialect& add(std::unique_ptr<Dialect> dialect);

  /// The dialect `name`, nullptr when none is registered under it.
  Dialect* find(std::string_view name) const;
  const std::vector<std::unique_ptr<Dialect>>& all() const { return dialects_; }
  /// The MQTT parts, in registration order (the order the gateway asks them who a CONNECT is).
  const std::vector<const MqttDialect*>& mqttDialects() const { return mqtt_; }
  /// The MQTT part of dialect `name`, nullptr when it has none or is not registered.
  const MqttDialect* mqtt(std::string_view name) const;

  // core::DialectCatalog
  const core::DialectRules* rules(std::string_view name) const override { return find(name); }
  std::vector<std::string> names() const override;
  // ota::OtaPartCatalog: the OTA part of dialect `name`, nullptr when it does no OTA.
  ota::OtaPart* otaPart(std::string_view name) const override;

  /// Every dialect's CoAP resources and critical options, onto the endpoint.
  void addCoapResources(coap::CoapServer& server) const;
  /// Every dialect's HTTP routes.
  void addRoutes(http::Router& router) const;
  /// Every dialect's part of the OpenAPI document, with the names for ProductInput.dialect.
  http::OpenApiParts openApi() const;
  void tick() const;
  void reset() const;
  void serving(const ServedPorts& ports) const;
  /// Destroys every dialect (at shut-down, once no thread runs: they refer to the servers).
  void clear() {
    mqtt_.clear();
    dialects_.clear();
  }

 private:
  std::vector<std::unique_ptr<Dialect>> dialects_;
  std::vector<const MqttDialect*> mqtt_;
};

}  // namespace fc::server::dialects
