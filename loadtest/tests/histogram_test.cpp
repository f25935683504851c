#include "loadtest/histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace fc::loadtest {
namespace {

TEST(Histogram, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.percentile(50), 50u);
  EXPECT_EQ(h.percentile(90), 90u);
  EXPECT_EQ(h.percentile(99), 99u);
  EXPECT_EQ(h.percentile(99.9), 100u);  // nearest rank: ceil(99.9) = 100
  EXPECT_EQ(h.percentile(100), 100u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(Histogram, BucketsAreContiguousAndMonotonic) {
  // Every value lands in a bucket whose upper bound is ≥ it, and the previous bucket's bound is < it.
  const std::uint64_t values[] = {0,   1,          255,       256, 257, 511, 512, 1000, 123456789, (1ull << 40) + 12345,
                                  UINT64_MAX - 1, UINT64_MAX};
  for (std::uint64_t v : values) {
    const auto b = Histogram::bucketOf(v);
    EXPECT_GE(Histogram::bucketUpper(b), v) << v;
    if (b > 0) {
      EXPECT_LT(Histogram::bucketUpper(b - 1), v) << v;
    }
  }
}

TEST(Histogram, RelativeErrorBelowOnePercent) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint64_t> d(256, 10'000'000'000ull);
  for (int i = 0; i < 100000; ++i) {
    const auto v = d(rng);
    const auto upper = Histogram::bucketUpper(Histogram::bucketOf(v));
    ASSERT_LE(static_cast<double>(upper - v) / static_cast<double>(v), 1.0 / 128) << v;
  }
}

TEST(Histogram, PercentilesOfALatencyLikeDistribution) {
  // 990 fast values (1 ms) and 10 slow ones (50 ms): p99 is still fast, p99.9 and max are slow.
  Histogram h;
  for (int i = 0; i < 990; ++i) h.record(1'000'000);
  for (int i = 0; i < 10; ++i) h.record(50'000'000);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), 1e6, 1e6 / 128);
  EXPECT_NEAR(static_cast<double>(h.percentile(99)), 1e6, 1e6 / 128);
  EXPECT_NEAR(static_cast<double>(h.percentile(99.9)), 5e7, 5e7 / 128);
  EXPECT_EQ(h.max(), 50'000'000u);
  // A percentile is never reported above the real maximum.
  EXPECT_LE(h.percentile(99.9), h.max());
}

TEST(Histogram, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  for (std::uint64_t v = 0; v < 5000; v += 7) {
    (v % 2 ? a : b).record(v * 1000);
    all.record(v * 1000);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p)) << p;
}

}  // namespace
}  // namespace fc::loadtest
