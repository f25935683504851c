// MQTT topic names and filters (MQTT 3.1.1 §4.7) and the UTF-8 rules of §1.5.3.
#include "protocols/mqtt/topic.hpp"

#include <cstddef>

#include "protocols/common/utf8.hpp"

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
  return s.find('\0') == std::string_view::npos && isUtf8(s);  // [MQTT-1.5.3-2], [MQTT-1.5.3-1]
}

}  // namespace fc::mqtt
