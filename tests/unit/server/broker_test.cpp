// The broker core without a store: sessions, CONNACK codes, wills, QoS 1/2 in both directions,
// packet ids, flow control, subscriptions, retained messages, resumption and restore. Every test
// drives the broker through StubPorts and asserts on the packets it sends, decoded.
#include "server/broker/broker.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "storage/broker_store.hpp"
#include "tests/unit/server/broker_test_support.hpp"

namespace fc::server::broker {
namespace {

using mqtt::ConnectReturn;
using mqtt::QoS;
using test::Client;
using test::connack;
using test::connectPacket;
using test::Packets;
using test::publish;

class BrokerTest : public ::testing::Test {
 protected:
  Broker& broker() {
    if (!broker_) {
      policy_ = std::make_unique<StaticAccessPolicy>(access_);
      broker_ = std::make_unique<Broker>(options_, *policy_, nullptr, deferred_.fn());
    }
    return *broker_;
  }

  /// Sends CONNECT on a new connection and returns it with whatever the broker answered unread.
  Client open(mqtt::Connect c, ConnectionInfo info = {"127.0.0.1:5000", false, ""}) {
    Client client{nextId_++, std::make_shared<test::StubPort>()};
    broker().onConnect(client.id, client.port, std::move(c), std::move(info));
    return client;
  }

  /// A connected client whose CONNACK (accepted, no session present) has been checked and read.
  Client connect(const std::string& clientId, std::optional<mqtt::Will> will = std::nullopt) {
    auto client = open(connectPacket(clientId, true, std::move(will)));
    EXPECT_EQ(client.port->take(), Packets{connack(false)}) << "connecting " << clientId;
    return client;
  }

  void send(const Client& c, mqtt::Packet p) { broker().onPacket(c.id, std::move(p)); }

  /// Subscribes and checks (and reads) the SUBACK granting `qos`.
  void subscribe(const Client& c, const std::string& filter, QoS qos, std::uint16_t packetId = 100) {
    send(c, mqtt::Subscribe{packetId, {{filter, qos}}});
    EXPECT_EQ(c.port->take(), Packets{mqtt::Suback({packetId, {static_cast<std::uint8_t>(qos)}})})
        << "subscribing to " << filter;
  }

  /// The packet id of the single PUBLISH `c` was sent since the last read.
  std::uint16_t takePublishId(const Client& c) {
    auto got = c.port->take();
    if (got.size() != 1 || !std::holds_alternative<mqtt::Publish>(got[0])) {
      ADD_FAILURE() << "expected one PUBLISH, got " << ::testing::PrintToString(got);
      return 0;
    }
    return std::get<mqtt::Publish>(got[0]).packetId;
  }

