// LwM2M Write-Attributes (OMA-TS-LightweightM2M-V1_0 §5.1.2 and §5.4.4; LwM2M 1.1
// OMA-TS-LightweightM2M_Core-V1_1 §5.1.1, §5.4.4): the <NOTIFICATION> attributes a server sets on an
// Object, Object Instance or Resource with a CoAP PUT whose Uri-Query options carry them, one per
// option ("pmin=10", "pmax=60", "gt=20.5"), and no payload. A bare name ("pmin") removes the
// attribute. Pure: parsing, the checks the specification makes, and the query options to send.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/path.hpp"

namespace fc::lwm2m {

enum class Attribute : std::uint8_t {
  Pmin,   ///< Minimum Period, seconds (Integer ≥ 0)
  Pmax,   ///< Maximum Period, seconds (Integer ≥ 0)
  Gt,     ///< Greater Than (Float; numeric Resources only)
  Lt,     ///< Less Than (Float; numeric Resources only)
  St,     ///< Step (Float ≥ 0; numeric Resources only)
  Epmin,  ///< Minimum Evaluation Period, seconds (LwM2M 1.1)
  Epmax,  ///< Maximum Evaluation Period, seconds (LwM2M 1.1)
};
/// "pmin", "pmax", "gt", "lt", "st", "epmin", "epmax".
[[nodiscard]] std::string_view attributeName(Attribute a) noexcept;
[[nodiscard]] std::optional<Attribute> attributeByName(std::string_view name) noexcept;

enum class AttributeError : std::uint8_t {
  UnknownAttribute = 1,  ///< not one of the seven names (the client would answer 4.00)
  DuplicateAttribute,    ///< the same attribute twice in one request
  BadValue,        ///< a period that is not a decimal integer 0..4294967295, a threshold that is not a finite number
  NegativeStep,    ///< st < 0
  PeriodOrder,     ///< pmin > pmax, or epmin > epmax (§5.1.2: the maximum is not below the minimum)
  ThresholdOrder,  ///< lt ≥ gt, or lt + 2·st ≥ gt (§5.1.2)
  NotOnResource,   ///< gt, lt or st on an Object or Object Instance (they apply to a numeric Resource)
  NeedsVersion11,  ///< epmin or epmax for a client that registered LwM2M 1.0
  Empty,           ///< no attribute at all: nothing to write
};
const std::error_category& attributeCategory() noexcept;
std::error_code make_error_code(AttributeError e) noexcept;

/// One attribute of a Write-Attributes: a value to set, or nullopt to remove it.
struct AttributeSetting {
  Attribute attribute = Attribute::Pmin;
  std::optional<double> value;  ///< periods hold integral values
  bool operator==(const AttributeSetting&) const = default;
};

struct AttributeFailure {
  AttributeError error = AttributeError::BadValue;
  std::string detail;  ///< e.g. "pmin=abc", "lt=30 gt=20"
  bool operator==(const AttributeFailure&) const = default;
  /// "bad value: pmin=abc".
  [[nodiscard]] std::string message() const;
};

/// Parses Uri-Query option values ("pmin=10", "gt=-2.5", "st" …) and checks each value alone.
[[nodiscard]] Expected<std::vector<AttributeSetting>, AttributeFailure> parseAttributes(
    std::span<const std::string_view> query);
/// Checks a whole Write-Attributes for `path` and a client of LwM2M `version` ("1.0", "1.1"): not
/// empty, gt/lt/st only on a Resource (or Resource Instance), epmin/epmax only for 1.1, and the
/// orders §5.1.2 demands among the values given together (pmin ≤ pmax, epmin ≤ epmax, lt < gt,
/// lt + 2·st < gt). The client checks against its stored attributes too; a server sees only these.
/// The failure, or nullopt when the request may go.
[[nodiscard]] std::optional<AttributeFailure> checkAttributes(std::span<const AttributeSetting> settings,
                                                              const Path& path, std::string_view version);
/// The Uri-Query option values for `settings` in order: "pmin=10", "gt=20.5" (shortest decimal that
/// reads back to the same double), "st" for a removal.
[[nodiscard]] std::vector<std::string> attributeQuery(std::span<const AttributeSetting> settings);

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::AttributeError> : std::true_type {};
