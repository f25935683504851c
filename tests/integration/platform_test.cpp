// The platform through its REST API and the generic dialect, end to end: the real binary, the
// client library as the device, plain HTTP as the northbound application.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <thread>

#include "client/sync_mqtt_client.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/mqtt/codec.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/websocket_client.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
using client::SyncMqttClient;
using mqtt::QoS;

class Platform : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
    auto d = call(server_, "POST", "/api/v1/devices",
                  {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s3cret"}}}});
    ASSERT_EQ(d.status, 201) << d.body;
  }

  client::MqttOptions device(const std::string& id = "lamp-1", const std::string& secret = "s3cret") {
    auto o = server_.mqtt(id + "-mqtt");
    o.username = id;
    o.password = secret;
    return o;
  }

  /// The device, connected and subscribed to its commands.
  std::unique_ptr<SyncMqttClient> onlineDevice(bool autoAck = true) {
    auto o = device();
    o.autoAck = autoAck;
    auto c = std::make_unique<SyncMqttClient>(o);
    auto ack = c->connect();
    EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
    EXPECT_TRUE(c->subscribe("devices/lamp-1/commands", QoS::AtLeastOnce));
    return c;
  }

  JsonReply send(const json& body) { return call(server_, "POST", "/api/v1/devices/lamp-1/commands", body); }
  std::string status(const std::string& commandId) {
    return call(server_, "GET", "/api/v1/commands/" + commandId).body.value("status", "?");
  }
  /// Polls until the command reaches `want` (transitions driven by MQTT traffic are asynchronous).
  bool waitStatus(const std::string& commandId, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      if (status(commandId) == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  void advanceClock(double seconds) {
    ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", seconds}}).status, 200);
  }

  ServerProcess server_;
};

TEST_F(Platform, ProductAndDeviceCrudAndErrors) {
  auto list = call(server_, "GET", "/api/v1/devices?productId=lamp");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body["total"], 1);
  EXPECT_EQ(list.body["items"][0]["id"], "lamp-1");
  EXPECT_EQ(list.body["items"][0]["online"], false);

  auto generated = call(server_, "POST", "/api/v1/devices", {{"productId", "lamp"}});
  ASSERT_EQ(generated.status, 201);
  EXPECT_FALSE(generated.body["id"].get<std::string>().empty());
  EXPECT_FALSE(generated.body["secrets"]["secret"].get<std::string>().empty()) << "a generic device gets a secret";

  EXPECT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "lamp-1"}, {"productId", "lamp"}}).status, 409);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "x"}, {"productId", "nope"}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "bad id!"}, {"productId", "lamp"}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/products", {{"dialect", "klingon"}}).status, 422);
  auto missing = call(server_, "GET", "/api/v1/devices/ghost");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body["error"]["code"], "not_found");
  auto badJson = httpRequest(server_.httpPort(), "POST", "/api/v1/products", "{\"id\": ");
  EXPECT_EQ(badJson.status, 400);
  EXPECT_EQ(json::parse(badJson.body)["error"]["code"], "bad_json");

  auto patched = call(server_, "PATCH", "/api/v1/devices/lamp-1", {{"name", "Kitchen lamp"}});
  ASSERT_EQ(patched.status, 200);
  EXPECT_EQ(patched.body["name"], "Kitchen lamp");
  EXPECT_EQ(call(server_, "PATCH", "/api/v1/devices/lamp-1", {{"online", true}}).status, 422);

  EXPECT_EQ(call(server_, "DELETE", "/api/v1/products/lamp").status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp-1").status, 404) << "a product's devices go with it";
}

