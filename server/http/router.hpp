// HTTP routing on plain request/response structs, so handlers compile fast and test without Beast.
// Paths are patterns whose `{name}` segments bind parameters, and whose last segment may be
// `{name*}` to bind the rest of the path (one or more segments, joined with '/'); handlers answer
// synchronously or later through a Respond callback (when the work runs on another strand).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fc::server::core {
struct Failure;
}  // namespace fc::server::core

namespace fc::server::http {

struct ApiRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::map<std::string, std::string> params;   // bound `{name}` segments, percent-decoded
  bool tls = false;                            // came over the HTTPS listener

  /// A query parameter, percent-decoded ("a=1&b=x%20y" → queryParam("b") == "x y").
  std::optional<std::string> queryParam(std::string_view name) const;
};

struct ApiResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// `{"error":{"code":…,"message":…}}` with the given status.
ApiResponse errorResponse(int status, const std::string& code, const std::string& message);
/// A platform failure as the REST API answers it: not_found 404, conflict 409, invalid 422,
/// too_many_commands 429 (a limit), internal 500.
ApiResponse failureResponse(const core::Failure& failure);
ApiResponse jsonResponse(int status, const std::string& json);

/// The request as HTTP/1.1 text, rebuilt from the parsed fields for a device's journal: request
/// line, headers (lower-case names, in name order, as they are kept), empty line, body.
std::vector<std::uint8_t> wireBytes(const ApiRequest& request);
/// The response likewise: status line, content-type, the handler's headers, content-length, body
/// (the listener adds `Server` and the connection headers when it writes it).
std::vector<std::uint8_t> wireBytes(const ApiResponse& response);

/// Decodes %XX and '+' (as space, in queries only); malformed escapes are kept as they are.
std::string percentDecode(std::string_view s, bool plusIsSpace);

using Respond = std::function<void(ApiResponse)>;
using Handler = std::function<ApiResponse(const ApiRequest&)>;
using AsyncHandler = std::function<void(ApiRequest, Respond)>;
/// Looks at a request before any route does; an answer refuses it (e.g. 401 without a token).
using Guard = std::function<std::optional<ApiResponse>(const ApiRequest&)>;

struct RouteInfo {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  void addAsync(std::string method, std::string pattern, AsyncHandler handler);
  /// Every request (routes and WebSocket upgrades alike) passes the guard first.
  void setGuard(Guard guard);
  /// The guard's refusal, if it refuses the request.
  std::optional<ApiResponse> admit(const ApiRequest& request) const;

  /// Finds the route and runs it; `respond` is called exactly once, maybe later, maybe on another
  /// thread. 404 for an unknown path, 405 (with Allow) for a known path and another method; a
  /// literal segment wins over a `{parameter}` one, and an exact-length pattern over a `{rest*}`
  /// one with as many literals. Whatever a handler throws becomes a 500.
  void dispatch(ApiRequest request, Respond respond) const;
  /// For synchronous routes (tests, health): dispatch and return the response.
  ApiResponse handle(const ApiRequest& request) const;

  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string pattern;
    std::vector<std::string> segments;
    std::map<std::string, AsyncHandler> handlers;  // method → handler
  };
  const Route* match(std::string_view path, std::map<std::string, std::string>& params) const;

  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace fc::server::http
