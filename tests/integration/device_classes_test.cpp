// The client library's device classes against the real binary: GenericDevice and AliyunDevice do
// their dialect's flows end to end, driven from the northbound REST API.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <future>
#include <thread>

#include "client/dialects/aliyun/aliyun_device.hpp"
#include "client/dialects/generic/generic_device.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;

/// Polls `fetch` until `done` holds (the server acts on MQTT traffic asynchronously).
template <class Fetch, class Done>
json waitFor(Fetch fetch, Done done) {
  json last;
  for (int i = 0; i < 100; ++i) {
    last = fetch();
    if (done(last)) break;
    std::this_thread::sleep_for(20ms);
  }
  return last;
}

TEST(GenericDevice, TelemetryAndCommandsThroughTheHandler) {
  ServerProcess server;
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s"}}}})
                .status,
            201);
  auto created = call(server, "POST", "/api/v1/devices/lamp-1/commands", {{"payload", {{"light", 1}}}, {"name", "set"}});
  ASSERT_EQ(created.status, 201);

  client::GenericDevice wrong(server.mqtt("w"), "lamp-1", "nope");
  auto refused = wrong.connect();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), client::Error::ConnectionRefused);

  client::GenericDevice device(server.mqtt(""), "lamp-1", "s");
  std::promise<client::GenericDevice::Command> seen;
  device.onCommand([&seen](const client::GenericDevice::Command& c) {
    seen.set_value(c);
    return json{{"success", true}, {"light", c.payload["light"]}};
  });
  ASSERT_TRUE(device.connect());
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready) << "the cached command reached the handler";
  auto c = f.get();
  EXPECT_EQ(c.id, created.body["id"]);
  EXPECT_EQ(c.name, "set");
  auto done = waitFor([&] { return call(server, "GET", "/api/v1/commands/" + c.id).body; },
                      [](const json& j) { return j.value("status", "") == "SUCCESSFUL"; });
  EXPECT_EQ(done["status"], "SUCCESSFUL");
  EXPECT_EQ(done["result"]["light"], 1);

  ASSERT_FALSE(device.telemetry({{"temp", 20}}));
  auto items = waitFor([&] { return call(server, "GET", "/api/v1/devices/lamp-1/messages").body["items"]; },
                       [](const json& j) { return !j.empty(); });
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["topic"], "devices/lamp-1/telemetry");
  EXPECT_EQ(items[0]["payload"]["temp"], 20);
}

class AliyunDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", "a1Light"}}}})
                  .status,
              201);
    auto d = call(server_, "POST", "/api/v1/devices", {{"id", "lamp"}, {"productId", "light"}});
    ASSERT_EQ(d.status, 201);
    credentials_ = {"a1Light", "lamp", d.body["secrets"]["deviceSecret"].get<std::string>()};
  }
  ServerProcess server_;
  client::AliyunCredentials credentials_;
};

TEST_F(AliyunDeviceTest, SignsInWithEveryMethodAndIsRefusedWithAWrongSecret) {
  for (auto method : {aliyun::SignMethod::HmacMd5, aliyun::SignMethod::HmacSha1, aliyun::SignMethod::HmacSha256}) {
    auto c = credentials_;
    c.signMethod = method;
    client::AliyunDevice device(server_.mqtt(""), c);
    EXPECT_TRUE(device.connect()) << aliyun::toString(method);
    device.disconnect();
  }
  auto bad = credentials_;
  bad.deviceSecret = "wrong";
  client::AliyunDevice device(server_.mqtt(""), bad);
  auto refused = device.connect();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), client::Error::ConnectionRefused);
}

TEST_F(AliyunDeviceTest, PostsServiceCallsRrpcAndShadow) {
  client::AliyunDevice device(server_.mqtt(""), credentials_);
  device.onService([](const client::AliyunDevice::ServiceCall& call) {
    if (call.service == "property.set") return client::AliyunDevice::ServiceResult{200, json::object()};
    return client::AliyunDevice::ServiceResult{9201, {{"why", call.service}}};
  });
  device.onRrpc([](const std::string&, const std::vector<std::uint8_t>& request) {
    const std::string answer = "echo:" + std::string(request.begin(), request.end());
    return std::vector<std::uint8_t>(answer.begin(), answer.end());
  });
  std::promise<json> control;
  device.onShadowControl([&control](const json& desired, std::int64_t) { control.set_value(desired); });
  ASSERT_TRUE(device.connect());

  auto reply = device.postProperties({{"LightSwitch", 1}});
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ((*reply)["code"], 200);
  auto event = device.postEvent("alarm", {{"level", 3}});
  ASSERT_TRUE(event);
  EXPECT_EQ((*event)["message"], "success");

  auto set = call(server_, "POST", "/api/v1/devices/lamp/commands", {{"payload", {{"LightSwitch", 0}}}, {"expireTime", 60}});
  auto reboot = call(server_, "POST", "/api/v1/devices/lamp/commands", {{"name", "reboot"}, {"payload", json::object()}, {"expireTime", 60}});
  const auto status = [&](const JsonReply& r) {
    return waitFor([&] { return call(server_, "GET", "/api/v1/commands/" + r.body["id"].get<std::string>()).body; },
                   [](const json& j) { return j.value("status", "") == "SUCCESSFUL" || j.value("status", "") == "FAILED"; });
  };
  EXPECT_EQ(status(set)["status"], "SUCCESSFUL");
  auto failed = status(reboot);
  EXPECT_EQ(failed["status"], "FAILED");
  EXPECT_EQ(failed["result"]["data"]["why"], "reboot");

  auto rrpc = call(server_, "POST", "/api/v1/devices/lamp/rrpc", {{"payloadBase64", "cGluZw=="}});  // "ping"
  ASSERT_EQ(rrpc.status, 200) << rrpc.body;
  EXPECT_EQ(rrpc.body["payloadBase64"], "ZWNobzpwaW5n");  // "echo:ping"

  auto updated = device.updateShadow({{"temp", 21}});
  ASSERT_TRUE(updated);
  EXPECT_EQ((*updated)["payload"]["status"], "success");
  ASSERT_EQ(call(server_, "PUT", "/api/v1/devices/lamp/shadow", {{"desired", {{"temp", 18}}}}).status, 200);
  auto f = control.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get()["temp"], 18);
  auto shadow = waitFor([&] { return call(server_, "GET", "/api/v1/devices/lamp/shadow").body; },
                        [](const json& j) { return j["state"]["desired"].empty(); });
  EXPECT_TRUE(shadow["state"]["desired"].empty()) << "the device cleared desired after applying it";
  EXPECT_EQ(shadow["state"]["reported"]["temp"], 21);
  auto got = device.getShadow();
  ASSERT_TRUE(got);
  EXPECT_EQ((*got)["payload"]["state"]["reported"]["temp"], 21);

  // A restarted device starts counting versions from 0: the conflict makes it sync and retry.
  client::AliyunDevice again(server_.mqtt(""), credentials_);
  device.disconnect();
  ASSERT_TRUE(again.connect());
  auto second = again.updateShadow({{"temp", 23}});
  ASSERT_TRUE(second);
  EXPECT_EQ((*second)["payload"]["status"], "success");
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp/shadow").body["state"]["reported"]["temp"], 23);
}

}  // namespace
}  // namespace fc::test
