// The broker core. Its caller serialises every call (MqttServer holds a mutex), so its state needs
// no locks of its own.
//
// Durability: a message for a persistent session (clean session 0), a subscription of one, and a
// QoS 2 packet id awaiting PUBREL are handed to the store before the packet that brought them is
// acknowledged; the acknowledgement waits for the commit (BrokerStore::whenCommitted). Replies to
// one connection keep their order: once one reply waits for a commit, later ones queue behind it.
//
// A subscription takes effect when its SUBACK is sent, not before: nothing it delivers (retained
// messages included) may reach the client ahead of the SUBACK, which some device SDKs need to
// install a topic's handler (iotkit-embedded does; Mosquitto behaves this way). So while a SUBACK
// waits for a commit, the connection's later packets wait too (Link::held) and are handled, in
// order, right after it; a PUBLISH the client sent after the SUBSCRIBE is then routed through the
// new subscription. Publishes from other clients meanwhile do not match it yet.
#include "server/broker/broker.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <map>
#include <optional>

#include "protocols/mqtt/codec.hpp"
#include "server/broker/topic_tree.hpp"
#include "storage/broker_store.hpp"

namespace fc::server::broker {
namespace {

using mqtt::QoS;
using storage::MessageState;

struct Message {
  std::string topic;
  std::vector<std::uint8_t> payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  std::string ackClient;  // the client whose acknowledgement `ack` is told of
  AckToken ack;
  // The retain 0, dup 0 wire form at each QoS (QoS 1/2 with packet id 0, overwritten per
  // subscriber by Frame::withPacketId), encoded on first use and shared by every subscriber.
  mutable std::array<std::vector<std::uint8_t>, 3> wire;
};
using MessagePtr = std::shared_ptr<const Message>;

/// A FIFO that allocates nothing until something is pushed (an empty std::deque already holds a
/// 512-byte chunk in libstdc++, per session). Popped slots are reclaimed in bulk.
template <class T>
class Fifo {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  void push_back(T item) { items_.push_back(std::move(item)); }
  void pop_front() {
    items_[head_++] = T{};
    if (head_ == items_.size()) {
      // A burst's capacity is kept for the next one unless it was large.
      if (items_.capacity() > kKeptCapacity) items_ = {};
      else items_.clear();
      head_ = 0;
    } else if (head_ >= kKeptCapacity && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  static constexpr std::size_t kKeptCapacity = 64;
  std::vector<T> items_;
  std::size_t head_ = 0;
};

/// Packet ids, usually few (a client's QoS 2 PUBLISHes awaiting PUBREL): a sorted vector, empty
/// without allocating (a hash set is 56 bytes per session before its first insert).
class SmallIdSet {
 public:
  bool contains(std::uint16_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  void insert(std::uint16_t id) {
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) ids_.insert(it, id);
  }
  bool erase(std::uint16_t id) {
    auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
    if (it == ids_.end() || *it != id) return false;
    ids_.erase(it);
    if (ids_.empty()) ids_.shrink_to_fit();
    return true;
  }

 private:
  std::vector<std::uint16_t> ids_;
};

/// A message on its way to one session.
struct OutMessage {
  std::int64_t seq = 0;  // store key; 0 for QoS 0 (never stored)
  MessagePtr msg;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  std::uint16_t packetId = 0;
  MessageState state = MessageState::Queued;
  bool reportAck = false;  // tell msg->ack when the client acknowledges this copy
};

struct Session {
  ClientIdentity identity;  // identity.clientId names the session
  bool persistent = false;
  std::uint8_t level = mqtt::kLevel311;
  ConnectionId conn = 0;  // 0 while offline
  bool connackSent = false;
  bool traced = false;  // its packets go to BrokerObserver::clientPacket
  std::shared_ptr<ConnectionPort> port;
  std::unique_ptr<mqtt::Will> will;  // most clients have none: a pointer, not an optional's 80 bytes
  std::map<std::string, QoS, std::less<>> subscriptions;
  Fifo<OutMessage> queue;                        // not yet sent
  std::map<std::int64_t, OutMessage> inflight;   // sent, unacknowledged; by seq = send order
  std::unordered_map<std::uint16_t, std::int64_t> inflightIds;
  SmallIdSet inboundQos2;  // PUBREC sent, PUBREL awaited
  std::uint16_t nextPacketId = 1;

  bool canSend() const { return conn != 0 && connackSent; }
  const std::string& id() const { return identity.clientId; }
};

/// A SUBSCRIBE whose SUBACK waits for a commit, and the packets the client sent after it.
struct Held {
  std::vector<std::pair<std::string, QoS>> granted;  // applied when the SUBACK is sent
  std::vector<mqtt::Packet> packets;                 // handled after that, in order
};

/// The broker's view of one live connection.
struct Link {
  Session* session = nullptr;
  unsigned deferredReplies = 0;  // replies waiting for a commit
  std::unique_ptr<Held> held;    // set while a SUBACK waits for a commit
};

Frame wire(const mqtt::Packet& p) { return Frame::of(p); }

/// The PUBLISH of `o`. The common shape (live, not retained, not a resend) is encoded once per
/// message and QoS and shared; others get their own encoding.
Frame publishWire(const OutMessage& o, bool dup) {
  const Message& m = *o.msg;
  if (!o.retain && !dup) {
    auto& cached = m.wire[static_cast<std::size_t>(o.qos)];
    if (cached.empty()) {
      cached.reserve(m.topic.size() + m.payload.size() + 9);
      // Broker::publish and client PUBLISHes admit only messages that fit (mqtt::checkPublish).
      if (auto r = mqtt::encodePublish(m.topic, m.payload, o.qos, false, false, 0, cached); !r) {
        spdlog::error("mqtt: message on a {}-byte topic not sent: {}", m.topic.size(),
                      make_error_code(r.error()).message());
        return Frame{};
      }
    }
    Bytes shared(o.msg, &cached);  // shares the message's ownership: no allocation
    if (o.qos == QoS::AtMostOnce) return Frame(std::move(shared));
    // The packet id sits between the topic and the payload (MQTT 3.1.1 §3.3.2).
    const std::size_t idOffset = cached.size() - m.payload.size() - 2;
    return Frame::withPacketId(std::move(shared), idOffset, o.packetId);
  }
  auto out = std::make_shared<std::vector<std::uint8_t>>();
  out->reserve(m.topic.size() + m.payload.size() + 9);
  if (auto r = mqtt::encodePublish(m.topic, m.payload, o.qos, o.retain, dup, o.packetId, *out); !r) {
    spdlog::error("mqtt: message on a {}-byte topic not sent: {}", m.topic.size(),
                  make_error_code(r.error()).message());
    return Frame{};
  }
  return Frame(std::move(out));
}

std::uint8_t level(QoS q) { return static_cast<std::uint8_t>(q); }

}  // namespace

struct Broker::Impl {
  BrokerOptions options;
  AccessPolicy& access;
  storage::BrokerStore* store;
  std::function<void(std::function<void()>)> defer;
  BrokerObserver* observer;

