// The generic dialect's OTA contract (docs/dialects/generic.md, "Firmware updates"): the offer and
// cancel it publishes, and what its device's ota/ uplinks report to the jobs.
#include "server/dialects/generic/generic_ota.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fc::server::dialects {
namespace {

using nlohmann::json;

struct Published {
  std::string topic;
  json body;
  mqtt::QoS qos;
};

struct RecordingPublisher final : MqttPublisher {
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos) override {
    out.push_back({std::move(topic), json::parse(payload.begin(), payload.end()), qos});
  }
  std::vector<Published> out;
};

struct RecordingReporter final : ota::OtaReporter {
  void ready(const std::string& d) override { calls.push_back("ready " + d); }
  void progress(const std::string& d, int p, const std::string& j) override {
    calls.push_back("progress " + d + " " + std::to_string(p) + " " + j);
  }
  void downloaded(const std::string& d, const std::string& j) override { calls.push_back("downloaded " + d + " " + j); }
  void installing(const std::string& d, const std::string& j) override { calls.push_back("installing " + d + " " + j); }
  void failed(const std::string& d, std::string c, std::string r, const std::string& j) override {
    calls.push_back("failed " + d + " " + c + " " + r + " " + j);
  }
  void versionReported(const std::string& d, std::string v, std::string m) override {
    calls.push_back("version " + d + " " + v + " " + m);
  }
  std::optional<ota::OtaOffer> currentOffer(const std::string&) override { return std::nullopt; }
  std::vector<std::string> calls;
};

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(GenericOta, OfferAndCancelOnTheDeviceTopics) {
  RecordingPublisher pub;
  GenericOta part(pub);
  EXPECT_TRUE(part.waitsForReady());
  EXPECT_TRUE(part.reofferOnReconnect());
  core::Device d;
  d.id = "dev-1";
  ota::OtaOffer offer;
  offer.jobId = "job-1";
  offer.mode = ota::OtaMode::Optional;
  offer.firmware = {{.firmwareId = "fw-1", .version = "1.5", .size = 10},
                    {.firmwareId = "fw-2",
                     .version = "2.0",
                     .name = "app",
                     .module = "m",
                     .size = 20,
                     .md5 = "aa",
                     .sha256 = "bb",
                     .token = "t",
                     .httpUrl = "http://h/ota/o/t",
                     .httpsUrl = "https://h/ota/o/t"}};
  offer.step = 1;
  offer.attempt = 2;
  part.offer(d, offer);
  part.cancel(d, "job-1");
  ASSERT_EQ(pub.out.size(), 2u);
  EXPECT_EQ(pub.out[0].topic, "devices/dev-1/ota/offer");
  EXPECT_EQ(pub.out[0].qos, mqtt::QoS::AtLeastOnce);
  EXPECT_EQ(pub.out[0].body, json::parse(R"({"jobId":"job-1","firmwareId":"fw-2","version":"2.0","name":"app",
    "module":"m","url":"http://h/ota/o/t","httpsUrl":"https://h/ota/o/t","size":20,"md5":"aa","sha256":"bb",
    "mode":"optional","step":2,"steps":2,"attempt":2})"));
  EXPECT_EQ(pub.out[1].topic, "devices/dev-1/ota/cancel");
  EXPECT_EQ(pub.out[1].body, json::parse(R"({"jobId":"job-1"})"));
}

TEST(GenericOta, UplinksReportToTheJobs) {
  RecordingPublisher pub;
  GenericOta part(pub);
  core::Device d;
  d.id = "dev-1";
  // Without a reporter attached the messages are still the contract's (taken, not plain uplinks).
  EXPECT_TRUE(part.uplink(d, "version", bytes(R"({"version":"1.0"})")));
  RecordingReporter rep;
  part.attach(&rep);
  EXPECT_TRUE(part.uplink(d, "version", bytes(R"({"version":"1.0"})")));
  EXPECT_TRUE(part.uplink(d, "version", bytes(R"({"version":"3.1","module":"wifi"})")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"jobId":"job-1","state":"downloading","progress":42})")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"state":"downloaded"})")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"state":"installing"})")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"state":"failed","code":-2,"reason":"download failed"})")));
  // Malformed reports are taken and dropped.
  EXPECT_TRUE(part.uplink(d, "progress", bytes("not json")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"state":"downloading"})")));
  EXPECT_TRUE(part.uplink(d, "progress", bytes(R"({"state":"dancing"})")));
  EXPECT_TRUE(part.uplink(d, "version", bytes(R"({"version":""})")));
  // Other topics under ota/ are not the contract's.
  EXPECT_FALSE(part.uplink(d, "other", bytes("{}")));
  EXPECT_EQ(rep.calls, (std::vector<std::string>{"version dev-1 1.0 ", "ready dev-1", "version dev-1 3.1 wifi",
                                                 "ready dev-1", "progress dev-1 42 job-1", "downloaded dev-1 ",
                                                 "installing dev-1 ", "failed dev-1 -2 download failed "}));
}

}  // namespace
}  // namespace fc::server::dialects
