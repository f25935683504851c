// The dialect registry and what asks it: REST product/device/command validation (a product of an
// unregistered dialect is 422, naming the registered ones; each dialect's rules apply on create and
// change), the command router, the MQTT parts' order, tick/reset/serving, the OpenAPI parts.
//
// Mutations these tests are meant to kill (one line each):
//   platform_api.cpp productFromJson: drop `if (!rules) return … unknownDialect` → UnregisteredDialect…
//   platform_api.cpp unknownDialect: drop the "dialects" member                → UnregisteredDialect…
//   platform_api.cpp patchDevice: skip rules->prepareDevice(…, Update)         → RulesOfEachDialect…
//   platform_api.cpp postCommand: skip rules->checkCommand                     → RulesOfEachDialect…
//   registry.cpp add: drop the duplicate-name check                            → ANameIsRegisteredOnce
//   registry.cpp add: push every dialect into mqtt_ (nullptr parts too)         → MqttPartsInRegistrationOrder
//   command_router.cpp: always the fallback / never the fallback               → CommandRouter…
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/dialects/command_router.hpp"
#include "server/http/platform_api.hpp"
#include "tests/unit/dialects/server_dialects.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;

/// The server's three dialects with the platform's REST routes.
class Registered : public ::testing::Test {
 protected:
  Registered() {
    http::addPlatformRoutes(router_, d_.platform, d_.clock, d_.registry, {});
    d_.registry.addRoutes(router_);
  }

  http::ApiResponse call(const std::string& method, const std::string& path, const json& body = nullptr) {
    http::ApiRequest r;
    r.method = method;
    r.path = path;
    if (!body.is_null()) r.body = body.dump();
    return router_.handle(r);
  }

  test::ServerDialects d_;
  http::Router router_;
};

TEST_F(Registered, UnregisteredDialectIsRefusedNamingTheRegisteredOnes) {
  for (const char* name : {"tuya", "wmiot", "rtthread", "", "Generic"}) {
    auto r = call("POST", "/api/v1/products", {{"id", "p"}, {"dialect", name}});
    EXPECT_EQ(r.status, 422) << name;
    const auto error = json::parse(r.body)["error"];
    EXPECT_EQ(error["code"], "invalid");
    EXPECT_EQ(error["dialects"], json({"generic", "aliyun", "oceanconnect", "gizwits"})) << r.body;
    EXPECT_NE(error["message"].get<std::string>().find("unknown dialect '" + std::string(name) +
                                                       "'; this server runs: generic, aliyun, oceanconnect, gizwits"),
              std::string::npos)
        << r.body;
  }
  EXPECT_EQ(call("GET", "/api/v1/products/p").status, 404) << "nothing was created";
  auto fixtures = call("POST", "/api/v1/admin/fixtures", {{"products", {{{"id", "g"}, {"dialect", "wmiot"}}}}});
  EXPECT_EQ(fixtures.status, 422);
  EXPECT_NE(
      fixtures.body.find("products[0]: unknown dialect 'wmiot'; this server runs: generic, aliyun, oceanconnect, gizwits"),
      std::string::npos)
      << fixtures.body;
  EXPECT_EQ(call("POST", "/api/v1/products", {{"id", "d"}}).status, 201) << "no dialect: generic";
  EXPECT_EQ(json::parse(call("GET", "/api/v1/products/d").body)["dialect"], "generic");
}

TEST_F(Registered, RulesOfEachDialectApplyOnCreateChangeAndCommand) {
  // generic: a random secret
  ASSERT_EQ(call("POST", "/api/v1/products", {{"id", "g"}, {"dialect", "generic"}}).status, 201);
  auto g = json::parse(call("POST", "/api/v1/devices", {{"id", "g1"}, {"productId", "g"}}).body);
  EXPECT_EQ(g["secrets"]["secret"].get<std::string>().size(), 32u);
  // aliyun: a generated productKey, deviceName and deviceSecret; a name clash is 409; a command
  // name must be a service identifier
  auto a = json::parse(call("POST", "/api/v1/products", {{"id", "a"}, {"dialect", "aliyun"}}).body);
  const auto pk = a["keys"]["productKey"].get<std::string>();
  EXPECT_EQ(pk.substr(0, 2), "a1");
  EXPECT_EQ(
      call("POST", "/api/v1/products", {{"id", "a2"}, {"dialect", "aliyun"}, {"keys", {{"productKey", pk}}}}).status,
      409);
  auto a1 = json::parse(call("POST", "/api/v1/devices", {{"id", "a1"}, {"productId", "a"}}).body);
  EXPECT_EQ(a1["identifiers"]["deviceName"], "a1");
  EXPECT_EQ(a1["secrets"]["deviceSecret"].get<std::string>().size(), 32u);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"id", "a2"}, {"productId", "a"}, {"identifiers", {{"deviceName", "a1"}}}})
                .status,
            409);
  EXPECT_EQ(
      call("POST", "/api/v1/devices/a1/commands", {{"name", "not a service"}, {"payload", json::object()}}).status,
      422);
  EXPECT_EQ(call("POST", "/api/v1/devices/a1/commands", {{"name", "reboot"}, {"payload", json::object()}}).status, 201);
  EXPECT_EQ(
      call("POST", "/api/v1/devices/g1/commands", {{"name", "not a service"}, {"payload", json::object()}}).status, 201)
      << "only aliyun restricts command names";
  // oceanconnect: nodeId and PSK defaults; the nodeId stays unique through a change
  ASSERT_EQ(call("POST", "/api/v1/products", {{"id", "o"}, {"dialect", "oceanconnect"}}).status, 201);
  auto o1 = json::parse(call("POST", "/api/v1/devices", {{"id", "o1"}, {"productId", "o"}}).body);
  EXPECT_EQ(o1["identifiers"]["nodeId"], "o1");
  EXPECT_EQ(o1["secrets"]["psk"].get<std::string>().size(), 32u);
  ASSERT_EQ(call("POST", "/api/v1/devices", {{"id", "o2"}, {"productId", "o"}}).status, 201);
  EXPECT_EQ(call("PATCH", "/api/v1/devices/o2", {{"identifiers", {{"nodeId", "o1"}}}}).status, 409);
  auto patched = call("PATCH", "/api/v1/devices/o2", {{"identifiers", {{"nodeId", "o2b"}}}});
  EXPECT_EQ(patched.status, 200);
  EXPECT_EQ(json::parse(patched.body)["identifiers"]["verifyCode"], "o2b") << "defaults are filled in on a change";
}

