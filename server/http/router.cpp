// Pattern routing: split into segments, literal segments outrank parameters.
#include "server/http/router.hpp"

#include "server/core/model.hpp"

#include <nlohmann/json.hpp>

namespace fc::server::http {
namespace {

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = path.starts_with('/') ? 1 : 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    out.emplace_back(path.substr(start, end - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

bool isParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

/// `{name*}`: the last segment of a pattern, binding the rest of the path (one or more segments).
bool isRest(const std::string& segment) { return isParam(segment) && segment[segment.size() - 2] == '*'; }

std::string paramName(const std::string& segment) {
  return segment.substr(1, segment.size() - (isRest(segment) ? 3 : 2));
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view reasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 416:
      return "Range Not Satisfiable";
    case 422:
      return "Unprocessable Content";
    case 500:
      return "Internal Server Error";
    default:
      return "";
  }
}

std::string percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else if (plusIsSpace && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::string> ApiRequest::queryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (percentDecode(pair.substr(0, eq), true) == name)
      return eq == std::string_view::npos ? std::string{} : percentDecode(pair.substr(eq + 1), true);
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

ApiResponse failureResponse(const core::Failure& f) {
  switch (f.code) {
    case core::Errc::NotFound: return errorResponse(404, "not_found", f.message);
    case core::Errc::Conflict: return errorResponse(409, "conflict", f.message);
    case core::Errc::Invalid: return errorResponse(422, "invalid", f.message);
    case core::Errc::Limit: return errorResponse(429, "too_many_commands", f.message);
    case core::Errc::Internal: break;
  }
  return errorResponse(500, "internal", f.message);
}

ApiResponse errorResponse(int status, const std::string& code, const std::string& message) {
  nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

ApiResponse jsonResponse(int status, const std::string& json) { return {status, "application/json", json}; }

std::vector<std::uint8_t> wireBytes(const ApiRequest& request) {
  std::string text =
      request.method + " " + request.path + (request.query.empty() ? "" : "?" + request.query) + " HTTP/1.1\r\n";
  for (const auto& [name, value] : request.headers) text += name + ": " + value + "\r\n";
  text += "\r\n" + request.body;
  return {text.begin(), text.end()};
}

std::vector<std::uint8_t> wireBytes(const ApiResponse& response) {
  std::string text = "HTTP/1.1 " + std::to_string(response.status) + " " + std::string(reasonPhrase(response.status)) +
                     "\r\ncontent-type: " + response.contentType + "\r\n";
  for (const auto& [name, value] : response.headers) text += name + ": " + value + "\r\n";
  text += "content-length: " + std::to_string(response.body.size()) + "\r\n\r\n" + response.body;
  return {text.begin(), text.end()};
}

void Router::add(std::string method, std::string pattern, Handler handler) {
  addAsync(std::move(method), std::move(pattern),
           [handler = std::move(handler)](ApiRequest request, Respond respond) { respond(handler(request)); });
}

void Router::addAsync(std::string method, std::string pattern, AsyncHandler handler) {
  for (auto& r : routes_) {
    if (r.pattern == pattern) {
      r.handlers[std::move(method)] = std::move(handler);
      return;
    }
  }
  Route route{pattern, split(pattern), {}, {}};
  route.handlers[std::move(method)] = std::move(handler);
  routes_.push_back(std::move(route));
}

void Router::addUpload(std::string method, std::string pattern, UploadHandler handler) {
  for (auto& r : routes_) {
    if (r.pattern == pattern) {
      r.uploads[std::move(method)] = std::move(handler);
      return;
    }
  }
  Route route{pattern, split(pattern), {}, {}};
  route.uploads[std::move(method)] = std::move(handler);
  routes_.push_back(std::move(route));
}

std::optional<UploadStart> Router::startUpload(const ApiRequest& headers) const {
  ApiRequest request = headers;
  const Route* route = match(request.path, request.params);
  if (!route) return std::nullopt;
  const auto upload = route->uploads.find(request.method);
  if (upload == route->uploads.end()) return std::nullopt;
  if (auto refused = admit(request)) return UploadStart{std::move(*refused), nullptr};
  try {
    return upload->second(request);
  } catch (const std::exception& e) {
    return UploadStart{errorResponse(500, "internal", e.what()), nullptr};
  }
}

const Router::Route* Router::match(std::string_view path, std::map<std::string, std::string>& params) const {
  const auto segments = split(path);
  const Route* best = nullptr;
  int bestScore = -1;
  for (const auto& r : routes_) {
    const bool rest = !r.segments.empty() && isRest(r.segments.back());
    if (rest ? segments.size() < r.segments.size() : r.segments.size() != segments.size()) continue;
    int literals = 0;
    bool ok = true;
    for (std::size_t i = 0; i < r.segments.size() && ok; ++i) {
      if (rest && i + 1 == r.segments.size()) ok = !segments[i].empty();
      else if (isParam(r.segments[i])) ok = !segments[i].empty();
      else if (r.segments[i] == segments[i]) ++literals;
      else ok = false;
    }
    // More literal segments win; on a tie an exact-length pattern beats a rest pattern.
    const int score = literals * 2 + (rest ? 0 : 1);
    if (ok && score > bestScore) {
      best = &r;
      bestScore = score;
    }
  }
  if (best) {
    const bool rest = isRest(best->segments.back());
    for (std::size_t i = 0; i < best->segments.size(); ++i) {
      const auto& seg = best->segments[i];
      if (!isParam(seg)) continue;
      if (rest && i + 1 == best->segments.size()) {
        std::string joined;
        for (std::size_t j = i; j < segments.size(); ++j) joined += (j == i ? "" : "/") + segments[j];
        params[paramName(seg)] = percentDecode(joined, false);
      } else {
        params[paramName(seg)] = percentDecode(segments[i], false);
      }
    }
  }
  return best;
}

void Router::setGuard(Guard guard) { guard_ = std::move(guard); }

std::optional<ApiResponse> Router::admit(const ApiRequest& request) const {
  if (!guard_) return std::nullopt;
  return guard_(request);
}

void Router::dispatch(ApiRequest request, Respond respond) const {
  if (auto refused = admit(request)) return respond(std::move(*refused));
  const Route* route = match(request.path, request.params);
  if (!route) return respond(errorResponse(404, "not_found", "no route for " + request.path));
  auto method = route->handlers.find(request.method == "HEAD" ? "GET" : request.method);
  if (method == route->handlers.end()) {
    std::string allow;
    for (const auto& [m, _] : route->handlers) {
      allow += (allow.empty() ? "" : ", ") + m;
      if (m == "GET") allow += ", HEAD";
    }
    auto r = errorResponse(405, "method_not_allowed", request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", allow);
    return respond(std::move(r));
  }
  try {
    method->second(std::move(request), respond);
  } catch (const std::exception& e) {
    respond(errorResponse(500, "internal", e.what()));
  } catch (...) {
    respond(errorResponse(500, "internal", "the handler failed"));
  }
}

ApiResponse Router::handle(const ApiRequest& request) const {
  std::optional<ApiResponse> out;
  dispatch(request, [&out](ApiResponse r) { out = std::move(r); });
  return out ? std::move(*out) : errorResponse(500, "internal", "the handler answers asynchronously");
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_)
    for (const auto& [m, _] : r.handlers) out.push_back({m, r.pattern});
  return out;
}

}  // namespace fc::server::http
