// The aliyun dialect end to end: the real binary, the client library signing in as an
// iotkit-embedded device would, plain HTTP for the northbound API and the HTTP device channel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <future>
#include <thread>

#include "client/dialects/aliyun/aliyun_device.hpp"
#include "client/sync_mqtt_client.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
using client::SyncMqttClient;
using mqtt::QoS;

constexpr const char* kPk = "a1MZxOdcBnO";
constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";
constexpr const char* kTs = "2524608000000";

json payloadJson(const client::Message& m) { return json::parse(m.payload.begin(), m.payload.end(), nullptr, false); }
std::string payloadText(const client::Message& m) { return {m.payload.begin(), m.payload.end()}; }

class Aliyun : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = call(server_, "POST", "/api/v1/products", {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}});
    ASSERT_EQ(p.status, 201) << p.body;
    for (const char* dn : {"test_01", "test_02"}) {
      auto d = call(server_, "POST", "/api/v1/devices",
                    {{"id", std::string("lamp-") + dn}, {"productId", "light"}, {"identifiers", {{"deviceName", dn}}},
                     {"secrets", {{"deviceSecret", kSecret}}}});
      ASSERT_EQ(d.status, 201) << d.body;
    }
  }

  /// MQTT options of an iotkit-embedded v2 device signing in directly (securemode 3).
  client::MqttOptions device(const std::string& dn, const std::string& method = "hmacsha1", bool cleanSession = true,
                             const std::string& secret = kSecret, const std::string& securemode = "3") {
    auto o = server_.mqtt("", cleanSession);
    const std::string id = std::string(kPk) + "." + dn;
    o.clientId = id + "|securemode=" + securemode + ",timestamp=" + kTs + ",signmethod=" + method + ",gw=0,ext=0|";
    o.username = dn + "&" + kPk;
    o.password = aliyun::sign(*aliyun::parseSignMethod(method), secret, id, dn, kPk, kTs);
    return o;
  }

  std::unique_ptr<SyncMqttClient> online(const std::string& dn, bool cleanSession = true) {
    auto c = std::make_unique<SyncMqttClient>(device(dn, "hmacsha1", cleanSession));
    auto ack = c->connect();
    EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
    return c;
  }

  std::string sys(const std::string& dn = "test_01") { return std::string("/sys/") + kPk + "/" + dn + "/"; }

  std::string status(const std::string& commandId) {
    return call(server_, "GET", "/api/v1/commands/" + commandId).body.value("status", "?");
  }
  bool waitStatus(const std::string& commandId, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      if (status(commandId) == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  json waitMessages(const std::string& deviceId, std::size_t count) {
    json items;
    for (int i = 0; i < 100; ++i) {
      items = call(server_, "GET", "/api/v1/devices/" + deviceId + "/messages").body["items"];
      if (items.size() >= count) break;
      std::this_thread::sleep_for(20ms);
    }
    return items;
  }

  ServerProcess server_;
};

TEST_F(Aliyun, ProductAndDeviceGetKeysAndSecrets) {
  auto p = call(server_, "POST", "/api/v1/products", {{"id", "auto"}, {"dialect", "aliyun"}});
  ASSERT_EQ(p.status, 201);
  EXPECT_EQ(p.body["keys"]["productKey"].get<std::string>().size(), 11u) << "generated like Alibaba's";
  auto d = call(server_, "POST", "/api/v1/devices", {{"id", "gadget"}, {"productId", "auto"}});
  ASSERT_EQ(d.status, 201);
  EXPECT_EQ(d.body["identifiers"]["deviceName"], "gadget") << "the device name defaults to the id";
  EXPECT_EQ(d.body["secrets"]["deviceSecret"].get<std::string>().size(), 32u);

  EXPECT_EQ(call(server_, "POST", "/api/v1/products", {{"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}}).status,
            409)
      << "a productKey names one product";
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "dup"}, {"productId", "light"}, {"identifiers", {{"deviceName", "test_01"}}}})
                .status,
            409)
      << "a deviceName names one device of its product";
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"productId", "light"}, {"identifiers", {{"deviceName", "a/b"}}}})
                .status,
            422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices", {{"productId", "light"}}).status, 422)
      << "no deviceName and no id to take it from";
}

TEST_F(Aliyun, TripletSignInAndRefusals) {
  for (const char* method : {"hmacmd5", "hmacsha1", "hmacsha256"}) {
    SyncMqttClient c(device("test_01", method));
    auto ack = c.connect();
    ASSERT_TRUE(ack) << method;
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted) << method;
    c.disconnect();
  }
  {
    SyncMqttClient wrong(device("test_01", "hmacsha1", true, "not-the-secret"));
    auto ack = wrong.connect();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::BadUsernameOrPassword);
  }
  {
    SyncMqttClient id2(device("test_01", "hmacsha1", true, kSecret, "1"));
    auto ack = id2.connect();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::NotAuthorized);
  }
  {
    SyncMqttClient unknown(device("test_99"));
    auto ack = unknown.connect();
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::BadUsernameOrPassword);
  }
  EXPECT_NE(server_.log().find("wrong signature"), std::string::npos) << server_.log();
  EXPECT_NE(server_.log().find("ID2"), std::string::npos);
  EXPECT_NE(server_.log().find("no device 'test_99'"), std::string::npos);
}

