// The oceanconnect dialect end to end: product and device rules through the REST API (codec
// profile validation, nodeId / verifyCode / PSK defaults and conflicts), and a LiteOS-like device
// (client::OceanConnectDevice) against the LwM2M server: registration life cycle on the admin
// clock, reports, commands (immediate, cached, failed, RST, timed out, queue mode), and the LwM2M
// northbound routes; the same over DTLS-PSK, where a session registers only its own device.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "client/dialects/oceanconnect/oceanconnect_device.hpp"
#include "protocols/common/base64.hpp"
#include "tests/integration/oceanconnect_profiles.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/websocket_client.hpp"

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

// --- the LwM2M server and the dialect ---

const json kMidProfile = json::parse(kLedMidProfile);

class OceanConnect : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(server_, "POST", "/api/v1/products",
                   {{"id", "led"}, {"dialect", "oceanconnect"}, {"keys", {{"codecProfile", kMidProfile}}}})
                  .status,
              201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "raw"}, {"dialect", "oceanconnect"}}).status, 201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/products", {{"id", "plain"}, {"dialect", "generic"}}).status, 201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                   {{"id", "lamp-1"}, {"productId", "led"}, {"identifiers", {{"nodeId", "863703030000001"}}}})
                  .status,
              201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices", {{"id", "raw-1"}, {"productId", "raw"}}).status, 201);
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                   {{"id", "gen-1"}, {"productId", "plain"}, {"identifiers", {{"nodeId", "gen-node"}}}})
                  .status,
              201);
  }

  client::OceanConnectDeviceOptions options(const std::string& nodeId, const std::string& binding = "U",
                                            std::uint32_t lifetime = 300) {
    client::OceanConnectDeviceOptions o;
    o.coap = server_.coap();
    o.endpoint = nodeId;
    o.binding = binding;
    o.lifetime = lifetime;
    return o;
  }
  /// A device registered and observed on /19/0/0.
  std::unique_ptr<client::OceanConnectDevice> online(const std::string& nodeId, const std::string& binding = "U") {
    auto d = std::make_unique<client::OceanConnectDevice>(options(nodeId, binding));
    auto r = d->registerDevice();
    EXPECT_TRUE(r && r->code == coap::code::kCreated) << (r ? coap::codeName(r->code) : r.error().message());
    EXPECT_TRUE(d->waitObserved()) << "the server observes /19/0/0 after Register";
    return d;
  }

  json device(const std::string& id) { return call(server_, "GET", "/api/v1/devices/" + id).body; }
  json command(const std::string& id) { return call(server_, "GET", "/api/v1/commands/" + id).body; }
  std::string send(const std::string& deviceId, const json& body) {
    auto r = call(server_, "POST", "/api/v1/devices/" + deviceId + "/commands", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.body.value("id", "");
  }
  bool waitStatus(const std::string& commandId, const std::string& want) {
    for (int i = 0; i < 150; ++i) {
      if (command(commandId).value("status", "?") == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << commandId << " is " << command(commandId).dump() << ", not " << want;
    return false;
  }
  bool waitOnline(const std::string& id, bool want) {
    for (int i = 0; i < 150; ++i) {
      if (device(id).value("online", !want) == want) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  json messages(const std::string& id) { return call(server_, "GET", "/api/v1/devices/" + id + "/messages").body["items"]; }
  json waitMessages(const std::string& id, std::size_t n) {
    for (int i = 0; i < 150; ++i) {
      auto items = messages(id);
      if (items.size() >= n) return items;
      std::this_thread::sleep_for(20ms);
    }
    return messages(id);
  }
  /// Registers endpoint raw-1 from `raw` by hand (CON POST /rd, optional extra query such as "lt=300");
  /// returns the answer and the server's CON GET /19/0/0 Observe 0 that follows it.
  struct RawRegistration {
    std::optional<coap::Message> created, observe;
  };
  static RawRegistration registerRaw(RawUdp& raw, const std::string& query = {}) {
    coap::Message reg{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = 0x100, .token = {1, 2}};
    reg.setUriPath("rd");
    reg.addString(coap::option::kUriQuery, "ep=raw-1");
    if (!query.empty()) reg.addString(coap::option::kUriQuery, query);
    reg.setUint(coap::option::kContentFormat, coap::format::kLinkFormat);
    reg.setPayload("</19/0>,</19/1>");
    raw.send(reg);
    RawRegistration r;
    r.created = raw.receive();
    if (r.created) r.observe = raw.receive();
    return r;
  }
  /// Accepts the observation of /19/0/0 as LiteOS does: 2.05 with Observe, no data yet.
  static void acceptObservation(RawUdp& raw, const coap::Message& observe) {
    coap::Message ack{.type = coap::Type::Acknowledgement, .code = coap::code::kContent, .messageId = observe.messageId,
                      .token = observe.token};
    ack.setUint(coap::option::kObserve, 1);
    raw.send(ack);
  }
  /// Polls the device's journal for an entry whose summary starts with `prefix`.
  std::optional<json> waitJournal(const std::string& id, const std::string& prefix) {
    for (int i = 0; i < 150; ++i) {
      const auto journal = call(server_, "GET", "/api/v1/devices/" + id + "/journal?limit=1000").body["items"];
      for (const auto& e : journal)
        if (e["summary"].get<std::string>().rfind(prefix, 0) == 0) return e;
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }
  /// The journal entry's bytes, as they went on the wire.
  static std::vector<std::uint8_t> journaledBytes(const json& entry) {
    return base64Decode(entry["rawBase64"].get<std::string>()).value_or(std::vector<std::uint8_t>{});
  }
  void advanceClock(double seconds) {
    ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", seconds}}).status, 200);
  }

  ServerProcess server_;
};

TEST_F(OceanConnect, RegistrationLifecycleOnThePlatformClock) {
  client::OceanConnectDevice d(options("863703030000001", "U", 300));
  auto reg = d.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  EXPECT_EQ(reg->code, coap::code::kCreated);
  EXPECT_EQ(d.location().rfind("rd/", 0), 0u) << d.location();
  EXPECT_GT(d.location().size(), 3u);
  ASSERT_TRUE(waitOnline("lamp-1", true));
  EXPECT_EQ(device("lamp-1")["transport"], "coap");

  auto up = d.update();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->code, coap::code::kChanged);

  // The lifetime runs from the last Update on the platform clock: 295 s later it is still there.
  advanceClock(295);  // what falls due is handled before the clock API answers: no wait needed
  EXPECT_TRUE(device("lamp-1")["online"].get<bool>());
  advanceClock(6);
  ASSERT_TRUE(waitOnline("lamp-1", false)) << "lifetime expiry takes the device offline";
  auto late = d.update();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->code, coap::code::kNotFound) << "an expired registration is unknown: register again";

  ASSERT_TRUE(d.registerDevice());
  ASSERT_TRUE(waitOnline("lamp-1", true));
  auto gone = d.deregister();
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->code, coap::code::kDeleted);
  ASSERT_TRUE(waitOnline("lamp-1", false));
  auto again = client::SyncCoapClient(server_.coap()).request(client::SyncCoapClient::makeRequest(coap::code::kDelete, "rd/nosuch"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, coap::code::kNotFound);

  // Every exchange is in the journal, as CoAP.
  auto journal = call(server_, "GET", "/api/v1/devices/lamp-1/journal?limit=100").body["items"];
  std::set<std::string> summaries;
  for (const auto& e : journal) {
    EXPECT_EQ(e["transport"], "coap");
    summaries.insert(e["summary"].get<std::string>());
  }
  auto has = [&](const std::string& prefix) {
    return std::any_of(summaries.begin(), summaries.end(), [&](const auto& s) { return s.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("CON 0.02 POST /rd?lwm2m=1.0&ep=863703030000001")) << json(summaries).dump();
  EXPECT_TRUE(has("ACK 2.01 Created"));
  EXPECT_TRUE(has("ACK 2.04 Changed"));
  EXPECT_TRUE(has("CON 0.04 DELETE /rd/"));
  EXPECT_TRUE(has("ACK 2.02 Deleted"));
  EXPECT_TRUE(has("CON 0.01 GET /19/0/0 Observe 0"));
}

TEST_F(OceanConnect, ACommandAnsweredWithRstFails) {
  RawUdp raw(server_.coapPort());
  auto [created, observe] = registerRaw(raw);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->code, coap::code::kCreated);
  ASSERT_TRUE(observe);  // CON GET /19/0/0 Observe 0: answered 2.05 with Observe
  EXPECT_EQ(observe->uriPath(), "19/0/0");
  acceptObservation(raw, *observe);

  const auto c = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x09})}});
  auto put = raw.receive();
  ASSERT_TRUE(put);
  EXPECT_EQ(put->code, coap::code::kPut);
  EXPECT_EQ(put->uriPath(), "19/1/0");
  EXPECT_EQ(put->getUint(coap::option::kContentFormat), coap::format::kOctetStream);
  EXPECT_EQ(put->payload, std::vector<std::uint8_t>{0x09});
  // The journal keeps the downlinks byte for byte as they went out: message id and token included.
  const auto observeOut = waitJournal("raw-1", "CON 0.01 GET /19/0/0 Observe 0");
  ASSERT_TRUE(observeOut);
  EXPECT_EQ(journaledBytes(*observeOut), coap::encode(*observe).value());
  const auto putOut = waitJournal("raw-1", "CON 0.03 PUT /19/1/0");
  ASSERT_TRUE(putOut);
  EXPECT_EQ(journaledBytes(*putOut), coap::encode(*put).value());
  raw.send(coap::Message{.type = coap::Type::Reset, .code = coap::code::kEmpty, .messageId = put->messageId});
  ASSERT_TRUE(waitStatus(c, "FAILED"));
  EXPECT_NE(command(c)["result"]["resultDetail"].get<std::string>().find("RST"), std::string::npos);
}

