// Exact-path routing; path parameters arrive with the REST API.
#include "server/http/router.hpp"

#include <nlohmann/json.hpp>

namespace fc::server::http {

ApiResponse errorResponse(int status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return {status, "application/json", body.dump()};
}

ApiResponse jsonResponse(int status, const std::string& json) { return {status, "application/json", json}; }

void Router::add(std::string method, std::string path, Handler handler) {
  routes_[std::move(path)][std::move(method)] = std::move(handler);
}

ApiResponse Router::handle(const ApiRequest& request) const {
  auto path = routes_.find(request.path);
  if (path == routes_.end()) return errorResponse(404, "not_found", "no route for " + request.path);
  auto method = path->second.find(request.method == "HEAD" ? "GET" : request.method);
  if (method == path->second.end()) {
    std::string allow;
    for (const auto& [m, _] : path->second) {
      allow += (allow.empty() ? "" : ", ") + m;
      if (m == "GET") allow += ", HEAD";
    }
    auto r = errorResponse(405, "method_not_allowed", request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", allow);
    return r;
  }
  try {
    return method->second(request);
  } catch (const std::exception& e) {
    return errorResponse(500, "internal", e.what());
  } catch (...) {
    return errorResponse(500, "internal", "the handler failed");
  }
}

}  // namespace fc::server::http
