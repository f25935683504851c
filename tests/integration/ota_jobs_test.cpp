// Upgrade jobs against the real binary (docs/ota.md, "Jobs"), driven through the client library's
// GenericDevice, which takes offers, downloads (HTTP or HTTPS), verifies, reports and "reboots":
// success, several firmware in order, a device offline at start, timeout, retries, a device-reported
// failure, cancel, maxConcurrent, the versions filter, validation, the delete guard, ota.* events,
// reset, and a SIGKILL mid-job followed by a restart.
#include <gtest/gtest.h>

#include <thread>

#include "client/dialects/generic/generic_device.hpp"
#include "client/firmware_download.hpp"
#include "server/ota/firmware_repository.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/websocket_client.hpp"

namespace fc::test {
namespace {

using client::GenericDevice;
using nlohmann::json;

/// Polls `GET /api/v1/ota/jobs/{id}` until `pred` holds or `timeout` passes; the last body.
json waitJob(const ServerProcess& s, const std::string& id, const std::function<bool(const json&)>& pred,
             std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  json last;
  while (std::chrono::steady_clock::now() < until) {
    last = call(s, "GET", "/api/v1/ota/jobs/" + id).body;
    if (pred(last)) return last;
    std::this_thread::sleep_for(50ms);
  }
  return last;
}

json deviceRun(const ServerProcess& s, const std::string& jobId, const std::string& deviceId) {
  const auto r = call(s, "GET", "/api/v1/ota/jobs/" + jobId + "/devices");
  for (const auto& item : r.body["items"])
    if (item["deviceId"] == deviceId) return item;
  return nullptr;
}

bool ended(const json& j) { return j.value("state", "") == "COMPLETED" || j.value("state", "") == "CANCELED"; }

class OtaJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "p1"}, {"name", "p1"}, {"dialect", "generic"}}).status,
              201);
  }

  void device(const std::string& id, const std::string& version = "1.0") {
    ASSERT_EQ(
        call(server_, "POST", "/api/v1/devices",
             {{"id", id}, {"productId", "p1"}, {"secrets", {{"secret", "s-" + id}}}, {"firmwareVersion", version}})
            .status,
        201);
  }

  std::string firmware(const std::string& version, std::uint64_t size = 200'000, std::uint64_t seed = 1) {
    const auto r = call(
        server_, "POST", "/api/v1/firmware",
        {{"productId", "p1"}, {"version", version}, {"name", "app"}, {"generate", {{"size", size}, {"seed", seed}}}});
    EXPECT_EQ(r.status, 201) << r.body.dump();
    return r.body.value("id", "");
  }

  std::unique_ptr<GenericDevice> online(const std::string& id, const std::string& version,
                                        GenericDevice::OtaBehaviour behaviour = {}) {
    auto d = std::make_unique<GenericDevice>(server_.mqtt(id), id, "s-" + id);
    d->enableOta(version, std::move(behaviour));
    auto ack = d->connect();
    EXPECT_TRUE(ack) << (ack ? "" : ack.error().message());
    return d;
  }

  std::string job(const json& body, int expect = 201) {
    const auto r = call(server_, "POST", "/api/v1/ota/jobs", body);
    EXPECT_EQ(r.status, expect) << r.body.dump();
    return r.body.value("id", "");
  }

  ServerProcess server_;
};