  std::unordered_map<std::string, std::unique_ptr<Session>> sessions;
  std::unordered_map<ConnectionId, Link> links;
  SubscriptionTree<Session*> tree;
  RetainedTree<MessagePtr> retained;
  std::int64_t nextSeq = 1;
  std::uint64_t generatedIds = 0;
  BrokerStats counters;
  bool wroteStore = false;  // the packet being handled has written to the store
  std::vector<std::pair<Session*, std::uint8_t>> routeScratch;  // reused by every route()

  Impl(BrokerOptions o, AccessPolicy& a, storage::BrokerStore* s, std::function<void(std::function<void()>)> d,
       BrokerObserver* obs)
      : options(o), access(a), store(s), defer(std::move(d)), observer(obs) {}

  // --- persistence ------------------------------------------------------------------------------

  template <class Op>
  void persist(Op&& op) {
    if (!store) return;
    op(*store);
    wroteStore = true;
  }

  void send(Session& s, Frame frame) {
    if (s.traced && observer) observer->clientPacket(s.identity, false, nullptr, frame.bytes());
    s.port->send(std::move(frame));
  }

  /// Whether a reply to `link` now would wait for a commit.
  bool replyWaits(const Link& link) const { return store && (wroteStore || link.deferredReplies > 0); }

  /// Sends `bytes` to connection `id` once everything this packet wrote is committed, then runs
  /// `after` (with the session, if the connection is still there).
  void reply(ConnectionId id, Frame bytes, std::function<void(Session&)> after = {}) {
    auto it = links.find(id);
    if (it == links.end()) return;
    Link& link = it->second;
    if (!replyWaits(link)) {
      send(*link.session, std::move(bytes));
      if (after) after(*link.session);
      return;
    }
    ++link.deferredReplies;
    store->whenCommitted([this, id, bytes = std::move(bytes), after = std::move(after)]() mutable {
      defer([this, id, bytes = std::move(bytes), after = std::move(after)]() mutable {
        auto it = links.find(id);
        if (it == links.end()) return;
        --it->second.deferredReplies;
        send(*it->second.session, std::move(bytes));
        if (after) after(*it->second.session);
      });
    });
  }