  BrokerOptions options_;
  MqttConfig access_;  // defaults: anonymous allowed, no ACL
  test::DeferQueue deferred_;
  std::unique_ptr<StaticAccessPolicy> policy_;
  std::unique_ptr<Broker> broker_;
  ConnectionId nextId_ = 1;
};

// --- CONNECT / CONNACK ------------------------------------------------------------------------

TEST_F(BrokerTest, ProtocolLevel5IsRefusedWith0x01AndClosed) {
  auto c = open(connectPacket("dev", true, std::nullopt, 5));
  EXPECT_EQ(c.port->take(), Packets{connack(false, ConnectReturn::UnacceptableProtocolVersion)});
  EXPECT_TRUE(c.port->closed());
  EXPECT_EQ(broker().stats().connections, 0u);
  EXPECT_EQ(broker().stats().sessions, 0u);
}

TEST_F(BrokerTest, Levels3And4AreAccepted) {
  auto v31 = open(connectPacket("old", true, std::nullopt, mqtt::kLevel31));
  auto v311 = open(connectPacket("new", true, std::nullopt, mqtt::kLevel311));
  EXPECT_EQ(v31.port->take(), Packets{connack(false)});
  EXPECT_EQ(v311.port->take(), Packets{connack(false)});
  EXPECT_FALSE(v31.port->closed());
  EXPECT_EQ(broker().stats().connections, 2u);
}

TEST_F(BrokerTest, EmptyClientIdWithCleanSession0IsRefusedWith0x02) {
  auto c = open(connectPacket("", /*cleanSession=*/false));
  EXPECT_EQ(c.port->take(), Packets{connack(false, ConnectReturn::IdentifierRejected)});
  EXPECT_TRUE(c.port->closed());
  EXPECT_EQ(broker().stats().sessions, 0u);
}

TEST_F(BrokerTest, EmptyClientIdWithCleanSession1GetsAFreshGeneratedId) {
  // "fc-1" is what the broker would generate first; it must pick another id rather than take
  // that session over.
  auto named = connect("fc-1");
  auto anon1 = open(connectPacket("", true));
  auto anon2 = open(connectPacket("", true));
  EXPECT_EQ(anon1.port->take(), Packets{connack(false)});
  EXPECT_EQ(anon2.port->take(), Packets{connack(false)});
  EXPECT_FALSE(named.port->closed());
  EXPECT_FALSE(anon1.port->closed());
  EXPECT_EQ(broker().stats().connections, 3u);
  EXPECT_EQ(broker().stats().sessions, 3u);
}

TEST_F(BrokerTest, BadPasswordIsRefusedWith0x04AndCreatesNoSession) {
  access_.users = {{"alice", "secret"}};
  auto c = open([] {
    auto p = connectPacket("dev");
    p.username = "alice";
    p.password = test::bytes("wrong");
    return p;
  }());
  EXPECT_EQ(c.port->take(), Packets{connack(false, ConnectReturn::BadUsernameOrPassword)});
  EXPECT_TRUE(c.port->closed());
  EXPECT_EQ(broker().stats().sessions, 0u);
}

TEST_F(BrokerTest, WillOnAForbiddenTopicIsRefusedWith0x05) {
  access_.acl = {AclRule{"*", "*", "dev/%c/#", true, true}};
  auto ok = open(connectPacket("d1", true, mqtt::Will{"dev/d1/status", test::bytes("off")}));
  auto bad = open(connectPacket("d2", true, mqtt::Will{"dev/d1/status", test::bytes("off")}));
  EXPECT_EQ(ok.port->take(), Packets{connack(false)});
  EXPECT_EQ(bad.port->take(), Packets{connack(false, ConnectReturn::NotAuthorized)});
  EXPECT_TRUE(bad.port->closed());
}

TEST_F(BrokerTest, TakeoverClosesTheOldConnectionAndPublishesItsWill) {
  auto watcher = connect("watcher");
  subscribe(watcher, "will/#", QoS::AtMostOnce);
  auto first = connect("dev", mqtt::Will{"will/dev", test::bytes("gone")});

  auto second = connect("dev");

  EXPECT_EQ(first.port->closeReasons(), std::vector<std::string>{"session taken over"});
  EXPECT_EQ(watcher.port->take(), Packets{publish("will/dev", "gone")});
  EXPECT_FALSE(second.port->closed());
  EXPECT_EQ(broker().stats().connections, 2u);

  // The old connection reports its close later; that must neither publish again nor touch the
  // new connection.
  broker().onClosed(first.id, "closed by server");
  EXPECT_TRUE(watcher.port->take().empty());
  EXPECT_EQ(broker().stats().connections, 2u);
  send(second, mqtt::Pingreq{});
  EXPECT_EQ(second.port->take(), Packets{mqtt::Pingresp{}});
}

TEST_F(BrokerTest, WillIsPublishedWhenTheConnectionDropsWithoutDisconnect) {
  auto watcher = connect("watcher");
  subscribe(watcher, "will/#", QoS::AtLeastOnce);
  auto dev = connect("dev", mqtt::Will{"will/dev", test::bytes("gone"), QoS::AtLeastOnce, /*retain=*/true});

  broker().onClosed(dev.id, "connection reset");

  auto got = watcher.port->take();
  ASSERT_EQ(got.size(), 1u);
  const auto& p = std::get<mqtt::Publish>(got[0]);
  EXPECT_EQ(p.topic, "will/dev");
  EXPECT_EQ(p.payload, test::bytes("gone"));
  EXPECT_EQ(p.qos, QoS::AtLeastOnce);
  EXPECT_FALSE(p.retain) << "live delivery carries retain 0 [MQTT-3.3.1-9]";
  EXPECT_EQ(broker().stats().retained, 1u) << "a will with retain set is kept as retained";
  EXPECT_EQ(broker().stats().sessions, 1u) << "the clean session of dev is gone";
}

TEST_F(BrokerTest, WillIsNotPublishedAfterDisconnect) {
  auto watcher = connect("watcher");
  subscribe(watcher, "will/#", QoS::AtMostOnce);
  auto dev = connect("dev", mqtt::Will{"will/dev", test::bytes("gone")});

  send(dev, mqtt::Disconnect{});
  EXPECT_EQ(dev.port->closeReasons(), std::vector<std::string>{"client disconnected"});
  broker().onClosed(dev.id, "eof");

  EXPECT_TRUE(watcher.port->take().empty());
  EXPECT_EQ(broker().stats().connections, 1u);
}

// --- QoS flows ----------------------------------------------------------------------------------

TEST_F(BrokerTest, Qos1PublishIsAcknowledgedAndRouted) {
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);
  auto pub = connect("pub");

  send(pub, publish("t", "hello", QoS::AtLeastOnce, 7));

