// CoAP over DTLS-PSK on the real binary's coaps port (docs/coap.md, "DTLS"; docs/dtls.md), driven
// by the client library's coaps mode: /.well-known/core and the aliyun channel over DTLS, every
// cipher suite, wrong keys and unknown identities, a block-wise download, garbage datagrams, the
// half-open bound, and the idle expiry after which the client handshakes again.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <thread>
#include <variant>

#include "client/dialects/aliyun/aliyun_coap_device.hpp"
#include "client/error.hpp"
#include "client/sync_coap_client.hpp"
#include "dtls/dtls.hpp"
#include "protocols/coap/message.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
namespace ccode = coap::code;

constexpr const char* kNode = "meter-0001";
constexpr const char* kPskHex = "000102030405060708090a0b0c0d0e0f";
const std::vector<std::uint8_t> kPsk = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr const char* kWellKnown = "</auth>;ct=50,</topic>;ct=50,</rd>;rt=\"core.rd\"";

/// Sends every SendDatagram among `actions`.
void sendAll(RawUdp& udp, const std::vector<dtls::Action>& actions) {
  for (const auto& a : actions)
    if (const auto* d = std::get_if<dtls::SendDatagram>(&a)) udp.send(d->bytes);
}

class Coaps : public ::testing::Test {
 protected:
  explicit Coaps(ServerOptions options = {}) : server_(std::move(options)) {}

  void SetUp() override {
    auto p = call(server_, "POST", "/api/v1/products", {{"id", "meters"}, {"dialect", "generic"}});
    ASSERT_EQ(p.status, 201) << p.body;
    auto d = call(
        server_, "POST", "/api/v1/devices",
        {{"id", "m1"}, {"productId", "meters"}, {"identifiers", {{"nodeId", kNode}}}, {"secrets", {{"psk", kPskHex}}}});
    ASSERT_EQ(d.status, 201) << d.body;
  }

  client::CoapOptions coaps(std::string identity = kNode, std::vector<std::uint8_t> key = kPsk,
                            std::vector<std::string> ciphers = {}) const {
    client::CoapDtlsOptions dtls;
    dtls.identity = std::move(identity);
    dtls.key = std::move(key);
    dtls.ciphers = std::move(ciphers);
    dtls.retransmitInitial = 200ms;
    dtls.handshakeTimeout = 5s;
    return server_.coaps(std::move(dtls));
  }

  /// Waits until the server's log contains `text`.
  bool logged(const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      if (server_.log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  ServerProcess server_;
};

TEST_F(Coaps, PortsFileNamesTheCoapsPort) {
  EXPECT_NE(server_.coapsPort(), 0);
  EXPECT_NE(server_.coapsPort(), server_.coapPort());
  EXPECT_TRUE(logged("CoAPS coaps://127.0.0.1:" + std::to_string(server_.coapsPort()))) << server_.log();
}

TEST_F(Coaps, WellKnownCoreOverDtlsWithTheDevicesKey) {
  client::SyncCoapClient c(coaps());
  auto r = c.get("/.well-known/core");
  ASSERT_TRUE(r) << r.error().message() << " / " << c.async().dtlsStatus().lastFailure << "\n" << server_.log();
  EXPECT_EQ(r->code, ccode::kContent);
  EXPECT_EQ(r->payloadText(), kWellKnown);
  const auto status = c.async().dtlsStatus();
  EXPECT_TRUE(status.established);
  EXPECT_EQ(status.cipher, dtls::kPskAes128CbcSha256) << "the server's first choice when all four are offered";
  EXPECT_EQ(status.handshakes, 1u);
  // A second request rides the same session.
  auto again = c.get("/.well-known/core");
  ASSERT_TRUE(again);
  EXPECT_EQ(c.async().dtlsStatus().handshakes, 1u);
  EXPECT_TRUE(logged("DTLS session established: identity 'meter-0001', device m1, TLS_PSK_WITH_AES_128_CBC_SHA256"))
      << server_.log();
  // The plain port does not speak DTLS, and the coaps port does not speak plain CoAP.
  client::SyncCoapClient plain(server_.coap());
  ASSERT_TRUE(plain.get("/.well-known/core"));
}

TEST_F(Coaps, PskIdentityOverridesNodeId) {
  auto d = call(server_, "POST", "/api/v1/devices",
                {{"id", "m2"},
                 {"productId", "meters"},
                 {"identifiers", {{"nodeId", "meter-0002"}, {"pskIdentity", "psk-id-2"}}},
                 {"secrets", {{"psk", "ffeeddccbbaa99887766554433221100"}}}});
  ASSERT_EQ(d.status, 201) << d.body;
  const std::vector<std::uint8_t> key = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                         0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
  client::SyncCoapClient byIdentity(coaps("psk-id-2", key));
  auto r = byIdentity.get("/.well-known/core");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(logged("identity 'psk-id-2', device m2")) << server_.log();
  client::SyncCoapClient byNodeId(coaps("meter-0002", key));
  auto refused = byNodeId.get("/.well-known/core");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), client::Error::DtlsHandshakeFailed);
}

