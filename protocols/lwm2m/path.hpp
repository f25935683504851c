// LwM2M paths (OMA-TS-LightweightM2M-V1_0 §6.1, §6.4): "/3", "/3/0", "/3/0/1" and, from LwM2M 1.1
// on, "/3/0/6/1" (a Resource Instance). They arrive as CoAP Uri-Path options, one segment per
// option, and are written as text in link-format payloads and in the northbound API.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::coap {
struct Message;
}

namespace fc::lwm2m {

/// OMA-TS-LightweightM2M-V1_0 §6.1: Object, Object Instance, Resource and Resource Instance ids
/// are 16-bit unsigned integers.
inline constexpr std::uint32_t kMaxId = 65535;
/// Object Instance id 65535 is reserved (OMA-TS-LightweightM2M-V1_0 §6.1, "MAX_ID"); a path may
/// still name it — a server must be able to parse what a misbehaving client sends and answer it.
inline constexpr std::uint16_t kReservedInstanceId = 65535;

enum class PathError : std::uint8_t {
  NotAbsolute = 1,  ///< text that does not start with '/'
  EmptySegment,     ///< "//", a trailing '/', or an empty Uri-Path option
  NotANumber,       ///< a segment with a character other than 0-9
  LeadingZero,      ///< "01": every id has one spelling, so that paths compare as text
  OutOfRange,       ///< a segment above 65535 (§6.1)
  TooDeep,          ///< more than four segments (object/instance/resource/resource instance)
  OutsideRoot,      ///< Uri-Path does not start with the client's alternate root path (§5.3.1)
  BadRootPath,      ///< the root path given is not absolute or has an empty segment
};

const std::error_category& pathCategory() noexcept;
std::error_code make_error_code(PathError e) noexcept;

/// A path of depth 0 (the root "/"), 1 (Object), 2 (Object Instance), 3 (Resource) or 4
/// (Resource Instance). Ordered lexicographically by ids, shorter first, so that "/3" < "/3/0".
class Path {
 public:
  /// The root "/".
  constexpr Path() = default;
  explicit Path(std::uint16_t objectId) : ids_{objectId}, depth_(1) {}
  Path(std::uint16_t objectId, std::uint16_t instanceId) : ids_{objectId, instanceId}, depth_(2) {}
  Path(std::uint16_t objectId, std::uint16_t instanceId, std::uint16_t resourceId)
      : ids_{objectId, instanceId, resourceId}, depth_(3) {}
  Path(std::uint16_t objectId, std::uint16_t instanceId, std::uint16_t resourceId, std::uint16_t resourceInstanceId)
      : ids_{objectId, instanceId, resourceId, resourceInstanceId}, depth_(4) {}

  /// "/", "/3", "/3/0", "/3/0/1", "/3/0/6/1". A single trailing '/' is an empty segment, not
  /// tolerated: LwM2M paths never end in one.
  [[nodiscard]] static Expected<Path, PathError> parse(std::string_view text);
  /// From Uri-Path segments as they come off the wire (RFC 7252 §6.4); no segments is the root.
  [[nodiscard]] static Expected<Path, PathError> fromSegments(std::span<const std::string_view> segments);
  /// From the Uri-Path options of `m`, after stripping the client's alternate root path
  /// `rootPath` (OMA-TS-LightweightM2M-V1_0 §5.3.1: "/" unless the client registered another, e.g.
  /// "/lwm2m"). A request whose path is outside the root gives OutsideRoot.
  [[nodiscard]] static Expected<Path, PathError> fromMessage(const coap::Message& m, std::string_view rootPath = "/");

  [[nodiscard]] std::size_t depth() const noexcept { return depth_; }
  [[nodiscard]] bool isRoot() const noexcept { return depth_ == 0; }
  [[nodiscard]] bool isObject() const noexcept { return depth_ == 1; }
  [[nodiscard]] bool isObjectInstance() const noexcept { return depth_ == 2; }
  [[nodiscard]] bool isResource() const noexcept { return depth_ == 3; }
  [[nodiscard]] bool isResourceInstance() const noexcept { return depth_ == 4; }

  /// The ids; precondition: depth() is large enough.
  [[nodiscard]] std::uint16_t objectId() const noexcept { return ids_[0]; }
  [[nodiscard]] std::uint16_t instanceId() const noexcept { return ids_[1]; }
  [[nodiscard]] std::uint16_t resourceId() const noexcept { return ids_[2]; }
  [[nodiscard]] std::uint16_t resourceInstanceId() const noexcept { return ids_[3]; }
  [[nodiscard]] std::span<const std::uint16_t> ids() const noexcept { return std::span(ids_).first(depth_); }

  /// This path without its last segment; the root stays the root.
  [[nodiscard]] Path parent() const noexcept;
  /// True when `other` equals this path or lies below it ("/3" contains "/3/0/1").
  [[nodiscard]] bool contains(const Path& other) const noexcept;

  /// "/3/0/1"; the root is "/".
  [[nodiscard]] std::string toString() const;
  /// The Uri-Path segments for a request to a client registered with `rootPath` ("/" or e.g.
  /// "/lwm2m", whose segments come first).
  [[nodiscard]] std::vector<std::string> toSegments(std::string_view rootPath = "/") const;
  /// Replaces the Uri-Path options of `m` with toSegments(rootPath).
  void applyTo(coap::Message& m, std::string_view rootPath = "/") const;

  friend bool operator==(const Path& a, const Path& b) noexcept {
    return a.depth_ == b.depth_ && std::equal(a.ids_.begin(), a.ids_.begin() + a.depth_, b.ids_.begin());
  }
  friend std::strong_ordering operator<=>(const Path& a, const Path& b) noexcept;

 private:
  std::array<std::uint16_t, 4> ids_{};
  std::uint8_t depth_ = 0;
};

/// The segments of an alternate root path ("/lwm2m/v1" → {"lwm2m","v1"}; "/" → {}), or nullopt
/// when it is not absolute or has an empty segment.
[[nodiscard]] std::optional<std::vector<std::string_view>> rootSegments(std::string_view rootPath);

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::PathError> : std::true_type {};
