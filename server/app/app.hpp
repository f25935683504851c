// The running server: opens storage, starts every listener on one io_context served by a pool of
// threads, reports readiness (log, --ports-file, /readyz) and shuts down on SIGINT/SIGTERM.
#pragma once

#include "server/app/config.hpp"

namespace fc::server {

/// Sets up spdlog from the config (level; text or one JSON object per line).
void configureLogging(const Config& config);

/// Runs until SIGINT/SIGTERM; returns the process exit code (1 when start-up fails).
int runServer(const Config& config);

}  // namespace fc::server
