// The LwM2M northbound API a device team expects beyond read/write/execute/observe: the
// registration as the client made it (version, binding), Create and Delete of object instances,
// Write-Attributes, and the LwM2M 1.1 composite operations — the real binary against the client
// library's LwM2M device (client::OceanConnectDevice), which serves them as a client would.
//
// Mutations these tests are meant to kill:
//   - needsVersion11 comparing with "1.1" the wrong way round (composite to a 1.0 client goes out; checked by hand)
//   - the Write-Attributes route skipping checkAttributes (pmin > pmax reaches the device)
//   - Create answering 200, or without the location read from Location-Path
//   - the device not sending its Update after Create/Delete (the registration's objects stay stale)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <thread>

#include "client/dialects/oceanconnect/oceanconnect_device.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/lwm2m/tlv.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;

class Lwm2mApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "meter"}, {"dialect", "oceanconnect"}}).status, 201);
    for (const char* id : {"m-10", "m-11"})
      ASSERT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", id}, {"productId", "meter"}}).status, 201);
  }
  /// Device `id` (nodeId = id) registered with LwM2M `version`, serving /3/0 and object 19 without instances.
  std::unique_ptr<client::OceanConnectDevice> online(const std::string& id, const std::string& version,
                                                     const std::string& binding = "U") {
    client::OceanConnectDeviceOptions o;
    o.coap = server_.coap();
    o.endpoint = id;
    o.version = version;
    o.binding = binding;
    o.objects = "</>;rt=\"oma.lwm2m\",</3/0>,</19>";
    auto d = std::make_unique<client::OceanConnectDevice>(o);
    d->setResource("3/0/0", "Huawei");
    d->setResource("3/0/1", "NB-IoT");
    d->setResource("3/0/7", "3300");
    d->setResource("3/0/14", "+01");
    auto r = d->registerDevice();
    EXPECT_TRUE(r && r->code == coap::code::kCreated) << (r ? coap::codeName(r->code) : r.error().message());
    return d;
  }
  JsonReply api(const std::string& method, const std::string& deviceId, const std::string& rest,
                const json& body = nullptr) {
    return call(server_, method, "/api/v1/devices/" + deviceId + "/lwm2m" + rest, body);
  }
  /// Polls the registration until `ready` holds for it (the device's Update is asynchronous).
  json waitRegistration(const std::string& id, const std::function<bool(const json&)>& ready) {
    json reg;
    for (int i = 0; i < 150; ++i) {
      reg = api("GET", id, "").body;
      if (ready(reg)) break;
      std::this_thread::sleep_for(20ms);
    }
    return reg;
  }
  static json instancesOf(const json& registration, int object) {
    for (const auto& o : registration["objects"])
      if (o["id"] == object) return o["instances"];
    return nullptr;
  }

  ServerProcess server_;
};

TEST_F(Lwm2mApi, TheRegistrationShowsVersionAndBinding) {
  auto d10 = online("m-10", "1.0");
  auto d11 = online("m-11", "1.1", "UQ");
  auto r10 = api("GET", "m-10", "");
  ASSERT_EQ(r10.status, 200) << r10.body;
  EXPECT_EQ(r10.body["version"], "1.0");
  EXPECT_EQ(r10.body["binding"], "U");
  EXPECT_EQ(r10.body["queueMode"], false);
  EXPECT_EQ(r10.body["endpoint"], "m-10");
  EXPECT_EQ(r10.body["transport"], "coap");
  EXPECT_EQ(r10.body["lifetime"], 86400);
  EXPECT_EQ(r10.body["location"], d10->location());
  EXPECT_EQ(instancesOf(r10.body, 3), json::array({0}));
  EXPECT_EQ(instancesOf(r10.body, 19), json::array());
  auto r11 = api("GET", "m-11", "");
  ASSERT_EQ(r11.status, 200) << r11.body;
  EXPECT_EQ(r11.body["version"], "1.1");
  EXPECT_EQ(r11.body["binding"], "UQ");
  EXPECT_EQ(r11.body["queueMode"], true);

  ASSERT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "idle"}, {"productId", "meter"}}).status, 201);
  EXPECT_EQ(api("GET", "idle", "").status, 409) << "not registered";
  EXPECT_EQ(api("GET", "nobody", "").status, 404);
}