TEST_F(OtaJobs, AnOnlineDeviceUpgradesOverHttp) {
  device("d1");
  const auto fw = firmware("2.0");
  auto d = online("d1", "1.0");
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}});
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
  const auto j = waitJob(server_, id, ended);
  EXPECT_EQ(j["state"], "COMPLETED");
  EXPECT_EQ(j["counts"]["SUCCEEDED"], 1);
  EXPECT_EQ(j["progress"], 100);
  const auto run = deviceRun(server_, id, "d1");
  EXPECT_EQ(run["state"], "SUCCEEDED");
  EXPECT_EQ(run["progress"], 100);
  EXPECT_EQ(run["bytesServed"], 200'000);
  EXPECT_EQ(run["attempts"], 1);
  EXPECT_EQ(run["reportedVersion"], "2.0");
  EXPECT_FALSE(run["finishedAt"].is_null());
  // The device's firmwareVersion follows its report, and what it installed is the image.
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/d1").body["firmwareVersion"], "2.0");
  const auto rec = d->otaRecord();
  ASSERT_EQ(rec.offers.size(), 1u);
  EXPECT_EQ(rec.offers[0].jobId, id);
  EXPECT_EQ(rec.offers[0].size, 200'000u);
  EXPECT_EQ(rec.offers[0].mode, "forced");
  std::vector<std::uint8_t> expected(200'000);
  server::ota::generatedBytes(1, 0, expected);
  EXPECT_EQ(rec.lastImage, expected);
}

TEST_F(OtaJobs, HttpsDownloadAndSeveralFirmwareInOrder) {
  device("d1");
  const auto a = firmware("1.5", 50'000, 2), b = firmware("2.0", 60'000, 3);
  GenericDevice::OtaBehaviour https;
  https.https = true;
  https.caFile = server_.caFile();
  auto d = online("d1", "1.0", https);
  const auto id = job({{"firmwareIds", {a, b}}, {"targets", {{"deviceIds", {"d1"}}}}, {"mode", "silent"}});
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
  EXPECT_EQ(waitJob(server_, id, ended)["counts"]["SUCCEEDED"], 1);
  const auto rec = d->otaRecord();
  ASSERT_EQ(rec.offers.size(), 2u);
  EXPECT_EQ(rec.offers[0].firmwareId, a);
  EXPECT_EQ(rec.offers[0].step, 1u);
  EXPECT_EQ(rec.offers[1].firmwareId, b);
  EXPECT_EQ(rec.offers[1].step, 2u);
  EXPECT_EQ(rec.offers[1].steps, 2u);
  EXPECT_EQ(rec.offers[0].mode, "silent");
  EXPECT_EQ(rec.installed, (std::vector<std::string>{"1.5", "2.0"}));
  EXPECT_EQ(deviceRun(server_, id, "d1")["bytesServed"], 110'000);
}

TEST_F(OtaJobs, ADeviceOfflineAtStartIsOfferedWhenItComesOnline) {
  device("d1");
  const auto fw = firmware("2.0");
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"productId", "p1"}}}});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(deviceRun(server_, id, "d1")["state"], "QUEUED");
  auto d = online("d1", "1.0");
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
  EXPECT_EQ(waitJob(server_, id, ended)["state"], "COMPLETED");
}

TEST_F(OtaJobs, ATimeoutIsRetriedThenTimesOutAndTheDeviceIsTold) {
  device("d1");
  const auto fw = firmware("2.0");
  GenericDevice::OtaBehaviour deaf;
  deaf.ignoreOffers = true;
  auto d = online("d1", "1.0", deaf);
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "freeze"}}).status, 200);
  const auto id =
      job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"timeoutSeconds", 600}, {"retries", 1}});
  ASSERT_TRUE(d->waitForOffers(1));
  EXPECT_EQ(deviceRun(server_, id, "d1")["state"], "OFFERED");
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 601}}).status, 200);
  ASSERT_TRUE(d->waitForOffers(2));  // the retry
  EXPECT_EQ(deviceRun(server_, id, "d1")["attempts"], 2);
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 601}}).status, 200);
  const auto j = waitJob(server_, id, ended);
  EXPECT_EQ(j["counts"]["TIMED_OUT"], 1);
  const auto run = deviceRun(server_, id, "d1");
  EXPECT_EQ(run["state"], "TIMED_OUT");
  EXPECT_EQ(run["errorCode"], "timeout");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(d->otaRecord().cancels, (std::vector<std::string>{id, id}));
}

TEST_F(OtaJobs, AFailureIsRetriedAndThenSucceeds) {
  device("d1");
  const auto fw = firmware("2.0");
  GenericDevice::OtaBehaviour flaky;
  flaky.failAttempts = 1;
  flaky.failCode = "-4";
  flaky.failReason = "flash write failed";
  auto d = online("d1", "1.0", flaky);
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"retries", 2}});
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
  EXPECT_EQ(waitJob(server_, id, ended)["counts"]["SUCCEEDED"], 1);
  const auto run = deviceRun(server_, id, "d1");
  EXPECT_EQ(run["attempts"], 2);
  EXPECT_EQ(run["errorCode"], "-4");  // the last failure stays on record
  EXPECT_EQ(run["lastError"], "flash write failed");
}

TEST_F(OtaJobs, ADeviceReportedFailureEndsTheRun) {
  device("d1");
  const auto fw = firmware("2.0");
  GenericDevice::OtaBehaviour corrupt;
  corrupt.corruptAfterDownload = true;  // verification fails on the device
  auto d = online("d1", "1.0", corrupt);
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}});
  const auto j = waitJob(server_, id, ended);
  EXPECT_EQ(j["counts"]["FAILED"], 1);
  const auto run = deviceRun(server_, id, "d1");
  EXPECT_EQ(run["state"], "FAILED");
  EXPECT_EQ(run["errorCode"], "-3");
  EXPECT_NE(run["lastError"].get<std::string>().find("verify failed"), std::string::npos);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/d1").body["firmwareVersion"], "1.0");
  EXPECT_EQ(d->firmwareVersion(), "1.0");
}

