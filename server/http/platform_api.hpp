// The northbound REST API over the platform core (docs/api.md): products, devices, commands,
// uplink history, and the admin controls that make fakecloud a test tool (clock, reset).
#pragma once

#include <functional>

#include "server/core/clock.hpp"
#include "server/core/platform.hpp"
#include "server/http/router.hpp"

namespace fc::server::http {

struct PlatformApiHooks {
  /// After the platform forgot everything (POST /api/v1/admin/reset): clear what else holds state.
  std::function<void()> onReset;
};

void addPlatformRoutes(Router& router, core::Platform& platform, core::PlatformClock& clock, PlatformApiHooks hooks);

}  // namespace fc::server::http
