// Routes every fakecloud serves whatever the dialects: health, readiness, the device CA, and the
// OpenAPI document that describes the whole HTTP API.
#pragma once

#include <functional>
#include <string>

#include "server/http/router.hpp"

namespace fc::server::http {

/// GET /healthz, /readyz (200 while `ready()`, else 503), /api/v1/ca.pem, /api/openapi.json.
void addSystemRoutes(Router& router, std::function<bool()> ready, std::string caPem);

/// The OpenAPI 3 document (JSON text) for every route fakecloud serves.
std::string openApiDocument();

}  // namespace fc::server::http
