// The aliyun dialect without sockets: the topic ACL matrix, sign-in decisions, and what uplinks
// do (platform events and the exact replies), against an in-memory Platform and a recording publisher.
#include "server/dialects/aliyun/aliyun.hpp"
#include "server/dialects/aliyun/aliyun_ota.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocols/dialects/aliyun/sign.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;

// --- ACL matrix ---

struct AclCase {
  std::string topic;
  bool publish;
  bool subscribe;
};

TEST(AliyunAcl, OwnTopicsOnly) {
  // Device a1/d1; its sibling a1/d2 and product b2 must stay out of reach.
  const std::vector<AclCase> cases = {
      // user topics: publish update, update/error and custom ones; subscribe get and custom ones
      {"/a1/d1/update", true, false},
      {"/a1/d1/update/error", true, false},
      {"/a1/d1/get", false, true},
      {"/a1/d1/", false, true},  // a user topic needs a name
      {"/a1/d1", false, true},
      {"/a1/d1/user/telemetry", true, true},
      {"/a1/d1/user/#", false, true},
      {"/a1/d1/#", false, true},
      {"/a1/d1/+", false, true},
      // system topics
      {"/sys/a1/d1/thing/event/property/post", true, true},
      {"/sys/a1/d1/thing/event/property/post_reply", true, true},
      {"/sys/a1/d1/thing/service/property/set", true, true},
      {"/sys/a1/d1/thing/service/+", false, true},
      {"/sys/a1/d1/thing/#", false, true},
      {"/sys/a1/d1/rrpc/request/+", false, true},
      {"/sys/a1/d1/rrpc/response/123", true, true},
      {"/sys/a1/d1/#", false, false},  // covers more than thing/ and rrpc/
      {"/sys/a1/d1/other", false, false},
      {"/ota/device/inform/a1/d1", true, true},
      {"/ota/device/upgrade/a1/d1", true, true},
      {"/ota/device/progress/a1/d1", true, true},
      {"/ota/device/request/a1/d1", true, true},
      {"/ota/device/other/a1/d1", false, false},
      {"/shadow/update/a1/d1", true, true},
      {"/shadow/get/a1/d1", true, true},
      {"/ext/ntp/a1/d1/request", true, true},
      {"/ext/ntp/a1/d1/response", true, true},
      {"/ext/error/a1/d1", true, true},
      {"/ext/session/a1/d1/combine/login", true, true},
      {"/broadcast/a1/news", false, true},
      {"/broadcast/a1/#", false, true},
      // another device of the same product
      {"/a1/d2/update", false, false},
      {"/a1/d2/get", false, false},
      {"/sys/a1/d2/thing/event/property/post", false, false},
      {"/sys/a1/d2/thing/service/property/set", false, false},
      {"/sys/a1/d2/rrpc/request/1", false, false},
      {"/ota/device/upgrade/a1/d2", false, false},
      {"/shadow/get/a1/d2", false, false},
      {"/ext/ntp/a1/d2/response", false, false},
      // wildcards that reach other devices
      {"/sys/a1/+/thing/#", false, false},
      {"/a1/+/get", false, false},
      {"/shadow/get/a1/+", false, false},
      {"/ota/device/upgrade/+/d1", false, false},
      {"#", false, false},
      {"/#", false, false},
      {"/sys/#", false, false},
      {"/broadcast/#", false, false},
      {"/broadcast/+/news", false, false},
      // another product
      {"/b2/d1/update", false, false},
      {"/sys/b2/d1/thing/event/property/post", false, false},
      {"/broadcast/b2/news", false, false},
      // elsewhere
      {"devices/d1/telemetry", false, false},
      {"$SYS/broker/uptime", false, false},
  };
  for (const auto& c : cases) {
    if (c.topic.find_first_of("+#") == std::string::npos) {
      EXPECT_EQ(aliyunMayPublish("a1", "d1", c.topic), c.publish) << "publish " << c.topic;
    }
    EXPECT_EQ(aliyunMaySubscribe("a1", "d1", c.topic), c.subscribe) << "subscribe " << c.topic;
  }
}

