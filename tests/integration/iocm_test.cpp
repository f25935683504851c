// OceanConnect's northbound IoCM API end to end: the real server, an application that logs in
// with appId/secret, registers a device, creates, lists and cancels commands, and receives the
// command callbacks and subscription notifications on a local HTTP receiver; last, an LwM2M device
// (client::OceanConnectDevice) whose reports and command answers reach the application.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "client/dialects/oceanconnect/oceanconnect_device.hpp"
#include "protocols/coap/message.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/oceanconnect_profiles.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;

const char* const kAppId = "lamps-app";
const char* const kSecret = "s3cret-app";

struct Reply {
  int status = 0;
  json body;
};

class Iocm : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = call(server_, "POST", "/api/v1/products",
                  {{"id", "lamps"}, {"dialect", "oceanconnect"}, {"keys", {{"appId", kAppId}, {"appSecret", kSecret}}}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  Reply request(const std::string& method, const std::string& target, const std::string& body,
                const std::vector<std::string>& headers, const std::string& contentType = "application/json") {
    auto r = httpRequest(server_.httpPort(), method, target, body, headers, contentType);
    return {r.status, json::parse(r.body, nullptr, false)};
  }
  Reply login(const std::string& secret = kSecret) {
    return request("POST", "/iocm/app/sec/v1.1.0/login", std::string("appId=") + kAppId + "&secret=" + secret, {},
                   "application/x-www-form-urlencoded");
  }
  /// A request as the logged-in application.
  Reply app(const std::string& method, const std::string& target, const json& body = nullptr) {
    if (token_.empty()) {
      auto r = login();
      EXPECT_EQ(r.status, 200) << r.body;
      token_ = r.body.value("accessToken", "");
    }
    return request(method, target, body.is_null() ? std::string{} : body.dump(),
                   {std::string("app_key: ") + kAppId, "Authorization: Bearer " + token_});
  }
  /// A device of the app, registered through the API (no deviceCredentials: that needs nothing of it).
  void createDevice(const std::string& id) {
    auto r = call(server_, "POST", "/api/v1/devices",
                  {{"id", id}, {"productId", "lamps"}, {"identifiers", {{"nodeId", id}}}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  ServerProcess server_;
  std::string token_;
};

TEST_F(Iocm, LoginWithTheProductsAppSecret) {
  auto r = login();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["expiresIn"], 3600);
  EXPECT_EQ(r.body["tokenType"], "Bearer");
  EXPECT_TRUE(r.body["accessToken"].is_string());
  EXPECT_TRUE(r.body["refreshToken"].is_string());

  r = login("wrong");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, json::parse(R"({"error_code":"100208","error_desc":"AppId or secret is not right."})"));
}

TEST_F(Iocm, RoutesNeedAppKeyAndAValidToken) {
  auto r = request("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", "", {});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["error_code"], "1010005");
  r = request("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", "",
              {std::string("app_key: ") + kAppId, "Authorization: Bearer not-a-token"});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["error_code"], "1010005");
  EXPECT_EQ(app("GET", "/iocm/app/cmd/v1.4.0/deviceCommands").status, 200);

  // An hour later on the platform clock the token has expired.
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 3600}}).status, 200);
  r = app("GET", "/iocm/app/cmd/v1.4.0/deviceCommands");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body["error_code"], "1010005");
}

TEST_F(Iocm, DeviceCredentialsCreateADeviceOfTheAppsProduct) {
  auto r = app("POST", "/iocm/app/reg/v1.1.0/deviceCredentials",
               {{"nodeId", "20201112_client"}, {"psk", "0102030405060708090a0b0c0d0e0f10"}, {"timeout", 0},
                {"deviceInfo", {{"name", "LiteOS demo"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["verifyCode"], "20201112_client");
  EXPECT_EQ(r.body["psk"], "0102030405060708090a0b0c0d0e0f10");
  const auto id = r.body["deviceId"].get<std::string>();
  auto device = call(server_, "GET", "/api/v1/devices/" + id);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.body["productId"], "lamps");
  EXPECT_EQ(device.body["name"], "LiteOS demo");
  EXPECT_EQ(device.body["identifiers"]["nodeId"], "20201112_client");
  EXPECT_EQ(device.body["secrets"]["psk"], "0102030405060708090a0b0c0d0e0f10");

  r = app("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", {{"nodeId", "20201112_client"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error_code"], "100416");
}

TEST_F(Iocm, DeviceCredentialsTimeoutDeletesADeviceThatNeverCameOnline) {
  const auto credentials = [&](const std::string& nodeId, int timeout) {
    auto r = app("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", {{"nodeId", nodeId}, {"timeout", timeout}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body["timeout"], timeout);
    return r.body.value("deviceId", "");
  };
  const auto idle = credentials("node-idle", 60);
  const auto active = credentials("node-active", 60);
  const auto forever = credentials("node-forever", 0);

  client::OceanConnectDeviceOptions options;
  options.coap = server_.coap();
  options.endpoint = "node-active";
  client::OceanConnectDevice device(options);
  auto reg = device.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  ASSERT_EQ(reg->code, coap::code::kCreated);
  ASSERT_TRUE(device.deregister());  // it came online once: that is the activation

  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 59}}).status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/" + idle).status, 200) << "not yet: 59 of 60 s";
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 2}}).status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/" + idle).status, 404) << "not online within its timeout";
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/" + active).status, 200);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/" + forever).status, 200) << "timeout 0: never deleted";
  EXPECT_NE(server_.log().find("did not come online within its deviceCredentials timeout"), std::string::npos);
  // The nodeId is free again.
  EXPECT_FALSE(credentials("node-idle", 60).empty());
}

