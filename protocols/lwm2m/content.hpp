// LwM2M content formats (OMA-TS-LightweightM2M-V1_0 §6.4, Table 6 and §7.4 "Data Formats") and the
// text/plain rendering of single resource values (§6.4.1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/value.hpp"

namespace fc::lwm2m {

/// Content-Format numbers an LwM2M 1.0 server meets (§6.4; CoAP Content-Formats registry).
namespace content {
inline constexpr std::uint16_t kTextPlain = 0;    ///< §6.4.1 plain text: one resource value
inline constexpr std::uint16_t kLinkFormat = 40;  ///< RFC 6690: Register/Update payloads, Discover answers
inline constexpr std::uint16_t kOpaque = 42;      ///< §6.4.2 application/octet-stream: one Opaque resource
inline constexpr std::uint16_t kSenmlJson = 110;  ///< RFC 8428 SenML JSON (LwM2M 1.1)
inline constexpr std::uint16_t kTlvOld = 1542;    ///< §6.4.3 TLV, number used before IANA registration
inline constexpr std::uint16_t kJsonOld = 1543;   ///< §6.4.4 JSON, number used before IANA registration
inline constexpr std::uint16_t kTlv = 11542;      ///< §6.4.3 application/vnd.oma.lwm2m+tlv
inline constexpr std::uint16_t kJson = 11543;     ///< §6.4.4 application/vnd.oma.lwm2m+json
}  // namespace content

/// True for 11542 and the pre-registration 1542: both mean OMA TLV (§6.4.3), and LwM2M 1.0
/// clients in the field (Wakaama, LiteOS) still send 1542.
[[nodiscard]] constexpr bool isTlv(std::uint16_t format) noexcept {
  return format == content::kTlv || format == content::kTlvOld;
}
/// True for 11543 and the pre-registration 1543 (§6.4.4).
[[nodiscard]] constexpr bool isLwm2mJson(std::uint16_t format) noexcept {
  return format == content::kJson || format == content::kJsonOld;
}

/// "text/plain", "application/link-format", "application/octet-stream", "application/senml+json",
/// "application/vnd.oma.lwm2m+tlv", "application/vnd.oma.lwm2m+json"; "" for other numbers.
[[nodiscard]] std::string_view contentFormatName(std::uint16_t format) noexcept;

/// §6.4.1 plain text: a String as itself, Integer and Time in decimal, Float in the shortest
/// decimal that reads back to the same double, Boolean as "0"/"1", Objlnk as "<object>:<instance>"
/// (LwM2M 1.1 §7.4.1), Opaque as padded base64 (LwM2M 1.1 §7.4.1; LwM2M 1.0 sends Opaque only as
/// application/octet-stream, §6.4.2).
[[nodiscard]] std::string formatText(const Value& v);

/// Parses a text/plain payload as `type`. Strict: no surrounding whitespace and no '+' sign;
/// Integer/Time must fit in 64 bits; Float must be finite; Boolean is "0" or "1"; a String must be
/// UTF-8; Opaque is padded base64; Objlnk is "<object>:<instance>".
[[nodiscard]] Expected<Value, ValueError> parseText(ResourceType type, std::string_view text);

}  // namespace fc::lwm2m