  // --- delivery ---------------------------------------------------------------------------------

  std::uint16_t allocatePacketId(Session& s) {
    while (s.nextPacketId == 0 || s.inflightIds.contains(s.nextPacketId)) ++s.nextPacketId;
    return s.nextPacketId++;
  }

  void transmit(Session& s, OutMessage out, bool alreadyStored) {
    if (out.qos == QoS::AtMostOnce) {
      if (s.port->pendingBytes() > options.maxOutboundBytes) {
        ++counters.messagesDropped;
        spdlog::debug("mqtt: {} is {} bytes behind; QoS 0 message on {} dropped", s.id(), s.port->pendingBytes(),
                      out.msg->topic);
        return;
      }
      send(s, publishWire(out, false));
      ++counters.messagesSent;
      return;
    }
    out.packetId = allocatePacketId(s);
    out.state = MessageState::Sent;
    if (s.persistent) {
      if (alreadyStored) {
        persist([&](storage::BrokerStore& st) { st.updateMessage(s.id(), out.seq, out.packetId, MessageState::Sent); });
      } else {
        persist([&](storage::BrokerStore& st) { st.addMessage(s.id(), toRow(out)); });
      }
    }
    send(s, publishWire(out, false));
    ++counters.messagesSent;
    s.inflightIds[out.packetId] = out.seq;
    s.inflight.emplace(out.seq, std::move(out));
  }

  static storage::SessionMessageRow toRow(const OutMessage& o) {
    storage::SessionMessageRow row;
    row.seq = o.seq;
    row.topic = o.msg->topic;
    row.payload = o.msg->payload;
    row.qos = level(o.qos);
    row.retain = o.retain;
    row.packetId = o.packetId;
    row.state = o.state;
    return row;
  }

  void deliver(Session& s, const MessagePtr& msg, QoS qos, bool retainFlag) {
    if (s.conn == 0 && qos == QoS::AtMostOnce) {
      ++counters.messagesDropped;  // QoS 0 is not queued for offline clients
      return;
    }
    OutMessage out{qos == QoS::AtMostOnce ? 0 : nextSeq++, msg, qos, retainFlag, 0, MessageState::Queued, false};
    if (msg->ack && msg->ackClient == s.id()) out.reportAck = true;
    if (s.canSend() && s.queue.empty() && (qos == QoS::AtMostOnce || s.inflight.size() < options.maxInflight)) {
      transmit(s, std::move(out), false);
      return;
    }
    if (s.queue.size() >= options.maxQueued) {
      ++counters.messagesDropped;
      spdlog::debug("mqtt: queue of {} is full ({}); message on {} dropped", s.id(), options.maxQueued,
                    msg->topic);
      return;
    }
    if (s.persistent && qos != QoS::AtMostOnce)
      persist([&](storage::BrokerStore& st) { st.addMessage(s.id(), toRow(out)); });
    s.queue.push_back(std::move(out));
  }

  /// Sends queued messages while the in-flight window has room; QoS 0 ones wait their turn so
  /// that one topic's messages stay in order.
  void drain(Session& s) {
    while (s.canSend() && !s.queue.empty()) {
      if (s.queue.front().qos != QoS::AtMostOnce && s.inflight.size() >= options.maxInflight) break;
      OutMessage out = std::move(s.queue.front());
      s.queue.pop_front();
      const bool stored = s.persistent && out.qos != QoS::AtMostOnce;
      transmit(s, std::move(out), stored);
    }
  }

