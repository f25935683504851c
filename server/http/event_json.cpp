// Core events as the event stream and webhooks carry them: {"type","deviceId","time","data"}, the
// one place an event becomes JSON.
#include "server/http/event_json.hpp"

#include <nlohmann/json.hpp>

#include "protocols/common/overloaded.hpp"
#include "server/core/platform.hpp"

namespace fc::server::http {
namespace {

using nlohmann::json;

}  // namespace

std::string_view eventType(const core::Event& e) {
  return std::visit(
      Overloaded{[](const core::DeviceCreated&) { return std::string_view("device.created"); },
                 [](const core::DeviceUpdated&) { return std::string_view("device.updated"); },
                 [](const core::DeviceDeleted&) { return std::string_view("device.deleted"); },
                 [](const core::PresenceChanged& x) {
                   return std::string_view(x.device.online ? "device.online" : "device.offline");
                 },
                 [](const core::UplinkReceived&) { return std::string_view("uplink"); },
                 [](const core::CommandChanged&) { return std::string_view("command.status"); },
                 [](const core::ShadowUpdated&) { return std::string_view("shadow.updated"); },
                 [](const core::JournalRecorded&) { return std::string_view("journal"); },
                 [](const core::Lwm2mNotification&) { return std::string_view("lwm2m.notification"); },
                 [](const core::DeviceLogged&) { return std::string_view("device.log"); },
                 [](const core::OtaJobChanged&) { return std::string_view("ota.job"); },
                 [](const core::OtaDeviceChanged&) { return std::string_view("ota.device"); }},
      e);
}

json toJson(const core::Event& e) {
  json data = std::visit(Overloaded{[](const core::DeviceCreated& x) { return core::toJson(x.device); },
                                    [](const core::DeviceUpdated& x) { return core::toJson(x.device); },
                                    [](const core::DeviceDeleted& x) { return core::toJson(x.device); },
                                    [](const core::PresenceChanged& x) { return core::toJson(x.device); },
                                    [](const core::UplinkReceived& x) { return core::toJson(x.message); },
                                    [](const core::CommandChanged& x) { return core::toJson(x.command); },
                                    [](const core::ShadowUpdated& x) {
                                      auto j = core::toJson(x.shadow);
                                      j["source"] = x.source;
                                      j["desiredChanged"] = x.desiredChanged;
                                      return j;
                                    },
                                    [](const core::JournalRecorded& x) { return core::toJson(x.entry); },
                                    [](const core::Lwm2mNotification& x) { return x.data; },
                                    [](const core::DeviceLogged& x) { return core::toJson(x.entry); },
                                    [](const core::OtaJobChanged& x) {
                                      return json{{"jobId", x.jobId}, {"state", x.state}};
                                    },
                                    [](const core::OtaDeviceChanged& x) {
                                      return json{{"jobId", x.jobId},
                                                  {"deviceId", x.deviceId},
                                                  {"state", x.state},
                                                  {"step", x.step},
                                                  {"firmwareId", x.firmwareId},
                                                  {"version", x.version},
                                                  {"progress", x.progress < 0 ? json(nullptr) : json(x.progress)},
                                                  {"attempts", x.attempts},
                                                  {"errorCode", x.errorCode},
                                                  {"lastError", x.lastError}};
                                    }},
                         e);
  return {{"type", std::string(eventType(e))},
          {"deviceId", core::deviceIdOf(e)},
          {"time", core::isoTime(core::timeOf(e))},
          {"data", std::move(data)}};
}

}  // namespace fc::server::http