TEST_F(Lwm2mApi, CreateAndDeleteAnInstance) {
  auto d = online("m-10", "1.0");
  // Object 19 has no instance: Create one with OMA TLV, as LwM2M 1.0 carries it.
  const std::vector<lwm2m::TlvEntry> instance0 = {
      lwm2m::TlvEntry::objectInstance(0, {lwm2m::TlvEntry::resource(0, {'h', 'i'})})};
  const auto tlv = lwm2m::encodeTlv(instance0);
  auto created = api("POST", "m-10", "/19", {{"tlvBase64", base64Encode(tlv)}});
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(created.body["code"], "2.01 Created");
  EXPECT_EQ(created.body["location"], "/19/0");
  EXPECT_EQ(d->resource("19/0/0"), "hi");
  // The device tells the server about its new instance with an Update (§5.3.2).
  auto reg = waitRegistration("m-10", [](const json& r) { return instancesOf(r, 19) == json::array({0}); });
  EXPECT_EQ(instancesOf(reg, 19), json::array({0})) << reg.dump();

  // Without an instance id the device picks the lowest free one; SenML JSON works as well.
  const std::vector<lwm2m::TlvEntry> bare = {lwm2m::TlvEntry::resource(0, {'x'})};
  auto second = api("POST", "m-10", "/19", {{"tlvBase64", base64Encode(lwm2m::encodeTlv(bare))}});
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(second.body["location"], "/19/1");
  auto senml = api("POST", "m-10", "/19", {{"senml", {{{"n", "/19/5/0"}, {"vs", "five"}}}}});
  ASSERT_EQ(senml.status, 201) << senml.body;
  EXPECT_EQ(senml.body["location"], "/19/5");
  EXPECT_EQ(d->resource("19/5/0"), "five");
  auto read = api("GET", "m-10", "/19/5/0");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.body["value"], "five");

  auto again = api("POST", "m-10", "/19", {{"tlvBase64", base64Encode(tlv)}});
  EXPECT_EQ(again.status, 502) << "the instance exists: " << again.body;
  EXPECT_EQ(again.body["code"], "4.00 Bad Request");
  EXPECT_EQ(api("POST", "m-10", "/19", {{"tlvBase64", "AAAA"}}).status, 422) << "not OMA TLV";
  EXPECT_EQ(api("POST", "m-10", "/19", {{"text", "x"}}).status, 422);
  EXPECT_EQ(api("POST", "m-10", "/19", {{"senml", {{{"v", 1}}}}}).status, 422) << "a SenML record needs a name";
  auto otherObject = api("POST", "m-10", "/19", {{"senml", {{{"n", "/3/7/0"}, {"vs", "x"}}}}});
  EXPECT_EQ(otherObject.body["code"], "4.00 Bad Request") << "the device refuses records of another object";

  auto deleted = api("DELETE", "m-10", "/19/0");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.body["code"], "2.02 Deleted");
  EXPECT_FALSE(d->resource("19/0/0"));
  reg = waitRegistration("m-10", [](const json& r) { return instancesOf(r, 19) == json::array({1, 5}); });
  EXPECT_EQ(instancesOf(reg, 19), json::array({1, 5})) << reg.dump();
  auto gone = api("DELETE", "m-10", "/19/0");
  EXPECT_EQ(gone.status, 502);
  EXPECT_EQ(gone.body["code"], "4.04 Not Found");
  EXPECT_EQ(api("DELETE", "m-10", "/19/x").status, 422);
}