  void route(const MessagePtr& msg) {
    if (msg->retain) {
      if (msg->payload.empty()) {
        if (retained.erase(msg->topic)) persist([&](storage::BrokerStore& st) { st.clearRetained(msg->topic); });
      } else {
        retained.set(msg->topic, msg);
        persist([&](storage::BrokerStore& st) {
          st.setRetained(storage::RetainedRow{msg->topic, msg->payload, level(msg->qos)});
        });
      }
    }
    // Taken out while in use, so a route() reached from inside one (a will) gets its own.
    auto targets = std::move(routeScratch);
    targets.clear();
    tree.match(msg->topic, [&](Session* s, std::uint8_t q) { targets.emplace_back(s, q); });
    if (targets.size() > 1) {
      // Overlapping subscriptions of one client get one copy at the highest granted QoS.
      std::sort(targets.begin(), targets.end());
      auto out = targets.begin();
      for (auto it = targets.begin() + 1; it != targets.end(); ++it) {
        if (it->first == out->first) out->second = std::max(out->second, it->second);
        else *++out = *it;
      }
      targets.erase(out + 1, targets.end());
    }
    for (auto [s, granted] : targets)
      deliver(*s, msg, static_cast<QoS>(std::min(granted, level(msg->qos))), false);  // [MQTT-3.3.1-9]
    routeScratch = std::move(targets);
  }

  // --- sessions ---------------------------------------------------------------------------------

  void removeSession(Session& s) {
    for (const auto& [filter, _] : s.subscriptions) tree.remove(filter, &s);
    if (s.persistent) persist([&](storage::BrokerStore& st) { st.deleteSession(s.id()); });
    sessions.erase(s.id());
  }

  /// Forgets connection `id`; publishes the will when the close was not a DISCONNECT.
  void detach(ConnectionId id, bool publishWill, std::string_view reason = {}) {
    auto it = links.find(id);
    if (it == links.end()) return;
    if (it->second.held) {
      // The connection ends before its SUBACK could be sent: the subscription (already handed to
      // the store) and the packets that followed it still take effect, in order. One of those
      // may itself end the link (DISCONNECT), so look it up again.
      release(id, it->second, /*closing=*/true);
      it = links.find(id);
      if (it == links.end()) return;
    }
    Session* s = it->second.session;
    const std::string clientId = s->id();
    links.erase(it);
    auto will = std::move(s->will);
    s->will.reset();
    if (observer) observer->clientDisconnected(s->identity, reason);
    s->conn = 0;
    s->connackSent = false;
    s->port.reset();
    if (!s->persistent) removeSession(*s);
    if (publishWill && will) {
      spdlog::debug("mqtt: publishing the will of {} on {}", clientId, will->topic);
      auto msg = std::make_shared<Message>(Message{std::move(will->topic), std::move(will->payload), will->qos,
                                                   will->retain});
      route(msg);
    }
  }

  void refuse(ConnectionId, ConnectionPort& port, mqtt::ConnectReturn rc, const std::string& why) {
    port.send(wire(mqtt::Connack{false, rc}));
    port.close(why);
  }

  std::string generateClientId() {
    std::string id;
    do id = "fc-" + std::to_string(++generatedIds);
    while (sessions.contains(id));
    return id;
  }

