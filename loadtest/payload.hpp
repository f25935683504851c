// The load generator's message payload: who sent it, its sequence number and when, then padding to
// the requested size. The receiver reads it back to measure latency and to find lost, duplicated
// and out-of-order messages; the sender is never asked what it sent.
//
//   offset  size  field
//   0       4     magic "FCL1"
//   4       4     publisher index, big-endian
//   8       8     sequence number (per publisher, from 0), big-endian
//   16      8     send time, steady-clock nanoseconds (same host, same process), big-endian
//   24      …     padding ('.')
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace fc::loadtest {

inline constexpr std::size_t kPayloadHeader = 24;

struct PayloadHeader {
  std::uint32_t publisher = 0;
  std::uint64_t seq = 0;
  std::uint64_t sentNs = 0;
  bool operator==(const PayloadHeader&) const = default;
};

/// A buffer of `size` bytes (≥ kPayloadHeader) with the magic and padding in place; writeHeader
/// then only touches bytes 4..23 per message.
std::vector<std::uint8_t> makePayloadTemplate(std::size_t size);

/// Writes publisher, sequence and time into a buffer made by makePayloadTemplate.
void writeHeader(std::span<std::uint8_t> payload, const PayloadHeader& h) noexcept;

/// The header of a payload, or nullopt if it is too short or lacks the magic.
std::optional<PayloadHeader> readHeader(std::span<const std::uint8_t> payload) noexcept;

}  // namespace fc::loadtest
