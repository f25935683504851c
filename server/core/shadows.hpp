// Device shadows: the state a device reported, the state the cloud wants, and a version that grows
// with every change. I/O-free and not thread-safe: the platform calls it under its mutex, checks
// that the device exists, persists the result and announces it (ShadowUpdated).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "protocols/common/expected.hpp"
#include "server/core/model.hpp"

namespace fc::server::core {

class Shadows {
 public:
  /// Invalid when a side of the update is neither an object nor null.
  static std::optional<Failure> validate(const ShadowUpdate& update);

  /// The device's shadow; an empty one (version 0, never updated) if it has none.
  Shadow get(const std::string& deviceId) const;
  /// Applies a valid update at `now`: each side merged as a JSON merge patch (RFC 7396: a null
  /// value removes the key) after the clear flags empty it; the version becomes update.version,
  /// which must exceed the current one (else Conflict), or one more.
  Expected<Shadow, Failure> apply(const std::string& deviceId, const ShadowUpdate& update, TimePoint now);

  /// A shadow of an earlier run.
  void restore(Shadow shadow);
  void erase(const std::string& deviceId) { shadows_.erase(deviceId); }
  void clear() { shadows_.clear(); }

 private:
  std::map<std::string, Shadow> shadows_;
};

}  // namespace fc::server::core