TEST_F(Aliyun, ADeviceNeverReachesAnotherDevicesTopics) {
  auto d1 = online("test_01");
  auto d2 = online("test_02");
  ASSERT_TRUE(d2->subscribe(sys("test_02") + "thing/service/property/set", QoS::AtLeastOnce));
  ASSERT_TRUE(d2->subscribe(std::string("/") + kPk + "/test_02/get", QoS::AtLeastOnce));

  EXPECT_FALSE(d1->subscribe(sys("test_02") + "thing/#", QoS::AtLeastOnce)) << "SUBACK 0x80";
  EXPECT_FALSE(d1->subscribe(std::string("/sys/") + kPk + "/+/thing/#", QoS::AtLeastOnce));
  EXPECT_FALSE(d1->subscribe("#", QoS::AtLeastOnce));
  EXPECT_TRUE(d1->subscribe(sys() + "thing/#", QoS::AtLeastOnce));

  // Publishes to the sibling's topics are acknowledged (MQTT 3.1.1 has no refusal) but dropped.
  EXPECT_FALSE(d1->publish(sys("test_02") + "thing/service/property/set", R"({"id":"1"})", QoS::AtLeastOnce));
  EXPECT_FALSE(d1->publish(std::string("/") + kPk + "/test_02/get", "hi", QoS::AtLeastOnce));
  EXPECT_FALSE(d2->receive(300ms)) << "nothing reached the other device";
  EXPECT_TRUE(call(server_, "GET", "/api/v1/devices/lamp-test_01/messages").body["items"].empty());
}

TEST_F(Aliyun, PropertyPostIsRepliedAndKept) {
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(sys() + "thing/event/property/post_reply", QoS::AtMostOnce));
  const std::string post =
      R"({"id":"2","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"})";
  ASSERT_FALSE(d->publish(sys() + "thing/event/property/post", post, QoS::AtLeastOnce));
  auto reply = d->receive();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->topic, sys() + "thing/event/property/post_reply");
  EXPECT_EQ(payloadText(*reply), R"({"code":200,"data":{},"id":"2","message":"success"})");

  auto items = waitMessages("lamp-test_01", 1);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["topic"], sys() + "thing/event/property/post");
  EXPECT_EQ(items[0]["payload"]["params"]["LightSwitch"], 1);
  EXPECT_EQ(items[0]["transport"], "mqtt");
}

TEST_F(Aliyun, CommandIsAPropertySetAndItsReplyMakesItSuccessful) {
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(sys() + "thing/service/property/set", QoS::AtLeastOnce));
  auto created = call(server_, "POST", "/api/v1/devices/lamp-test_01/commands",
                      {{"payload", {{"LightSwitch", 0}}}, {"expireTime", 3600}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = created.body["id"].get<std::string>();

  auto m = d->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, sys() + "thing/service/property/set");
  auto request = payloadJson(*m);
  EXPECT_EQ(request["method"], "thing.service.property.set");
  EXPECT_EQ(request["version"], "1.0.0");
  EXPECT_EQ(request["params"], json({{"LightSwitch", 0}}));
  ASSERT_TRUE(request["id"].is_string());
  EXPECT_TRUE(waitStatus(id, "DELIVERED")) << "the PUBACK";

  const json answer = {{"id", request["id"]}, {"code", 200}, {"data", json::object()}};
  ASSERT_FALSE(d->publish(sys() + "thing/service/property/set_reply", answer.dump(), QoS::AtLeastOnce));
  ASSERT_TRUE(waitStatus(id, "SUCCESSFUL"));
  EXPECT_EQ(call(server_, "GET", "/api/v1/commands/" + id).body["result"]["code"], 200);

  // A named service, and a failing reply.
  ASSERT_TRUE(d->subscribe(sys() + "thing/service/+", QoS::AtLeastOnce));
  auto service = call(server_, "POST", "/api/v1/devices/lamp-test_01/commands",
                      {{"name", "reboot"}, {"payload", {{"delay", 1}}}, {"expireTime", 3600}});
  ASSERT_EQ(service.status, 201);
  auto call2 = d->receive();
  ASSERT_TRUE(call2);
  EXPECT_EQ(call2->topic, sys() + "thing/service/reboot");
  EXPECT_EQ(payloadJson(*call2)["method"], "thing.service.reboot");
  const json failed = {{"id", payloadJson(*call2)["id"]}, {"code", 9201}, {"data", json::object()}};
  ASSERT_FALSE(d->publish(sys() + "thing/service/reboot_reply", failed.dump(), QoS::AtLeastOnce));
  EXPECT_TRUE(waitStatus(service.body["id"].get<std::string>(), "FAILED"));

  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/lamp-test_01/commands", {{"name", "a/b"}, {"payload", 1}}).status,
            422)
      << "a service name must fit in a topic level";
}