TEST_F(Coaps, AliyunAuthAndTopicOverDtls) {
  constexpr const char* kPk = "a1MZxOdcBnO";
  constexpr const char* kDn = "test_01";
  constexpr const char* kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";
  auto p = call(server_, "POST", "/api/v1/products",
                {{"id", "light"}, {"dialect", "aliyun"}, {"keys", {{"productKey", kPk}}}});
  ASSERT_EQ(p.status, 201) << p.body;
  auto d = call(server_, "POST", "/api/v1/devices",
                {{"id", "lamp"},
                 {"productId", "light"},
                 {"identifiers", {{"deviceName", kDn}, {"nodeId", "lamp-node"}}},
                 {"secrets", {{"deviceSecret", kSecret}, {"psk", "0a0b0c0d"}}}});
  ASSERT_EQ(d.status, 201) << d.body;

  client::AliyunCredentials credentials;
  credentials.productKey = kPk;
  credentials.deviceName = kDn;
  credentials.deviceSecret = kSecret;
  credentials.signMethod = aliyun::SignMethod::HmacMd5;
  client::AliyunCoapDevice device(coaps("lamp-node", {0x0a, 0x0b, 0x0c, 0x0d}), credentials);
  auto auth = device.authenticate();
  ASSERT_TRUE(auth) << auth.error().message() << "\n" << server_.log();
  EXPECT_EQ(auth->code, ccode::kContent);
  ASSERT_FALSE(device.token().empty()) << auth->payloadText();
  const std::string post =
      R"({"id":"7","version":"1.0","params":{"LightSwitch":1},"method":"thing.event.property.post"})";
  auto r = device.publish(std::string("/sys/") + kPk + "/" + kDn + "/thing/event/property/post", post);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, ccode::kContent);

  json items;
  for (int i = 0; i < 100 && items.empty(); ++i) {
    items = call(server_, "GET", "/api/v1/devices/lamp/messages").body["items"];
    if (items.empty()) std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(items.size(), 1u) << items.dump();
  EXPECT_EQ(items[0]["payload"]["params"]["LightSwitch"], 1);
  EXPECT_EQ(items[0]["transport"], "coaps") << "the uplink history names the DTLS transport";
  EXPECT_TRUE(logged("identity 'lamp-node', device lamp")) << server_.log();
}

TEST_F(Coaps, WrongKeyFailsTheHandshakeAndTheClientSaysSo) {
  auto wrong = kPsk;
  wrong[0] ^= 0xff;
  client::SyncCoapClient c(coaps(kNode, wrong));
  auto r = c.get("/.well-known/core");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), client::Error::DtlsHandshakeFailed) << r.error().message();
  const auto status = c.async().dtlsStatus();
  EXPECT_FALSE(status.established);
  EXPECT_FALSE(status.lastFailure.empty());
  EXPECT_TRUE(logged("DTLS handshake failed: ")) << server_.log();
  EXPECT_TRUE(logged("wrong PSK for identity 'meter-0001'")) << server_.log();
  // The right key from the same kind of client still gets in.
  client::SyncCoapClient right(coaps());
  ASSERT_TRUE(right.get("/.well-known/core"));
}

TEST_F(Coaps, UnknownIdentityFailsTheHandshake) {
  client::SyncCoapClient c(coaps("nobody", kPsk));
  auto r = c.get("/.well-known/core");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), client::Error::DtlsHandshakeFailed) << r.error().message();
  EXPECT_TRUE(logged("DTLS handshake failed: unknown PSK identity 'nobody'")) << server_.log();
  // A device without a PSK is unknown as well.
  auto d = call(server_, "POST", "/api/v1/devices",
                {{"id", "m3"}, {"productId", "meters"}, {"identifiers", {{"nodeId", "no-psk"}}}});
  ASSERT_EQ(d.status, 201) << d.body;
  client::SyncCoapClient noPsk(coaps("no-psk", kPsk));
  auto refused = noPsk.get("/.well-known/core");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), client::Error::DtlsHandshakeFailed);
}

TEST_F(Coaps, EachCipherSuiteIsNegotiatedWhenItIsTheOnlyOneOffered) {
  for (const auto suite :
       {dtls::kPskAes128CbcSha256, dtls::kPskAes256CbcSha, dtls::kPskAes128CbcSha, dtls::kPskAes128Ccm8}) {
    SCOPED_TRACE(std::string(suite));
    client::SyncCoapClient c(coaps(kNode, kPsk, {std::string(suite)}));
    auto r = c.get("/.well-known/core");
    ASSERT_TRUE(r) << r.error().message() << " / " << c.async().dtlsStatus().lastFailure;
    EXPECT_EQ(r->payloadText(), kWellKnown);
    EXPECT_EQ(c.async().dtlsStatus().cipher, suite);
    EXPECT_TRUE(logged("device m1, " + std::string(suite))) << server_.log();
  }
}

