// LwM2M resource values (OMA-TS-LightweightM2M-V1_0 Appendix C, "Data Types"): the typed form
// that the TLV (tlv.hpp) and text/plain (content.hpp) encodings carry.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "protocols/common/utf8.hpp"

namespace fc::lwm2m {

/// Appendix C data types; the order matches the alternatives of Value.
enum class ResourceType : std::uint8_t { String, Integer, Float, Boolean, Opaque, Time, Objlnk };

/// "String", "Integer", … as the object registry spells them.
std::string_view resourceTypeName(ResourceType t) noexcept;

/// Appendix C Time: seconds since the Unix epoch, a signed integer on the wire.
struct Time {
  std::int64_t seconds = 0;
  bool operator==(const Time&) const = default;
};

/// Appendix C Objlnk: a reference to an Object Instance (Object id, Instance id).
struct Objlnk {
  std::uint16_t objectId = 0;
  std::uint16_t instanceId = 0;
  bool operator==(const Objlnk&) const = default;
};

using Opaque = std::vector<std::uint8_t>;

/// A resource value; the alternative's index is its ResourceType.
using Value = std::variant<std::string, std::int64_t, double, bool, Opaque, Time, Objlnk>;

[[nodiscard]] inline ResourceType typeOf(const Value& v) noexcept { return static_cast<ResourceType>(v.index()); }

/// Why a value's bytes or text do not hold a value of the requested type.
enum class ValueError : std::uint8_t {
  BadLength = 1,  ///< TLV: integer/time not 1, 2, 4 or 8 bytes, float not 4 or 8, boolean not 1, objlnk not 4 (§6.4.3)
  BadBoolean,     ///< a boolean other than 0 or 1 (byte or text)
  BadUtf8,        ///< a String that is not UTF-8 (Appendix C)
  BadNumber,      ///< text that is not a decimal integer / finite float
  OutOfRange,     ///< text integer outside the 64-bit signed range
  BadBase64,      ///< text Opaque that is not padded base64 (RFC 4648 §4)
  BadObjlnk,      ///< text Objlnk that is not "<object>:<instance>" with ids 0..65535
};

const std::error_category& valueCategory() noexcept;
std::error_code make_error_code(ValueError e) noexcept;

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::ValueError> : std::true_type {};