TEST_F(Aliyun, RrpcRoundTripTimeoutAndOffline) {
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(sys() + "rrpc/request/+", QoS::AtMostOnce));
  auto pending = std::async(std::launch::async, [this] {
    return call(server_, "POST", "/api/v1/devices/lamp-test_01/rrpc", {{"payload", {{"op", "ping"}}}});
  });
  auto request = d->receive();
  ASSERT_TRUE(request);
  const std::string prefix = sys() + "rrpc/request/";
  ASSERT_EQ(request->topic.rfind(prefix, 0), 0u) << request->topic;
  const auto msgId = request->topic.substr(prefix.size());
  EXPECT_EQ(payloadJson(*request), json({{"op", "ping"}}));
  ASSERT_FALSE(d->publish(sys() + "rrpc/response/" + msgId, R"({"op":"pong"})", QoS::AtMostOnce));
  auto answered = pending.get();
  ASSERT_EQ(answered.status, 200) << answered.body;
  EXPECT_EQ(answered.body["msgId"], msgId);
  EXPECT_EQ(answered.body["payload"]["op"], "pong");

  auto binary = std::async(std::launch::async, [this] {
    return call(server_, "POST", "/api/v1/devices/lamp-test_01/rrpc", {{"payloadBase64", "AAEC"}});
  });
  auto raw = d->receive();
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->payload, (std::vector<std::uint8_t>{0, 1, 2}));
  ASSERT_FALSE(d->publish(sys() + "rrpc/response/" + raw->topic.substr(prefix.size()), std::string("\xff\x00", 2),
                          QoS::AtMostOnce));
  auto binaryAnswer = binary.get();
  ASSERT_EQ(binaryAnswer.status, 200);
  EXPECT_TRUE(binaryAnswer.body["payload"].is_null());
  EXPECT_EQ(binaryAnswer.body["payloadBase64"], "/wA=");

  const auto started = std::chrono::steady_clock::now();
  auto timeout = call(server_, "POST", "/api/v1/devices/lamp-test_01/rrpc", {{"payload", 1}, {"timeoutMs", 300}});
  EXPECT_EQ(timeout.status, 504);
  EXPECT_EQ(timeout.body["error"]["code"], "timeout");
  EXPECT_GE(std::chrono::steady_clock::now() - started, 300ms);

  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/lamp-test_02/rrpc", {{"payload", 1}}).status, 409) << "offline";
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/ghost/rrpc", {{"payload", 1}}).status, 404);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/lamp-test_01/rrpc", {{"timeoutMs", 300}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/lamp-test_01/rrpc", {{"payload", 1}, {"timeoutMs", 0}}).status, 422);
}

TEST_F(Aliyun, ShadowRoundTripAndControlToAPersistentSession) {
  const std::string update = std::string("/shadow/update/") + kPk + "/test_01";
  const std::string get = std::string("/shadow/get/") + kPk + "/test_01";
  {
    auto d = online("test_01", /*cleanSession=*/false);
    ASSERT_TRUE(d->subscribe(get, QoS::AtLeastOnce));
    ASSERT_FALSE(d->publish(update, R"({"method":"update","state":{"reported":{"temp":21}},"clientToken":"c1","version":1})",
                            QoS::AtLeastOnce));
    auto reply = d->receive();
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->topic, get);
    auto r = payloadJson(*reply);
    EXPECT_EQ(r["method"], "reply");
    EXPECT_EQ(r["clientToken"], "c1");
    EXPECT_EQ(r["payload"], json({{"status", "success"}, {"version", 1}}));
    EXPECT_TRUE(r["timestamp"].is_number_integer());
    d->disconnect();
  }
  auto shadow = call(server_, "GET", "/api/v1/devices/lamp-test_01/shadow");
  ASSERT_EQ(shadow.status, 200);
  EXPECT_EQ(shadow.body["state"]["reported"]["temp"], 21);
  EXPECT_EQ(shadow.body["version"], 1);

  // Desired state set while the device is away waits in its persistent session.
  auto put = call(server_, "PUT", "/api/v1/devices/lamp-test_01/shadow", {{"desired", {{"temp", 18}}}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.body["version"], 2);
  auto d = online("test_01", /*cleanSession=*/false);
  auto control = d->receive();
  ASSERT_TRUE(control);
  EXPECT_EQ(control->topic, get);
  auto c = payloadJson(*control);
  EXPECT_EQ(c["method"], "control");
  EXPECT_EQ(c["payload"]["state"]["desired"]["temp"], 18);
  EXPECT_TRUE(c["payload"]["metadata"]["desired"]["temp"]["timestamp"].is_number_integer());
  EXPECT_EQ(c["version"], 2);

  ASSERT_FALSE(d->publish(update, R"({"method":"get","clientToken":"c2","version":3})", QoS::AtLeastOnce));
  auto got = d->receive();
  ASSERT_TRUE(got);
  auto g = payloadJson(*got);
  EXPECT_EQ(g["payload"]["state"]["reported"]["temp"], 21);
  EXPECT_EQ(g["payload"]["state"]["desired"]["temp"], 18);

  ASSERT_FALSE(d->publish(update, R"({"method":"update","state":{"desired":"null"},"clientToken":"c3","version":5})",
                          QoS::AtLeastOnce));
  ASSERT_TRUE(d->receive());
  EXPECT_TRUE(call(server_, "GET", "/api/v1/devices/lamp-test_01/shadow").body["state"]["desired"].empty());

  EXPECT_EQ(call(server_, "PUT", "/api/v1/devices/lamp-test_01/shadow", {{"desired", 5}}).status, 422);
  EXPECT_EQ(call(server_, "PUT", "/api/v1/devices/lamp-test_01/shadow", {{"desired", {{"a", 1}}}, {"version", 1}}).status,
            409);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/ghost/shadow").status, 404);
}

