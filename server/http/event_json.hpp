// The one place a platform event becomes JSON: {"type","deviceId","time","data"}, as the event
// WebSocket (/api/v1/events) and the command webhooks carry it.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string_view>

#include "server/core/events.hpp"

namespace fc::server::http {

/// "device.created", "device.updated", "device.deleted", "device.online", "device.offline", "uplink",
/// "command.status", "shadow.updated", "journal", "lwm2m.notification".
std::string_view eventType(const core::Event& e);
/// {"type","deviceId","time","data"}; data is the JSON form of the event's entity (a shadow's
/// also has "source" and "desiredChanged").
nlohmann::json toJson(const core::Event& e);

}  // namespace fc::server::http
