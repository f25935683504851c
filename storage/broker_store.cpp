// BrokerStore: SQL for the broker_* tables of migration 1.
#include "storage/broker_store.hpp"

#include <string_view>
#include <unordered_map>
#include <utility>

namespace fc::storage {

namespace {

// ON CONFLICT DO NOTHING, not INSERT OR REPLACE: a REPLACE deletes the old row first, and the
// cascade would take the session's subscriptions and messages with it.
constexpr std::string_view kSaveSession =
    "INSERT INTO broker_sessions (client_id) VALUES (?1) ON CONFLICT (client_id) DO NOTHING";
constexpr std::string_view kDeleteSession = "DELETE FROM broker_sessions WHERE client_id = ?1";
constexpr std::string_view kAddSubscription =
    "INSERT INTO broker_subscriptions (client_id, filter, qos) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (client_id, filter) DO UPDATE SET qos = excluded.qos";
constexpr std::string_view kRemoveSubscription =
    "DELETE FROM broker_subscriptions WHERE client_id = ?1 AND filter = ?2";
constexpr std::string_view kAddMessage =
    "INSERT INTO broker_messages (client_id, seq, topic, payload, qos, retain, packet_id, state) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view kUpdateMessage =
    "UPDATE broker_messages SET packet_id = ?3, state = ?4 WHERE client_id = ?1 AND seq = ?2";
constexpr std::string_view kRemoveMessage = "DELETE FROM broker_messages WHERE client_id = ?1 AND seq = ?2";
constexpr std::string_view kAddInbound =
    "INSERT INTO broker_inbound_qos2 (client_id, packet_id) VALUES (?1, ?2) "
    "ON CONFLICT (client_id, packet_id) DO NOTHING";
constexpr std::string_view kRemoveInbound =
    "DELETE FROM broker_inbound_qos2 WHERE client_id = ?1 AND packet_id = ?2";
constexpr std::string_view kSetRetained =
    "INSERT INTO broker_retained (topic, payload, qos) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos";
constexpr std::string_view kClearRetained = "DELETE FROM broker_retained WHERE topic = ?1";

constexpr std::string_view kLoadSessions = "SELECT client_id FROM broker_sessions ORDER BY client_id";
constexpr std::string_view kLoadSubscriptions =
    "SELECT client_id, filter, qos FROM broker_subscriptions ORDER BY client_id, filter";
constexpr std::string_view kLoadMessages =
    "SELECT client_id, seq, topic, payload, qos, retain, packet_id, state FROM broker_messages "
    "ORDER BY client_id, seq";
constexpr std::string_view kLoadInbound =
    "SELECT client_id, packet_id FROM broker_inbound_qos2 ORDER BY client_id, packet_id";
constexpr std::string_view kLoadRetained = "SELECT topic, payload, qos FROM broker_retained ORDER BY topic";

}  // namespace

BrokerStore::BrokerStore(Writer& writer) : writer_(writer) {}

BrokerSnapshot BrokerStore::load() {
  BrokerSnapshot snapshot;
  writer_.read([&snapshot](Database& db) {
    // One read transaction, so the five queries see the same state even if another process writes.
    Transaction tx(db, TransactionKind::Deferred);
    std::unordered_map<std::string, std::size_t> index;

    auto& sessions = db.cached(kLoadSessions);
    while (sessions.step()) {
      index.emplace(sessions.columnText(0), snapshot.sessions.size());
      snapshot.sessions.push_back(SessionRow{.clientId = sessions.columnText(0)});
    }
    // Foreign keys rule out rows whose session is missing; the lookups skip them all the same
    // rather than invent a session.
    auto sessionOf = [&](const Statement& st) -> SessionRow* {
      auto it = index.find(st.columnText(0));
      return it == index.end() ? nullptr : &snapshot.sessions[it->second];
    };

    auto& subscriptions = db.cached(kLoadSubscriptions);
    while (subscriptions.step()) {
      if (auto* session = sessionOf(subscriptions)) {
        session->subscriptions.push_back(SubscriptionRow{
            .filter = subscriptions.columnText(1),
            .qos = static_cast<std::uint8_t>(subscriptions.columnInt(2)),
        });
      }
    }

    auto& messages = db.cached(kLoadMessages);
    while (messages.step()) {
      if (auto* session = sessionOf(messages)) {
        session->messages.push_back(SessionMessageRow{
            .seq = messages.columnInt64(1),
            .topic = messages.columnText(2),
            .payload = messages.columnBlob(3),
            .qos = static_cast<std::uint8_t>(messages.columnInt(4)),
            .retain = messages.columnInt(5) != 0,
            .packetId = static_cast<std::uint16_t>(messages.columnInt(6)),
            .state = static_cast<MessageState>(messages.columnInt(7)),
        });
      }
    }

    auto& inbound = db.cached(kLoadInbound);
    while (inbound.step()) {
      if (auto* session = sessionOf(inbound)) {
        session->inboundQos2.push_back(static_cast<std::uint16_t>(inbound.columnInt(1)));
      }
    }

    auto& retained = db.cached(kLoadRetained);
    while (retained.step()) {
      snapshot.retained.push_back(RetainedRow{
          .topic = retained.columnText(0),
          .payload = retained.columnBlob(1),
          .qos = static_cast<std::uint8_t>(retained.columnInt(2)),
      });
    }
    db.resetCached();  // end the statements' reads before COMMIT
    tx.commit();
  });
  return snapshot;
}

void BrokerStore::saveSession(std::string clientId) {
  writer_.submit([clientId = std::move(clientId)](Database& db) { db.cached(kSaveSession).bind(1, clientId).run(); });
}

void BrokerStore::deleteSession(std::string clientId) {
  // The child tables go with it through ON DELETE CASCADE (foreign_keys is on for every connection).
  writer_.submit(
      [clientId = std::move(clientId)](Database& db) { db.cached(kDeleteSession).bind(1, clientId).run(); });
}

void BrokerStore::addSubscription(std::string clientId, SubscriptionRow subscription) {
  writer_.submit([clientId = std::move(clientId), subscription = std::move(subscription)](Database& db) {
    db.cached(kAddSubscription).bind(1, clientId).bind(2, subscription.filter).bind(3, subscription.qos).run();
  });
}

void BrokerStore::removeSubscription(std::string clientId, std::string filter) {
  writer_.submit([clientId = std::move(clientId), filter = std::move(filter)](Database& db) {
    db.cached(kRemoveSubscription).bind(1, clientId).bind(2, filter).run();
  });
}

void BrokerStore::addMessage(std::string clientId, SessionMessageRow message) {
  writer_.submit([clientId = std::move(clientId), message = std::move(message)](Database& db) {
    db.cached(kAddMessage)
        .bind(1, clientId)
        .bind(2, message.seq)
        .bind(3, message.topic)
        .bind(4, message.payload)
        .bind(5, message.qos)
        .bind(6, message.retain ? 1 : 0)
        .bind(7, message.packetId)
        .bind(8, static_cast<int>(message.state))
        .run();
  });
}

void BrokerStore::updateMessage(std::string clientId, std::int64_t seq, std::uint16_t packetId, MessageState state) {
  writer_.submit([clientId = std::move(clientId), seq, packetId, state](Database& db) {
    db.cached(kUpdateMessage)
        .bind(1, clientId)
        .bind(2, seq)
        .bind(3, packetId)
        .bind(4, static_cast<int>(state))
        .run();
  });
}

void BrokerStore::removeMessage(std::string clientId, std::int64_t seq) {
  writer_.submit([clientId = std::move(clientId), seq](Database& db) {
    db.cached(kRemoveMessage).bind(1, clientId).bind(2, seq).run();
  });
}

void BrokerStore::addInboundQos2(std::string clientId, std::uint16_t packetId) {
  writer_.submit([clientId = std::move(clientId), packetId](Database& db) {
    db.cached(kAddInbound).bind(1, clientId).bind(2, packetId).run();
  });
}

void BrokerStore::removeInboundQos2(std::string clientId, std::uint16_t packetId) {
  writer_.submit([clientId = std::move(clientId), packetId](Database& db) {
    db.cached(kRemoveInbound).bind(1, clientId).bind(2, packetId).run();
  });
}

void BrokerStore::setRetained(RetainedRow retained) {
  writer_.submit([retained = std::move(retained)](Database& db) {
    db.cached(kSetRetained).bind(1, retained.topic).bind(2, retained.payload).bind(3, retained.qos).run();
  });
}

void BrokerStore::clearRetained(std::string topic) {
  writer_.submit([topic = std::move(topic)](Database& db) { db.cached(kClearRetained).bind(1, topic).run(); });
}

void BrokerStore::whenCommitted(std::function<void()> done) { writer_.whenCommitted(std::move(done)); }

}  // namespace fc::storage
