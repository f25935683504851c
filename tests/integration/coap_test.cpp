// The CoAP endpoint of the real binary (docs/coap.md): /.well-known/core through the client library,
// a block-wise download at a small requested size, hand-built and malformed datagrams over a raw UDP
// socket, and the aliyun CoAP channel end to end (auth, publish into the uplink history, 4.01s).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "client/dialects/aliyun/aliyun_coap_device.hpp"
#include "client/sync_coap_client.hpp"
#include "protocols/coap/block.hpp"
#include "protocols/coap/message.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
namespace option = coap::option;
namespace ccode = coap::code;

constexpr const char* kPk = "a1MZxOdcBnO";
constexpr const char* kDn = "test_01";
constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";

class Coap : public ::testing::Test {
 protected:
  void createDevice() {
    auto p = call(server_, "POST", "/api/v1/products",
                  {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}});
    ASSERT_EQ(p.status, 201) << p.body;
    auto d = call(server_, "POST", "/api/v1/devices",
                  {{"id", "lamp"}, {"productId", "light"}, {"identifiers", {{"deviceName", kDn}}},
                   {"secrets", {{"deviceSecret", kSecret}}}});
    ASSERT_EQ(d.status, 201) << d.body;
  }
  client::AliyunCredentials credentials(std::string secret = kSecret) {
    client::AliyunCredentials c;
    c.productKey = kPk;
    c.deviceName = kDn;
    c.deviceSecret = std::move(secret);
    c.signMethod = aliyun::SignMethod::HmacMd5;
    return c;
  }
  json waitMessages(std::size_t count) {
    json items;
    for (int i = 0; i < 100; ++i) {
      items = call(server_, "GET", "/api/v1/devices/lamp/messages").body["items"];
      if (items.size() >= count) break;
      std::this_thread::sleep_for(20ms);
    }
    return items;
  }

  ServerProcess server_;
};

TEST_F(Coap, PortsFileNamesTheCoapPort) { EXPECT_NE(server_.coapPort(), 0); }

TEST_F(Coap, WellKnownCoreListsTheAliyunAndLwm2mResources) {
  client::SyncCoapClient c(server_.coap());
  auto r = c.get("/.well-known/core");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, ccode::kContent);
  EXPECT_EQ(r->getUint(option::kContentFormat), coap::format::kLinkFormat);
  EXPECT_EQ(r->payloadText(), "</auth>;ct=50,</topic>;ct=50,</rd>;rt=\"core.rd\"");
}

TEST_F(Coap, Block2DownloadAtSixteenBytes) {
  client::SyncCoapClient c(server_.coap());
  auto whole = c.get("/.well-known/core");
  ASSERT_TRUE(whole);
  auto blocks = c.get("/.well-known/core", coap::RequestOptions{.block2Szx = 0});
  ASSERT_TRUE(blocks) << blocks.error().message();
  EXPECT_EQ(blocks->payload, whole->payload);
  EXPECT_FALSE(blocks->has(option::kBlock2));

  // Block by block by hand: M set until the last, one ETag, Size2 on the first.
  RawUdp raw(server_.coapPort());
  std::string body;
  std::vector<std::uint8_t> etag;
  for (std::uint32_t num = 0;; ++num) {
    coap::Message m{.type = coap::Type::Confirmable, .code = ccode::kGet, .messageId = static_cast<std::uint16_t>(100 + num),
                    .token = {0x42, static_cast<std::uint8_t>(num)}};
    m.setUriPath(".well-known/core");
    m.set(option::kBlock2, coap::encodeBlock(coap::Block{num, false, 0}));
    auto r = raw.exchange(m);
    ASSERT_EQ(r.code, ccode::kContent);
    EXPECT_EQ(r.token, m.token);
    auto b = coap::decodeBlock(r.find(option::kBlock2)->value);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->num, num);
    if (num == 0) {
      EXPECT_EQ(r.getUint(option::kSize2), whole->payload.size());
      etag = r.find(option::kETag)->value;
    } else {
      EXPECT_EQ(r.find(option::kETag)->value, etag);
    }
    body += r.payloadText();
    if (!b->more) {
      EXPECT_GE(num, 1u) << "the document must need several 16-byte blocks";
      break;
    }
    ASSERT_EQ(r.payload.size(), 16u);
    ASSERT_LT(num, 50u);
  }
  EXPECT_EQ(body, whole->payloadText());
}

