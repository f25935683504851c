// The northbound REST API over the platform core (docs/api.md): products, devices, commands,
// uplink history, and the admin controls that make fakecloud a test tool (clock, reset).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/core/clock.hpp"
#include "server/core/dialect_rules.hpp"
#include "server/core/platform.hpp"
#include "server/http/http_server.hpp"
#include "server/http/router.hpp"

namespace fc::server::http {

struct PlatformApiHooks {
  /// After the platform forgot everything (POST /api/v1/admin/reset): clear what else holds state.
  std::function<void()> onReset;
  /// POST /api/v1/mqtt/publish: publish as the platform.
  std::function<void(std::string topic, std::vector<std::uint8_t> payload, int qos, bool retain)> publish;
  /// GET /api/v1/admin/stats: the broker's part, answered asynchronously as JSON.
  std::function<void(std::function<void(nlohmann::json)>)> brokerStats;
  /// After POST /api/v1/admin/clock moved the clock (the platform has ticked already): let what else
  /// keeps time on it (LwM2M lifetimes and queue-mode sleep) catch up before the answer.
  std::function<void()> onClockChanged;
};

/// What loading fixtures did: products and devices created, items that existed already (left as
/// they are, so loading twice is harmless), and one message per item refused.
struct FixtureReport {
  std::size_t products = 0;
  std::size_t devices = 0;
  std::size_t existing = 0;
  std::vector<std::string> errors;
};

/// Loads `{"products":[…], "devices":[…]}` (each item as POST /products and POST /devices take it,
/// checked by the rules of its product's dialect in `dialects`).
FixtureReport loadFixtures(core::Platform& platform, const core::DialectCatalog& dialects,
                           const nlohmann::json& fixtures);
nlohmann::json toJson(const FixtureReport& report);

/// The platform's event stream for HttpServer::addWebSocket at /api/v1/events: one JSON text frame
/// per event, {"type","deviceId","time","data"}, filtered by ?deviceId= and ?type= (comma-separated
/// type prefixes, e.g. "command,device.online").
WebSocketRoute eventStreamRoute(core::Platform& platform);

/// The products, devices, commands, history and admin routes. A product's dialect must be one of
/// `dialects` (else 422 naming them); products, devices and commands of a dialect pass its rules.
void addPlatformRoutes(Router& router, core::Platform& platform, core::PlatformClock& clock,
                       const core::DialectCatalog& dialects, PlatformApiHooks hooks);

}  // namespace fc::server::http
