// Block-wise transfer arithmetic (RFC 7959): option values, sizes, slices, late negotiation.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <ostream>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "protocols/coap/block.hpp"
#include "protocols/coap/message.hpp"

namespace fc::coap {
void PrintTo(const Block& b, std::ostream* os) {
  *os << "{num " << b.num << ", M " << b.more << ", SZX " << int{b.szx} << '}';
}
}  // namespace fc::coap

namespace {

namespace coap = fc::coap;
using Bytes = std::vector<std::uint8_t>;
using coap::Block;
using coap::BlockError;

struct ValueRow {
  Block block;
  Bytes wire;
};

// RFC 7959 §2.2: NUM << 4 | M << 3 | SZX, as a minimal-length uint (RFC 7252 §3.2).
const std::vector<ValueRow>& valueRows() {
  static const std::vector<ValueRow> kRows{
      {{0, false, 0}, {}},                    // all zero: the empty value
      {{0, false, 6}, {0x06}},                // NUM 0, M 0, SZX 6 (1024)
      {{0, true, 6}, {0x0E}},                 // NUM 0, M 1 (0x08), SZX 6
      {{1, true, 6}, {0x1E}},                 // NUM 1 (0x10), M 1, SZX 6
      {{2, false, 5}, {0x25}},                // NUM 2 (0x20), M 0, SZX 5 (512)
      {{15, false, 2}, {0xF2}},               // NUM 15: the largest that fits one byte
      {{16, false, 2}, {0x01, 0x02}},         // NUM 16 (0x100): two bytes
      {{4095, true, 4}, {0xFF, 0xFC}},        // NUM 4095 (0xFFF0), M 1, SZX 4: the largest two-byte
      {{4096, false, 0}, {0x01, 0x00, 0x00}},  // NUM 4096: three bytes
      {{coap::kMaxBlockNum, true, 6}, {0xFF, 0xFF, 0xFE}},  // NUM 2^20 - 1, M 1, SZX 6
  };
  return kRows;
}

TEST(CoapBlockValue, EncodesToTheGoldenBytes) {
  for (const auto& row : valueRows()) {
    EXPECT_EQ(coap::encodeBlock(row.block), row.wire) << testing::PrintToString(row.block);
  }
}

TEST(CoapBlockValue, DecodesTheGoldenBytes) {
  for (const auto& row : valueRows()) {
    auto r = coap::decodeBlock(row.wire);
    ASSERT_TRUE(r) << testing::PrintToString(row.block);
    EXPECT_EQ(*r, row.block);
  }
}

TEST(CoapBlockValue, NonMinimalValuesDecode) {
  auto r = coap::decodeBlock(Bytes{0x00, 0x00, 0x1E});
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (Block{1, true, 6}));
}

TEST(CoapBlockValue, Errors) {
  struct Row {
    std::string name;
    Bytes wire;
    BlockError error;
  };
  const std::vector<Row> rows{
      {"Szx7", {0x07}, BlockError::ReservedSzx},                         // SZX 7 reserved (§2.2)
      {"Szx7WithMore", {0x0F}, BlockError::ReservedSzx},                 // M 1, SZX 7
      {"Szx7TwoBytes", {0x01, 0x07}, BlockError::ReservedSzx},           // NUM 16, SZX 7
      {"FourBytes", {0x00, 0x00, 0x00, 0x06}, BlockError::ValueTooLong},  // value is 0-3 bytes (§2.2)
  };
  for (const auto& row : rows) {
    auto r = coap::decodeBlock(row.wire);
    ASSERT_FALSE(r) << row.name;
    EXPECT_EQ(r.error(), row.error) << row.name;
  }
  auto big = coap::blockFromUint(0x01000000);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), BlockError::ValueTooLong);
}

TEST(CoapBlockValue, ThroughAMessageOption) {
  coap::Message m{.type = coap::Type::Acknowledgement, .code = coap::code::kContent};
  m.set(coap::option::kBlock2, coap::encodeBlock(Block{3, true, 5}));
  const auto wire = coap::encode(m).value();
  auto decoded = coap::decode(wire);
  ASSERT_TRUE(decoded);
  auto viaBytes = coap::decodeBlock(decoded->find(coap::option::kBlock2)->value);
  auto viaUint = coap::blockFromUint(*decoded->getUint(coap::option::kBlock2));
  ASSERT_TRUE(viaBytes);
  ASSERT_TRUE(viaUint);
  EXPECT_EQ(*viaBytes, (Block{3, true, 5}));
  EXPECT_EQ(*viaUint, *viaBytes);
  EXPECT_EQ(coap::toUint(Block{3, true, 5}), 0x3Du);
}

