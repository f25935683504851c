// The journal against its promise (docs/api.md: "every exchange with the device as it was on the
// wire"), one transport at a time, with the exchanges a device team sees when something goes wrong:
// refused logins, denied topics, refused registrations, observation cancels. Each test drives one
// device through all of its exchanges on that transport and checks that every one of them appears
// with its direction, transport, topic (or path) and summary.
//
// Mutations these tests are meant to kill (one-line changes, checked by hand where marked):
//   - MqttGateway::authenticate no longer records refused_ → the refused CONNECT/CONNACK are missing (checked)
//   - clientPacket's denial check dropped or inverted → "denied (dropped)" / "denied: …" missing or on allowed ones
//   - journalExchange dropped from a refusal branch of aliyun_http.cpp (/auth, /topic, /auth/devicename)
//   - Lwm2mServer::refuseRegister returns before journaling (checked) → the 4.12 Register is missing
//   - Lwm2mServer::cancel calls coap_.cancel without the journal callbacks → no "GET … Observe 1" entry
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

#include "client/dialects/oceanconnect/oceanconnect_device.hpp"
#include "client/sync_mqtt_client.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;
using nlohmann::json;

/// One expected entry: direction, transport, topic, and the start of the summary.
struct Expect {
  std::string direction, transport, topic, summary;
};

class Journal : public ::testing::Test {
 protected:
  json entries(const std::string& deviceId) {
    return call(server_, "GET", "/api/v1/devices/" + deviceId + "/journal?limit=1000").body["items"];
  }
  static bool matches(const json& e, const Expect& want) {
    // A topic ending in '/' stands for any below it ("/rd/" for a registration's location).
    const auto topic = e["topic"].get<std::string>();
    const bool topicMatches = want.topic.ends_with('/') ? topic.rfind(want.topic, 0) == 0 : topic == want.topic;
    return e["direction"] == want.direction && e["transport"] == want.transport && topicMatches &&
           e["summary"].get<std::string>().rfind(want.summary, 0) == 0 && !e["rawBase64"].get<std::string>().empty();
  }
  /// Waits until the journal holds `want` in this order (other entries may come between them).
  ::testing::AssertionResult hasInOrder(const std::string& deviceId, const std::vector<Expect>& want) {
    json journal;
    for (int i = 0; i < 150; ++i) {
      journal = entries(deviceId);
      std::size_t next = 0;
      for (const auto& e : journal)
        if (next < want.size() && matches(e, want[next])) ++next;
      if (next == want.size()) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(20ms);
    }
    std::string lines;
    for (const auto& e : journal)
      lines += "\n  " + e["direction"].get<std::string>() + " " + e["transport"].get<std::string>() + " [" +
               e["topic"].get<std::string>() + "] " + e["summary"].get<std::string>();
    return ::testing::AssertionFailure() << "journal of " << deviceId << ":" << lines;
  }

  ServerProcess server_;
};