TEST_F(OceanConnect, AnUpdateFromANewAddressIsObservedThere) {
  RawUdp before(server_.coapPort());
  auto [created, observe] = registerRaw(before, "lt=300");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->code, coap::code::kCreated);
  ASSERT_TRUE(observe);
  acceptObservation(before, *observe);

  // NAT rebinding: the next Update comes from another port. The platform observes /19/0/0 there,
  // and the device's data flows again.
  RawUdp after(server_.coapPort());
  coap::Message update{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = 0x101, .token = {2}};
  update.setUriPath(created->locationPath());
  after.send(update);
  std::optional<coap::Message> changed, again;
  for (int i = 0; i < 2; ++i) {
    auto m = after.receive();
    ASSERT_TRUE(m) << "the Update's answer and a new observation";
    (m->type == coap::Type::Acknowledgement ? changed : again) = *m;
  }
  EXPECT_EQ(changed->code, coap::code::kChanged);
  EXPECT_EQ(again->uriPath(), "19/0/0");
  EXPECT_EQ(again->getUint(coap::option::kObserve), 0u);
  coap::Message data{.type = coap::Type::Acknowledgement, .code = coap::code::kContent, .messageId = again->messageId,
                     .token = again->token};
  data.setUint(coap::option::kObserve, 2);
  data.setUint(coap::option::kContentFormat, coap::format::kOctetStream);
  data.payload = {0x2A};
  after.send(data);
  auto items = waitMessages("raw-1", 1);
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["payloadBase64"], base64Encode(std::vector<std::uint8_t>{0x2A}));
}

