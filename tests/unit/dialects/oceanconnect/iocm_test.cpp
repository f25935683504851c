// The OceanConnect IoCM northbound API without sockets: the IoCM shapes of the platform's commands,
// devices and events (the pure mapping underneath is tested in iocm_mapping_test.cpp) and the
// routes driven through the Router over an in-memory platform, with webhook posts recorded instead
// of sent.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocols/common/base64.hpp"
#include "server/core/platform.hpp"
#include "server/dialects/oceanconnect/oceanconnect_iocm.hpp"
#include "server/http/router.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// The docs' profile (docs/dialects/oceanconnect.md): message id at byte 0; 0 = Sensor report,
// 1 = LightControl report, 2 = SET_LIGHT command with mid at bytes 1-2, 3 = command response.
const json kProfile = json::parse(R"({
  "messageIdOffset": 0,
  "uplink": [
    {"serviceId": "Sensor", "messageId": 0, "properties": [{"name": "temperature", "type": "int16", "offset": 1}]},
    {"serviceId": "LightControl", "messageId": 1, "properties": [{"name": "light", "type": "uint8", "offset": 1}]}
  ],
  "commands": [
    {"serviceId": "LightControl", "method": "SET_LIGHT", "messageId": 2, "midOffset": 1,
     "paras": [{"name": "light", "type": "uint8", "offset": 3, "max": 1}]}
  ],
  "commandResponse": {"messageId": 3, "midOffset": 1, "resultOffset": 3, "resultType": "uint8", "successResults": [0]}
})");

core::TimePoint at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return core::TimePoint(std::chrono::sys_days(std::chrono::year(y) / std::chrono::month(mo) / std::chrono::day(d))
                             .time_since_epoch() +
                         std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s));
}

// --- the platform in IoCM shapes ---

TEST(IocmStatus, NamesEveryPlatformStatusAsIocmDoes) {
  const std::vector<std::pair<core::CommandStatus, std::string>> expected = {
      {core::CommandStatus::Pending, "PENDING"},       {core::CommandStatus::Sent, "SENT"},
      {core::CommandStatus::Delivered, "DELIVERED"},   {core::CommandStatus::Successful, "SUCCESSFUL"},
      {core::CommandStatus::Failed, "FAILED"},         {core::CommandStatus::Timeout, "TIMEOUT"},
      {core::CommandStatus::Expired, "EXPIRED"},       {core::CommandStatus::Canceled, "CANCELED"}};
  for (const auto& [status, name] : expected) EXPECT_EQ(iocmStatus(status), name);
}

TEST(IocmCommand, DeviceCommandRespFields) {
  core::Command c;
  c.id = "cmd-1";
  c.spec.deviceId = "dev-1";
  c.spec.payload = R"({"serviceId":"S","method":"M","paras":{}})";
  c.spec.expireSeconds = 0;
  c.spec.maxRetransmit = 2;
  c.status = core::CommandStatus::Delivered;
  c.createdAt = at(2026, 1, 2, 3, 4, 5);
  c.sentAt = at(2026, 1, 2, 3, 4, 6);
  c.deliveredAt = at(2026, 1, 2, 3, 4, 7);
  c.sends = 1;
  const auto j = iocmCommandJson(c, "app-1");
  EXPECT_EQ(j["commandId"], "cmd-1");
  EXPECT_EQ(j["appId"], "app-1");
  EXPECT_EQ(j["deviceId"], "dev-1");
  EXPECT_EQ(j["command"]["serviceId"], "S");
  EXPECT_EQ(j["status"], "DELIVERED");
  EXPECT_EQ(j["expireTime"], 0);
  EXPECT_EQ(j["maxRetransmit"], 2);
  EXPECT_EQ(j["creationTime"], "20260102T030405Z");
  EXPECT_EQ(j["platformIssuedTime"], "20260102T030406Z");
  EXPECT_EQ(j["deliveredTime"], "20260102T030407Z");
  EXPECT_TRUE(j["executeTime"].is_null());
  EXPECT_EQ(j["issuedTimes"], 1);
  EXPECT_TRUE(j["result"].is_null());
}