TEST_F(OtaJobs, AJobsCorruptAtFaultIsCaughtByTheDevicesDigestCheck) {
  device("d1");
  const auto fw = firmware("2.0");
  auto d = online("d1", "1.0");
  const auto id =
      job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"faults", {{"corruptAt", 123'456}}}});
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs/" + id).body["faults"], json({{"corruptAt", 123'456}}));
  const auto j = waitJob(server_, id, ended);
  EXPECT_EQ(j["counts"]["FAILED"], 1);
  const auto run = deviceRun(server_, id, "d1");
  EXPECT_EQ(run["errorCode"], "-3") << "the md5/sha256 check fails on the device";
  EXPECT_EQ(d->firmwareVersion(), "1.0");
  // The firmware itself is untouched: its anonymous URL serves the right bytes.
  const auto image = client::downloadFirmware(
      {.url = "http://127.0.0.1:" + std::to_string(server_.httpPort()) + "/ota/firmware/" + fw});
  ASSERT_TRUE(image);
  std::vector<std::uint8_t> expected(200'000);
  server::ota::generatedBytes(1, 0, expected);
  EXPECT_EQ(image->data, expected);
}

TEST_F(OtaJobs, AJobsDropConnectionAtFaultIsResumedPastByTheDevice) {
  device("d1");
  const auto fw = firmware("2.0");
  auto d = online("d1", "1.0");
  const auto id =
      job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"faults", {{"dropConnectionAt", 70'000}}}});
  ASSERT_TRUE(d->waitForVersion("2.0", 10s)) << "the device resumes with Range after the cut";
  const auto j = waitJob(server_, id, ended);
  EXPECT_EQ(j["counts"]["SUCCEEDED"], 1);
  std::vector<std::uint8_t> expected(200'000);
  server::ota::generatedBytes(1, 0, expected);
  EXPECT_EQ(d->otaRecord().lastImage, expected);
  const auto downloads = call(server_, "GET", "/api/v1/firmware/" + fw + "/downloads").body;
  bool resumed = false;
  for (const auto& item : downloads["items"])
    if (item["jobId"] == id) resumed = item["resumed"].get<int>() >= 1 && item["completed"].get<int>() == 1;
  EXPECT_TRUE(resumed) << downloads;
}

TEST_F(OtaJobs, CancelEndsTheJobAndTellsTheDevice) {
  device("d1");
  device("d2");
  const auto fw = firmware("2.0");
  GenericDevice::OtaBehaviour deaf;
  deaf.ignoreOffers = true;
  auto d = online("d1", "1.0", deaf);
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1", "d2"}}}}});
  ASSERT_TRUE(d->waitForOffers(1));
  // While the job is unfinished its firmware cannot be deleted.
  const auto del = call(server_, "DELETE", "/api/v1/firmware/" + fw);
  EXPECT_EQ(del.status, 409);
  EXPECT_EQ(del.body["error"]["code"], "firmware_in_use");
  const auto c = call(server_, "POST", "/api/v1/ota/jobs/" + id + "/cancel");
  ASSERT_EQ(c.status, 200) << c.body.dump();
  EXPECT_EQ(c.body["state"], "CANCELED");
  EXPECT_EQ(c.body["counts"]["CANCELED"], 2);
  EXPECT_EQ(call(server_, "POST", "/api/v1/ota/jobs/" + id + "/cancel").status, 409);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(d->otaRecord().cancels, std::vector<std::string>{id});
  EXPECT_EQ(call(server_, "DELETE", "/api/v1/firmware/" + fw).status, 200);
}

TEST_F(OtaJobs, WithoutProgressReportsProgressIsWhatTheHostingServed) {
  device("d1");
  const auto fw = firmware("2.0", 200'000);
  GenericDevice::OtaBehaviour deaf;
  deaf.ignoreOffers = true;  // it reports nothing: the server only sees what it downloads
  auto d = online("d1", "1.0", deaf);
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}});
  ASSERT_TRUE(d->waitForOffers(1));
  EXPECT_TRUE(deviceRun(server_, id, "d1")["progress"] == 0);
  const auto url = d->otaRecord().offers[0].url;
  const auto path = url.substr(url.find("/ota/o/"));
  const auto half = httpRequest(server_.httpPort(), "GET", path, "", {"Range: bytes=0-99999"}, "");
  ASSERT_EQ(half.status, 206);
  // The hosting counts a response once it has ended, which may be a moment after the client has it.
  json run;
  for (int i = 0; i < 40; ++i, std::this_thread::sleep_for(50ms))
    if ((run = deviceRun(server_, id, "d1"))["bytesServed"] == 100'000) break;
  EXPECT_EQ(run["state"], "OFFERED");
  EXPECT_EQ(run["progress"], 50);
  EXPECT_EQ(run["bytesServed"], 100'000);
}

TEST_F(OtaJobs, MaxConcurrentHoldsDevicesBack) {
  GenericDevice::OtaBehaviour deaf;
  deaf.ignoreOffers = true;
  std::vector<std::unique_ptr<GenericDevice>> devices;
  for (auto id : {"d1", "d2", "d3"}) {
    device(id);
    devices.push_back(online(id, "1.0", deaf));
  }
  const auto fw = firmware("2.0");
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"productId", "p1"}}}, {"maxConcurrent", 2}});
  const auto j = waitJob(server_, id, [](const json& j) { return j["counts"]["OFFERED"] == 2; });
  EXPECT_EQ(j["counts"]["OFFERED"], 2);
  EXPECT_EQ(j["counts"]["QUEUED"], 1);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs/" + id).body["counts"]["QUEUED"], 1);
}

TEST_F(OtaJobs, TheVersionsFilterPicksDevices) {
  device("old", "0.9");
  device("cur", "1.0");
  const auto fw = firmware("2.0");
  const auto r = call(server_, "POST", "/api/v1/ota/jobs",
                      {{"firmwareIds", {fw}}, {"targets", {{"productId", "p1"}, {"versions", {"1.0"}}}}});
  ASSERT_EQ(r.status, 201) << r.body.dump();
  EXPECT_EQ(r.body["deviceIds"], json::array({"cur"}));
  EXPECT_EQ(r.body["total"], 1);
  EXPECT_EQ(r.body["targets"]["versions"], json::array({"1.0"}));
  EXPECT_EQ(call(server_, "POST", "/api/v1/ota/jobs",
                 {{"firmwareIds", {fw}}, {"targets", {{"productId", "p1"}, {"versions", {"7.7"}}}}})
                .status,
            422);
}

TEST_F(OtaJobs, BadRequestsAreRefusedWithTheApiErrorShape) {
  device("d1");
  const auto fw = firmware("2.0");
  const auto expect = [&](const json& body, int status, const std::string& code) {
    const auto r = call(server_, "POST", "/api/v1/ota/jobs", body);
    EXPECT_EQ(r.status, status) << body.dump() << " → " << r.body.dump();
    EXPECT_EQ(r.body["error"]["code"], code) << body.dump();
    EXPECT_TRUE(r.body["error"]["message"].is_string());
  };
  expect(json::array(), 400, "bad_request");
  expect(json::object(), 422, "invalid");
  expect({{"firmwareIds", json::array()}, {"targets", {{"deviceIds", {"d1"}}}}}, 422, "invalid");
  expect({{"firmwareIds", {"nope"}}, {"targets", {{"deviceIds", {"d1"}}}}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"ghost"}}}}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}, {"productId", "p1"}}}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"mode", "loud"}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"retries", -1}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"startAt", "yesterday"}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"faults", {{"corruptAt", -1}}}}, 422,
         "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"faults", {{"explode", 1}}}}, 422, "invalid");
  expect({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"colour", "red"}}, 422, "invalid");
  const auto bad = httpRequest(server_.httpPort(), "POST", "/api/v1/ota/jobs", "{nope");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs/ghost").status, 404);
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs/ghost/devices").status, 404);
  EXPECT_EQ(call(server_, "POST", "/api/v1/ota/jobs/ghost/cancel").status, 404);
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs").body["total"], 0);
  // A dialect without OTA.
  ASSERT_EQ(
      call(server_, "POST", "/api/v1/products", {{"id", "oc"}, {"name", "oc"}, {"dialect", "oceanconnect"}}).status,
      201);
  const auto ocFw = call(server_, "POST", "/api/v1/firmware",
                         {{"productId", "oc"}, {"version", "2"}, {"name", "x"}, {"generate", {{"size", 10}}}});
  ASSERT_EQ(ocFw.status, 201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "oc1"}, {"productId", "oc"}, {"identifiers", {{"nodeId", "860000000000001"}}}})
                    .status /
                100,
            2);
  expect({{"firmwareIds", {ocFw.body["id"]}}, {"targets", {{"deviceIds", {"oc1"}}}}}, 422, "invalid");
}