  EXPECT_EQ(pub.port->take(), Packets{mqtt::Puback{7}});
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "hello", QoS::AtLeastOnce, 1)});
  EXPECT_EQ(broker().stats().publishesReceived, 1u);
  EXPECT_EQ(broker().stats().messagesSent, 1u);
}

TEST_F(BrokerTest, OutboundQos1CompletesOnlyOnThePubackWithItsId) {
  options_.maxInflight = 1;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);
  broker().publish("t", test::bytes("one"), QoS::AtLeastOnce, false);
  broker().publish("t", test::bytes("two"), QoS::AtLeastOnce, false);
  const auto id = takePublishId(sub);
  ASSERT_NE(id, 0);

  send(sub, mqtt::Puback{static_cast<std::uint16_t>(id + 1)});  // unknown id: ignored
  EXPECT_TRUE(sub.port->take().empty());
  send(sub, mqtt::Pubcomp{id});  // wrong acknowledgement type for QoS 1: ignored
  EXPECT_TRUE(sub.port->take().empty());

  send(sub, mqtt::Puback{id});
  auto got = sub.port->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<mqtt::Publish>(got[0]).payload, test::bytes("two"));
}

TEST_F(BrokerTest, InboundQos2IsRoutedOnceUntilPubrel) {
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtMostOnce);
  auto pub = connect("pub");

  send(pub, publish("t", "x", QoS::ExactlyOnce, 9));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Pubrec{9}});
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "x")});

  // The client did not see our PUBREC and sends the PUBLISH again: acknowledge, do not route.
  send(pub, publish("t", "x", QoS::ExactlyOnce, 9, false, /*dup=*/true));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Pubrec{9}});
  EXPECT_TRUE(sub.port->take().empty());

  send(pub, mqtt::Pubrel{9});
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Pubcomp{9}});

  // After PUBREL the id is free again: a PUBLISH with it is a new message.
  send(pub, publish("t", "y", QoS::ExactlyOnce, 9));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Pubrec{9}});
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "y")});
}

TEST_F(BrokerTest, PubrelForAnUnknownIdIsStillAnsweredWithPubcomp) {
  auto c = connect("c");
  send(c, mqtt::Pubrel{42});
  EXPECT_EQ(c.port->take(), Packets{mqtt::Pubcomp{42}});
}

TEST_F(BrokerTest, OutboundQos2GoesPubrecPubrelPubcomp) {
  options_.maxInflight = 1;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::ExactlyOnce);
  broker().publish("t", test::bytes("one"), QoS::ExactlyOnce, false);
  broker().publish("t", test::bytes("two"), QoS::ExactlyOnce, false);
  const auto id = takePublishId(sub);
  ASSERT_NE(id, 0);

  send(sub, mqtt::Puback{id});  // wrong acknowledgement type for QoS 2: ignored
  EXPECT_TRUE(sub.port->take().empty());

  send(sub, mqtt::Pubrec{id});
  EXPECT_EQ(sub.port->take(), Packets{mqtt::Pubrel{id}});
  send(sub, mqtt::Pubrec{id});  // repeated PUBREC: PUBREL again
  EXPECT_EQ(sub.port->take(), Packets{mqtt::Pubrel{id}});

  send(sub, mqtt::Pubcomp{id});  // frees the window: the second message goes out
  auto got = sub.port->take();
  ASSERT_EQ(got.size(), 1u);
  const auto& second = std::get<mqtt::Publish>(got[0]);
  EXPECT_EQ(second.payload, test::bytes("two"));
  EXPECT_EQ(second.qos, QoS::ExactlyOnce);
}

TEST_F(BrokerTest, PacketIdsSkipIdsInFlightAndNeverUseZero) {
  options_.maxInflight = 2;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);

  broker().publish("t", test::bytes("held"), QoS::AtLeastOnce, false);
  const auto held = takePublishId(sub);
  ASSERT_EQ(held, 1);  // left unacknowledged for the whole test

  // Go once round the id space with acknowledged messages; the next id after 65535 must skip
  // both 0 and the id still in flight.
  for (std::uint32_t expected = 2; expected <= 65535; ++expected) {
    broker().publish("t", test::bytes("x"), QoS::AtLeastOnce, false);
    const auto id = takePublishId(sub);
    ASSERT_EQ(id, expected);
    send(sub, mqtt::Puback{id});
  }
  broker().publish("t", test::bytes("wrapped"), QoS::AtLeastOnce, false);
  EXPECT_EQ(takePublishId(sub), 2);
}

