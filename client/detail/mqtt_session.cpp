#include "client/detail/mqtt_session.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "client/error.hpp"
#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/topic.hpp"

namespace fc::client::detail {

using mqtt::QoS;

std::chrono::milliseconds backoffDelay(unsigned attempt, std::chrono::milliseconds min, std::chrono::milliseconds max,
                                       std::mt19937_64& rng) {
  const auto lo = std::max<std::int64_t>(min.count(), 1);
  const auto hi = std::max<std::int64_t>(max.count(), lo);
  std::int64_t d = lo;
  // Doubling stops at the cap; checking before shifting keeps large attempt counts from overflowing.
  for (unsigned i = 0; i < attempt && d < hi; ++i) d *= 2;
  d = std::min(d, hi);
  std::uniform_int_distribution<std::int64_t> jitter(d / 2, d);
  return std::chrono::milliseconds{jitter(rng)};
}

namespace {

bool validQos(QoS q) { return static_cast<std::uint8_t>(q) <= 2; }

std::string generatedClientId(std::mt19937_64& rng) {
  // MQTT 3.1 allows 1..23 characters (3.1 §3.1 "Client Identifier"): "fc-" + 16 hex digits = 19.
  char buf[24];
  std::snprintf(buf, sizeof buf, "fc-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

MqttSession::MqttSession(MqttOptions options, std::uint64_t seed) : options_(std::move(options)), rng_(seed) {
  clientId_ = options_.clientId;
  if (clientId_.empty() && options_.protocolLevel == mqtt::kLevel31) clientId_ = generatedClientId(rng_);
}

std::vector<Action> MqttSession::takeActions() { return std::exchange(actions_, {}); }

std::error_code MqttSession::send(const mqtt::Packet& packet, TimePoint now, OpId writtenOp) {
  SendBytes s;
  if (auto r = mqtt::encode(packet, s.bytes); !r) return make_error_code(r.error());
  s.writtenOp = writtenOp;
  emit(std::move(s));
  // Keepalive counts from the last packet the client sent [MQTT-3.1.2-23].
  lastSend_ = now;
  return {};
}

bool MqttSession::packetIdInUse(std::uint16_t id) const {
  return outgoing_.contains(id) || pendingSubscribe_.contains(id) || pendingUnsubscribe_.contains(id);
}

std::optional<std::uint16_t> MqttSession::allocatePacketId() {
  // Ids still awaiting their acknowledgement stay reserved [MQTT-2.3.1-2]; 0 is never used [MQTT-2.3.1-1].
  for (std::uint32_t tries = 0; tries < 65535; ++tries) {
    const std::uint16_t id = nextPacketId_;
    nextPacketId_ = nextPacketId_ == 65535 ? 1 : static_cast<std::uint16_t>(nextPacketId_ + 1);
    if (!packetIdInUse(id)) return id;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// user requests

std::error_code MqttSession::connect(TimePoint now) {
  if (state_ != State::Idle && state_ != State::WaitingReconnect) return Error::AlreadyConnected;
  if (state_ == State::Idle) {
    // A user-started connection begins with the user's own subscriptions; only automatic reconnects
    // re-send the ones the session remembers.
    subscriptions_.clear();
    reconnecting_ = false;
  }
  connectRequested_ = true;
  state_ = State::Opening;
  phaseDeadline_ = now + options_.connectTimeout;
  emit(OpenTransport{});
  return {};
}

Expected<OpId, std::error_code> MqttSession::publish(std::string topic, std::vector<std::uint8_t> payload, QoS qos,
                                                     bool retain, TimePoint now) {
  if (state_ != State::Connected) return Unexpected(make_error_code(Error::NotConnected));
  if (!validQos(qos) || !mqtt::validTopicName(topic) || !mqtt::validUtf8(topic))
    return Unexpected(make_error_code(Error::InvalidArgument));
  const OpId op = ++nextOp_;
  mqtt::Publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.retain = retain;
  if (qos == QoS::AtMostOnce) {
    if (auto ec = send(p, now, op)) return Unexpected(ec);  // a topic or payload the wire cannot carry
    awaitingWrite_.insert(op);
    return op;
  }
  const auto id = allocatePacketId();
  if (!id) return Unexpected(make_error_code(Error::PacketIdsExhausted));
  p.packetId = *id;
  if (auto ec = send(p, now)) return Unexpected(ec);
  outgoing_.emplace(
      *id, Outgoing{op, std::move(p), qos == QoS::AtLeastOnce ? Stage::AwaitPuback : Stage::AwaitPubrec, nextSeq_++});
  return op;
}

Expected<OpId, std::error_code> MqttSession::subscribe(std::vector<mqtt::Subscription> subscriptions, TimePoint now) {
  if (state_ != State::Connected) return Unexpected(make_error_code(Error::NotConnected));
  if (subscriptions.empty()) return Unexpected(make_error_code(Error::InvalidArgument));  // [MQTT-3.8.3-3]
  for (const auto& s : subscriptions)
    if (!validQos(s.qos) || !mqtt::validTopicFilter(s.filter) || !mqtt::validUtf8(s.filter))
      return Unexpected(make_error_code(Error::InvalidArgument));
  const auto id = allocatePacketId();
  if (!id) return Unexpected(make_error_code(Error::PacketIdsExhausted));
  const OpId op = ++nextOp_;
  if (auto ec = send(mqtt::Subscribe{*id, subscriptions}, now)) return Unexpected(ec);
  pendingSubscribe_.emplace(*id, PendingSubscribe{op, std::move(subscriptions)});
  return op;
}

Expected<OpId, std::error_code> MqttSession::unsubscribe(std::vector<std::string> filters, TimePoint now) {
  if (state_ != State::Connected) return Unexpected(make_error_code(Error::NotConnected));
  if (filters.empty()) return Unexpected(make_error_code(Error::InvalidArgument));  // [MQTT-3.10.3-2]
  for (const auto& f : filters)
    if (!mqtt::validTopicFilter(f) || !mqtt::validUtf8(f)) return Unexpected(make_error_code(Error::InvalidArgument));
  const auto id = allocatePacketId();
  if (!id) return Unexpected(make_error_code(Error::PacketIdsExhausted));
  const OpId op = ++nextOp_;
  // Forgotten now, not on UNSUBACK, so that a reconnect racing the UNSUBACK does not resurrect them.
  for (const auto& f : filters)
    if (f.size() > mqtt::kMaxStringLength) return Unexpected(make_error_code(mqtt::EncodeError::StringTooLong));
  for (const auto& f : filters) subscriptions_.erase(f);
  if (auto ec = send(mqtt::Unsubscribe{*id, std::move(filters)}, now)) return Unexpected(ec);
  pendingUnsubscribe_.emplace(*id, op);
  return op;
}

bool MqttSession::ack(std::uint16_t packetId, TimePoint now) {
  if (state_ != State::Connected) return false;
  const auto it = incoming_.find(packetId);
  if (it == incoming_.end() || it->second.acknowledged) return false;
  if (it->second.qos == QoS::AtLeastOnce) {
    incoming_.erase(it);
    send(mqtt::Puback{packetId}, now);
  } else {
    // QoS 2 keeps the id until PUBREL so a redelivered PUBLISH is not delivered twice (§4.3.3).
    it->second.acknowledged = true;
    send(mqtt::Pubrec{packetId}, now);
  }
  return true;
}

Expected<OpId, std::error_code> MqttSession::sendRaw(std::vector<std::uint8_t> bytes, TimePoint now) {
  if (state_ != State::AwaitingConnack && state_ != State::Connected)
    return Unexpected(make_error_code(Error::NotConnected));
  const OpId op = ++nextOp_;
  awaitingWrite_.insert(op);
  emit(SendBytes{std::move(bytes), op});
  lastSend_ = now;
  return op;
}

void MqttSession::disconnect(TimePoint now) {
  switch (state_) {
    case State::Idle:
    case State::Disconnecting:
      return;
    case State::WaitingReconnect:
      state_ = State::Idle;
      reconnecting_ = false;
      phaseDeadline_.reset();
      return;
    case State::Opening:
    case State::AwaitingConnack:
      endConnection(Error::Closed, true, now);
      return;
    case State::Connected:
      send(mqtt::Disconnect{}, now);
      emit(CloseTransport{true});
      state_ = State::Disconnecting;
      // A peer that stops reading must not keep us in Disconnecting forever.
      phaseDeadline_ = now + options_.connectTimeout;
      pingSentAt_.reset();
      return;
  }
}

void MqttSession::abort(TimePoint now) {
  switch (state_) {
    case State::Idle:
      return;
    case State::WaitingReconnect:
      state_ = State::Idle;
      reconnecting_ = false;
      phaseDeadline_.reset();
      return;
    case State::Opening:
    case State::AwaitingConnack:
    case State::Connected:
    case State::Disconnecting:
      endConnection(Error::Closed, true, now);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// transport events

void MqttSession::onTransportOpen(TimePoint now) {
  if (state_ != State::Opening) return;
  state_ = State::AwaitingConnack;
  mqtt::Connect c;
  c.protocolLevel = options_.protocolLevel;
  c.protocolName = options_.protocolLevel == mqtt::kLevel31 ? mqtt::kProtocolName31 : mqtt::kProtocolName311;
  c.cleanSession = options_.cleanSession;
  c.keepAlive = options_.keepAlive;
  c.clientId = clientId_;
  c.will = options_.will;
  c.username = options_.username;
  if (options_.password) c.password = std::vector<std::uint8_t>(options_.password->begin(), options_.password->end());
  // A client id, username, password or will longer than the wire carries: the connection fails with why.
  if (auto ec = send(c, now)) endConnection(ec, true, now);
}

void MqttSession::onBytes(std::span<const std::uint8_t> bytes, TimePoint now) {
  // After DISCONNECT the client has said goodbye: whatever still arrives is dropped.
  if (state_ != State::AwaitingConnack && state_ != State::Connected) return;
  rx_.insert(rx_.end(), bytes.begin(), bytes.end());
  const mqtt::Limits limits{options_.maxPacket};
  std::size_t offset = 0;
  while (offset < rx_.size()) {
    auto r = mqtt::decode(std::span<const std::uint8_t>(rx_).subspan(offset), limits);
    if (!r) {
      if (r.error() == mqtt::DecodeError::Incomplete) break;
      endConnection(mqtt::make_error_code(r.error()), false, now);
      return;
    }
    offset += r->consumed;
    handle(std::move(r->value), now);
    // A handler may have ended the connection, which also discards rx_.
    if (state_ != State::AwaitingConnack && state_ != State::Connected) return;
  }
  rx_.erase(rx_.begin(), rx_.begin() + static_cast<std::ptrdiff_t>(offset));
}

void MqttSession::onWritten(OpId op) {
  if (awaitingWrite_.erase(op) != 0) emit(OperationDone{op, {}, {}});
}

void MqttSession::onTransportClosed(std::error_code ec, TimePoint now) {
  switch (state_) {
    case State::Idle:
    case State::WaitingReconnect:
      return;
    case State::Disconnecting:
      endConnection(Error::Closed, true, now);
      return;
    case State::Opening:
    case State::AwaitingConnack:
    case State::Connected:
      endConnection(ec ? ec : make_error_code(Error::ConnectionLost), false, now);
      return;
  }
}

void MqttSession::onTimer(TimePoint now) {
  switch (state_) {
    case State::Idle:
      return;
    case State::Opening:
    case State::AwaitingConnack:
      if (phaseDeadline_ && now >= *phaseDeadline_) endConnection(Error::Timeout, false, now);
      return;
    case State::Disconnecting:
      if (phaseDeadline_ && now >= *phaseDeadline_) endConnection(Error::Closed, true, now);
      return;
    case State::WaitingReconnect:
      if (phaseDeadline_ && now >= *phaseDeadline_) {
        state_ = State::Opening;
        phaseDeadline_ = now + options_.connectTimeout;
        emit(OpenTransport{});
      }
      return;
    case State::Connected: {
      if (options_.keepAlive == 0 || !options_.sendPingreq) return;
      const std::chrono::seconds interval{options_.keepAlive};
      if (pingSentAt_) {
        // "If a Client does not receive a PINGRESP within a reasonable amount of time after it has sent
        // a PINGREQ, it SHOULD close the Network Connection" (§3.1.2.10): one keepalive interval.
        if (now >= *pingSentAt_ + interval) endConnection(Error::KeepaliveTimeout, false, now);
      } else if (now >= lastSend_ + interval) {
        send(mqtt::Pingreq{}, now);
        pingSentAt_ = now;
      }
      return;
    }
  }
}

std::optional<TimePoint> MqttSession::nextDeadline() const {
  switch (state_) {
    case State::Idle:
      return std::nullopt;
    case State::Opening:
    case State::AwaitingConnack:
    case State::Disconnecting:
    case State::WaitingReconnect:
      return phaseDeadline_;
    case State::Connected: {
      if (options_.keepAlive == 0 || !options_.sendPingreq) return std::nullopt;
      const std::chrono::seconds interval{options_.keepAlive};
      return pingSentAt_ ? *pingSentAt_ + interval : lastSend_ + interval;
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// inbound packets

void MqttSession::handle(mqtt::Packet&& packet, TimePoint now) {
  if (state_ == State::AwaitingConnack) {
    // The first packet from the server must be CONNACK [MQTT-3.2.0-1].
    if (const auto* c = std::get_if<mqtt::Connack>(&packet))
      onConnack(*c, now);
    else
      endConnection(Error::ProtocolError, false, now);
    return;
  }
  std::visit(
      [&](auto&& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, mqtt::Publish>) {
          onPublish(std::move(p), now);
        } else if constexpr (std::is_same_v<T, mqtt::Puback>) {
          const auto it = outgoing_.find(p.packetId);
          if (it != outgoing_.end() && it->second.stage == Stage::AwaitPuback) {
            emit(OperationDone{it->second.op, {}, {}});
            outgoing_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, mqtt::Pubrec>) {
          const auto it = outgoing_.find(p.packetId);
          if (it != outgoing_.end() && it->second.stage == Stage::AwaitPuback) return;  // not a QoS 2 flow
          if (it != outgoing_.end()) {
            // From here the message is the server's; only PUBREL is ever re-sent [MQTT-4.3.3-1].
            it->second.stage = Stage::AwaitPubcomp;
            it->second.publish.payload.clear();
            it->second.publish.payload.shrink_to_fit();
          }
          // Answered even for an id we no longer hold, so the server's QoS 2 flow can finish.
          send(mqtt::Pubrel{p.packetId}, now);
        } else if constexpr (std::is_same_v<T, mqtt::Pubcomp>) {
          const auto it = outgoing_.find(p.packetId);
          if (it != outgoing_.end() && it->second.stage == Stage::AwaitPubcomp) {
            emit(OperationDone{it->second.op, {}, {}});
            outgoing_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, mqtt::Pubrel>) {
          // Method B of §4.3.3: the id is released here and PUBCOMP is sent even for an unknown id,
          // as the server may be re-sending PUBREL after a reconnect [MQTT-4.3.3-2].
          incoming_.erase(p.packetId);
          send(mqtt::Pubcomp{p.packetId}, now);
        } else if constexpr (std::is_same_v<T, mqtt::Suback>) {
          onSuback(p);
        } else if constexpr (std::is_same_v<T, mqtt::Unsuback>) {
          const auto it = pendingUnsubscribe_.find(p.packetId);
          if (it != pendingUnsubscribe_.end()) {
            emit(OperationDone{it->second, {}, {}});
            pendingUnsubscribe_.erase(it);
          }
        } else if constexpr (std::is_same_v<T, mqtt::Pingresp>) {
          pingSentAt_.reset();
        } else {
          // CONNACK twice, or a packet only a client sends (CONNECT, SUBSCRIBE, PINGREQ, DISCONNECT …).
          endConnection(Error::ProtocolError, false, now);
        }
      },
      std::move(packet));
}

void MqttSession::onConnack(const mqtt::Connack& connack, TimePoint now) {
  if (connack.returnCode != mqtt::ConnectReturn::Accepted) {
    if (connectRequested_) {
      emit(ConnectDone{Error::ConnectionRefused, connack});
      connectRequested_ = false;
    }
    // The server closes after a refusing CONNACK [MQTT-3.2.2-5]; we do not wait for it to.
    endConnection(Error::ConnectionRefused, false, now);
    return;
  }
  state_ = State::Connected;
  phaseDeadline_.reset();
  pingSentAt_.reset();
  reconnectAttempt_ = 0;
  // ConnectionUp first, so that whoever waits on connect()'s outcome already sees the connection as up.
  emit(ConnectionUp{connack});
  if (connectRequested_) {
    emit(ConnectDone{{}, connack});
    connectRequested_ = false;
  }
  if (!options_.cleanSession) resendInFlight(now);
  // Without a session on the server (always so for cleanSession=true [MQTT-3.2.2-1]) the
  // subscriptions are gone; an automatic reconnect restores the ones the user made.
  if (reconnecting_ && !connack.sessionPresent) resubscribe(now);
  reconnecting_ = false;
}

void MqttSession::resendInFlight(TimePoint now) {
  // On reconnect with CleanSession=0 the client MUST re-send unacknowledged PUBLISH (with DUP) and
  // PUBREL packets [MQTT-4.4.0-1], in their original order [MQTT-4.6.0-1].
  std::vector<Outgoing*> order;
  order.reserve(outgoing_.size());
  for (auto& [id, o] : outgoing_) order.push_back(&o);
  std::sort(order.begin(), order.end(), [](const Outgoing* a, const Outgoing* b) { return a->seq < b->seq; });
  for (Outgoing* o : order) {
    if (o->stage == Stage::AwaitPubcomp) {
      send(mqtt::Pubrel{o->publish.packetId}, now);
    } else {
      o->publish.dup = true;  // [MQTT-3.3.1-1]
      send(o->publish, now);
    }
  }
}

void MqttSession::resubscribe(TimePoint now) {
  if (subscriptions_.empty()) return;
  const auto id = allocatePacketId();
  if (!id) return;
  std::vector<mqtt::Subscription> subs;
  subs.reserve(subscriptions_.size());
  for (const auto& [filter, qos] : subscriptions_) subs.push_back({filter, qos});
  send(mqtt::Subscribe{*id, subs}, now);
  pendingSubscribe_.emplace(*id, PendingSubscribe{0, std::move(subs)});
}

void MqttSession::onSuback(const mqtt::Suback& suback) {
  const auto it = pendingSubscribe_.find(suback.packetId);
  if (it == pendingSubscribe_.end()) return;
  const auto& subs = it->second.subscriptions;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    const bool granted = i < suback.returnCodes.size() && suback.returnCodes[i] != mqtt::kSubackFailure;
    if (granted)
      subscriptions_[subs[i].filter] = subs[i].qos;
    else
      subscriptions_.erase(subs[i].filter);
  }
  if (it->second.op != 0) emit(OperationDone{it->second.op, {}, suback.returnCodes});
  pendingSubscribe_.erase(it);
}

void MqttSession::onPublish(mqtt::Publish&& p, TimePoint now) {
  const auto deliver = [&] {
    emit(DeliverMessage{Message{std::move(p.topic), std::move(p.payload), p.qos, p.retain, p.dup, p.packetId}});
  };
  switch (p.qos) {
    case QoS::AtMostOnce:
      deliver();
      return;
    case QoS::AtLeastOnce: {
      const std::uint16_t id = p.packetId;
      // QoS 1 is at-least-once: a redelivery is delivered again, flagged dup by the server.
      deliver();
      if (options_.autoAck)
        send(mqtt::Puback{id}, now);
      else
        incoming_[id] = Incoming{QoS::AtLeastOnce, false};
      return;
    }
    case QoS::ExactlyOnce: {
      const std::uint16_t id = p.packetId;
      const auto it = incoming_.find(id);
      if (it != incoming_.end() && it->second.qos == QoS::ExactlyOnce) {
        // Already delivered and awaiting PUBREL: not delivered again [MQTT-4.3.3-2]; answer again
        // if we had answered, otherwise the answer still waits for ack().
        if (it->second.acknowledged) send(mqtt::Pubrec{id}, now);
        return;
      }
      deliver();
      incoming_[id] = Incoming{QoS::ExactlyOnce, options_.autoAck};
      if (options_.autoAck) send(mqtt::Pubrec{id}, now);
      return;
    }
  }
  // QoS 3 never gets here: the decoder rejects it [MQTT-3.3.1-4].
}

// ---------------------------------------------------------------------------------------------

void MqttSession::endConnection(std::error_code reason, bool local, TimePoint now) {
  const bool wasEstablished = state_ == State::Connected || state_ == State::Disconnecting;
  emit(CloseTransport{false});
  rx_.clear();
  pingSentAt_.reset();
  phaseDeadline_.reset();

  const std::error_code opError = local ? Error::Closed : Error::ConnectionLost;
  for (OpId op : awaitingWrite_) emit(OperationDone{op, opError, {}});
  awaitingWrite_.clear();
  for (const auto& [id, s] : pendingSubscribe_)
    if (s.op != 0) emit(OperationDone{s.op, opError, {}});
  pendingSubscribe_.clear();
  for (const auto& [id, op] : pendingUnsubscribe_) emit(OperationDone{op, opError, {}});
  pendingUnsubscribe_.clear();

  if (options_.cleanSession) {
    // The server discards the session on the next CONNECT [MQTT-3.1.2-6], so nothing in flight can finish.
    for (const auto& [id, o] : outgoing_) emit(OperationDone{o.op, opError, {}});
    outgoing_.clear();
    incoming_.clear();
  } else {
    // Outgoing messages stay for re-sending after the next CONNECT (their operations stay pending).
    // Unacknowledged incoming QoS 1 is redelivered by the server; QoS 2 ids stay until PUBREL.
    std::erase_if(incoming_, [](const auto& kv) { return kv.second.qos == QoS::AtLeastOnce; });
  }

  if (connectRequested_) {
    emit(ConnectDone{reason, {}});
    connectRequested_ = false;
  }
  if (wasEstablished) emit(ConnectionDown{reason});

  if (!local && options_.autoReconnect && (wasEstablished || reconnecting_)) {
    reconnecting_ = true;
    state_ = State::WaitingReconnect;
    phaseDeadline_ = now + backoffDelay(reconnectAttempt_++, options_.reconnectMin, options_.reconnectMax, rng_);
  } else {
    reconnecting_ = false;
    state_ = State::Idle;
  }
}

}  // namespace fc::client::detail
