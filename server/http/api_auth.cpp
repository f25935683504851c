// The /api bearer-token guard.
#include "server/http/api_auth.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>

namespace fc::server::http {
namespace {

bool underApi(const std::string& path) { return path == "/api" || path.rfind("/api/", 0) == 0; }

/// Compares in time that depends on the lengths only, so the token cannot be guessed byte by byte.
bool sameSecret(const std::string& given, const std::string& token) {
  return given.size() == token.size() && CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

std::string presentedToken(const ApiRequest& r) {
  if (auto h = r.headers.find("authorization"); h != r.headers.end()) {
    const std::string& v = h->second;
    // The scheme is case-insensitive (RFC 7235 §2.1).
    if (v.size() > 7 && std::equal(v.begin(), v.begin() + 7, "bearer ",
                                   [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; }))
      return v.substr(7);
    return {};
  }
  return r.queryParam("access_token").value_or("");
}

}  // namespace

bool isLoopbackAddress(const std::string& address) {
  return address == "localhost" || address == "::1" || address.rfind("127.", 0) == 0;
}

Guard bearerTokenGuard(std::string token) {
  return [token = std::move(token)](const ApiRequest& r) -> std::optional<ApiResponse> {
    if (!underApi(r.path)) return std::nullopt;
    const auto given = presentedToken(r);
    if (!given.empty() && sameSecret(given, token)) return std::nullopt;
    auto refused = errorResponse(401, "unauthorized",
                                 given.empty() ? "this API needs 'Authorization: Bearer <token>' (see the server log)"
                                               : "the bearer token is wrong");
    refused.headers.emplace_back("WWW-Authenticate",
                                 given.empty() ? R"(Bearer realm="fakecloud")"
                                               : R"(Bearer realm="fakecloud", error="invalid_token")");
    return refused;
  };
}

}  // namespace fc::server::http