TEST_F(BrokerTest, InflightWindowHoldsTheThirdMessageUntilAPuback) {
  options_.maxInflight = 2;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);
  for (auto payload : {"1", "2", "3"}) broker().publish("t", test::bytes(payload), QoS::AtLeastOnce, false);

  auto first = sub.port->take();
  ASSERT_EQ(first, (Packets{publish("t", "1", QoS::AtLeastOnce, 1), publish("t", "2", QoS::AtLeastOnce, 2)}));

  send(sub, mqtt::Puback{2});  // any acknowledgement frees a slot
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "3", QoS::AtLeastOnce, 3)});
}

TEST_F(BrokerTest, QueueOverflowDropsNewMessagesAndCountsThem) {
  options_.maxInflight = 1;
  options_.maxQueued = 2;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);
  for (auto payload : {"1", "2", "3", "4"}) broker().publish("t", test::bytes(payload), QoS::AtLeastOnce, false);
  EXPECT_EQ(broker().stats().messagesDropped, 1u);

  std::vector<std::string> received;
  for (int i = 0; i < 5; ++i) {
    auto got = sub.port->take();
    if (got.empty()) break;
    ASSERT_EQ(got.size(), 1u);
    const auto& p = std::get<mqtt::Publish>(got[0]);
    received.emplace_back(p.payload.begin(), p.payload.end());
    send(sub, mqtt::Puback{p.packetId});
  }
  EXPECT_EQ(received, (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(BrokerTest, SlowSubscribersQueueKeepsOrderAcrossBurstsAndInterleavedQos0) {
  // The session queue is a vector with a moving head: check it through many pushes and pops,
  // emptying and refilling, with QoS 0 messages waiting their turn behind QoS 1 ones.
  options_.maxInflight = 3;
  options_.maxQueued = 200;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);
  std::vector<std::string> expected;
  std::vector<std::string> received;
  int next = 0;
  for (int burst = 0; burst < 3; ++burst) {
    // 150 messages while only 3 may be in flight: 147 wait in the queue.
    for (int i = 0; i < 150; ++i, ++next) {
      const auto payload = std::to_string(next);
      broker().publish("t", test::bytes(payload), i % 5 == 4 ? QoS::AtMostOnce : QoS::AtLeastOnce, false);
      expected.push_back(payload);
    }
    // Acknowledge one at a time, oldest first, as a slow client would.
    for (int rounds = 0; rounds < 1000; ++rounds) {
      auto got = sub.port->take();
      if (got.empty()) break;
      for (const auto& packet : got) {
        const auto& p = std::get<mqtt::Publish>(packet);
        received.emplace_back(p.payload.begin(), p.payload.end());
        if (p.qos == QoS::AtLeastOnce) send(sub, mqtt::Puback{p.packetId});
      }
    }
    ASSERT_EQ(received, expected) << "burst " << burst;
  }
  EXPECT_EQ(broker().stats().messagesDropped, 0u);
  EXPECT_EQ(broker().stats().messagesSent, 450u);
}

TEST_F(BrokerTest, FanOutGivesEverySubscriberItsOwnPacketIdOverOneEncoding) {
  auto a = connect("a");
  auto b = connect("b");
  subscribe(a, "t", QoS::AtLeastOnce);
  subscribe(b, "t", QoS::AtLeastOnce);
  broker().publish("t", test::bytes("x"), QoS::AtLeastOnce, false);  // a: id 1, b: id 1
  send(a, mqtt::Puback{takePublishId(a)});
  EXPECT_EQ(b.port->take(), Packets{publish("t", "x", QoS::AtLeastOnce, 1)});
  broker().publish("t", test::bytes("y"), QoS::AtLeastOnce, false);  // a: id 2, b: id 2 (1 still in flight)
  broker().publish("t", test::bytes("z"), QoS::AtMostOnce, false);
  EXPECT_EQ(a.port->take(), (Packets{publish("t", "y", QoS::AtLeastOnce, 2), publish("t", "z")}));
  EXPECT_EQ(b.port->take(), (Packets{publish("t", "y", QoS::AtLeastOnce, 2), publish("t", "z")}));
  // A retained copy has the retain flag: it is not the shared encoding.
  broker().publish("r", test::bytes("kept"), QoS::AtLeastOnce, true);
  send(a, mqtt::Subscribe{7, {{"r", QoS::AtLeastOnce}}});
  EXPECT_EQ(a.port->take(), (Packets{mqtt::Suback({7, {1}}), publish("r", "kept", QoS::AtLeastOnce, 3, true)}));
}

TEST_F(BrokerTest, Qos0IsDroppedForAClientTooFarBehindButQos1IsNot) {
  options_.maxOutboundBytes = 100;
  auto sub = connect("sub");
  subscribe(sub, "t", QoS::AtLeastOnce);

  sub.port->pending = 101;
  broker().publish("t", test::bytes("q0"), QoS::AtMostOnce, false);
  broker().publish("t", test::bytes("q1"), QoS::AtLeastOnce, false);
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "q1", QoS::AtLeastOnce, 1)});
  EXPECT_EQ(broker().stats().messagesDropped, 1u);

  sub.port->pending = 100;  // at the limit, not beyond it
  broker().publish("t", test::bytes("q0 again"), QoS::AtMostOnce, false);
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "q0 again")});
  EXPECT_EQ(broker().stats().messagesDropped, 1u);
}

