// Bearer-token protection of the northbound/admin API. fakecloud bound to loopback is a developer's
// tool and needs no token; bound to a wider address it must not hand its devices to the network, so
// /api then requires `Authorization: Bearer <token>` (RFC 6750 §2.1) or, for clients that cannot
// set headers such as a browser's WebSocket, `?access_token=<token>` (RFC 6750 §2.3).
#pragma once

#include <string>

#include "server/http/router.hpp"

namespace fc::server::http {

/// True for 127.0.0.0/8, ::1 and "localhost": addresses nobody else can reach.
bool isLoopbackAddress(const std::string& address);

/// A guard that refuses requests under /api without the token: 401 with `WWW-Authenticate: Bearer`
/// and a JSON error. Paths outside /api (device channels, /healthz, /readyz) pass.
Guard bearerTokenGuard(std::string token);

}  // namespace fc::server::http
