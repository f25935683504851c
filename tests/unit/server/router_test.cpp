// The HTTP router on plain structs: dispatch by path and method, 404/405 JSON errors, HEAD served
// by GET, and handler exceptions turned into 500.
#include "server/http/router.hpp"

#include "server/core/model.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace fc::server::http {
namespace {

ApiRequest request(std::string method, std::string path) {
  ApiRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

std::string header(const ApiResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "<missing>";
}

/// The body is `{"error":{"code":code,"message":…}}`; returns the message.
std::string expectErrorBody(const ApiResponse& r, const std::string& code) {
  EXPECT_EQ(r.contentType, "application/json");
  const auto body = nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.contains("error")) {
    ADD_FAILURE() << "not an error body: " << r.body;
    return {};
  }
  EXPECT_EQ(body["error"].value("code", ""), code);
  return body["error"].value("message", "");
}

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() {
    router_.add("GET", "/items", [](const ApiRequest& r) { return jsonResponse(200, R"({"m":")" + r.method + "\"}"); });
    router_.add("POST", "/items", [](const ApiRequest& r) { return jsonResponse(201, r.body); });
    router_.add("DELETE", "/items", [](const ApiRequest&) { return ApiResponse{204, "text/plain", ""}; });
    router_.add("POST", "/only-post", [](const ApiRequest&) { return jsonResponse(200, "{}"); });
    router_.add("GET", "/boom", [](const ApiRequest&) -> ApiResponse { throw std::runtime_error("disk on fire"); });
  }
  Router router_;
};

TEST_F(RouterTest, DispatchesByPathAndMethod) {
  auto get = router_.handle(request("GET", "/items"));
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, R"({"m":"GET"})");

  auto post = request("POST", "/items");
  post.body = R"({"x":1})";
  auto created = router_.handle(post);
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.body, R"({"x":1})");

  EXPECT_EQ(router_.handle(request("DELETE", "/items")).status, 204);
}

