// The oceanconnect dialect end to end: product and device rules through the REST API (codec
// profile validation, nodeId / verifyCode / PSK defaults and conflicts).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;

const json kLedProfile = json::parse(R"({
  "uplink": [{"serviceId": "LightControl", "properties": [{"name": "light", "type": "uint8", "offset": 0}]}],
  "commands": [{"serviceId": "LightControl", "method": "SET_LIGHT",
                "paras": [{"name": "light", "type": "uint8", "offset": 0, "min": 0, "max": 1}]}]
})");

class OceanConnectRules : public ::testing::Test {
 protected:
  ServerProcess server_;
};

TEST_F(OceanConnectRules, ProductCodecProfileIsValidatedOnCreate) {
  auto good = call(server_, "POST", "/api/v1/products",
                   {{"id", "led"}, {"dialect", "oceanconnect"}, {"keys", {{"codecProfile", kLedProfile}}}});
  ASSERT_EQ(good.status, 201) << good.body;
  EXPECT_EQ(good.body["keys"]["codecProfile"], kLedProfile);

  EXPECT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "raw"}, {"dialect", "oceanconnect"}}).status, 201)
      << "a profile is optional";

  json bad = kLedProfile;
  bad["uplink"][0]["properties"][0]["type"] = "u8";
  auto refused = call(server_, "POST", "/api/v1/products",
                      {{"id", "bad"}, {"dialect", "oceanconnect"}, {"keys", {{"codecProfile", bad}}}});
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.body["error"]["code"], "invalid");
  EXPECT_EQ(refused.body["error"]["message"].get<std::string>().rfind("keys.codecProfile: /uplink/0/properties/0/type", 0), 0u)
      << refused.body;

  auto notObject = call(server_, "POST", "/api/v1/products",
                        {{"id", "bad2"}, {"dialect", "oceanconnect"}, {"keys", {{"codecProfile", "text"}}}});
  EXPECT_EQ(notObject.status, 422) << notObject.body;
  EXPECT_EQ(call(server_, "GET", "/api/v1/products/bad").status, 404);

  // Fixtures go through the same rules.
  auto fixtures = call(server_, "POST", "/api/v1/admin/fixtures",
                       {{"products", {{{"id", "bad3"}, {"dialect", "oceanconnect"}, {"keys", {{"codecProfile", bad}}}}}},
                        {"devices", json::array()}});
  EXPECT_EQ(fixtures.status, 422);
  EXPECT_EQ(fixtures.body["products"], 0);
}

TEST_F(OceanConnectRules, DeviceDefaultsAndConflicts) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "led"}, {"dialect", "oceanconnect"}}).status, 201);
  ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "led2"}, {"dialect", "oceanconnect"}}).status, 201);

  auto d = call(server_, "POST", "/api/v1/devices", {{"id", "lamp-1"}, {"productId", "led"}});
  ASSERT_EQ(d.status, 201) << d.body;
  EXPECT_EQ(d.body["identifiers"]["nodeId"], "lamp-1") << "nodeId defaults to the device id";
  EXPECT_EQ(d.body["identifiers"]["verifyCode"], "lamp-1") << "verifyCode defaults to the nodeId";
  const auto psk = d.body["secrets"]["psk"].get<std::string>();
  EXPECT_EQ(psk.size(), 32u) << "16 random bytes as hex";
  EXPECT_EQ(psk.find_first_not_of("0123456789abcdef"), std::string::npos) << psk;

  auto given = call(server_, "POST", "/api/v1/devices",
                    {{"id", "lamp-2"},
                     {"productId", "led"},
                     {"identifiers", {{"nodeId", "863703030000001"}, {"verifyCode", "VC1"}, {"pskIdentity", "id-2"}}},
                     {"secrets", {{"psk", "00112233445566778899AABBCCDDEEFF"}}}});
  ASSERT_EQ(given.status, 201) << given.body;
  EXPECT_EQ(given.body["identifiers"]["verifyCode"], "VC1");
  EXPECT_EQ(given.body["secrets"]["psk"], "00112233445566778899AABBCCDDEEFF");

  // nodeId is unique among all oceanconnect products, not just one.
  auto clash = call(server_, "POST", "/api/v1/devices",
                    {{"id", "other"}, {"productId", "led2"}, {"identifiers", {{"nodeId", "863703030000001"}}}});
  EXPECT_EQ(clash.status, 409) << clash.body;
  EXPECT_EQ(clash.body["error"]["code"], "conflict");

  for (const json& secrets : {json{{"psk", "xyz1"}}, json{{"psk", "abc"}}, json{{"psk", ""}}, json{{"psk", 5}}}) {
    auto r = call(server_, "POST", "/api/v1/devices", {{"id", "p"}, {"productId", "led"}, {"secrets", secrets}});
    EXPECT_EQ(r.status, 422) << secrets.dump() << " " << r.body;
  }
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "n"}, {"productId", "led"}, {"identifiers", {{"nodeId", std::string(253, 'a')}}}})
                .status,
            422);
  EXPECT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "n"}, {"productId", "led"}, {"identifiers", {{"nodeId", 7}}}})
                .status,
            422);

  // A change keeps the rules: no stealing another's nodeId, no bad PSK; a PSK dropped is regenerated.
  EXPECT_EQ(call(server_, "PATCH", "/api/v1/devices/lamp-1", {{"identifiers", {{"nodeId", "863703030000001"}}}}).status,
            409);
  EXPECT_EQ(call(server_, "PATCH", "/api/v1/devices/lamp-1", {{"secrets", {{"psk", "zz"}}}}).status, 422);
  auto same = call(server_, "PATCH", "/api/v1/devices/lamp-2", {{"name", "renamed"}});
  EXPECT_EQ(same.status, 200) << "a device does not conflict with itself: " << same.body;
  auto renamed = call(server_, "PATCH", "/api/v1/devices/lamp-1", {{"identifiers", {{"nodeId", "node-9"}}}, {"secrets", json::object()}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.body["identifiers"]["verifyCode"], "node-9");
  EXPECT_EQ(renamed.body["secrets"]["psk"].get<std::string>().size(), 32u);
}

}  // namespace
}  // namespace fc::test
