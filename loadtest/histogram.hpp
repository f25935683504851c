// A log-linear histogram of non-negative integers (nanoseconds here), in the spirit of HdrHistogram:
// exact below 256, then 128 buckets per power of two, so any recorded value is reported within
// 1/128 (< 0.8 %) of itself. Fixed memory (≈ 58 KB), O(1) record, cheap merge — one per I/O thread,
// merged at the end of a run.
#pragma once

#include <cstdint>
#include <vector>

namespace fc::loadtest {

class Histogram {
 public:
  Histogram();

  void record(std::uint64_t value) noexcept;
  void merge(const Histogram& other) noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::uint64_t min() const noexcept { return count_ ? min_ : 0; }
  [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
  [[nodiscard]] double mean() const noexcept;
  /// The smallest bucket bound below which `percent` % of the values lie (0 < percent ≤ 100),
  /// clamped to [min, max]; 0 when empty. percentile(100) is the exact maximum.
  [[nodiscard]] std::uint64_t percentile(double percent) const noexcept;

  /// Bucket of `value` and the largest value that bucket holds (exposed for tests).
  static std::size_t bucketOf(std::uint64_t value) noexcept;
  static std::uint64_t bucketUpper(std::size_t bucket) noexcept;

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace fc::loadtest