TEST_F(Aliyun, NtpUsesThePlatformClock) {
  // Freeze first, then set: setting a running clock and freezing it later lets it drift in between.
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "freeze"}}).status, 200);
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "set"}, {"timeMs", 1700000000000}}).status, 200);
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(std::string("/ext/ntp/") + kPk + "/test_01/response", QoS::AtMostOnce));
  ASSERT_FALSE(d->publish(std::string("/ext/ntp/") + kPk + "/test_01/request", R"({"deviceSendTime":"1234"})",
                          QoS::AtMostOnce));
  auto m = d->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(payloadText(*m),
            R"({"deviceSendTime":"1234","serverRecvTime":"1700000000000","serverSendTime":"1700000000000"})");
}

TEST_F(Aliyun, OtaInformReportsTheFirmwareVersion) {
  auto d = online("test_01");
  ASSERT_FALSE(d->publish(std::string("/ota/device/inform/") + kPk + "/test_01", R"({"id":0,"params":{"version":"1.2.3"}})",
                          QoS::AtLeastOnce));
  std::string version;
  for (int i = 0; i < 100 && version != "1.2.3"; ++i) {
    version = call(server_, "GET", "/api/v1/devices/lamp-test_01").body.value("firmwareVersion", "");
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(version, "1.2.3");
}

TEST_F(Aliyun, HttpChannelAuthTopicAndBadTokens) {
  const std::string clientId = std::string(kPk) + ".test_01";
  const json auth = {{"version", "default"},
                     {"clientId", clientId},
                     {"signmethod", "hmacsha1"},
                     {"sign", aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, "")},
                     {"productKey", kPk},
                     {"deviceName", "test_01"}};
  auto r = call(server_, "POST", "/auth", auth);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["code"], 0);
  EXPECT_EQ(r.body["message"], "success");
  const auto token = r.body["info"]["token"].get<std::string>();
  EXPECT_FALSE(token.empty());

  const std::string topic = std::string("/topic/") + kPk + "/test_01/user/update";
  // iotkit-embedded writes "password:" with no space and sends the C string's terminator.
  auto sent = httpRequest(server_.httpPort(), "POST", topic, std::string("{\"temp\":20}\0", 12), {"password:" + token},
                          "application/octet-stream");
  ASSERT_EQ(sent.status, 200);
  auto body = json::parse(sent.body);
  EXPECT_EQ(body["code"], 0);
  EXPECT_EQ(body["message"], "success");
  EXPECT_TRUE(body["info"]["messageId"].is_number_unsigned());
  auto items = waitMessages("lamp-test_01", 1);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["transport"], "http");
  EXPECT_EQ(items[0]["topic"], std::string("/") + kPk + "/test_01/user/update");
  EXPECT_EQ(items[0]["payload"]["temp"], 20);

  auto bad = httpRequest(server_.httpPort(), "POST", topic, "x", {"password:nope"}, "application/octet-stream");
  EXPECT_EQ(bad.status, 200);
  EXPECT_EQ(json::parse(bad.body)["code"], 20001);
  auto none = httpRequest(server_.httpPort(), "POST", topic, "x", {}, "application/octet-stream");
  EXPECT_EQ(json::parse(none.body)["code"], 20002);
  auto other = httpRequest(server_.httpPort(), "POST", std::string("/topic/") + kPk + "/test_02/user/update", "x",
                           {"password:" + token}, "application/octet-stream");
  EXPECT_EQ(json::parse(other.body)["code"], 30001) << "a token is good for its own device's topics only";
  auto garbage = httpRequest(server_.httpPort(), "POST", std::string("/topic/") + kPk + "/test_01/%FF%00", "x",
                             {"password:" + token}, "application/octet-stream");
  EXPECT_EQ(garbage.status, 200);
  EXPECT_EQ(json::parse(garbage.body, nullptr, false).value("code", 0), 30001) << "not a topic name";

  auto wrongSign = auth;
  wrongSign["sign"] = std::string(40, '0');
  EXPECT_EQ(call(server_, "POST", "/auth", wrongSign).body["code"], 20000);
  EXPECT_EQ(json::parse(httpRequest(server_.httpPort(), "POST", "/auth", "{oops").body)["code"], 10001);
}