TEST_F(Coaps, Block2DownloadOverDtls) {
  client::SyncCoapClient c(coaps());
  auto whole = c.get("/.well-known/core");
  ASSERT_TRUE(whole);
  // 16-byte blocks: the 28-byte document comes in two blocks, each its own DTLS record.
  auto blocks = c.get("/.well-known/core", coap::RequestOptions{.block2Szx = 0});
  ASSERT_TRUE(blocks) << blocks.error().message();
  EXPECT_EQ(blocks->payloadText(), kWellKnown);
  EXPECT_EQ(blocks->payload, whole->payload);
}

TEST_F(Coaps, GarbageDatagramsAreDroppedAndTheServerKeepsServing) {
  RawUdp junk(server_.coapsPort());
  junk.send({0x16});
  junk.send({0x16, 0xfe, 0xfd, 0x00, 0x00});
  junk.send({0x17, 0xfe, 0xfd, 0x00, 0x01, 0, 0, 0, 0, 0, 1, 0x00, 0x04, 1, 2, 3, 4});  // app data, no session
  junk.send({0x40, 0x01, 0x00, 0x01});                                                  // plain CoAP is not DTLS
  std::vector<std::uint8_t> noise(700);
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<std::uint8_t>(i * 37 + 11);
  junk.send(noise);
  EXPECT_FALSE(junk.receiveBytes(300ms)) << "nothing answers datagrams that are not a ClientHello";

  client::SyncCoapClient c(coaps());
  auto r = c.get("/.well-known/core");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, ccode::kContent);
  // A malformed CoAP message inside the session is the CoAP layer's to drop; the session survives.
  EXPECT_FALSE(c.sendRaw({0x17, 0xfe, 0xfd, 0x00, 0x01, 0, 0, 0, 0, 0, 9, 0x00, 0x02, 0xde, 0xad}));
  auto again = c.get("/.well-known/core");
  ASSERT_TRUE(again);
  EXPECT_EQ(call(server_, "GET", "/healthz").status, 200);
}

class CoapsBounded : public Coaps {
 protected:
  CoapsBounded()
      : Coaps(ServerOptions{.args = {"--coaps-max-half-open", "1", "--coaps-handshake-timeout-ms", "20000",
                                     "--coaps-idle-timeout-ms", "60000"}}) {}

  void advance(int ms) {
    ASSERT_EQ(call(server_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"ms", ms}}).status, 200);
  }
};

TEST_F(CoapsBounded, HalfOpenHandshakesAreBoundedAndTimeOutOnThePlatformClock) {
  // A handshake that stops after the server's first flight holds the one half-open slot.
  dtls::ClientConfig config;
  config.peer = "server";
  config.identity = kNode;
  config.key = kPsk;
  auto stalled = dtls::DtlsClient::create(config);
  ASSERT_TRUE(stalled) << stalled.error();
  RawUdp udp(server_.coapsPort());
  sendAll(udp, stalled->start(dtls::Clock::now()));
  auto verify = udp.receiveBytes();
  ASSERT_TRUE(verify) << "no HelloVerifyRequest";
  sendAll(udp, stalled->receive(*verify, dtls::Clock::now()));
  ASSERT_TRUE(udp.receiveBytes()) << "no ServerHello flight: the handshake did not start";

  client::SyncCoapClient refused(coaps());
  auto r = refused.get("/.well-known/core");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), client::Error::DtlsHandshakeFailed);
  EXPECT_TRUE(logged("handshake refused")) << server_.log();

  // Past the handshake timeout on the platform clock the slot is free again. (The refused client
  // gave up after its own 5 s, well within the server's 20 s.)
  advance(21'000);
  EXPECT_TRUE(logged("handshake timed out")) << server_.log();
  client::SyncCoapClient admitted(coaps());
  auto ok = admitted.get("/.well-known/core");
  ASSERT_TRUE(ok) << ok.error().message() << " / " << admitted.async().dtlsStatus().lastFailure;
}

TEST_F(CoapsBounded, AnIdleSessionEndsAndTheClientHandshakesAgain) {
  client::SyncCoapClient c(coaps());
  ASSERT_TRUE(c.get("/.well-known/core"));
  EXPECT_EQ(c.async().dtlsStatus().handshakes, 1u);
  advance(61'000);
  ASSERT_TRUE(logged("DTLS session closed")) << server_.log();
  for (int i = 0; i < 100 && c.async().dtlsStatus().established; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_FALSE(c.async().dtlsStatus().established) << "the server's close_notify reached the client";
  auto r = c.get("/.well-known/core");
  ASSERT_TRUE(r) << r.error().message() << " / " << c.async().dtlsStatus().lastFailure;
  EXPECT_EQ(r->payloadText(), kWellKnown);
  EXPECT_EQ(c.async().dtlsStatus().handshakes, 2u);
}

}  // namespace
}  // namespace fc::test