TEST_F(Platform, CachedCommandReachesTheDeviceAndEndsSuccessful) {
  auto created = send({{"payload", {{"light", 1}}}, {"expireTime", 3600}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body["status"], "PENDING");
  const auto id = created.body["id"].get<std::string>();

  auto dev = onlineDevice();
  auto m = dev->receive();
  ASSERT_TRUE(m) << "the cached command is sent once the device subscribes";
  EXPECT_EQ(m->topic, "devices/lamp-1/commands");
  auto cmd = json::parse(m->payload.begin(), m->payload.end());
  EXPECT_EQ(cmd["id"], id);
  EXPECT_EQ(cmd["payload"], json({{"light", 1}}));
  EXPECT_TRUE(waitStatus(id, "DELIVERED")) << "the PUBACK makes it DELIVERED";
  EXPECT_TRUE(call(server_, "GET", "/api/v1/devices/lamp-1").body["online"].get<bool>());

  ASSERT_FALSE(dev->publish("devices/lamp-1/commands/" + id + "/result", R"({"success":true,"light":1})",
                            QoS::AtLeastOnce));
  ASSERT_TRUE(waitStatus(id, "SUCCESSFUL"));
  auto done = call(server_, "GET", "/api/v1/commands/" + id).body;
  EXPECT_EQ(done["result"]["light"], 1);
  EXPECT_EQ(done["sends"], 1);
}

TEST_F(Platform, FailedResultMakesTheCommandFailed) {
  auto dev = onlineDevice();
  auto created = send({{"payload", "reboot"}, {"expireTime", 0}});
  ASSERT_EQ(created.status, 201);
  const auto id = created.body["id"].get<std::string>();
  ASSERT_TRUE(dev->receive());
  ASSERT_FALSE(dev->publish("devices/lamp-1/commands/" + id + "/result", R"({"success":false,"error":"busy"})",
                            QoS::AtLeastOnce));
  EXPECT_TRUE(waitStatus(id, "FAILED"));
}

TEST_F(Platform, ImmediateCommandToAnOfflineDeviceFails) {
  auto created = send({{"payload", {{"light", 0}}}, {"expireTime", 0}});
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(created.body["status"], "FAILED");
  EXPECT_EQ(created.body["reason"], "device offline");
}

TEST_F(Platform, CachedCommandExpiresOnThePlatformClock) {
  auto created = send({{"payload", {{"light", 1}}}});  // default expireTime: 48 h
  const auto id = created.body["id"].get<std::string>();
  EXPECT_EQ(created.body["expireTime"], 172800);
  advanceClock(47 * 3600);
  EXPECT_EQ(status(id), "PENDING");
  advanceClock(3600);
  EXPECT_EQ(status(id), "EXPIRED") << "the clock change is handled before the API answers";
  auto dev = onlineDevice();
  EXPECT_FALSE(dev->receive(300ms)) << "an expired command is not sent";
  auto expired = call(server_, "GET", "/api/v1/devices/lamp-1/commands?status=EXPIRED");
  EXPECT_EQ(expired.body["total"], 1);
}

TEST_F(Platform, UnacknowledgedCommandIsResentThenTimesOut) {
  auto dev = onlineDevice(/*autoAck=*/false);
  auto created = send({{"payload", {{"x", 1}}}, {"maxRetransmit", 2}, {"ackTimeoutMs", 5000}});
  const auto id = created.body["id"].get<std::string>();
  ASSERT_TRUE(dev->receive());
  advanceClock(5);
  ASSERT_TRUE(dev->receive()) << "first resend";
  advanceClock(5);
  ASSERT_TRUE(dev->receive()) << "second resend";
  advanceClock(5);
  EXPECT_TRUE(waitStatus(id, "TIMEOUT"));
  EXPECT_EQ(call(server_, "GET", "/api/v1/commands/" + id).body["sends"], 3);
}

TEST_F(Platform, OnlyPendingCommandsCanBeCancelled) {
  auto pending = send({{"payload", 1}});
  const auto id = pending.body["id"].get<std::string>();
  auto cancelled = call(server_, "DELETE", "/api/v1/commands/" + id);
  ASSERT_EQ(cancelled.status, 200);
  EXPECT_EQ(cancelled.body["status"], "CANCELED");
  auto again = call(server_, "DELETE", "/api/v1/commands/" + id);
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.body["error"]["code"], "conflict");
  EXPECT_EQ(call(server_, "DELETE", "/api/v1/commands/nope").status, 404);
}