// --- subscriptions and retained messages ----------------------------------------------------------

TEST_F(BrokerTest, OverlappingSubscriptionsGetOneCopyAtTheHighestGrantedQos) {
  auto sub = connect("sub");
  send(sub, mqtt::Subscribe{1, {{"a/+", QoS::AtLeastOnce}, {"a/#", QoS::ExactlyOnce}, {"a/b", QoS::AtMostOnce}}});
  EXPECT_EQ(sub.port->take(), Packets{mqtt::Suback({1, {1, 2, 0}})});
  EXPECT_EQ(broker().stats().subscriptions, 3u);

  broker().publish("a/b", test::bytes("q2"), QoS::ExactlyOnce, false);
  EXPECT_EQ(sub.port->take(), Packets{publish("a/b", "q2", QoS::ExactlyOnce, 1)});

  broker().publish("a/b", test::bytes("q1"), QoS::AtLeastOnce, false);  // never above the message's QoS
  EXPECT_EQ(sub.port->take(), Packets{publish("a/b", "q1", QoS::AtLeastOnce, 2)});

  broker().publish("a/b", test::bytes("q0"), QoS::AtMostOnce, false);
  EXPECT_EQ(sub.port->take(), Packets{publish("a/b", "q0")});
}

TEST_F(BrokerTest, RetainedMessagesFollowTheSubackWithTheRetainFlag) {
  auto early = connect("early");
  subscribe(early, "r/#", QoS::AtLeastOnce);
  broker().publish("r/1", test::bytes("one"), QoS::AtLeastOnce, true);
  broker().publish("r/2", test::bytes("two"), QoS::AtMostOnce, true);
  broker().publish("other", test::bytes("no"), QoS::AtMostOnce, true);
  // Live delivery to an existing subscription carries retain 0 [MQTT-3.3.1-9].
  EXPECT_EQ(early.port->take(), (Packets{publish("r/1", "one", QoS::AtLeastOnce, 1), publish("r/2", "two")}));
  EXPECT_EQ(broker().stats().retained, 3u);

  auto late = connect("late");
  send(late, mqtt::Subscribe{5, {{"r/+", QoS::AtLeastOnce}}});
  EXPECT_EQ(late.port->take(),
            (Packets{mqtt::Suback({5, {1}}), publish("r/1", "one", QoS::AtLeastOnce, 1, /*retain=*/true),
                     publish("r/2", "two", QoS::AtMostOnce, 0, /*retain=*/true)}));
}

TEST_F(BrokerTest, RetainedMessageIsDowngradedToTheSubscriptionQos) {
  broker().publish("r", test::bytes("v"), QoS::ExactlyOnce, true);
  auto c = connect("c");
  send(c, mqtt::Subscribe{3, {{"r", QoS::AtMostOnce}}});
  EXPECT_EQ(c.port->take(), (Packets{mqtt::Suback({3, {0}}), publish("r", "v", QoS::AtMostOnce, 0, true)}));
}

TEST_F(BrokerTest, EmptyRetainedPayloadClearsTheTopicAndIsStillDelivered) {
  auto watcher = connect("watcher");
  subscribe(watcher, "r", QoS::AtMostOnce);
  auto pub = connect("pub");
  send(pub, publish("r", "v", QoS::AtMostOnce, 0, true));
  send(pub, publish("r", "", QoS::AtMostOnce, 0, true));
  EXPECT_EQ(watcher.port->take(), (Packets{publish("r", "v"), publish("r", "")}));
  EXPECT_EQ(broker().stats().retained, 0u);

  auto late = connect("late");
  send(late, mqtt::Subscribe{1, {{"#", QoS::AtMostOnce}}});
  EXPECT_EQ(late.port->take(), Packets{mqtt::Suback({1, {0}})});
}

TEST_F(BrokerTest, UnsubscribeIsAcknowledgedAndStopsDelivery) {
  auto c = connect("c");
  subscribe(c, "a", QoS::AtMostOnce);
  subscribe(c, "b", QoS::AtMostOnce);
  send(c, mqtt::Unsubscribe{7, {"a", "never-subscribed"}});
  EXPECT_EQ(c.port->take(), Packets{mqtt::Unsuback{7}});
  EXPECT_EQ(broker().stats().subscriptions, 1u);

  broker().publish("a", test::bytes("1"), QoS::AtMostOnce, false);
  broker().publish("b", test::bytes("2"), QoS::AtMostOnce, false);
  EXPECT_EQ(c.port->take(), Packets{publish("b", "2")});
}