TEST(AliyunAcl, NamesThatWouldBreakTopicsGrantNothing) {
  EXPECT_FALSE(aliyunMayPublish("a1", "+", "/a1/+/update"));
  EXPECT_FALSE(aliyunMaySubscribe("a1", "#", "/a1/#"));
  EXPECT_FALSE(aliyunMaySubscribe("", "d1", "//d1/get"));
}

// --- the dialect against a platform ---

class FixedClock final : public core::Clock {
 public:
  core::TimePoint now() const override { return now_; }
  void advance(core::Duration d) { now_ += d; }

 private:
  core::TimePoint now_ = core::fromMillis(1'700'000'000'000);
};

class RecordingPublisher final : public MqttPublisher {
 public:
  struct Sent {
    std::string topic;
    std::string payload;
    mqtt::QoS qos;
  };
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos) override {
    sent.push_back({std::move(topic), std::string(payload.begin(), payload.end()), qos});
  }
  std::vector<Sent> sent;
};

constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";

class AliyunDialectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dialect_.setOta(&ota_);
    ASSERT_TRUE(platform_.createProduct(core::Product{"light", "", "aliyun", {{"productKey", "a1MZxOdcBnO"}}}));
    core::Device d;
    d.id = "lamp";
    d.productId = "light";
    d.identifiers = {{"deviceName", "test_01"}};
    d.secrets = {{"deviceSecret", kSecret}};
    ASSERT_TRUE(platform_.createDevice(d));
    ASSERT_TRUE(platform_.createProduct(core::Product{"plain", "", "generic", {}}));
  }

  broker::ClientIdentity client(std::string clientId, std::string username) {
    return broker::ClientIdentity{std::move(clientId), std::move(username), "", "127.0.0.1:5000", false};
  }
  static std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

  /// identify → verify as the gateway does; nullopt when neither identified nor refused.
  std::optional<mqtt::ConnectReturn> login(const broker::ClientIdentity& c, const std::string& password) {
    if (auto l = dialect_.identify(platform_, c))
      return dialect_.verify(*l, c, bytes(password)) ? mqtt::ConnectReturn::Accepted
                                                     : mqtt::ConnectReturn::BadUsernameOrPassword;
    if (auto r = dialect_.refuse(platform_, c)) return r->code;
    return std::nullopt;
  }

  void uplink(const std::string& topic, const std::string& payload) {
    auto device = platform_.device("lamp");
    ASSERT_TRUE(device);
    dialect_.uplink(platform_, *device, mqtt::Publish{topic, bytes(payload), mqtt::QoS::AtLeastOnce}, out_);
  }

  FixedClock clock_;
  core::Platform platform_{clock_, nullptr};
  RecordingPublisher pushes_;
  RecordingPublisher out_;
  AliyunDialect dialect_{platform_, pushes_};
  AliyunOta ota_{platform_, pushes_, dialect_};
};

/// What the OTA part tells the jobs service, one line per call.
class RecordingReporter final : public ota::OtaReporter {
 public:
  void ready(const std::string& d) override { calls.push_back("ready " + d); }
  void progress(const std::string& d, int percent, const std::string&) override {
    calls.push_back("progress " + d + " " + std::to_string(percent));
  }
  void downloaded(const std::string& d, const std::string&) override { calls.push_back("downloaded " + d); }
  void installing(const std::string& d, const std::string&) override { calls.push_back("installing " + d); }
  void failed(const std::string& d, std::string code, std::string reason, const std::string&) override {
    calls.push_back("failed " + d + " " + code + " " + reason);
  }
  void versionReported(const std::string& d, std::string version, std::string module) override {
    calls.push_back("version " + d + " " + version + (module.empty() ? "" : " " + module));
  }
  std::optional<ota::OtaOffer> currentOffer(const std::string& d) override {
    calls.push_back("currentOffer " + d);
    return offer;
  }
  std::vector<std::string> calls;
  std::optional<ota::OtaOffer> offer;
};