TEST_F(Journal, MqttRefusedLoginsAndDeniedTopicsAreJournaled) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s3cret"}}}})
                .status,
            201);
  auto options = server_.mqtt("lamp-1-mqtt");
  options.username = "lamp-1";
  options.password = "wrong";
  {
    SyncMqttClient refused(options);
    auto ack = refused.connect();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::BadUsernameOrPassword);
  }
  options.password = "s3cret";
  SyncMqttClient device(options);
  auto ack = device.connect();
  ASSERT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
  ASSERT_TRUE(device.subscribe("devices/lamp-1/commands", QoS::AtLeastOnce));
  // Refused with SUBACK 0x80 (the client library reports that as an error): the journal below shows it.
  (void)device.subscribe("devices/lamp-2/commands", QoS::AtLeastOnce);
  ASSERT_FALSE(device.publish("devices/lamp-2/telemetry", "x", QoS::AtLeastOnce)) << "acknowledged, then dropped";
  ASSERT_FALSE(device.publish("devices/lamp-1/telemetry", "42", QoS::AtLeastOnce));

  EXPECT_TRUE(hasInOrder(
      "lamp-1", {{"in", "mqtt", "", "CONNECT client=lamp-1-mqtt"},
                 {"out", "mqtt", "", "CONNACK rc=4 "},
                 {"in", "mqtt", "", "CONNECT client=lamp-1-mqtt"},
                 {"out", "mqtt", "", "CONNACK rc=0 "},
                 {"in", "mqtt", "devices/lamp-1/commands", "SUBSCRIBE id=1 devices/lamp-1/commands(1)"},
                 {"out", "mqtt", "", "SUBACK id=1 1"},
                 {"in", "mqtt", "devices/lamp-2/commands",
                  "SUBSCRIBE id=2 devices/lamp-2/commands(1) denied: devices/lamp-2/commands"},
                 {"out", "mqtt", "", "SUBACK id=2 128"},
                 {"in", "mqtt", "devices/lamp-2/telemetry",
                  "PUBLISH qos=1 id=3 devices/lamp-2/telemetry (1 bytes) denied (dropped)"},
                 {"out", "mqtt", "", "PUBACK id=3"},
                 {"in", "mqtt", "devices/lamp-1/telemetry", "PUBLISH qos=1 id=4 devices/lamp-1/telemetry (2 bytes)"},
                 {"out", "mqtt", "", "PUBACK id=4"}}));
  for (const auto& e : entries("lamp-1")) {
    if (e["summary"].get<std::string>().find("devices/lamp-1/telemetry") != std::string::npos) {
      EXPECT_EQ(e["summary"].get<std::string>().find("denied"), std::string::npos)
          << "an allowed PUBLISH is not denied";
    }
  }
}

constexpr const char* kPk = "a1MZxOdcBnO";
constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";

