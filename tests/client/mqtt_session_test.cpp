// Unit tests of the sans-I/O MQTT client session: no sockets, no threads, time is a value we pass in.
#include "client/detail/mqtt_session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "client/error.hpp"
#include "protocols/mqtt/codec.hpp"

namespace fc::client::detail {
namespace {

using namespace std::chrono_literals;
using mqtt::QoS;
using Bytes = std::vector<std::uint8_t>;

const TimePoint t0{};

Bytes bytesOf(std::string_view s) { return {s.begin(), s.end()}; }

// Everything sent in `actions`, decoded back into packets.
std::vector<mqtt::Packet> sent(const std::vector<Action>& actions) {
  std::vector<mqtt::Packet> out;
  for (const auto& a : actions)
    if (const auto* s = std::get_if<SendBytes>(&a)) {
      std::size_t off = 0;
      while (off < s->bytes.size()) {
        auto r = mqtt::decode(std::span<const std::uint8_t>(s->bytes).subspan(off), {});
        EXPECT_TRUE(r) << "session sent bytes the codec cannot decode";
        if (!r) return out;
        out.push_back(r->value);
        off += r->consumed;
      }
    }
  return out;
}

template <class T>
std::vector<T> only(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (const auto* x = std::get_if<T>(&a)) out.push_back(*x);
  return out;
}

template <class T>
std::vector<T> onlyPackets(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& p : sent(actions))
    if (const auto* x = std::get_if<T>(&p)) out.push_back(*x);
  return out;
}

void feed(MqttSession& s, const mqtt::Packet& p, TimePoint now) { s.onBytes(mqtt::encode(p).value(), now); }

MqttOptions baseOptions() {
  MqttOptions o;
  o.clientId = "dev-1";
  o.keepAlive = 10;
  return o;
}

// Drives a session to Connected and discards the actions that got it there.
void connectSession(MqttSession& s, TimePoint now, bool sessionPresent = false) {
  ASSERT_FALSE(s.connect(now));
  s.onTransportOpen(now);
  feed(s, mqtt::Connack{sessionPresent, mqtt::ConnectReturn::Accepted}, now);
  ASSERT_EQ(s.state(), MqttSession::State::Connected);
  (void)s.takeActions();
}

// ---------------------------------------------------------------------------------------------
// connect

TEST(MqttSession, ConnectOpensTransportThenSendsConnect311) {
  auto o = baseOptions();
  o.cleanSession = false;
  o.username = "user";
  o.password = "pw";
  o.will = mqtt::Will{"dev/will", bytesOf("gone"), QoS::AtLeastOnce, true};
  MqttSession s(o, 1);

  ASSERT_FALSE(s.connect(t0));
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<OpenTransport>(a[0]));
  EXPECT_EQ(s.state(), MqttSession::State::Opening);

  s.onTransportOpen(t0);
  auto connects = onlyPackets<mqtt::Connect>(s.takeActions());
  ASSERT_EQ(connects.size(), 1u);
  const auto& c = connects[0];
  EXPECT_EQ(c.protocolName, "MQTT");
  EXPECT_EQ(c.protocolLevel, mqtt::kLevel311);
  EXPECT_FALSE(c.cleanSession);
  EXPECT_EQ(c.keepAlive, 10);
  EXPECT_EQ(c.clientId, "dev-1");
  EXPECT_EQ(c.username, "user");
  EXPECT_EQ(c.password, bytesOf("pw"));
  EXPECT_EQ(c.will, o.will);
  EXPECT_EQ(s.state(), MqttSession::State::AwaitingConnack);
}

TEST(MqttSession, Level3SendsMQIsdpAndGeneratesA31ClientId) {
  auto o = baseOptions();
  o.protocolLevel = mqtt::kLevel31;
  o.clientId.clear();
  MqttSession s(o, 42);
  ASSERT_FALSE(s.connect(t0));
  s.onTransportOpen(t0);
  auto connects = onlyPackets<mqtt::Connect>(s.takeActions());
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(connects[0].protocolName, "MQIsdp");
  EXPECT_EQ(connects[0].protocolLevel, 3);
  // MQTT 3.1 needs 1..23 characters.
  EXPECT_FALSE(connects[0].clientId.empty());
  EXPECT_LE(connects[0].clientId.size(), 23u);
  EXPECT_EQ(connects[0].clientId, s.clientId());
}

TEST(MqttSession, AcceptedConnackReportsUpThenConnectDone) {
  MqttSession s(baseOptions(), 1);
  ASSERT_FALSE(s.connect(t0));
  s.onTransportOpen(t0);
  (void)s.takeActions();
  // CONNACK, remaining length 2, session present, return code 0.
  const Bytes wire{0x20, 0x02, 0x01, 0x00};
  s.onBytes(wire, t0);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(std::get<ConnectionUp>(a[0]).connack, (mqtt::Connack{true, mqtt::ConnectReturn::Accepted}));
  EXPECT_EQ(std::get<ConnectDone>(a[1]), (ConnectDone{{}, mqtt::Connack{true, mqtt::ConnectReturn::Accepted}}));
  EXPECT_EQ(s.state(), MqttSession::State::Connected);
  EXPECT_EQ(s.connect(t0), make_error_code(Error::AlreadyConnected));
}

