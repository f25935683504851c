// UTF-8 well-formedness (RFC 3629), which every codec checks of the text it accepts: MQTT strings,
// LwM2M String values and query parameters, codec-profile strings.
#pragma once

#include <string_view>

namespace fc {

/// Well-formed UTF-8 per RFC 3629 §4: no overlong forms, no surrogates (U+D800..U+DFFF), nothing
/// above U+10FFFF, no truncated sequence. U+0000 is allowed (MQTT refuses it on top).
[[nodiscard]] bool isUtf8(std::string_view s) noexcept;

}  // namespace fc
