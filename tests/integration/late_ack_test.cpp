// A transport acknowledgement that arrives after the command ended changes nothing, end to end:
// the device's result overtakes its PUBACK (a client that publishes the result from inside its
// message callback), or the PUBACK of a resend comes after TIMEOUT. For each MQTT dialect's
// delivery signal; the queue's own rule is in tests/unit/core/command_queue_test.cpp.
//
// Two guards keep a late acknowledgement from reviving a command, and these tests hold when either
// one is there, so each of them alone is killed elsewhere:
//   server/core/command_queue.cpp CommandQueue::delivered
//     `if (c.status != Sent) return c;` → `if (c.status == Delivered) return c;`
//     killed by tests/unit/core/command_queue_test.cpp (LateAcks) and, end to end, by
//     OceanConnect.AnAckOfThePutAfterTheResponseOrAfterTimeoutChangesNothing (CoAP has no second guard);
//   server/dialects/mqtt_gateway.cpp: the gateway forgets a command's PUBACK tags once it leaves SENT
//     (`if (status != "PENDING" && status != "SENT") forgetTags(…)` → never).
// With both mutated, every test here and tests/interop/paho_clients.py fail (checked by hand).
// APubackAcknowledgesOnlyItsOwnCommand is meant to kill: tagDelivered acknowledging another command of the device.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "client/sync_mqtt_client.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;
using nlohmann::json;

class LateAck : public ::testing::Test {
 protected:
  std::string status(const std::string& commandId) {
    return call(server_, "GET", "/api/v1/commands/" + commandId).body.value("status", "?");
  }
  bool waitStatus(const std::string& commandId, const std::string& want) {
    for (int i = 0; i < 500; ++i) {
      if (status(commandId) == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  /// How many packets from the device the journal holds whose summary starts with `prefix`.
  int journalCount(const std::string& deviceId, const std::string& prefix) {
    int n = 0;
    const auto items = call(server_, "GET", "/api/v1/devices/" + deviceId + "/journal?limit=1000").body["items"];
    for (const auto& e : items)
      if (e.value("direction", "") == "in" && e.value("summary", "").rfind(prefix, 0) == 0) ++n;
    return n;
  }
  /// Until the server has journalled `count` packets from the device starting with `prefix` (the late PUBACK).
  bool waitJournal(const std::string& deviceId, const std::string& prefix, int count = 1) {
    for (int i = 0; i < 500; ++i) {
      if (journalCount(deviceId, prefix) >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::string journal(const std::string& deviceId) {
    return call(server_, "GET", "/api/v1/devices/" + deviceId + "/journal?limit=1000").body.dump();
  }
  std::string submit(const std::string& deviceId, const json& body) {
    auto created = call(server_, "POST", "/api/v1/devices/" + deviceId + "/commands", body);
    EXPECT_EQ(created.status, 201) << created.body;
    return created.body.value("id", "");
  }
  void advanceClock(double seconds) {
    ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", seconds}}).status, 200);
  }

  ServerProcess server_;
};

class GenericLateAck : public LateAck {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                   {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s3cret"}}}})
                  .status,
              201);
  }
  std::unique_ptr<SyncMqttClient> device() {
    auto o = server_.mqtt("lamp-1-mqtt");
    o.username = "lamp-1";
    o.password = "s3cret";
    o.autoAck = false;
    auto c = std::make_unique<SyncMqttClient>(o);
    auto ack = c->connect();
    EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
    EXPECT_TRUE(c->subscribe("devices/lamp-1/commands", QoS::AtLeastOnce));
    return c;
  }
};

TEST_F(GenericLateAck, ResultBeforePubackStaysSuccessfulOrFailed) {
  auto dev = device();
  const auto ok = submit("lamp-1", {{"payload", {{"light", 1}}}, {"expireTime", 3600}});
  const auto bad = submit("lamp-1", {{"payload", {{"light", 0}}}, {"expireTime", 3600}});
  auto first = dev->receive();
  auto second = dev->receive();
  ASSERT_TRUE(first && second);
  ASSERT_FALSE(dev->publish("devices/lamp-1/commands/" + ok + "/result", R"({"success":true})", QoS::AtLeastOnce));
  ASSERT_FALSE(dev->publish("devices/lamp-1/commands/" + bad + "/result", R"({"success":false})", QoS::AtLeastOnce));
  ASSERT_TRUE(waitStatus(ok, "SUCCESSFUL"));
  ASSERT_TRUE(waitStatus(bad, "FAILED"));

  dev->ack(first->packetId);
  dev->ack(second->packetId);
  ASSERT_TRUE(waitJournal("lamp-1", "PUBACK", 2)) << "the server took in both late PUBACKs: " << journal("lamp-1");
  // A round trip on the same connection after the PUBACKs: everything before it has been handled.
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "{}", QoS::AtLeastOnce));
  EXPECT_EQ(status(ok), "SUCCESSFUL");
  EXPECT_EQ(status(bad), "FAILED");
  EXPECT_EQ(call(server_, "GET", "/api/v1/commands/" + ok).body["result"], json({{"success", true}}));
}

TEST_F(GenericLateAck, PubackOfAResendAfterTimeoutStaysTimeout) {
  auto dev = device();
  const auto id = submit("lamp-1", {{"payload", 1}, {"maxRetransmit", 1}, {"ackTimeoutMs", 5000}});
  auto first = dev->receive();
  ASSERT_TRUE(first);
  advanceClock(5);
  auto resend = dev->receive();
  ASSERT_TRUE(resend) << "the resend";
  advanceClock(5);
  ASSERT_TRUE(waitStatus(id, "TIMEOUT"));

  dev->ack(first->packetId);
  dev->ack(resend->packetId);
  ASSERT_TRUE(waitJournal("lamp-1", "PUBACK", 2));
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "{}", QoS::AtLeastOnce));
  EXPECT_EQ(status(id), "TIMEOUT");
  EXPECT_TRUE(call(server_, "GET", "/api/v1/commands/" + id).body["deliveredAt"].is_null()) << "never delivered";
}

TEST_F(GenericLateAck, APubackAcknowledgesOnlyItsOwnCommand) {
  auto dev = device();
  const auto a = submit("lamp-1", {{"payload", 1}, {"expireTime", 3600}});
  const auto b = submit("lamp-1", {{"payload", 2}, {"expireTime", 3600}});
  auto ma = dev->receive();
  auto mb = dev->receive();
  ASSERT_TRUE(ma && mb);
  const auto idOf = [](const client::Message& m) {
    return json::parse(m.payload.begin(), m.payload.end()).value("id", "");
  };
  const auto& ofB = idOf(*ma) == b ? *ma : *mb;
  dev->ack(ofB.packetId);
  ASSERT_TRUE(waitStatus(b, "DELIVERED"));
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "{}", QoS::AtLeastOnce));
  EXPECT_EQ(status(a), "SENT");
}