ota::OtaOffer sampleOffer() {
  ota::OfferedFirmware f;
  f.firmwareId = "fw-1";
  f.version = "2.0.0";
  f.size = 15000;
  f.md5 = "6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e";
  f.httpUrl = "http://fc.test:8080/ota/o/tok";
  f.httpsUrl = "https://fc.test:8443/ota/o/tok";
  ota::OtaOffer o;
  o.jobId = "job-1";
  o.deviceId = "lamp";
  o.firmware = {f};
  return o;
}

TEST_F(AliyunDialectTest, TripletSignInWithEveryMethod) {
  const std::string ts = "2524608000000";
  for (auto method : {aliyun::SignMethod::HmacMd5, aliyun::SignMethod::HmacSha1, aliyun::SignMethod::HmacSha256}) {
    const std::string clientId = "a1MZxOdcBnO.test_01|securemode=3,signmethod=" +
                                 std::string(aliyun::toString(method)) + ",timestamp=" + ts + ",gw=0,ext=0|";
    const auto password = aliyun::sign(method, kSecret, "a1MZxOdcBnO.test_01", "test_01", "a1MZxOdcBnO", ts);
    EXPECT_EQ(login(client(clientId, "test_01&a1MZxOdcBnO"), password), mqtt::ConnectReturn::Accepted)
        << aliyun::toString(method);
    std::string upper = password;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(login(client(clientId, "test_01&a1MZxOdcBnO"), upper), mqtt::ConnectReturn::Accepted)
        << "uppercase hex, as v3 sends it";
  }
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=2,signmethod=hmacsha1,timestamp=2524608000000|",
                         "test_01&a1MZxOdcBnO"),
                  "d8b19bb8f07df191ef73a0e868a4b65373017f1f"),
            mqtt::ConnectReturn::Accepted)
      << "securemode 2 (TLS) signs the same way; the worked example";
}

TEST_F(AliyunDialectTest, BadSignInsAreRefusedWithTheirCodes) {
  const std::string good = "d8b19bb8f07df191ef73a0e868a4b65373017f1f";
  const std::string id = "a1MZxOdcBnO.test_01|securemode=3,signmethod=hmacsha1,timestamp=2524608000000|";
  const auto user = "test_01&a1MZxOdcBnO";
  using R = mqtt::ConnectReturn;
  EXPECT_EQ(login(client(id, user), "d8b19bb8f07df191ef73a0e868a4b65373017f1e"), R::BadUsernameOrPassword);
  EXPECT_EQ(login(client(id, user), ""), R::BadUsernameOrPassword);
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=3,signmethod=hmacsha1,timestamp=2524608000001|", user), good),
            R::BadUsernameOrPassword)
      << "the timestamp is signed";
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=3,signmethod=sha1,timestamp=2524608000000|", user), good),
            R::BadUsernameOrPassword)
      << "unknown signmethod";
  EXPECT_EQ(login(client(id, "test_02&a1MZxOdcBnO"), good), R::BadUsernameOrPassword) << "unknown device";
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=0,signmethod=hmacsha1|", user), good), R::NotAuthorized)
      << "securemode 0 must use the pre-step";
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=-1,signmethod=hmacsha1|", user), good), R::NotAuthorized);
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=1,signmethod=hmacsha1|", user), good), R::NotAuthorized)
      << "ID2";
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=x|", user), good), R::NotAuthorized);
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|signmethod=hmacsha1|", user), good), R::NotAuthorized);
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=3", user), good), R::IdentifierRejected);
  // Not an aliyun login: left to other dialects and the broker.
  EXPECT_FALSE(login(client(id, "someone"), good));
  EXPECT_FALSE(login(client(id, "test_01&unknownPk"), good));
}

