// The platform's event bus: listeners subscribe, the services publish. Publishing runs every
// listener on the publisher's thread, in subscription order, and is called only after the
// publisher has released its own locks (so a listener may call back into the platform).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "server/core/events.hpp"

namespace fc::server::core {

class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;

  /// Adds a listener; the id unsubscribes it.
  std::uint64_t subscribe(Listener listener);
  /// Removes the listener. One that is being called on another thread finishes that call.
  void unsubscribe(std::uint64_t id);
  /// Tells every listener of each event in turn. Listeners subscribed or removed meanwhile take
  /// effect from the next publish.
  void publish(std::span<const Event> events) const;
  void publish(const Event& event) const { publish(std::span<const Event>(&event, 1)); }

 private:
  using Listeners = std::vector<std::pair<std::uint64_t, std::shared_ptr<const Listener>>>;
  // Copied on subscribe/unsubscribe (rare), so a publish (every uplink) takes the lock only to
  // share the current list.
  std::shared_ptr<const Listeners> current() const;

  mutable std::mutex mutex_;
  std::uint64_t next_ = 1;
  std::shared_ptr<const Listeners> listeners_ = std::make_shared<const Listeners>();
};

}  // namespace fc::server::core
