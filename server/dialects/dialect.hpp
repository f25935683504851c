// The one shape of a dialect (docs/architecture.md, "Platform core and dialects"): everything the
// server asks of the platform a product emulates, in one object per dialect, registered in a
// DialectRegistry (registry.hpp) by one line of server/app/app.cpp. Each dialect lives in its own
// folder, server/dialects/<name>/, over its pure codecs in protocols/dialects/<name>/. The
// transports (broker, CoAP, HTTP) and the core never include this header: they ask through the
// narrow interfaces they define (broker::AccessPolicy, core::CommandSender, core::DialectCatalog,
// http::OpenApiFragment), which the registry and the MQTT gateway implement.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "server/core/dialect_rules.hpp"
#include "server/core/platform.hpp"
#include "server/dialects/mqtt_dialect.hpp"
#include "server/http/openapi.hpp"
#include "server/http/router.hpp"
#include "server/ota/ota_part.hpp"

namespace fc::server::coap {
class CoapServer;
class Lwm2mServer;
}  // namespace fc::server::coap

namespace fc::server::dialects {

/// What a dialect may use of the running server; it outlives every dialect but the registry's
/// destruction (the app declares the registry first).
struct DialectContext {
  core::Platform& platform;
  /// Publishes as the platform over MQTT (the gateway): replies and pushes no uplink prompted.
  MqttPublisher& mqtt;
  coap::CoapServer& coap;
  coap::Lwm2mServer& lwm2m;
  /// POSTs JSON to a URL (the webhook sender): a dialect's own northbound notifications.
  std::function<void(const std::string& url, const std::string& json)> post;
};

/// The resources a dialect serves on the CoAP endpoint, and the critical options (RFC 7252
/// §5.4.1) it understands beyond the ones the endpoint knows.
struct CoapPart {
  std::vector<fc::coap::Resource> resources;
  std::vector<std::uint16_t> criticalOptions;
};

/// The ports the server listens on, once it does (0: that listener is not open).
struct ServedPorts {
  std::uint16_t mqtt = 0;
  std::uint16_t mqtts = 0;
  std::uint16_t http = 0;
  std::uint16_t https = 0;
  std::uint16_t coap = 0;
  std::uint16_t coaps = 0;
};

class Dialect : public core::DialectRules {
 public:
  // name(), prepareProduct(), prepareDevice(), checkCommand(): core::DialectRules — the REST API
  // and fixtures validate products, devices and commands of this dialect through them.

  /// How its devices speak MQTT (login, ACL, uplinks, command encoding); nullptr when they do not.
  /// The MQTT gateway asks the dialects in registration order who a CONNECT is.
  virtual const MqttDialect* mqtt() const { return nullptr; }
  /// Its CoAP resources; taken once, before the CoAP listeners open.
  virtual CoapPart coap() { return {}; }
  /// Adds its HTTP routes (device channels, its northbound API); once, before the HTTP listeners
  /// open. Every route it adds must be in openApi(): tests/unit/server/openapi_test.cpp checks.
  virtual void addRoutes(http::Router&) {}
  /// The OpenAPI operations and schemas of the routes addRoutes() adds.
  virtual http::OpenApiFragment openApi() const { return {}; }
  /// Where commands to its devices go; nullptr: over MQTT, encoded by its mqtt() part.
  virtual core::CommandSender* commandSender() { return nullptr; }
  /// Called every 50 ms and after every change of the platform clock: its timers (token and
  /// activation expiries on platform time, RRPC timeouts …).
  virtual void tick() {}
  /// POST /api/v1/admin/reset: forget what it holds beyond the platform (tokens, subscriptions …).
  virtual void reset() {}
  /// Once the listeners are bound (a dialect that sends devices elsewhere must know where).
  virtual void serving(const ServedPorts&) {}

  /// Its firmware updates (server/ota/ota_part.hpp, docs/ota.md "The dialect seam"): how an offer
  /// reaches its devices and how their reports reach the jobs; nullptr: this dialect does no OTA
  /// (a job for its devices is refused with 422).
  virtual ota::OtaPart* ota() { return nullptr; }
};

}  // namespace fc::server::dialects
