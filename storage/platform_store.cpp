// PlatformStore: SQL for the platform tables of migration 2 (and, for resetAll, the broker tables
// of migration 1).
#include "storage/platform_store.hpp"

#include <limits>
#include <string_view>
#include <utility>

namespace fc::storage {

namespace {

// ON CONFLICT DO UPDATE, not INSERT OR REPLACE: a REPLACE deletes the old row first, and the
// cascade would take the product's devices (or the device's commands, history and shadow) with it.
constexpr std::string_view kUpsertProduct =
    "INSERT INTO products (id, name, dialect, keys, created_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, dialect = excluded.dialect, keys = excluded.keys, "
    "created_at = excluded.created_at";
constexpr std::string_view kDeleteProduct = "DELETE FROM products WHERE id = ?1";
constexpr std::string_view kUpsertDevice =
    "INSERT INTO devices (id, product_id, name, identifiers, secrets, firmware_version, last_seen, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
    "ON CONFLICT (id) DO UPDATE SET product_id = excluded.product_id, name = excluded.name, "
    "identifiers = excluded.identifiers, secrets = excluded.secrets, firmware_version = excluded.firmware_version, "
    "last_seen = excluded.last_seen, created_at = excluded.created_at";
constexpr std::string_view kDeleteDevice = "DELETE FROM devices WHERE id = ?1";
constexpr std::string_view kUpsertCommand =
    "INSERT INTO commands (id, seq, device_id, name, payload, is_binary, expire_seconds, max_retransmit, "
    "ack_timeout_ms, callback_url, status, created_at, expires_at, sent_at, ack_deadline, delivered_at, "
    "completed_at, sends, result, reason) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) "
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, device_id = excluded.device_id, name = excluded.name, "
    "payload = excluded.payload, is_binary = excluded.is_binary, expire_seconds = excluded.expire_seconds, "
    "max_retransmit = excluded.max_retransmit, ack_timeout_ms = excluded.ack_timeout_ms, "
    "callback_url = excluded.callback_url, status = excluded.status, created_at = excluded.created_at, "
    "expires_at = excluded.expires_at, sent_at = excluded.sent_at, ack_deadline = excluded.ack_deadline, "
    "delivered_at = excluded.delivered_at, completed_at = excluded.completed_at, sends = excluded.sends, "
    "result = excluded.result, reason = excluded.reason";
constexpr std::string_view kAppendMessage =
    "INSERT INTO messages (id, device_id, time, transport, topic, payload, content_type) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kAppendJournal =
    "INSERT INTO journal (id, device_id, time, direction, transport, topic, raw, summary) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// The subquery walks the device's ids newest first in the (device_id, id) index and stops at the
// first one beyond the newest ?2; that id and everything below it goes, as one index range. With
// ?2 or fewer rows the subquery is NULL and nothing matches. Cost: ?2 index steps plus the deleted
// rows, whatever the table's size.
constexpr std::string_view kTrimMessages =
    "DELETE FROM messages WHERE device_id = ?1 AND id <= "
    "(SELECT id FROM messages WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)";
constexpr std::string_view kTrimJournal =
    "DELETE FROM journal WHERE device_id = ?1 AND id <= "
    "(SELECT id FROM journal WHERE device_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)";
constexpr std::string_view kUpsertShadow =
    "INSERT INTO shadows (device_id, desired, reported, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (device_id) DO UPDATE SET desired = excluded.desired, reported = excluded.reported, "
    "version = excluded.version, updated_at = excluded.updated_at";
constexpr std::string_view kPutToken =
    "INSERT INTO device_tokens (token, kind, device_id, secret, expires_at) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (device_id, kind) DO UPDATE SET token = excluded.token, secret = excluded.secret, "
    "expires_at = excluded.expires_at";
// Children before parents, so no delete has a cascade left to run.
constexpr std::string_view kResetAll =
    "DELETE FROM device_tokens; DELETE FROM commands; DELETE FROM messages; DELETE FROM journal; DELETE FROM shadows; "
    "DELETE FROM devices; DELETE FROM products; "
    "DELETE FROM broker_inbound_qos2; DELETE FROM broker_messages; DELETE FROM broker_subscriptions; "
    "DELETE FROM broker_sessions; DELETE FROM broker_retained;";

constexpr std::string_view kLoadProducts = "SELECT id, name, dialect, keys, created_at FROM products ORDER BY id";
constexpr std::string_view kLoadDevices =
    "SELECT id, product_id, name, identifiers, secrets, firmware_version, last_seen, created_at FROM devices "
    "ORDER BY id";
constexpr std::string_view kLoadCommands =
    "SELECT id, seq, device_id, name, payload, is_binary, expire_seconds, max_retransmit, ack_timeout_ms, "
    "callback_url, status, created_at, expires_at, sent_at, ack_deadline, delivered_at, completed_at, sends, "
    "result, reason FROM commands ORDER BY seq";
constexpr std::string_view kLoadMessages =
    "SELECT id, device_id, time, transport, topic, payload, content_type FROM messages ORDER BY id";
constexpr std::string_view kLoadJournal =
    "SELECT id, device_id, time, direction, transport, topic, raw, summary FROM journal ORDER BY id";
constexpr std::string_view kLoadShadows =
    "SELECT device_id, desired, reported, version, updated_at FROM shadows ORDER BY device_id";
constexpr std::string_view kLoadTokens =
    "SELECT token, kind, device_id, secret, expires_at FROM device_tokens ORDER BY token";

// std::uint32_t converts to int and to std::int64_t equally well: name the overload.
std::int64_t wide(std::uint32_t value) { return value; }

Statement& bindTime(Statement& st, int index, const std::optional<std::int64_t>& time) {
  return time ? st.bind(index, *time) : st.bind(index, nullptr);
}

std::optional<std::int64_t> columnTime(const Statement& st, int column) {
  if (st.columnIsNull(column)) return std::nullopt;
  return st.columnInt64(column);
}

std::uint32_t columnUint32(const Statement& st, int column) {
  return static_cast<std::uint32_t>(st.columnInt64(column));
}

// A keep no table can reach (SIZE_MAX: "keep all") skips the trim: it would delete nothing, after
// walking every row of the device.
constexpr std::int64_t kKeepAll = -1;

std::int64_t keepOf(std::size_t keepPerDevice) {
  return keepPerDevice > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
             ? kKeepAll
             : static_cast<std::int64_t>(keepPerDevice);
}

}  // namespace

PlatformStore::PlatformStore(Writer& writer) : writer_(writer) {}

PlatformSnapshot PlatformStore::load() {
  PlatformSnapshot snapshot;
  writer_.read([&snapshot](Database& db) {
    // One read transaction, so the six queries see the same state even if another process writes.
    Transaction tx(db, TransactionKind::Deferred);

    auto& products = db.cached(kLoadProducts);
    while (products.step()) {
      snapshot.products.push_back(ProductRow{
          .id = products.columnText(0),
          .name = products.columnText(1),
          .dialect = products.columnText(2),
          .keys = products.columnText(3),
          .createdAt = products.columnInt64(4),
      });
    }

    auto& devices = db.cached(kLoadDevices);
    while (devices.step()) {
      snapshot.devices.push_back(DeviceRow{
          .id = devices.columnText(0),
          .productId = devices.columnText(1),
          .name = devices.columnText(2),
          .identifiers = devices.columnText(3),
          .secrets = devices.columnText(4),
          .firmwareVersion = devices.columnText(5),
          .lastSeen = columnTime(devices, 6),
          .createdAt = devices.columnInt64(7),
      });
    }

    auto& commands = db.cached(kLoadCommands);
    while (commands.step()) {
      snapshot.commands.push_back(CommandRow{
          .id = commands.columnText(0),
          .seq = commands.columnInt64(1),
          .deviceId = commands.columnText(2),
          .name = commands.columnText(3),
          .payload = commands.columnBlob(4),
          .binary = commands.columnInt(5) != 0,
          .expireSeconds = commands.columnInt64(6),
          .maxRetransmit = columnUint32(commands, 7),
          .ackTimeoutMs = columnUint32(commands, 8),
          .callbackUrl = commands.columnText(9),
          .status = commands.columnText(10),
          .createdAt = commands.columnInt64(11),
          .expiresAt = columnTime(commands, 12),
          .sentAt = columnTime(commands, 13),
          .ackDeadline = columnTime(commands, 14),
          .deliveredAt = columnTime(commands, 15),
          .completedAt = columnTime(commands, 16),
          .sends = columnUint32(commands, 17),
          .result = commands.columnText(18),
          .reason = commands.columnText(19),
      });
    }

    auto& messages = db.cached(kLoadMessages);
    while (messages.step()) {
      snapshot.messages.push_back(MessageRow{
          .id = messages.columnInt64(0),
          .deviceId = messages.columnText(1),
          .time = messages.columnInt64(2),
          .transport = messages.columnText(3),
          .topic = messages.columnText(4),
          .payload = messages.columnBlob(5),
          .contentType = messages.columnText(6),
      });
    }

    auto& journal = db.cached(kLoadJournal);
    while (journal.step()) {
      snapshot.journal.push_back(JournalRow{
          .id = journal.columnInt64(0),
          .deviceId = journal.columnText(1),
          .time = journal.columnInt64(2),
          .direction = journal.columnText(3),
          .transport = journal.columnText(4),
          .topic = journal.columnText(5),
          .raw = journal.columnBlob(6),
          .summary = journal.columnText(7),
      });
    }

    auto& shadows = db.cached(kLoadShadows);
    while (shadows.step()) {
      snapshot.shadows.push_back(ShadowRow{
          .deviceId = shadows.columnText(0),
          .desired = shadows.columnText(1),
          .reported = shadows.columnText(2),
          .version = shadows.columnInt64(3),
          .updatedAt = shadows.columnInt64(4),
      });
    }

    auto& tokens = db.cached(kLoadTokens);
    while (tokens.step()) {
      snapshot.tokens.push_back(TokenRow{
          .token = tokens.columnText(0),
          .kind = tokens.columnText(1),
          .deviceId = tokens.columnText(2),
          .secret = tokens.columnText(3),
          .expiresAt = tokens.columnInt64(4),
      });
    }
    db.resetCached();  // end the statements' reads before COMMIT
    tx.commit();
  });
  return snapshot;
}

void PlatformStore::upsertProduct(ProductRow product) {
  writer_.submit([product = std::move(product)](Database& db) {
    db.cached(kUpsertProduct)
        .bind(1, product.id)
        .bind(2, product.name)
        .bind(3, product.dialect)
        .bind(4, product.keys)
        .bind(5, product.createdAt)
        .run();
  });
}

void PlatformStore::deleteProduct(std::string id) {
  // Devices go through ON DELETE CASCADE, and their rows with them (foreign_keys is on for every
  // connection, and SQLite carries a cascade through any depth).
  writer_.submit([id = std::move(id)](Database& db) { db.cached(kDeleteProduct).bind(1, id).run(); });
}

void PlatformStore::upsertDevice(DeviceRow device) {
  writer_.submit([device = std::move(device)](Database& db) {
    auto& st = db.cached(kUpsertDevice);
    st.bind(1, device.id)
        .bind(2, device.productId)
        .bind(3, device.name)
        .bind(4, device.identifiers)
        .bind(5, device.secrets)
        .bind(6, device.firmwareVersion)
        .bind(8, device.createdAt);
    bindTime(st, 7, device.lastSeen).run();
  });
}

void PlatformStore::deleteDevice(std::string id) {
  writer_.submit([id = std::move(id)](Database& db) { db.cached(kDeleteDevice).bind(1, id).run(); });
}

void PlatformStore::upsertCommand(CommandRow command) {
  writer_.submit([command = std::move(command)](Database& db) {
    auto& st = db.cached(kUpsertCommand);
    st.bind(1, command.id)
        .bind(2, command.seq)
        .bind(3, command.deviceId)
        .bind(4, command.name)
        .bind(5, command.payload)
        .bind(6, command.binary ? 1 : 0)
        .bind(7, command.expireSeconds)
        .bind(8, wide(command.maxRetransmit))
        .bind(9, wide(command.ackTimeoutMs))
        .bind(10, command.callbackUrl)
        .bind(11, command.status)
        .bind(12, command.createdAt)
        .bind(18, wide(command.sends))
        .bind(19, command.result)
        .bind(20, command.reason);
    bindTime(st, 13, command.expiresAt);
    bindTime(st, 14, command.sentAt);
    bindTime(st, 15, command.ackDeadline);
    bindTime(st, 16, command.deliveredAt);
    bindTime(st, 17, command.completedAt);
    st.run();
  });
}

void PlatformStore::appendMessage(MessageRow message, std::size_t keepPerDevice) {
  writer_.submit([message = std::move(message), keep = keepOf(keepPerDevice)](Database& db) {
    db.cached(kAppendMessage)
        .bind(1, message.id)
        .bind(2, message.deviceId)
        .bind(3, message.time)
        .bind(4, message.transport)
        .bind(5, message.topic)
        .bind(6, message.payload)
        .bind(7, message.contentType)
        .run();
    if (keep != kKeepAll) db.cached(kTrimMessages).bind(1, message.deviceId).bind(2, keep).run();
  });
}

void PlatformStore::appendJournal(JournalRow entry, std::size_t keepPerDevice) {
  writer_.submit([entry = std::move(entry), keep = keepOf(keepPerDevice)](Database& db) {
    db.cached(kAppendJournal)
        .bind(1, entry.id)
        .bind(2, entry.deviceId)
        .bind(3, entry.time)
        .bind(4, entry.direction)
        .bind(5, entry.transport)
        .bind(6, entry.topic)
        .bind(7, entry.raw)
        .bind(8, entry.summary)
        .run();
    if (keep != kKeepAll) db.cached(kTrimJournal).bind(1, entry.deviceId).bind(2, keep).run();
  });
}

void PlatformStore::upsertShadow(ShadowRow shadow) {
  writer_.submit([shadow = std::move(shadow)](Database& db) {
    db.cached(kUpsertShadow)
        .bind(1, shadow.deviceId)
        .bind(2, shadow.desired)
        .bind(3, shadow.reported)
        .bind(4, shadow.version)
        .bind(5, shadow.updatedAt)
        .run();
  });
}

void PlatformStore::putToken(TokenRow token) {
  writer_.submit([token = std::move(token)](Database& db) {
    db.cached(kPutToken)
        .bind(1, token.token)
        .bind(2, token.kind)
        .bind(3, token.deviceId)
        .bind(4, token.secret)
        .bind(5, token.expiresAt)
        .run();
  });
}

void PlatformStore::resetAll() {
  // One operation, so one savepoint: the reset commits whole or not at all.
  writer_.submit([](Database& db) { db.exec(kResetAll); });
}

void PlatformStore::whenCommitted(std::function<void()> done) { writer_.whenCommitted(std::move(done)); }

}  // namespace fc::storage