TEST_F(Coap, EndpointErrorsAndMalformedDatagramsDoNotHurtTheServer) {
  RawUdp raw(server_.coapPort());
  coap::Message missing{.type = coap::Type::Confirmable, .code = ccode::kGet, .messageId = 1, .token = {1}};
  missing.setUriPath("no/such/thing");
  EXPECT_EQ(raw.exchange(missing).code, ccode::kNotFound);
  coap::Message wrong{.type = coap::Type::Confirmable, .code = ccode::kGet, .messageId = 2, .token = {2}};
  wrong.setUriPath("auth");
  EXPECT_EQ(raw.exchange(wrong).code, ccode::kMethodNotAllowed);
  coap::Message critical{.type = coap::Type::Confirmable, .code = ccode::kGet, .messageId = 3, .token = {3}};
  critical.setUriPath(".well-known/core");
  critical.add(9, std::vector<std::uint8_t>{1});  // unassigned, odd: critical
  EXPECT_EQ(raw.exchange(critical).code, ccode::kBadOption);

  // Garbage from another peer: too short, wrong version, a NON with a truncated option, random bytes.
  // The first is logged; the rest of that peer's notes within 10 s are only counted.
  RawUdp junk(server_.coapPort());
  junk.send({0x40});
  junk.send({0x80, 0x01, 0x00, 0x01});
  junk.send({0x50, 0x01, 0x00, 0x05, 0xBD});
  junk.send({0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF});
  EXPECT_FALSE(junk.receive(300ms)) << "nothing answers those";
  // A CON with a format error is reset (RFC 7252 §4.2).
  junk.send({0x40, 0x01, 0x12, 0x34, 0xB5, 'h', 'e'});
  auto rst = junk.receive();
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->type, coap::Type::Reset);
  EXPECT_EQ(rst->messageId, 0x1234);
  // A response nobody asked for is reset too.
  coap::Message stray{.type = coap::Type::Confirmable, .code = ccode::kContent, .messageId = 77, .token = {7, 7}};
  auto r = raw.exchange(stray);
  EXPECT_EQ(r.type, coap::Type::Reset);
  EXPECT_EQ(r.messageId, 77);

  // Still serving, and the process is alive.
  client::SyncCoapClient c(server_.coap());
  auto ok = c.get("/.well-known/core");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->code, ccode::kContent);
  EXPECT_EQ(call(server_, "GET", "/healthz").status, 200);
  const auto log = server_.log();
  EXPECT_NE(log.find("dropped: malformed"), std::string::npos) << log;
  EXPECT_EQ(log.find("unknown version"), std::string::npos) << "the second note of a peer within 10 s is held back";
}

TEST_F(Coap, DuplicateConIsAnsweredWithTheSameBytes) {
  createDevice();
  client::AliyunCoapDevice device(server_.coap(), credentials());
  RawUdp raw(server_.coapPort());
  coap::Message m{.type = coap::Type::Confirmable, .code = ccode::kPost, .messageId = 0x5151, .token = {5, 1}};
  m.setUriPath("auth");
  m.setUint(option::kContentFormat, coap::format::kJson);
  m.setPayload(device.authPayload());
  auto first = raw.exchange(m);
  auto second = raw.exchange(m);
  EXPECT_EQ(first.code, ccode::kContent);
  EXPECT_EQ(second, first) << "the replay carries the same token, not a second one";
}