TEST_F(Aliyun, PreStepThenTokenLogin) {
  const std::string clientId = std::string(kPk) + ".test_01";
  const auto sign = aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, kTs);
  const std::string form = std::string("productKey=") + kPk + "&deviceName=test_01&signmethod=hmacsha1&sign=" + sign +
                           "&version=default&clientId=" + clientId + "&timestamp=" + kTs + "&resources=mqtt";
  auto r = httpRequest(server_.httpPort(), "POST", "/auth/devicename", form, {}, "application/x-www-form-urlencoded");
  ASSERT_EQ(r.status, 200);
  auto body = json::parse(r.body);
  ASSERT_EQ(body["code"], 200) << body;
  EXPECT_EQ(body["message"], "success");
  EXPECT_EQ(body["data"]["resources"]["mqtt"]["port"], server_.mqttPort());
  EXPECT_EQ(body["data"]["resources"]["mqtt"]["host"], "127.0.0.1");

  auto o = server_.mqtt(clientId + "|securemode=0|");
  o.username = body["data"]["iotId"].get<std::string>();
  o.password = body["data"]["iotToken"].get<std::string>();
  SyncMqttClient c(o);
  auto ack = c.connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
  EXPECT_TRUE(c.subscribe(sys() + "thing/#", QoS::AtLeastOnce)) << "bound to its device";

  o.password = "wrong";
  SyncMqttClient bad(o);
  auto refused = bad.connect();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->returnCode, mqtt::ConnectReturn::BadUsernameOrPassword);

  auto wrong = httpRequest(server_.httpPort(), "POST", "/auth/devicename",
                           std::string("productKey=") + kPk + "&deviceName=test_01&sign=00&clientId=" + clientId, {},
                           "application/x-www-form-urlencoded");
  EXPECT_NE(json::parse(wrong.body)["code"], 200);
  EXPECT_FALSE(json::parse(wrong.body).contains("data"));
}

TEST_F(Aliyun, PassThroughRawDataBothWaysAndTheThingModelOnRequest) {
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(sys() + "thing/#", QoS::AtLeastOnce));

  // Down: a binary command is the raw bytes on thing/model/down_raw; the raw reply completes it.
  auto created = call(server_, "POST", "/api/v1/devices/lamp-test_01/commands",
                      {{"payloadBase64", "AAEC/w=="}, {"expireTime", 3600}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = created.body["id"].get<std::string>();
  auto m = d->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, sys() + "thing/model/down_raw");
  EXPECT_EQ(m->payload, (std::vector<std::uint8_t>{0x00, 0x01, 0x02, 0xff}));
  ASSERT_TRUE(waitStatus(id, "DELIVERED"));
  ASSERT_FALSE(d->publish(sys() + "thing/model/down_raw_reply", std::string("\x05\x06", 2), QoS::AtLeastOnce));
  ASSERT_TRUE(waitStatus(id, "SUCCESSFUL"));
  EXPECT_EQ(call(server_, "GET", "/api/v1/commands/" + id).body["result"]["payloadBase64"], "BQY=");
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices/lamp-test_01/commands", {{"name", "reboot"}, {"payloadBase64", "AA=="}})
                .status,
            422)
      << "a raw command has no service name";

  // Up: raw bytes on thing/model/up_raw are kept as they came.
  ASSERT_FALSE(d->publish(sys() + "thing/model/up_raw", std::string("\x01\xfe", 2), QoS::AtLeastOnce));
  bool kept = false;
  for (int i = 0; i < 100 && !kept; ++i) {
    const auto messages = call(server_, "GET", "/api/v1/devices/lamp-test_01/messages").body;
    for (const auto& item : messages["items"])
      kept = kept || (item["topic"] == sys() + "thing/model/up_raw" && item["payloadBase64"] == "Af4=");
    if (!kept) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(kept);

  // thing.dynamicTsl.get is answered with the product's thing model (an empty one here).
  ASSERT_FALSE(d->publish(sys() + "thing/dynamicTsl/get",
                          R"({"id":"7","version":"1.0","params":{"nodes":["type","identifier"],"addDefault":false},"method":"thing.dynamicTsl.get"})",
                          QoS::AtLeastOnce));
  std::optional<client::Message> tsl;
  for (int i = 0; i < 5 && !tsl; ++i)
    if (auto got = d->receive(); got && got->topic == sys() + "thing/dynamicTsl/get_reply") tsl = got;
  ASSERT_TRUE(tsl);
  auto reply = payloadJson(*tsl);
  EXPECT_EQ(reply["id"], "7");
  EXPECT_EQ(reply["code"], 200);
  EXPECT_EQ(reply["data"]["profile"]["productKey"], kPk);
  EXPECT_TRUE(reply["data"]["properties"].is_array());
}