  void connect(ConnectionId id, std::shared_ptr<ConnectionPort> port, mqtt::Connect c, ConnectionInfo info,
               std::span<const std::uint8_t> bytes) {
    // Kept whole for the observer's trace: the fields below are moved into the session.
    std::optional<mqtt::Connect> connectPacket;
    if (observer) connectPacket = c;
    if (c.protocolLevel != mqtt::kLevel31 && c.protocolLevel != mqtt::kLevel311) {
      refuse(id, *port, mqtt::ConnectReturn::UnacceptableProtocolVersion,
             "unsupported protocol level " + std::to_string(c.protocolLevel));
      return;
    }
    if (c.clientId.empty()) {
      if (!c.cleanSession) {
        refuse(id, *port, mqtt::ConnectReturn::IdentifierRejected, "empty client id with clean session 0");
        return;
      }
      c.clientId = generateClientId();
    }
    ClientIdentity identity{c.clientId, c.username, info.certSubject, info.remote, info.tls};
    auto rc = access.authenticate(identity, c.password);
    if (rc == mqtt::ConnectReturn::Accepted && c.will && !access.mayPublish(identity, c.will->topic))
      rc = mqtt::ConnectReturn::NotAuthorized;
    if (rc != mqtt::ConnectReturn::Accepted) {
      spdlog::info("mqtt: refused {} from {} (user '{}'): CONNACK {}", c.clientId, info.remote, c.username.value_or(""),
                   static_cast<int>(rc));
      if (observer)
        if (auto connack = mqtt::encode(mqtt::Connack{false, rc})) observer->clientRefused(identity, bytes, *connack);
      refuse(id, *port, rc, "not authorised");
      return;
    }

    if (auto old = sessions.find(c.clientId); old != sessions.end() && old->second->conn != 0) {
      const ConnectionId oldConn = old->second->conn;
      spdlog::info("mqtt: {} connected again from {}; closing its previous connection", c.clientId, info.remote);
      if (auto link = links.find(oldConn); link != links.end()) link->second.session->port->close("session taken over");
      detach(oldConn, true, "session taken over");
    }

    Session* s = nullptr;
    bool present = false;
    auto existing = sessions.find(c.clientId);
    if (existing != sessions.end() && (c.cleanSession || !existing->second->persistent)) {
      removeSession(*existing->second);
      existing = sessions.end();
    }
    if (existing != sessions.end()) {
      s = existing->second.get();
      present = true;
    } else {
      auto fresh = std::make_unique<Session>();
      fresh->identity.clientId = c.clientId;
      fresh->persistent = !c.cleanSession;
      s = fresh.get();
      sessions.emplace(c.clientId, std::move(fresh));
      if (s->persistent) persist([&](storage::BrokerStore& st) { st.saveSession(s->id()); });
    }
    s->conn = id;
    s->port = port;
    s->level = c.protocolLevel;
    s->identity = std::move(identity);
    s->will = c.will ? std::make_unique<mqtt::Will>(std::move(*c.will)) : nullptr;
    links[id] = Link{s, 0};
    s->traced = false;
    if (observer) {
      s->traced = observer->clientConnected(s->identity);
      if (s->traced) {
        const mqtt::Packet packet(std::move(*connectPacket));
        observer->clientPacket(s->identity, true, &packet, bytes);
      }
      for (const auto& [filter, _] : s->subscriptions) observer->clientSubscribed(s->identity, filter);
    }
    spdlog::debug("mqtt: {} connected from {} (level {}, clean {}, keepalive {})", s->id(), info.remote,
                  c.protocolLevel, c.cleanSession, c.keepAlive);

    // MQTT 3.1's CONNACK has no session-present flag: its first byte is reserved.
    const bool sessionPresent = present && c.protocolLevel == mqtt::kLevel311;
    reply(id, wire(mqtt::Connack{sessionPresent, mqtt::ConnectReturn::Accepted}), [this](Session& s) {
      s.connackSent = true;
      // Resume: unacknowledged messages go again with DUP, then whatever queued while offline.
      for (const auto& [seq, out] : s.inflight) {
        if (out.state == MessageState::Released) send(s, wire(mqtt::Pubrel{out.packetId}));
        else send(s, publishWire(out, true));
      }
      drain(s);
    });
  }

  // --- packets ----------------------------------------------------------------------------------

  void onPublish(ConnectionId id, Session& s, mqtt::Publish p) {
    ++counters.publishesReceived;
    if (p.qos == QoS::ExactlyOnce && s.inboundQos2.contains(p.packetId)) {
      reply(id, wire(mqtt::Pubrec{p.packetId}));  // a resent PUBLISH we already routed
      return;
    }
    if (access.mayPublish(s.identity, p.topic)) {
      if (observer) observer->clientPublished(s.identity, p);
      route(std::make_shared<Message>(Message{std::move(p.topic), std::move(p.payload), p.qos, p.retain}));
    } else {
      ++counters.publishesDenied;
      spdlog::warn("mqtt: {} may not publish to {}; message dropped", s.id(), p.topic);
    }
    if (p.qos == QoS::AtLeastOnce) {
      reply(id, wire(mqtt::Puback{p.packetId}));
    } else if (p.qos == QoS::ExactlyOnce) {
      s.inboundQos2.insert(p.packetId);
      if (s.persistent) persist([&](storage::BrokerStore& st) { st.addInboundQos2(s.id(), p.packetId); });
      reply(id, wire(mqtt::Pubrec{p.packetId}));
    }
  }

