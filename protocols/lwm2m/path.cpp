// LwM2M paths; the contract is in path.hpp. Section numbers refer to OMA-TS-LightweightM2M-V1_0.
#include "protocols/lwm2m/path.hpp"

#include "protocols/coap/message.hpp"

namespace fc::lwm2m {
namespace {

class PathCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m.path"; }

  std::string message(int ev) const override {
    switch (static_cast<PathError>(ev)) {
      case PathError::NotAbsolute:
        return "LwM2M path does not start with '/'";
      case PathError::EmptySegment:
        return "empty segment in an LwM2M path";
      case PathError::NotANumber:
        return "LwM2M path segment is not a decimal number (§6.1)";
      case PathError::LeadingZero:
        return "LwM2M path segment has a leading zero";
      case PathError::OutOfRange:
        return "LwM2M path segment above 65535 (§6.1)";
      case PathError::TooDeep:
        return "LwM2M path deeper than /object/instance/resource/resource-instance";
      case PathError::OutsideRoot:
        return "request path is outside the client's alternate root path (§5.3.1)";
      case PathError::BadRootPath:
        return "alternate root path is not absolute or has an empty segment";
    }
    return "unknown LwM2M path error";
  }
};

Expected<std::uint16_t, PathError> parseId(std::string_view s) noexcept {
  if (s.empty()) return Unexpected(PathError::EmptySegment);
  std::uint32_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return Unexpected(PathError::NotANumber);
  }
  if (s.size() > 1 && s.front() == '0') return Unexpected(PathError::LeadingZero);
  // Six digits already exceed 65535; stopping there keeps the arithmetic from overflowing.
  if (s.size() > 5) return Unexpected(PathError::OutOfRange);
  for (const char c : s) v = v * 10 + static_cast<std::uint32_t>(c - '0');
  if (v > kMaxId) return Unexpected(PathError::OutOfRange);
  return static_cast<std::uint16_t>(v);
}

}  // namespace

const std::error_category& pathCategory() noexcept {
  static const PathCategory category;
  return category;
}

std::error_code make_error_code(PathError e) noexcept { return {static_cast<int>(e), pathCategory()}; }

Expected<Path, PathError> Path::parse(std::string_view text) {
  if (text.empty() || text.front() != '/') return Unexpected(PathError::NotAbsolute);
  if (text == "/") return Path{};
  text.remove_prefix(1);
  std::vector<std::string_view> segments;
  for (;;) {
    const auto slash = text.find('/');
    segments.push_back(text.substr(0, slash));
    if (slash == std::string_view::npos) break;
    // Five segments are already too deep; stop collecting so a long path costs nothing.
    if (segments.size() > 4) return Unexpected(PathError::TooDeep);
    text.remove_prefix(slash + 1);
  }
  return fromSegments(segments);
}

Expected<Path, PathError> Path::fromSegments(std::span<const std::string_view> segments) {
  Path p;
  for (const auto segment : segments) {
    if (p.depth_ == 4) return Unexpected(PathError::TooDeep);
    auto id = parseId(segment);
    if (!id) return Unexpected(id.error());
    p.ids_[p.depth_++] = *id;
  }
  return p;
}

Expected<Path, PathError> Path::fromMessage(const coap::Message& m, std::string_view rootPath) {
  const auto root = rootSegments(rootPath);
  if (!root) return Unexpected(PathError::BadRootPath);
  const auto segments = m.getStrings(coap::option::kUriPath);
  if (segments.size() < root->size() || !std::equal(root->begin(), root->end(), segments.begin())) {
    return Unexpected(PathError::OutsideRoot);
  }
  return fromSegments(std::span(segments).subspan(root->size()));
}

Path Path::parent() const noexcept {
  Path p = *this;
  if (p.depth_ > 0) p.ids_[--p.depth_] = 0;
  return p;
}

bool Path::contains(const Path& other) const noexcept {
  return other.depth_ >= depth_ && std::equal(ids_.begin(), ids_.begin() + depth_, other.ids_.begin());
}

std::string Path::toString() const {
  if (depth_ == 0) return "/";
  std::string out;
  for (const auto id : ids()) {
    out.push_back('/');
    out.append(std::to_string(id));
  }
  return out;
}

std::vector<std::string> Path::toSegments(std::string_view rootPath) const {
  std::vector<std::string> out;
  if (const auto root = rootSegments(rootPath)) {
    for (const auto s : *root) out.emplace_back(s);
  }
  for (const auto id : ids()) out.push_back(std::to_string(id));
  return out;
}

void Path::applyTo(coap::Message& m, std::string_view rootPath) const {
  m.remove(coap::option::kUriPath);
  for (const auto& s : toSegments(rootPath)) m.addString(coap::option::kUriPath, s);
}

std::strong_ordering operator<=>(const Path& a, const Path& b) noexcept {
  const auto ai = a.ids();
  const auto bi = b.ids();
  return std::lexicographical_compare_three_way(ai.begin(), ai.end(), bi.begin(), bi.end());
}

std::optional<std::vector<std::string_view>> rootSegments(std::string_view rootPath) {
  if (rootPath.empty() || rootPath.front() != '/') return std::nullopt;
  std::vector<std::string_view> out;
  rootPath.remove_prefix(1);
  if (rootPath.empty()) return out;
  for (;;) {
    const auto slash = rootPath.find('/');
    const auto segment = rootPath.substr(0, slash);
    if (segment.empty()) return std::nullopt;
    out.push_back(segment);
    if (slash == std::string_view::npos) break;
    rootPath.remove_prefix(slash + 1);
  }
  return out;
}

}  // namespace fc::lwm2m