TEST_F(AliyunDialectTest, PreStepTokenLogin) {
  auto token = dialect_.issueIotToken("lamp");
  EXPECT_EQ(token.iotId.size(), 32u);
  using R = mqtt::ConnectReturn;
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=0|", token.iotId), token.iotToken), R::Accepted);
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01", token.iotId), token.iotToken), R::Accepted) << "v2 over TLS";
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=0|", token.iotId), "wrong"), R::BadUsernameOrPassword);
  EXPECT_EQ(login(client("a1MZxOdcBnO.other|securemode=0|", token.iotId), token.iotToken), R::BadUsernameOrPassword);
  auto again = dialect_.issueIotToken("lamp");
  EXPECT_FALSE(login(client("a1MZxOdcBnO.test_01|securemode=0|", token.iotId), token.iotToken))
      << "a new pre-step replaces the old iotId";
  clock_.advance(AliyunDialect::kTokenLifetime + std::chrono::seconds(1));
  EXPECT_EQ(login(client("a1MZxOdcBnO.test_01|securemode=0|", again.iotId), again.iotToken), R::BadUsernameOrPassword)
      << "expired";
}

TEST_F(AliyunDialectTest, PropertyPostIsRecordedAndRepliedByteForByte) {
  uplink("/sys/a1MZxOdcBnO/test_01/thing/event/property/post",
         R"({"id":"2","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"})");
  ASSERT_EQ(out_.sent.size(), 1u);
  EXPECT_EQ(out_.sent[0].topic, "/sys/a1MZxOdcBnO/test_01/thing/event/property/post_reply");
  EXPECT_EQ(out_.sent[0].payload, R"({"code":200,"data":{},"id":"2","message":"success"})");
  auto history = platform_.messages("lamp", 10);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].topic, "/sys/a1MZxOdcBnO/test_01/thing/event/property/post");
  EXPECT_EQ(history[0].contentType, "application/json");

  uplink("/sys/a1MZxOdcBnO/test_01/thing/event/alarm/post", R"({"id":7,"params":{}})");
  EXPECT_EQ(out_.sent.back().topic, "/sys/a1MZxOdcBnO/test_01/thing/event/alarm/post_reply");
  EXPECT_EQ(out_.sent.back().payload, R"({"code":200,"data":{},"id":"7","message":"success"})");
  uplink("/sys/a1MZxOdcBnO/test_01/thing/deviceinfo/update", R"({"id":"8","params":[]})");
  EXPECT_EQ(out_.sent.back().topic, "/sys/a1MZxOdcBnO/test_01/thing/deviceinfo/update_reply");
  uplink("/sys/a1MZxOdcBnO/test_01/thing/event/property/post", "not json");
  EXPECT_EQ(out_.sent.back().payload, R"({"code":460,"data":{},"id":"","message":"request parameter error"})");
  const auto replies = out_.sent.size();
  uplink("/sys/a1MZxOdcBnO/test_01/thing/status/update", "{}");
  EXPECT_EQ(out_.sent.size(), replies) << "no reply where Alibaba sends none";
  EXPECT_EQ(platform_.messages("lamp", 10).size(), 5u);
}

