// aliyun firmware updates against the real binary, the device played as iotkit-embedded's OTA
// module plays it (docs/dialects/aliyun.md, "Firmware updates"): subscribe to the upgrade and
// request topics, inform the running version, take the upgrade message, download its URL (HTTPS by
// default, HTTP with keys.otaUrlScheme), check the md5, report progress steps, inform the new version.
// Also a device-reported failure step and a request answered on the request topic.
#include <gtest/gtest.h>

#include <thread>

#include "client/dialects/aliyun/aliyun_device.hpp"
#include "client/firmware_download.hpp"
#include "client/sync_mqtt_client.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;
using nlohmann::json;

constexpr const char* kPk = "a1MZxOdcBnO";
constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";

json payloadJson(const client::Message& m) { return json::parse(m.payload.begin(), m.payload.end(), nullptr, false); }

class AliyunOta : public ::testing::Test {
 protected:
  void SetUp() override {}

  void product(const json& extraKeys = json::object()) {
    json keys = {{"productKey", kPk}};
    keys.update(extraKeys);
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "light"}, {"dialect", "aliyun"}, {"keys", keys}}).status,
              201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                   {{"id", "lamp"}, {"productId", "light"}, {"identifiers", {{"deviceName", "test_01"}}},
                    {"secrets", {{"deviceSecret", kSecret}}}, {"firmwareVersion", "1.0.0"}})
                  .status,
              201);
  }

  json firmware(const std::string& version) {
    const auto r = call(server_, "POST", "/api/v1/firmware",
                        {{"productId", "light"}, {"version", version}, {"name", "app"},
                         {"generate", {{"size", 100'000}, {"seed", 7}}}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body;
  }

  /// An iotkit-embedded v2 device after IOT_OTA_Init: subscribed to its upgrade and request topics.
  std::unique_ptr<SyncMqttClient> sdkDevice() {
    auto o = server_.mqtt("");
    client::AliyunDevice::signIn(o, {kPk, "test_01", kSecret});
    auto c = std::make_unique<SyncMqttClient>(o);
    auto ack = c->connect();
    EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
    EXPECT_TRUE(c->subscribe(topic("request"), QoS::AtLeastOnce));
    EXPECT_TRUE(c->subscribe(topic("upgrade"), QoS::AtLeastOnce));
    return c;
  }

  static std::string topic(const std::string& kind) { return "/ota/device/" + kind + "/" + kPk + "/test_01"; }

  static void send(SyncMqttClient& c, const std::string& kind, const json& params, QoS qos = QoS::AtLeastOnce) {
    ASSERT_FALSE(c.publish(topic(kind), json{{"id", 0}, {"params", params}}.dump(), qos));
  }

  /// The next message on `kind`'s topic that holds "url" (the SDK ignores the others, among them the
  /// device's own request coming back to it).
  static std::optional<json> offerOn(SyncMqttClient& c, const std::string& kind) {
    for (int i = 0; i < 10; ++i) {
      auto m = c.receive(3s);
      if (!m) return std::nullopt;
      const std::string body(m->payload.begin(), m->payload.end());
      if (m->topic == topic(kind) && body.find("url") != std::string::npos) return payloadJson(*m);
    }
    return std::nullopt;
  }

  std::string job(const std::string& firmwareId) {
    const auto r = call(server_, "POST", "/api/v1/ota/jobs",
                        {{"firmwareIds", {firmwareId}}, {"targets", {{"deviceIds", {"lamp"}}}}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  json run(const std::string& jobId, const std::function<bool(const json&)>& until) {
    json last;
    for (int i = 0; i < 200; ++i) {
      const auto runs = call(server_, "GET", "/api/v1/ota/jobs/" + jobId + "/devices").body;
      for (const auto& item : runs["items"])
        if (item["deviceId"] == "lamp") last = item;
      if (last.is_object() && until(last)) break;
      std::this_thread::sleep_for(50ms);
    }
    return last;
  }

  ServerProcess server_;
};

TEST_F(AliyunOta, TheSdkUpgradesOverHttpsAndInformsTheNewVersion) {
  product();
  const auto fw = firmware("2.0.0");
  auto d = sdkDevice();
  send(*d, "inform", {{"version", "1.0.0"}});  // IOT_OTA_ReportVersion at start: now ready for offers
  const auto jobId = job(fw["id"]);

  auto upgrade = offerOn(*d, "upgrade");
  ASSERT_TRUE(upgrade);
  EXPECT_EQ((*upgrade)["code"], "1000");
  EXPECT_EQ((*upgrade)["message"], "success");
  EXPECT_TRUE((*upgrade)["id"].is_number_integer());
  const auto& data = (*upgrade)["data"];
  EXPECT_EQ(data["version"], "2.0.0");
  EXPECT_EQ(data["size"], 100'000);
  EXPECT_EQ(data["md5"], fw["md5"]);
  EXPECT_EQ(data["sign"], fw["md5"]);
  EXPECT_EQ(data["signMethod"], "Md5");
  const auto url = data["url"].get<std::string>();
  ASSERT_TRUE(url.starts_with("https://")) << url;

  client::DownloadOptions download;
  download.url = url;
  download.tls.caFile = server_.caFile();
  download.md5 = data["md5"];
  send(*d, "progress", {{"step", "0"}, {"desc", "Enter in downloading state"}}, QoS::AtMostOnce);
  auto image = client::downloadFirmware(download);
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_EQ(image->data.size(), 100'000u);
  send(*d, "progress", {{"step", "100"}, {"desc", ""}}, QoS::AtMostOnce);
  EXPECT_EQ(run(jobId, [](const json& r) { return r.value("state", "") == "DOWNLOADED"; })["state"], "DOWNLOADED");

  // Burned and rebooted: the new version is informed.
  send(*d, "inform", {{"version", "2.0.0"}});
  const auto done = run(jobId, [](const json& r) { return r.value("state", "") == "SUCCEEDED"; });
  EXPECT_EQ(done["state"], "SUCCEEDED");
  EXPECT_EQ(done["bytesServed"], 100'000);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/lamp").body["firmwareVersion"], "2.0.0");
}

TEST_F(AliyunOta, AFailingStepFailsTheRunWithItsMeaning) {
  product({{"otaUrlScheme", "http"}});
  const auto fw = firmware("2.0.0");
  auto d = sdkDevice();
  send(*d, "inform", {{"version", "1.0.0"}});
  const auto jobId = job(fw["id"]);
  auto upgrade = offerOn(*d, "upgrade");
  ASSERT_TRUE(upgrade);
  EXPECT_TRUE((*upgrade)["data"]["url"].get<std::string>().starts_with("http://")) << "keys.otaUrlScheme";

  // A request while the job runs is answered on the request topic with the same offer.
  send(*d, "request", {{"version", "1.0.0"}});
  auto answer = offerOn(*d, "request");
  ASSERT_TRUE(answer);
  EXPECT_EQ((*answer)["data"]["url"], (*upgrade)["data"]["url"]);

  send(*d, "progress", {{"step", "-3"}, {"desc", "md5 mismatch"}}, QoS::AtMostOnce);
  const auto failed = run(jobId, [](const json& r) { return r.value("state", "") == "FAILED"; });
  EXPECT_EQ(failed["state"], "FAILED");
  EXPECT_EQ(failed["errorCode"], "-3");
  EXPECT_NE(failed.value("lastError", "").find("verify failed: md5 mismatch"), std::string::npos) << failed;
}

}  // namespace
}  // namespace fc::test
