// The device registry: products and devices, and the identifier index kept in step with them.
#include <gtest/gtest.h>

#include "server/core/device_registry.hpp"

namespace fc::server::core {
namespace {

using nlohmann::json;

Device device(const std::string& id, const std::string& productId, json identifiers) {
  Device d;
  d.id = id;
  d.productId = productId;
  d.identifiers = std::move(identifiers);
  return d;
}

class DeviceRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.putProduct(Product{"p", "P", "aliyun"});
    registry_.putProduct(Product{"q", "Q", "aliyun"});
  }
  DeviceRegistry registry_;
};

TEST_F(DeviceRegistryTest, FindsADeviceByProductAndStringIdentifier) {
  registry_.putDevice(device("d1", "p", {{"deviceName", "lamp"}, {"n", 5}}));
  registry_.putDevice(device("d2", "q", {{"deviceName", "lamp"}}));
  ASSERT_TRUE(registry_.find("p", "deviceName", "lamp"));
  EXPECT_EQ(registry_.find("p", "deviceName", "lamp")->id, "d1");
  EXPECT_EQ(registry_.find("q", "deviceName", "lamp")->id, "d2");
  EXPECT_FALSE(registry_.find("p", "deviceName", "lam"));
  EXPECT_FALSE(registry_.find("p", "n", "5")) << "only string values are identifiers to find by";
  EXPECT_FALSE(registry_.find("r", "deviceName", "lamp"));
}

TEST_F(DeviceRegistryTest, TheLowestIdWinsWhenSeveralShareAValue) {
  registry_.putDevice(device("d9", "p", {{"k", "v"}}));
  registry_.putDevice(device("d3", "p", {{"k", "v"}}));
  EXPECT_EQ(registry_.find("p", "k", "v")->id, "d3");
  registry_.eraseDevice("d3");
  EXPECT_EQ(registry_.find("p", "k", "v")->id, "d9");
}

TEST_F(DeviceRegistryTest, TheIndexFollowsChangesReplacementsAndDeletes) {
  registry_.putDevice(device("d1", "p", {{"deviceName", "old"}}));
  registry_.setIdentifiers("d1", {{"deviceName", "new"}});
  EXPECT_FALSE(registry_.find("p", "deviceName", "old"));
  EXPECT_EQ(registry_.find("p", "deviceName", "new")->id, "d1");
  registry_.putDevice(device("d1", "q", {{"deviceName", "moved"}}));
  EXPECT_FALSE(registry_.find("p", "deviceName", "new"));
  EXPECT_EQ(registry_.find("q", "deviceName", "moved")->id, "d1");
  auto erased = registry_.eraseDevice("d1");
  ASSERT_TRUE(erased);
  EXPECT_EQ(erased->identifiers["deviceName"], "moved");
  EXPECT_FALSE(registry_.find("q", "deviceName", "moved"));
  EXPECT_FALSE(registry_.eraseDevice("d1"));
}

TEST_F(DeviceRegistryTest, ChangeLeavesTheIndexAlone) {
  registry_.putDevice(device("d1", "p", {{"deviceName", "lamp"}}));
  const Device* d = registry_.change("d1", [](Device& d) { d.online = true; });
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->online);
  EXPECT_TRUE(registry_.find("p", "deviceName", "lamp")->online);
  EXPECT_FALSE(registry_.change("ghost", [](Device&) { ADD_FAILURE() << "not called"; }));
}

TEST_F(DeviceRegistryTest, ErasingAProductTakesItsDevicesAndTheirIndex) {
  registry_.putDevice(device("b", "p", {{"k", "1"}}));
  registry_.putDevice(device("a", "p", {{"k", "2"}}));
  registry_.putDevice(device("c", "q", {{"k", "1"}}));
  auto removed = registry_.eraseProduct("p");
  ASSERT_EQ(removed.size(), 2u);
  EXPECT_EQ(removed[0].id, "a");
  EXPECT_EQ(removed[1].id, "b");
  EXPECT_FALSE(registry_.product("p"));
  EXPECT_FALSE(registry_.find("p", "k", "1"));
  EXPECT_EQ(registry_.find("q", "k", "1")->id, "c");
  EXPECT_EQ(registry_.devices().size(), 1u);
  registry_.clear();
  EXPECT_FALSE(registry_.find("q", "k", "1"));
  EXPECT_EQ(registry_.productCount(), 0u);
}

TEST_F(DeviceRegistryTest, ListsInIdOrderOptionallyOfOneProduct) {
  registry_.putDevice(device("z", "p", json::object()));
  registry_.putDevice(device("m", "q", json::object()));
  registry_.putDevice(device("a", "p", json::object()));
  std::vector<std::string> ids;
  for (const auto& d : registry_.devices("p")) ids.push_back(d.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(registry_.devices().size(), 3u);
  EXPECT_EQ(registry_.products().front().id, "p");
}

}  // namespace
}  // namespace fc::server::core
