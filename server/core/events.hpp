// What the platform tells its listeners (event stream, webhooks, dialects): one plain struct per
// kind of event, in a std::variant. Listeners switch on the alternative (std::visit /
// std::get_if); the JSON an event is sent as ({"type","deviceId","time","data"}) is made at the
// edge, in server/http/event_json.*, and nowhere in the core.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <variant>

#include "server/core/clock.hpp"
#include "server/core/command_queue.hpp"
#include "server/core/model.hpp"

namespace fc::server::core {

/// A device was created ("device.created"); its time is the device's createdAt.
struct DeviceCreated {
  Device device;
};

/// A device's name, identifiers, secrets or firmware version changed, through the API or a dialect
/// (an OTA inform, a dynamic registration …) ("device.updated"); `device` after the change.
struct DeviceUpdated {
  Device device;
  TimePoint time{};
};

/// A device was deleted, alone or with its product ("device.deleted"); `device` as it was.
struct DeviceDeleted {
  Device device;
  TimePoint time{};
};

/// A device came online or went offline ("device.online" / "device.offline"): `device.online`
/// says which, and `device` is the device after the change.
struct PresenceChanged {
  Device device;
  TimePoint time{};
};

/// A device sent something that was kept in its uplink history ("uplink").
struct UplinkReceived {
  UplinkMessage message;
};

/// A command changed status ("command.status"); `command` after the change.
struct CommandChanged {
  Command command;
  TimePoint time{};
};

/// A device's shadow changed ("shadow.updated"): the shadow after the change, who changed it
/// ("device", "api") and whether the desired side was part of the change.
struct ShadowUpdated {
  Shadow shadow;
  std::string source;
  bool desiredChanged = false;
};

/// An exchange with a device went into its journal ("journal").
struct JournalRecorded {
  JournalEntry entry;
};

/// An observed LwM2M resource notified a new value ("lwm2m.notification"); nothing is stored.
/// `data` is what the LwM2M API made of the notification (path, code, value…, observing).
struct Lwm2mNotification {
  std::string deviceId;
  TimePoint time{};
  nlohmann::json data;
};

/// A device sent a line of its own log ("device.log").
struct DeviceLogged {
  DeviceLogEntry entry;
};

/// An upgrade job changed state ("ota.job"): created (SCHEDULED or RUNNING), started, COMPLETED
/// or CANCELED. It concerns no single device: deviceId is "". Announced once the change is stored.
struct OtaJobChanged {
  std::string jobId;
  std::string state;
  TimePoint time{};
};

/// A device's run in an upgrade job changed ("ota.device"): its state, the firmware it is at
/// (step, firmwareId, version), progress (-1: none reported), attempts and the last error.
/// Announced once the change is stored.
struct OtaDeviceChanged {
  std::string jobId;
  std::string deviceId;
  std::string state;
  std::int64_t step = 0;
  std::string firmwareId;
  std::string version;
  int progress = -1;
  std::int64_t attempts = 0;
  std::string errorCode;
  std::string lastError;
  TimePoint time{};
};

// Injected faults get their alternative here when they arrive.
using Event = std::variant<DeviceCreated, DeviceUpdated, DeviceDeleted, PresenceChanged, UplinkReceived, CommandChanged,
                           ShadowUpdated, JournalRecorded, Lwm2mNotification, DeviceLogged, OtaJobChanged,
                           OtaDeviceChanged>;

/// The device the event is about.
const std::string& deviceIdOf(const Event& e);
/// When it happened (platform time).
TimePoint timeOf(const Event& e);

}  // namespace fc::server::core