TEST_F(AliyunDialectTest, CommandsAreAlinkServiceCallsAndRepliesComplete) {
  auto c = platform_.sendCommand(core::CommandSpec{"lamp", "", R"({"LightSwitch":0})"});
  ASSERT_TRUE(c);
  auto device = platform_.device("lamp");
  auto set = dialect_.encodeCommand(*device, *c);
  EXPECT_EQ(set.topic, "/sys/a1MZxOdcBnO/test_01/thing/service/property/set");
  EXPECT_EQ(std::string(set.payload.begin(), set.payload.end()),
            R"({"id":")" + std::to_string(c->seq) +
                R"(","method":"thing.service.property.set","params":{"LightSwitch":0},"version":"1.0.0"})");
  EXPECT_EQ(set.qos, mqtt::QoS::AtLeastOnce);

  auto service = platform_.sendCommand(core::CommandSpec{"lamp", "reboot", R"({"delay":5})"});
  ASSERT_TRUE(service);
  auto call = dialect_.encodeCommand(*device, *service);
  EXPECT_EQ(call.topic, "/sys/a1MZxOdcBnO/test_01/thing/service/reboot");
  EXPECT_EQ(json::parse(call.payload)["method"], "thing.service.reboot");

  EXPECT_TRUE(dialect_.receivesCommands(*device, "/sys/a1MZxOdcBnO/test_01/thing/service/property/set"));
  EXPECT_TRUE(dialect_.receivesCommands(*device, "/sys/a1MZxOdcBnO/test_01/thing/#"));
  EXPECT_FALSE(dialect_.receivesCommands(*device, "/sys/a1MZxOdcBnO/test_01/thing/event/+/post_reply"));

  platform_.deviceConnected("lamp", "mqtt", "x");
  platform_.deviceReachable("lamp");  // both go SENT
  uplink("/sys/a1MZxOdcBnO/test_01/thing/service/property/set_reply",
         R"({"id":")" + std::to_string(c->seq) + R"(","code":200,"data":{}})");
  EXPECT_EQ(platform_.command(c->id)->status, core::CommandStatus::Successful);
  uplink("/sys/a1MZxOdcBnO/test_01/thing/service/reboot_reply",
         R"({"id":")" + std::to_string(service->seq) + R"(","code":9201,"data":{}})");
  EXPECT_EQ(platform_.command(service->id)->status, core::CommandStatus::Failed);
  EXPECT_EQ(json::parse(platform_.command(service->id)->result)["code"], 9201);
  EXPECT_TRUE(platform_.messages("lamp", 10).empty()) << "replies are results, not telemetry";
}

TEST_F(AliyunDialectTest, NtpAnswersWithPlatformTime) {
  uplink("/ext/ntp/a1MZxOdcBnO/test_01/request", R"({"deviceSendTime":"1571724098000"})");
  ASSERT_EQ(out_.sent.size(), 1u);
  EXPECT_EQ(out_.sent[0].topic, "/ext/ntp/a1MZxOdcBnO/test_01/response");
  EXPECT_EQ(out_.sent[0].payload,
            R"({"deviceSendTime":"1571724098000","serverRecvTime":"1700000000000","serverSendTime":"1700000000000"})");
  uplink("/ext/ntp/a1MZxOdcBnO/test_01/request", R"({})");
  EXPECT_EQ(out_.sent.size(), 1u) << "no deviceSendTime, no answer";
}

TEST_F(AliyunDialectTest, OtaInformSetsTheFirmwareVersion) {
  uplink("/ota/device/inform/a1MZxOdcBnO/test_01", R"({"id":0,"params":{"version":"2.0.1"}})");
  EXPECT_EQ(platform_.device("lamp")->firmwareVersion, "2.0.1");
  uplink("/ota/device/inform/a1MZxOdcBnO/test_01", R"({"id":0,"params":{}})");
  EXPECT_EQ(platform_.device("lamp")->firmwareVersion, "2.0.1");
}