  void onPubrel(ConnectionId id, Session& s, std::uint16_t packetId) {
    if (s.inboundQos2.erase(packetId) && s.persistent)
      persist([&](storage::BrokerStore& st) { st.removeInboundQos2(s.id(), packetId); });
    reply(id, wire(mqtt::Pubcomp{packetId}));
  }

  OutMessage* inflightById(Session& s, std::uint16_t packetId) {
    auto it = s.inflightIds.find(packetId);
    return it == s.inflightIds.end() ? nullptr : &s.inflight.at(it->second);
  }

  void complete(Session& s, std::uint16_t packetId) {
    auto it = s.inflightIds.find(packetId);
    const auto seq = it->second;
    if (const auto& out = s.inflight.at(seq); out.reportAck) out.msg->ack->acknowledged();
    s.inflightIds.erase(it);
    s.inflight.erase(seq);
    if (s.persistent) persist([&](storage::BrokerStore& st) { st.removeMessage(s.id(), seq); });
    drain(s);
  }

  void onPuback(Session& s, std::uint16_t packetId) {
    auto* out = inflightById(s, packetId);
    if (!out || out->qos != QoS::AtLeastOnce) {
      spdlog::debug("mqtt: {} acknowledged unknown packet id {}", s.id(), packetId);
      return;
    }
    complete(s, packetId);
  }

  void onPubrec(Session& s, std::uint16_t packetId) {
    auto* out = inflightById(s, packetId);
    if (!out || out->qos != QoS::ExactlyOnce) {
      spdlog::debug("mqtt: {} sent PUBREC for unknown packet id {}", s.id(), packetId);
      return;
    }
    if (out->state != MessageState::Released) {
      out->state = MessageState::Released;
      if (s.persistent)
        persist([&](storage::BrokerStore& st) {
          st.updateMessage(s.id(), out->seq, packetId, MessageState::Released);
        });
    }
    // Through reply(): the PUBREL must not overtake a reply waiting for a commit, nor the commit
    // of the Released state, or a restart could resend the PUBLISH after it [MQTT-4.3.3-1].
    reply(s.conn, wire(mqtt::Pubrel{packetId}));
  }

  void onPubcomp(Session& s, std::uint16_t packetId) {
    auto* out = inflightById(s, packetId);
    if (!out || out->qos != QoS::ExactlyOnce) {
      spdlog::debug("mqtt: {} sent PUBCOMP for unknown packet id {}", s.id(), packetId);
      return;
    }
    complete(s, packetId);
  }

  /// Makes granted subscriptions take effect; retained messages follow unless the connection is
  /// closing [MQTT-3.3.1-6], [MQTT-3.3.1-8].
  void activate(Session& s, const std::vector<std::pair<std::string, QoS>>& granted, bool sendRetained) {
    for (const auto& [filter, qos] : granted) {
      s.subscriptions[filter] = qos;
      tree.add(filter, &s, level(qos));
      if (observer) observer->clientSubscribed(s.identity, filter);
    }
    if (!sendRetained) return;
    for (const auto& [filter, qos] : granted)
      retained.match(filter, [&](const MessagePtr& m) {
        deliver(s, m, static_cast<QoS>(std::min(level(qos), level(m->qos))), true);
      });
  }

  void onSubscribe(ConnectionId id, Link& link, Session& s, mqtt::Subscribe sub, bool closing) {
    std::vector<std::uint8_t> codes;
    std::vector<std::pair<std::string, QoS>> granted;
    for (auto& [filter, qos] : sub.subscriptions) {
      if (!access.maySubscribe(s.identity, filter)) {
        spdlog::warn("mqtt: {} may not subscribe to {}", s.id(), filter);
        codes.push_back(mqtt::kSubackFailure);
        continue;
      }
      if (s.persistent)
        persist([&](storage::BrokerStore& st) { st.addSubscription(s.id(), {filter, level(qos)}); });
      codes.push_back(level(qos));
      granted.emplace_back(std::move(filter), qos);
    }
    Frame suback = wire(mqtt::Suback{sub.packetId, std::move(codes)});
    if (closing) {
      activate(s, granted, false);
      reply(id, std::move(suback));
      return;
    }
    if (!replyWaits(link)) {
      send(s, std::move(suback));
      activate(s, granted, true);
      return;
    }
    link.held = std::make_unique<Held>();
    link.held->granted = std::move(granted);
    reply(id, std::move(suback), [this, id](Session&) {
      if (auto it = links.find(id); it != links.end() && it->second.held) release(id, it->second, false);
    });
  }

