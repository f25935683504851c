// The OpenAPI document covers every route the server registers, and nothing it does not serve.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <set>

#include "server/http/firmware_api.hpp"
#include "server/http/lwm2m_api.hpp"
#include "server/http/ota_jobs_api.hpp"
#include "server/http/platform_api.hpp"
#include "server/http/system_api.hpp"
#include "tests/unit/dialects/server_dialects.hpp"

namespace fc::server::http {
namespace {

std::set<std::pair<std::string, std::string>> documented(const OpenApiParts& parts) {
  const auto doc = nlohmann::json::parse(openApiDocument(parts));
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
  test::ServerDialects d;
  auto parts = d.registry.openApi();
  parts.fragments.push_back(firmwareOpenApi());
  parts.fragments.push_back(otaJobsOpenApi());
  Router router;
  addSystemRoutes(
      router, [] { return true; }, "pem", parts);
  addPlatformRoutes(router, d.platform, d.clock, d.registry, {});
  d.registry.addRoutes(router);
  addLwm2mRoutes(router, d.platform, d.lwm2m);
  addFirmwareRoutes(router, {d.platform, nullptr, nullptr, nullptr});  // handlers are not run
  addOtaJobRoutes(router, nullptr);
  std::set<std::pair<std::string, std::string>> served;
  for (auto r : router.routes()) {
    // A rest-of-path parameter "{name*}" is "{name}" in OpenAPI.
    if (auto star = r.pattern.find("*}"); star != std::string::npos) r.pattern.erase(star, 1);
    served.emplace(r.method, r.pattern);
  }
  const auto doc = documented(parts);
  for (const auto& route : served)
    EXPECT_TRUE(doc.contains(route)) << route.first << " " << route.second << " is missing from the OpenAPI document";
  for (const auto& route : doc)
    EXPECT_TRUE(served.contains(route)) << route.first << " " << route.second << " is documented but not served";
}

TEST(OpenApi, IsOpenApi3WithSchemasForEveryReference) {
  test::ServerDialects d;
  const auto doc = nlohmann::json::parse(openApiDocument(d.registry.openApi()));
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  const auto text = doc.dump();
  const std::string marker = "#/components/schemas/";
  for (auto at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    const auto end = text.find('"', at);
    const auto name = text.substr(at + marker.size(), end - at - marker.size());
    EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << "dangling $ref " << name;
  }
}

TEST(OpenApi, DialectsAreTheRegisteredOnesAndIocmErrorsAreHuaweis) {
  test::ServerDialects d;
  const auto doc = nlohmann::json::parse(openApiDocument(d.registry.openApi()));
  EXPECT_EQ(doc["components"]["schemas"]["ProductInput"]["properties"]["dialect"]["enum"],
            nlohmann::json({"generic", "aliyun", "oceanconnect", "gizwits"}));
  EXPECT_EQ(doc["paths"]["/iocm/app/dm/v1.4.0/devices/{id}"]["get"]["responses"]["404"]["content"]["application/json"]
               ["schema"]["$ref"],
            "#/components/schemas/IocmError");
  EXPECT_EQ(doc["paths"]["/api/v1/devices/{id}/rrpc"]["post"]["responses"]["404"]["content"]["application/json"]
               ["schema"]["$ref"],
            "#/components/schemas/Error");
}

}  // namespace
}  // namespace fc::server::http
