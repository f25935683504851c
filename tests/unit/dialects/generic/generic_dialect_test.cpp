// The generic dialect's topic rights: its device publishes below devices/{id}/ and subscribes
// to anything there (docs/dialects/generic.md), and nothing of another device's.
#include "server/dialects/generic/generic.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fc::server::dialects {
namespace {

TEST(GenericAcl, OwnTopicsOnly) {
  core::Device device;
  device.id = "dev-1";
  const auto acl = GenericDialect{}.topicAcl(device);
  EXPECT_TRUE(acl.mayPublish("devices/dev-1/telemetry"));
  EXPECT_TRUE(acl.mayPublish("devices/dev-1/commands/c1/result"));
  EXPECT_TRUE(acl.mayPublish("devices/dev-1//"));
  EXPECT_FALSE(acl.mayPublish("devices/dev-1/")) << "the root itself is no topic of the device's";
  EXPECT_FALSE(acl.mayPublish("devices/dev-1"));
  EXPECT_FALSE(acl.mayPublish("devices/dev-2/telemetry"));
  EXPECT_FALSE(acl.mayPublish("devices/dev-10/telemetry"));
  EXPECT_TRUE(acl.maySubscribe("devices/dev-1/commands"));
  EXPECT_TRUE(acl.maySubscribe("devices/dev-1/#"));
  EXPECT_TRUE(acl.maySubscribe("devices/dev-1"));
  EXPECT_FALSE(acl.maySubscribe("devices/+/commands"));
  EXPECT_FALSE(acl.maySubscribe("devices/#"));
  EXPECT_FALSE(acl.maySubscribe("#"));
}

}  // namespace
}  // namespace fc::server::dialects