TEST(IocmCommand, CallbackCarriesStatusAndResultOrReason) {
  core::Command c;
  c.id = "cmd-2";
  c.spec.deviceId = "dev-2";
  c.status = core::CommandStatus::Successful;
  c.result = R"({"resultCode":"SUCCESSFUL","mid":7,"result":0})";
  EXPECT_EQ(iocmCommandCallback(core::toJson(c)),
            json::parse(R"({"deviceId":"dev-2","commandId":"cmd-2","result":{"resultCode":"SUCCESSFUL",
                           "resultDetail":{"resultCode":"SUCCESSFUL","mid":7,"result":0}}})"));
  c.status = core::CommandStatus::Expired;
  c.result.clear();
  c.reason = "not delivered within expireTime";
  EXPECT_EQ(iocmCommandCallback(core::toJson(c))["result"],
            json::parse(R"({"resultCode":"EXPIRED","resultDetail":"not delivered within expireTime"})"));
  c.status = core::CommandStatus::Pending;
  c.reason.clear();
  EXPECT_EQ(iocmCommandCallback(core::toJson(c))["result"], json::parse(R"({"resultCode":"PENDING","resultDetail":null})"));
}

TEST(IocmDataChanged, DecodedWithTheProfileOneNotificationPerService) {
  core::Product product{"lamps", "Lamps", "oceanconnect", {{"codecProfile", kProfile}}, {}};
  core::Device device;
  device.id = "dev-9";
  const auto t = at(2026, 12, 3, 7, 0, 0);
  auto out = iocmDataChanged(device, product, {0x01, 0x01}, t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], json::parse(R"({"notifyType":"deviceDataChanged","requestId":null,"deviceId":"dev-9",
      "gatewayId":"dev-9","service":{"serviceId":"LightControl","serviceType":"LightControl",
      "data":{"light":1},"eventTime":"20261203T070000Z"}})"));
  out = iocmDataChanged(device, product, {0x00, 0xFF, 0x38}, t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["service"]["data"]["temperature"], -200);
  EXPECT_TRUE(iocmDataChanged(device, product, {0x03, 0x12, 0x34, 0x00}, t).empty()) << "a command response";
  EXPECT_TRUE(iocmDataChanged(device, product, {0x07, 0x00}, t).empty()) << "an unknown message id";
  EXPECT_TRUE(iocmDataChanged(device, product, {0x00, 0xFF}, t).empty()) << "truncated";
}

