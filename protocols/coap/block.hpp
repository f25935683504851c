// Block-wise transfer arithmetic (RFC 7959): the Block1/Block2 option value and the block
// numbering of a body. No transfer state lives here; the server and client keep that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::coap {

/// RFC 7959 §2.2: SZX 0–6 give block sizes 16–1024; 7 is reserved (BERT uses it only over
/// reliable transports, RFC 8323 §6).
inline constexpr std::uint8_t kMaxSzx = 6;
inline constexpr std::uint8_t kReservedSzx = 7;
/// RFC 7959 §2.2: NUM has at most 20 bits (a 3-byte option value).
inline constexpr std::uint32_t kMaxBlockNum = (1u << 20) - 1;
/// RFC 7959 §2.2: the option value is 0–3 bytes.
inline constexpr std::size_t kMaxBlockValueLength = 3;

enum class BlockError : std::uint8_t {
  ReservedSzx = 1,  ///< SZX 7 (RFC 7959 §2.2)
  ValueTooLong,     ///< option value longer than 3 bytes (RFC 7959 §2.2)
  NumTooLarge,      ///< the block number would need more than 20 bits (RFC 7959 §2.2)
  OutOfRange,       ///< the block starts at or past the end of the body (RFC 7959 §2.2, answer 4.02)
};

const std::error_category& blockCategory() noexcept;
std::error_code make_error_code(BlockError e) noexcept;

/// RFC 7959 §2.2: the block size 2^(SZX + 4) for SZX 0–7 (7 gives 2048, meaningful only as BERT).
constexpr std::size_t blockSize(std::uint8_t szx) noexcept { return std::size_t{16} << (szx & 0x07); }

/// The SZX of an exact block size 16, 32, … 1024, or nullopt.
std::optional<std::uint8_t> szxForSize(std::size_t size) noexcept;

/// The largest SZX (≤ 6) whose block size fits in `bytes` (0 when even 16 does not fit).
std::uint8_t szxAtMost(std::size_t bytes) noexcept;

/// A Block1 or Block2 option value, RFC 7959 §2.2.
struct Block {
  std::uint32_t num = 0;  ///< block number, 0…2^20-1
  bool more = false;      ///< M: more blocks follow (Block2), or more are coming (Block1)
  std::uint8_t szx = kMaxSzx;

  [[nodiscard]] constexpr std::size_t size() const noexcept { return blockSize(szx); }
  /// RFC 7959 §2.2: the byte offset of the block, NUM · 2^(SZX + 4).
  [[nodiscard]] constexpr std::size_t offset() const noexcept { return std::size_t{num} * size(); }

  bool operator==(const Block&) const = default;
};

/// RFC 7959 §2.2: NUM << 4 | M << 3 | SZX. Precondition: num ≤ kMaxBlockNum, szx ≤ 7.
constexpr std::uint32_t toUint(const Block& b) noexcept { return b.num << 4 | (b.more ? 0x08u : 0u) | (b.szx & 0x07u); }

/// The option value as a uint with minimal length (RFC 7252 §3.2): 0–3 bytes.
std::vector<std::uint8_t> encodeBlock(const Block& b);

/// Decodes an option value (RFC 7959 §2.2); an empty value is NUM 0, M 0, SZX 0.
[[nodiscard]] Expected<Block, BlockError> decodeBlock(std::span<const std::uint8_t> value) noexcept;

/// Decodes an option value already read as a uint (e.g. Message::getUint).
[[nodiscard]] Expected<Block, BlockError> blockFromUint(std::uint32_t value) noexcept;

/// How many blocks of size 2^(szx+4) carry `total` bytes; an empty body still takes one (empty)
/// block, so the answer is never 0.
std::size_t blockCount(std::size_t total, std::uint8_t szx) noexcept;

/// The bytes of block `num` of `body` (the last block may be short; past the end it is empty).
std::span<const std::uint8_t> blockSlice(std::span<const std::uint8_t> body, std::uint32_t num,
                                         std::uint8_t szx) noexcept;

/// The Block2 value that describes block `num` of a `total`-byte body (M set unless it is the last).
/// OutOfRange when the block starts past the end (block 0 of an empty body is fine), NumTooLarge
/// beyond kMaxBlockNum, ReservedSzx for SZX 7.
[[nodiscard]] Expected<Block, BlockError> blockFor(std::size_t total, std::uint32_t num, std::uint8_t szx) noexcept;

/// RFC 7959 §2.4 late negotiation: the block a server answers a Block2 request with when it will
/// not send blocks larger than 2^(maxSzx+4). The size is the smaller of the two and NUM is rescaled
/// so that the offset the client asked for is kept (sizes are powers of two, so it divides).
[[nodiscard]] Expected<Block, BlockError> respondBlock(const Block& requested, std::uint8_t maxSzx,
                                                       std::size_t total) noexcept;

/// The Block2 request that follows a response carrying `b`: same size, NUM + 1, M clear (M has no
/// function in a Block2 request, RFC 7959 §2.2). nullopt when `b` has M clear or NUM is already the
/// largest. For Block1 uploads use blockFor(), which sets M from the body length.
std::optional<Block> nextBlock(const Block& b) noexcept;

}  // namespace fc::coap

template <>
struct std::is_error_code_enum<fc::coap::BlockError> : std::true_type {};
