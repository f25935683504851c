// SenML JSON (RFC 8428 §4–§5, Content-Format 110) as LwM2M 1.1 carries resource values in it
// (OMA-TS-LightweightM2M_Core-V1_1 §7.4.4): a JSON array of records, each naming a path — base
// name + name, e.g. "/3/0/" + "0" — with at most one value: "v" (number), "vs" (string), "vb"
// (boolean), "vd" (opaque, base64url without padding) or LwM2M's "vlo" (object link "3:0").
// decodeSenmlJson() resolves base names and times (RFC 8428 §4.6) and never throws;
// encodeSenmlJson() writes resolved records (full names, no base fields).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/value.hpp"

namespace fc::lwm2m {

/// A record's value: "v" as an integer when the JSON number is one, else as a double; "vs"; "vb";
/// "vd"; "vlo". Records of a Read-Composite request carry none (std::monostate).
using SenmlValue = std::variant<std::monostate, std::int64_t, double, std::string, bool, Opaque, Objlnk>;

/// One resolved record (RFC 8428 §4.6): no base fields left, the name complete.
struct SenmlRecord {
  std::string name;             ///< base name + name, e.g. "/3/0/0"
  std::optional<double> time;   ///< base time + time, seconds (RFC 8428 §4.5.3: small values are relative)
  std::string unit;             ///< base unit or unit, "" when none
  SenmlValue value;

  bool operator==(const SenmlRecord&) const = default;
};

enum class SenmlError : std::uint8_t {
  NotJson = 1,      ///< the payload is not JSON text (RFC 8259)
  NotAnArray,       ///< a pack is a JSON array of records (RFC 8428 §5)
  NotAnObject,      ///< a record is a JSON object
  BadLabel,         ///< a known label with a value of the wrong JSON type, e.g. "v": "1"
  MustUnderstand,   ///< a label ending in "_" that this decoder does not know (RFC 8428 §4.4)
  TwoValues,        ///< more than one of v, vs, vb, vd, vlo in one record (RFC 8428 §4.5.4)
  BadName,          ///< an empty resolved name or a character outside A-Z a-z 0-9 - : . / _ (§4.5.1)
  BadData,          ///< "vd" that is not base64 (RFC 8428 §4.3: URL-safe alphabet, padding omitted)
  BadObjlnk,        ///< "vlo" that is not "<object>:<instance>"
  BadVersion,       ///< "bver" other than a positive integer up to 10 (RFC 8428 §4.4)
  TooLarge,         ///< more than Limits::maxPayload bytes or Limits::maxRecords records
};

const std::error_category& senmlCategory() noexcept;
std::error_code make_error_code(SenmlError e) noexcept;

struct SenmlLimits {
  std::size_t maxPayload = 1 << 20;
  std::size_t maxRecords = 10'000;
};

[[nodiscard]] Expected<std::vector<SenmlRecord>, SenmlError> decodeSenmlJson(std::string_view payload,
                                                                             SenmlLimits limits = {});
/// Compact JSON: one object per record with "n", then "t" and "u" when set, then the value's label.
/// A double that is not finite cannot be written in JSON and is written as null.
[[nodiscard]] std::string encodeSenmlJson(const std::vector<SenmlRecord>& records);

/// RFC 4648 §5 base64url without padding, as "vd" wants it.
[[nodiscard]] std::string base64UrlEncode(std::span<const std::uint8_t> bytes);
/// Accepts the URL-safe and the standard alphabet, padded or not (clients in the field send both).
[[nodiscard]] std::optional<Opaque> base64UrlDecode(std::string_view text);

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::SenmlError> : std::true_type {};
