// PlatformStore — persistence of the platform core (products, devices, commands, uplink history,
// journal, shadows) as plain row structs.
//
// The core keeps its state in memory and writes every change through here. load() reads everything
// back at startup. Every mutation only queues an operation on the Writer and returns: mutations
// commit in the order they were called, in batches, and whenCommitted() tells the core when what
// it has queued so far is durable (e.g. before it answers "command accepted").
//
// Rows name their parent, which must exist: a device its product; a command, message, journal entry
// or shadow its device. A row for an unknown parent fails its foreign key and is reported through
// the Writer's error handler, so a late write cannot resurrect something deleted. Deletes of rows
// that do not exist are no-ops.
//
// Upserts replace every column of an existing row in place (an UPDATE, never DELETE + INSERT), so a
// device upserted again keeps its commands, messages, journal and shadow.
//
// JSON columns hold JSON text; the schema refuses text that is not valid JSON (CHECK json_valid),
// reported like any other failed mutation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/writer.hpp"

namespace fc::storage {

// Times are milliseconds since the Unix epoch.

struct ProductRow {
  std::string id;
  std::string name;
  std::string dialect;
  std::string keys = "{}";  ///< JSON object of the dialect's keys, e.g. productKey/productSecret
  std::int64_t createdAt = 0;
  bool operator==(const ProductRow&) const = default;
};

struct DeviceRow {
  std::string id;
  std::string productId;
  std::string name;
  std::string identifiers = "{}";  ///< JSON: deviceName, sn, mac, endpoint…
  std::string secrets = "{}";      ///< JSON: deviceSecret, psk…
  std::string firmwareVersion;
  std::optional<std::int64_t> lastSeen;
  std::int64_t createdAt = 0;
  bool operator==(const DeviceRow&) const = default;
};

struct CommandRow {
  std::string id;
  std::int64_t seq = 0;  ///< assigned by the core; creation order across all devices
  std::string deviceId;
  std::string name;
  std::vector<std::uint8_t> payload;
  bool binary = false;
  std::int64_t expireSeconds = 0;
  std::uint32_t maxRetransmit = 0;
  std::uint32_t ackTimeoutMs = 0;
  std::string callbackUrl;
  std::string status;
  std::int64_t createdAt = 0;
  std::optional<std::int64_t> expiresAt, sentAt, ackDeadline, deliveredAt, completedAt;
  std::uint32_t sends = 0;
  std::string result;
  std::string reason;
  bool operator==(const CommandRow&) const = default;
};

/// One uplink of the telemetry history.
struct MessageRow {
  std::int64_t id = 0;  ///< assigned by the core, increasing, unique across devices
  std::string deviceId;
  std::int64_t time = 0;
  std::string transport;
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::string contentType;
  bool operator==(const MessageRow&) const = default;
};

/// One wire exchange of a device, either way.
struct JournalRow {
  std::int64_t id = 0;  ///< assigned by the core, increasing, unique across devices
  std::string deviceId;
  std::int64_t time = 0;
  std::string direction;  ///< "in" | "out"
  std::string transport;
  std::string topic;
  std::vector<std::uint8_t> raw;
  std::string summary;
  bool operator==(const JournalRow&) const = default;
};

struct ShadowRow {
  std::string deviceId;
  std::string desired = "{}";   ///< JSON
  std::string reported = "{}";  ///< JSON
  std::int64_t version = 0;
  std::int64_t updatedAt = 0;
  bool operator==(const ShadowRow&) const = default;
};

/// A token a device signed in with; one per (device, kind).
struct TokenRow {
  std::string token;
  std::string kind;  ///< e.g. "aliyun.http", "aliyun.iot"
  std::string deviceId;
  std::string secret;  ///< the pair's second half, or empty
  std::int64_t expiresAt = 0;
  bool operator==(const TokenRow&) const = default;
};

struct PlatformSnapshot {
  std::vector<ProductRow> products;  ///< ordered by id
  std::vector<DeviceRow> devices;    ///< ordered by id
  std::vector<CommandRow> commands;  ///< ordered by seq
  std::vector<MessageRow> messages;  ///< ordered by id
  std::vector<JournalRow> journal;   ///< ordered by id
  std::vector<ShadowRow> shadows;    ///< ordered by deviceId
  std::vector<TokenRow> tokens;      ///< ordered by token
  bool operator==(const PlatformSnapshot&) const = default;
};

class PlatformStore {
 public:
  /// The writer's database must have been migrated (storage::migrate).
  explicit PlatformStore(Writer& writer);

  /// Everything stored, read in one read transaction after every mutation queued so far has
  /// committed. Synchronous: for startup (and tests), not for the hot path.
  PlatformSnapshot load();

  /// Inserts the product, or replaces every column of the one with the same id.
  void upsertProduct(ProductRow product);
  /// Removes the product with its devices and everything of theirs.
  void deleteProduct(std::string id);

  /// Inserts the device, or replaces every column of the one with the same id (its rows stay).
  void upsertDevice(DeviceRow device);
  /// Removes the device with its commands, messages, journal and shadow.
  void deleteDevice(std::string id);

  /// Inserts the command, or replaces every column of the one with the same id.
  void upsertCommand(CommandRow command);

  /// Stores the message (its id must be new), then deletes the oldest messages of its device
  /// beyond the newest `keepPerDevice`; other devices' messages are untouched. 0 keeps none;
  /// SIZE_MAX keeps all. The trim walks up to `keepPerDevice` index entries of the device.
  void appendMessage(MessageRow message, std::size_t keepPerDevice);
  /// Same for the journal, whose entries are trimmed apart from the messages.
  void appendJournal(JournalRow entry, std::size_t keepPerDevice);

  /// Inserts the device's shadow, or replaces every column of it.
  void upsertShadow(ShadowRow shadow);

  /// Stores the token, replacing the device's earlier token of the same kind.
  void putToken(TokenRow token);

  /// Deletes every platform row and every broker row (sessions, subscriptions, queued messages,
  /// inbound QoS 2 ids, retained messages) in one operation: the admin API's reset. The schema
  /// stays; the in-memory state of the core and the broker is theirs to clear.
  void resetAll();

  /// Writer::whenCommitted: `done` runs on the writer thread once every mutation above that was
  /// called before it is committed.
  void whenCommitted(std::function<void()> done);

 private:
  Writer& writer_;
};

}  // namespace fc::storage
