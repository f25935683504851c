#include "server/core/shadows.hpp"

namespace fc::server::core {

std::optional<Failure> Shadows::validate(const ShadowUpdate& u) {
  for (const auto* side : {&u.reported, &u.desired})
    if (!side->is_null() && !side->is_object()) return Failure{Errc::Invalid, "shadow state must be an object"};
  return std::nullopt;
}

Shadow Shadows::get(const std::string& deviceId) const {
  auto it = shadows_.find(deviceId);
  return it == shadows_.end() ? Shadow{deviceId} : it->second;
}

Expected<Shadow, Failure> Shadows::apply(const std::string& deviceId, const ShadowUpdate& u, TimePoint now) {
  Shadow next = get(deviceId);
  if (u.version && *u.version <= next.version)
    return Unexpected(Failure{Errc::Conflict, "shadow version " + std::to_string(*u.version) +
                                                  " is not above the current " + std::to_string(next.version)});
  if (u.clearReported) next.reported = nlohmann::json::object();
  if (u.clearDesired) next.desired = nlohmann::json::object();
  if (u.reported.is_object()) next.reported.merge_patch(u.reported);
  if (u.desired.is_object()) next.desired.merge_patch(u.desired);
  next.version = u.version ? *u.version : next.version + 1;
  next.updatedAt = now;
  shadows_[deviceId] = next;
  return next;
}

void Shadows::restore(Shadow shadow) {
  auto id = shadow.deviceId;
  shadows_[std::move(id)] = std::move(shadow);
}

}  // namespace fc::server::core