TEST_F(OtaJobs, AScheduledJobWaitsForItsStartOnThePlatformClock) {
  device("d1");
  const auto fw = firmware("2.0");
  auto d = online("d1", "1.0");
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "freeze"}}).status, 200);
  const auto r = call(server_, "POST", "/api/v1/ota/jobs",
                      {{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}, {"upgradeDelaySeconds", 3600}});
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(r.body["state"], "SCHEDULED");
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(d->otaRecord().offers.empty());
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 3600}}).status, 200);
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
}

TEST_F(OtaJobs, EventsOnTheStreamAndResetClearsJobs) {
  device("d1");
  const auto fw = firmware("2.0");
  auto d = online("d1", "1.0");
  WebSocketClient events(server_.httpPort(), "/api/v1/events?type=ota.job,ota.device");
  const auto id = job({{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1"}}}}});
  ASSERT_TRUE(d->waitForVersion("2.0", 10s));
  std::vector<std::string> states;
  bool jobCompleted = false;
  for (auto frame = events.next(3s); frame; frame = events.next(1s)) {
    const auto e = json::parse(*frame);
    if (e["type"] == "ota.device") states.push_back(e["data"]["state"]);
    if (e["type"] == "ota.job" && e["data"]["state"] == "COMPLETED") {
      EXPECT_EQ(e["data"]["jobId"], id);
      jobCompleted = true;
    }
    if (jobCompleted && !states.empty() && states.back() == "SUCCEEDED") break;
  }
  EXPECT_TRUE(jobCompleted);
  const std::vector<std::string> path{"QUEUED", "OFFERED", "DOWNLOADING", "DOWNLOADED", "INSTALLING", "SUCCEEDED"};
  std::vector<std::string> seen;
  for (const auto& s : states)
    if (seen.empty() || seen.back() != s) seen.push_back(s);
  EXPECT_EQ(seen, path);

  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/reset").status / 100, 2);
  EXPECT_EQ(call(server_, "GET", "/api/v1/ota/jobs").body["total"], 0);
}

TEST(OtaJobsRestart, JobAndDeviceStatesSurviveSigkillAndTheJobGoesOn) {
  TempDir dir;
  ServerOptions options;
  options.fileDb = true;
  std::string id, fw;
  {
    ServerProcess server(options, dir.path());
    ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "p1"}, {"name", "p1"}, {"dialect", "generic"}}).status,
              201);
    for (auto d : {"d1", "d2"})
      ASSERT_EQ(call(server, "POST", "/api/v1/devices",
                     {{"id", d}, {"productId", "p1"}, {"secrets", {{"secret", "s"}}}, {"firmwareVersion", "1.0"}})
                    .status,
                201);
    fw = call(server, "POST", "/api/v1/firmware",
              {{"productId", "p1"}, {"version", "2.0"}, {"name", "app"}, {"generate", {{"size", 30'000}}}})
             .body["id"];
    GenericDevice::OtaBehaviour deaf;
    deaf.ignoreOffers = true;
    GenericDevice d1(server.mqtt("d1"), "d1", "s");
    d1.enableOta("1.0", deaf);
    ASSERT_TRUE(d1.connect());
    const auto r = call(server, "POST", "/api/v1/ota/jobs",
                        {{"firmwareIds", {fw}}, {"targets", {{"deviceIds", {"d1", "d2"}}}}, {"retries", 3}});
    ASSERT_EQ(r.status, 201);
    id = r.body["id"];
    ASSERT_TRUE(d1.waitForOffers(1));
    ASSERT_EQ(deviceRun(server, id, "d1")["state"], "OFFERED");
    server.kill();
  }
  ServerProcess server(options, dir.path());
  const auto j = call(server, "GET", "/api/v1/ota/jobs/" + id);
  ASSERT_EQ(j.status, 200);
  EXPECT_EQ(j.body["state"], "RUNNING");
  EXPECT_EQ(j.body["counts"]["OFFERED"], 1);
  EXPECT_EQ(j.body["counts"]["QUEUED"], 1);
  EXPECT_EQ(deviceRun(server, id, "d1")["attempts"], 1);
  // The firmware stays guarded, and the devices upgrade when they come back.
  EXPECT_EQ(call(server, "DELETE", "/api/v1/firmware/" + fw).status, 409);
  for (auto name : {"d1", "d2"}) {
    GenericDevice d(server.mqtt(name), name, "s");
    d.enableOta("1.0");
    ASSERT_TRUE(d.connect());
    ASSERT_TRUE(d.waitForVersion("2.0", 10s)) << name;
  }
  EXPECT_EQ(waitJob(server, id, ended)["counts"]["SUCCEEDED"], 2);
}

}  // namespace
}  // namespace fc::test