TEST_F(Aliyun, BroadcastReachesTheProductsSubscribedDevicesOnly) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "other"}, {"dialect", "aliyun"}, {"keys", {{"productKey", "a1Other00"}}}})
                .status,
            201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "stranger"}, {"productId", "other"}, {"identifiers", {{"deviceName", "test_01"}}},
                  {"secrets", {{"deviceSecret", kSecret}}}})
                .status,
            201);
  auto a = online("test_01");
  auto b = online("test_02");
  ASSERT_TRUE(a->subscribe(std::string("/broadcast/") + kPk + "/#", QoS::AtLeastOnce));
  ASSERT_TRUE(b->subscribe(std::string("/broadcast/") + kPk + "/alerts", QoS::AtMostOnce));
  auto o = server_.mqtt("");
  client::AliyunDevice::signIn(o, {"a1Other00", "test_01", kSecret});
  SyncMqttClient stranger(o);
  ASSERT_TRUE(stranger.connect());
  ASSERT_TRUE(stranger.subscribe("/broadcast/a1Other00/#", QoS::AtMostOnce));
  EXPECT_FALSE(stranger.subscribe(std::string("/broadcast/") + kPk + "/#", QoS::AtMostOnce))
      << "another product's broadcasts are not its to hear";

  auto sent = call(server_, "POST", "/api/v1/products/light/broadcast", {{"topic", "alerts"}, {"payload", {{"level", 2}}}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.body["topic"], std::string("/broadcast/") + kPk + "/alerts");
  for (auto* device : {a.get(), b.get()}) {
    auto m = device->receive();
    ASSERT_TRUE(m);
    EXPECT_EQ(m->topic, std::string("/broadcast/") + kPk + "/alerts");
    EXPECT_EQ(payloadJson(*m), json({{"level", 2}}));
    EXPECT_EQ(m->qos, QoS::AtMostOnce);
  }
  EXPECT_FALSE(stranger.receive(300ms));
  ASSERT_EQ(call(server_, "POST", "/api/v1/products/light/broadcast", {{"topic", "raw/x"}, {"payloadBase64", "/w=="}}).status,
            200);
  auto raw = a->receive();
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->payload, std::vector<std::uint8_t>{0xff});

  EXPECT_EQ(call(server_, "POST", "/api/v1/products/light/broadcast", {{"topic", "a/#"}, {"payload", 1}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/products/light/broadcast", {{"topic", ""}, {"payload", 1}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/products/light/broadcast", {{"topic", "x"}}).status, 422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/products/nope/broadcast", {{"topic", "x"}, {"payload", 1}}).status, 404);
  EXPECT_EQ(httpRequest(server_.httpPort(), "POST", "/api/v1/products/light/broadcast", "{oops").status, 400);
}

TEST_F(Aliyun, DynamicRegistrationHandsOutTheDeviceSecretOnceThenTheDeviceSignsIn) {
  // A product with one secret for all its devices; the device was added by name beforehand, as
  // the real platform requires. The sign is the golden vector of aliyun_sign_test.cpp.
  constexpr const char* kDynPk = "a1ExpAkj9Hi";
  constexpr const char* kProductSecret = "Rfa9GqVnP0cXk2LzYw4sHd7TbJm3Ue8N";
  ASSERT_EQ(call(server_, "POST", "/api/v1/products",
                 {{"id", "dyn"}, {"dialect", "aliyun"},
                  {"keys", {{"productKey", kDynPk}, {"productSecret", kProductSecret}, {"dynamicRegistration", true}}}})
                .status,
            201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "dyn-1"}, {"productId", "dyn"}, {"identifiers", {{"deviceName", "Example_dyn1"}}},
                  {"secrets", {{"deviceSecret", kSecret}}}})
                .status,
            201);
  const auto registration = [this](const std::string& form) {
    auto r = httpRequest(server_.httpPort(), "POST", "/auth/register/device", form, {},
                         "application/x-www-form-urlencoded");
    EXPECT_EQ(r.status, 200) << "the device endpoints answer 200 with the code in the body";
    EXPECT_LE(r.body.size(), 256u) << "iotkit-embedded reads the answer into 256 bytes";
    return json::parse(r.body, nullptr, false);
  };
  const std::string good = std::string("productKey=") + kDynPk +
                           "&deviceName=Example_dyn1&random=7y4Jg5xdKCy9W2i"
                           "&sign=fe21c9720338e2843577753a623452c55a7a75094affbade2909431b8f64f278&signMethod=hmacsha256";

  auto wrongSign = registration(std::string("productKey=") + kDynPk + "&deviceName=Example_dyn1&random=7y4Jg5xdKCy9W2i&sign=" +
                                std::string(64, '0') + "&signMethod=hmacsha256");
  EXPECT_EQ(wrongSign["code"], 401) << wrongSign;
  EXPECT_FALSE(wrongSign.contains("data"));

  auto first = registration(good);
  ASSERT_EQ(first["code"], 200) << first;
  EXPECT_EQ(first["message"], "success");
  EXPECT_EQ(first["data"]["productKey"], kDynPk);
  EXPECT_EQ(first["data"]["deviceName"], "Example_dyn1");
  EXPECT_EQ(first["data"]["deviceSecret"], kSecret);
  EXPECT_EQ(registration(good)["code"], 200) << "not yet activated: it may register again";

  // The device signs in with what it was given; from then on it is activated.
  auto o = server_.mqtt("");
  client::AliyunDevice::signIn(o, {kDynPk, "Example_dyn1", first["data"]["deviceSecret"].get<std::string>(),
                                   aliyun::SignMethod::HmacSha256});
  SyncMqttClient c(o);
  auto ack = c.connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
  c.disconnect();
  EXPECT_EQ(registration(good)["code"], 409) << "an activated device cannot register again";

  auto journal = call(server_, "GET", "/api/v1/devices/dyn-1/journal");
  ASSERT_EQ(journal.status, 200);
  int exchanges = 0;
  for (const auto& e : journal.body["items"])
    if (e["topic"] == "/auth/register/device") ++exchanges;
  EXPECT_EQ(exchanges, 8) << "four requests and their four answers: " << journal.body;

  // A device whose secrets were replaced without one gets a new secret, which then signs it in.
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "dyn-2"}, {"productId", "dyn"}, {"identifiers", {{"deviceName", "dyn_2"}}}})
                .status,
            201);
  ASSERT_EQ(call(server_, "PATCH", "/api/v1/devices/dyn-2", {{"secrets", json::object()}}).status, 200);
  const auto random = std::string("A1b2C3d4E5f6G7h");
  const auto sign2 = aliyun::hmacHex(aliyun::SignMethod::HmacSha1, kProductSecret,
                                     aliyun::registrationSignContent("dyn_2", kDynPk, random));
  auto second = registration(std::string("productKey=") + kDynPk + "&deviceName=dyn_2&random=" + random +
                             "&sign=" + sign2 + "&signMethod=hmacsha1");
  ASSERT_EQ(second["code"], 200) << second;
  const auto issued = second["data"]["deviceSecret"].get<std::string>();
  EXPECT_EQ(issued.size(), 32u);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/dyn-2").body["secrets"]["deviceSecret"], issued);

  // Refusals: missing fields, an unknown sign method, product or device, a product without it.
  EXPECT_EQ(registration(std::string("productKey=") + kDynPk + "&deviceName=Example_dyn1&sign=00&signMethod=hmacsha256")["code"],
            460);
  EXPECT_EQ(registration(std::string("productKey=") + kDynPk + "&deviceName=Example_dyn1&random=x&sign=00&signMethod=rot13")["code"],
            460);
  EXPECT_EQ(registration("productKey=a1Nope&deviceName=Example_dyn1&random=x&sign=00&signMethod=hmacsha256")["code"], 404);
  EXPECT_EQ(registration(std::string("productKey=") + kDynPk + "&deviceName=ghost&random=x&sign=00&signMethod=hmacsha256")["code"],
            404);
  EXPECT_EQ(registration(std::string("productKey=") + kPk + "&deviceName=test_01&random=x&sign=00&signMethod=hmacsha256")["code"],
            403)
      << "the fixture's product has no productSecret";
  EXPECT_EQ(registration("")["code"], 460);

  // Product keys are checked when the product is made.
  EXPECT_EQ(call(server_, "POST", "/api/v1/products",
                 {{"id", "bad1"}, {"dialect", "aliyun"}, {"keys", {{"dynamicRegistration", true}}}})
                .status,
            422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/products",
                 {{"id", "bad2"}, {"dialect", "aliyun"}, {"keys", {{"productSecret", 5}}}})
                .status,
            422);
}