TEST_F(BrokerTest, AccessPolicyDeniesSubscribeWith0x80AndPublishSilently) {
  access_.acl = {AclRule{"*", "*", "open/#", true, true}};
  auto sub = connect("sub");
  send(sub, mqtt::Subscribe{1, {{"open/x", QoS::AtLeastOnce}, {"closed/x", QoS::AtLeastOnce}}});
  EXPECT_EQ(sub.port->take(), Packets{mqtt::Suback({1, {1, mqtt::kSubackFailure}})});
  EXPECT_EQ(broker().stats().subscriptions, 1u);
}

TEST_F(BrokerTest, DeniedPublishIsAcknowledgedButNotRoutedWhileThePlatformBypassesThePolicy) {
  access_.acl = {AclRule{"*", "*", "#", /*read=*/true, /*write=*/false}, AclRule{"*", "*", "open/#", true, true}};
  auto sub = connect("sub");
  subscribe(sub, "closed/x", QoS::AtMostOnce);
  auto pub = connect("pub");

  send(pub, publish("closed/x", "no", QoS::AtLeastOnce, 3));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Puback{3}}) << "MQTT 3.1.1 cannot refuse a PUBLISH; it is acked";
  EXPECT_TRUE(sub.port->take().empty());
  EXPECT_EQ(broker().stats().publishesDenied, 1u);

  broker().publish("closed/x", test::bytes("platform"), QoS::AtMostOnce, false);
  EXPECT_EQ(sub.port->take(), Packets{publish("closed/x", "platform")});
}

// --- persistent sessions ------------------------------------------------------------------------

TEST_F(BrokerTest, SessionPresentFlagReflectsAStoredSession) {
  auto a = open(connectPacket("dev", false));
  EXPECT_EQ(a.port->take(), Packets{connack(false)});
  broker().onClosed(a.id, "eof");
  EXPECT_EQ(broker().stats().persistentSessions, 1u);

  auto b = open(connectPacket("dev", false));
  EXPECT_EQ(b.port->take(), Packets{connack(true)});
  broker().onClosed(b.id, "eof");

  // Clean session 1 discards the stored session and says so.
  auto c = open(connectPacket("dev", true));
  EXPECT_EQ(c.port->take(), Packets{connack(false)});
  broker().onClosed(c.id, "eof");
  EXPECT_EQ(broker().stats().sessions, 0u);
}

TEST_F(BrokerTest, SessionPresentIsAlways0ForMqtt31ButTheSessionIsKept) {
  auto a = open(connectPacket("old", false, std::nullopt, mqtt::kLevel31));
  EXPECT_EQ(a.port->take(), Packets{connack(false)});
  send(a, mqtt::Subscribe{1, {{"t", QoS::AtLeastOnce}}});
  a.port->take();
  broker().onClosed(a.id, "eof");
  broker().publish("t", test::bytes("while away"), QoS::AtLeastOnce, false);

  auto b = open(connectPacket("old", false, std::nullopt, mqtt::kLevel31));
  // MQTT 3.1's CONNACK has no session-present flag; the queued message shows the session is there.
  EXPECT_EQ(b.port->take(), (Packets{connack(false), publish("t", "while away", QoS::AtLeastOnce, 1)}));
}

TEST_F(BrokerTest, ResumeResendsInflightWithDupAndPubrelForReleasedThenTheQueue) {
  auto a = open(connectPacket("dev", false));
  a.port->take();
  send(a, mqtt::Subscribe{1, {{"q1", QoS::AtLeastOnce}, {"q2", QoS::ExactlyOnce}, {"q0", QoS::AtMostOnce}}});
  a.port->take();
  broker().publish("q1", test::bytes("first"), QoS::AtLeastOnce, false);
  broker().publish("q2", test::bytes("second"), QoS::ExactlyOnce, false);
  EXPECT_EQ(a.port->take(),
            (Packets{publish("q1", "first", QoS::AtLeastOnce, 1), publish("q2", "second", QoS::ExactlyOnce, 2)}));
  send(a, mqtt::Pubrec{2});
  EXPECT_EQ(a.port->take(), Packets{mqtt::Pubrel{2}});
  broker().onClosed(a.id, "connection reset");

  broker().publish("q1", test::bytes("offline"), QoS::AtLeastOnce, false);
  broker().publish("q0", test::bytes("lost"), QoS::AtMostOnce, false);  // QoS 0 is not kept offline
  EXPECT_EQ(broker().stats().messagesDropped, 1u);

  auto b = open(connectPacket("dev", false));
  EXPECT_EQ(b.port->take(), (Packets{connack(true), publish("q1", "first", QoS::AtLeastOnce, 1, false, /*dup=*/true),
                                     mqtt::Pubrel{2}, publish("q1", "offline", QoS::AtLeastOnce, 3)}));

  send(b, mqtt::Puback{1});
  send(b, mqtt::Pubcomp{2});
  send(b, mqtt::Puback{3});
  EXPECT_TRUE(b.port->take().empty());
}

