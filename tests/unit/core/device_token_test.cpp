// Device tokens kept by the platform: one live token per (device, kind), expiry on the platform
// clock, and their end with the device and with a reset.
#include <gtest/gtest.h>

#include "server/core/clock.hpp"
#include "server/core/platform.hpp"

namespace fc::server::core {
namespace {

using namespace std::chrono_literals;

class DeviceTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.freeze();
    ASSERT_TRUE(platform_.createProduct(Product{"p", "", "aliyun", {}}));
    for (const char* id : {"d1", "d2"}) {
      Device d;
      d.id = id;
      d.productId = "p";
      ASSERT_TRUE(platform_.createDevice(d));
    }
  }
  PlatformClock clock_;
  Platform platform_{clock_, nullptr};
};

TEST_F(DeviceTokenTest, ATokenResolvesToItsDeviceUntilItExpires) {
  const auto t = platform_.issueDeviceToken("aliyun.http", "d1", 1h);
  EXPECT_EQ(t.token.size(), 32u);
  auto found = platform_.deviceToken("aliyun.http", t.token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->owner, "d1");
  EXPECT_FALSE(platform_.deviceToken("aliyun.iot", t.token)) << "another kind";
  EXPECT_FALSE(platform_.deviceToken("aliyun.http", "no-such-token"));
  clock_.advance(59min);
  EXPECT_TRUE(platform_.deviceToken("aliyun.http", t.token));
  clock_.advance(1min);
  EXPECT_FALSE(platform_.deviceToken("aliyun.http", t.token)) << "expired on the platform clock";
  EXPECT_TRUE(platform_.deviceToken("aliyun.http", t.token, /*evenExpired=*/true)) << "known, to say it expired";
}

TEST_F(DeviceTokenTest, ANewTokenReplacesTheDevicesEarlierOneOfTheSameKindOnly) {
  const auto first = platform_.issueDeviceToken("aliyun.http", "d1", 1h);
  const auto pair = platform_.issueDeviceToken("aliyun.iot", "d1", 1h, "secret-half");
  const auto other = platform_.issueDeviceToken("aliyun.http", "d2", 1h);
  const auto second = platform_.issueDeviceToken("aliyun.http", "d1", 1h);
  EXPECT_NE(first.token, second.token);
  EXPECT_FALSE(platform_.deviceToken("aliyun.http", first.token));
  EXPECT_TRUE(platform_.deviceToken("aliyun.http", second.token));
  EXPECT_TRUE(platform_.deviceToken("aliyun.http", other.token));
  auto iot = platform_.deviceToken("aliyun.iot", pair.token);
  ASSERT_TRUE(iot);
  EXPECT_EQ(iot->secret, "secret-half");
}

TEST_F(DeviceTokenTest, TokensGoWithTheirDeviceAndWithReset) {
  const auto t1 = platform_.issueDeviceToken("aliyun.http", "d1", 1h);
  const auto t2 = platform_.issueDeviceToken("aliyun.http", "d2", 1h);
  ASSERT_TRUE(platform_.deleteDevice("d1"));
  Device again;
  again.id = "d1";
  again.productId = "p";
  ASSERT_TRUE(platform_.createDevice(again));
  EXPECT_FALSE(platform_.deviceToken("aliyun.http", t1.token)) << "a re-created device starts signed out";
  EXPECT_TRUE(platform_.deviceToken("aliyun.http", t2.token));
  platform_.reset();
  EXPECT_FALSE(platform_.deviceToken("aliyun.http", t2.token));
}

}  // namespace
}  // namespace fc::server::core