TEST_F(Iocm, CommandsAreCreatedListedCanceledAndExpiredWithCallbacks) {
  HttpReceiver receiver;
  createDevice("lamp-1");
  const json raw = {{"serviceId", "RawData"}, {"method", "RawData"}, {"paras", {{"rawData", "AQ=="}}}};
  auto r = app("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
               {{"deviceId", "lamp-1"}, {"command", raw}, {"expireTime", 600}, {"callbackUrl", receiver.url("/cb/1")}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto first = r.body["commandId"].get<std::string>();
  EXPECT_EQ(r.body["status"], "PENDING") << "the device is offline: the command is cached";
  EXPECT_EQ(r.body["command"], raw);
  EXPECT_EQ(r.body["callbackUrl"], receiver.url("/cb/1"));
  r = app("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
          {{"deviceId", "lamp-1"}, {"command", raw}, {"expireTime", 60}, {"callbackUrl", receiver.url("/cb/2")}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto second = r.body["commandId"].get<std::string>();

  r = app("GET", "/iocm/app/cmd/v1.4.0/deviceCommands?deviceId=lamp-1&pageNo=0&pageSize=10");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["pagination"]["totalSize"], 2);
  ASSERT_EQ(r.body["data"].size(), 2u);
  EXPECT_EQ(r.body["data"][0]["commandId"], first);
  EXPECT_EQ(r.body["data"][1]["commandId"], second);

  r = app("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/" + first, {{"status", "CANCELED"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body["status"], "CANCELED");
  r = app("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/" + first, {{"status", "CANCELED"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["error_code"], "100435");

  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 61}}).status, 200);
  auto posts = receiver.waitFor(4);
  std::vector<std::string> firstCodes, secondCodes;
  for (const auto& p : posts) {
    EXPECT_EQ(p.method, "POST");
    const auto body = json::parse(p.body, nullptr, false);
    EXPECT_EQ(body["deviceId"], "lamp-1") << p.body;
    (p.target == "/cb/1" ? firstCodes : secondCodes).push_back(body["result"].value("resultCode", "?"));
    EXPECT_EQ(body["commandId"], p.target == "/cb/1" ? first : second);
  }
  EXPECT_EQ(firstCodes, (std::vector<std::string>{"PENDING", "CANCELED"}));
  EXPECT_EQ(secondCodes, (std::vector<std::string>{"PENDING", "EXPIRED"}));
}

TEST_F(Iocm, SubscriptionsNotifyDeviceLifecycleAndAResetForgetsThem) {
  HttpReceiver receiver;
  for (const auto* type : {"deviceAdded", "deviceDeleted"}) {
    auto r = app("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                 {{"notifyType", type}, {"callbackUrl", receiver.url(std::string("/") + type)}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_TRUE(r.body["subscriptionId"].is_string());
  }
  createDevice("lamp-2");
  ASSERT_EQ(call(server_, "DELETE", "/api/v1/devices/lamp-2").status, 200);
  auto posts = receiver.waitFor(2);
  ASSERT_EQ(posts.size(), 2u);
  // Two callback URLs are two deliveries that may overtake each other.
  std::sort(posts.begin(), posts.end(), [](const auto& a, const auto& b) { return a.target < b.target; });
  EXPECT_EQ(posts[0].target, "/deviceAdded");
  EXPECT_EQ(json::parse(posts[0].body)["deviceInfo"]["nodeId"], "lamp-2");
  EXPECT_EQ(posts[1].target, "/deviceDeleted");
  EXPECT_EQ(json::parse(posts[1].body)["deviceId"], "lamp-2");

  auto list = app("GET", "/iocm/app/sub/v1.2.0/subscriptions");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body["totalCount"], 2);

  // An admin reset forgets the app's subscriptions and tokens along with its product.
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/reset").status, 200);
  SetUp();
  EXPECT_EQ(app("GET", "/iocm/app/sub/v1.2.0/subscriptions").status, 401);
  token_.clear();
  EXPECT_EQ(app("GET", "/iocm/app/sub/v1.2.0/subscriptions").body["totalCount"], 0);
}

// --- end to end with an LwM2M device (client::OceanConnectDevice) ---

TEST_F(Iocm, ARegisteredLwm2mDeviceReportsDataAndAnswersACommand) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products",
                 {{"id", "led"},
                  {"dialect", "oceanconnect"},
                  {"keys", {{"appId", "led-app"}, {"appSecret", "led-secret"}, {"codecProfile", json::parse(kLedMidProfile)}}}})
                .status,
            201);
  auto r = request("POST", "/iocm/app/sec/v1.1.0/login", "appId=led-app&secret=led-secret", {},
                   "application/x-www-form-urlencoded");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::vector<std::string> auth = {"app_key: led-app", "Authorization: Bearer " + r.body["accessToken"].get<std::string>()};
  const auto as = [&](const std::string& method, const std::string& target, const json& body) {
    return request(method, target, body.dump(), auth);
  };
  HttpReceiver receiver;
  for (const auto* type : {"deviceDataChanged", "commandRsp"})
    ASSERT_EQ(as("POST", "/iocm/app/sub/v1.2.0/subscriptions",
                 {{"notifyType", type}, {"callbackUrl", receiver.url(std::string("/") + type)}})
                  .status,
              201);
  r = as("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", {{"nodeId", "863703030000042"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto deviceId = r.body["deviceId"].get<std::string>();

  client::OceanConnectDeviceOptions o;
  o.coap = server_.coap();
  o.endpoint = "863703030000042";
  client::OceanConnectDevice device(o);
  auto registered = device.registerDevice();
  ASSERT_TRUE(registered && registered->code == coap::code::kCreated);
  ASSERT_TRUE(device.waitObserved());

  // A report on /19/0/0 → deviceDataChanged, decoded with the product's profile.
  ASSERT_TRUE(device.report({0x00, 0xFF, 0x38}));
  auto posts = receiver.waitFor(1);
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].target, "/deviceDataChanged");
  auto data = json::parse(posts[0].body);
  EXPECT_EQ(data["notifyType"], "deviceDataChanged");
  EXPECT_EQ(data["deviceId"], deviceId);
  EXPECT_EQ(data["service"]["serviceId"], "Sensor");
  EXPECT_EQ(data["service"]["data"]["temperature"], -200);

  // A command → the device gets its bytes, answers with the profile's response → commandRsp and SUCCESSFUL.
  r = as("POST", "/iocm/app/cmd/v1.4.0/deviceCommands",
         {{"deviceId", deviceId},
          {"command", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
          {"callbackUrl", receiver.url("/cb")}});
  ASSERT_EQ(r.status, 201) << r.body;
  const auto commandId = r.body["commandId"].get<std::string>();
  auto bytes = device.nextCommand();
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 4u);
  EXPECT_EQ((*bytes)[0], 0x02);
  EXPECT_EQ((*bytes)[3], 0x01);
  ASSERT_TRUE(device.report({0x03, (*bytes)[1], (*bytes)[2], 0x00}));

  posts = receiver.waitFor(5);  // the report, SENT, DELIVERED, SUCCESSFUL, commandRsp (and nothing for the response as data)
  std::vector<std::string> codes;
  json rsp;
  for (const auto& p : posts) {
    if (p.target == "/cb") codes.push_back(json::parse(p.body)["result"].value("resultCode", "?"));
    if (p.target == "/commandRsp") rsp = json::parse(p.body);
    if (p.target == "/deviceDataChanged" && &p != &posts[0]) ADD_FAILURE() << "a command response is no data: " << p.body;
  }
  EXPECT_EQ(codes, (std::vector<std::string>{"SENT", "DELIVERED", "SUCCESSFUL"}));
  EXPECT_EQ(rsp["header"]["requestId"], commandId);
  EXPECT_EQ(rsp["header"]["method"], "SET_LIGHT");
  EXPECT_EQ(rsp["body"]["resultCode"], "SUCCESSFUL");
  EXPECT_EQ(rsp["body"]["result"], 0);
}

}  // namespace
}  // namespace fc::test