constexpr const char* kPk = "a1MZxOdcBnO";
constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";
constexpr const char* kTs = "2524608000000";

class AliyunLateAck : public LateAck {
 protected:
  void SetUp() override {
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
  }
  std::unique_ptr<SyncMqttClient> device() {
    auto o = server_.mqtt("");
    const std::string id = std::string(kPk) + ".test_01";
    o.clientId = id + "|securemode=3,timestamp=" + kTs + ",signmethod=hmacsha1|";
    o.username = std::string("test_01&") + kPk;
    o.password = aliyun::sign(aliyun::SignMethod::HmacSha1, kSecret, id, "test_01", kPk, kTs);
    o.autoAck = false;
    auto c = std::make_unique<SyncMqttClient>(o);
    auto ack = c->connect();
    EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
    EXPECT_TRUE(c->subscribe(sys() + "thing/service/property/set", QoS::AtLeastOnce));
    EXPECT_TRUE(c->subscribe(sys() + "thing/service/+", QoS::AtLeastOnce));
    return c;
  }
  static std::string sys() { return std::string("/sys/") + kPk + "/test_01/"; }
};

TEST_F(AliyunLateAck, ReplyBeforePubackStaysSuccessfulOrFailed) {
  auto dev = device();
  const auto ok = submit("lamp", {{"payload", {{"LightSwitch", 1}}}, {"expireTime", 3600}});
  const auto bad = submit("lamp", {{"name", "reboot"}, {"payload", json::object()}, {"expireTime", 3600}});
  auto set = dev->receive();
  auto service = dev->receive();
  ASSERT_TRUE(set && service);
  const auto requestId = [](const client::Message& m) { return json::parse(m.payload.begin(), m.payload.end())["id"]; };
  ASSERT_FALSE(dev->publish(sys() + "thing/service/property/set_reply",
                            json({{"id", requestId(*set)}, {"code", 200}, {"data", json::object()}}).dump(),
                            QoS::AtLeastOnce));
  ASSERT_FALSE(dev->publish(sys() + "thing/service/reboot_reply",
                            json({{"id", requestId(*service)}, {"code", 9201}, {"data", json::object()}}).dump(),
                            QoS::AtLeastOnce));
  ASSERT_TRUE(waitStatus(ok, "SUCCESSFUL"));
  ASSERT_TRUE(waitStatus(bad, "FAILED"));

  dev->ack(set->packetId);
  dev->ack(service->packetId);
  ASSERT_TRUE(waitJournal("lamp", "PUBACK", 2));
  ASSERT_FALSE(dev->publish(sys() + "thing/event/property/post",
                            R"({"id":"9","version":"1.0","params":{},"method":"thing.event.property.post"})",
                            QoS::AtLeastOnce));
  EXPECT_EQ(status(ok), "SUCCESSFUL");
  EXPECT_EQ(status(bad), "FAILED");
}

TEST_F(AliyunLateAck, PubackAfterTimeoutStaysTimeout) {
  auto dev = device();
  const auto id = submit("lamp", {{"payload", {{"LightSwitch", 1}}}, {"maxRetransmit", 0}, {"ackTimeoutMs", 5000}});
  auto set = dev->receive();
  ASSERT_TRUE(set);
  advanceClock(5);
  ASSERT_TRUE(waitStatus(id, "TIMEOUT"));
  dev->ack(set->packetId);
  ASSERT_TRUE(waitJournal("lamp", "PUBACK"));
  ASSERT_FALSE(dev->publish(sys() + "thing/event/property/post",
                            R"({"id":"9","version":"1.0","params":{},"method":"thing.event.property.post"})",
                            QoS::AtLeastOnce));
  EXPECT_EQ(status(id), "TIMEOUT");
}

}  // namespace
}  // namespace fc::test
