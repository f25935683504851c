// The gizwits dialect's HTTP side: GService's device API (register, deregister, provision;
// ../shared/protocols/gizwits.md "HTTP"), every answer a single small write, and the northbound
// route for a device's online app count.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "server/dialects/gizwits/gizwits.hpp"
#include "server/http/openapi.hpp"
#include "server/http/router.hpp"

namespace fc::server::dialects {

/// Where provision answers send devices: the configured host and port, else these.
struct GizwitsEndpoints {
  std::string bindHost;               // the bind address ("0.0.0.0" → 127.0.0.1)
  std::atomic<std::uint16_t> mqttPort{1883};  // the bound plain MQTT port
};

/// GService answers are at most this long (GAgent reads one recv() of 1024 bytes).
inline constexpr std::size_t kGizwitsMaxAnswer = 1024;

void addGizwitsRoutes(http::Router& router, core::Platform& platform, GizwitsDialect& gizwits,
                      const GizwitsEndpoints& endpoints);
http::OpenApiFragment gizwitsOpenApi();

}  // namespace fc::server::dialects