TEST(CoapBlockSize, SizesAndExponents) {
  const std::vector<std::pair<std::uint8_t, std::size_t>> rows{{0, 16},  {1, 32},   {2, 64},  {3, 128},
                                                               {4, 256}, {5, 512}, {6, 1024}, {7, 2048}};
  for (const auto& [szx, size] : rows) {
    EXPECT_EQ(coap::blockSize(szx), size) << int{szx};
    if (szx <= coap::kMaxSzx) {
      EXPECT_EQ(coap::szxForSize(size), szx) << size;
    }
  }
  EXPECT_EQ(coap::szxForSize(2048), std::nullopt);  // SZX 7 is reserved
  EXPECT_EQ(coap::szxForSize(0), std::nullopt);
  EXPECT_EQ(coap::szxForSize(100), std::nullopt);
  EXPECT_EQ(coap::szxForSize(8), std::nullopt);
}

TEST(CoapBlockSize, LargestThatFits) {
  const std::vector<std::pair<std::size_t, std::uint8_t>> rows{
      {0, 0}, {15, 0}, {16, 0}, {31, 0}, {32, 1}, {600, 5}, {1023, 5}, {1024, 6}, {1152, 6}, {65536, 6}};
  for (const auto& [bytes, szx] : rows) EXPECT_EQ(coap::szxAtMost(bytes), szx) << bytes;
}

TEST(CoapBlockArithmetic, OffsetAndCount) {
  EXPECT_EQ((Block{0, false, 6}).offset(), 0u);
  EXPECT_EQ((Block{3, false, 5}).offset(), 1536u);
  EXPECT_EQ((Block{coap::kMaxBlockNum, false, 6}).offset(), std::size_t{coap::kMaxBlockNum} * 1024);
  struct Row {
    std::size_t total;
    std::uint8_t szx;
    std::size_t count;
  };
  const std::vector<Row> rows{
      {0, 6, 1},     // an empty body still takes one (empty) block
      {1, 6, 1},     {1024, 6, 1}, {1025, 6, 2}, {1280, 6, 2},
      {1280, 5, 3},  {1280, 4, 5}, {16, 0, 1},   {17, 0, 2},
      {100000, 6, 98},
  };
  for (const auto& r : rows) EXPECT_EQ(coap::blockCount(r.total, r.szx), r.count) << r.total << '/' << int{r.szx};
}

TEST(CoapBlockArithmetic, Slices) {
  Bytes body(1280);
  std::iota(body.begin(), body.end(), std::uint8_t{0});
  const auto first = coap::blockSlice(body, 0, 6);
  EXPECT_EQ(first.data(), body.data());
  EXPECT_EQ(first.size(), 1024u);
  const auto last = coap::blockSlice(body, 1, 6);
  EXPECT_EQ(last.data(), body.data() + 1024);
  EXPECT_EQ(last.size(), 256u);
  EXPECT_TRUE(coap::blockSlice(body, 2, 6).empty());
  EXPECT_TRUE(coap::blockSlice(body, coap::kMaxBlockNum, 6).empty());
  const auto mid = coap::blockSlice(body, 2, 4);
  EXPECT_EQ(mid.data(), body.data() + 512);
  EXPECT_EQ(mid.size(), 256u);
  EXPECT_TRUE(coap::blockSlice(Bytes{}, 0, 6).empty());
}

