// Base64 (RFC 4648 §4, with padding) for payloads that travel inside JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fc {

std::string base64Encode(std::span<const std::uint8_t> bytes);
inline std::string base64Encode(std::string_view text) {
  return base64Encode(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}
/// Strict: the padded alphabet only, length a multiple of 4; nullopt otherwise.
std::optional<std::vector<std::uint8_t>> base64Decode(std::string_view text);

}  // namespace fc