TEST(MqttSession, RefusedConnackIsReportedWithItsCodeAndCloses) {
  MqttSession s(baseOptions(), 1);
  ASSERT_FALSE(s.connect(t0));
  s.onTransportOpen(t0);
  (void)s.takeActions();
  feed(s, mqtt::Connack{false, mqtt::ConnectReturn::NotAuthorized}, t0);
  auto a = s.takeActions();
  auto done = only<ConnectDone>(a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ec, make_error_code(Error::ConnectionRefused));
  EXPECT_EQ(done[0].connack.returnCode, mqtt::ConnectReturn::NotAuthorized);
  EXPECT_EQ(only<CloseTransport>(a).size(), 1u);
  EXPECT_TRUE(only<ConnectionUp>(a).empty());
  EXPECT_TRUE(only<ConnectionDown>(a).empty()) << "never established, so no ConnectionDown";
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

TEST(MqttSession, FirstPacketOtherThanConnackIsAProtocolError) {
  MqttSession s(baseOptions(), 1);
  ASSERT_FALSE(s.connect(t0));
  s.onTransportOpen(t0);
  (void)s.takeActions();
  feed(s, mqtt::Pingresp{}, t0);
  auto done = only<ConnectDone>(s.takeActions());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ec, make_error_code(Error::ProtocolError));
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

TEST(MqttSession, ConnectPhaseTimesOut) {
  auto o = baseOptions();
  o.connectTimeout = 2s;
  MqttSession s(o, 1);
  ASSERT_FALSE(s.connect(t0));
  (void)s.takeActions();
  ASSERT_EQ(s.nextDeadline(), t0 + 2s);
  s.onTransportOpen(t0 + 1s);
  (void)s.takeActions();
  EXPECT_EQ(s.nextDeadline(), t0 + 2s) << "one deadline for the whole phase";
  s.onTimer(t0 + 1999ms);
  EXPECT_TRUE(only<ConnectDone>(s.takeActions()).empty());
  s.onTimer(t0 + 2s);
  auto a = s.takeActions();
  auto done = only<ConnectDone>(a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ec, make_error_code(Error::Timeout));
  EXPECT_EQ(only<CloseTransport>(a).size(), 1u);
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
  EXPECT_FALSE(s.nextDeadline());
}

TEST(MqttSession, TransportFailureWhileOpeningIsTheConnectResult) {
  MqttSession s(baseOptions(), 1);
  ASSERT_FALSE(s.connect(t0));
  (void)s.takeActions();
  const auto refused = std::make_error_code(std::errc::connection_refused);
  s.onTransportClosed(refused, t0);
  auto done = only<ConnectDone>(s.takeActions());
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].ec, refused);
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

// ---------------------------------------------------------------------------------------------
// outgoing publish

TEST(MqttSession, Qos0PublishGoldenBytesAndCompletionOnWrite) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op = s.publish("a/b", bytesOf("hi"), QoS::AtMostOnce, false, t0);
  ASSERT_TRUE(op);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 1u);
  const auto& send = std::get<SendBytes>(a[0]);
  // PUBLISH QoS 0 no flags, remaining 7, topic length 3 "a/b", payload "hi" (no packet id at QoS 0).
  EXPECT_EQ(send.bytes, (Bytes{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}));
  EXPECT_EQ(send.writtenOp, *op);
  s.onWritten(*op);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op, {}, {}}}));
  s.onWritten(*op);
  EXPECT_TRUE(s.takeActions().empty()) << "completes once";
}

TEST(MqttSession, Qos1PublishCompletesOnPuback) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op = s.publish("t", bytesOf("x"), QoS::AtLeastOnce, true, t0);
  ASSERT_TRUE(op);
  auto pubs = onlyPackets<mqtt::Publish>(s.takeActions());
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0], (mqtt::Publish{"t", bytesOf("x"), QoS::AtLeastOnce, true, false, 1}));
  EXPECT_EQ(s.outgoingInFlight(), 1u);

  feed(s, mqtt::Puback{99}, t0);
  EXPECT_TRUE(s.takeActions().empty()) << "PUBACK for an id not in flight is ignored";
  // PUBACK, remaining 2, packet id 1.
  s.onBytes(Bytes{0x40, 0x02, 0x00, 0x01}, t0);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op, {}, {}}}));
  EXPECT_EQ(s.outgoingInFlight(), 0u);
}