TEST_F(Coap, AliyunAuthAndPublishLandInTheUplinkHistory) {
  createDevice();
  client::AliyunCoapDevice device(server_.coap(), credentials());
  auto auth = device.authenticate();
  ASSERT_TRUE(auth) << auth.error().message();
  EXPECT_EQ(auth->code, ccode::kContent);
  EXPECT_EQ(auth->getUint(option::kContentFormat), coap::format::kJson);
  ASSERT_FALSE(device.token().empty()) << auth->payloadText();

  const std::string post = R"({"id":"7","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"})";
  auto r = device.publish(std::string("/sys/") + kPk + "/" + kDn + "/thing/event/property/post", post);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, ccode::kContent);
  // The old SDKs' option 61 works as well.
  r = device.publish(std::string("/") + kPk + "/" + kDn + "/update", "hello", client::AliyunCoapDevice::kOldTokenOption);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, ccode::kContent);

  auto items = waitMessages(2);
  ASSERT_EQ(items.size(), 2u) << items.dump();
  EXPECT_EQ(items[0]["transport"], "coap");
  EXPECT_EQ(items[0]["topic"], std::string("/sys/") + kPk + "/" + kDn + "/thing/event/property/post");
  EXPECT_EQ(items[0]["payload"]["params"]["LightSwitch"], 1);
  EXPECT_EQ(items[1]["topic"], std::string("/") + kPk + "/" + kDn + "/update");

  auto lamp = call(server_, "GET", "/api/v1/devices/lamp").body;
  EXPECT_FALSE(lamp["lastSeen"].is_null()) << lamp.dump();
  auto journal = call(server_, "GET", "/api/v1/devices/lamp/journal").body["items"];
  ASSERT_GE(journal.size(), 6u) << journal.dump();
  EXPECT_EQ(journal[0]["transport"], "coap");
  EXPECT_EQ(journal[0]["direction"], "in");
  EXPECT_EQ(journal[0]["topic"], "/auth");
  EXPECT_EQ(journal[1]["direction"], "out");
}

TEST_F(Coap, AliyunRefusesBadTokensSignsAndPayloads) {
  createDevice();
  client::AliyunCoapDevice device(server_.coap(), credentials());
  const std::string topic = std::string("/") + kPk + "/" + kDn + "/update";

  auto noToken = device.publish(topic, "x");
  ASSERT_TRUE(noToken);
  EXPECT_EQ(noToken->code, ccode::kUnauthorized);
  device.setToken("forged-token");
  auto forged = device.publish(topic, "x");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->code, ccode::kUnauthorized);

  client::AliyunCoapDevice impostor(server_.coap(), credentials("not-the-secret"));
  auto badSign = impostor.authenticate();
  ASSERT_TRUE(badSign);
  EXPECT_EQ(badSign->code, ccode::kUnauthorized);
  EXPECT_TRUE(impostor.token().empty());

  auto stranger = credentials();
  stranger.deviceName = "nobody";
  client::AliyunCoapDevice unknown(server_.coap(), stranger);
  auto unknownDevice = unknown.authenticate();
  ASSERT_TRUE(unknownDevice);
  EXPECT_EQ(unknownDevice->code, ccode::kUnauthorized);

  client::SyncCoapClient c(server_.coap());
  auto garbage = c.post("/auth", "{not json", coap::format::kJson);
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->code, ccode::kBadRequest);
  auto missing = c.post("/auth", R"({"productKey":"a1MZxOdcBnO"})", coap::format::kJson);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->code, ccode::kBadRequest);

  // A good sign-in, then a topic that is not the device's own.
  ASSERT_TRUE(device.authenticate());
  auto foreign = device.publish("/someone/else/update", "x");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->code, ccode::kForbidden);
  // The token expires with the platform clock (48 h).
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 49 * 3600}}).status, 200);
  auto expired = device.publish(topic, "x");
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->code, ccode::kUnauthorized);
  EXPECT_TRUE(waitMessages(0).empty());
}

TEST_F(Coap, FrozenClockDoesNotStallTheEndpoint) {
  ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "freeze"}}).status, 200);
  client::SyncCoapClient c(server_.coap());
  for (int i = 0; i < 3; ++i) {
    auto r = c.get("/.well-known/core");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->code, ccode::kContent);
  }
}

}  // namespace
}  // namespace fc::test
