// CoRE Link Format (RFC 6690): the payload of /.well-known/core and of LwM2M registrations
// ("</>;rt=\"oma.lwm2m\",</1/0>,</3/0>;ver=1.1,</5>").
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::coap {

/// One link-param (RFC 6690 §2): `name`, `name=ptoken` or `name="quoted string"`.
struct LinkParam {
  std::string name;
  std::optional<std::string> value;  ///< nullopt for a bare name (";obs"); quotes and escapes removed
  bool quoted = false;               ///< the value was a quoted-string on the wire
  bool operator==(const LinkParam&) const = default;
};

/// One link-value (RFC 6690 §2): "<" URI-Reference ">" followed by its parameters in order.
struct Link {
  std::string target;  ///< the URI-Reference between the angle brackets, as written
  std::vector<LinkParam> params;
  bool operator==(const Link&) const = default;

  /// The first parameter called `name`; nullopt when absent. A bare parameter gives "".
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const noexcept;
  [[nodiscard]] bool hasParam(std::string_view name) const noexcept;
};

enum class LinkFormatError : std::uint8_t {
  ExpectedLink = 1,    ///< a link-value must start with '<' (RFC 6690 §2)
  UnterminatedTarget,  ///< '<' without a closing '>' (RFC 6690 §2)
  BadTarget,           ///< control character, space or '<' inside the URI-Reference (RFC 3986 §4.1)
  BadParamName,        ///< empty name or a character outside parmname (RFC 6690 §2, RFC 5987)
  BadParamValue,       ///< empty or invalid ptoken after '=' (RFC 6690 §2)
  UnterminatedQuote,   ///< quoted-string without its closing '"' (RFC 2616 §2.2)
  ExpectedSeparator,   ///< something other than ';' or ',' after a link-value or parameter
  EmptyLink,           ///< ",," or a trailing ',' (RFC 6690 §2: link-value-list)
};

const std::error_category& linkFormatCategory() noexcept;
std::error_code make_error_code(LinkFormatError e) noexcept;

/// Parses an application/link-format payload (RFC 6690 §2). An empty payload is an empty list.
/// Whitespace (SP, HTAB, CR, LF) around ',' and ';' is tolerated — RFC 6690 does not allow it,
/// but some device stacks pretty-print their registrations. Never throws on bad input.
[[nodiscard]] Expected<std::vector<Link>, LinkFormatError> parseLinkFormat(std::string_view text);

/// Serializes links (RFC 6690 §2) without whitespace. A value is quoted when it was quoted or is
/// not a valid ptoken; '"' and '\' inside quotes are escaped. parseLinkFormat(serializeLinkFormat(x))
/// == x for every x that parseLinkFormat produced.
[[nodiscard]] std::string serializeLinkFormat(std::span<const Link> links);

}  // namespace fc::coap

template <>
struct std::is_error_code_enum<fc::coap::LinkFormatError> : std::true_type {};