TEST(MqttSession, Qos2PublishRunsPubrecPubrelPubcomp) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op = s.publish("t", bytesOf("x"), QoS::ExactlyOnce, false, t0);
  ASSERT_TRUE(op);
  (void)s.takeActions();

  feed(s, mqtt::Puback{1}, t0);
  EXPECT_TRUE(s.takeActions().empty()) << "PUBACK does not finish a QoS 2 flow";

  feed(s, mqtt::Pubrec{1}, t0);
  auto a = s.takeActions();
  EXPECT_TRUE(only<OperationDone>(a).empty());
  ASSERT_EQ(only<SendBytes>(a).size(), 1u);
  // PUBREL: type 6 with reserved flags 0b0010 [MQTT-3.6.1-1], remaining 2, packet id 1.
  EXPECT_EQ(only<SendBytes>(a)[0].bytes, (Bytes{0x62, 0x02, 0x00, 0x01}));

  feed(s, mqtt::Pubrec{1}, t0);
  EXPECT_EQ(onlyPackets<mqtt::Pubrel>(s.takeActions()).size(), 1u) << "a repeated PUBREC gets PUBREL again";

  feed(s, mqtt::Pubcomp{1}, t0);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op, {}, {}}}));
  EXPECT_EQ(s.outgoingInFlight(), 0u);
}

TEST(MqttSession, PacketIdsSkipThoseInUseAndRunOut) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  for (int i = 0; i < 65535; ++i) ASSERT_TRUE(s.publish("t", {}, QoS::AtLeastOnce, false, t0)) << i;
  (void)s.takeActions();
  auto full = s.publish("t", {}, QoS::AtLeastOnce, false, t0);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), make_error_code(Error::PacketIdsExhausted));
  auto sub = s.subscribe({{"x", QoS::AtMostOnce}}, t0);
  ASSERT_FALSE(sub);
  EXPECT_EQ(sub.error(), make_error_code(Error::PacketIdsExhausted)) << "one id space for all packet types";

  feed(s, mqtt::Puback{7}, t0);
  (void)s.takeActions();
  ASSERT_TRUE(s.publish("t", {}, QoS::AtLeastOnce, false, t0));
  auto pubs = onlyPackets<mqtt::Publish>(s.takeActions());
  ASSERT_EQ(pubs.size(), 1u);
  EXPECT_EQ(pubs[0].packetId, 7) << "the only free id";
}

TEST(MqttSession, InvalidRequestsAreRefused) {
  MqttSession s(baseOptions(), 1);
  auto early = s.publish("t", {}, QoS::AtMostOnce, false, t0);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error(), make_error_code(Error::NotConnected));

  connectSession(s, t0);
  const auto invalid = make_error_code(Error::InvalidArgument);
  EXPECT_EQ(s.publish("a/+", {}, QoS::AtMostOnce, false, t0).error(), invalid);  // [MQTT-3.3.2-2]
  EXPECT_EQ(s.publish("", {}, QoS::AtMostOnce, false, t0).error(), invalid);     // [MQTT-4.7.3-1]
  EXPECT_EQ(s.publish("t", {}, static_cast<QoS>(3), false, t0).error(), invalid);
  EXPECT_EQ(s.subscribe({}, t0).error(), invalid);                               // [MQTT-3.8.3-3]
  EXPECT_EQ(s.subscribe({{"a/#/b", QoS::AtMostOnce}}, t0).error(), invalid);     // [MQTT-4.7.1-2]
  EXPECT_EQ(s.unsubscribe({}, t0).error(), invalid);                             // [MQTT-3.10.3-2]
  EXPECT_TRUE(s.takeActions().empty());
}

// ---------------------------------------------------------------------------------------------
// incoming publish

TEST(MqttSession, IncomingQos0And1AreDeliveredAndQos1Acked) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  feed(s, mqtt::Publish{"a", bytesOf("0"), QoS::AtMostOnce, false, false, 0}, t0);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<DeliverMessage>(a[0]).message, (Message{"a", bytesOf("0"), QoS::AtMostOnce, false, false, 0}));

  feed(s, mqtt::Publish{"b", bytesOf("1"), QoS::AtLeastOnce, true, true, 300}, t0);
  a = s.takeActions();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(std::get<DeliverMessage>(a[0]).message, (Message{"b", bytesOf("1"), QoS::AtLeastOnce, true, true, 300}));
  // PUBACK, remaining 2, packet id 300 = 0x012C.
  EXPECT_EQ(std::get<SendBytes>(a[1]).bytes, (Bytes{0x40, 0x02, 0x01, 0x2C}));
}

