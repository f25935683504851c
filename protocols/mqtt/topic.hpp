// MQTT topic names and topic filters: validation and matching, MQTT 3.1.1 §4.7.
#pragma once

#include <string_view>

namespace fc::mqtt {

/// A topic name as PUBLISH carries it: non-empty, no '+' or '#' [MQTT-3.3.2-1], [MQTT-3.3.2-2], [MQTT-4.7.3-1].
/// UTF-8 well-formedness is checked separately (validUtf8).
[[nodiscard]] bool validTopicName(std::string_view name) noexcept;

/// A topic filter as SUBSCRIBE carries it: non-empty; '#' only alone in the last level [MQTT-4.7.1-2];
/// '+' only as a whole level [MQTT-4.7.1-3].
[[nodiscard]] bool validTopicFilter(std::string_view filter) noexcept;

/// Does `filter` match `name`? Both assumed valid. A filter starting with '#' or '+' does not match
/// a name starting with '$' [MQTT-4.7.2-1]; "sport/#" matches "sport" [§4.7.1.2].
[[nodiscard]] bool topicMatches(std::string_view filter, std::string_view name) noexcept;

/// Well-formed UTF-8 per RFC 3629 with no U+0000 and no surrogates (U+D800..U+DFFF) [MQTT-1.5.3-1], [MQTT-1.5.3-2].
[[nodiscard]] bool validUtf8(std::string_view s) noexcept;

}  // namespace fc::mqtt