TEST_F(OceanConnect, AnObservationTheDeviceRefusedIsTriedAgainOnItsNextUpdate) {
  RawUdp raw(server_.coapPort());
  auto [created, observe] = registerRaw(raw);
  ASSERT_TRUE(created);
  ASSERT_TRUE(observe);
  // Not ready yet (e.g. the application has not started): 4.04 ends the observation.
  raw.send(coap::Message{.type = coap::Type::Acknowledgement, .code = coap::code::kNotFound,
                         .messageId = observe->messageId, .token = observe->token});
  ASSERT_TRUE(waitJournal("raw-1", "ACK 4.04"));

  coap::Message update{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = 0x101, .token = {2}};
  update.setUriPath(created->locationPath());
  raw.send(update);
  std::optional<coap::Message> again;
  for (int i = 0; i < 2 && !again; ++i)
    if (auto m = raw.receive(); m && m->type == coap::Type::Confirmable) again = *m;
  ASSERT_TRUE(again) << "the Update brings a new observation of /19/0/0";
  EXPECT_EQ(again->uriPath(), "19/0/0");
  EXPECT_NE(again->token, observe->token);
}

TEST_F(OceanConnect, AdminResetForgetsRegistrations) {
  auto d = online("raw-1");
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/reset").status, 200);
  auto up = d->update();
  ASSERT_TRUE(up);
  EXPECT_EQ(up->code, coap::code::kNotFound) << "after a reset the registration is gone";
}

TEST_F(OceanConnect, UnknownEndpointsAreForbidden) {
  for (const std::string ep : {"nobody", "gen-node", "lamp-1"}) {  // unknown; a generic device; an id, not a nodeId
    client::OceanConnectDevice d(options(ep));
    auto r = d.registerDevice();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, coap::code::kForbidden) << ep;
  }
  EXPECT_NE(server_.log().find("refused (4.03)"), std::string::npos) << "a refused Register is logged";
  EXPECT_FALSE(device("lamp-1")["online"].get<bool>());

  // A malformed Register is 4.00, not a crash.
  client::SyncCoapClient c(server_.coap());
  auto bad = c.request(client::SyncCoapClient::makeRequest(coap::code::kPost, "rd?ep=863703030000001&lt=abc"));
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, coap::code::kBadRequest);
}

TEST_F(OceanConnect, ReportsWithoutAProfileAreRawData) {
  auto d = online("raw-1");
  ASSERT_TRUE(d->report({0x01, 0x02, 0xFF}));
  auto items = waitMessages("raw-1", 1);
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["topic"], "/19/0/0");
  EXPECT_EQ(items[0]["transport"], "coap");
  EXPECT_EQ(items[0]["contentType"], "application/octet-stream");
  EXPECT_EQ(items[0]["payloadBase64"], base64Encode(std::vector<std::uint8_t>{0x01, 0x02, 0xFF}));
}

TEST_F(OceanConnect, ReportsWithAProfileKeepTheRawBytes) {
  auto d = online("863703030000001");
  ASSERT_TRUE(d->report({0x00, 0xFF, 0x38}));  // Sensor temperature -200
  ASSERT_TRUE(d->report({0x01, 0x01}));        // LightControl light 1
  auto items = waitMessages("lamp-1", 2);
  ASSERT_EQ(items.size(), 2u) << items.dump();
  EXPECT_EQ(items[0]["payloadBase64"], base64Encode(std::vector<std::uint8_t>{0x00, 0xFF, 0x38}));
  EXPECT_EQ(items[1]["payloadBase64"], base64Encode(std::vector<std::uint8_t>{0x01, 0x01}));
}

TEST_F(OceanConnect, ImmediateCommandsAreDeliveredAndCompletedByTheResponse) {
  auto d = online("863703030000001");
  const json set = {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}};
  const auto ok = send("lamp-1", {{"payload", set}, {"expireTime", 0}});
  auto bytes = d->nextCommand();
  ASSERT_TRUE(bytes);
  ASSERT_EQ(bytes->size(), 4u);
  EXPECT_EQ((*bytes)[0], 0x02);
  EXPECT_EQ((*bytes)[3], 0x01);
  ASSERT_TRUE(waitStatus(ok, "DELIVERED"));
  // The response echoes the mid: result 0 → SUCCESSFUL.
  ASSERT_TRUE(d->report({0x03, (*bytes)[1], (*bytes)[2], 0x00}));
  ASSERT_TRUE(waitStatus(ok, "SUCCESSFUL"));
  const auto result = command(ok)["result"];
  EXPECT_EQ(result["resultCode"], "SUCCESSFUL");
  EXPECT_EQ(result["mid"], (*bytes)[1] << 8 | (*bytes)[2]);
  EXPECT_EQ(result["result"], 0);

  // Result 5 → FAILED.
  const auto bad = send("lamp-1", {{"payload", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 0}}}}}});
  bytes = d->nextCommand();
  ASSERT_TRUE(bytes);
  ASSERT_TRUE(waitStatus(bad, "DELIVERED"));
  ASSERT_TRUE(d->report({0x03, (*bytes)[1], (*bytes)[2], 0x05}));
  ASSERT_TRUE(waitStatus(bad, "FAILED"));
  EXPECT_EQ(command(bad)["result"]["resultCode"], "FAILED");
  EXPECT_EQ(command(bad)["result"]["result"], 5);

  // A para out of range is a codec failure: FAILED with the codec's words, nothing sent.
  const auto invalid = send("lamp-1", {{"payload", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 2}}}}}});
  ASSERT_TRUE(waitStatus(invalid, "FAILED"));
  EXPECT_NE(command(invalid)["result"]["resultDetail"].get<std::string>().find("light"), std::string::npos);
  EXPECT_FALSE(d->nextCommand(300ms)) << "a command that does not encode is not sent";

  // The device refusing the PUT: FAILED.
  d->answerCommandsWith(coap::code::kBadRequest);
  const auto refused = send("lamp-1", {{"payload", set}});
  ASSERT_TRUE(waitStatus(refused, "FAILED"));
  EXPECT_NE(command(refused)["result"]["resultDetail"].get<std::string>().find("4.00"), std::string::npos);
}