TEST(MqttSession, IncomingQos2IsDeliveredExactlyOnce) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  const mqtt::Publish p{"q2", bytesOf("once"), QoS::ExactlyOnce, false, false, 5};
  feed(s, p, t0);
  auto a = s.takeActions();
  ASSERT_EQ(only<DeliverMessage>(a).size(), 1u);
  EXPECT_EQ(onlyPackets<mqtt::Pubrec>(a), (std::vector<mqtt::Pubrec>{{5}}));

  auto dup = p;
  dup.dup = true;
  feed(s, dup, t0);
  a = s.takeActions();
  EXPECT_TRUE(only<DeliverMessage>(a).empty()) << "redelivery before PUBREL is not delivered again";
  EXPECT_EQ(onlyPackets<mqtt::Pubrec>(a), (std::vector<mqtt::Pubrec>{{5}}));

  feed(s, mqtt::Pubrel{5}, t0);
  EXPECT_EQ(onlyPackets<mqtt::Pubcomp>(s.takeActions()), (std::vector<mqtt::Pubcomp>{{5}}));
  EXPECT_EQ(s.incomingHeld(), 0u);

  feed(s, p, t0);
  EXPECT_EQ(only<DeliverMessage>(s.takeActions()).size(), 1u) << "after PUBREL the id names a new message";

  feed(s, mqtt::Pubrel{77}, t0);
  EXPECT_EQ(onlyPackets<mqtt::Pubcomp>(s.takeActions()), (std::vector<mqtt::Pubcomp>{{77}}))
      << "PUBREL for an unknown id still gets PUBCOMP";
}

TEST(MqttSession, AutoAckFalseHoldsAcknowledgementsUntilAck) {
  auto o = baseOptions();
  o.autoAck = false;
  MqttSession s(o, 1);
  connectSession(s, t0);

  feed(s, mqtt::Publish{"a", bytesOf("1"), QoS::AtLeastOnce, false, false, 10}, t0);
  feed(s, mqtt::Publish{"a", bytesOf("2"), QoS::ExactlyOnce, false, false, 11}, t0);
  auto a = s.takeActions();
  EXPECT_EQ(only<DeliverMessage>(a).size(), 2u);
  EXPECT_TRUE(only<SendBytes>(a).empty()) << "nothing acknowledged yet";
  EXPECT_EQ(s.incomingHeld(), 2u);

  EXPECT_TRUE(s.ack(10, t0));
  EXPECT_EQ(onlyPackets<mqtt::Puback>(s.takeActions()), (std::vector<mqtt::Puback>{{10}}));
  EXPECT_FALSE(s.ack(10, t0)) << "already acknowledged";
  EXPECT_TRUE(s.ack(11, t0));
  EXPECT_EQ(onlyPackets<mqtt::Pubrec>(s.takeActions()), (std::vector<mqtt::Pubrec>{{11}}));
  EXPECT_FALSE(s.ack(11, t0));
  EXPECT_FALSE(s.ack(12, t0)) << "unknown id";
  EXPECT_TRUE(s.takeActions().empty());
}

// ---------------------------------------------------------------------------------------------
// framing and malformed input

TEST(MqttSession, PacketSplitAcrossReadsIsDeliveredOnceComplete) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  const auto wire = mqtt::encode(mqtt::Publish{"x/y", bytesOf("payload"), QoS::AtMostOnce, false, false, 0}).value();
  for (std::size_t i = 0; i + 1 < wire.size(); ++i) {
    s.onBytes(std::span(wire).subspan(i, 1), t0);
    ASSERT_TRUE(s.takeActions().empty()) << "after byte " << i;
  }
  s.onBytes(std::span(wire).last(1), t0);
  EXPECT_EQ(only<DeliverMessage>(s.takeActions()).size(), 1u);
}

TEST(MqttSession, SeveralPacketsInOneReadAreAllHandled) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op1 = s.publish("t", {}, QoS::AtLeastOnce, false, t0);
  auto op2 = s.publish("t", {}, QoS::AtLeastOnce, false, t0);
  (void)s.takeActions();
  Bytes wire = mqtt::encode(mqtt::Puback{2}).value();
  ASSERT_TRUE(mqtt::encode(mqtt::Puback{1}, wire));
  s.onBytes(wire, t0);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op2, {}, {}}, {*op1, {}, {}}}));
}

TEST(MqttSession, MalformedInputEndsTheConnectionWithTheDecodeError) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  // Packet type 15 is reserved (§2.2.1).
  s.onBytes(Bytes{0xF0, 0x00}, t0);
  auto a = s.takeActions();
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{mqtt::make_error_code(mqtt::DecodeError::UnknownPacketType)}}));
  EXPECT_EQ(only<CloseTransport>(a).size(), 1u);
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

TEST(MqttSession, OversizedPacketIsRefused) {
  auto o = baseOptions();
  o.maxPacket = 64;
  MqttSession s(o, 1);
  connectSession(s, t0);
  feed(s, mqtt::Publish{"t", Bytes(100, 0xAB), QoS::AtMostOnce, false, false, 0}, t0);
  auto a = s.takeActions();
  EXPECT_TRUE(only<DeliverMessage>(a).empty());
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{mqtt::make_error_code(mqtt::DecodeError::TooLarge)}}));
}

