// The platform clock: frozen, advanced, set, resumed.
#include <gtest/gtest.h>

#include "server/core/clock.hpp"

namespace fc::server::core {
namespace {

using namespace std::chrono_literals;

TEST(PlatformClock, RunsWithRealTimeByDefault) {
  PlatformClock clock;
  const auto before = std::chrono::system_clock::now();
  const auto t = clock.now();
  EXPECT_GE(t, before);
  EXPECT_LE(t, std::chrono::system_clock::now());
  EXPECT_FALSE(clock.frozen());
}

TEST(PlatformClock, FrozenClockOnlyMovesWhenAdvancedOrSet) {
  PlatformClock clock;
  clock.freeze();
  const auto t = clock.now();
  EXPECT_EQ(clock.now(), t);
  clock.advance(48h);
  EXPECT_EQ(clock.now(), t + 48h);
  clock.set(fromMillis(1'000));
  EXPECT_EQ(toMillis(clock.now()), 1'000);
}

TEST(PlatformClock, AdvanceWhileRunningShiftsTime) {
  PlatformClock clock;
  clock.advance(1h);
  const auto shifted = clock.now() - std::chrono::system_clock::now();
  EXPECT_GT(shifted, 59min);
  EXPECT_LT(shifted, 61min);
}

TEST(PlatformClock, ResumeKeepsTheFrozenInstantAsTheStartingPoint) {
  PlatformClock clock;
  clock.freeze();
  clock.advance(10h);
  const auto frozenAt = clock.now();
  clock.resume();
  EXPECT_FALSE(clock.frozen());
  EXPECT_GE(clock.now(), frozenAt);
  EXPECT_LT(clock.now(), frozenAt + 1min);
  clock.reset();
  EXPECT_LT(clock.now() - std::chrono::system_clock::now(), 1s);
}

}  // namespace
}  // namespace fc::server::core