TEST_F(AliyunDialectTest, OtaOfferIsTheUpgradeMessageOnTheUpgradeTopic) {
  RecordingReporter reporter;
  ota_.attach(&reporter);
  ota_.offer(*platform_.device("lamp"), sampleOffer());
  ASSERT_EQ(pushes_.sent.size(), 1u);
  EXPECT_EQ(pushes_.sent[0].topic, "/ota/device/upgrade/a1MZxOdcBnO/test_01");
  EXPECT_EQ(pushes_.sent[0].qos, mqtt::QoS::AtLeastOnce);
  EXPECT_EQ(pushes_.sent[0].payload,
            R"({"code":"1000","data":{"md5":"6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e","sign":"6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e",)"
            R"("signMethod":"Md5","size":15000,"url":"https://fc.test:8443/ota/o/tok","version":"2.0.0"},)"
            R"("id":1700000000000,"message":"success"})");

  // keys.otaUrlScheme "http" hands out the plain URL (an SDK built without TLS).
  ASSERT_TRUE(platform_.createProduct(
      core::Product{"plainota", "", "aliyun", {{"productKey", "a1Plain0000"}, {"otaUrlScheme", "http"}}}));
  core::Device d;
  d.id = "bulb";
  d.productId = "plainota";
  d.identifiers = {{"deviceName", "bulb"}};
  d.secrets = {{"deviceSecret", kSecret}};
  ASSERT_TRUE(platform_.createDevice(d));
  ota_.offer(*platform_.device("bulb"), sampleOffer());
  ASSERT_EQ(pushes_.sent.size(), 2u);
  EXPECT_EQ(pushes_.sent[1].topic, "/ota/device/upgrade/a1Plain0000/bulb");
  EXPECT_NE(pushes_.sent[1].payload.find(R"("url":"http://fc.test:8080/ota/o/tok")"), std::string::npos);
  EXPECT_NE(pushes_.sent[1].payload.find(R"("id":1700000000001)"), std::string::npos) << "ids count up";
  EXPECT_TRUE(reporter.calls.empty());
}

TEST_F(AliyunDialectTest, OtaReportsBecomeJobReports) {
  RecordingReporter reporter;
  ota_.attach(&reporter);
  const std::string sfx = "a1MZxOdcBnO/test_01";
  uplink("/ota/device/inform/" + sfx, R"({"id":0,"params":{"version":"1.0.0"}})");
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"0","desc":"Enter in downloading state"}})");
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"57","desc":""}})");
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"100","desc":""}})");
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"-3","desc":"md5 mismatch"}})");
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"-1","desc":""}})");
  uplink("/ota/device/inform/" + sfx, R"({"id":"1","params":{"version":"3.1","module":"mcu"}})");
  // Malformed ones are dropped.
  uplink("/ota/device/progress/" + sfx, R"({"id":0,"params":{"step":"200"}})");
  uplink("/ota/device/progress/" + sfx, "garbage");
  uplink("/ota/device/inform/" + sfx, R"({"id":0,"params":{}})");
  EXPECT_EQ(reporter.calls, (std::vector<std::string>{"version lamp 1.0.0", "ready lamp", "progress lamp 0",
                                                      "progress lamp 57", "progress lamp 100", "downloaded lamp",
                                                      "failed lamp -3 verify failed: md5 mismatch",
                                                      "failed lamp -1 upgrade failed", "version lamp 3.1 mcu",
                                                      "ready lamp"}));
  EXPECT_TRUE(out_.sent.empty()) << "reports get no reply";
}

