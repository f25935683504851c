// The platform core: products, devices and their presence, uplink history, and the command queue,
// kept in memory and written through to SQLite (storage::PlatformStore). Thread-safe: the broker,
// the HTTP API and the scheduler call it from their own strands; each call holds one mutex for a
// few microseconds, and whatever it must tell others (events, commands to send) is done after the
// mutex is released.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocols/common/expected.hpp"
#include "server/core/clock.hpp"
#include "server/core/command_queue.hpp"
#include "server/core/device_registry.hpp"
#include "server/core/event_bus.hpp"
#include "server/core/history.hpp"
#include "server/core/model.hpp"
#include "server/core/shadows.hpp"
#include "server/core/token_store.hpp"

namespace fc::storage {
class PlatformStore;
struct PlatformSnapshot;
}  // namespace fc::storage

namespace fc::server::core {

/// How commands reach devices: the dialect layer implements it for the device's transport.
class CommandSender {
 public:
  virtual ~CommandSender() = default;
  /// Deliver `command` (first send or a resend) to the device; report the transport's
  /// acknowledgement with Platform::commandDelivered.
  virtual void sendCommand(const Device& device, const Product& product, const Command& command) = 0;
};

struct PlatformLimits {
  std::size_t maxPendingCommandsPerDevice = 1000;
  std::size_t messagesPerDevice = 1000;  // uplink history kept per device
  std::size_t journalPerDevice = 1000;   // journal entries kept per device
  std::size_t logsPerDevice = 1000;      // device log lines kept per device (in memory)
};

class Platform {
 public:
  Platform(Clock& clock, storage::PlatformStore* store, PlatformLimits limits = {});
  ~Platform();

  /// Rebuilds the state of an earlier run; devices start offline.
  void load(const storage::PlatformSnapshot& snapshot);
  void setCommandSender(CommandSender* sender);
  /// The event bus (EventBus::subscribe); the two calls below forward to it.
  EventBus& events() { return events_; }
  std::uint64_t subscribe(EventBus::Listener listener) { return events_.subscribe(std::move(listener)); }
  void unsubscribe(std::uint64_t id) { events_.unsubscribe(id); }
  /// Runs `done` once everything changed so far is committed (on the store's thread).
  void whenCommitted(std::function<void()> done);
  const Clock& clock() const { return clock_; }

  // --- products and devices ---
  Expected<Product, Failure> createProduct(Product product);
  std::vector<Product> products() const;
  std::optional<Product> product(const std::string& id) const;
  Expected<Product, Failure> deleteProduct(const std::string& id);

  Expected<Device, Failure> createDevice(Device device);
  /// Replaces name, identifiers, secrets and firmware version.
  Expected<Device, Failure> updateDevice(const std::string& id, const nlohmann::json& changes);
  std::vector<Device> devices(const std::optional<std::string>& productId = {}) const;
  std::optional<Device> device(const std::string& id) const;
  Expected<Device, Failure> deleteDevice(const std::string& id);
  /// The device of `productId` whose identifiers[key] == value (e.g. aliyun's deviceName), through
  /// the registry's index (no scan); the lowest id if several devices have it.
  std::optional<Device> findDevice(const std::string& productId, const std::string& key,
                                   const std::string& value) const;

  // --- presence and uplink ---
  /// Presence: the device is online (it is not yet sent commands: see deviceReachable).
  void deviceConnected(const std::string& deviceId, const std::string& transport, const std::string& remote);
  /// The device can now receive commands (e.g. it subscribed to its command topic): cached
  /// commands go out, in creation order.
  void deviceReachable(const std::string& deviceId);
  /// The device stays online but cannot take commands for now (a queue-mode LwM2M device asleep):
  /// cached commands stay PENDING until deviceReachable, immediate ones fail as for an offline device.
  void deviceUnreachable(const std::string& deviceId);
  void deviceDisconnected(const std::string& deviceId);
  void recordUplink(const std::string& deviceId, const std::string& transport, const std::string& topic,
                    std::vector<std::uint8_t> payload, std::string contentType);
  /// Newest last; at most `limit`, before message id `before` when given.
  std::vector<UplinkMessage> messages(const std::string& deviceId, std::size_t limit,
                                      std::optional<std::int64_t> before = {}) const;