TEST_F(OceanConnect, AResponseGoesToTheCommandWhoseMidItCarries) {
  auto d = online("863703030000001");
  // A command sent as raw bytes (its mid unknown to the platform), then one the profile encodes.
  const auto raw = send("lamp-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x02, 0x7F, 0x00, 0x01})}});
  ASSERT_TRUE(d->nextCommand());
  ASSERT_TRUE(waitStatus(raw, "DELIVERED"));
  const auto encoded = send("lamp-1", {{"payload", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}}});
  auto bytes = d->nextCommand();
  ASSERT_TRUE(bytes);
  ASSERT_TRUE(waitStatus(encoded, "DELIVERED"));

  // The response with the encoded command's mid completes that one, not the older raw one.
  ASSERT_TRUE(d->report({0x03, (*bytes)[1], (*bytes)[2], 0x00}));
  ASSERT_TRUE(waitStatus(encoded, "SUCCESSFUL"));
  EXPECT_EQ(command(raw)["status"], "DELIVERED");
  // A mid nobody was sent with: the raw command is the one it can answer.
  ASSERT_TRUE(d->report({0x03, 0x7F, 0x00, 0x00}));
  ASSERT_TRUE(waitStatus(raw, "SUCCESSFUL"));
  EXPECT_EQ(command(raw)["result"]["mid"], 0x7F00);
}

TEST_F(OceanConnect, WithoutAProfileOnlyBinaryCommandsGo) {
  auto d = online("raw-1");
  const auto json_ = send("raw-1", {{"payload", {{"serviceId", "S"}, {"method", "M"}}}});
  ASSERT_TRUE(waitStatus(json_, "FAILED"));
  EXPECT_NE(command(json_)["result"]["resultDetail"].get<std::string>().find("no codec profile"), std::string::npos);
  const auto raw = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0xAA, 0x55})}});
  auto bytes = d->nextCommand();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, (std::vector<std::uint8_t>{0xAA, 0x55}));
  ASSERT_TRUE(waitStatus(raw, "DELIVERED"));
}

TEST_F(OceanConnect, CachedCommandsWaitForRegistration) {
  const auto cached = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x01})}, {"expireTime", 3600}});
  const auto immediate = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x02})}, {"expireTime", 0}});
  EXPECT_EQ(command(cached)["status"], "PENDING");
  ASSERT_TRUE(waitStatus(immediate, "FAILED")) << "an immediate command to an offline device fails";
  auto d = online("raw-1");
  auto bytes = d->nextCommand();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::vector<std::uint8_t>{0x01});
  ASSERT_TRUE(waitStatus(cached, "DELIVERED"));
}

TEST_F(OceanConnect, CommandsTimeOutWhenTheDeviceDoesNotAcknowledge) {
  {
    auto d = online("raw-1");
  }  // the device goes away without deregistering: nothing answers on its port any more
  const auto c = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x01})},
                                {"ackTimeoutMs", 1000},
                                {"maxRetransmit", 1}});
  ASSERT_TRUE(waitStatus(c, "SENT"));
  advanceClock(1.5);  // the first ack timeout: resent
  for (int i = 0; i < 100 && command(c)["sends"] != 2; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(command(c)["sends"], 2);
  advanceClock(1.5);
  ASSERT_TRUE(waitStatus(c, "TIMEOUT"));
}

TEST_F(OceanConnect, AResendReplacesThePutCoapIsStillRetransmitting) {
  RawUdp raw(server_.coapPort());
  const auto registration = registerRaw(raw);
  ASSERT_TRUE(registration.observe);
  acceptObservation(raw, *registration.observe);

  // The device does not acknowledge; the command queue resends before CoAP gives up on the first PUT.
  const auto c = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x09})},
                                {"ackTimeoutMs", 1000}, {"maxRetransmit", 3}});
  auto first = raw.receive();
  ASSERT_TRUE(first);
  ASSERT_EQ(first->code, coap::code::kPut);
  advanceClock(1.5);  // past the queue's ack timeout, before CoAP's first retransmission (2–3 s)
  auto second = raw.receive();
  ASSERT_TRUE(second) << "the queue's resend";
  EXPECT_NE(second->messageId, first->messageId);
  EXPECT_NE(second->token, first->token);
  for (int step = 0; step < 6; ++step) {  // CoAP retransmissions fall due: none of the first PUT
    advanceClock(1);
    while (auto m = raw.receive(200ms)) EXPECT_NE(m->messageId, first->messageId) << "step " << step;
  }
  // Sent at 0, resent at 1.5, 2.5 and 3.5 s (maxRetransmit 3), TIMEOUT at 4.5 s: no acknowledgement came.
  const auto ended = command(c);
  EXPECT_EQ(ended["sends"], 4) << ended;
  EXPECT_EQ(ended["status"], "TIMEOUT") << ended;
}

TEST_F(OceanConnect, QueueModeHoldsRequestsUntilTheDeviceIsHeardFrom) {
  client::OceanConnectDevice d(options("raw-1", "UQ", 3600));
  ASSERT_TRUE(d.registerDevice());
  ASSERT_TRUE(d.waitObserved());
  // The device hears the observe request before the server hears its answer (which also counts as
  // "heard from"): let the answer land before the clock moves on.
  ASSERT_TRUE(waitJournal("raw-1", "ACK 2.05 Content Observe"));
  advanceClock(100);  // past the 93 s awake window: the device sleeps
  const auto c = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x07})}});
  EXPECT_FALSE(d.nextCommand(500ms)) << "nothing goes to a sleeping queue-mode device";
  EXPECT_EQ(command(c)["status"], "PENDING") << "cached (OceanConnect's \"Waiting\") while the device sleeps";
  advanceClock(1800);  // far past ackTimeoutMs × (maxRetransmit + 1): no ack timer runs while PENDING
  EXPECT_EQ(command(c)["status"], "PENDING");
  const auto immediate = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x06})}, {"expireTime", 0}});
  EXPECT_EQ(command(immediate)["status"], "FAILED") << "an immediate command does not wait for a sleeping device";
  auto up = d.update();  // heard from: awake again
  ASSERT_TRUE(up);
  EXPECT_EQ(up->code, coap::code::kChanged);
  auto bytes = d.nextCommand();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::vector<std::uint8_t>{0x07});
  ASSERT_TRUE(waitStatus(c, "DELIVERED"));

  // A notification wakes it too.
  advanceClock(100);
  const auto c2 = send("raw-1", {{"payloadBase64", base64Encode(std::vector<std::uint8_t>{0x08})}});
  EXPECT_FALSE(d.nextCommand(500ms));
  ASSERT_TRUE(d.report({0x42}));
  bytes = d.nextCommand();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::vector<std::uint8_t>{0x08});
  ASSERT_TRUE(waitStatus(c2, "DELIVERED"));
}

