// The platform's device shadows: merge semantics, versions, events, and their life with the device.
#include <gtest/gtest.h>

#include "server/core/platform.hpp"

namespace fc::server::core {
namespace {

using nlohmann::json;

class FixedClock final : public Clock {
 public:
  TimePoint now() const override { return fromMillis(1'700'000'000'000); }
};

class ShadowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform_.createProduct(Product{"p", "", "generic", {}}));
    Device d;
    d.id = "d";
    d.productId = "p";
    ASSERT_TRUE(platform_.createDevice(d));
    platform_.subscribe([this](const Event& e) {
      if (const auto* u = std::get_if<ShadowUpdated>(&e)) events_.push_back(*u);
    });
  }
  FixedClock clock_;
  Platform platform_{clock_, nullptr};
  std::vector<ShadowUpdated> events_;
};

TEST_F(ShadowTest, StartsEmptyAndMergesWithNullRemoving) {
  auto empty = platform_.shadow("d");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(empty->version, 0);
  EXPECT_FALSE(empty->updatedAt);

  ShadowUpdate u;
  u.reported = {{"temp", 21}, {"mode", "eco"}};
  u.source = "device";
  auto s = platform_.updateShadow("d", u);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->version, 1);
  EXPECT_EQ(s->updatedAt, clock_.now());

  ShadowUpdate remove;
  remove.reported = {{"mode", nullptr}, {"temp", 22}};
  remove.desired = {{"temp", 18}};
  s = platform_.updateShadow("d", remove);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->reported, json({{"temp", 22}}));
  EXPECT_EQ(s->desired, json({{"temp", 18}}));
  EXPECT_EQ(s->version, 2);

  ShadowUpdate clear;
  clear.clearDesired = true;
  s = platform_.updateShadow("d", clear);
  EXPECT_TRUE(s->desired.empty());
  EXPECT_EQ(toJson(*s), json::parse(R"({"deviceId":"d","state":{"desired":{},"reported":{"temp":22}},"version":3,
                                        "updatedAt":"2023-11-14T22:13:20.000Z"})"));
}

TEST_F(ShadowTest, AGivenVersionMustGoUp) {
  ShadowUpdate u;
  u.reported = {{"a", 1}};
  u.version = 5;
  ASSERT_EQ(platform_.updateShadow("d", u)->version, 5);
  auto stale = platform_.updateShadow("d", u);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::Conflict);
  u.version = 6;
  EXPECT_EQ(platform_.updateShadow("d", u)->version, 6);
  EXPECT_EQ(platform_.updateShadow("d", ShadowUpdate{})->version, 7) << "no version: one more";
}

TEST_F(ShadowTest, EventsTellTheSourceAndWhetherDesiredChanged) {
  ShadowUpdate device;
  device.reported = {{"a", 1}};
  device.source = "device";
  ASSERT_TRUE(platform_.updateShadow("d", device));
  ShadowUpdate api;
  api.desired = {{"a", 2}};
  ASSERT_TRUE(platform_.updateShadow("d", api));
  ASSERT_EQ(events_.size(), 2u);
  EXPECT_EQ(events_[0].source, "device");
  EXPECT_FALSE(events_[0].desiredChanged);
  EXPECT_EQ(events_[1].source, "api");
  EXPECT_TRUE(events_[1].desiredChanged);
  EXPECT_EQ(events_[1].shadow.desired["a"], 2);
  EXPECT_EQ(events_[1].shadow.version, 2);
}

TEST_F(ShadowTest, BadInputAndUnknownDevices) {
  ShadowUpdate notObject;
  notObject.reported = 5;
  EXPECT_EQ(platform_.updateShadow("d", notObject).error().code, Errc::Invalid);
  EXPECT_EQ(platform_.updateShadow("ghost", ShadowUpdate{}).error().code, Errc::NotFound);
  EXPECT_EQ(platform_.shadow("ghost").error().code, Errc::NotFound);
}

TEST_F(ShadowTest, GoesWithItsDeviceAndWithReset) {
  ShadowUpdate u;
  u.reported = {{"a", 1}};
  ASSERT_TRUE(platform_.updateShadow("d", u));
  ASSERT_TRUE(platform_.deleteDevice("d"));
  Device again;
  again.id = "d";
  again.productId = "p";
  ASSERT_TRUE(platform_.createDevice(again));
  EXPECT_EQ(platform_.shadow("d")->version, 0);
  ASSERT_TRUE(platform_.updateShadow("d", u));
  platform_.reset();
  EXPECT_FALSE(platform_.shadow("d"));
}

}  // namespace
}  // namespace fc::server::core
