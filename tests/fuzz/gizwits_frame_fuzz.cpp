// libFuzzer target for the Gizwits frame codec and GService form parsers (protocols/dialects/
// gizwits/). Besides "no crash, no UB" (ASan/UBSan) it checks on every input:
//   - a frame decoded by decode(), decodeLong() or decodeShort() uses no more bytes than given,
//     encodes (its fields are within their limits), and the encoding decodes to the same frame;
//   - every strict prefix of that encoding is Incomplete;
//   - parseForm / parseProvision / parseRegisterAnswer accept anything, and a parsed provision
//     formats to an answer that parses back to it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "protocols/dialects/gizwits/frame.hpp"
#include "protocols/dialects/gizwits/http_forms.hpp"

namespace {

namespace giz = fc::gizwits;

[[noreturn]] void fail() { std::abort(); }

template <class Decode>
void frame(std::span<const std::uint8_t> in, Decode decode) {
  auto r = decode(in);
  if (!r) {
    if (r.error() == giz::DecodeError{}) fail();
    return;
  }
  if (r->consumed == 0 || r->consumed > in.size()) fail();
  const auto wire = giz::encode(r->value);
  if (wire.empty()) fail();
  auto again = giz::decode(wire);
  if (!again || again->consumed != wire.size() || !(again->value == r->value)) fail();
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto prefix = giz::decode(std::span<const std::uint8_t>(wire).first(n));
    if (prefix || prefix.error() != giz::DecodeError::Incomplete) fail();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  frame(in, [](auto s) { return giz::decode(s); });
  frame(in, [](auto s) { return giz::decodeLong(s); });
  frame(in, [](auto s) { return giz::decodeShort(s); });
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)giz::parseForm(text);
  (void)giz::parseRegisterAnswer(text);
  if (auto p = giz::parseProvision(text)) {
    auto back = giz::parseProvision(giz::provisionAnswer(*p));
    if (!back || back->host != p->host || back->port != p->port || back->serverTs != p->serverTs) fail();
  }
  return 0;
}
