// The OpenAPI document covers every route the server registers, and nothing it does not serve.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include <boost/asio/io_context.hpp>

#include "server/coap/coap_server.hpp"
#include "server/coap/lwm2m_server.hpp"
#include "server/core/platform.hpp"
#include "server/http/lwm2m_api.hpp"
#include "server/http/platform_api.hpp"
#include "server/http/system_api.hpp"
#include "server/dialects/aliyun/aliyun.hpp"
#include "server/dialects/aliyun/aliyun_http.hpp"
#include "server/dialects/oceanconnect/oceanconnect_iocm.hpp"

namespace fc::server::http {
namespace {

struct StubPublisher final : dialects::MqttPublisher {
  void publish(std::string, std::vector<std::uint8_t>, mqtt::QoS) override {}
};

std::set<std::pair<std::string, std::string>> documented() {
  const auto doc = nlohmann::json::parse(openApiDocument());
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& [path, methods] : doc["paths"].items())
    for (const auto& [method, _] : methods.items()) {
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      out.emplace(upper, path);
    }
  return out;
}

TEST(OpenApi, EveryRouteIsDocumentedAndEveryDocumentedRouteExists) {
  core::PlatformClock clock;
  core::Platform platform(clock, nullptr);
  Router router;
  addSystemRoutes(router, [] { return true; }, "pem");
  addPlatformRoutes(router, platform, clock, {});
  StubPublisher publisher;
  dialects::AliyunDialect aliyun(platform, publisher);
  dialects::addAliyunRoutes(router, platform, aliyun);
  boost::asio::io_context ioc;
  coap::CoapServer coapServer(ioc, CoapConfig{}, clock);
  coap::Lwm2mServer lwm2m(platform, coapServer);
  addLwm2mRoutes(router, platform, lwm2m);
  dialects::IocmService iocm(platform, [](const std::string&, const std::string&) {});
  dialects::addIocmRoutes(router, iocm);
  std::set<std::pair<std::string, std::string>> served;
  for (auto r : router.routes()) {
    // A rest-of-path parameter "{name*}" is "{name}" in OpenAPI.
    if (auto star = r.pattern.find("*}"); star != std::string::npos) r.pattern.erase(star, 1);
    served.emplace(r.method, r.pattern);
  }
  const auto doc = documented();
  for (const auto& route : served)
    EXPECT_TRUE(doc.contains(route)) << route.first << " " << route.second << " is missing from the OpenAPI document";
  for (const auto& route : doc)
    EXPECT_TRUE(served.contains(route)) << route.first << " " << route.second << " is documented but not served";
}

TEST(OpenApi, IsOpenApi3WithSchemasForEveryReference) {
  const auto doc = nlohmann::json::parse(openApiDocument());
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  const auto text = doc.dump();
  const std::string marker = "#/components/schemas/";
  for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    const auto end = text.find('"', at);
    const auto name = text.substr(at + marker.size(), end - at - marker.size());
    EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << "dangling $ref " << name;
  }
}

}  // namespace
}  // namespace fc::server::http
