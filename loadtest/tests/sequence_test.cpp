#include "loadtest/sequence.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace fc::loadtest {
namespace {

SeqCounts feed(const std::vector<std::uint64_t>& seqs) {
  SequenceTracker t;
  SeqCounts c;
  for (auto s : seqs) c.count(t.add(s));
  return c;
}

TEST(Sequence, InOrder) {
  SequenceTracker t;
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(t.add(i), SeqOutcome::InOrder);
  EXPECT_EQ(t.next(), 1000u);
}

TEST(Sequence, GapThenLateArrivalIsOutOfOrderNotLost) {
  SequenceTracker t;
  EXPECT_EQ(t.add(0), SeqOutcome::InOrder);
  EXPECT_EQ(t.add(2), SeqOutcome::Ahead);
  EXPECT_EQ(t.add(1), SeqOutcome::Late);
  EXPECT_EQ(t.add(3), SeqOutcome::InOrder);
  const auto c = feed({0, 2, 1, 3});
  EXPECT_EQ(c.unique, 4u);
  EXPECT_EQ(c.outOfOrder, 1u);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST(Sequence, Duplicates) {
  SequenceTracker t;
  EXPECT_EQ(t.add(0), SeqOutcome::InOrder);
  EXPECT_EQ(t.add(0), SeqOutcome::Duplicate);
  EXPECT_EQ(t.add(1), SeqOutcome::InOrder);
  EXPECT_EQ(t.add(5), SeqOutcome::Ahead);
  EXPECT_EQ(t.add(3), SeqOutcome::Late);
  EXPECT_EQ(t.add(3), SeqOutcome::Duplicate);  // a late one arriving twice
  EXPECT_EQ(t.add(5), SeqOutcome::Duplicate);
  EXPECT_EQ(t.add(1), SeqOutcome::Duplicate);
}

TEST(Sequence, LostMessagesAreTheOnesNeverSeen) {
  // 0..9 sent; 4 and 7 never arrive: the receiver counts 8 unique, the run reports 10 - 8 = 2 lost.
  const auto c = feed({0, 1, 2, 3, 5, 6, 8, 9});
  EXPECT_EQ(c.unique, 8u);
  EXPECT_EQ(c.outOfOrder, 0u);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST(Sequence, WindowEdge) {
  SequenceTracker t;
  EXPECT_EQ(t.add(100), SeqOutcome::Ahead);
  EXPECT_EQ(t.add(100 - 63), SeqOutcome::Late);   // the oldest number the window still remembers
  EXPECT_EQ(t.add(100 - 63), SeqOutcome::Duplicate);
  EXPECT_EQ(t.add(100 - 64), SeqOutcome::TooOld);  // beyond it: out of order, not checked for duplicates
  // A jump of 64 or more forgets everything behind it.
  EXPECT_EQ(t.add(300), SeqOutcome::Ahead);
  EXPECT_EQ(t.add(299), SeqOutcome::Late);
  EXPECT_EQ(t.add(300), SeqOutcome::Duplicate);
}

TEST(Sequence, QoS1RedeliveryAfterReconnectLooksLikeDuplicates) {
  const auto c = feed({0, 1, 2, 3, 2, 3, 4});
  EXPECT_EQ(c.unique, 5u);
  EXPECT_EQ(c.duplicates, 2u);
  EXPECT_EQ(c.outOfOrder, 0u);
}

}  // namespace
}  // namespace fc::loadtest
