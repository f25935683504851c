#include "loadtest/payload.hpp"

#include <gtest/gtest.h>

#include <array>

namespace fc::loadtest {
namespace {

TEST(Payload, GoldenBytes) {
  auto p = makePayloadTemplate(28);
  writeHeader(p, PayloadHeader{0x01020304, 0x1112131415161718ull, 0x2122232425262728ull});
  const std::array<std::uint8_t, 28> wire{
      'F',  'C',  'L',  '1',                           // magic
      0x01, 0x02, 0x03, 0x04,                          // publisher, big-endian
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,  // sequence number
      0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,  // send time, ns
      '.',  '.',  '.',  '.',                           // padding
  };
  EXPECT_EQ(std::vector<std::uint8_t>(wire.begin(), wire.end()), p);
}

TEST(Payload, RoundTripKeepsSizeAndPadding) {
  for (std::size_t size : {24u, 25u, 64u, 1024u}) {
    auto p = makePayloadTemplate(size);
    ASSERT_EQ(p.size(), size);
    const PayloadHeader h{7, 123456789, 987654321012345ull};
    writeHeader(p, h);
    EXPECT_EQ(readHeader(p), h);
    for (std::size_t i = kPayloadHeader; i < size; ++i) ASSERT_EQ(p[i], '.');
  }
}

TEST(Payload, TemplateNeverShorterThanTheHeader) { EXPECT_EQ(makePayloadTemplate(3).size(), kPayloadHeader); }

TEST(Payload, RejectsForeignOrShortPayloads) {
  auto p = makePayloadTemplate(32);
  writeHeader(p, PayloadHeader{1, 2, 3});
  for (std::size_t n = 0; n < kPayloadHeader; ++n)
    EXPECT_FALSE(readHeader(std::span(p).first(n))) << "prefix " << n;
  p[0] = 'X';
  EXPECT_FALSE(readHeader(p));
  const std::vector<std::uint8_t> text(40, 'a');
  EXPECT_FALSE(readHeader(text));
}

}  // namespace
}  // namespace fc::loadtest