TEST_F(AliyunDialectTest, OtaRequestIsAnsweredOnTheRequestTopicOnlyWithAnOffer) {
  RecordingReporter reporter;
  ota_.attach(&reporter);
  uplink("/ota/device/request/a1MZxOdcBnO/test_01", R"({"id":0,"params":{"version":"1.0.0"}})");
  EXPECT_TRUE(pushes_.sent.empty()) << "nothing to install: no answer";
  reporter.offer = sampleOffer();
  uplink("/ota/device/request/a1MZxOdcBnO/test_01", R"({"id":0,"params":{"version":"1.0.0"}})");
  ASSERT_EQ(pushes_.sent.size(), 1u);
  EXPECT_EQ(pushes_.sent[0].topic, "/ota/device/request/a1MZxOdcBnO/test_01");
  EXPECT_NE(pushes_.sent[0].payload.find(R"("url":"https://fc.test:8443/ota/o/tok")"), std::string::npos);
  EXPECT_EQ(reporter.calls, (std::vector<std::string>{"currentOffer lamp", "currentOffer lamp"}));
}

TEST_F(AliyunDialectTest, ShadowUpdateGetAndControl) {
  const auto topic = "/shadow/update/a1MZxOdcBnO/test_01";
  uplink(topic, R"({"method":"get","clientToken":"t0","version":1})");
  EXPECT_EQ(out_.sent.back().topic, "/shadow/get/a1MZxOdcBnO/test_01");
  EXPECT_EQ(json::parse(out_.sent.back().payload)["payload"]["content"]["errorcode"], "407") << "nothing yet";

  uplink(topic, R"({"method":"update","state":{"reported":{"temp":21}},"clientToken":"t1","version":1})");
  EXPECT_EQ(out_.sent.back().payload,
            R"({"clientToken":"t1","method":"reply","payload":{"status":"success","version":1},"timestamp":1700000000})");
  uplink(topic, R"({"method":"update","state":{"reported":{"temp":22}},"clientToken":"t2","version":1})");
  EXPECT_EQ(json::parse(out_.sent.back().payload)["payload"]["content"]["errorcode"], "409");
  EXPECT_EQ(platform_.shadow("lamp")->reported["temp"], 21);

  core::ShadowUpdate desired;
  desired.desired = {{"temp", 18}};
  ASSERT_TRUE(platform_.updateShadow("lamp", desired));
  ASSERT_EQ(pushes_.sent.size(), 1u);
  EXPECT_EQ(pushes_.sent[0].topic, "/shadow/get/a1MZxOdcBnO/test_01");
  EXPECT_EQ(pushes_.sent[0].payload,
            R"({"method":"control","payload":{"metadata":{"desired":{"temp":{"timestamp":1700000000}}},"state":{"desired":{"temp":18}}},"timestamp":1700000000,"version":2})");

  uplink(topic, R"({"method":"get","clientToken":"t3","version":3})");
  auto got = json::parse(out_.sent.back().payload);
  EXPECT_EQ(got["payload"]["state"]["reported"]["temp"], 21);
  EXPECT_EQ(got["payload"]["state"]["desired"]["temp"], 18);
  EXPECT_EQ(got["version"], 2);

  uplink(topic, R"({"method":"update","state":{"desired":"null"},"clientToken":"t4","version":5})");
  EXPECT_EQ(json::parse(out_.sent.back().payload)["payload"]["status"], "success");
  EXPECT_TRUE(platform_.shadow("lamp")->desired.empty());
  EXPECT_EQ(pushes_.sent.size(), 1u) << "the device's own changes are not pushed back";

  uplink(topic, R"({"method":"delete","state":{"reported":{"temp":"null"}},"clientToken":"t5","version":7})");
  EXPECT_TRUE(platform_.shadow("lamp")->reported.empty());
  uplink(topic, "garbage");
  EXPECT_EQ(json::parse(out_.sent.back().payload)["payload"]["content"]["errorcode"], "400");
}

TEST_F(AliyunDialectTest, RrpcNeedsAnOnlineDeviceAndTimesOut) {
  auto offline = dialect_.rrpc("lamp", bytes("ping"), std::chrono::milliseconds(10), [](auto) {});
  ASSERT_FALSE(offline);
  EXPECT_EQ(offline.error().code, core::Errc::Conflict);
  EXPECT_EQ(dialect_.rrpc("ghost", {}, std::chrono::milliseconds(10), [](auto) {}).error().code, core::Errc::NotFound);

  platform_.deviceConnected("lamp", "mqtt", "x");
  std::optional<AliyunDialect::RrpcResult> answered;
  auto id = dialect_.rrpc("lamp", bytes("ping"), std::chrono::seconds(5), [&](auto r) { answered = r; });
  ASSERT_TRUE(id);
  ASSERT_EQ(pushes_.sent.size(), 1u);
  EXPECT_EQ(pushes_.sent[0].topic, "/sys/a1MZxOdcBnO/test_01/rrpc/request/" + *id);
  EXPECT_EQ(pushes_.sent[0].payload, "ping");
  uplink("/sys/a1MZxOdcBnO/test_01/rrpc/response/" + *id, "pong");
  ASSERT_TRUE(answered);
  EXPECT_TRUE(answered->answered);
  EXPECT_EQ(std::string(answered->payload.begin(), answered->payload.end()), "pong");

  std::optional<AliyunDialect::RrpcResult> late;
  auto slow = dialect_.rrpc("lamp", bytes("ping"), std::chrono::milliseconds(0), [&](auto r) { late = r; });
  ASSERT_TRUE(slow);
  dialect_.tick();
  ASSERT_TRUE(late);
  EXPECT_FALSE(late->answered);
  EXPECT_EQ(late->msgId, *slow);
}

}  // namespace
}  // namespace fc::server::dialects