TEST(MqttSession, ServerOnlyPacketsFromTheServerAreAProtocolError) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  feed(s, mqtt::Subscribe{1, {{"a", QoS::AtMostOnce}}}, t0);
  EXPECT_EQ(only<ConnectionDown>(s.takeActions()), (std::vector<ConnectionDown>{{make_error_code(Error::ProtocolError)}}));

  MqttSession s2(baseOptions(), 1);
  connectSession(s2, t0);
  feed(s2, mqtt::Connack{}, t0);
  EXPECT_EQ(only<ConnectionDown>(s2.takeActions()), (std::vector<ConnectionDown>{{make_error_code(Error::ProtocolError)}}))
      << "a second CONNACK";
}

// ---------------------------------------------------------------------------------------------
// subscribe / unsubscribe / raw

TEST(MqttSession, SubscribeCompletesWithSubackCodes) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op = s.subscribe({{"a/+", QoS::ExactlyOnce}, {"b/#", QoS::AtMostOnce}}, t0);
  ASSERT_TRUE(op);
  auto subs = onlyPackets<mqtt::Subscribe>(s.takeActions());
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].subscriptions.size(), 2u);
  feed(s, mqtt::Suback{subs[0].packetId, {0x01, mqtt::kSubackFailure}}, t0);
  EXPECT_EQ(only<OperationDone>(s.takeActions()),
            (std::vector<OperationDone>{{*op, {}, {0x01, mqtt::kSubackFailure}}}));
}

TEST(MqttSession, UnsubscribeCompletesOnUnsuback) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto op = s.unsubscribe({"a/+"}, t0);
  ASSERT_TRUE(op);
  auto unsubs = onlyPackets<mqtt::Unsubscribe>(s.takeActions());
  ASSERT_EQ(unsubs.size(), 1u);
  EXPECT_EQ(unsubs[0].filters, (std::vector<std::string>{"a/+"}));
  feed(s, mqtt::Unsuback{unsubs[0].packetId}, t0);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op, {}, {}}}));
}

TEST(MqttSession, SendRawNeedsAnOpenTransportAndSendsBytesVerbatim) {
  MqttSession s(baseOptions(), 1);
  EXPECT_EQ(s.sendRaw({0x01}, t0).error(), make_error_code(Error::NotConnected));
  ASSERT_FALSE(s.connect(t0));
  EXPECT_EQ(s.sendRaw({0x01}, t0).error(), make_error_code(Error::NotConnected)) << "transport not open yet";
  s.onTransportOpen(t0);
  (void)s.takeActions();
  auto op = s.sendRaw({0xF0, 0x00, 0x12}, t0);
  ASSERT_TRUE(op);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<SendBytes>(a[0]), (SendBytes{{0xF0, 0x00, 0x12}, *op}));
}

// ---------------------------------------------------------------------------------------------
// keepalive

TEST(MqttSession, KeepaliveSendsPingreqAndClosesWithoutPingresp) {
  MqttSession s(baseOptions(), 1);  // keepAlive 10 s
  connectSession(s, t0);
  ASSERT_EQ(s.nextDeadline(), t0 + 10s) << "counted from CONNECT, the last packet sent";
  s.onTimer(t0 + 9s);
  EXPECT_TRUE(s.takeActions().empty());
  s.onTimer(t0 + 10s);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(std::get<SendBytes>(a[0]).bytes, (Bytes{0xC0, 0x00}));  // PINGREQ
  EXPECT_EQ(s.nextDeadline(), t0 + 20s);

  feed(s, mqtt::Pingresp{}, t0 + 11s);
  EXPECT_EQ(s.nextDeadline(), t0 + 20s) << "next PINGREQ one interval after the last one";
  s.onTimer(t0 + 20s);
  EXPECT_EQ(onlyPackets<mqtt::Pingreq>(s.takeActions()).size(), 1u);

  s.onTimer(t0 + 30s);  // no PINGRESP this time
  a = s.takeActions();
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{make_error_code(Error::KeepaliveTimeout)}}));
  EXPECT_EQ(only<CloseTransport>(a).size(), 1u);
}

TEST(MqttSession, SendingAnythingPostponesThePing) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  ASSERT_TRUE(s.publish("t", {}, QoS::AtMostOnce, false, t0 + 6s));
  (void)s.takeActions();
  EXPECT_EQ(s.nextDeadline(), t0 + 16s);
}

