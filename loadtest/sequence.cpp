#include "loadtest/sequence.hpp"

namespace fc::loadtest {

SeqOutcome SequenceTracker::add(std::uint64_t seq) noexcept {
  if (seq >= next_) {
    const std::uint64_t shift = seq - next_ + 1;
    const bool inOrder = seq == next_;
    seen_ = shift >= kWindow ? 0 : seen_ << shift;
    seen_ |= 1;  // bit 0 is seq itself, the new highest
    next_ = seq + 1;
    return inOrder ? SeqOutcome::InOrder : SeqOutcome::Ahead;
  }
  const std::uint64_t back = next_ - 1 - seq;
  if (back >= kWindow) return SeqOutcome::TooOld;
  const std::uint64_t bit = std::uint64_t{1} << back;
  if (seen_ & bit) return SeqOutcome::Duplicate;
  seen_ |= bit;
  return SeqOutcome::Late;
}

}  // namespace fc::loadtest