TEST_F(RouterTest, UnknownPathIs404Json) {
  auto r = router_.handle(request("GET", "/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(expectErrorBody(r, "not_found").find("/nope"), std::string::npos);
  // Paths match exactly: no prefix or trailing-slash matching.
  EXPECT_EQ(router_.handle(request("GET", "/items/")).status, 404);
  EXPECT_EQ(router_.handle(request("GET", "/item")).status, 404);
}

TEST_F(RouterTest, KnownPathWithAnotherMethodIs405WithAllow) {
  auto r = router_.handle(request("PUT", "/items"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(header(r, "Allow"), "DELETE, GET, HEAD, POST");
  const auto message = expectErrorBody(r, "method_not_allowed");
  EXPECT_NE(message.find("PUT"), std::string::npos) << message;
}

TEST_F(RouterTest, HeadIsServedByTheGetHandler) {
  auto r = router_.handle(request("HEAD", "/items"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"m":"HEAD"})") << "the GET handler sees the real method; the server drops the body";

  auto noGet = router_.handle(request("HEAD", "/only-post"));
  EXPECT_EQ(noGet.status, 405);
  EXPECT_EQ(header(noGet, "Allow"), "POST");
}

TEST_F(RouterTest, HandlerExceptionIs500Json) {
  auto r = router_.handle(request("GET", "/boom"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(expectErrorBody(r, "internal"), "disk on fire");
}

// Whatever a handler throws becomes a 500, never an exception out of the Beast handler.
TEST(Router, NonStandardExceptionIsAlso500) {
  Router router;
  router.add("GET", "/x", [](const ApiRequest&) -> ApiResponse { throw 42; });
  ApiResponse r;
  EXPECT_NO_THROW(r = router.handle(request("GET", "/x")));
  EXPECT_EQ(r.status, 500);
  expectErrorBody(r, "internal");
}

TEST(ErrorResponse, EscapesTheMessage) {
  auto r = errorResponse(400, "bad_request", "quote \" and\nnewline");
  EXPECT_EQ(r.status, 400);
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["message"], "quote \" and\nnewline");
}

TEST(FailureResponse, EachDomainCodeHasItsStatusAndCode) {
  const std::vector<std::tuple<core::Errc, int, std::string>> expected = {
      {core::Errc::NotFound, 404, "not_found"},  {core::Errc::Conflict, 409, "conflict"},
      {core::Errc::Invalid, 422, "invalid"},     {core::Errc::Limit, 429, "too_many_commands"},
      {core::Errc::Internal, 500, "internal"}};
  for (const auto& [code, status, name] : expected) {
    auto r = failureResponse(core::Failure{code, "no device 'x'"});
    EXPECT_EQ(r.status, status) << name;
    EXPECT_EQ(r.body, R"({"error":{"code":")" + name + R"(","message":"no device 'x'"}})") << name;
  }
}

TEST(RouterPatterns, ParametersBindAndLiteralSegmentsWin) {
  Router router;
  router.add("GET", "/api/v1/devices/{id}", [](const ApiRequest& r) { return jsonResponse(200, "param:" + r.params.at("id")); });
  router.add("GET", "/api/v1/devices/stats", [](const ApiRequest&) { return jsonResponse(200, "literal"); });
  router.add("GET", "/api/v1/devices/{id}/commands/{cmd}", [](const ApiRequest& r) {
    return jsonResponse(200, r.params.at("id") + "|" + r.params.at("cmd"));
  });
  EXPECT_EQ(router.handle(request("GET", "/api/v1/devices/dev%2F1")).body, "param:dev/1");
  EXPECT_EQ(router.handle(request("GET", "/api/v1/devices/stats")).body, "literal");
  EXPECT_EQ(router.handle(request("GET", "/api/v1/devices/a/commands/b")).body, "a|b");
  EXPECT_EQ(router.handle(request("GET", "/api/v1/devices/")).status, 404) << "an empty segment binds nothing";
  EXPECT_EQ(router.handle(request("GET", "/api/v1/devices/a/commands")).status, 404);
  EXPECT_EQ(router.routes().size(), 3u);
}

TEST(RouterPatterns, RestParameterBindsTheRemainingSegments) {
  Router router;
  router.add("POST", "/topic/{topic*}", [](const ApiRequest& r) { return jsonResponse(200, "rest:" + r.params.at("topic")); });
  router.add("POST", "/topic/status", [](const ApiRequest&) { return jsonResponse(200, "literal"); });
  router.add("POST", "/a/{x}/{more*}", [](const ApiRequest& r) {
    return jsonResponse(200, r.params.at("x") + "|" + r.params.at("more"));
  });
  EXPECT_EQ(router.handle(request("POST", "/topic/a1/dev/user/update")).body, "rest:a1/dev/user/update");
  EXPECT_EQ(router.handle(request("POST", "/topic/one")).body, "rest:one");
  EXPECT_EQ(router.handle(request("POST", "/topic/a%20b/c")).body, "rest:a b/c") << "percent-decoded";
  EXPECT_EQ(router.handle(request("POST", "/topic/a//b")).body, "rest:a//b") << "empty levels inside are kept";
  EXPECT_EQ(router.handle(request("POST", "/topic/status")).body, "literal") << "an exact pattern wins";
  EXPECT_EQ(router.handle(request("POST", "/topic/status/x")).body, "rest:status/x");
  EXPECT_EQ(router.handle(request("POST", "/topic/")).status, 404) << "the rest needs at least one segment";
  EXPECT_EQ(router.handle(request("POST", "/topic")).status, 404);
  EXPECT_EQ(router.handle(request("GET", "/topic/x")).status, 405);
  EXPECT_EQ(router.handle(request("POST", "/a/1/2/3")).body, "1|2/3");
  EXPECT_EQ(router.handle(request("POST", "/a/1")).status, 404);
}

TEST(RouterPatterns, AsyncHandlersAnswerLater) {
  Router router;
  Respond saved;
  router.addAsync("POST", "/later", [&saved](ApiRequest, Respond respond) { saved = std::move(respond); });
  std::optional<ApiResponse> got;
  router.dispatch(request("POST", "/later"), [&got](ApiResponse r) { got = std::move(r); });
  EXPECT_FALSE(got);
  saved(jsonResponse(201, "{}"));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 201);
}

TEST(RouterPatterns, QueryParametersArePercentDecoded) {
  ApiRequest r;
  r.query = "status=PENDING&name=a%20b+c&flag&empty=";
  EXPECT_EQ(r.queryParam("status"), "PENDING");
  EXPECT_EQ(r.queryParam("name"), "a b c");
  EXPECT_EQ(r.queryParam("flag"), "");
  EXPECT_EQ(r.queryParam("empty"), "");
  EXPECT_FALSE(r.queryParam("missing"));
  EXPECT_EQ(percentDecode("100%", false), "100%") << "a malformed escape is kept";
  EXPECT_EQ(percentDecode("%zz%41", false), "%zzA");
}

}  // namespace
}  // namespace fc::server::http