TEST_F(OceanConnect, Lwm2mApiCallsToASleepingQueueModeDeviceAre409Asleep) {
  client::OceanConnectDevice d(options("raw-1", "UQ", 3600));
  ASSERT_TRUE(d.registerDevice());
  ASSERT_TRUE(d.waitObserved());
  ASSERT_TRUE(waitJournal("raw-1", "ACK 2.05 Content Observe"));
  const std::string base = "/api/v1/devices/raw-1/lwm2m/";
  advanceClock(100);  // past the 93 s awake window
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, json>>{{"GET", base + "3/0/0", nullptr},
                                                               {"PUT", base + "3/0/14", {{"text", "+02"}}},
                                                               {"POST", base + "3/0/4", nullptr},
                                                               {"POST", base + "3/0/0/observe", nullptr},
                                                               {"GET", base + "3/0/discover", nullptr}}) {
    auto r = call(server_, method, target, body);
    EXPECT_EQ(r.status, 409) << method << " " << target << ": " << r.body;
    EXPECT_EQ(r.body["error"]["code"], "asleep") << method << " " << target;
  }
  ASSERT_TRUE(d.update());  // heard from: awake, and the API reaches it again
  d.setResource("3/0/0", "Huawei");
  auto read = call(server_, "GET", base + "3/0/0");
  EXPECT_EQ(read.status, 200) << read.body;
}

TEST_F(OceanConnect, Lwm2mNorthboundReadWriteExecuteObserve) {
  auto d = online("raw-1");
  d->setResource("3/0/0", "Huawei");
  const std::string base = "/api/v1/devices/raw-1/lwm2m/";

  auto read = call(server_, "GET", base + "3/0/0");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.body["path"], "/3/0/0");
  EXPECT_EQ(read.body["code"], "2.05 Content");
  EXPECT_EQ(read.body["contentFormat"], 0);
  EXPECT_EQ(read.body["value"], "Huawei");

  // A value larger than one CoAP message: the device serves it in Block2 blocks, the server
  // follows them and answers the whole value.
  std::string large;
  for (int i = 0; large.size() < 3000; ++i) large += std::to_string(i) + ",";
  d->setResource("3/0/2", large);
  auto big = call(server_, "GET", base + "3/0/2");
  ASSERT_EQ(big.status, 200) << big.body;
  EXPECT_EQ(big.body["value"], large);

  auto write = call(server_, "PUT", base + "3/0/0", {{"text", "Acme"}});
  ASSERT_EQ(write.status, 200) << write.body;
  EXPECT_EQ(d->resource("3/0/0"), "Acme");
  EXPECT_EQ(call(server_, "PUT", base + "3/0/0", {{"number", 1}}).status, 422);

  auto execute = call(server_, "POST", base + "3/0/4", {{"args", "0='now'"}});
  ASSERT_EQ(execute.status, 200) << execute.body;
  EXPECT_EQ(d->executed(), std::vector<std::string>{"3/0/4"});

  auto missing = call(server_, "GET", base + "3/0/99");
  EXPECT_EQ(missing.status, 502) << missing.body;
  EXPECT_EQ(missing.body["code"], "4.04 Not Found");

  EXPECT_EQ(call(server_, "GET", base + "x/0/0").status, 422);
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/gen-1/lwm2m/3/0/0").status, 409) << "not registered";
  EXPECT_EQ(call(server_, "GET", "/api/v1/devices/nobody/lwm2m/3/0/0").status, 404);

  // Observe: the first answer comes back; notifications go to the journal.
  auto observe = call(server_, "POST", base + "3/0/0/observe");
  ASSERT_EQ(observe.status, 200) << observe.body;
  EXPECT_EQ(observe.body["observing"], true);
  EXPECT_EQ(observe.body["value"], "Acme");
  ASSERT_TRUE(d->waitResourceObserved("3/0/0", true));
  WebSocketClient events(server_.httpPort(), "/api/v1/events?deviceId=raw-1&type=lwm2m");
  d->setResource("3/0/0", "Changed");
  ASSERT_TRUE(d->notifyResource("3/0/0"));
  auto frame = events.next(3s);
  ASSERT_TRUE(frame) << "a notification is an lwm2m.notification event";
  const auto event = json::parse(*frame);
  EXPECT_EQ(event["type"], "lwm2m.notification");
  EXPECT_EQ(event["data"]["path"], "/3/0/0");
  EXPECT_EQ(event["data"]["value"], "Changed");
  EXPECT_EQ(event["data"]["observing"], true);
  bool seen = false;
  for (int i = 0; i < 150 && !seen; ++i) {
    const auto journal = call(server_, "GET", "/api/v1/devices/raw-1/journal?limit=100").body["items"];
    for (const auto& e : journal)
      if (e["summary"].get<std::string>().rfind("notification ", 0) == 0 && e["topic"] == "/3/0/0") seen = true;
    if (!seen) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(seen) << "a notification is journaled";

  // Observing again replaces the observation: the device is asked again, and the notifications of
  // the new one are events as before.
  auto again = call(server_, "POST", base + "3/0/0/observe?format=text");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body["value"], "Changed");
  d->setResource("3/0/0", "Again");
  ASSERT_TRUE(d->notifyResource("3/0/0"));
  frame = events.next(3s);
  ASSERT_TRUE(frame) << "the new observation's notification is an event";
  EXPECT_EQ(json::parse(*frame)["data"]["value"], "Again");
  EXPECT_EQ(call(server_, "POST", base + "3/0/0/observe?format=xml").status, 422);

  // An instance can be observed too; a device that answers without Observe declines (observing false).
  auto instance = call(server_, "POST", base + "3/0/observe?format=senml-json");
  ASSERT_EQ(instance.status, 200) << instance.body;
  EXPECT_EQ(instance.body["observing"], false);
  EXPECT_EQ(instance.body["senml"][0]["name"], "/3/0/0") << instance.body;
  EXPECT_EQ(call(server_, "DELETE", base + "3/0/observe").status, 404) << "nothing left to cancel";

  auto cancel = call(server_, "DELETE", base + "3/0/0/observe");
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_TRUE(d->waitResourceObserved("3/0/0", false)) << "cancelled with GET Observe 1";
  EXPECT_EQ(call(server_, "DELETE", base + "3/0/0/observe").status, 404);
}

