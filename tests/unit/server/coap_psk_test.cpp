// The coaps PSK lookup (server/coap/coap_psk.hpp) against an in-memory Platform: pskIdentity before
// nodeId, any product's devices, hex keys decoded, and what counts as unknown.
#include "server/coap/coap_psk.hpp"

#include <gtest/gtest.h>

namespace fc::server::coap {
namespace {

class PskLookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform_.createProduct(core::Product{"meters", "", "generic", {}}));
    ASSERT_TRUE(platform_.createProduct(core::Product{"sensors", "", "oceanconnect", {}}));
  }
  void device(const std::string& id, const std::string& product, nlohmann::json identifiers, nlohmann::json secrets) {
    core::Device d;
    d.id = id;
    d.productId = product;
    d.identifiers = std::move(identifiers);
    d.secrets = std::move(secrets);
    ASSERT_TRUE(platform_.createDevice(d));
  }

  core::PlatformClock clock_;
  core::Platform platform_{clock_, nullptr};
};

TEST(PskFromHex, DecodesEitherCaseAndRefusesTheRest) {
  EXPECT_EQ(pskFromHex("00a1FF"), (std::vector<std::uint8_t>{0x00, 0xa1, 0xff}));
  EXPECT_FALSE(pskFromHex(""));
  EXPECT_FALSE(pskFromHex("abc"));
  EXPECT_FALSE(pskFromHex("zz"));
  EXPECT_FALSE(pskFromHex("0x12"));
}

TEST_F(PskLookupTest, NodeIdNamesTheDeviceInAnyProduct) {
  device("m1", "meters", {{"nodeId", "node-1"}}, {{"psk", "0102"}});
  device("s1", "sensors", {{"nodeId", "node-2"}}, {{"psk", "a0b0c0"}});
  auto m1 = findPsk(platform_, "node-1");
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->deviceId, "m1");
  EXPECT_EQ(m1->key, (std::vector<std::uint8_t>{1, 2}));
  auto s1 = platformPskLookup(platform_)("node-2");
  ASSERT_TRUE(s1);
  EXPECT_EQ(s1->deviceId, "s1");
  EXPECT_EQ(s1->key, (std::vector<std::uint8_t>{0xa0, 0xb0, 0xc0}));
}

TEST_F(PskLookupTest, PskIdentityWinsAndReplacesTheNodeId) {
  device("m1", "meters", {{"nodeId", "node-1"}, {"pskIdentity", "shared-name"}}, {{"psk", "11"}});
  device("s1", "sensors", {{"nodeId", "shared-name"}}, {{"psk", "22"}});
  auto match = findPsk(platform_, "shared-name");
  ASSERT_TRUE(match);
  EXPECT_EQ(match->deviceId, "m1") << "pskIdentity is searched before nodeId";
  EXPECT_FALSE(findPsk(platform_, "node-1")) << "a device with a pskIdentity is not found by its nodeId";
}

TEST_F(PskLookupTest, UnknownWithoutAUsablePsk) {
  device("none", "meters", {{"nodeId", "no-psk"}}, nlohmann::json::object());
  device("bad", "meters", {{"nodeId", "bad-psk"}}, {{"psk", "not hex"}});
  device("num", "meters", {{"nodeId", "number-psk"}}, {{"psk", 1234}});
  EXPECT_FALSE(findPsk(platform_, "no-psk"));
  EXPECT_FALSE(findPsk(platform_, "bad-psk"));
  EXPECT_FALSE(findPsk(platform_, "number-psk"));
  EXPECT_FALSE(findPsk(platform_, "nobody"));
  EXPECT_FALSE(findPsk(platform_, ""));
}

TEST_F(PskLookupTest, ChangesCountFromTheNextLookup) {
  device("m1", "meters", {{"nodeId", "node-1"}}, {{"psk", "01"}});
  ASSERT_TRUE(findPsk(platform_, "node-1"));
  ASSERT_TRUE(platform_.updateDevice("m1", {{"secrets", {{"psk", "02"}}}}));
  EXPECT_EQ(findPsk(platform_, "node-1")->key, (std::vector<std::uint8_t>{2}));
  ASSERT_TRUE(platform_.deleteDevice("m1"));
  EXPECT_FALSE(findPsk(platform_, "node-1"));
}

}  // namespace
}  // namespace fc::server::coap
