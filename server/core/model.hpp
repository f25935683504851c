// The platform's entities as plain structs: what the services hold, the events carry and the
// edges (REST, event stream, webhooks, dialects) turn into their JSON.
#pragma once

#include <nlohmann/json.hpp>  // identifiers, secrets, product keys and shadow state are JSON values

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/core/clock.hpp"

namespace fc::server::core {

struct Product {
  std::string id;
  std::string name;
  std::string dialect;  // "generic", "aliyun", …
  nlohmann::json keys = nlohmann::json::object();
  TimePoint createdAt{};
};

struct Device {
  std::string id;
  std::string productId;
  std::string name;
  nlohmann::json identifiers = nlohmann::json::object();
  nlohmann::json secrets = nlohmann::json::object();
  std::string firmwareVersion;
  bool online = false;
  std::optional<TimePoint> lastSeen;
  std::string transport;  // while online: "mqtt", "http", …
  std::string remote;     // while online: "address:port"
  TimePoint createdAt{};
};

/// One exchange with a device as it was on the wire.
struct JournalEntry {
  std::int64_t id = 0;
  std::string deviceId;
  TimePoint time{};
  std::string direction;  // "in" (from the device) or "out"
  std::string transport;
  std::string topic;      // or path
  std::vector<std::uint8_t> raw;
  std::string summary;
};

struct UplinkMessage {
  std::int64_t id = 0;
  std::string deviceId;
  TimePoint time{};
  std::string transport;
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::string contentType;
};

/// One line of a device's own log (gizwits 0x0012; kept in memory only, bounded per device).
struct DeviceLogEntry {
  std::int64_t id = 0;
  std::string deviceId;
  TimePoint time{};
  int level = 3;  // 1 error, 2 warning, 3 info (Gizwits' levels); others kept as they came
  std::string tag;
  std::string source;
  std::string content;
  std::string transport;
};

/// What went wrong, in the platform's terms. Each edge maps it to its protocol: the REST API to an
/// HTTP status and error code (http::failureResponse), IoCM to Huawei's error codes, aliyun to its
/// reply codes.
enum class Errc : std::uint8_t {
  NotFound,  // no such product, device or command
  Conflict,  // exists already, taken by another, or not in a state that allows it (a stale version)
  Invalid,   // input the platform cannot accept
  Limit,     // a limit is reached (a device's open commands)
  Internal,
};

/// A failure: its domain code and a message for people.
struct Failure {
  Errc code = Errc::Invalid;
  std::string message;
};

/// A device's shadow: the state it reported, the state the cloud wants, and a version that grows
/// with every change.
struct Shadow {
  std::string deviceId;
  nlohmann::json reported = nlohmann::json::object();
  nlohmann::json desired = nlohmann::json::object();
  std::int64_t version = 0;
  std::optional<TimePoint> updatedAt;  // never written: nullopt
  bool empty() const { return reported.empty() && desired.empty(); }
};

/// A change to a shadow. `reported` and `desired` are objects merged into the state (a null value
/// removes that key) or null for no change; the clear flags empty a side before merging.
struct ShadowUpdate {
  nlohmann::json reported;
  nlohmann::json desired;
  bool clearReported = false;
  bool clearDesired = false;
  /// When set it must exceed the current version (else 409) and becomes the version; otherwise
  /// the version goes up by one.
  std::optional<std::int64_t> version;
  std::string source = "api";  // who changed it ("device", "api"), told in the shadow.updated event
};

}  // namespace fc::server::core
