// OMA TLV (OMA-TS-LightweightM2M-V1_0 §6.4.3), Content-Format 11542 and the pre-registration 1542:
// the binary encoding of Object Instances, Resources and Resource Instances that LwM2M 1.0
// clients must support. decodeTlv() turns a payload into a tree of entries and never throws;
// encodeTlv() writes a tree back with the shortest identifier and length fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/value.hpp"

namespace fc::lwm2m {

/// §6.4.3 Table 7, bits 7-6 of the type byte: what the identifier names.
enum class TlvType : std::uint8_t {
  ObjectInstance = 0,    ///< 00: value is a sequence of Resource / Multiple Resource TLVs
  ResourceInstance = 1,  ///< 01: value is one Resource Instance's value (inside a Multiple Resource)
  MultipleResource = 2,  ///< 10: value is a sequence of Resource Instance TLVs
  ResourceValue = 3,     ///< 11: value is a single Resource's value
};

/// "Object Instance", "Resource Instance", "Multiple Resource", "Resource".
std::string_view tlvTypeName(TlvType t) noexcept;

/// One TLV. Leaves (ResourceValue, ResourceInstance) hold `value`; containers (ObjectInstance,
/// MultipleResource) hold `children` and an empty `value`.
struct TlvEntry {
  TlvType type = TlvType::ResourceValue;
  std::uint16_t id = 0;
  std::vector<std::uint8_t> value;
  std::vector<TlvEntry> children;

  bool operator==(const TlvEntry&) const = default;

  [[nodiscard]] bool isContainer() const noexcept {
    return type == TlvType::ObjectInstance || type == TlvType::MultipleResource;
  }
  /// The first child with this id, or nullptr.
  [[nodiscard]] const TlvEntry* child(std::uint16_t childId) const noexcept;

  static TlvEntry resource(std::uint16_t id, std::vector<std::uint8_t> value);
  static TlvEntry resourceInstance(std::uint16_t id, std::vector<std::uint8_t> value);
  static TlvEntry multipleResource(std::uint16_t id, std::vector<TlvEntry> instances);
  static TlvEntry objectInstance(std::uint16_t id, std::vector<TlvEntry> resources);
};

enum class TlvError : std::uint8_t {
  Truncated = 1,   ///< the payload ends inside a type byte's identifier, length or value (§6.4.3)
  ChildOverrun,    ///< a nested TLV runs past the end of its parent's value
  BadNesting,      ///< an Object Instance holding anything but Resources / Multiple Resources, or a
                   ///< Multiple Resource holding anything but Resource Instances (§6.4.3.1–3)
  TooLarge,        ///< payload longer than Limits::maxPayload
  TooManyEntries,  ///< more TLVs than Limits::maxEntries
};

const std::error_category& tlvCategory() noexcept;
std::error_code make_error_code(TlvError e) noexcept;

/// Bounds on what decodeTlv() accepts; a CoAP payload is far smaller than the 24-bit lengths allow.
struct TlvLimits {
  std::size_t maxPayload = 64 * 1024;
  std::size_t maxEntries = 4096;
};

/// Decodes a whole TLV payload (§6.4.3) into its top-level entries; an empty payload is an empty
/// list. Any entry type may appear at top level (a Read of /3/0 answers Resources, a Read of /3
/// Object Instances, a Read of /3/0/6 one Multiple Resource), but nesting must follow §6.4.3.
/// Bits 2-0 of the type byte are ignored when bits 4-3 announce a length field, and longer-than-
/// needed identifier and length fields are accepted, as the spec only asks senders to be minimal.
[[nodiscard]] Expected<std::vector<TlvEntry>, TlvError> decodeTlv(std::span<const std::uint8_t> payload,
                                                                  const TlvLimits& limits = {}) noexcept;

/// Appends the TLV form of `entries` (§6.4.3) to `out`: 8-bit identifiers when the id fits, the
/// length in bits 2-0 when it is below 8, otherwise the shortest 8/16/24-bit length field.
/// Precondition: every value and child sequence encodes to at most 2^24 - 1 bytes.
void encodeTlv(std::span<const TlvEntry> entries, std::vector<std::uint8_t>& out);
[[nodiscard]] std::vector<std::uint8_t> encodeTlv(std::span<const TlvEntry> entries);

// --- typed values (§6.4.3 and Appendix C) ---

/// Integer: the shortest of 1, 2, 4 or 8 bytes, two's complement, big-endian.
[[nodiscard]] std::vector<std::uint8_t> encodeTlvInteger(std::int64_t v);
/// Integer / Time of 1, 2, 4 or 8 bytes, sign-extended.
[[nodiscard]] Expected<std::int64_t, ValueError> decodeTlvInteger(std::span<const std::uint8_t> bytes) noexcept;
/// Float: 4 bytes (IEEE 754 binary32) when `v` converts to float and back unchanged, else 8 bytes.
[[nodiscard]] std::vector<std::uint8_t> encodeTlvFloat(double v);
[[nodiscard]] Expected<double, ValueError> decodeTlvFloat(std::span<const std::uint8_t> bytes) noexcept;
/// Boolean: one byte, 0 or 1.
[[nodiscard]] std::vector<std::uint8_t> encodeTlvBoolean(bool v);
[[nodiscard]] Expected<bool, ValueError> decodeTlvBoolean(std::span<const std::uint8_t> bytes) noexcept;
/// Objlnk: object id then instance id, each 16-bit big-endian.
[[nodiscard]] std::vector<std::uint8_t> encodeTlvObjlnk(Objlnk v);
[[nodiscard]] Expected<Objlnk, ValueError> decodeTlvObjlnk(std::span<const std::uint8_t> bytes) noexcept;

/// Any Value in its TLV value form (String as its UTF-8 bytes, Opaque as is, Time as an Integer).
[[nodiscard]] std::vector<std::uint8_t> encodeTlvValue(const Value& v);
/// The bytes of a TLV leaf read as `type`; a String must be UTF-8.
[[nodiscard]] Expected<Value, ValueError> decodeTlvValue(ResourceType type, std::span<const std::uint8_t> bytes);

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::TlvError> : std::true_type {};
