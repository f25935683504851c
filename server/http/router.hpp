// HTTP routing on plain request/response structs, so handlers compile fast and test without Beast.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fc::server::http {

struct ApiRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// `{"error":{"code":…,"message":…}}` with the given status.
ApiResponse errorResponse(int status, const std::string& code, const std::string& message);
ApiResponse jsonResponse(int status, const std::string& json);

using Handler = std::function<ApiResponse(const ApiRequest&)>;

class Router {
 public:
  void add(std::string method, std::string path, Handler handler);
  /// 404 for an unknown path, 405 (with Allow) for a known path and another method.
  ApiResponse handle(const ApiRequest& request) const;

 private:
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path → method → handler
};

}  // namespace fc::server::http
