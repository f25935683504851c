// The shadow service alone: validation, merge, versions, restore (the platform's use of it, with
// devices, events and persistence, is in shadow_test.cpp).
#include <gtest/gtest.h>

#include "server/core/shadows.hpp"

namespace fc::server::core {
namespace {

using nlohmann::json;

const auto kT = fromMillis(1'700'000'000'000);

TEST(Shadows, ValidateRefusesASideThatIsNoObject) {
  ShadowUpdate u;
  EXPECT_FALSE(Shadows::validate(u)) << "null sides: no change";
  u.desired = json::array();
  auto bad = Shadows::validate(u);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->code, Errc::Invalid);
}

TEST(Shadows, ApplyMergesClearsAndCountsVersions) {
  Shadows s;
  EXPECT_EQ(s.get("d").version, 0);
  EXPECT_FALSE(s.get("d").updatedAt);
  ShadowUpdate u;
  u.reported = {{"a", 1}, {"b", 2}};
  auto first = s.apply("d", u, kT);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->updatedAt, kT);
  u.reported = {{"a", nullptr}};
  u.desired = {{"c", 3}};
  auto second = s.apply("d", u, kT);
  EXPECT_EQ(second->reported, json({{"b", 2}}));
  EXPECT_EQ(second->desired, json({{"c", 3}}));
  EXPECT_EQ(second->version, 2);
  ShadowUpdate clear;
  clear.clearDesired = true;
  EXPECT_TRUE(s.apply("d", clear, kT)->desired.empty());
  EXPECT_EQ(s.get("d").version, 3);
  EXPECT_EQ(s.get("other").version, 0) << "per device";
}

TEST(Shadows, AGivenVersionMustExceedTheCurrentOne) {
  Shadows s;
  ShadowUpdate u;
  u.version = 5;
  ASSERT_EQ(s.apply("d", u, kT)->version, 5);
  auto stale = s.apply("d", u, kT);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, Errc::Conflict);
  EXPECT_EQ(s.get("d").version, 5) << "unchanged";
}

TEST(Shadows, RestoreEraseClear) {
  Shadows s;
  s.restore(Shadow{"d", {{"r", 1}}, json::object(), 9, kT});
  EXPECT_EQ(s.get("d").version, 9);
  EXPECT_EQ(s.get("d").reported, json({{"r", 1}}));
  s.erase("d");
  EXPECT_TRUE(s.get("d").empty());
  s.restore(Shadow{"e", {{"r", 1}}, json::object(), 1, kT});
  s.clear();
  EXPECT_EQ(s.get("e").version, 0);
}

}  // namespace
}  // namespace fc::server::core