TEST(CoapBlockArithmetic, BlockFor) {
  struct Row {
    std::size_t total;
    std::uint32_t num;
    std::uint8_t szx;
    std::optional<Block> block;
    BlockError error = BlockError::OutOfRange;
  };
  const std::vector<Row> rows{
      {1280, 0, 6, Block{0, true, 6}},
      {1280, 1, 6, Block{1, false, 6}},  // the short last block
      {1280, 2, 6, std::nullopt, BlockError::OutOfRange},
      {1024, 0, 6, Block{0, false, 6}},  // exactly one full block: no M
      {1024, 1, 6, std::nullopt, BlockError::OutOfRange},
      {1280, 4, 4, Block{4, false, 4}},
      {0, 0, 6, Block{0, false, 6}},  // an empty body is one empty block
      {0, 1, 6, std::nullopt, BlockError::OutOfRange},
      {1280, 0, 7, std::nullopt, BlockError::ReservedSzx},
      {1u << 31, coap::kMaxBlockNum + 1, 0, std::nullopt, BlockError::NumTooLarge},
  };
  for (const auto& r : rows) {
    auto got = coap::blockFor(r.total, r.num, r.szx);
    if (r.block) {
      ASSERT_TRUE(got) << r.total << '/' << r.num << '/' << int{r.szx};
      EXPECT_EQ(*got, *r.block);
    } else {
      ASSERT_FALSE(got) << r.total << '/' << r.num << '/' << int{r.szx};
      EXPECT_EQ(got.error(), r.error);
    }
  }
}

TEST(CoapBlockArithmetic, LateNegotiationKeepsTheOffset) {
  // RFC 7959 §2.4: the client asks for 1024-byte blocks, the server answers with 512.
  auto first = coap::respondBlock(Block{0, false, 6}, 5, 1300);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, (Block{0, true, 5}));
  // A client that kept asking at 1024 for block 1 (offset 1024) gets block 4 of 256.
  auto rescaled = coap::respondBlock(Block{1, false, 6}, 4, 1300);
  ASSERT_TRUE(rescaled);
  EXPECT_EQ(*rescaled, (Block{4, true, 4}));
  EXPECT_EQ(rescaled->offset(), 1024u);
  // A smaller request than the server's limit is honoured as asked.
  auto small = coap::respondBlock(Block{2, false, 4}, 6, 1300);
  ASSERT_TRUE(small);
  EXPECT_EQ(*small, (Block{2, true, 4}));
  auto last = coap::respondBlock(Block{2, false, 5}, 6, 1300);
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, (Block{2, false, 5}));
  auto past = coap::respondBlock(Block{3, false, 5}, 6, 1300);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error(), BlockError::OutOfRange);
  auto reserved = coap::respondBlock(Block{0, false, 7}, 6, 1300);
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error(), BlockError::ReservedSzx);
}

TEST(CoapBlockArithmetic, NextBlock) {
  EXPECT_EQ(coap::nextBlock(Block{1, true, 6}), (Block{2, false, 6}));
  EXPECT_EQ(coap::nextBlock(Block{1, false, 6}), std::nullopt);
  EXPECT_EQ(coap::nextBlock(Block{coap::kMaxBlockNum, true, 6}), std::nullopt);
}

TEST(CoapBlockArithmetic, FirmwareDownloadWalk) {
  // The LiteOS flow (oceanconnect.md): the device asks for block 0 at 512; the server serves at
  // most 256; the device continues at the size the server answered until M is clear.
  Bytes firmware(1300);
  std::iota(firmware.begin(), firmware.end(), std::uint8_t{7});
  Bytes received;
  Block request{0, false, 5};
  int rounds = 0;
  for (;;) {
    ASSERT_LT(++rounds, 100);
    auto answer = coap::respondBlock(request, 4, firmware.size());
    ASSERT_TRUE(answer);
    const auto slice = coap::blockSlice(firmware, answer->num, answer->szx);
    EXPECT_EQ(received.size(), answer->offset());
    received.insert(received.end(), slice.begin(), slice.end());
    const auto next = coap::nextBlock(*answer);
    if (!next) break;
    request = *next;
  }
  EXPECT_EQ(received, firmware);
  EXPECT_EQ(rounds, static_cast<int>(coap::blockCount(firmware.size(), 4)));
}

TEST(CoapBlockErrors, CategoryNamesEveryError) {
  const auto& cat = coap::blockCategory();
  EXPECT_STREQ(cat.name(), "coap.block");
  std::set<std::string> messages;
  for (int e = static_cast<int>(BlockError::ReservedSzx); e <= static_cast<int>(BlockError::OutOfRange); ++e) {
    const std::error_code ec = static_cast<BlockError>(e);
    EXPECT_EQ(&ec.category(), &cat);
    EXPECT_NE(ec.message().find("RFC 7959 §"), std::string::npos);
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), 4u);
}

}  // namespace
