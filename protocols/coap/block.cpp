// Block-wise transfer arithmetic. Section numbers refer to RFC 7959.
#include "protocols/coap/block.hpp"

#include <algorithm>
#include <optional>
#include <string>

#include "protocols/coap/message.hpp"

namespace fc::coap {
namespace {

class BlockCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coap.block"; }

  std::string message(int ev) const override {
    switch (static_cast<BlockError>(ev)) {
      case BlockError::ReservedSzx:
        return "reserved block size exponent 7 (RFC 7959 §2.2)";
      case BlockError::ValueTooLong:
        return "block option value longer than 3 bytes (RFC 7959 §2.2)";
      case BlockError::NumTooLarge:
        return "block number needs more than 20 bits (RFC 7959 §2.2)";
      case BlockError::OutOfRange:
        return "block starts past the end of the body (RFC 7959 §2.2)";
    }
    return "unknown coap block error";
  }
};

}  // namespace

const std::error_category& blockCategory() noexcept {
  static const BlockCategory category;
  return category;
}

std::error_code make_error_code(BlockError e) noexcept { return {static_cast<int>(e), blockCategory()}; }

std::optional<std::uint8_t> szxForSize(std::size_t size) noexcept {
  for (std::uint8_t szx = 0; szx <= kMaxSzx; ++szx) {
    if (blockSize(szx) == size) return szx;
  }
  return std::nullopt;
}

std::uint8_t szxAtMost(std::size_t bytes) noexcept {
  std::uint8_t szx = 0;
  while (szx < kMaxSzx && blockSize(static_cast<std::uint8_t>(szx + 1)) <= bytes) ++szx;
  return szx;
}

std::vector<std::uint8_t> encodeBlock(const Block& b) { return encodeUint(toUint(b)); }

Expected<Block, BlockError> blockFromUint(std::uint32_t value) noexcept {
  if (value > 0xFFFFFFu) return Unexpected(BlockError::ValueTooLong);
  Block b;
  b.num = value >> 4;
  b.more = (value & 0x08u) != 0;
  b.szx = static_cast<std::uint8_t>(value & 0x07u);
  if (b.szx == kReservedSzx) return Unexpected(BlockError::ReservedSzx);
  return b;
}

Expected<Block, BlockError> decodeBlock(std::span<const std::uint8_t> value) noexcept {
  if (value.size() > kMaxBlockValueLength) return Unexpected(BlockError::ValueTooLong);
  return blockFromUint(*decodeUint(value));
}

std::size_t blockCount(std::size_t total, std::uint8_t szx) noexcept {
  const std::size_t size = blockSize(szx);
  return total == 0 ? 1 : (total + size - 1) / size;
}

std::span<const std::uint8_t> blockSlice(std::span<const std::uint8_t> body, std::uint32_t num,
                                         std::uint8_t szx) noexcept {
  const std::size_t size = blockSize(szx);
  const std::size_t offset = std::size_t{num} * size;
  if (offset >= body.size()) return {};
  return body.subspan(offset, std::min(size, body.size() - offset));
}

Expected<Block, BlockError> blockFor(std::size_t total, std::uint32_t num, std::uint8_t szx) noexcept {
  if (szx > kMaxSzx) return Unexpected(BlockError::ReservedSzx);
  if (num > kMaxBlockNum) return Unexpected(BlockError::NumTooLarge);
  const Block b{.num = num, .more = false, .szx = szx};
  if (b.offset() >= total && !(total == 0 && num == 0)) return Unexpected(BlockError::OutOfRange);
  Block out = b;
  out.more = b.offset() + b.size() < total;
  return out;
}

Expected<Block, BlockError> respondBlock(const Block& requested, std::uint8_t maxSzx, std::size_t total) noexcept {
  if (requested.szx > kMaxSzx || maxSzx > kMaxSzx) return Unexpected(BlockError::ReservedSzx);
  const std::uint8_t szx = std::min(requested.szx, maxSzx);
  const std::size_t num = requested.offset() / blockSize(szx);
  if (num > kMaxBlockNum) return Unexpected(BlockError::NumTooLarge);
  return blockFor(total, static_cast<std::uint32_t>(num), szx);
}

std::optional<Block> nextBlock(const Block& b) noexcept {
  if (!b.more || b.num >= kMaxBlockNum) return std::nullopt;
  Block next = b;
  next.num = b.num + 1;
  next.more = false;
  return next;
}

}  // namespace fc::coap