TEST(IocmDataChanged, RawDataWithoutAProfile) {
  core::Product product{"raw", "Raw", "oceanconnect", json::object(), {}};
  core::Device device;
  device.id = "dev-r";
  auto out = iocmDataChanged(device, product, {0xDE, 0xAD}, at(2026, 1, 1, 0, 0, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["service"]["serviceId"], "RawData");
  EXPECT_EQ(out[0]["service"]["data"], json::parse(R"({"rawData":"3q0="})"));
}

// --- the routes over an in-memory platform ---

class IocmRoutes : public ::testing::Test {
 protected:
  IocmRoutes() : iocm_(platform_, [this](const std::string& url, const std::string& body) {
                   posts_.emplace_back(url, json::parse(body));
                 }) {
    clock_.freeze();
    addIocmRoutes(router_, iocm_);
    EXPECT_TRUE(platform_.createProduct({"lamps", "Lamps", "oceanconnect",
                                         {{"appId", "app-lamps"}, {"appSecret", "s3cret"}, {"codecProfile", kProfile}},
                                         {}}));
    EXPECT_TRUE(platform_.createProduct({"raw", "Raw", "oceanconnect", {{"appSecret", "raw-secret"}}, {}}));
    core::Device d;
    d.id = "lamp-1";
    d.productId = "lamps";
    d.identifiers = {{"nodeId", "lamp-1"}};
    EXPECT_TRUE(platform_.createDevice(d));
    d.id = "raw-1";
    d.productId = "raw";
    d.identifiers = {{"nodeId", "raw-1"}};
    EXPECT_TRUE(platform_.createDevice(d));
  }

  http::ApiResponse call(const std::string& method, const std::string& target, const std::string& body = {},
                         std::map<std::string, std::string> headers = {}) {
    http::ApiRequest r;
    r.method = method;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    r.headers = std::move(headers);
    return router_.handle(r);
  }
  std::string login(const std::string& appId = "app-lamps", const std::string& secret = "s3cret") {
    auto r = call("POST", "/iocm/app/sec/v1.1.0/login", "appId=" + appId + "&secret=" + secret);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["accessToken"].get<std::string>();
  }
  http::ApiResponse authed(const std::string& method, const std::string& target, const json& body = nullptr,
                           const std::string& app = "app-lamps") {
    if (!tokens_.contains(app)) tokens_[app] = login(app, app == "app-lamps" ? "s3cret" : "raw-secret");
    return call(method, target, body.is_null() ? std::string{} : body.dump(),
                {{"app_key", app}, {"authorization", "Bearer " + tokens_[app]}});
  }
  static json parsed(const http::ApiResponse& r) { return json::parse(r.body); }
  std::vector<json> postsTo(const std::string& url) const {
    std::vector<json> out;
    for (const auto& [u, b] : posts_)
      if (u == url) out.push_back(b);
    return out;
  }

  core::PlatformClock clock_;
  core::Platform platform_{clock_, nullptr};
  std::vector<std::pair<std::string, json>> posts_;
  IocmService iocm_;
  http::Router router_;
  std::map<std::string, std::string> tokens_;
};

TEST_F(IocmRoutes, LoginGivesTokensForAnHourOfPlatformTime) {
  auto r = call("POST", "/iocm/app/sec/v1.1.0/login", "appId=app-lamps&secret=s3cret");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto j = parsed(r);
  EXPECT_EQ(j["expiresIn"], 3600);
  EXPECT_EQ(j["tokenType"], "Bearer");
  EXPECT_FALSE(j["refreshToken"].get<std::string>().empty());
  const std::map<std::string, std::string> headers = {{"app_key", "app-lamps"},
                                                      {"authorization", "Bearer " + j["accessToken"].get<std::string>()}};
  EXPECT_EQ(call("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", {}, headers).status, 200);
  clock_.advance(3599s);
  EXPECT_EQ(call("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", {}, headers).status, 200);
  clock_.advance(1s);
  r = call("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", {}, headers);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(parsed(r)["error_code"], "1010005");

  // The refresh token gives a fresh pair once; the app id without a keys.appId is the product id.
  r = call("POST", "/iocm/app/sec/v1.1.0/refreshToken",
           json{{"appId", "app-lamps"}, {"secret", "s3cret"}, {"refreshToken", j["refreshToken"]}}.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(parsed(r)["accessToken"], j["accessToken"]);
  r = call("POST", "/iocm/app/sec/v1.1.0/refreshToken",
           json{{"appId", "app-lamps"}, {"secret", "s3cret"}, {"refreshToken", j["refreshToken"]}}.dump());
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(call("POST", "/iocm/app/sec/v1.1.0/login", "appId=raw&secret=raw-secret").status, 200);
}

TEST_F(IocmRoutes, BadLoginsAndBadTokensAreRefusedWithHuaweiCodes) {
  auto r = call("POST", "/iocm/app/sec/v1.1.0/login", "appId=app-lamps&secret=wrong");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parsed(r), json::parse(R"({"error_code":"100208","error_desc":"AppId or secret is not right."})"));
  EXPECT_EQ(parsed(call("POST", "/iocm/app/sec/v1.1.0/login", "appId=nobody&secret=s3cret"))["error_code"], "100208");
  EXPECT_EQ(parsed(call("POST", "/iocm/app/sec/v1.1.0/login", "appId=app-lamps"))["error_code"], "100022");
  const auto token = login();
  for (const auto& headers : std::vector<std::map<std::string, std::string>>{
           {},
           {{"app_key", "app-lamps"}},
           {{"authorization", "Bearer " + token}},
           {{"app_key", "app-lamps"}, {"authorization", "Bearer nope"}},
           {{"app_key", "raw"}, {"authorization", "Bearer " + token}},
           {{"app_key", "app-lamps"}, {"authorization", token}}}) {
    r = call("POST", "/iocm/app/sub/v1.2.0/subscriptions", R"({"notifyType":"commandRsp","callbackUrl":"http://h/"})",
             headers);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(parsed(r)["error_code"], "1010005");
  }
}

TEST_F(IocmRoutes, DeviceCredentialsRegisterADeviceInTheAppsProduct) {
  auto r = authed("POST", "/iocm/app/reg/v1.1.0/deviceCredentials",
                  {{"nodeId", "node-a"},
                   {"verifyCode", "vc-a"},
                   {"psk", "00112233445566778899aabbccddeeff"},
                   {"timeout", 0},
                   {"deviceInfo", {{"name", "Meter A"}, {"manufacturerId", "Huawei"}, {"model", "NBIoT"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = parsed(r);
  EXPECT_EQ(j["verifyCode"], "vc-a");
  EXPECT_EQ(j["timeout"], 0);
  EXPECT_EQ(j["psk"], "00112233445566778899aabbccddeeff");
  auto device = platform_.device(j["deviceId"]);
  ASSERT_TRUE(device);
  EXPECT_EQ(device->productId, "lamps");
  EXPECT_EQ(device->name, "Meter A");
  EXPECT_EQ(device->identifiers["nodeId"], "node-a");
  EXPECT_EQ(device->identifiers["verifyCode"], "vc-a");
  EXPECT_EQ(device->identifiers["manufacturerId"], "Huawei");
  EXPECT_EQ(device->secrets["psk"], "00112233445566778899aabbccddeeff");

  // Defaults: verifyCode = nodeId, a generated 16-byte PSK, timeout 180.
  r = authed("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", {{"nodeId", "node-b"}}, "raw");
  ASSERT_EQ(r.status, 200) << r.body;
  j = parsed(r);
  EXPECT_EQ(j["verifyCode"], "node-b");
  EXPECT_EQ(j["timeout"], 180);
  EXPECT_EQ(j["psk"].get<std::string>().size(), 32u);
  EXPECT_EQ(platform_.device(j["deviceId"])->productId, "raw");

  for (const auto& nodeId : {"node-a", "lamp-1"}) {
    r = authed("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", {{"nodeId", nodeId}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(parsed(r)["error_code"], "100416") << "nodeId " << nodeId << " is taken: " << r.body;
  }
  for (const auto& bad : {json{{"verifyCode", "x"}}, json{{"nodeId", 5}}, json{{"nodeId", "n"}, {"psk", "xyz"}},
                          json{{"nodeId", "n"}, {"timeout", -1}}, json{{"nodeId", "n"}, {"deviceInfo", 1}}}) {
    r = authed("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(parsed(r)["error_code"], "100022") << bad << " " << r.body;
  }
  EXPECT_FALSE(platform_.findDevice("lamps", "nodeId", "n")) << "nothing created by a refused registration";
}

TEST_F(IocmRoutes, CommandsAreCreatedListedAndCanceledWithCallbacks) {
  const json body = {{"deviceId", "lamp-1"},
                     {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
                     {"callbackUrl", "http://app.example/cb"},
                     {"expireTime", 600}};
  auto r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", body);
  ASSERT_EQ(r.status, 201) << r.body;
  const auto created = parsed(r);
  const auto id = created["commandId"].get<std::string>();
  EXPECT_EQ(created["status"], "PENDING");
  EXPECT_EQ(created["appId"], "app-lamps");
  EXPECT_EQ(created["callbackUrl"], "http://app.example/cb");
  EXPECT_EQ(created["command"], body["command"]);
  EXPECT_EQ(created["creationTime"], iocmTime(clock_.now()));

  // A second command, created later, with no callback.
  clock_.advance(10s);
  auto second = body;
  second.erase("callbackUrl");
  second["command"]["paras"]["light"] = 0;
  ASSERT_EQ(authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", second).status, 201);

  auto list = parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?pageNo=0&pageSize=1&deviceId=lamp-1"));
  EXPECT_EQ(list["pagination"], json::parse(R"({"pageNo":0,"pageSize":1,"totalSize":2})"));
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["commandId"], id) << "oldest first";
  EXPECT_EQ(list["data"][0]["callbackUrl"], "http://app.example/cb") << "shown in lists too";
  list = parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?pageNo=1&pageSize=1"));
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["command"]["paras"]["light"], 0);
  list = parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?startTime=" + iocmTime(clock_.now())));
  EXPECT_EQ(list["pagination"]["totalSize"], 1);
  list = parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?endTime=" + iocmTime(clock_.now() - 5s)));
  EXPECT_EQ(list["pagination"]["totalSize"], 1);
  EXPECT_EQ(list["data"][0]["commandId"], id);
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?startTime=yesterday"))["error_code"], "100022");
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=raw-1"))["error_code"], "100403")
      << "another app's device";

  r = authed("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/" + id, {{"status", "CANCELED"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parsed(r)["status"], "CANCELED");
  r = authed("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/" + id, {{"status", "CANCELED"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parsed(r)["error_code"], "100435");
  EXPECT_EQ(parsed(authed("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/nope", {{"status", "CANCELED"}}))["error_code"],
            "100434");
  EXPECT_EQ(parsed(authed("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/" + id, {{"status", "SENT"}}))["error_code"],
            "100022");

  const auto callbacks = postsTo("http://app.example/cb");
  ASSERT_EQ(callbacks.size(), 2u) << "PENDING at creation, then CANCELED; the second command has no callback";
  EXPECT_EQ(callbacks[0], json::parse(R"({"deviceId":"lamp-1","commandId":")" + id +
                                      R"(","result":{"resultCode":"PENDING","resultDetail":null}})"));
  EXPECT_EQ(callbacks[1]["result"]["resultCode"], "CANCELED");
}

TEST_F(IocmRoutes, CommandStatusesFollowTheDeviceToSuccessWithCommandRsp) {
  ASSERT_EQ(authed("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                   {{"notifyType", "commandRsp"}, {"callbackUrl", "http://app.example/rsp"}})
                .status,
            201);
  platform_.deviceConnected("lamp-1", "coap", "127.0.0.1:5683");
  platform_.deviceReachable("lamp-1");
  auto r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
                  {{"deviceId", "lamp-1"},
                   {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
                   {"callbackUrl", "http://app.example/cb"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto id = parsed(r)["commandId"].get<std::string>();
  EXPECT_EQ(parsed(r)["status"], "SENT") << "an online device is sent the command at once";
  ASSERT_TRUE(platform_.commandDelivered(id));
  ASSERT_TRUE(platform_.commandCompleted(id, true, R"({"resultCode":"SUCCESSFUL","mid":1,"result":0})"));
  const auto callbacks = postsTo("http://app.example/cb");
  std::vector<std::string> codes;
  for (const auto& c : callbacks) codes.push_back(c["result"]["resultCode"]);
  EXPECT_EQ(codes, (std::vector<std::string>{"SENT", "DELIVERED", "SUCCESSFUL"}));
  EXPECT_EQ(callbacks.back()["result"]["resultDetail"]["mid"], 1);
  const auto rsp = postsTo("http://app.example/rsp");
  ASSERT_EQ(rsp.size(), 1u);
  EXPECT_EQ(rsp[0]["notifyType"], "commandRsp");
  EXPECT_EQ(rsp[0]["header"]["requestId"], id);
  EXPECT_EQ(rsp[0]["header"]["deviceId"], "lamp-1");
  EXPECT_EQ(rsp[0]["header"]["serviceType"], "LightControl");
  EXPECT_EQ(rsp[0]["header"]["method"], "SET_LIGHT");
  EXPECT_EQ(rsp[0]["body"]["result"], 0);

  // A codec failure is FAILED without a device answer: a callback, but no commandRsp.
  r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
             {{"deviceId", "lamp-1"},
              {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 0}}}}}});
  ASSERT_TRUE(platform_.commandCompleted(parsed(r)["commandId"], false, R"({"resultCode":"FAILED","resultDetail":"x"})"));
  EXPECT_EQ(postsTo("http://app.example/rsp").size(), 1u);
}

TEST_F(IocmRoutes, ImmediateCommandToAnOfflineDeviceFailsWithOneCallback) {
  auto r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
                  {{"deviceId", "lamp-1"},
                   {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
                   {"expireTime", 0},
                   {"callbackUrl", "http://app.example/cb"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(parsed(r)["status"], "FAILED");
  const auto callbacks = postsTo("http://app.example/cb");
  ASSERT_EQ(callbacks.size(), 1u);
  EXPECT_EQ(callbacks[0]["result"]["resultCode"], "FAILED");
  EXPECT_TRUE(callbacks[0]["result"]["resultDetail"].is_string()) << callbacks[0];
}

TEST_F(IocmRoutes, CommandsAreCheckedAgainstTheCodecProfile) {
  const auto send = [&](const json& command, const std::string& app = "app-lamps", const std::string& device = "lamp-1") {
    return authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", {{"deviceId", device}, {"command", command}}, app);
  };
  auto r = send({{"serviceId", "LightControl"}, {"method", "BLINK"}, {"paras", json::object()}});
  EXPECT_EQ(parsed(r)["error_code"], "100431");
  r = send({{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 2}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(parsed(r)["error_code"], "100022");
  EXPECT_NE(parsed(r)["error_desc"].get<std::string>().find("light"), std::string::npos) << r.body;
  EXPECT_EQ(parsed(send({{"serviceId", "LightControl"}}))["error_code"], "100022");
  EXPECT_EQ(parsed(send({{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}}, "app-lamps", "raw-1"))["error_code"],
            "100403");
  EXPECT_EQ(parsed(authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", {{"command", 1}}))["error_code"], "100022");
  r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
             {{"deviceId", "lamp-1"},
              {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
              {"callbackUrl", "ftp://x/"}});
  EXPECT_EQ(parsed(r)["error_code"], "100222");
  r = authed("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
             {{"deviceId", "lamp-1"},
              {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
              {"maxRetransmit", 4}});
  EXPECT_EQ(parsed(r)["error_code"], "100022");

  // Without a profile only RawData passes, as bytes.
  r = send({{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}, "raw", "raw-1");
  EXPECT_EQ(parsed(r)["error_code"], "100431");
  r = send({{"serviceId", "RawData"}, {"method", "RawData"}, {"paras", {{"rawData", "AQID"}}}}, "raw", "raw-1");
  ASSERT_EQ(r.status, 201) << r.body;
  auto c = platform_.command(parsed(r)["commandId"]);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->spec.binary);
  EXPECT_EQ(c->spec.payload, std::string("\x01\x02\x03", 3));
  EXPECT_EQ(parsed(r)["command"]["paras"]["rawData"], "AQID");
  r = send({{"serviceId", "RawData"}, {"method", "RawData"}, {"paras", {{"rawData", "!!"}}}}, "raw", "raw-1");
  EXPECT_EQ(parsed(r)["error_code"], "100022");
}

TEST_F(IocmRoutes, SubscriptionsDeliverDeviceDataAndLifecycleNotifications) {
  for (const auto* type : {"deviceDataChanged", "deviceAdded", "deviceDeleted", "deviceInfoChanged"}) {
    auto r = authed("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                    {{"notifyType", type}, {"callbackUrl", std::string("http://app.example/") + type}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(parsed(r)["notifyType"], type);
  }
  EXPECT_EQ(parsed(authed("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                          {{"notifyType", "serviceInfoChanged"}, {"callbackUrl", "http://h/"}}))["error_code"],
            "100022");
  EXPECT_EQ(parsed(authed("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                          {{"notifyType", "commandRsp"}, {"callbackUrl", "not a url"}}))["error_code"],
            "100222");

  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x01, 0x01}, "application/octet-stream");
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x03, 0x00, 0x01, 0x00}, "application/octet-stream");
  platform_.recordUplink("lamp-1", "coap", "/3/0/0", {0x01}, "application/octet-stream");
  platform_.recordUplink("raw-1", "coap", "/19/0/0", {0x01}, "application/octet-stream");  // another app's device
  auto data = postsTo("http://app.example/deviceDataChanged");
  ASSERT_EQ(data.size(), 1u) << "a command response, another path and another app's device notify nothing";
  EXPECT_EQ(data[0]["service"]["data"], json::parse(R"({"light":1})"));

  platform_.deviceConnected("lamp-1", "coap", "127.0.0.1:1");
  core::Device d;
  d.id = "lamp-2";
  d.productId = "lamps";
  d.identifiers = {{"nodeId", "node-2"}};
  ASSERT_TRUE(platform_.createDevice(d));
  ASSERT_TRUE(platform_.deleteDevice("lamp-2"));
  const auto info = postsTo("http://app.example/deviceInfoChanged");
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0]["deviceInfo"]["status"], "ONLINE");
  const auto added = postsTo("http://app.example/deviceAdded");
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0]["deviceId"], "lamp-2");
  EXPECT_EQ(added[0]["deviceInfo"]["nodeId"], "node-2");
  ASSERT_EQ(postsTo("http://app.example/deviceDeleted").size(), 1u);

  auto list = parsed(authed("GET", "/iocm/app/sub/v1.2.0/subscriptions?notifyType=deviceAdded"));
  EXPECT_EQ(list["totalCount"], 1);
  const auto id = list["subscriptions"][0]["subscriptionId"].get<std::string>();
  EXPECT_EQ(authed("GET", "/iocm/app/sub/v1.2.0/subscriptions/" + id).status, 200);
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/sub/v1.2.0/subscriptions"))["totalCount"], 4);
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/sub/v1.2.0/subscriptions", nullptr, "raw"))["totalCount"], 0)
      << "another app sees none of them";
  EXPECT_EQ(authed("DELETE", "/iocm/app/sub/v1.2.0/subscriptions/" + id).status, 204);
  EXPECT_EQ(authed("DELETE", "/iocm/app/sub/v1.2.0/subscriptions/" + id).status, 404);
  ASSERT_TRUE(platform_.createDevice(d));
  EXPECT_EQ(postsTo("http://app.example/deviceAdded").size(), 1u) << "unsubscribed";

  iocm_.reset();
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x01, 0x00}, "application/octet-stream");
  EXPECT_EQ(postsTo("http://app.example/deviceDataChanged").size(), 1u) << "a reset forgets subscriptions";
}

TEST_F(IocmRoutes, ASecondSubscriptionOfATypeReplacesTheFirst) {
  authed("POST", "/iocm/app/sub/v1.2.0/subscriptions", {{"notifyType", "deviceDataChanged"}, {"callbackUrl", "http://a/"}});
  authed("POST", "/iocm/app/sub/v1.2.0/subscriptions", {{"notifyType", "deviceDataChanged"}, {"callbackUrl", "http://b/"}});
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x01, 0x01}, "application/octet-stream");
  EXPECT_EQ(postsTo("http://a/").size(), 0u);
  EXPECT_EQ(postsTo("http://b/").size(), 1u);
}

TEST_F(IocmRoutes, RawDataWithoutAProfileNotifiesBase64) {
  authed("POST", "/iocm/app/sub/v1.2.0/subscriptions", {{"notifyType", "deviceDataChanged"}, {"callbackUrl", "http://r/"}},
         "raw");
  platform_.recordUplink("raw-1", "coaps", "/19/0/0", {0x68, 0x69}, "application/octet-stream");
  const auto data = postsTo("http://r/");
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["deviceId"], "raw-1");
  EXPECT_EQ(data[0]["service"]["serviceId"], "RawData");
  EXPECT_EQ(data[0]["service"]["data"]["rawData"], "aGk=");
}

TEST_F(IocmRoutes, DevicesAreListedQueriedAndDeleted) {
  auto r = authed("GET", "/iocm/app/dm/v1.4.0/devices");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = parsed(r);
  EXPECT_EQ(j["totalCount"], 1);
  ASSERT_EQ(j["devices"].size(), 1u);
  EXPECT_EQ(j["devices"][0]["deviceId"], "lamp-1");
  EXPECT_EQ(j["devices"][0]["deviceInfo"]["nodeId"], "lamp-1");
  EXPECT_EQ(j["devices"][0]["deviceInfo"]["status"], "OFFLINE");
  EXPECT_EQ(j["devices"][0]["createTime"], iocmTime(clock_.now()));

  platform_.deviceConnected("lamp-1", "coap", "127.0.0.1:1");
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/dm/v1.4.0/devices/lamp-1"))["deviceInfo"]["status"], "ONLINE");
  r = authed("GET", "/iocm/app/dm/v1.4.0/devices/raw-1");
  EXPECT_EQ(r.status, 404) << "another app's device";
  EXPECT_EQ(parsed(r)["error_code"], "100403");
  EXPECT_EQ(authed("DELETE", "/iocm/app/dm/v1.4.0/devices/raw-1").status, 404);
  EXPECT_TRUE(platform_.device("raw-1"));
  EXPECT_EQ(authed("DELETE", "/iocm/app/dm/v1.4.0/devices/lamp-1").status, 204);
  EXPECT_FALSE(platform_.device("lamp-1"));
  EXPECT_EQ(authed("GET", "/iocm/app/dm/v1.4.0/devices/lamp-1").status, 404);
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/dm/v1.4.0/devices"))["totalCount"], 0);
}

TEST_F(IocmRoutes, DataHistoryIsDecodedNewestFirst) {
  const auto t0 = clock_.now();
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x01, 0x01}, "application/octet-stream");
  clock_.advance(10s);
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x03, 0x00, 0x01, 0x00}, "application/octet-stream");
  platform_.recordUplink("lamp-1", "coap", "/19/0/0", {0x00, 0x00, 0x15}, "application/octet-stream");
  auto r = authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=lamp-1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = parsed(r);
  EXPECT_EQ(j["totalCount"], 2) << "the command response is no data";
  ASSERT_EQ(j["deviceDataHistoryDTOs"].size(), 2u);
  EXPECT_EQ(j["deviceDataHistoryDTOs"][0], json({{"deviceId", "lamp-1"},
                                                  {"gatewayId", "lamp-1"},
                                                  {"appId", "app-lamps"},
                                                  {"serviceId", "Sensor"},
                                                  {"data", {{"temperature", 21}}},
                                                  {"timestamp", iocmTime(t0 + 10s)}}));
  EXPECT_EQ(j["deviceDataHistoryDTOs"][1]["serviceId"], "LightControl");
  j = parsed(authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=lamp-1&serviceId=LightControl"));
  EXPECT_EQ(j["totalCount"], 1);
  j = parsed(authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=lamp-1&startTime=" + iocmTime(t0 + 5s)));
  EXPECT_EQ(j["totalCount"], 1);
  j = parsed(authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=lamp-1&pageNo=1&pageSize=1"));
  ASSERT_EQ(j["deviceDataHistoryDTOs"].size(), 1u);
  EXPECT_EQ(j["deviceDataHistoryDTOs"][0]["serviceId"], "LightControl");
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory"))["error_code"], "100022");
  EXPECT_EQ(parsed(authed("GET", "/iocm/app/data/v1.1.0/deviceDataHistory?deviceId=raw-1"))["error_code"], "100403");
}

}  // namespace
}  // namespace fc::server::dialects