TEST_F(BrokerTest, TakeoverOfAPersistentSessionResendsItsInflightOnTheNewConnection) {
  auto first = open(connectPacket("dev", false));
  send(first, mqtt::Subscribe{1, {{"t", QoS::AtLeastOnce}}});
  first.port->take();
  broker().publish("t", test::bytes("m"), QoS::AtLeastOnce, false);
  EXPECT_EQ(first.port->take(), Packets{publish("t", "m", QoS::AtLeastOnce, 1)});

  auto second = open(connectPacket("dev", false));
  EXPECT_TRUE(first.port->closed());
  EXPECT_EQ(second.port->take(), (Packets{connack(true), publish("t", "m", QoS::AtLeastOnce, 1, false, true)}));
  EXPECT_EQ(broker().stats().sessions, 1u);
}

TEST_F(BrokerTest, RestoreRebuildsSessionsAndRetainedMessages) {
  storage::BrokerSnapshot snapshot;
  storage::SessionRow row;
  row.clientId = "dev";
  row.subscriptions = {{"cmd/#", 1}};
  row.messages = {
      {5, "cmd/a", test::bytes("sent"), 1, false, 10, storage::MessageState::Sent},
      {6, "cmd/b", test::bytes("released"), 2, false, 11, storage::MessageState::Released},
      {7, "cmd/c", test::bytes("queued"), 1, false, 0, storage::MessageState::Queued},
  };
  row.inboundQos2 = {3};
  snapshot.sessions.push_back(row);
  snapshot.retained.push_back({"status/x", test::bytes("up"), 1});
  broker().restore(snapshot);

  auto stats = broker().stats();
  EXPECT_EQ(stats.sessions, 1u);
  EXPECT_EQ(stats.persistentSessions, 1u);
  EXPECT_EQ(stats.subscriptions, 1u);
  EXPECT_EQ(stats.retained, 1u);
  EXPECT_EQ(stats.connections, 0u);

  // Routed to the restored subscription while the client is still offline: queued behind seq 7.
  broker().publish("cmd/d", test::bytes("new"), QoS::AtLeastOnce, false);

  auto dev = open(connectPacket("dev", false));
  auto got = dev.port->take();
  ASSERT_EQ(got.size(), 5u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], connack(true));
  EXPECT_EQ(got[1], mqtt::Packet(publish("cmd/a", "sent", QoS::AtLeastOnce, 10, false, true)));
  EXPECT_EQ(got[2], mqtt::Packet(mqtt::Pubrel{11}));
  // Queued ones get fresh ids that avoid those still in flight.
  const auto& queued = std::get<mqtt::Publish>(got[3]);
  const auto& fresh = std::get<mqtt::Publish>(got[4]);
  EXPECT_EQ(queued.payload, test::bytes("queued"));
  EXPECT_EQ(fresh.payload, test::bytes("new"));
  const std::set<std::uint16_t> ids{10, 11, queued.packetId, fresh.packetId};
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_FALSE(ids.contains(0));

  // The restored inbound QoS 2 id: a PUBLISH with it is a resend, acknowledged but not routed.
  send(dev, mqtt::Subscribe{1, {{"in", QoS::AtMostOnce}}});
  dev.port->take();
  send(dev, publish("in", "dup", QoS::ExactlyOnce, 3, false, true));
  EXPECT_EQ(dev.port->take(), Packets{mqtt::Pubrec{3}});

  // Restored retained messages are served on subscribe.
  send(dev, mqtt::Subscribe{2, {{"status/+", QoS::AtLeastOnce}}});
  auto retained = dev.port->take();
  ASSERT_EQ(retained.size(), 2u);
  EXPECT_EQ(retained[0], mqtt::Packet(mqtt::Suback({2, {1}})));
  const auto& r = std::get<mqtt::Publish>(retained[1]);
  EXPECT_EQ(r.topic, "status/x");
  EXPECT_EQ(r.payload, test::bytes("up"));
  EXPECT_TRUE(r.retain);
  EXPECT_EQ(r.qos, QoS::AtLeastOnce);
}

// --- acknowledgement tokens -----------------------------------------------------------------------