  // --- commands ---
  /// Creates a command. `accepted`, when given, is called with it once it exists and before any
  /// of its events is published or it is sent (e.g. to remember where its status changes go).
  Expected<Command, Failure> sendCommand(CommandSpec spec,
                                         const std::function<void(const Command&)>& accepted = {});
  std::optional<Command> command(const std::string& id) const;
  Expected<std::vector<Command>, Failure> commands(const std::string& deviceId,
                                                   std::optional<CommandStatus> status = {}) const;
  Expected<Command, Failure> cancelCommand(const std::string& id);
  Expected<Command, Failure> commandDelivered(const std::string& id);
  Expected<Command, Failure> commandCompleted(const std::string& id, bool success, std::string result);
  /// Expiry and ack timeouts due on the clock; the scheduler calls it, and so does every clock change.
  void tick();

  // --- admin ---
  /// Forgets every product, device, message and command (and the store's broker tables).
  void reset();
  /// Counts: products, devices (online), commands by status, uplink messages kept.
  nlohmann::json stats() const;

  /// Tells the listeners (event stream, webhooks, dialects) of something that is no state of the
  /// platform's, e.g. an LwM2M notification; nothing is stored. Ignored for an unknown device.
  void announce(Event event);

  // --- device logs (in memory only) ---
  /// Keeps a line of the device's own log and announces it ("device.log"). Ignored for an
  /// unknown device.
  void recordDeviceLog(DeviceLogEntry entry);
  /// Newest last; at most `limit`, before entry id `before` when given.
  std::vector<DeviceLogEntry> deviceLogs(const std::string& deviceId, std::size_t limit,
                                         std::optional<std::int64_t> before = {}) const;

  // --- journal ---
  /// Records one exchange with a device and announces it as a "journal" event.
  void journal(const std::string& deviceId, std::string direction, std::string transport, std::string topic,
               std::vector<std::uint8_t> raw, std::string summary);
  /// Newest last; at most `limit`, before entry id `before` when given.
  std::vector<JournalEntry> journalEntries(const std::string& deviceId, std::size_t limit,
                                           std::optional<std::int64_t> before = {}) const;

  // --- device tokens (a TokenStore whose owners are devices) ---
  /// A new random token of `kind` for the device, valid for `lifetime` on the platform clock; it
  /// replaces the device's earlier token of that kind and is persisted, so the device stays signed
  /// in across a restart. `secret` is stored with it (the second half of a pair, e.g. aliyun's
  /// pre-step iotId → iotToken). The token's owner is the device id.
  Token issueDeviceToken(const std::string& kind, const std::string& deviceId, Duration lifetime,
                         std::string secret = {});
  /// The token if it is of `kind`, belongs to a device that still exists and has not expired (or,
  /// with `evenExpired`, has: to tell a device its token expired rather than that it is unknown).
  std::optional<Token> deviceToken(const std::string& kind, const std::string& token, bool evenExpired = false) const;

  // --- shadow ---
  /// The device's shadow (an empty one, version 0, if it never had one); 404 for an unknown device.
  Expected<Shadow, Failure> shadow(const std::string& deviceId) const;
  /// Applies the change, persists it and announces "shadow.updated" (data: the shadow's JSON plus
  /// "source" and "desiredChanged"). 404 unknown device, 409 stale version, 422 a side that is not
  /// an object or null.
  Expected<Shadow, Failure> updateShadow(const std::string& deviceId, const ShadowUpdate& update);

 private:
  struct Pending;  // side effects collected under the lock, run after it
  void flush(Pending& pending);
  void apply(CommandActions& actions, Pending& pending);
  void persistDevice(const Device& d);
  void persistCommand(const Command& c);
  std::string newId(const char* prefix);

  Clock& clock_;
  storage::PlatformStore* store_;
  PlatformLimits limits_;
  CommandSender* sender_ = nullptr;

  mutable std::mutex mutex_;
  DeviceRegistry registry_;  // products and devices
  History<UplinkMessage> messages_;
  History<JournalEntry> journal_;
  History<DeviceLogEntry> logs_;
  std::uint64_t idCounter_ = 0;
  CommandQueue commands_;

  EventBus events_;

  Shadows shadows_;  // under mutex_
  TokenStore tokens_;  // device tokens; changed under mutex_ too, so the store sees them in order
};

/// JSON forms used by the API and the event stream.
nlohmann::json toJson(const Product& p);
nlohmann::json toJson(const Device& d);
nlohmann::json toJson(const Command& c);
nlohmann::json toJson(const UplinkMessage& m);
nlohmann::json toJson(const JournalEntry& e);
nlohmann::json toJson(const DeviceLogEntry& e);
std::string isoTime(TimePoint t);
/// {"deviceId","state":{"reported","desired"},"version","updatedAt"}
nlohmann::json toJson(const Shadow& s);

}  // namespace fc::server::core
