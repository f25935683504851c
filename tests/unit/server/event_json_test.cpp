// The JSON of platform events as the event WebSocket and the webhooks carry them: byte for byte
// what clients of /api/v1/events and callbackUrl receivers parse.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/core/platform.hpp"
#include "server/http/event_json.hpp"

namespace fc::server::http {
namespace {

const auto kT = core::fromMillis(1'700'000'000'123);  // 2023-11-14T22:13:20.123Z

core::Device lamp() {
  core::Device d;
  d.id = "lamp";
  d.productId = "p";
  d.name = "Lamp";
  d.identifiers = {{"nodeId", "n1"}};
  d.firmwareVersion = "1.0";
  d.createdAt = core::fromMillis(1'700'000'000'000);
  return d;
}

std::string wire(const core::Event& e) { return toJson(e).dump(); }

TEST(EventJson, DeviceEvents) {
  auto d = lamp();
  const std::string offlineData =
      R"({"createdAt":"2023-11-14T22:13:20.000Z","firmwareVersion":"1.0","id":"lamp","identifiers":{"nodeId":"n1"},)"
      R"("lastSeen":null,"name":"Lamp","online":false,"productId":"p","remoteAddress":null,"secrets":{},"transport":null})";
  EXPECT_EQ(wire(core::DeviceCreated{d}),
            R"({"data":)" + offlineData + R"(,"deviceId":"lamp","time":"2023-11-14T22:13:20.000Z","type":"device.created"})");
  EXPECT_EQ(wire(core::DeviceUpdated{d, kT}),
            R"({"data":)" + offlineData + R"(,"deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"device.updated"})");
  EXPECT_EQ(wire(core::DeviceDeleted{d, kT}),
            R"({"data":)" + offlineData + R"(,"deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"device.deleted"})");
  d.online = true;
  d.transport = "mqtt";
  d.remote = "127.0.0.1:5000";
  d.lastSeen = kT;
  EXPECT_EQ(wire(core::PresenceChanged{d, kT}),
            R"({"data":{"createdAt":"2023-11-14T22:13:20.000Z","firmwareVersion":"1.0","id":"lamp",)"
            R"("identifiers":{"nodeId":"n1"},"lastSeen":"2023-11-14T22:13:20.123Z","name":"Lamp","online":true,)"
            R"("productId":"p","remoteAddress":"127.0.0.1:5000","secrets":{},"transport":"mqtt"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"device.online"})");
  d.online = false;
  EXPECT_EQ(eventType(core::PresenceChanged{d, kT}), "device.offline");
}

TEST(EventJson, UplinkAndJournal) {
  const core::UplinkMessage m{7, "lamp", kT, "mqtt", "devices/lamp/telemetry", {'{', '}'}, "application/json"};
  EXPECT_EQ(wire(core::UplinkReceived{m}),
            R"({"data":{"contentType":"application/json","deviceId":"lamp","id":7,"payload":{},"payloadBase64":"e30=",)"
            R"("time":"2023-11-14T22:13:20.123Z","topic":"devices/lamp/telemetry","transport":"mqtt"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"uplink"})");
  const core::JournalEntry e{3, "lamp", kT, "in", "mqtt", "t", {0xC0, 0x00}, "PINGREQ"};
  EXPECT_EQ(wire(core::JournalRecorded{e}),
            R"({"data":{"deviceId":"lamp","direction":"in","id":3,"rawBase64":"wAA=","summary":"PINGREQ",)"
            R"("time":"2023-11-14T22:13:20.123Z","topic":"t","transport":"mqtt"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"journal"})");
}

TEST(EventJson, CommandStatus) {
  core::Command c;
  c.id = "cmd-1";
  c.spec.deviceId = "lamp";
  c.spec.payload = R"({"on":true})";
  c.spec.expireSeconds = 0;
  c.spec.callbackUrl = "http://127.0.0.1:9/cb";
  c.status = core::CommandStatus::Failed;
  c.createdAt = kT;
  c.completedAt = kT;
  c.reason = "device offline";
  EXPECT_EQ(wire(core::CommandChanged{c, kT}),
            R"({"data":{"ackTimeoutMs":30000,"binary":false,"callbackUrl":"http://127.0.0.1:9/cb",)"
            R"("completedAt":"2023-11-14T22:13:20.123Z","createdAt":"2023-11-14T22:13:20.123Z","deliveredAt":null,)"
            R"("deviceId":"lamp","expireTime":0,"expiresAt":null,"id":"cmd-1","maxRetransmit":3,"name":"",)"
            R"("payload":{"on":true},"reason":"device offline","result":null,"sends":0,"sentAt":null,"status":"FAILED"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"command.status"})");
}

TEST(EventJson, ShadowCarriesSourceAndWhetherDesiredChanged) {
  core::Shadow s{"lamp"};
  s.reported = {{"t", 21}};
  s.version = 4;
  s.updatedAt = kT;
  EXPECT_EQ(wire(core::ShadowUpdated{s, "device", false}),
            R"({"data":{"desiredChanged":false,"deviceId":"lamp","source":"device",)"
            R"("state":{"desired":{},"reported":{"t":21}},"updatedAt":"2023-11-14T22:13:20.123Z","version":4},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"shadow.updated"})");
}

TEST(EventJson, Lwm2mNotificationDataAsGiven) {
  EXPECT_EQ(wire(core::Lwm2mNotification{"lamp", kT, {{"path", "/3/0/9"}, {"value", 80}, {"observing", true}}}),
            R"({"data":{"observing":true,"path":"/3/0/9","value":80},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"lwm2m.notification"})");
}

TEST(EventJson, DeviceLogLine) {
  EXPECT_EQ(wire(core::DeviceLogged{core::DeviceLogEntry{7, "lamp", kT, 2, "wifi", "gagent", "rssi low", "mqtt"}}),
            R"({"data":{"content":"rssi low","deviceId":"lamp","id":7,"level":2,"source":"gagent","tag":"wifi",)"
            R"("time":"2023-11-14T22:13:20.123Z","transport":"mqtt"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"device.log"})");
}

TEST(EventJson, OtaJobHasNoDevice) {
  EXPECT_EQ(wire(core::OtaJobChanged{"job-1", "RUNNING", kT}),
            R"({"data":{"jobId":"job-1","state":"RUNNING"},)"
            R"("deviceId":"","time":"2023-11-14T22:13:20.123Z","type":"ota.job"})");
}

TEST(EventJson, OtaDeviceCarriesTheRun) {
  EXPECT_EQ(wire(core::OtaDeviceChanged{"job-1", "lamp", "DOWNLOADING", 1, "fw-2", "2.0", 40, 2, "-2", "cut", kT}),
            R"({"data":{"attempts":2,"deviceId":"lamp","errorCode":"-2","firmwareId":"fw-2","jobId":"job-1",)"
            R"("lastError":"cut","progress":40,"state":"DOWNLOADING","step":1,"version":"2.0"},)"
            R"("deviceId":"lamp","time":"2023-11-14T22:13:20.123Z","type":"ota.device"})");
  EXPECT_TRUE(toJson(core::OtaDeviceChanged{"job-1", "lamp", "QUEUED"})["data"]["progress"].is_null());
}

}  // namespace
}  // namespace fc::server::http