TEST_F(Platform, CommandValidation) {
  EXPECT_EQ(send({{"expireTime", 10}}).status, 422) << "no payload";
  EXPECT_EQ(send({{"payload", 1}, {"expireTime", -1}}).status, 422);
  EXPECT_EQ(send({{"payload", 1}, {"expireTime", "soon"}}).status, 422);
  EXPECT_EQ(send({{"payloadBase64", "not base64!"}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/ghost/commands", {{"payload", 1}}).status, 404);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp-1/commands?status=LOST").status, 400);
  auto binary = send({{"payloadBase64", "AAEC/w=="}});
  ASSERT_EQ(binary.status, 201);
  EXPECT_EQ(binary.body["binary"], true);
  EXPECT_EQ(binary.body["payload"], "AAEC/w==");
}

TEST_F(Platform, WrongSecretAndForeignTopicsAreRefused) {
  SyncMqttClient wrong(device("lamp-1", "guess"));
  auto ack = wrong.connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::BadUsernameOrPassword);

  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "lamp-2"}, {"productId", "lamp"}, {"secrets", {{"secret", "two"}}}})
                .status,
            201);
  auto dev = onlineDevice();
  auto codes = dev->subscribe({{"devices/lamp-2/commands", QoS::AtLeastOnce}, {"#", QoS::AtMostOnce}});
  ASSERT_TRUE(codes);
  EXPECT_EQ(*codes, (std::vector<std::uint8_t>{0x80, 0x80}));

  SyncMqttClient other(device("lamp-2", "two"));
  ASSERT_TRUE(other.connect());
  ASSERT_TRUE(other.subscribe("devices/lamp-2/#", QoS::AtLeastOnce));
  ASSERT_FALSE(dev->publish("devices/lamp-2/telemetry", "spoofed", QoS::AtLeastOnce));
  EXPECT_FALSE(other.receive(300ms)) << "a device never reaches another device's topics";
}

TEST_F(Platform, TelemetryIsKeptAsUplinkHistory) {
  auto dev = onlineDevice();
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", R"({"temp":21.5})", QoS::AtLeastOnce));
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "raw text", QoS::AtLeastOnce));
  auto history = call(server_, "GET", "/api/v1/devices/lamp-1/messages");
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.body["items"].size(), 2u);
  EXPECT_EQ(history.body["items"][0]["payload"]["temp"], 21.5);
  EXPECT_EQ(history.body["items"][1]["payload"], nullptr);
  EXPECT_EQ(history.body["items"][1]["payloadBase64"], "cmF3IHRleHQ=");
}

TEST_F(Platform, PlainMqttClientsStillUseTheBroker) {
  SyncMqttClient plain(server_.mqtt("just-a-client"));
  ASSERT_TRUE(plain.connect());
  ASSERT_TRUE(plain.subscribe("devices/lamp-1/telemetry", QoS::AtLeastOnce));
  auto dev = onlineDevice();
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "42", QoS::AtLeastOnce));
  auto m = plain.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "42");
}

// The gateway keeps the device a login resolved for the whole connection; deleting the device
// must still stop it at once (mutation meant to be killed: not forgetting the cached device).
TEST_F(Platform, ADeviceDeletedWhileConnectedMayPublishNothingMore) {
  SyncMqttClient plain(server_.mqtt("deletion-watcher"));
  ASSERT_TRUE(plain.connect());
  ASSERT_TRUE(plain.subscribe("devices/lamp-1/#", QoS::AtMostOnce));
  auto dev = onlineDevice();
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "before", QoS::AtLeastOnce));
  auto before = plain.receive();
  ASSERT_TRUE(before);
  EXPECT_EQ(text(before->payload), "before");
  ASSERT_EQ(call(server_, "DELETE", "/api/v1/devices/lamp-1").status, 200);
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "after", QoS::AtLeastOnce));  // acknowledged, dropped
  EXPECT_FALSE(plain.receive(300ms)) << "a deleted device's PUBLISH was routed";
}

TEST_F(Platform, ResetForgetsEverything) {
  send({{"payload", 1}});
  auto reset = call(server_, "POST", "/api/v1/admin/reset");
  ASSERT_EQ(reset.status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices").body["total"], 0);
  EXPECT_EQ(call(server_, "GET", "/api/v1/products").body["total"], 0);
}

TEST_F(Platform, JournalKeepsEveryExchangeWithTheDevice) {
  auto dev = onlineDevice();
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "42", QoS::AtLeastOnce));
  auto journal = call(server_, "GET", "/api/v1/devices/lamp-1/journal");
  ASSERT_EQ(journal.status, 200);
  std::vector<std::string> summaries;
  for (const auto& e : journal.body["items"]) summaries.push_back(e["direction"].get<std::string>() + " " + e["summary"].get<std::string>());
  ASSERT_GE(summaries.size(), 6u);
  EXPECT_EQ(summaries[0].rfind("in CONNECT client=lamp-1-mqtt level=4", 0), 0u) << summaries[0];
  EXPECT_EQ(summaries[1], "out CONNACK rc=0 sessionPresent=0");
  EXPECT_EQ(summaries[2], "in SUBSCRIBE id=1 devices/lamp-1/commands(1)");
  EXPECT_EQ(summaries[3], "out SUBACK id=1 1");
  EXPECT_EQ(summaries[4], "in PUBLISH qos=1 id=2 devices/lamp-1/telemetry (2 bytes)");
  EXPECT_EQ(summaries[5], "out PUBACK id=2");
  // Raw bytes as on the wire: the PUBLISH as the device sent it, and PUBACK for packet id 2.
  EXPECT_EQ(journal.body["items"][4]["rawBase64"],
            base64Encode(mqtt::encode(mqtt::Publish{"devices/lamp-1/telemetry", bytes("42"), QoS::AtLeastOnce, false,
                                                    false, 2}).value()));
  EXPECT_EQ(journal.body["items"][5]["rawBase64"], "QAIAAg==");
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp-1/journal?limit=1").body["items"].size(), 1u);
}

