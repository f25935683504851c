// libFuzzer target for the .rbl package decoder (protocols/dialects/rtthread/rbl.hpp): the header,
// the envelope checks and the unpacking (gzip, AES-256-CBC with a fixed key). Besides "no crash, no
// UB, no unbounded allocation" it checks on every input:
//   - a decoded header encodes and decodes back to itself;
//   - an unpacked firmware has exactly size_raw bytes and the header's FNV-1a hash;
//   - a package that unpacks also passes the envelope checks alone, and packs again (without
//     encryption or compression) into a package that unpacks to the same firmware.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocols/dialects/rtthread/rbl.hpp"

namespace {

namespace rt = fc::rtthread;

[[noreturn]] void fail() { std::abort(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const auto header = rt::decodeRblHeader(in);
  if (header) {
    const auto encoded = rt::encodeRblHeader(*header);
    if (!encoded) fail();
    const auto again = rt::decodeRblHeader(*encoded);
    if (!again || !(*again == *header)) fail();
  }
  const rt::RblKey key{"0123456789abcdef0123456789abcdef", "0123456789abcdef"};
  const auto unpacked = rt::unpackRbl(in, key);
  if (!unpacked) return 0;
  if (unpacked->raw.size() != unpacked->header.rawSize || rt::fnv1a32(unpacked->raw) != unpacked->header.rawHash) fail();
  if (!rt::verifyRblEnvelope(in)) fail();
  const auto& h = unpacked->header;
  const auto repacked = rt::packRbl(unpacked->raw, {h.name, h.version, h.sn, h.timestamp});
  if (!repacked) fail();
  const auto reopened = rt::unpackRbl(*repacked);
  if (!reopened || reopened->raw != unpacked->raw) fail();
  return 0;
}