/// A dialect for the registry's own tests: counts what it is asked.
struct FakeDialect final : Dialect {
  FakeDialect(std::string name, const MqttDialect* mqtt = nullptr, core::CommandSender* sender = nullptr)
      : name_(std::move(name)), mqtt_(mqtt), sender_(sender) {}
  std::string_view name() const override { return name_; }
  const MqttDialect* mqtt() const override { return mqtt_; }
  core::CommandSender* commandSender() override { return sender_; }
  void tick() override { ++ticks; }
  void reset() override { ++resets; }
  void serving(const ServedPorts& ports) override { mqttPort = ports.mqtt; }
  http::OpenApiFragment openApi() const override {
    return {{{"GET", "/fake", "a fake route", nullptr, nullptr, {200}}}, {{"Fake", {{"type", "object"}}}}};
  }
  std::string name_;
  const MqttDialect* mqtt_;
  core::CommandSender* sender_;
  int ticks = 0, resets = 0;
  std::uint16_t mqttPort = 0;
};

struct RecordingSender final : core::CommandSender {
  void sendCommand(const core::Device& device, const core::Product&, const core::Command&) override {
    sent.push_back(device.id);
  }
  std::vector<std::string> sent;
};

TEST(DialectRegistry, ANameIsRegisteredOnce) {
  DialectRegistry registry;
  registry.add(std::make_unique<FakeDialect>("one"));
  EXPECT_THROW(registry.add(std::make_unique<FakeDialect>("one")), std::invalid_argument);
  EXPECT_THROW(registry.add(std::make_unique<FakeDialect>("")), std::invalid_argument);
  EXPECT_EQ(registry.names(), std::vector<std::string>{"one"});
  EXPECT_NE(registry.rules("one"), nullptr);
  EXPECT_EQ(registry.rules("two"), nullptr);
}

TEST(DialectRegistry, MqttPartsInRegistrationOrder) {
  GenericDialect first, second;
  DialectRegistry registry;
  registry.add(std::make_unique<FakeDialect>("b", &second));
  registry.add(std::make_unique<FakeDialect>("none"));
  registry.add(std::make_unique<FakeDialect>("a", &first));
  EXPECT_EQ(registry.mqttDialects(), (std::vector<const MqttDialect*>{&second, &first}));
  EXPECT_EQ(registry.mqtt("a"), &first);
  EXPECT_EQ(registry.mqtt("none"), nullptr);
  EXPECT_EQ(registry.mqtt("missing"), nullptr);
}

TEST(DialectRegistry, CommandRouterSendsToTheDialectsOwnSenderElseToMqtt) {
  RecordingSender own, mqtt;
  DialectRegistry registry;
  registry.add(std::make_unique<FakeDialect>("lwm", nullptr, &own));
  registry.add(std::make_unique<FakeDialect>("mq"));
  CommandRouter router(registry, mqtt);
  const auto send = [&](const std::string& deviceId, const std::string& dialect) {
    core::Device d;
    d.id = deviceId;
    core::Product p;
    p.dialect = dialect;
    router.sendCommand(d, p, core::Command{});
  };
  send("d1", "lwm");
  send("d2", "mq");
  send("d3", "unregistered");
  EXPECT_EQ(own.sent, std::vector<std::string>{"d1"});
  EXPECT_EQ(mqtt.sent, (std::vector<std::string>{"d2", "d3"}));
}

TEST(DialectRegistry, TickResetServingAndOpenApiReachEveryDialect) {
  DialectRegistry registry;
  auto& a = static_cast<FakeDialect&>(registry.add(std::make_unique<FakeDialect>("a")));
  auto& b = static_cast<FakeDialect&>(registry.add(std::make_unique<FakeDialect>("b")));
  registry.tick();
  registry.tick();
  registry.reset();
  registry.serving({1883, 8883, 8080, 8443, 5683, 5684});
  for (auto* d : {&a, &b}) {
    EXPECT_EQ(d->ticks, 2);
    EXPECT_EQ(d->resets, 1);
    EXPECT_EQ(d->mqttPort, 1883);
  }
  const auto parts = registry.openApi();
  EXPECT_EQ(parts.dialects, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(parts.fragments.size(), 2u);
  EXPECT_EQ(std::string(parts.fragments[0].operations.at(0).path), "/fake");
  EXPECT_TRUE(parts.fragments[1].schemas.contains("Fake"));
}

}  // namespace
}  // namespace fc::server::dialects
