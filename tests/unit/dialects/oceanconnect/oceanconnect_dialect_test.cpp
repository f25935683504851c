// The oceanconnect dialect's Register decision without sockets: which endpoints are admitted, and
// how a DTLS session (the peer lookup the lead wires to the DTLS listener) narrows it to one device.
#include "server/dialects/oceanconnect/oceanconnect.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"

namespace fc::server::dialects {
namespace {

class OceanConnectDialectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform_.createProduct(core::Product{"led", "", "oceanconnect", nlohmann::json::object()}));
    ASSERT_TRUE(platform_.createProduct(core::Product{"plain", "", "generic", nlohmann::json::object()}));
    for (const auto& [id, product, node] : {std::tuple{"lamp-1", "led", "node-1"}, std::tuple{"lamp-2", "led", "node-2"},
                                            std::tuple{"gen-1", "plain", "node-3"}}) {
      core::Device d;
      d.id = id;
      d.productId = product;
      d.identifiers = {{"nodeId", node}};
      if (std::string(product) == "led") {
        ASSERT_FALSE(prepareOceanConnectDevice(platform_, d));  // ASSERT_* expands to an if/else
      }
      ASSERT_TRUE(platform_.createDevice(d));
    }
  }

  core::PlatformClock clock_;
  core::Platform platform_{clock_, nullptr};
  boost::asio::io_context ioc_;
  coap::CoapServer coap_{ioc_, CoapConfig{}, clock_};
  coap::Lwm2mServer lwm2m_{platform_, coap_};
  OceanConnectDialect dialect_{platform_, lwm2m_};
};

TEST_F(OceanConnectDialectTest, PlainPeersRegisterByNodeIdOfAnOceanConnectDevice) {
  auto a = dialect_.admit("node-1", "127.0.0.1:5000");
  ASSERT_TRUE(a) << a.error().reason;
  EXPECT_EQ(a->deviceId, "lamp-1");
  EXPECT_EQ(a->transport, "coap");
  EXPECT_FALSE(dialect_.admit("node-3", "127.0.0.1:5000")) << "a generic device's nodeId does not count";
  EXPECT_FALSE(dialect_.admit("lamp-1", "127.0.0.1:5000")) << "the device id is not the endpoint name";
  auto nobody = dialect_.admit("nobody", "127.0.0.1:5000");
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().deviceId, "") << "an unknown endpoint names no device";
}

TEST_F(OceanConnectDialectTest, ADtlsSessionAdmitsOnlyItsOwnDevice) {
  dialect_.setPeerLookup([](const fc::coap::PeerKey& peer) -> std::optional<coap::DtlsPeerInfo> {
    if (peer == "coaps:127.0.0.1:6000") return coap::DtlsPeerInfo{"id-1", "lamp-1", "TLS_PSK_WITH_AES_128_CCM_8"};
    return std::nullopt;
  });
  auto own = dialect_.admit("node-1", "coaps:127.0.0.1:6000");
  ASSERT_TRUE(own) << own.error().reason;
  EXPECT_EQ(own->deviceId, "lamp-1");
  EXPECT_EQ(own->transport, "coaps");
  auto other = dialect_.admit("node-2", "coaps:127.0.0.1:6000");
  ASSERT_FALSE(other) << "lamp-1's session cannot register lamp-2";
  EXPECT_NE(other.error().reason.find("id-1"), std::string::npos) << other.error().reason;
  EXPECT_EQ(other.error().deviceId, "lamp-2") << "the refusal names the endpoint's device, for its journal";
  auto plain = dialect_.admit("node-2", "127.0.0.1:5000");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->transport, "coap") << "peers the lookup does not know are plain UDP";
}

}  // namespace
}  // namespace fc::server::dialects
