// libFuzzer target for fc::mqtt::decode. Besides "no crash, no UB" (ASan/UBSan) it checks the
// codec's properties on every input that decodes:
//   - consumed is within the input and every shorter prefix of the packet is Incomplete;
//   - decode(encode(p)) == p. The bytes may differ from the input (a non-minimal remaining length
//     is re-encoded minimally; an unknown-level CONNECT keeps only its header), the packet may not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "protocols/mqtt/codec.hpp"

namespace {

[[noreturn]] void fail() { std::abort(); }

bool incomplete(std::span<const std::uint8_t> in, const fc::mqtt::Limits& limits) {
  auto r = fc::mqtt::decode(in, limits);
  return !r && r.error() == fc::mqtt::DecodeError::Incomplete;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fc::mqtt::Limits limits{};
  const std::span<const std::uint8_t> in(data, size);
  auto r = fc::mqtt::decode(in, limits);
  if (!r) return 0;

  const std::size_t consumed = r->consumed;
  if (consumed < 2 || consumed > size) fail();
  (void)fc::mqtt::packetName(r->value);
  // Checking all prefixes would be quadratic; the first byte and the last cut are the edges.
  if (!incomplete(in.first(1), limits) || !incomplete(in.first(consumed - 1), limits)) fail();

  const std::vector<std::uint8_t> wire = fc::mqtt::encode(r->value).value();
  const fc::mqtt::Limits fits{.maxPacket = wire.size()};  // an unknown-level CONNECT may grow by an empty client id
  auto again = fc::mqtt::decode(wire, fits);
  if (!again || again->consumed != wire.size() || !(again->value == r->value)) fail();
  return 0;
}
