#include "loadtest/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace fc::loadtest {
namespace {

constexpr unsigned kSubBits = 7;                          // 128 buckets per power of two
constexpr std::uint64_t kExact = 1u << (kSubBits + 1);    // values below 256 get a bucket each
constexpr std::uint64_t kHalf = 1u << kSubBits;           // 128
// The largest value has its top bit at 63, i.e. shift 63 - kSubBits.
constexpr std::size_t kBuckets = kExact + (63 - kSubBits) * kHalf;

}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

std::size_t Histogram::bucketOf(std::uint64_t v) noexcept {
  if (v < kExact) return static_cast<std::size_t>(v);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));  // ≥ kSubBits + 1
  const unsigned shift = msb - kSubBits;                                  // ≥ 1
  const std::uint64_t mantissa = v >> shift;                              // in [128, 255]
  return static_cast<std::size_t>(kExact + (shift - 1) * kHalf + (mantissa - kHalf));
}

std::uint64_t Histogram::bucketUpper(std::size_t b) noexcept {
  if (b < kExact) return b;
  const std::uint64_t shift = (b - kExact) / kHalf + 1;
  const std::uint64_t mantissa = (b - kExact) % kHalf + kHalf;
  const std::uint64_t upper = ((mantissa + 1) << shift) - 1;
  return upper == 0 ? UINT64_MAX : upper;  // the last bucket's bound wraps to 2^64 - 1
}

void Histogram::record(std::uint64_t v) noexcept {
  ++counts_[bucketOf(v)];
  ++count_;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<long double>(v);
}

void Histogram::merge(const Histogram& o) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

double Histogram::mean() const noexcept {
  return count_ ? static_cast<double>(sum_ / static_cast<long double>(count_)) : 0.0;
}

std::uint64_t Histogram::percentile(double percent) const noexcept {
  if (count_ == 0) return 0;
  if (percent >= 100.0) return max_;
  // The rank of the value at `percent` (1-based, nearest-rank definition).
  auto rank = static_cast<std::uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) return std::clamp(bucketUpper(b), min_, max_);
  }
  return max_;
}

}  // namespace fc::loadtest
