// The upgrade jobs' REST routes (issue 14, docs/ota.md "Jobs"): /api/v1/ota/jobs — create, list,
// one job with its counts, its devices' runs, cancel.
#pragma once

#include "server/http/openapi.hpp"
#include "server/http/router.hpp"

namespace fc::server::ota {
class JobService;
}

namespace fc::server::http {

/// `jobs` must outlive the router (null only where no handler runs: the OpenAPI test).
void addOtaJobRoutes(Router& router, ota::JobService* jobs);
/// The routes' part of the OpenAPI document.
OpenApiFragment otaJobsOpenApi();

}  // namespace fc::server::http