TEST_F(Aliyun, GarbageOnEveryTopicAndEndpointIsAnsweredNotFatal) {
  auto d = online("test_01");
  ASSERT_TRUE(d->subscribe(sys() + "thing/#", QoS::AtMostOnce));
  ASSERT_TRUE(d->subscribe(std::string("/shadow/get/") + kPk + "/test_01", QoS::AtMostOnce));
  const std::vector<std::string> topics = {
      sys() + "thing/event/property/post", sys() + "thing/event/x/post",    sys() + "thing/deviceinfo/update",
      sys() + "thing/service/property/set_reply", sys() + "thing/service/x_reply", sys() + "rrpc/response/1",
      std::string("/ext/ntp/") + kPk + "/test_01/request", std::string("/ota/device/inform/") + kPk + "/test_01",
      std::string("/shadow/update/") + kPk + "/test_01"};
  const std::vector<std::string> payloads = {"", "\xff\xfe", "null", "[]", "{", R"({"id":{}})", R"({"id":"x","code":"200"})",
                                             R"({"method":"update","state":{"reported":{"a":1}},"version":1e99})",
                                             R"({"params":{"version":5},"deviceSendTime":[]})"};
  for (const auto& t : topics)
    for (const auto& p : payloads) ASSERT_FALSE(d->publish(t, p, QoS::AtLeastOnce)) << t << " " << p;
  d->receiveAll();
  EXPECT_TRUE(d->connected());
  for (const auto& body : {std::string("[]"), std::string("\"x\""), std::string("{\"productKey\":5}")}) {
    EXPECT_EQ(httpRequest(server_.httpPort(), "POST", "/auth", body).status, 200);
    EXPECT_EQ(httpRequest(server_.httpPort(), "POST", "/api/v1/devices/lamp-test_01/rrpc", body).status / 100, 4) << body;
  }
  for (const auto& form : {"", "&&&", "productKey=%zz&deviceName=&sign=", "productKey=a1MZxOdcBnO&deviceName=test_01&sign=x&signmethod=rot13"}) {
    auto r = httpRequest(server_.httpPort(), "POST", "/auth/devicename", form, {}, "application/x-www-form-urlencoded");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(json::parse(r.body).value("code", 200), 200) << form;
  }
  EXPECT_EQ(call(server_, "GET", "/healthz").status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp-test_01").body["online"], true);
}

TEST(AliyunPersistence, ShadowSurvivesARestart) {
  TempDir dir;
  ServerProcess server({.fileDb = true}, dir.path());
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}})
                .status,
            201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "lamp"}, {"productId", "light"}}).status, 201);
  ASSERT_EQ(call(server, "PUT", "/api/v1/devices/lamp/shadow", {{"desired", {{"mode", "eco"}}}, {"version", 7}}).status,
            200);
  server.kill();
  server.start();
  auto shadow = call(server, "GET", "/api/v1/devices/lamp/shadow");
  ASSERT_EQ(shadow.status, 200);
  EXPECT_EQ(shadow.body["state"]["desired"]["mode"], "eco");
  EXPECT_EQ(shadow.body["version"], 7);
  EXPECT_EQ(call(server, "DELETE", "/api/v1/devices/lamp").status, 200);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "lamp"}, {"productId", "light"}}).status, 201);
  EXPECT_EQ(call(server, "GET", "/api/v1/devices/lamp/shadow").body["version"], 0) << "the shadow went with its device";
}