TEST(MqttSession, NoPingWhenDisabledOrKeepaliveZero) {
  auto o = baseOptions();
  o.sendPingreq = false;
  MqttSession s(o, 1);
  connectSession(s, t0);
  EXPECT_FALSE(s.nextDeadline());
  s.onTimer(t0 + 1h);
  EXPECT_TRUE(s.takeActions().empty());

  auto o2 = baseOptions();
  o2.keepAlive = 0;
  MqttSession s2(o2, 1);
  connectSession(s2, t0);
  EXPECT_FALSE(s2.nextDeadline());
}

// ---------------------------------------------------------------------------------------------
// closing

TEST(MqttSession, DisconnectSendsDisconnectAndClosesAfterTheFlush) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto q0 = s.publish("t", {}, QoS::AtMostOnce, false, t0);
  (void)s.takeActions();
  s.disconnect(t0);
  auto a = s.takeActions();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(std::get<SendBytes>(a[0]).bytes, (Bytes{0xE0, 0x00}));  // DISCONNECT
  EXPECT_EQ(std::get<CloseTransport>(a[1]), (CloseTransport{true}));
  EXPECT_EQ(s.state(), MqttSession::State::Disconnecting);
  EXPECT_FALSE(s.publish("t", {}, QoS::AtMostOnce, false, t0));

  s.onWritten(*q0);  // queued before DISCONNECT, so written by the flush
  s.onTransportClosed({}, t0);
  a = s.takeActions();
  EXPECT_EQ(only<OperationDone>(a), (std::vector<OperationDone>{{*q0, {}, {}}}));
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{make_error_code(Error::Closed)}}));
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

TEST(MqttSession, DisconnectFlushIsBounded) {
  auto o = baseOptions();
  o.connectTimeout = 3s;
  MqttSession s(o, 1);
  connectSession(s, t0);
  s.disconnect(t0);
  (void)s.takeActions();
  EXPECT_EQ(s.nextDeadline(), t0 + 3s);
  s.onTimer(t0 + 3s);
  auto a = s.takeActions();
  EXPECT_EQ(only<CloseTransport>(a), (std::vector<CloseTransport>{{false}}));
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

TEST(MqttSession, AbortClosesWithoutDisconnectAndFailsPendingOperations) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto pub = s.publish("t", {}, QoS::AtLeastOnce, false, t0);
  auto sub = s.subscribe({{"a", QoS::AtMostOnce}}, t0);
  (void)s.takeActions();
  s.abort(t0);
  auto a = s.takeActions();
  EXPECT_TRUE(only<SendBytes>(a).empty()) << "no DISCONNECT, so the server sends the will";
  EXPECT_EQ(only<CloseTransport>(a), (std::vector<CloseTransport>{{false}}));
  const auto closed = make_error_code(Error::Closed);
  auto done = only<OperationDone>(a);
  ASSERT_EQ(done.size(), 2u);
  std::set<decltype(done[0].op)> ops;
  for (const auto& d : done) {
    ops.insert(d.op);
    EXPECT_EQ(d.ec, closed);
  }
  EXPECT_EQ(ops, (std::set<decltype(done[0].op)>{*pub, *sub})) << "each pending operation fails once";
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{closed}}));
}

TEST(MqttSession, LostConnectionWithCleanSessionFailsInFlight) {
  MqttSession s(baseOptions(), 1);
  connectSession(s, t0);
  auto pub = s.publish("t", {}, QoS::ExactlyOnce, false, t0);
  (void)s.takeActions();
  const auto eof = std::make_error_code(std::errc::connection_reset);
  s.onTransportClosed(eof, t0);
  auto a = s.takeActions();
  EXPECT_EQ(only<OperationDone>(a), (std::vector<OperationDone>{{*pub, make_error_code(Error::ConnectionLost), {}}}));
  EXPECT_EQ(only<ConnectionDown>(a), (std::vector<ConnectionDown>{{eof}}));
  EXPECT_EQ(s.outgoingInFlight(), 0u);
}

// ---------------------------------------------------------------------------------------------
// persistent sessions