  /// The SUBACK of `link`'s held SUBSCRIBE went out (or the connection is closing): its
  /// subscriptions take effect and the packets held behind it are handled, until one of them
  /// holds again (its own SUBACK waits) or, when closing, until the link ends.
  void release(ConnectionId id, Link& link, bool closing) {
    auto held = std::move(link.held);
    activate(*link.session, held->granted, !closing);
    for (std::size_t i = 0; i < held->packets.size(); ++i) {
      auto it = links.find(id);
      if (it == links.end()) return;
      if (it->second.held) {
        auto& later = it->second.held->packets;
        later.insert(later.begin(), std::make_move_iterator(held->packets.begin() + static_cast<std::ptrdiff_t>(i)),
                     std::make_move_iterator(held->packets.end()));
        return;
      }
      wroteStore = false;
      handle(id, it->second, std::move(held->packets[i]), closing);
    }
  }

  void onUnsubscribe(ConnectionId id, Session& s, const mqtt::Unsubscribe& unsub) {
    for (const auto& filter : unsub.filters) {
      if (s.subscriptions.erase(filter) == 0) continue;
      tree.remove(filter, &s);
      if (s.persistent) persist([&](storage::BrokerStore& st) { st.removeSubscription(s.id(), filter); });
    }
    reply(id, wire(mqtt::Unsuback{unsub.packetId}));
  }

  void packet(ConnectionId id, mqtt::Packet&& p, std::span<const std::uint8_t> bytes) {
    auto it = links.find(id);
    if (it == links.end()) return;  // closed or refused meanwhile
    Session& s = *it->second.session;
    if (s.traced && observer) observer->clientPacket(s.identity, true, &p, bytes);
    if (it->second.held) {
      it->second.held->packets.push_back(std::move(p));  // after the SUBACK that is waiting
      return;
    }
    handle(id, it->second, std::move(p), false);
  }

  /// `closing`: the connection is ending with this packet still unhandled (see detach).
  void handle(ConnectionId id, Link& link, mqtt::Packet&& p, bool closing) {
    Session& s = *link.session;
    std::visit(
        [&](auto&& pkt) {
          using T = std::decay_t<decltype(pkt)>;
          if constexpr (std::is_same_v<T, mqtt::Publish>) onPublish(id, s, std::move(pkt));
          else if constexpr (std::is_same_v<T, mqtt::Puback>) onPuback(s, pkt.packetId);
          else if constexpr (std::is_same_v<T, mqtt::Pubrec>) onPubrec(s, pkt.packetId);
          else if constexpr (std::is_same_v<T, mqtt::Pubrel>) onPubrel(id, s, pkt.packetId);
          else if constexpr (std::is_same_v<T, mqtt::Pubcomp>) onPubcomp(s, pkt.packetId);
          else if constexpr (std::is_same_v<T, mqtt::Subscribe>) onSubscribe(id, link, s, std::move(pkt), closing);
          else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) onUnsubscribe(id, s, pkt);
          else if constexpr (std::is_same_v<T, mqtt::Pingreq>) reply(id, wire(mqtt::Pingresp{}));
          else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
            s.will.reset();  // [MQTT-3.14.4-3]
            auto port = s.port;
            detach(id, false, "client disconnected");
            port->close("client disconnected");
          } else {
            // CONNECT twice [MQTT-3.1.0-2], or a server-to-client packet.
            const std::string why = std::string("protocol violation: unexpected ") + mqtt::packetName(pkt);
            auto port = s.port;
            detach(id, true, why);
            port->close(why);
          }
        },
        std::move(p));
  }

