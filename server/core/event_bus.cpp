// The event bus: listeners in a copy-on-write list, told of each event after the platform's locks.
#include "server/core/event_bus.hpp"

#include <algorithm>

#include "protocols/common/overloaded.hpp"

namespace fc::server::core {

const std::string& deviceIdOf(const Event& e) {
  return std::visit(Overloaded{[](const DeviceCreated& x) -> const std::string& { return x.device.id; },
                               [](const DeviceUpdated& x) -> const std::string& { return x.device.id; },
                               [](const DeviceDeleted& x) -> const std::string& { return x.device.id; },
                               [](const PresenceChanged& x) -> const std::string& { return x.device.id; },
                               [](const UplinkReceived& x) -> const std::string& { return x.message.deviceId; },
                               [](const CommandChanged& x) -> const std::string& { return x.command.spec.deviceId; },
                               [](const ShadowUpdated& x) -> const std::string& { return x.shadow.deviceId; },
                               [](const JournalRecorded& x) -> const std::string& { return x.entry.deviceId; },
                               [](const Lwm2mNotification& x) -> const std::string& { return x.deviceId; },
                               [](const DeviceLogged& x) -> const std::string& { return x.entry.deviceId; },
                               [](const OtaJobChanged&) -> const std::string& {
                                 static const std::string kNone;  // a job concerns no single device
                                 return kNone;
                               },
                               [](const OtaDeviceChanged& x) -> const std::string& { return x.deviceId; }},
                    e);
}

TimePoint timeOf(const Event& e) {
  return std::visit(Overloaded{[](const DeviceCreated& x) { return x.device.createdAt; },
                               [](const DeviceUpdated& x) { return x.time; },
                               [](const DeviceDeleted& x) { return x.time; },
                               [](const PresenceChanged& x) { return x.time; },
                               [](const UplinkReceived& x) { return x.message.time; },
                               [](const CommandChanged& x) { return x.time; },
                               [](const ShadowUpdated& x) { return x.shadow.updatedAt.value_or(TimePoint{}); },
                               [](const JournalRecorded& x) { return x.entry.time; },
                               [](const Lwm2mNotification& x) { return x.time; },
                               [](const DeviceLogged& x) { return x.entry.time; },
                               [](const OtaJobChanged& x) { return x.time; },
                               [](const OtaDeviceChanged& x) { return x.time; }},
                    e);
}

std::uint64_t EventBus::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<Listeners>(*listeners_);
  const auto id = next_++;
  next->emplace_back(id, std::make_shared<const Listener>(std::move(listener)));
  listeners_ = std::move(next);
  return id;
}

void EventBus::unsubscribe(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto next = std::make_shared<Listeners>(*listeners_);
  std::erase_if(*next, [id](const auto& l) { return l.first == id; });
  listeners_ = std::move(next);
}

std::shared_ptr<const EventBus::Listeners> EventBus::current() const {
  std::lock_guard lock(mutex_);
  return listeners_;
}

void EventBus::publish(std::span<const Event> events) const {
  if (events.empty()) return;
  const auto listeners = current();
  for (const auto& e : events)
    for (const auto& [_, listener] : *listeners) (*listener)(e);
}

}  // namespace fc::server::core