/// Counts how often the broker told it of an acknowledgement.
class CountingAck final : public Acknowledgement {
 public:
  void acknowledged() override { ++count; }
  int count = 0;
};

// Mutations meant to be killed: reporting any subscriber's acknowledgement (not only the target's),
// reporting on PUBREC instead of PUBCOMP, reporting a QoS 0 copy.
TEST_F(BrokerTest, AnAckTokenIsToldWhenItsClientAcknowledgesItsCopyAndOnlyThen) {
  auto target = connect("target");
  auto other = connect("other");
  subscribe(target, "cmd/q1", QoS::AtLeastOnce);
  subscribe(other, "cmd/q1", QoS::AtLeastOnce);
  auto ack = std::make_shared<CountingAck>();
  broker().publishFor("cmd/q1", test::bytes("go"), QoS::AtLeastOnce, "target", ack);
  const auto otherId = takePublishId(other);
  send(other, mqtt::Puback{otherId});
  EXPECT_EQ(ack->count, 0) << "another subscriber's PUBACK is not the target's";
  send(target, mqtt::Puback{takePublishId(target)});
  EXPECT_EQ(ack->count, 1);

  subscribe(target, "cmd/q2", QoS::ExactlyOnce);
  auto ack2 = std::make_shared<CountingAck>();
  broker().publishFor("cmd/q2", test::bytes("go"), QoS::ExactlyOnce, "target", ack2);
  const auto id = takePublishId(target);
  send(target, mqtt::Pubrec{id});
  EXPECT_EQ(target.port->take(), Packets{mqtt::Pubrel{id}});
  EXPECT_EQ(ack2->count, 0) << "QoS 2 is delivered at PUBCOMP, not PUBREC";
  send(target, mqtt::Pubcomp{id});
  EXPECT_EQ(ack2->count, 1);

  // Granted QoS 0: nothing will acknowledge it, and the token goes with the message.
  subscribe(target, "cmd/q0", QoS::AtMostOnce);
  auto ack0 = std::make_shared<CountingAck>();
  std::weak_ptr<CountingAck> watch = ack0;
  broker().publishFor("cmd/q0", test::bytes("go"), QoS::AtLeastOnce, "target", std::move(ack0));
  EXPECT_EQ(target.port->take(), Packets{publish("cmd/q0", "go")});
  EXPECT_TRUE(watch.expired()) << "an unacknowledgeable send must not keep its token";
}

// --- protocol violations --------------------------------------------------------------------------

TEST_F(BrokerTest, SecondConnectClosesTheConnectionAndPublishesTheWill) {
  auto watcher = connect("watcher");
  subscribe(watcher, "will/#", QoS::AtMostOnce);
  auto dev = connect("dev", mqtt::Will{"will/dev", test::bytes("gone")});

  send(dev, connectPacket("dev"));

  ASSERT_TRUE(dev.port->closed());
  EXPECT_NE(dev.port->closeReasons()[0].find("CONNECT"), std::string::npos) << dev.port->closeReasons()[0];
  EXPECT_TRUE(dev.port->take().empty()) << "no CONNACK for a second CONNECT";
  EXPECT_EQ(watcher.port->take(), Packets{publish("will/dev", "gone")});
  EXPECT_EQ(broker().stats().connections, 1u);

  send(dev, publish("will/dev", "after close"));  // late packets of a closed connection are ignored
  EXPECT_TRUE(watcher.port->take().empty());
}

TEST_F(BrokerTest, SubackFromAClientClosesTheConnectionAndPublishesTheWill) {
  auto watcher = connect("watcher");
  subscribe(watcher, "will/#", QoS::AtMostOnce);
  auto dev = connect("dev", mqtt::Will{"will/dev", test::bytes("gone")});

  send(dev, mqtt::Suback{1, {0}});

  ASSERT_TRUE(dev.port->closed());
  EXPECT_NE(dev.port->closeReasons()[0].find("SUBACK"), std::string::npos) << dev.port->closeReasons()[0];
  EXPECT_EQ(watcher.port->take(), Packets{publish("will/dev", "gone")});
}

TEST_F(BrokerTest, NoStoreMeansNothingIsDeferred) {
  auto a = open(connectPacket("dev", false));
  send(a, mqtt::Subscribe{1, {{"t", QoS::AtLeastOnce}}});
  send(a, publish("t", "x", QoS::ExactlyOnce, 4));
  // The PUBLISH is routed (to the sender itself) before it is acknowledged.
  EXPECT_EQ(a.port->take(),
            (Packets{connack(false), mqtt::Suback({1, {1}}), publish("t", "x", QoS::AtLeastOnce, 1), mqtt::Pubrec{4}}));
  EXPECT_EQ(deferred_.size(), 0u);
}

}  // namespace
}  // namespace fc::server::broker
