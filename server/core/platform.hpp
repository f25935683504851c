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

namespace fc::storage {
class PlatformStore;
struct PlatformSnapshot;
}  // namespace fc::storage

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

/// Something that happened, for the event stream and for tests.
struct PlatformEvent {
  std::string type;  // device.created, device.deleted, device.online, device.offline, uplink, command.status,
                     // journal, shadow.updated, lwm2m.notification
  std::string deviceId;
  TimePoint time{};
  nlohmann::json data;
};

/// A token a device signed in with over a connectionless channel (HTTP, CoAP) or a pre-step;
/// `secret` is the second half of a token pair (iotId → iotToken), else empty.
struct DeviceToken {
  std::string token;
  std::string kind;
  std::string deviceId;
  std::string secret;
  TimePoint expiresAt{};
};

/// An API-shaped failure: the HTTP status, a stable code, and a message for people.
struct Failure {
  int status = 400;
  std::string code;
  std::string message;
};

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

class Platform {
 public:
  Platform(Clock& clock, storage::PlatformStore* store, PlatformLimits limits = {});
  ~Platform();

  /// Rebuilds the state of an earlier run; devices start offline.
  void load(const storage::PlatformSnapshot& snapshot);
  void setCommandSender(CommandSender* sender);
  std::uint64_t subscribe(std::function<void(const PlatformEvent&)> listener);
  void unsubscribe(std::uint64_t id);
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
  /// The device of `productId` whose identifiers[key] == value (e.g. aliyun's deviceName).
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
  Expected<Command, Failure> sendCommand(CommandSpec spec);
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
  void announce(PlatformEvent event);

  // --- journal ---
  /// Records one exchange with a device and announces it as a "journal" event.
  void journal(const std::string& deviceId, std::string direction, std::string transport, std::string topic,
               std::vector<std::uint8_t> raw, std::string summary);
  /// Newest last; at most `limit`, before entry id `before` when given.
  std::vector<JournalEntry> journalEntries(const std::string& deviceId, std::size_t limit,
                                           std::optional<std::int64_t> before = {}) const;

  // --- device tokens ---
  /// A new random token of `kind` for the device, valid for `lifetime` on the platform clock; it
  /// replaces the device's earlier token of that kind and is persisted, so the device stays signed
  /// in across a restart. `secret` is stored with it (the second half of a pair).
  DeviceToken issueDeviceToken(const std::string& kind, const std::string& deviceId, Duration lifetime,
                               std::string secret = {});
  /// The token if it is of `kind`, belongs to a device that still exists and has not expired (or,
  /// with `evenExpired`, has: to tell a device its token expired rather than that it is unknown).
  std::optional<DeviceToken> deviceToken(const std::string& kind, const std::string& token,
                                         bool evenExpired = false) const;

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
  std::map<std::string, Product> products_;
  std::map<std::string, Device> devices_;
  std::unordered_map<std::string, std::deque<UplinkMessage>> messages_;
  std::int64_t nextMessageId_ = 1;
  std::unordered_map<std::string, std::deque<JournalEntry>> journal_;
  std::int64_t nextJournalId_ = 1;
  std::uint64_t idCounter_ = 0;
  CommandQueue commands_;

  std::mutex listenersMutex_;
  std::uint64_t nextListener_ = 1;
  std::map<std::uint64_t, std::function<void(const PlatformEvent&)>> listeners_;

  std::map<std::string, Shadow> shadows_;  // under mutex_
  std::unordered_map<std::string, DeviceToken> tokens_;  // token → token; under mutex_
};

/// JSON forms used by the API and the event stream.
nlohmann::json toJson(const Product& p);
nlohmann::json toJson(const Device& d);
nlohmann::json toJson(const Command& c);
nlohmann::json toJson(const UplinkMessage& m);
nlohmann::json toJson(const JournalEntry& e);
std::string isoTime(TimePoint t);
/// {"deviceId","state":{"reported","desired"},"version","updatedAt"}
nlohmann::json toJson(const Shadow& s);
/// {"type","deviceId","time","data"}: an event as the event stream and webhooks carry it.
nlohmann::json toJson(const PlatformEvent& e);

}  // namespace fc::server::core
