// Routes every fakecloud serves whatever the dialects: health, readiness, the device CA, and the
// OpenAPI document that describes the whole HTTP API.
#pragma once

#include <functional>
#include <string>

#include "server/http/openapi.hpp"
#include "server/http/router.hpp"

namespace fc::server::http {

/// GET /healthz, /readyz (200 while `ready()`, else 503), /api/v1/ca.pem, /api/openapi.json (the
/// document for the platform's routes and the dialects' `parts`).
void addSystemRoutes(Router& router, std::function<bool()> ready, std::string caPem, const OpenApiParts& parts);

/// The OpenAPI 3 document (JSON text): the platform's routes, and the registered dialects' parts.
std::string openApiDocument(const OpenApiParts& parts);

}  // namespace fc::server::http
