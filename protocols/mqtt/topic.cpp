// MQTT topic names and filters (MQTT 3.1.1 §4.7) and the UTF-8 rules of §1.5.3.
#include "protocols/mqtt/topic.hpp"

#include <cstddef>

namespace fc::mqtt {
namespace {

constexpr char kSeparator = '/';
constexpr char kMultiLevel = '#';
constexpr char kSingleLevel = '+';
constexpr std::string_view kMultiLevelLevel = "#";
constexpr std::string_view kSingleLevelLevel = "+";

// Walks a topic level by level without allocating. "a//b" has an empty middle level, "/a" an
// empty first one and "a/" an empty last one: empty levels are real levels (§4.7.1.1).
class Levels {
 public:
  explicit Levels(std::string_view s) noexcept : s_(s) {}

  [[nodiscard]] bool done() const noexcept { return done_; }

  std::string_view next() noexcept {
    const auto slash = s_.find(kSeparator, pos_);
    if (slash == std::string_view::npos) {
      done_ = true;
      return s_.substr(pos_);
    }
    const auto level = s_.substr(pos_, slash - pos_);
    pos_ = slash + 1;
    return level;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  bool done_ = false;
};

bool isContinuation(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

}  // namespace

bool validTopicName(std::string_view name) noexcept {
  return !name.empty() && name.find_first_of("+#") == std::string_view::npos;
}

bool validTopicFilter(std::string_view filter) noexcept {
  if (filter.empty()) return false;  // [MQTT-4.7.3-1]
  Levels levels(filter);
  while (!levels.done()) {
    const auto level = levels.next();
    if (level.find(kMultiLevel) != std::string_view::npos) {
      // '#' must be a whole level and the last one [MQTT-4.7.1-2].
      if (level != kMultiLevelLevel || !levels.done()) return false;
    } else if (level.find(kSingleLevel) != std::string_view::npos && level != kSingleLevelLevel) {
      return false;  // [MQTT-4.7.1-3]
    }
  }
  return true;
}

bool topicMatches(std::string_view filter, std::string_view name) noexcept {
  // Wildcards in the first level never reach server-internal '$' topics [MQTT-4.7.2-1].
  if (!name.empty() && name.front() == '$' && !filter.empty() &&
      (filter.front() == kMultiLevel || filter.front() == kSingleLevel)) {
    return false;
  }
  Levels f(filter);
  Levels n(name);
  while (!f.done()) {
    const auto level = f.next();
    // '#' also matches the parent level, so "sport/#" matches "sport" (§4.7.1.2).
    if (level == kMultiLevelLevel) return true;
    if (n.done()) return false;
    const auto nameLevel = n.next();
    if (level != kSingleLevelLevel && level != nameLevel) return false;
  }
  return n.done();
}

bool validUtf8(std::string_view s) noexcept {
  // RFC 3629 §4 syntax: each lead byte fixes the allowed range of the next byte, which rules
  // out overlong forms (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF) and code points
  // above U+10FFFF (F4 90.., F5..FF) without decoding the scalar value.
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      if (c == 0) return false;  // U+0000 [MQTT-1.5.3-2]
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;  // stray continuation byte, C0/C1 or F5..FF
    }
    if (n - i < len) return false;  // truncated sequence
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k) {
      if (!isContinuation(p[i + k])) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace fc::mqtt