TEST(AliyunPersistence, HttpTokensAndPreStepLoginsSurviveARestart) {
  TempDir dir;
  ServerProcess server({.fileDb = true}, dir.path());
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}})
                .status,
            201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices",
                 {{"id", "lamp"}, {"productId", "light"}, {"identifiers", {{"deviceName", "test_01"}}},
                  {"secrets", {{"deviceSecret", kSecret}}}})
                .status,
            201);
  const std::string clientId = std::string(kPk) + ".test_01";
  auto auth = call(server, "POST", "/auth",
                   {{"version", "default"},
                    {"clientId", clientId},
                    {"signmethod", "hmacsha1"},
                    {"sign", aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, "")},
                    {"productKey", kPk},
                    {"deviceName", "test_01"}});
  ASSERT_EQ(auth.body["code"], 0) << auth.body;
  const auto token = auth.body["info"]["token"].get<std::string>();
  const auto sign = aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, clientId, "test_01", kPk, kTs);
  auto preStep = httpRequest(server.httpPort(), "POST", "/auth/devicename",
                             std::string("productKey=") + kPk + "&deviceName=test_01&signmethod=hmacsha1&sign=" + sign +
                                 "&clientId=" + clientId + "&timestamp=" + kTs,
                             {}, "application/x-www-form-urlencoded");
  const auto ids = json::parse(preStep.body);
  ASSERT_EQ(ids["code"], 200) << ids;

  server.kill();  // tokens are answered once committed
  server.start();

  const std::string topic = std::string("/topic/") + kPk + "/test_01/user/update";
  auto sent = httpRequest(server.httpPort(), "POST", topic, "{}", {"password:" + token}, "application/octet-stream");
  EXPECT_EQ(json::parse(sent.body)["code"], 0) << sent.body << " — the HTTP token outlives the restart";

  auto o = server.mqtt(clientId + "|securemode=0|");
  o.username = ids["data"]["iotId"].get<std::string>();
  o.password = ids["data"]["iotToken"].get<std::string>();
  SyncMqttClient c(o);
  auto ack = c.connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted) << "the iotId/iotToken pair outlives the restart";

  ASSERT_EQ(call(server, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 48 * 3600}}).status, 200);
  auto late = httpRequest(server.httpPort(), "POST", topic, "{}", {"password:" + token}, "application/octet-stream");
  EXPECT_EQ(json::parse(late.body)["code"], 20001) << "expired after 48 h on the platform clock";
}

}  // namespace
}  // namespace fc::test
