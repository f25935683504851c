// libFuzzer target for fc::lwm2m::decodeTlv. Besides "no crash, no UB" (ASan/UBSan) it checks on
// every input:
//   - a decoded tree re-encodes to at most as many bytes (the encoder is minimal) and decodes back
//     to the same tree; encoding is canonical (encode(decode(encode(t))) == encode(t));
//   - nesting in a decoded tree follows §6.4.3 and the entry limit holds;
//   - the typed value readers accept or reject every leaf without misbehaving, and whatever they
//     accept re-encodes to a value that reads back equal;
//   - the text/plain parsers handle the input as text, and formatText(parseText(x)) parses back.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/lwm2m/content.hpp"
#include "protocols/lwm2m/tlv.hpp"

namespace {

namespace lwm2m = fc::lwm2m;

[[noreturn]] void fail() { std::abort(); }

constexpr lwm2m::ResourceType kTypes[] = {
    lwm2m::ResourceType::String, lwm2m::ResourceType::Integer, lwm2m::ResourceType::Float, lwm2m::ResourceType::Boolean,
    lwm2m::ResourceType::Opaque, lwm2m::ResourceType::Time,    lwm2m::ResourceType::Objlnk};

bool sameValue(const lwm2m::Value& a, const lwm2m::Value& b) {
  // NaN != NaN, and a binary32 NaN payload may change when widened; both are still NaN.
  if (const auto* x = std::get_if<double>(&a)) {
    const auto* y = std::get_if<double>(&b);
    return y != nullptr && (*x == *y || (std::isnan(*x) && std::isnan(*y)));
  }
  return a == b;
}

std::size_t check(const std::vector<lwm2m::TlvEntry>& entries, int parent) {
  std::size_t count = 0;
  for (const auto& e : entries) {
    ++count;
    if (parent == static_cast<int>(lwm2m::TlvType::ObjectInstance) && e.type != lwm2m::TlvType::ResourceValue &&
        e.type != lwm2m::TlvType::MultipleResource) {
      fail();
    }
    if (parent == static_cast<int>(lwm2m::TlvType::MultipleResource) && e.type != lwm2m::TlvType::ResourceInstance)
      fail();
    if (e.isContainer()) {
      if (!e.value.empty()) fail();
      count += check(e.children, static_cast<int>(e.type));
      continue;
    }
    if (!e.children.empty()) fail();
    for (const auto type : kTypes) {
      if (auto v = lwm2m::decodeTlvValue(type, e.value)) {
        auto again = lwm2m::decodeTlvValue(type, lwm2m::encodeTlvValue(*v));
        if (!again || !sameValue(*again, *v)) fail();
      }
    }
  }
  return count;
}

void exerciseText(std::span<const std::uint8_t> in) {
  const std::string_view text(reinterpret_cast<const char*>(in.data()), in.size());
  for (const auto type : kTypes) {
    if (auto v = lwm2m::parseText(type, text)) {
      auto again = lwm2m::parseText(type, lwm2m::formatText(*v));
      if (!again || !sameValue(*again, *v)) fail();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  exerciseText(in);
  const lwm2m::TlvLimits limits{.maxPayload = 16 * 1024, .maxEntries = 512};
  auto r = lwm2m::decodeTlv(in, limits);
  if (!r) {
    if (size > limits.maxPayload && r.error() != lwm2m::TlvError::TooLarge) fail();
    return 0;
  }
  if (check(*r, -1) > limits.maxEntries) fail();
  const auto wire = lwm2m::encodeTlv(*r);
  if (wire.size() > size) fail();
  auto again = lwm2m::decodeTlv(wire, limits);
  if (!again || *again != *r) fail();
  if (lwm2m::encodeTlv(*again) != wire) fail();
  return 0;
}
