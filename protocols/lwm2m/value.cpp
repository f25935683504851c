// LwM2M value types; the contract is in value.hpp.
#include "protocols/lwm2m/value.hpp"

namespace fc::lwm2m {
namespace {

class ValueCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m.value"; }

  std::string message(int ev) const override {
    switch (static_cast<ValueError>(ev)) {
      case ValueError::BadLength:
        return "TLV value length does not fit its data type (LwM2M 1.0 §6.4.3)";
      case ValueError::BadBoolean:
        return "boolean value other than 0 or 1";
      case ValueError::BadUtf8:
        return "string value is not UTF-8";
      case ValueError::BadNumber:
        return "text is not a decimal number";
      case ValueError::OutOfRange:
        return "integer outside the signed 64-bit range";
      case ValueError::BadBase64:
        return "opaque text is not padded base64";
      case ValueError::BadObjlnk:
        return "object link is not <object>:<instance>";
    }
    return "unknown LwM2M value error";
  }
};

}  // namespace

std::string_view resourceTypeName(ResourceType t) noexcept {
  switch (t) {
    case ResourceType::String:
      return "String";
    case ResourceType::Integer:
      return "Integer";
    case ResourceType::Float:
      return "Float";
    case ResourceType::Boolean:
      return "Boolean";
    case ResourceType::Opaque:
      return "Opaque";
    case ResourceType::Time:
      return "Time";
    case ResourceType::Objlnk:
      return "Objlnk";
  }
  return "?";
}

const std::error_category& valueCategory() noexcept {
  static const ValueCategory category;
  return category;
}

std::error_code make_error_code(ValueError e) noexcept { return {static_cast<int>(e), valueCategory()}; }

}  // namespace fc::lwm2m