  void restore(const storage::BrokerSnapshot& snapshot) {
    for (const auto& row : snapshot.sessions) {
      auto s = std::make_unique<Session>();
      s->identity.clientId = row.clientId;
      s->persistent = true;
      for (const auto& sub : row.subscriptions) {
        s->subscriptions[sub.filter] = static_cast<QoS>(sub.qos);
        tree.add(sub.filter, s.get(), sub.qos);
      }
      for (const auto& m : row.messages) {
        auto msg = std::make_shared<Message>(
            Message{m.topic, m.payload, static_cast<QoS>(m.qos), m.retain});
        OutMessage out{m.seq, msg, static_cast<QoS>(m.qos), m.retain, m.packetId, m.state};
        nextSeq = std::max(nextSeq, m.seq + 1);
        if (m.state == MessageState::Queued) {
          s->queue.push_back(std::move(out));
        } else {
          s->inflightIds[m.packetId] = m.seq;
          s->inflight.emplace(m.seq, std::move(out));
        }
      }
      for (auto id : row.inboundQos2) s->inboundQos2.insert(id);
      sessions.emplace(row.clientId, std::move(s));
    }
    for (const auto& r : snapshot.retained)
      retained.set(r.topic, std::make_shared<Message>(Message{r.topic, r.payload, static_cast<QoS>(r.qos), true}));
    spdlog::info("mqtt: restored {} persistent sessions and {} retained messages", snapshot.sessions.size(),
                 snapshot.retained.size());
  }
};

Broker::Broker(BrokerOptions options, AccessPolicy& access, storage::BrokerStore* store,
               std::function<void(std::function<void()>)> defer, BrokerObserver* observer)
    : impl_(std::make_unique<Impl>(options, access, store, std::move(defer), observer)) {}

Broker::~Broker() = default;

void Broker::restore(const storage::BrokerSnapshot& snapshot) { impl_->restore(snapshot); }

void Broker::onConnect(ConnectionId id, std::shared_ptr<ConnectionPort> port, mqtt::Connect connect,
                       ConnectionInfo info, std::span<const std::uint8_t> bytes) {
  impl_->wroteStore = false;
  impl_->connect(id, std::move(port), std::move(connect), std::move(info), bytes);
}

void Broker::onPacket(ConnectionId id, mqtt::Packet&& packet, std::span<const std::uint8_t> bytes) {
  impl_->wroteStore = false;
  impl_->packet(id, std::move(packet), bytes);
}

void Broker::onClosed(ConnectionId id, const std::string& reason) {
  impl_->wroteStore = false;
  if (impl_->links.contains(id)) spdlog::debug("mqtt: connection {} closed: {}", id, reason);
  impl_->detach(id, true, reason);
}

namespace {

/// Messages from the API and the dialects enter here; one the wire cannot carry is refused before
/// it is routed or stored, so no subscriber is sent a PUBLISH with a wrapped length.
bool fitsTheWire(const std::string& topic, const std::vector<std::uint8_t>& payload, mqtt::QoS qos) {
  const auto e = mqtt::checkPublish(topic.size(), payload.size(), qos);
  if (e)
    spdlog::error("mqtt: message on a {}-byte topic with a {}-byte payload refused: {}", topic.size(), payload.size(),
                  make_error_code(*e).message());
  return !e;
}

}  // namespace

void Broker::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain) {
  impl_->wroteStore = false;
  if (!fitsTheWire(topic, payload, qos)) {
    ++impl_->counters.messagesDropped;
    return;
  }
  impl_->route(std::make_shared<Message>(Message{std::move(topic), std::move(payload), qos, retain}));
}

void Broker::publishFor(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, std::string clientId,
                        AckToken ack) {
  impl_->wroteStore = false;
  if (!fitsTheWire(topic, payload, qos)) {
    ++impl_->counters.messagesDropped;
    return;
  }
  auto msg = std::make_shared<Message>(Message{std::move(topic), std::move(payload), qos, false});
  msg->ackClient = std::move(clientId);
  msg->ack = std::move(ack);
  impl_->route(msg);
}

void Broker::reset() {
  auto& impl = *impl_;
  for (auto& [id, link] : impl.links) {
    link.session->will.reset();
    if (impl.observer) impl.observer->clientDisconnected(link.session->identity, "server reset");
    link.session->port->close("server reset");
  }
  impl.links.clear();
  impl.sessions.clear();
  impl.tree = SubscriptionTree<Session*>{};
  impl.retained = RetainedTree<MessagePtr>{};
}

BrokerStats Broker::stats() const {
  BrokerStats s = impl_->counters;
  s.connections = impl_->links.size();
  s.sessions = impl_->sessions.size();
  s.retained = impl_->retained.size();
  for (const auto& [_, session] : impl_->sessions) {
    s.persistentSessions += session->persistent ? 1 : 0;
    s.subscriptions += session->subscriptions.size();
  }
  return s;
}

}  // namespace fc::server::broker
