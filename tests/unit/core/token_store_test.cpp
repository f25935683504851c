// The expiring token store on platform time: kinds, owners, replacement, use-once tokens, restore.
#include <gtest/gtest.h>

#include "server/core/clock.hpp"
#include "server/core/token_store.hpp"

namespace fc::server::core {
namespace {

using namespace std::chrono_literals;

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { clock_.freeze(); }
  PlatformClock clock_;
  TokenStore store_{clock_};
};

TEST_F(TokenStoreTest, ATokenIsValidForItsKindUntilItExpiresOnTheClock) {
  const auto t = store_.issue("k", "owner", 10s, "half");
  EXPECT_EQ(t.token.size(), 32u);
  EXPECT_EQ(t.expiresAt, clock_.now() + 10s);
  auto found = store_.find("k", t.token);
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, t);
  EXPECT_FALSE(store_.find("other", t.token));
  clock_.advance(9s);
  EXPECT_TRUE(store_.find("k", t.token));
  clock_.advance(1s);
  EXPECT_FALSE(store_.find("k", t.token)) << "expired at expiresAt";
  EXPECT_TRUE(store_.find("k", t.token, /*evenExpired=*/true));
}

TEST_F(TokenStoreTest, ReplaceOrKeepTheOwnersEarlierTokens) {
  const auto a1 = store_.issue("k", "a", 1h);
  const auto a2 = store_.issue("k", "a", 1h);
  EXPECT_FALSE(store_.find("k", a1.token)) << "replaced";
  EXPECT_TRUE(store_.find("k", a2.token));
  const auto b1 = store_.issue("m", "b", 1h, {}, TokenStore::Earlier::Keep);
  const auto b2 = store_.issue("m", "b", 1h, {}, TokenStore::Earlier::Keep);
  EXPECT_TRUE(store_.find("m", b1.token));
  EXPECT_TRUE(store_.find("m", b2.token));
  EXPECT_TRUE(store_.find("k", a2.token)) << "another kind is untouched";
}

TEST_F(TokenStoreTest, KeepingDropsExpiredTokensOfTheKind) {
  store_.issue("m", "b", 1s, {}, TokenStore::Earlier::Keep);
  store_.issue("m", "c", 1s, {}, TokenStore::Earlier::Keep);
  const auto other = store_.issue("k", "b", 1s);
  clock_.advance(2s);
  store_.issue("m", "b", 1h, {}, TokenStore::Earlier::Keep);
  EXPECT_EQ(store_.size(), 2u) << "the fresh one and the expired one of the other kind";
  EXPECT_TRUE(store_.find("k", other.token, true));
}

TEST_F(TokenStoreTest, TakeUsesATokenUpForItsOwnerOnly) {
  const auto t = store_.issue("r", "app", 1h, {}, TokenStore::Earlier::Keep);
  EXPECT_FALSE(store_.take("r", t.token, "another-app"));
  EXPECT_FALSE(store_.take("x", t.token, "app"));
  EXPECT_TRUE(store_.take("r", t.token, "app"));
  EXPECT_FALSE(store_.take("r", t.token, "app")) << "once";
  const auto late = store_.issue("r", "app", 1s, {}, TokenStore::Earlier::Keep);
  clock_.advance(1s);
  EXPECT_FALSE(store_.take("r", late.token, "app")) << "expired";
}

TEST_F(TokenStoreTest, EraseOwnerClearAndRestore) {
  const auto a = store_.issue("k", "a", 1h);
  const auto b = store_.issue("m", "a", 1h);
  const auto c = store_.issue("k", "c", 1h);
  store_.eraseOwner("a");
  EXPECT_FALSE(store_.find("k", a.token));
  EXPECT_FALSE(store_.find("m", b.token));
  EXPECT_TRUE(store_.find("k", c.token));
  store_.clear();
  EXPECT_EQ(store_.size(), 0u);
  const Token old{"restored-token", "k", "a", "s", clock_.now() - 1s};
  store_.restore({old});
  EXPECT_FALSE(store_.find("k", old.token));
  EXPECT_EQ(store_.find("k", old.token, true), old) << "kept expired, to say so";
}

}  // namespace
}  // namespace fc::server::core