TEST_F(Journal, AliyunHttpChannelIsJournaled) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products",
                 {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}})
                .status,
            201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "lamp"},
                  {"productId", "light"},
                  {"identifiers", {{"deviceName", "test_01"}}},
                  {"secrets", {{"deviceSecret", kSecret}}}})
                .status,
            201);
  const std::string clientId = std::string(kPk) + ".test_01";
  json auth = {{"version", "default"}, {"clientId", clientId}, {"signmethod", "hmacsha1"},
               {"sign", "00"},         {"productKey", kPk},    {"deviceName", "test_01"}};
  EXPECT_EQ(call(server_, "POST", "/auth", auth).body["code"], 20000);
  auth["sign"] = aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, "");
  auto signedIn = call(server_, "POST", "/auth", auth);
  ASSERT_EQ(signedIn.body["code"], 0) << signedIn.body;
  const auto token = signedIn.body["info"]["token"].get<std::string>();
  const std::string own = std::string("/topic/") + kPk + "/test_01/user/update";
  const std::string other = std::string("/topic/") + kPk + "/test_02/user/update";
  EXPECT_EQ(json::parse(httpRequest(server_.httpPort(), "POST", own, "{}", {"password:" + token}).body)["code"], 0);
  EXPECT_EQ(json::parse(httpRequest(server_.httpPort(), "POST", other, "{}", {"password:" + token}).body)["code"],
            30001);
  const auto sign = aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, "");
  auto preStep = httpRequest(server_.httpPort(), "POST", "/auth/devicename",
                             std::string("productKey=") + kPk + "&deviceName=test_01&signmethod=hmacsha1&sign=" + sign,
                             {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(json::parse(preStep.body)["code"], 200) << preStep.body;
  // A day and a bit later the token has expired; the device's journal still shows what it was told.
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 200000}}).status, 200);
  EXPECT_EQ(json::parse(httpRequest(server_.httpPort(), "POST", own, "{}", {"password:" + token}).body)["code"], 20001);

  const std::string ownTopic = own.substr(6), otherTopic = other.substr(6);
  EXPECT_TRUE(hasInOrder("lamp", {{"in", "http", "/auth", "POST /auth ("},
                                  {"out", "http", "/auth", "200 code=20000 auth check error"},
                                  {"in", "http", "/auth", "POST /auth ("},
                                  {"out", "http", "/auth", "200 code=0 success"},
                                  {"in", "http", ownTopic, "POST " + own + " (2 bytes)"},
                                  {"out", "http", ownTopic, "200 code=0 success"},
                                  {"in", "http", otherTopic, "POST " + other + " (2 bytes)"},
                                  {"out", "http", otherTopic, "200 code=30001 no permission"},
                                  {"in", "http", "/auth/devicename", "POST /auth/devicename ("},
                                  {"out", "http", "/auth/devicename", "200 code=200 success"},
                                  {"in", "http", ownTopic, "POST " + own + " (2 bytes)"},
                                  {"out", "http", ownTopic, "200 code=20001 token is expired"}}));
  // The bytes are the HTTP exchange: request line, headers, body.
  const auto journal = entries("lamp");
  const auto raw = base64Decode(journal[0]["rawBase64"].get<std::string>()).value_or(std::vector<std::uint8_t>{});
  const std::string text(raw.begin(), raw.end());
  EXPECT_EQ(text.rfind("POST /auth HTTP/1.1\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("\r\n\r\n{"), std::string::npos) << text;
}

TEST_F(Journal, Lwm2mRefusedRegistrationsAndObservationCancelsAreJournaled) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "led"}, {"dialect", "oceanconnect"}}).status, 201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "lamp-1"}, {"productId", "led"}, {"identifiers", {{"nodeId", "node-1"}}}})
                .status,
            201);
  RawUdp raw(server_.coapPort());
  auto registerWith = [&](std::uint16_t id, const std::string& query) {
    coap::Message reg{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = id, .token = {1}};
    reg.setUriPath("rd");
    reg.addString(coap::option::kUriQuery, "ep=node-1");
    reg.addString(coap::option::kUriQuery, query);
    reg.setUint(coap::option::kContentFormat, coap::format::kLinkFormat);
    reg.setPayload("</3/0>");
    return raw.exchange(reg).code;
  };
  EXPECT_EQ(registerWith(0x100, "lwm2m=1.2"), coap::code::kPreconditionFailed);
  EXPECT_EQ(registerWith(0x101, "lt=abc"), coap::code::kBadRequest);

  client::OceanConnectDevice device({.coap = server_.coap(), .endpoint = "node-1", .objects = "</3/0>"});
  device.setResource("3/0/0", "Huawei");
  auto reg = device.registerDevice();
  ASSERT_TRUE(reg && reg->code == coap::code::kCreated);
  auto observed = call(server_, "POST", "/api/v1/devices/lamp-1/lwm2m/3/0/0/observe");
  ASSERT_EQ(observed.status, 200) << observed.body;
  ASSERT_TRUE(device.waitResourceObserved("3/0/0", true));
  ASSERT_EQ(call(server_, "DELETE", "/api/v1/devices/lamp-1/lwm2m/3/0/0/observe").status, 200);
  EXPECT_TRUE(device.waitResourceObserved("3/0/0", false)) << "the GET with Observe 1 reached the device";
  ASSERT_TRUE(device.deregister());

  EXPECT_TRUE(hasInOrder("lamp-1", {{"in", "coap", "/rd", "CON 0.02 POST /rd?ep=node-1&lwm2m=1.2"},
                                    {"out", "coap", "/rd", "ACK 4.12 Precondition Failed"},
                                    {"in", "coap", "/rd", "CON 0.02 POST /rd?ep=node-1&lt=abc"},
                                    {"out", "coap", "/rd", "ACK 4.00 Bad Request"},
                                    {"in", "coap", "/rd", "CON 0.02 POST /rd?lwm2m=1.0&ep=node-1"},
                                    {"out", "coap", "/rd", "ACK 2.01 Created"},
                                    {"out", "coap", "/3/0/0", "CON 0.01 GET /3/0/0 Observe 0"},
                                    {"in", "coap", "/3/0/0", "ACK 2.05 Content"},
                                    {"out", "coap", "/3/0/0", "CON 0.01 GET /3/0/0 Observe 1"},
                                    {"in", "coap", "/3/0/0", "ACK 2.05 Content"},
                                    {"in", "coap", "/rd/", "CON 0.04 DELETE /rd/"},
                                    {"out", "coap", "/rd/", "ACK 2.02 Deleted"}}));
}

}  // namespace
}  // namespace fc::test
