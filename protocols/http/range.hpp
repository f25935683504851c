// Single byte ranges for firmware downloads: the Range request header (RFC 9110 §14.2), its
// If-Range precondition (§13.1.5), and the HTTP-date (§5.6.7) that Last-Modified and If-Range carry.
// Pure: no I/O, never throws on bad input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"

namespace fc::http {

/// An inclusive byte range [first, last] of a representation.
struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

enum class RangeError : std::uint8_t {
  /// Not a `bytes=` range set we understand (another unit, bad syntax, a range whose last byte
  /// precedes its first): RFC 9110 §14.2 says such a header is ignored, so the whole
  /// representation is sent (200).
  Ignored = 1,
  /// Several ranges: we send the whole representation (200) rather than multipart/byteranges,
  /// which §14.2 allows ("a server MAY ignore the Range header field").
  MultipleRanges,
  /// A valid single range that selects nothing of `size` bytes (`bytes=N-` with N ≥ size,
  /// `bytes=-0`, or anything of an empty representation): 416 with `Content-Range: bytes */size`.
  Unsatisfiable,
};

/// Parses the value of a Range header against a representation of `size` bytes. `bytes=N-M`
/// (M clamped to size-1), `bytes=N-` (to the end) and `bytes=-N` (the last N bytes, all of them when
/// N ≥ size); whitespace around the range and the unit's case are tolerated (§14.1).
[[nodiscard]] Expected<ByteRange, RangeError> parseRange(std::string_view header, std::uint64_t size) noexcept;

/// What to send for a GET given its Range and If-Range headers (each empty when absent).
struct RangeDecision {
  enum class Kind : std::uint8_t { Full, Partial, Unsatisfiable } kind = Kind::Full;
  ByteRange range;  // for Partial
  bool operator==(const RangeDecision&) const = default;
};

/// The validators of the representation: its strong entity tag (with the quotes) and its
/// modification time (seconds since the Unix epoch).
struct Validators {
  std::string etag;
  std::int64_t lastModified = 0;
};

/// §13.1.5/§14.2: without Range, or with a Range that is ignored, or with an If-Range that does not
/// match (a weak tag never does; a date must equal Last-Modified exactly), the whole representation;
/// otherwise the range, or Unsatisfiable.
[[nodiscard]] RangeDecision decideRange(std::string_view range, std::string_view ifRange, std::uint64_t size,
                                        const Validators& validators) noexcept;

/// `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate, §5.6.7).
std::string formatHttpDate(std::int64_t secondsSinceEpoch);
/// IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept (§5.6.7).
[[nodiscard]] std::optional<std::int64_t> parseHttpDate(std::string_view text) noexcept;

}  // namespace fc::http
