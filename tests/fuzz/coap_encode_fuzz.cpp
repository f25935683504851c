// libFuzzer target for the encoding side of fc::coap (issue 13 §3): the input describes a message
// whose token lengths, Empty-message contents and option value lengths straddle what RFC 7252 §3
// can represent (tokens of 0–10 bytes, option values around the 13/269/65804-byte edges of the
// length nibble), with options in any order. It checks that
//   - encode refuses the message with validate()'s error exactly when validate() reports one, and
//     then leaves its output untouched;
//   - otherwise decode(encode(m)) equals m with its options stably sorted by number (the wire
//     order, §3.1), consuming the whole datagram, and encode reports the bytes it added.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocols/coap/message.hpp"

namespace {

namespace coap = fc::coap;

[[noreturn]] void fail() { std::abort(); }

std::size_t optionLength(FuzzedDataProvider& in) {
  // Around each edge of the length encoding (§3.1): 12/13 (nibble → one extra byte), 268/269
  // (→ two extra bytes), and the largest value two extra bytes can express.
  static constexpr std::size_t kEdges[] = {0, 12, 13, 268, 269, coap::kMaxOptionLength};
  const auto mode = in.ConsumeIntegral<std::uint8_t>();
  if (mode < 24) {
    const std::size_t edge = kEdges[mode % std::size(kEdges)];
    const long offset = static_cast<long>(mode / std::size(kEdges)) - 1;  // -1, 0, +1, +2
    return static_cast<std::size_t>(std::max(0L, static_cast<long>(edge) + offset));
  }
  return mode % 40;
}

coap::Message build(FuzzedDataProvider& in) {
  coap::Message m;
  m.type = static_cast<coap::Type>(in.ConsumeIntegralInRange(0, 3));
  m.code = in.ConsumeIntegralInRange(0, 7) == 0 ? coap::code::kEmpty
                                                : coap::Code::fromRaw(in.ConsumeIntegral<std::uint8_t>());
  m.messageId = in.ConsumeIntegral<std::uint16_t>();
  m.token = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange(0, 10));
  const int options = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < options; ++i) {
    coap::Option o;
    // Small numbers (deltas under 13), middling ones and the largest (two-byte extended deltas).
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0:
        o.number = in.ConsumeIntegralInRange<std::uint16_t>(0, 20);
        break;
      case 1:
        o.number = in.ConsumeIntegralInRange<std::uint16_t>(0, 400);
        break;
      default:
        o.number = in.ConsumeIntegral<std::uint16_t>();
        break;
    }
    const std::size_t n = optionLength(in);
    o.value = in.ConsumeBytes<std::uint8_t>(std::min<std::size_t>(n, 32));
    o.value.resize(n, 0xA5);
    m.options.push_back(std::move(o));  // in input order: encode sorts
  }
  if (in.ConsumeBool()) m.payload = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange(1, 100));
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const coap::Message m = build(in);

  std::vector<std::uint8_t> out{0xEE};  // appended to, never overwritten
  const auto r = coap::encode(m, out);
  if (const auto invalid = coap::validate(m)) {
    if (r || r.error() != *invalid || out.size() != 1) fail();
    return 0;
  }
  if (!r || *r + 1 != out.size()) fail();
  const auto back = coap::decode(std::span<const std::uint8_t>(out).subspan(1));
  coap::Message expected = m;
  std::stable_sort(expected.options.begin(), expected.options.end(),
                   [](const coap::Option& a, const coap::Option& b) { return a.number < b.number; });
  if (!back || !(*back == expected)) fail();
  return 0;
}