TEST(MqttSession, PersistentSessionResendsUnacknowledgedWithDupInOrder) {
  auto o = baseOptions();
  o.cleanSession = false;
  MqttSession s(o, 1);
  connectSession(s, t0);
  auto op1 = s.publish("a", bytesOf("1"), QoS::AtLeastOnce, false, t0);
  auto op2 = s.publish("b", bytesOf("2"), QoS::ExactlyOnce, false, t0);
  auto op3 = s.publish("c", bytesOf("3"), QoS::ExactlyOnce, false, t0);
  (void)s.takeActions();
  feed(s, mqtt::Pubrec{3}, t0);  // message 3 is the server's now; only its PUBREL is re-sent
  (void)s.takeActions();

  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), t0);
  auto a = s.takeActions();
  EXPECT_TRUE(only<OperationDone>(a).empty()) << "in-flight messages survive the connection";
  EXPECT_EQ(s.outgoingInFlight(), 3u);

  ASSERT_FALSE(s.connect(t0 + 1s));
  s.onTransportOpen(t0 + 1s);
  (void)s.takeActions();
  feed(s, mqtt::Connack{true, mqtt::ConnectReturn::Accepted}, t0 + 1s);
  auto packets = sent(s.takeActions());
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(std::get<mqtt::Publish>(packets[0]), (mqtt::Publish{"a", bytesOf("1"), QoS::AtLeastOnce, false, true, 1}));
  EXPECT_EQ(std::get<mqtt::Publish>(packets[1]), (mqtt::Publish{"b", bytesOf("2"), QoS::ExactlyOnce, false, true, 2}));
  EXPECT_EQ(std::get<mqtt::Pubrel>(packets[2]), (mqtt::Pubrel{3}));

  feed(s, mqtt::Puback{1}, t0 + 1s);
  feed(s, mqtt::Pubcomp{3}, t0 + 1s);
  EXPECT_EQ(only<OperationDone>(s.takeActions()), (std::vector<OperationDone>{{*op1, {}, {}}, {*op3, {}, {}}}));
  EXPECT_EQ(s.outgoingInFlight(), 1u);
  (void)op2;
}

TEST(MqttSession, PersistentSessionKeepsIncomingQos2IdsAcrossReconnect) {
  auto o = baseOptions();
  o.cleanSession = false;
  MqttSession s(o, 1);
  connectSession(s, t0);
  feed(s, mqtt::Publish{"q", bytesOf("x"), QoS::ExactlyOnce, false, false, 9}, t0);
  EXPECT_EQ(only<DeliverMessage>(s.takeActions()).size(), 1u);
  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), t0);
  (void)s.takeActions();
  connectSession(s, t0, true);
  // The server did not see our PUBREC and sends the PUBLISH again.
  feed(s, mqtt::Publish{"q", bytesOf("x"), QoS::ExactlyOnce, false, true, 9}, t0);
  auto a = s.takeActions();
  EXPECT_TRUE(only<DeliverMessage>(a).empty());
  EXPECT_EQ(onlyPackets<mqtt::Pubrec>(a), (std::vector<mqtt::Pubrec>{{9}}));
}

TEST(MqttSession, UnackedIncomingQos1IsForgottenOnLossSoTheRedeliveryCanBeAcked) {
  auto o = baseOptions();
  o.cleanSession = false;
  o.autoAck = false;
  MqttSession s(o, 1);
  connectSession(s, t0);
  feed(s, mqtt::Publish{"q", bytesOf("x"), QoS::AtLeastOnce, false, false, 4}, t0);
  (void)s.takeActions();
  s.abort(t0);
  (void)s.takeActions();
  EXPECT_EQ(s.incomingHeld(), 0u);
  connectSession(s, t0, true);
  feed(s, mqtt::Publish{"q", bytesOf("x"), QoS::AtLeastOnce, false, true, 4}, t0);
  auto d = only<DeliverMessage>(s.takeActions());
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].message.dup);
  EXPECT_TRUE(s.ack(4, t0));
  EXPECT_EQ(onlyPackets<mqtt::Puback>(s.takeActions()), (std::vector<mqtt::Puback>{{4}}));
}

// ---------------------------------------------------------------------------------------------
// automatic reconnect

TEST(MqttSession, BackoffDoublesWithJitterUpToTheCap) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 50; ++round) {
    for (unsigned attempt = 0; attempt < 40; ++attempt) {
      const auto d = backoffDelay(attempt, 100ms, 10s, rng);
      const auto full = std::min<std::chrono::milliseconds>(100ms * (1LL << std::min(attempt, 20u)), 10s);
      ASSERT_GE(d, full / 2) << attempt;
      ASSERT_LE(d, full) << attempt;
    }
  }
  // Jitter: the same attempt does not always give the same delay.
  std::set<std::int64_t> seen;
  for (int i = 0; i < 20; ++i) seen.insert(backoffDelay(3, 100ms, 10s, rng).count());
  EXPECT_GT(seen.size(), 1u);
}

