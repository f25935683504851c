// SenML JSON for LwM2M; the contract is in senml.hpp.
#include "protocols/lwm2m/senml.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "protocols/common/base64.hpp"
#include "protocols/lwm2m/content.hpp"

namespace fc::lwm2m {
namespace {

using nlohmann::json;

class SenmlCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m.senml"; }

  std::string message(int ev) const override {
    switch (static_cast<SenmlError>(ev)) {
      case SenmlError::NotJson:
        return "SenML payload is not JSON";
      case SenmlError::NotAnArray:
        return "a SenML pack is a JSON array of records (RFC 8428 §5)";
      case SenmlError::NotAnObject:
        return "a SenML record is a JSON object";
      case SenmlError::BadLabel:
        return "a SenML label has a value of the wrong type";
      case SenmlError::MustUnderstand:
        return "a SenML label ending in '_' that must be understood (RFC 8428 §4.4)";
      case SenmlError::TwoValues:
        return "a SenML record with more than one value";
      case SenmlError::BadName:
        return "a SenML name that is empty or has a character outside A-Z a-z 0-9 - : . / _";
      case SenmlError::BadData:
        return "a SenML \"vd\" that is not base64url";
      case SenmlError::BadObjlnk:
        return "a SenML \"vlo\" that is not <object>:<instance>";
      case SenmlError::BadVersion:
        return "a SenML \"bver\" other than 1 to 10";
      case SenmlError::TooLarge:
        return "a SenML pack beyond the size or record limit";
    }
    return "unknown SenML error";
  }
};

bool validName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == ':' ||
           c == '.' || c == '/' || c == '_';
  });
}

/// The base fields in force (RFC 8428 §4.1: they apply to this and every later record).
struct Base {
  std::string name;
  std::optional<double> time;
  std::string unit;
  std::optional<double> value;  // "bv", added to "v"
};

Expected<SenmlRecord, SenmlError> resolve(const json& r, Base& base) {
  if (!r.is_object()) return Unexpected(SenmlError::NotAnObject);
  std::optional<std::string> name;
  std::optional<double> time;
  std::optional<std::string> unit;
  SenmlValue value;
  int values = 0;
  for (const auto& [label, v] : r.items()) {
    if (label == "bn" || label == "n" || label == "bu" || label == "u" || label == "vs" || label == "vd" ||
        label == "vlo") {
      if (!v.is_string()) return Unexpected(SenmlError::BadLabel);
    } else if (label == "bt" || label == "t" || label == "bv" || label == "v" || label == "bs" || label == "s" ||
               label == "ut") {
      if (!v.is_number()) return Unexpected(SenmlError::BadLabel);
    } else if (label == "vb") {
      if (!v.is_boolean()) return Unexpected(SenmlError::BadLabel);
    } else if (label == "bver") {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 10)
        return Unexpected(SenmlError::BadVersion);
    } else if (!label.empty() && label.back() == '_') {
      return Unexpected(SenmlError::MustUnderstand);
    }  // other labels are extensions a reader may ignore (RFC 8428 §4.4)

    if (label == "bn") base.name = v.get<std::string>();
    else if (label == "bt") base.time = v.get<double>();
    else if (label == "bu") base.unit = v.get<std::string>();
    else if (label == "bv") base.value = v.get<double>();
    else if (label == "n") name = v.get<std::string>();
    else if (label == "t") time = v.get<double>();
    else if (label == "u") unit = v.get<std::string>();
    else if (label == "v" || label == "vs" || label == "vb" || label == "vd" || label == "vlo" || label == "s") {
      if (++values > 1) return Unexpected(SenmlError::TwoValues);
      if (label == "v") {
        if (v.is_number_float()) value = v.get<double>();
        else if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
          value = v.get<double>();
        else value = v.get<std::int64_t>();
      } else if (label == "vs") {
        value = v.get<std::string>();
      } else if (label == "vb") {
        value = v.get<bool>();
      } else if (label == "vd") {
        auto data = base64UrlDecode(v.get<std::string>());
        if (!data) return Unexpected(SenmlError::BadData);
        value = std::move(*data);
      } else if (label == "vlo") {
        auto link = parseText(ResourceType::Objlnk, v.get<std::string>());
        if (!link) return Unexpected(SenmlError::BadObjlnk);
        value = std::get<Objlnk>(*link);
      }  // "s" (a sum) counts as the record's value but LwM2M has no use for it
    }
  }
  SenmlRecord out;
  out.name = base.name + name.value_or("");
  if (!validName(out.name)) return Unexpected(SenmlError::BadName);
  if (time || base.time) out.time = time.value_or(0) + base.time.value_or(0);
  out.unit = unit.value_or(base.unit);
  if (base.value) {  // RFC 8428 §4.6: the base value is added to the value
    if (auto* i = std::get_if<std::int64_t>(&value)) value = static_cast<double>(*i) + *base.value;
    else if (auto* d = std::get_if<double>(&value)) *d += *base.value;
  }
  out.value = std::move(value);
  return out;
}

}  // namespace

const std::error_category& senmlCategory() noexcept {
  static const SenmlCategory category;
  return category;
}

std::error_code make_error_code(SenmlError e) noexcept { return {static_cast<int>(e), senmlCategory()}; }

Expected<std::vector<SenmlRecord>, SenmlError> decodeSenmlJson(std::string_view payload, SenmlLimits limits) {
  if (payload.size() > limits.maxPayload) return Unexpected(SenmlError::TooLarge);
  const auto doc = json::parse(payload, nullptr, false);
  if (doc.is_discarded()) return Unexpected(SenmlError::NotJson);
  if (!doc.is_array()) return Unexpected(SenmlError::NotAnArray);
  if (doc.size() > limits.maxRecords) return Unexpected(SenmlError::TooLarge);
  std::vector<SenmlRecord> records;
  records.reserve(doc.size());
  Base base;
  for (const auto& r : doc) {
    auto record = resolve(r, base);
    if (!record) return Unexpected(record.error());
    records.push_back(std::move(*record));
  }
  return records;
}

std::string encodeSenmlJson(const std::vector<SenmlRecord>& records) {
  json pack = json::array();
  for (const auto& r : records) {
    json j = {{"n", r.name}};
    if (r.time) j["t"] = *r.time;
    if (!r.unit.empty()) j["u"] = r.unit;
    std::visit(
        [&j](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::int64_t>) j["v"] = v;
          else if constexpr (std::is_same_v<T, double>) j["v"] = std::isfinite(v) ? json(v) : json(nullptr);
          else if constexpr (std::is_same_v<T, std::string>) j["vs"] = v;
          else if constexpr (std::is_same_v<T, bool>) j["vb"] = v;
          else if constexpr (std::is_same_v<T, Opaque>) j["vd"] = base64UrlEncode(v);
          else if constexpr (std::is_same_v<T, Objlnk>) j["vlo"] = formatText(Value{v});
        },
        r.value);
    pack.push_back(std::move(j));
  }
  return pack.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string base64UrlEncode(std::span<const std::uint8_t> bytes) {
  auto text = base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

std::optional<Opaque> base64UrlDecode(std::string_view text) {
  std::string standard(text);
  std::replace(standard.begin(), standard.end(), '-', '+');
  std::replace(standard.begin(), standard.end(), '_', '/');
  if (standard.size() % 4 == 1) return std::nullopt;
  if (standard.find('=') == std::string::npos) standard.append((4 - standard.size() % 4) % 4, '=');
  return base64Decode(standard);
}

}  // namespace fc::lwm2m