TEST_F(OceanConnect, Lwm2mNorthboundDiscover) {
  auto d = online("raw-1");
  d->setResource("3/0/0", "Huawei");
  d->setResource("3/0/1", "Lamp");
  const std::string base = "/api/v1/devices/raw-1/lwm2m/";

  auto instance = call(server_, "GET", base + "3/0/discover");
  ASSERT_EQ(instance.status, 200) << instance.body;
  EXPECT_EQ(instance.body["path"], "/3/0");
  EXPECT_EQ(instance.body["contentFormat"], 40);
  EXPECT_EQ(instance.body["value"], "</3/0>,</3/0/0>,</3/0/1>");
  ASSERT_EQ(instance.body["links"].size(), 3u) << instance.body;
  EXPECT_EQ(instance.body["links"][1]["target"], "/3/0/0");

  auto object = call(server_, "GET", base + "3/discover");
  ASSERT_EQ(object.status, 200) << object.body;
  EXPECT_EQ(object.body["value"], "</3>,</3/0/0>,</3/0/1>");
  auto resource = call(server_, "GET", base + "3/0/1/discover");
  ASSERT_EQ(resource.status, 200) << resource.body;
  EXPECT_EQ(resource.body["value"], "</3/0/1>");

  auto missing = call(server_, "GET", base + "4/discover");
  EXPECT_EQ(missing.status, 502) << missing.body;
  EXPECT_EQ(missing.body["code"], "4.04 Not Found");
  EXPECT_EQ(call(server_, "GET", base + "x/discover").status, 422);
  EXPECT_TRUE(waitJournal("raw-1", "CON 0.01 GET /3/0 Accept 40")) << "Discover is journaled like every downlink";
}

TEST_F(OceanConnect, Lwm2mNorthboundReadsInstancesAndSpeaksSenmlJson) {
  auto d = online("raw-1");
  d->setResource("3/0/0", "Huawei");
  d->setResource("3/0/1", "Lamp");
  d->setResource("3/0/14", "+08");
  const std::string base = "/api/v1/devices/raw-1/lwm2m/";

  // An object instance as the device chooses (an LwM2M 1.0 device: OMA TLV).
  auto tlv = call(server_, "GET", base + "3/0");
  ASSERT_EQ(tlv.status, 200) << tlv.body;
  EXPECT_EQ(tlv.body["path"], "/3/0");
  EXPECT_EQ(tlv.body["contentFormat"], 11542);
  ASSERT_EQ(tlv.body["tlv"].size(), 3u) << tlv.body;
  EXPECT_EQ(tlv.body["tlv"][0]["id"], 0);
  EXPECT_EQ(tlv.body["tlv"][0]["valueHex"], "487561776569");  // "Huawei"

  // The same instance asked for as SenML JSON: the records come back resolved.
  auto senml = call(server_, "GET", base + "3/0?format=senml-json");
  ASSERT_EQ(senml.status, 200) << senml.body;
  EXPECT_EQ(senml.body["contentFormat"], 110);
  ASSERT_EQ(senml.body["senml"].size(), 3u) << senml.body;
  EXPECT_EQ(senml.body["senml"][0], json({{"name", "/3/0/0"}, {"value", "Huawei"}}));
  EXPECT_EQ(senml.body["senml"][2]["name"], "/3/0/14");
  EXPECT_TRUE(waitJournal("raw-1", "CON 0.01 GET /3/0 Accept 110")) << "the Accept option goes to the device";
  auto asNumber = call(server_, "GET", base + "3/0/0?format=110");
  ASSERT_EQ(asNumber.status, 200) << asNumber.body;
  EXPECT_EQ(asNumber.body["senml"].size(), 1u);

  // Writes in SenML JSON, to an instance (Replace) and to a resource, with base names and numbers.
  auto replace = call(server_, "PUT", base + "3/0", {{"senml", json::array({{{"bn", "/3/0/"}, {"n", "14"}, {"vs", "+02"}}})}});
  ASSERT_EQ(replace.status, 200) << replace.body;
  EXPECT_EQ(d->resource("3/0/14"), "+02");
  auto number = call(server_, "PUT", base + "3/0/1", {{"senml", json::array({{{"n", "/3/0/1"}, {"v", 5}}})}});
  ASSERT_EQ(number.status, 200) << number.body;
  EXPECT_EQ(d->resource("3/0/1"), "5");

  // What cannot be sent is refused before it reaches the device; what the device refuses is 502.
  EXPECT_EQ(call(server_, "PUT", base + "3/0/1", {{"senml", json::array({{{"n", "/3/0/1"}, {"v", "5"}}})}}).status, 422);
  EXPECT_EQ(call(server_, "PUT", base + "3/0/1", {{"senml", {{"n", "/3/0/1"}, {"v", 5}}}}).status, 422);
  EXPECT_EQ(call(server_, "GET", base + "3/0?format=xml").status, 422);
  EXPECT_EQ(call(server_, "GET", base + "3/0?format=70000").status, 422);
  auto refused = call(server_, "GET", base + "3/0?format=opaque");
  EXPECT_EQ(refused.status, 502) << refused.body;
  EXPECT_EQ(refused.body["code"], "4.06 Not Acceptable");
  auto unknown = call(server_, "PUT", base + "3/0", {{"senml", json::array({{{"n", "/3/0/99"}, {"vs", "x"}}})}});
  EXPECT_EQ(unknown.status, 502) << unknown.body;
  EXPECT_EQ(d->resource("3/0/14"), "+02") << "a refused write changes nothing";
}