TEST(MqttSession, AutoReconnectRetriesWithGrowingBackoffUntilConnected) {
  auto o = baseOptions();
  o.autoReconnect = true;
  o.reconnectMin = 100ms;
  o.reconnectMax = 400ms;
  MqttSession s(o, 3);
  connectSession(s, t0);

  TimePoint now = t0 + 1s;
  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), now);
  EXPECT_EQ(only<ConnectionDown>(s.takeActions()).size(), 1u);
  const std::chrono::milliseconds caps[] = {100ms, 200ms, 400ms, 400ms};
  for (auto cap : caps) {
    ASSERT_EQ(s.state(), MqttSession::State::WaitingReconnect);
    const auto at = s.nextDeadline();
    ASSERT_TRUE(at);
    EXPECT_GE(*at - now, cap / 2);
    EXPECT_LE(*at - now, cap);
    s.onTimer(*at - 1ms);
    EXPECT_TRUE(s.takeActions().empty());
    now = *at;
    s.onTimer(now);
    auto a = s.takeActions();
    ASSERT_EQ(a.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<OpenTransport>(a[0]));
    s.onTransportClosed(std::make_error_code(std::errc::connection_refused), now);
    a = s.takeActions();
    EXPECT_TRUE(only<ConnectionDown>(a).empty()) << "failed attempts are not reported as closes";
    EXPECT_TRUE(only<ConnectDone>(a).empty()) << "nobody called connect()";
  }
  now = *s.nextDeadline();
  s.onTimer(now);
  s.onTransportOpen(now);
  feed(s, mqtt::Connack{}, now);
  auto a = s.takeActions();
  EXPECT_EQ(only<ConnectionUp>(a).size(), 1u);
  EXPECT_TRUE(only<ConnectDone>(a).empty());
  EXPECT_EQ(s.state(), MqttSession::State::Connected);

  // Backoff starts over after a success.
  now += 1s;
  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), now);
  (void)s.takeActions();
  EXPECT_LE(*s.nextDeadline() - now, 100ms);
}

TEST(MqttSession, AutoReconnectResubscribesWhenTheServerHasNoSession) {
  auto o = baseOptions();
  o.autoReconnect = true;
  MqttSession s(o, 1);
  connectSession(s, t0);
  auto op = s.subscribe({{"a/#", QoS::AtLeastOnce}, {"denied", QoS::AtMostOnce}, {"gone", QoS::ExactlyOnce}}, t0);
  ASSERT_TRUE(op);
  const auto id = onlyPackets<mqtt::Subscribe>(s.takeActions()).at(0).packetId;
  feed(s, mqtt::Suback{id, {0x01, mqtt::kSubackFailure, 0x02}}, t0);
  ASSERT_TRUE(s.unsubscribe({"gone"}, t0));
  (void)s.takeActions();

  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), t0);
  (void)s.takeActions();
  s.onTimer(*s.nextDeadline());
  s.onTransportOpen(t0 + 1s);
  (void)s.takeActions();
  feed(s, mqtt::Connack{false, mqtt::ConnectReturn::Accepted}, t0 + 1s);
  auto subs = onlyPackets<mqtt::Subscribe>(s.takeActions());
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].subscriptions, (std::vector<mqtt::Subscription>{{"a/#", QoS::AtLeastOnce}}))
      << "granted and not unsubscribed";
  feed(s, mqtt::Suback{subs[0].packetId, {0x01}}, t0 + 1s);
  EXPECT_TRUE(only<OperationDone>(s.takeActions()).empty()) << "the session's own SUBSCRIBE has no user operation";
}

TEST(MqttSession, NoResubscribeWhenTheServerKeptTheSession) {
  auto o = baseOptions();
  o.autoReconnect = true;
  o.cleanSession = false;
  MqttSession s(o, 1);
  connectSession(s, t0);
  ASSERT_TRUE(s.subscribe({{"a", QoS::AtLeastOnce}}, t0));
  feed(s, mqtt::Suback{onlyPackets<mqtt::Subscribe>(s.takeActions()).at(0).packetId, {0x01}}, t0);
  (void)s.takeActions();
  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), t0);
  (void)s.takeActions();
  s.onTimer(*s.nextDeadline());
  s.onTransportOpen(t0 + 1s);
  (void)s.takeActions();
  feed(s, mqtt::Connack{true, mqtt::ConnectReturn::Accepted}, t0 + 1s);
  EXPECT_TRUE(onlyPackets<mqtt::Subscribe>(s.takeActions()).empty());
}

TEST(MqttSession, DisconnectOrAbortStopsAutomaticReconnects) {
  auto o = baseOptions();
  o.autoReconnect = true;
  MqttSession s(o, 1);
  connectSession(s, t0);
  s.abort(t0);
  EXPECT_EQ(s.state(), MqttSession::State::Idle) << "a local close is not a lost connection";
  (void)s.takeActions();

  connectSession(s, t0);
  s.onTransportClosed(std::make_error_code(std::errc::connection_reset), t0);
  ASSERT_EQ(s.state(), MqttSession::State::WaitingReconnect);
  s.disconnect(t0);
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
  EXPECT_FALSE(s.nextDeadline());
}

TEST(MqttSession, FailedFirstConnectDoesNotStartReconnecting) {
  auto o = baseOptions();
  o.autoReconnect = true;
  MqttSession s(o, 1);
  ASSERT_FALSE(s.connect(t0));
  s.onTransportClosed(std::make_error_code(std::errc::connection_refused), t0);
  EXPECT_EQ(s.state(), MqttSession::State::Idle);
}

}  // namespace
}  // namespace fc::client::detail
