// What the platform asks of a product's dialect before it stores anything: whether a product, a
// device or a command of that dialect is well-formed, with the defaults the dialect fills in. The
// REST API and fixtures ask through a DialectCatalog (server/dialects/registry.hpp implements it),
// so the HTTP layer names no dialect and a product of a dialect that is not registered is refused.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/platform.hpp"

namespace fc::server::core {

/// Whether a device is being created (defaults are generated) or changed (PATCH: the dialect checks
/// the identifiers and secrets it would have after the change).
enum class DeviceChange { Create, Update };

class DialectRules {
 public:
  virtual ~DialectRules() = default;
  /// The product dialect name ("generic", "aliyun", …).
  virtual std::string_view name() const = 0;
  /// A new product of this dialect: fills its default keys into `product`, or says why it is
  /// refused (422 malformed, 409 a key another product already uses).
  virtual std::optional<Failure> prepareProduct(const Platform&, Product&) const { return std::nullopt; }
  /// A new or changed device of a product of this dialect: fills default identifiers and secrets
  /// into `device`, or says why it is refused. A device never conflicts with itself (same id).
  virtual std::optional<Failure> prepareDevice(const Platform&, Device&, DeviceChange) const { return std::nullopt; }
  /// A command for a device of this dialect, before it is queued: why it cannot be encoded, if so.
  virtual std::optional<Failure> checkCommand(const Product&, const CommandSpec&) const { return std::nullopt; }
};

/// The dialects the server runs; configured before the servers start, read-only afterwards.
class DialectCatalog {
 public:
  virtual ~DialectCatalog() = default;
  /// The rules of dialect `name`, nullptr when it is not registered.
  virtual const DialectRules* rules(std::string_view name) const = 0;
  /// The registered dialect names, in registration order.
  virtual std::vector<std::string> names() const = 0;
};

}  // namespace fc::server::core