TEST_F(OceanConnect, Lwm2mNorthboundTimesOutWhenTheDeviceIsGone) {
  { auto d = online("raw-1"); }
  JsonReply reply;
  std::atomic<bool> answered = false;
  std::thread request([&] {
    reply = call(server_, "GET", "/api/v1/devices/raw-1/lwm2m/3/0/0");
    answered = true;
  });
  ASSERT_TRUE(waitJournal("raw-1", "CON 0.01 GET /3/0/0")) << "the request went out";
  // CoAP retransmissions follow the platform clock (2+4+8+16+32 s and more): move it on until the
  // API gives up, a bounded number of times.
  for (int i = 0; i < 200 && !answered; ++i) {
    advanceClock(60);
    std::this_thread::sleep_for(50ms);
  }
  request.join();
  EXPECT_EQ(reply.status, 504) << reply.body;
}

// The oceanconnect delivery signal is the CoAP ACK (2.04) of the PUT /19/1/0. A device that sends
// the command response on /19/0/0 before it acknowledges the PUT, or acknowledges after TIMEOUT,
// leaves the outcome as it was (see tests/integration/late_ack_test.cpp for the MQTT dialects).
TEST_F(OceanConnect, AnAckOfThePutAfterTheResponseOrAfterTimeoutChangesNothing) {
  RawUdp raw(server_.coapPort());
  coap::Message reg{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = 0x100, .token = {1, 2}};
  reg.setUriPath("rd");
  reg.addString(coap::option::kUriQuery, "ep=863703030000001");
  reg.setUint(coap::option::kContentFormat, coap::format::kLinkFormat);
  reg.setPayload("</19/0>,</19/1>");
  raw.send(reg);
  auto created = raw.receive();
  ASSERT_TRUE(created);
  ASSERT_EQ(created->code, coap::code::kCreated);
  auto observe = raw.receive();
  ASSERT_TRUE(observe);
  acceptObservation(raw, *observe);

  const json set = {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}};
  const auto c = send("lamp-1", {{"payload", set}, {"expireTime", 3600}});
  auto put = raw.receive();
  ASSERT_TRUE(put);
  ASSERT_EQ(put->uriPath(), "19/1/0");
  ASSERT_EQ(put->payload.size(), 4u);
  // The response first, as a notification of the observation…
  coap::Message response{
      .type = coap::Type::NonConfirmable, .code = coap::code::kContent, .messageId = 0x200, .token = observe->token};
  response.setUint(coap::option::kObserve, 2);
  response.setUint(coap::option::kContentFormat, coap::format::kOctetStream);
  response.payload = {0x03, put->payload[1], put->payload[2], 0x00};
  raw.send(response);
  ASSERT_TRUE(waitStatus(c, "SUCCESSFUL"));
  // …then the PUT's ACK.
  raw.send(coap::Message{.type = coap::Type::Acknowledgement,
                         .code = coap::code::kChanged,
                         .messageId = put->messageId,
                         .token = put->token});
  ASSERT_TRUE(waitJournal("lamp-1", "ACK 2.04"));
  EXPECT_EQ(command(c)["status"], "SUCCESSFUL") << "the late ACK does not make it DELIVERED again";

  // No ACK until the command timed out, then one.
  const auto late = send("lamp-1", {{"payload", set}, {"maxRetransmit", 0}, {"ackTimeoutMs", 1000}});
  auto put2 = raw.receive();
  ASSERT_TRUE(put2);
  advanceClock(1.5);
  ASSERT_TRUE(waitStatus(late, "TIMEOUT"));
  raw.send(coap::Message{.type = coap::Type::Acknowledgement,
                         .code = coap::code::kChanged,
                         .messageId = put2->messageId,
                         .token = put2->token});
  // The ACK may be dropped as unmatched, so there is nothing of it to wait for: a request from the
  // same peer after it, once answered, says the endpoint has handled it.
  coap::Message ping{.type = coap::Type::Confirmable, .code = coap::code::kGet, .messageId = 0x201, .token = {9}};
  ping.setUriPath(".well-known/core");
  raw.send(ping);
  std::optional<coap::Message> pong;
  while ((pong = raw.receive()) && pong->token != ping.token) {
  }
  ASSERT_TRUE(pong) << "no answer to the GET after the late ACK";
  EXPECT_EQ(command(late)["status"], "TIMEOUT");
}

// --- over DTLS-PSK (coaps) ---

// The LiteOS demo's values: endpoint 20201112_client, PSK identity 20201112, a 16-byte PSK.
class OceanConnectDtls : public OceanConnect {
 protected:
  void SetUp() override {
    OceanConnect::SetUp();
    ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                   {{"id", "liteos-1"},
                    {"productId", "led"},
                    {"identifiers", {{"nodeId", "20201112_client"}, {"pskIdentity", "20201112"}}},
                    {"secrets", {{"psk", kPskHex}}}})
                  .status,
              201);
  }
  client::OceanConnectDeviceOptions dtlsOptions(const std::string& nodeId, std::vector<std::string> ciphers = {}) {
    auto o = options(nodeId);
    o.coap = server_.coaps({.identity = "20201112", .key = kPsk, .ciphers = std::move(ciphers)});
    return o;
  }

  static constexpr const char* kPskHex = "000102030405060708090A0B0C0D0E0F";
  const std::vector<std::uint8_t> kPsk{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
};

