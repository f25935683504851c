#include "loadtest/payload.hpp"

#include <algorithm>
#include <cassert>

namespace fc::loadtest {
namespace {

constexpr std::uint8_t kMagic[4] = {'F', 'C', 'L', '1'};

template <class T>
void putBig(std::uint8_t* p, T v) noexcept {
  for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
}

template <class T>
T getBig(const std::uint8_t* p) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | p[i]);
  return v;
}

}  // namespace

std::vector<std::uint8_t> makePayloadTemplate(std::size_t size) {
  std::vector<std::uint8_t> p(std::max(size, kPayloadHeader), '.');
  std::copy(std::begin(kMagic), std::end(kMagic), p.begin());
  return p;
}

void writeHeader(std::span<std::uint8_t> payload, const PayloadHeader& h) noexcept {
  assert(payload.size() >= kPayloadHeader);
  putBig(payload.data() + 4, h.publisher);
  putBig(payload.data() + 8, h.seq);
  putBig(payload.data() + 16, h.sentNs);
}

std::optional<PayloadHeader> readHeader(std::span<const std::uint8_t> payload) noexcept {
  if (payload.size() < kPayloadHeader || !std::equal(std::begin(kMagic), std::end(kMagic), payload.begin()))
    return std::nullopt;
  return PayloadHeader{getBig<std::uint32_t>(payload.data() + 4), getBig<std::uint64_t>(payload.data() + 8),
                       getBig<std::uint64_t>(payload.data() + 16)};
}

}  // namespace fc::loadtest