TEST_F(Platform, FixturesLoadProductsAndDevicesIdempotently) {
  json fixtures = {{"products", {{{"id", "sensor"}, {"dialect", "generic"}}}},
                   {"devices", {{{"id", "s-1"}, {"productId", "sensor"}, {"secrets", {{"secret", "x"}}}},
                                {{"id", "s-2"}, {"productId", "sensor"}}}}};
  auto first = call(server_, "POST", "/api/v1/admin/fixtures", fixtures);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.body["products"], 1);
  EXPECT_EQ(first.body["devices"], 2);
  auto second = call(server_, "POST", "/api/v1/admin/fixtures", fixtures);
  EXPECT_EQ(second.body["existing"], 3);
  auto bad = call(server_, "POST", "/api/v1/admin/fixtures", {{"devices", {{{"id", "orphan"}, {"productId", "none"}}}}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(bad.body["errors"][0].get<std::string>().find("devices[0]"), std::string::npos) << bad.body;
  SyncMqttClient s1(device("s-1", "x"));
  auto ack = s1.connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
}

TEST_F(Platform, PublishThroughTheApiAndStats) {
  SyncMqttClient watcher(server_.mqtt("watcher"));
  ASSERT_TRUE(watcher.connect());
  ASSERT_TRUE(watcher.subscribe("news/#", QoS::AtLeastOnce));
  auto published = call(server_, "POST", "/api/v1/mqtt/publish",
                        {{"topic", "news/today"}, {"payload", {{"headline", "hello"}}}, {"qos", 1}});
  ASSERT_EQ(published.status, 202) << published.body;
  auto m = watcher.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->payload.begin(), m->payload.end())["headline"], "hello");
  EXPECT_EQ(call(server_, "POST", "/api/v1/mqtt/publish", {{"topic", "news/#"}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/mqtt/publish", {{"topic", "x"}, {"qos", 3}}).status, 422);

  auto stats = call(server_, "GET", "/api/v1/admin/stats");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(stats.body["platform"]["devices"], 1);
  EXPECT_EQ(stats.body["mqtt"]["connections"], 1);
  EXPECT_GE(stats.body["mqtt"]["messagesSent"], 1);
}

// Issue 13 §3: a topic the MQTT wire cannot carry (its length has 16 bits) is refused with the
// limit, and no subscriber gets a corrupt PUBLISH; the longest topic there is still goes through.
TEST_F(Platform, PublishRefusesATopicLongerThanMqttCanCarry) {
  SyncMqttClient watcher(server_.mqtt("long-topic-watcher"));
  ASSERT_TRUE(watcher.connect());
  ASSERT_TRUE(watcher.subscribe("#", QoS::AtMostOnce));
  auto refused =
      call(server_, "POST", "/api/v1/mqtt/publish", {{"topic", std::string(70'000, 'a')}, {"payloadText", "x"}});
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.body["error"]["code"], "too_long");
  EXPECT_EQ(refused.body["error"]["field"], "topic");
  EXPECT_EQ(refused.body["error"]["limit"], 65535);
  EXPECT_EQ(refused.body["error"]["length"], 70000);
  EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("65535"), std::string::npos);

  const std::string longest(65'535, 'b');
  auto published = call(server_, "POST", "/api/v1/mqtt/publish", {{"topic", longest}, {"payloadText", "fits"}});
  ASSERT_EQ(published.status, 202) << published.body;
  auto m = watcher.receive();
  ASSERT_TRUE(m) << "the subscriber's connection must survive (no corrupt packet)";
  EXPECT_EQ(m->topic, longest);
  EXPECT_EQ(std::string(m->payload.begin(), m->payload.end()), "fits");
}

TEST_F(Platform, EventStreamOverWebSocketFollowsOneDevice) {
  WebSocketClient events(server_.httpPort(), "/api/v1/events?deviceId=lamp-1&type=device.online,command");
  auto created = send({{"payload", 1}});
  const auto id = created.body["id"].get<std::string>();
  auto first = events.next(3s);
  ASSERT_TRUE(first) << "no event for the new command";
  auto e = json::parse(*first);
  EXPECT_EQ(e["type"], "command.status");
  EXPECT_EQ(e["deviceId"], "lamp-1");
  EXPECT_EQ(e["data"]["id"], id);
  EXPECT_EQ(e["data"]["status"], "PENDING");

  auto dev = onlineDevice();
  std::vector<std::string> seen;
  for (auto frame = events.next(2s); frame; frame = events.next(500ms)) {
    auto j = json::parse(*frame);
    seen.push_back(j["type"].get<std::string>() + (j["data"].contains("status") ? ":" + j["data"]["status"].get<std::string>() : ""));
  }
  const std::vector<std::string> want{"device.online", "command.status:SENT", "command.status:DELIVERED"};
  EXPECT_EQ(seen, want);

  // Another device's events and unselected types do not come through.
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "1", QoS::AtLeastOnce));
  EXPECT_FALSE(events.next(300ms)) << "uplink is not among the selected types";
}

TEST_F(Platform, JournalEntriesAreStreamedAsEvents) {
  WebSocketClient events(server_.httpPort(), "/api/v1/events?type=journal");
  auto dev = onlineDevice();
  auto frame = events.next(3s);
  ASSERT_TRUE(frame);
  auto e = json::parse(*frame);
  EXPECT_EQ(e["type"], "journal");
  EXPECT_EQ(e["deviceId"], "lamp-1");
  EXPECT_EQ(e["data"]["direction"], "in");
  EXPECT_EQ(e["data"]["summary"].get<std::string>().rfind("CONNECT", 0), 0u);
}

TEST_F(Platform, EventStreamRefusesUnknownDevicesAndPlainGets) {
  EXPECT_THROW(WebSocketClient(server_.httpPort(), "/api/v1/events?deviceId=ghost"), std::runtime_error);
  auto plain = httpRequest(server_.httpPort(), "GET", "/api/v1/events");
  EXPECT_EQ(plain.status, 426);
}

TEST(PlatformLimits, OpenCommandsPerDeviceAreBoundedWith429) {
  ServerProcess server({.args = {"--max-pending-commands", "2"}});
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "p"}}).status, 201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "d"}, {"productId", "p"}}).status, 201);
  EXPECT_EQ(call(server, "POST", "/api/v1/devices/d/commands", {{"payload", 1}}).status, 201);
  EXPECT_EQ(call(server, "POST", "/api/v1/devices/d/commands", {{"payload", 2}}).status, 201);
  auto third = call(server, "POST", "/api/v1/devices/d/commands", {{"payload", 3}});
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(third.body["error"]["code"], "too_many_commands");
}