TEST_F(OceanConnectDtls, ALiteOsDeviceRegistersReportsAndTakesCommandsOverDtls) {
  // LiteOS (mbedTLS) offers only the CBC suites.
  client::OceanConnectDevice d(dtlsOptions("20201112_client", {"TLS_PSK_WITH_AES_128_CBC_SHA256"}));
  auto reg = d.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  ASSERT_EQ(reg->code, coap::code::kCreated);
  ASSERT_TRUE(d.waitObserved()) << "the server observes /19/0/0 through the DTLS session";
  ASSERT_TRUE(waitOnline("liteos-1", true));
  EXPECT_EQ(device("liteos-1")["transport"], "coaps");

  ASSERT_TRUE(d.report({0x01, 0x01}));
  auto items = waitMessages("liteos-1", 1);
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["transport"], "coaps");
  EXPECT_EQ(items[0]["payloadBase64"], base64Encode(std::vector<std::uint8_t>{0x01, 0x01}));

  const auto c = send("liteos-1", {{"payload", {{"serviceId", "LightControl"}, {"method", "SET_LIGHT"}, {"paras", {{"light", 1}}}}},
                                   {"expireTime", 0}});
  auto bytes = d.nextCommand();
  ASSERT_TRUE(bytes) << "the PUT /19/1/0 reaches the device through its DTLS session";
  ASSERT_EQ(bytes->size(), 4u);
  ASSERT_TRUE(waitStatus(c, "DELIVERED"));
  ASSERT_TRUE(d.report({0x03, (*bytes)[1], (*bytes)[2], 0x00}));
  ASSERT_TRUE(waitStatus(c, "SUCCESSFUL"));

  auto bye = d.deregister();
  ASSERT_TRUE(bye);
  EXPECT_EQ(bye->code, coap::code::kDeleted);
  ASSERT_TRUE(waitOnline("liteos-1", false));
}

TEST_F(OceanConnectDtls, ADtlsSessionRegistersOnlyItsOwnDevice) {
  // The session authenticated liteos-1's PSK; registering lamp-1's endpoint through it is refused.
  client::OceanConnectDevice d(dtlsOptions("863703030000001"));
  auto reg = d.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  EXPECT_EQ(reg->code, coap::code::kForbidden);
  EXPECT_FALSE(device("lamp-1")["online"].get<bool>());

  // A wrong key never gets as far as Register.
  auto o = dtlsOptions("20201112_client");
  o.coap.dtls->key[0] ^= 0xFF;
  client::OceanConnectDevice wrong(o);
  auto refused = wrong.registerDevice();
  EXPECT_FALSE(refused) << "the handshake fails";
  EXPECT_FALSE(device("liteos-1")["online"].get<bool>());
}

TEST_F(OceanConnectDtls, ARegistrationMadeOverDtlsIsKeptByDtls) {
  client::OceanConnectDevice d(dtlsOptions("20201112_client"));
  auto reg = d.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  ASSERT_EQ(reg->code, coap::code::kCreated);
  // Someone on plain UDP who learnt the location can neither move nor end the registration.
  RawUdp plain(server_.coapPort());
  coap::Message update{.type = coap::Type::Confirmable, .code = coap::code::kPost, .messageId = 0x300, .token = {7}};
  update.setUriPath(d.location());
  EXPECT_EQ(plain.exchange(update).code, coap::code::kForbidden);
  coap::Message remove{.type = coap::Type::Confirmable, .code = coap::code::kDelete, .messageId = 0x301, .token = {8}};
  remove.setUriPath(d.location());
  EXPECT_EQ(plain.exchange(remove).code, coap::code::kForbidden);
  EXPECT_NE(server_.log().find("came over plain UDP"), std::string::npos) << "the refusal is logged";
  EXPECT_TRUE(device("liteos-1")["online"].get<bool>());
  // The device itself, over its session, still can.
  auto own = d.update();
  ASSERT_TRUE(own) << own.error().message();
  EXPECT_EQ(own->code, coap::code::kChanged);
  auto gone = d.deregister();
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_EQ(gone->code, coap::code::kDeleted);
}

// Mutations the DTLS tests above and below are meant to kill (Lwm2mServer::refusesSender in
// server/coap/lwm2m_server.cpp, which guards Update and De-register of a DTLS registration):
//   `if (client.transport != "coaps") return std::nullopt;` → always nullopt  (plain UDP moves it)
//   `if (!session) return …;` dropped                                          (a UDP peer passes, or a crash)
//   `if (session->deviceId != client.deviceId) return …;` dropped              (another device's session moves it)
TEST_F(OceanConnectDtls, AnotherDevicesDtlsSessionCanNeitherUpdateNorEndARegistration) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/devices",
                 {{"id", "other-1"},
                  {"productId", "led"},
                  {"identifiers", {{"nodeId", "other_client"}, {"pskIdentity", "other"}}},
                  {"secrets", {{"psk", "0F0E0D0C0B0A09080706050403020100"}}}})
                .status,
            201);
  client::OceanConnectDevice d(dtlsOptions("20201112_client"));
  auto reg = d.registerDevice();
  ASSERT_TRUE(reg) << reg.error().message();
  ASSERT_EQ(reg->code, coap::code::kCreated);

  client::SyncCoapClient other(
      server_.coaps({.identity = "other", .key = {15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}}));
  auto update = other.request(client::SyncCoapClient::makeRequest(coap::code::kPost, d.location()));
  ASSERT_TRUE(update) << update.error().message();
  EXPECT_EQ(update->code, coap::code::kForbidden);
  auto remove = other.request(client::SyncCoapClient::makeRequest(coap::code::kDelete, d.location()));
  ASSERT_TRUE(remove) << remove.error().message();
  EXPECT_EQ(remove->code, coap::code::kForbidden);
  EXPECT_NE(server_.log().find("belongs to device 'other-1'"), std::string::npos) << "the refusal is logged";
  EXPECT_TRUE(device("liteos-1")["online"].get<bool>());
  EXPECT_EQ(device("liteos-1")["transport"], "coaps");
  auto own = d.update();
  ASSERT_TRUE(own) << own.error().message();
  EXPECT_EQ(own->code, coap::code::kChanged) << "the device's own session still can";
}

}  // namespace
}  // namespace fc::test
