// The pure parts of the HTTP edge: callback URL parsing and the /api bearer-token guard.
#include <gtest/gtest.h>

#include "server/http/api_auth.hpp"
#include "server/http/webhooks.hpp"

namespace fc::server::http {
namespace {

TEST(ParseHttpUrl, SplitsSchemeHostPortAndTarget) {
  auto u = parseHttpUrl("http://127.0.0.1:9000/cb/commands?x=1");
  ASSERT_TRUE(u) << u.error();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->target, "/cb/commands?x=1");

  u = parseHttpUrl("HTTPS://example.com");
  ASSERT_TRUE(u) << u.error();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/");

  u = parseHttpUrl("http://[::1]:8081?q");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8081);
  EXPECT_EQ(u->target, "/?q");

  u = parseHttpUrl("http://host");
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->port, 80);
}

TEST(ParseHttpUrl, RefusesWhatNoClientCouldPostTo) {
  const struct {
    const char* url;
    const char* says;
  } bad[] = {
      {"", "absolute"},
      {"/relative/path", "absolute"},
      {"ftp://host/x", "scheme"},
      {"http:///path", "no host"},
      {"http://:80/", "no host"},
      {"http://host:0/", "port"},
      {"http://host:65536/", "port"},
      {"http://host:8o/", "port"},
      {"http://user:pw@host/", "user info"},
      {"http://host/a b", "spaces"},
      {"http://host/#frag", "fragment"},
      {"http://[::1/", "unclosed"},
  };
  for (const auto& b : bad) {
    auto u = parseHttpUrl(b.url);
    ASSERT_FALSE(u) << b.url;
    EXPECT_NE(u.error().find(b.says), std::string::npos) << b.url << " → " << u.error();
  }
}

ApiRequest request(std::string path, std::map<std::string, std::string> headers = {}, std::string query = {}) {
  ApiRequest r;
  r.method = "GET";
  r.path = std::move(path);
  r.headers = std::move(headers);
  r.query = std::move(query);
  return r;
}

TEST(BearerTokenGuard, ProtectsApiPathsOnly) {
  const auto guard = bearerTokenGuard("s3cret");
  for (const char* open : {"/healthz", "/readyz", "/auth", "/topic/a/b", "/apis", "/"})
    EXPECT_FALSE(guard(request(open))) << open;

  auto refused = guard(request("/api/v1/products"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  EXPECT_NE(refused->body.find("\"unauthorized\""), std::string::npos);
  ASSERT_EQ(refused->headers.size(), 1u);
  EXPECT_EQ(refused->headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(refused->headers[0].second, R"(Bearer realm="fakecloud")");
  EXPECT_TRUE(guard(request("/api")));
}

TEST(BearerTokenGuard, AcceptsTheTokenInTheHeaderOrTheQuery) {
  const auto guard = bearerTokenGuard("s3cret");
  EXPECT_FALSE(guard(request("/api/v1/products", {{"authorization", "Bearer s3cret"}})));
  EXPECT_FALSE(guard(request("/api/v1/products", {{"authorization", "bearer s3cret"}}))) << "scheme is case-insensitive";
  EXPECT_FALSE(guard(request("/api/v1/events", {}, "deviceId=d&access_token=s3cret")));

  for (const auto& wrong : {std::map<std::string, std::string>{{"authorization", "Bearer s3cre"}},
                            std::map<std::string, std::string>{{"authorization", "Bearer s3cret2"}},
                            std::map<std::string, std::string>{{"authorization", "Basic s3cret"}}}) {
    auto refused = guard(request("/api/v1/products", wrong));
    ASSERT_TRUE(refused) << wrong.begin()->second;
    EXPECT_EQ(refused->status, 401);
  }
  auto refused = guard(request("/api/v1/products", {{"authorization", "Bearer nope"}}));
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->headers[0].second.find("invalid_token"), std::string::npos);
  EXPECT_TRUE(guard(request("/api/v1/products", {}, "access_token=nope")));
}

TEST(IsLoopbackAddress, KnowsWhatNobodyElseReaches) {
  for (const char* lo : {"127.0.0.1", "127.1.2.3", "::1", "localhost"}) EXPECT_TRUE(isLoopbackAddress(lo)) << lo;
  for (const char* wide : {"0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com"})
    EXPECT_FALSE(isLoopbackAddress(wide)) << wide;
}

}  // namespace
}  // namespace fc::server::http