TEST(PlatformFixtures, FixturesFileIsLoadedAtStart) {
  TempDir dir;
  const auto file = dir.path() + "/fixtures.json";
  std::ofstream(file) << R"({"products":[{"id":"p","dialect":"generic"}],
                             "devices":[{"id":"d","productId":"p","secrets":{"secret":"s"}}]})";
  ServerProcess server({.args = {"--fixtures", file}});
  EXPECT_EQ(call(server, "GET", "/api/v1/devices/d").status, 200);

  std::ofstream(file) << R"({"devices":[{"id":"d","productId":"missing"}]})";
  EXPECT_THROW(ServerProcess({.args = {"--fixtures", file}}), std::runtime_error) << "bad fixtures stop the start";
}

TEST(PlatformPersistence, CommandsSurviveSigkillAndExpireOnTheClockAfterRestart) {
  TempDir dir;
  ServerProcess server({.fileDb = true}, dir.path());
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "p"}}).status, 201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "d"}, {"productId", "p"}}).status, 201);
  auto created = call(server, "POST", "/api/v1/devices/d/commands", {{"payload", 1}, {"expireTime", 60}});
  ASSERT_EQ(created.status, 201);
  const auto id = created.body["id"].get<std::string>();
  server.kill();  // a 201 means committed
  server.start();
  auto after = call(server, "GET", "/api/v1/commands/" + id);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.body["status"], "PENDING");
  EXPECT_EQ(call(server, "GET", "/api/v1/devices/d").body["online"], false);
  ASSERT_EQ(call(server, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 61}}).status, 200);
  EXPECT_EQ(call(server, "GET", "/api/v1/commands/" + id).body["status"], "EXPIRED");
}

}  // namespace
}  // namespace fc::test
