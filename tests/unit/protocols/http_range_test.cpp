// Range, If-Range and HTTP-date (RFC 9110 §13.1.5, §14.2, §5.6.7) for firmware downloads.
#include <gtest/gtest.h>

#include "protocols/http/range.hpp"

namespace fc::http {
namespace {

ByteRange ok(std::string_view header, std::uint64_t size) {
  auto r = parseRange(header, size);
  EXPECT_TRUE(r) << header;
  return r ? *r : ByteRange{};
}

RangeError error(std::string_view header, std::uint64_t size) {
  auto r = parseRange(header, size);
  EXPECT_FALSE(r) << header;
  return r ? RangeError{} : r.error();
}

TEST(HttpRange, FirstToLast) {
  EXPECT_EQ(ok("bytes=0-99", 1000), (ByteRange{0, 99}));
  EXPECT_EQ(ok("bytes=500-999", 1000), (ByteRange{500, 999}));
  EXPECT_EQ(ok("bytes=0-0", 1), (ByteRange{0, 0}));
  EXPECT_EQ(ok("bytes=0-0", 1).length(), 1u);
}

TEST(HttpRange, LastBeyondTheEndIsClampedToIt) {
  EXPECT_EQ(ok("bytes=900-5000", 1000), (ByteRange{900, 999}));
  EXPECT_EQ(ok("bytes=0-18446744073709551615", 10), (ByteRange{0, 9}));
}

TEST(HttpRange, OpenEndedRunsToTheEnd) {
  EXPECT_EQ(ok("bytes=100-", 1000), (ByteRange{100, 999}));
  EXPECT_EQ(ok("bytes=999-", 1000), (ByteRange{999, 999}));
  EXPECT_EQ(ok("bytes=0-", 1), (ByteRange{0, 0}));
}

TEST(HttpRange, SuffixIsTheLastNBytesOrAllOfThem) {
  EXPECT_EQ(ok("bytes=-100", 1000), (ByteRange{900, 999}));
  EXPECT_EQ(ok("bytes=-1", 1000), (ByteRange{999, 999}));
  EXPECT_EQ(ok("bytes=-1000", 1000), (ByteRange{0, 999}));
  EXPECT_EQ(ok("bytes=-5000", 1000), (ByteRange{0, 999}));  // §14.1.3: the whole representation
}

TEST(HttpRange, UnsatisfiableRanges) {
  EXPECT_EQ(error("bytes=1000-", 1000), RangeError::Unsatisfiable);
  EXPECT_EQ(error("bytes=1000-2000", 1000), RangeError::Unsatisfiable);
  EXPECT_EQ(error("bytes=-0", 1000), RangeError::Unsatisfiable);
  EXPECT_EQ(error("bytes=0-", 0), RangeError::Unsatisfiable);
  EXPECT_EQ(error("bytes=-5", 0), RangeError::Unsatisfiable);
}

TEST(HttpRange, WhitespaceCaseAndEmptyListElementsAreTolerated) {
  EXPECT_EQ(ok("  bytes=1-2  ", 10), (ByteRange{1, 2}));
  EXPECT_EQ(ok("Bytes=1-2", 10), (ByteRange{1, 2}));
  EXPECT_EQ(ok("bytes= 1-2 ", 10), (ByteRange{1, 2}));
  EXPECT_EQ(ok("bytes=,1-2,", 10), (ByteRange{1, 2}));
}

TEST(HttpRange, InvalidHeadersAreIgnored) {
  for (const char* bad : {"", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=1-x", "bytes=x-1", "bytes=5-3",
                          "items=0-1", "bytes=+1-2", "bytes=1--2", "bytes=0x10-20", "bytes= ,, ",
                          "bytes=99999999999999999999-", "bytes=-99999999999999999999", "bytes 0-1"}) {
    EXPECT_EQ(error(bad, 1000), RangeError::Ignored) << bad;
  }
}

TEST(HttpRange, SeveralRangesAreAnsweredWhole) {
  EXPECT_EQ(error("bytes=0-1,5-6", 1000), RangeError::MultipleRanges);
  EXPECT_EQ(error("bytes=0-1, -5", 1000), RangeError::MultipleRanges);
}

const Validators kValidators{"\"abc\"", 784111777};  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(HttpRange, DecideWithoutRangeIsFull) {
  EXPECT_EQ(decideRange("", "", 1000, kValidators).kind, RangeDecision::Kind::Full);
  EXPECT_EQ(decideRange("  ", "\"abc\"", 1000, kValidators).kind, RangeDecision::Kind::Full);
}

TEST(HttpRange, DecidePartialUnsatisfiableAndIgnored) {
  EXPECT_EQ(decideRange("bytes=10-19", "", 1000, kValidators), (RangeDecision{RangeDecision::Kind::Partial, {10, 19}}));
  EXPECT_EQ(decideRange("bytes=2000-", "", 1000, kValidators).kind, RangeDecision::Kind::Unsatisfiable);
  EXPECT_EQ(decideRange("bytes=0-1,3-4", "", 1000, kValidators).kind, RangeDecision::Kind::Full);
  EXPECT_EQ(decideRange("lines=1-2", "", 1000, kValidators).kind, RangeDecision::Kind::Full);
}

TEST(HttpRange, IfRangeWithTheCurrentStrongTagKeepsTheRange) {
  EXPECT_EQ(decideRange("bytes=10-", "\"abc\"", 1000, kValidators),
            (RangeDecision{RangeDecision::Kind::Partial, {10, 999}}));
}

TEST(HttpRange, IfRangeWithAnotherOrAWeakTagSendsTheWhole) {
  EXPECT_EQ(decideRange("bytes=10-", "\"other\"", 1000, kValidators).kind, RangeDecision::Kind::Full);
  EXPECT_EQ(decideRange("bytes=10-", "W/\"abc\"", 1000, kValidators).kind, RangeDecision::Kind::Full);
  // A stale validator also turns an unsatisfiable range into the whole representation.
  EXPECT_EQ(decideRange("bytes=5000-", "\"other\"", 1000, kValidators).kind, RangeDecision::Kind::Full);
}

TEST(HttpRange, IfRangeDateMustEqualLastModifiedExactly) {
  EXPECT_EQ(decideRange("bytes=10-", "Sun, 06 Nov 1994 08:49:37 GMT", 1000, kValidators).kind,
            RangeDecision::Kind::Partial);
  EXPECT_EQ(decideRange("bytes=10-", "Sun, 06 Nov 1994 08:49:38 GMT", 1000, kValidators).kind,
            RangeDecision::Kind::Full);
  EXPECT_EQ(decideRange("bytes=10-", "Sun, 06 Nov 1994 08:49:36 GMT", 1000, kValidators).kind,
            RangeDecision::Kind::Full);
  EXPECT_EQ(decideRange("bytes=10-", "not a date", 1000, kValidators).kind, RangeDecision::Kind::Full);
}

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(formatHttpDate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(formatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, ParsesTheThreeFormsOfSection5_6_7) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parseHttpDate("Thu, 29 Feb 2024 23:59:59 GMT"), 1709251199);
}

TEST(HttpDate, RoundTrips) {
  for (std::int64_t t : {0ll, 951782400ll, 1709251199ll, 1765100000ll, 4102444800ll})
    EXPECT_EQ(parseHttpDate(formatHttpDate(t)), t) << t;
}

TEST(HttpDate, RefusesMalformedDates) {
  for (const char* bad :
       {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 06 Nov 1994 08:60:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sunday, 06-Nov-94 08:49:37", "Sun Nov  6 08:49:37 94",
        "Sun, 0x Nov 1994 08:49:37 GMT", "Tue, 29 Feb 2022 00:00:00 GMT"}) {
    EXPECT_FALSE(parseHttpDate(bad)) << bad;
  }
}

}  // namespace
}  // namespace fc::http
