// Write-Attributes parsing and checks; the rules are at the top of attributes.hpp.
#include "protocols/lwm2m/attributes.hpp"

#include <array>
#include <charconv>
#include <cmath>

#include "protocols/lwm2m/content.hpp"

namespace fc::lwm2m {
namespace {

constexpr std::array<std::pair<Attribute, std::string_view>, 7> kNames{{{Attribute::Pmin, "pmin"},
                                                                        {Attribute::Pmax, "pmax"},
                                                                        {Attribute::Gt, "gt"},
                                                                        {Attribute::Lt, "lt"},
                                                                        {Attribute::St, "st"},
                                                                        {Attribute::Epmin, "epmin"},
                                                                        {Attribute::Epmax, "epmax"}}};

bool isPeriod(Attribute a) noexcept {
  return a == Attribute::Pmin || a == Attribute::Pmax || a == Attribute::Epmin || a == Attribute::Epmax;
}

AttributeFailure fail(AttributeError e, std::string detail) { return {e, std::move(detail)}; }

class AttributeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m-attributes"; }
  std::string message(int e) const override {
    switch (static_cast<AttributeError>(e)) {
      case AttributeError::UnknownAttribute:
        return "unknown attribute";
      case AttributeError::DuplicateAttribute:
        return "attribute given twice";
      case AttributeError::BadValue:
        return "bad value";
      case AttributeError::NegativeStep:
        return "st must not be negative";
      case AttributeError::PeriodOrder:
        return "the maximum period is below the minimum period";
      case AttributeError::ThresholdOrder:
        return "lt must be below gt, and lt + 2*st below gt";
      case AttributeError::NotOnResource:
        return "gt, lt and st apply to a Resource only";
      case AttributeError::NeedsVersion11:
        return "epmin and epmax are LwM2M 1.1 attributes";
      case AttributeError::Empty:
        return "no attribute to write";
    }
    return "attribute error";
  }
};

/// A period: a decimal integer 0..4294967295, no sign (LwM2M Integer, seconds).
std::optional<double> parsePeriod(std::string_view text) {
  std::uint32_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc{} || p != end) return std::nullopt;
  return static_cast<double>(v);
}

/// A threshold: a finite decimal number, as LwM2M text/plain writes a Float.
std::optional<double> parseNumber(std::string_view text) {
  auto value = parseText(ResourceType::Float, text);
  if (!value) return std::nullopt;
  return std::get<double>(*value);
}

const AttributeSetting* find(std::span<const AttributeSetting> settings, Attribute a) {
  for (const auto& s : settings)
    if (s.attribute == a && s.value) return &s;
  return nullptr;
}

std::string show(const AttributeSetting& s) {
  return std::string(attributeName(s.attribute)) + "=" + formatText(Value{*s.value});
}

}  // namespace

std::string_view attributeName(Attribute a) noexcept {
  for (const auto& [attribute, name] : kNames)
    if (attribute == a) return name;
  return "";
}

std::optional<Attribute> attributeByName(std::string_view name) noexcept {
  for (const auto& [attribute, n] : kNames)
    if (n == name) return attribute;
  return std::nullopt;
}

const std::error_category& attributeCategory() noexcept {
  static const AttributeCategory category;
  return category;
}

std::error_code make_error_code(AttributeError e) noexcept { return {static_cast<int>(e), attributeCategory()}; }

std::string AttributeFailure::message() const {
  auto text = make_error_code(error).message();
  return detail.empty() ? text : text + ": " + detail;
}

Expected<std::vector<AttributeSetting>, AttributeFailure> parseAttributes(std::span<const std::string_view> query) {
  std::vector<AttributeSetting> out;
  for (const auto item : query) {
    const auto eq = item.find('=');
    const auto name = item.substr(0, eq);
    const auto attribute = attributeByName(name);
    if (!attribute) return Unexpected(fail(AttributeError::UnknownAttribute, std::string(name)));
    for (const auto& s : out)
      if (s.attribute == *attribute) return Unexpected(fail(AttributeError::DuplicateAttribute, std::string(name)));
    AttributeSetting setting{*attribute, std::nullopt};
    if (eq != std::string_view::npos) {  // a bare name removes the attribute
      const auto text = item.substr(eq + 1);
      setting.value = isPeriod(*attribute) ? parsePeriod(text) : parseNumber(text);
      if (!setting.value) return Unexpected(fail(AttributeError::BadValue, std::string(item)));
      if (*attribute == Attribute::St && *setting.value < 0)
        return Unexpected(fail(AttributeError::NegativeStep, std::string(item)));
    }
    out.push_back(setting);
  }
  return out;
}

std::optional<AttributeFailure> checkAttributes(std::span<const AttributeSetting> settings, const Path& path,
                                                std::string_view version) {
  if (settings.empty()) return fail(AttributeError::Empty, "");
  for (const auto& s : settings) {
    const auto a = s.attribute;
    if ((a == Attribute::Gt || a == Attribute::Lt || a == Attribute::St) && path.depth() < 3)
      return fail(AttributeError::NotOnResource, std::string(attributeName(a)) + " on " + path.toString());
    if ((a == Attribute::Epmin || a == Attribute::Epmax) && version == "1.0")
      return fail(AttributeError::NeedsVersion11, std::string(attributeName(a)) + " with lwm2m=1.0");
    if (s.value && isPeriod(a) && (*s.value < 0 || *s.value > 4294967295.0 || std::floor(*s.value) != *s.value))
      return fail(AttributeError::BadValue, show(s));
    if (s.value && !std::isfinite(*s.value)) return fail(AttributeError::BadValue, std::string(attributeName(a)));
    if (s.value && a == Attribute::St && *s.value < 0) return fail(AttributeError::NegativeStep, show(s));
  }
  for (const auto& [low, high] :
       {std::pair{Attribute::Pmin, Attribute::Pmax}, std::pair{Attribute::Epmin, Attribute::Epmax}}) {
    const auto* l = find(settings, low);
    const auto* h = find(settings, high);
    if (l && h && *l->value > *h->value) return fail(AttributeError::PeriodOrder, show(*l) + " " + show(*h));
  }
  const auto* lt = find(settings, Attribute::Lt);
  const auto* gt = find(settings, Attribute::Gt);
  if (lt && gt) {
    if (*lt->value >= *gt->value) return fail(AttributeError::ThresholdOrder, show(*lt) + " " + show(*gt));
    if (const auto* st = find(settings, Attribute::St); st && *lt->value + 2 * *st->value >= *gt->value)
      return fail(AttributeError::ThresholdOrder, show(*lt) + " " + show(*st) + " " + show(*gt));
  }
  return std::nullopt;
}

std::vector<std::string> attributeQuery(std::span<const AttributeSetting> settings) {
  std::vector<std::string> out;
  for (const auto& s : settings) {
    if (!s.value)
      out.emplace_back(attributeName(s.attribute));
    else if (isPeriod(s.attribute))
      out.push_back(std::string(attributeName(s.attribute)) + "=" +
                    std::to_string(static_cast<std::uint64_t>(*s.value)));
    else
      out.push_back(show(s));
  }
  return out;
}

}  // namespace fc::lwm2m
