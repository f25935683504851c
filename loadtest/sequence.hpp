// Per-stream (one publisher as seen by one subscriber) sequence tracking at the receiver.
// Sequence numbers start at 0. The tracker remembers the highest number seen and which of the 64
// numbers below it have arrived, so it tells a late message (out of order, first copy) from a
// duplicate in 16 bytes per stream. Messages never seen are counted as lost at the end, from the
// number each publisher sent: lost = expected − unique.
#pragma once

#include <cstdint>

namespace fc::loadtest {

enum class SeqOutcome : std::uint8_t {
  InOrder,    ///< the next number
  Ahead,      ///< higher than the next: the ones skipped may still arrive (late) or be lost
  Late,       ///< lower than the highest seen and not seen before: out of order
  Duplicate,  ///< seen before
  TooOld,     ///< more than 64 below the highest seen: counted as out of order, not checked for duplicates
};

class SequenceTracker {
 public:
  static constexpr std::uint64_t kWindow = 64;

  SeqOutcome add(std::uint64_t seq) noexcept;
  /// One past the highest number seen.
  [[nodiscard]] std::uint64_t next() const noexcept { return next_; }

 private:
  std::uint64_t next_ = 0;
  std::uint64_t seen_ = 0;  // bit k: number next_ - 1 - k has arrived
};

/// Counts for many streams; unique = everything except duplicates.
struct SeqCounts {
  std::uint64_t unique = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t outOfOrder = 0;  // Late + TooOld
  void count(SeqOutcome o) noexcept {
    if (o == SeqOutcome::Duplicate) {
      ++duplicates;
      return;
    }
    ++unique;
    if (o == SeqOutcome::Late || o == SeqOutcome::TooOld) ++outOfOrder;
  }
};

}  // namespace fc::loadtest
