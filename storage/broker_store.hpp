// BrokerStore — persistence of the MQTT broker's persistent sessions (clean session 0) and
// retained messages, as plain row structs.
//
// load() reads everything back at startup. Every mutation only queues an operation on the Writer
// and returns: mutations commit in the order they were called, in batches, and whenCommitted()
// tells the broker when what it has queued so far is durable (e.g. before it sends PUBACK).
//
// Mutations that name a session need the session to exist (saveSession first): the child tables
// reference broker_sessions, so an addSubscription/addMessage/addInboundQos2 for an unknown client
// fails and is reported through the Writer's error handler instead of resurrecting a deleted
// session. Removals and updates of rows that do not exist are no-ops.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/writer.hpp"

namespace fc::storage {

struct SubscriptionRow {
  std::string filter;
  std::uint8_t qos = 0;
  bool operator==(const SubscriptionRow&) const = default;
};

enum class MessageState : std::uint8_t {
  Queued = 0,    ///< not sent yet (or sent with a QoS 0 subscription never acknowledged)
  Sent = 1,      ///< PUBLISH sent, awaiting PUBACK (QoS 1) or PUBREC (QoS 2)
  Released = 2,  ///< PUBREC received, PUBREL sent, awaiting PUBCOMP
};

struct SessionMessageRow {
  std::int64_t seq = 0;  ///< assigned by the broker; delivery order within the session
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::uint8_t qos = 1;
  bool retain = false;
  std::uint16_t packetId = 0;  ///< 0 until a packet id is assigned
  MessageState state = MessageState::Queued;
  bool operator==(const SessionMessageRow&) const = default;
};

struct SessionRow {
  std::string clientId;
  std::vector<SubscriptionRow> subscriptions;  ///< ordered by filter
  std::vector<SessionMessageRow> messages;     ///< ordered by seq
  std::vector<std::uint16_t> inboundQos2;      ///< QoS 2 PUBLISHes received, PUBREC sent, awaiting PUBREL; ascending
  bool operator==(const SessionRow&) const = default;
};

struct RetainedRow {
  std::string topic;
  std::vector<std::uint8_t> payload;
  std::uint8_t qos = 0;
  bool operator==(const RetainedRow&) const = default;
};

struct BrokerSnapshot {
  std::vector<SessionRow> sessions;  ///< ordered by clientId
  std::vector<RetainedRow> retained;  ///< ordered by topic
  bool operator==(const BrokerSnapshot&) const = default;
};

class BrokerStore {
 public:
  /// The writer's database must have been migrated (storage::migrate).
  explicit BrokerStore(Writer& writer);

  /// Everything stored, read in one read transaction after every mutation queued so far has
  /// committed. Synchronous: for startup (and tests), not for the hot path.
  BrokerSnapshot load();

  /// Creates the session if it does not exist; an existing session keeps its rows.
  void saveSession(std::string clientId);
  /// Removes the session with its subscriptions, queued messages and inbound QoS 2 ids.
  void deleteSession(std::string clientId);

  /// Adds the subscription, or replaces the QoS of an existing one with the same filter.
  void addSubscription(std::string clientId, SubscriptionRow subscription);
  void removeSubscription(std::string clientId, std::string filter);

  /// Stores a message for the session; (clientId, seq) must be new.
  void addMessage(std::string clientId, SessionMessageRow message);
  void updateMessage(std::string clientId, std::int64_t seq, std::uint16_t packetId, MessageState state);
  void removeMessage(std::string clientId, std::int64_t seq);

  void addInboundQos2(std::string clientId, std::uint16_t packetId);  ///< idempotent
  void removeInboundQos2(std::string clientId, std::uint16_t packetId);

  /// Stores the retained message of a topic, replacing any previous one. The store keeps what it
  /// is given: clearing a topic on an empty retained PUBLISH is the broker's call (clearRetained).
  void setRetained(RetainedRow retained);
  void clearRetained(std::string topic);

  /// Writer::whenCommitted: `done` runs on the writer thread once every mutation above that was
  /// called before it is committed.
  void whenCommitted(std::function<void()> done);

 private:
  Writer& writer_;
};

}  // namespace fc::storage
