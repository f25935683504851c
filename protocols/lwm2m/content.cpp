// LwM2M content formats and plain-text values; the contract is in content.hpp.
#include "protocols/lwm2m/content.hpp"

#include <charconv>
#include <cmath>
#include <system_error>

#include "protocols/common/base64.hpp"

namespace fc::lwm2m {
namespace {

Expected<std::int64_t, ValueError> parseInteger(std::string_view text) noexcept {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec == std::errc::result_out_of_range) return Unexpected(ValueError::OutOfRange);
  if (ec != std::errc{} || ptr != end || text.empty()) return Unexpected(ValueError::BadNumber);
  return v;
}

Expected<std::uint16_t, ValueError> parseId(std::string_view text) noexcept {
  if (text.empty() || text.size() > 5 || text.front() == '-') return Unexpected(ValueError::BadObjlnk);
  std::uint32_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc{} || ptr != end || v > 0xFFFF) return Unexpected(ValueError::BadObjlnk);
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::string_view contentFormatName(std::uint16_t format) noexcept {
  switch (format) {
    case content::kTextPlain:
      return "text/plain";
    case content::kLinkFormat:
      return "application/link-format";
    case content::kOpaque:
      return "application/octet-stream";
    case content::kSenmlJson:
      return "application/senml+json";
    case content::kTlv:
    case content::kTlvOld:
      return "application/vnd.oma.lwm2m+tlv";
    case content::kJson:
    case content::kJsonOld:
      return "application/vnd.oma.lwm2m+json";
    default:
      return {};
  }
}

std::string formatText(const Value& v) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const {
      char buf[64];
      const auto r = std::to_chars(buf, buf + sizeof buf, d);
      return {buf, r.ptr};
    }
    std::string operator()(bool b) const { return b ? "1" : "0"; }
    std::string operator()(const Opaque& o) const { return base64Encode(o); }
    std::string operator()(Time t) const { return std::to_string(t.seconds); }
    std::string operator()(Objlnk o) const { return std::to_string(o.objectId) + ":" + std::to_string(o.instanceId); }
  };
  return std::visit(Visitor{}, v);
}

Expected<Value, ValueError> parseText(ResourceType type, std::string_view text) {
  switch (type) {
    case ResourceType::String:
      if (!isUtf8(text)) return Unexpected(ValueError::BadUtf8);
      return Value(std::string(text));
    case ResourceType::Integer:
    case ResourceType::Time: {
      auto i = parseInteger(text);
      if (!i) return Unexpected(i.error());
      return type == ResourceType::Time ? Value(Time{*i}) : Value(*i);
    }
    case ResourceType::Float: {
      double d = 0;
      const auto* end = text.data() + text.size();
      const auto [ptr, ec] = std::from_chars(text.data(), end, d);
      if (ec != std::errc{} || ptr != end || text.empty() || !std::isfinite(d)) {
        return Unexpected(ValueError::BadNumber);
      }
      return Value(d);
    }
    case ResourceType::Boolean:
      if (text == "1") return Value(true);
      if (text == "0") return Value(false);
      return Unexpected(ValueError::BadBoolean);
    case ResourceType::Opaque: {
      auto bytes = base64Decode(text);
      if (!bytes) return Unexpected(ValueError::BadBase64);
      return Value(std::move(*bytes));
    }
    case ResourceType::Objlnk: {
      const auto colon = text.find(':');
      if (colon == std::string_view::npos) return Unexpected(ValueError::BadObjlnk);
      auto object = parseId(text.substr(0, colon));
      auto instance = parseId(text.substr(colon + 1));
      if (!object || !instance) return Unexpected(ValueError::BadObjlnk);
      return Value(Objlnk{*object, *instance});
    }
  }
  return Unexpected(ValueError::BadNumber);
}

}  // namespace fc::lwm2m