TEST_F(Lwm2mApi, WriteAttributesGoOutAsUriQueriesAndAreChecked) {
  auto d = online("m-10", "1.0");
  auto written = api("PUT", "m-10", "/3/0/7/attributes?pmin=10&pmax=60&gt=20.5");
  ASSERT_EQ(written.status, 200) << written.body;
  EXPECT_EQ(written.body["code"], "2.04 Changed");
  EXPECT_EQ(d->attributes("3/0/7"),
            (std::map<std::string, std::string>{{"pmin", "10"}, {"pmax", "60"}, {"gt", "20.5"}}));
  // The device shows them in Discover, as a client does.
  auto discover = api("GET", "m-10", "/3/0/7/discover");
  ASSERT_EQ(discover.status, 200) << discover.body;
  EXPECT_EQ(discover.body["value"], "</3/0/7>;gt=20.5;pmax=60;pmin=10");

  // A JSON body works as well; null removes an attribute (sent as the bare name).
  auto removed = api("PUT", "m-10", "/3/0/7/attributes", {{"pmin", nullptr}, {"lt", 5}});
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(d->attributes("3/0/7"), (std::map<std::string, std::string>{{"pmax", "60"}, {"gt", "20.5"}, {"lt", "5"}}));
  EXPECT_EQ(api("PUT", "m-10", "/3/0/attributes?pmin=1").status, 200) << "periods on an instance";
  EXPECT_EQ(d->attributes("3/0"), (std::map<std::string, std::string>{{"pmin", "1"}}));

  // What the specification forbids never reaches the device.
  for (const std::string bad : {"/3/0/7/attributes?pmin=61&pmax=60", "/3/0/7/attributes?lt=10&gt=20&st=5",
                                "/3/0/attributes?gt=1", "/3/0/7/attributes?epmin=1", "/3/0/7/attributes?pmn=1",
                                "/3/0/7/attributes?pmin=-1", "/3/0/7/attributes?pmin=1&pmin=2"}) {
    auto r = api("PUT", "m-10", bad);
    EXPECT_EQ(r.status, 422) << bad << " " << r.body;
  }
  EXPECT_EQ(api("PUT", "m-10", "/3/0/7/attributes", {{"pmin", "10"}}).status, 422) << "a number, not a string";
  EXPECT_EQ(api("PUT", "m-10", "/3/0/7/attributes", json::object()).status, 422) << "nothing to write";
  EXPECT_EQ(d->attributes("3/0/7"), (std::map<std::string, std::string>{{"pmax", "60"}, {"gt", "20.5"}, {"lt", "5"}}));
  // The device checks against what it keeps: gt below the lt it has is its 4.00.
  auto refused = api("PUT", "m-10", "/3/0/7/attributes?gt=1");
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_EQ(refused.body["code"], "4.00 Bad Request");
  EXPECT_EQ(api("PUT", "m-10", "/3/0/99/attributes?pmin=1").body["code"], "4.04 Not Found");

  // The journal has the PUT as it went: Uri-Query options, no payload.
  bool seen = false;
  std::string summaries;
  const auto journal = call(server_, "GET", "/api/v1/devices/m-10/journal?limit=1000");
  for (const auto& e : journal.body["items"]) {
    seen = seen || e["summary"] == "CON 0.03 PUT /3/0/7?pmin=10&pmax=60&gt=20.5";
    summaries += "\n  " + e["summary"].get<std::string>();
  }
  EXPECT_TRUE(seen) << summaries;
}

TEST_F(Lwm2mApi, CompositeOperationsNeedAnLwm2m11Client) {
  auto d10 = online("m-10", "1.0");
  auto d11 = online("m-11", "1.1");
  const json read = {{"paths", {"/3/0/0", "/3/0/1"}}};
  auto refused = api("POST", "m-10", "/composite/read", read);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(refused.body["error"]["code"], "lwm2m_version");
  EXPECT_EQ(api("POST", "m-10", "/composite/write", {{"senml", {{{"n", "/3/0/14"}, {"vs", "+02"}}}}}).status, 409);

  auto values = api("POST", "m-11", "/composite/read", read);
  ASSERT_EQ(values.status, 200) << values.body;
  EXPECT_EQ(values.body["contentFormat"], 110);
  ASSERT_EQ(values.body["senml"].size(), 2u) << values.body;
  EXPECT_EQ(values.body["senml"][0]["name"], "/3/0/0");
  EXPECT_EQ(values.body["senml"][0]["value"], "Huawei");
  EXPECT_EQ(values.body["senml"][1]["value"], "NB-IoT");

  auto write = api("POST", "m-11", "/composite/write",
                   {{"senml", {{{"n", "/3/0/14"}, {"vs", "+02"}}, {{"n", "/3/0/0"}, {"vs", "Acme"}}}}});
  ASSERT_EQ(write.status, 200) << write.body;
  EXPECT_EQ(write.body["code"], "2.04 Changed");
  EXPECT_EQ(d11->resource("3/0/14"), "+02");
  EXPECT_EQ(d11->resource("3/0/0"), "Acme");

  EXPECT_EQ(api("POST", "m-11", "/composite/read", {{"paths", json::array()}}).status, 422);
  EXPECT_EQ(api("POST", "m-11", "/composite/read", {{"paths", {"3/0/0"}}}).status, 422) << "not absolute";
  EXPECT_EQ(api("POST", "m-11", "/composite/write", {{"senml", {{{"n", "/3/0"}, {"vs", "x"}}}}}).status, 422)
      << "records name resources";
  EXPECT_EQ(api("POST", "m-11", "/composite/write", {{"senml", {{{"n", "/3/0/0"}}}}}).status, 422)
      << "and carry values";
  auto missing = api("POST", "m-11", "/composite/read", {{"paths", {"/3/0/99"}}});
  EXPECT_EQ(missing.status, 502);
  EXPECT_EQ(missing.body["code"], "4.04 Not Found");
}

}  // namespace
}  // namespace fc::test
