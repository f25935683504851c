// libFuzzer target for the Range/If-Range/HTTP-date parsers. Besides "no crash, no UB" it checks
// what a download relies on: a range parsed against a size lies within it (first ≤ last < size),
// decideRange agrees with parseRange, and a parsed date formats back to a date that parses to it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocols/http/range.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  // First two bytes: the representation's size (0–65535), then the header text.
  const std::uint64_t length = static_cast<std::uint64_t>(data[0]) << 8 | data[1];
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const auto r = fc::http::parseRange(text, length);
  if (r && (r->first > r->last || r->last >= length)) std::abort();
  const auto d = fc::http::decideRange(text, "", length, {"\"x\"", 0});
  using Kind = fc::http::RangeDecision::Kind;
  if (r && (d.kind != Kind::Partial || !(d.range == *r))) std::abort();
  if (!r && r.error() == fc::http::RangeError::Unsatisfiable && d.kind != Kind::Unsatisfiable) std::abort();
  if (const auto t = fc::http::parseHttpDate(text)) {
    if (fc::http::parseHttpDate(fc::http::formatHttpDate(*t)) != t) std::abort();
  }
  return 0;
}
