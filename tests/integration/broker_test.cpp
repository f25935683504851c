// The broker's MQTT behaviour, end to end: the real fakecloud binary driven by the client library.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "client/sync_mqtt_client.hpp"
#include "protocols/mqtt/codec.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;

/// One server for the suite; each test uses its own client ids and topics.
class Broker : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  /// A connected client; fails the test if the CONNACK is not Accepted.
  static std::unique_ptr<SyncMqttClient> connect(client::MqttOptions o) {
    auto c = std::make_unique<SyncMqttClient>(std::move(o));
    auto ack = c->connect();
    EXPECT_TRUE(ack) << (ack ? "" : ack.error().message());
    if (ack) {
      EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
    }
    return c;
  }
  static std::unique_ptr<SyncMqttClient> connect(const std::string& id, bool clean = true) {
    return connect(server_->mqtt(id, clean));
  }

  static ServerProcess* server_;
};
ServerProcess* Broker::server_ = nullptr;

TEST_F(Broker, Qos0And1And2RoundTripAtTheGrantedQos) {
  auto sub = connect("rt-sub");
  ASSERT_TRUE(sub->subscribe("rt/q2", QoS::ExactlyOnce));
  ASSERT_TRUE(sub->subscribe("rt/q1", QoS::AtLeastOnce));
  auto pub = connect("rt-pub");
  for (auto q : {QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce}) {
    ASSERT_FALSE(pub->publish("rt/q2", "to-q2-" + std::to_string(int(q)), q));
    ASSERT_FALSE(pub->publish("rt/q1", "to-q1-" + std::to_string(int(q)), q));
  }
  // Delivered QoS is min(publish QoS, granted QoS) [MQTT-3.8.4-6]; order per topic is kept.
  std::vector<std::pair<std::string, QoS>> want = {
      {"to-q2-0", QoS::AtMostOnce},  {"to-q1-0", QoS::AtMostOnce},  {"to-q2-1", QoS::AtLeastOnce},
      {"to-q1-1", QoS::AtLeastOnce}, {"to-q2-2", QoS::ExactlyOnce}, {"to-q1-2", QoS::AtLeastOnce}};
  for (const auto& [payload, qos] : want) {
    auto m = sub->receive();
    ASSERT_TRUE(m) << "missing " << payload;
    EXPECT_EQ(text(m->payload), payload);
    EXPECT_EQ(m->qos, qos) << payload;
    EXPECT_FALSE(m->retain);
    EXPECT_FALSE(m->dup);
  }
  EXPECT_FALSE(sub->receive(300ms));
}

TEST_F(Broker, ManyQos1MessagesArriveInOrderOnce) {
  auto sub = connect("order-sub");
  ASSERT_TRUE(sub->subscribe("order/t", QoS::AtLeastOnce));
  auto pub = connect("order-pub");
  constexpr int kCount = 300;  // more than the in-flight window, so the queue is exercised
  for (int i = 0; i < kCount; ++i) pub->async().publish("order/t", bytes(std::to_string(i)), QoS::AtLeastOnce, false);
  for (int i = 0; i < kCount; ++i) {
    auto m = sub->receive();
    ASSERT_TRUE(m) << "message " << i << " missing";
    ASSERT_EQ(text(m->payload), std::to_string(i));
  }
  EXPECT_FALSE(sub->receive(300ms));
}

TEST_F(Broker, RetainedMessagesAreStoredReplacedAndCleared) {
  auto pub = connect("ret-pub");
  ASSERT_FALSE(pub->publish("ret/a", "first", QoS::AtLeastOnce, true));
  ASSERT_FALSE(pub->publish("ret/a", "second", QoS::AtLeastOnce, true));
  ASSERT_FALSE(pub->publish("ret/b", "bee", QoS::AtMostOnce, true));

  auto sub = connect("ret-sub");
  ASSERT_TRUE(sub->subscribe("ret/+", QoS::AtLeastOnce));
  auto got = sub->receiveAll();
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, client::Message> byTopic;
  for (auto& m : got) byTopic[m.topic] = m;
  EXPECT_EQ(text(byTopic["ret/a"].payload), "second");
  EXPECT_TRUE(byTopic["ret/a"].retain);
  EXPECT_EQ(byTopic["ret/a"].qos, QoS::AtLeastOnce);
  EXPECT_EQ(text(byTopic["ret/b"].payload), "bee");
  EXPECT_EQ(byTopic["ret/b"].qos, QoS::AtMostOnce);

  // A live subscriber gets a retained publish with retain 0 [MQTT-3.3.1-9].
  ASSERT_FALSE(pub->publish("ret/a", "third", QoS::AtLeastOnce, true));
  auto live = sub->receive();
  ASSERT_TRUE(live);
  EXPECT_EQ(text(live->payload), "third");
  EXPECT_FALSE(live->retain);

  // An empty retained payload clears the topic [MQTT-3.3.1-10].
  ASSERT_FALSE(pub->publish("ret/a", "", QoS::AtLeastOnce, true));
  ASSERT_TRUE(sub->receive());  // the empty message itself still reaches live subscribers
  auto late = connect("ret-late");
  ASSERT_TRUE(late->subscribe("ret/#", QoS::AtLeastOnce));
  auto after = late->receiveAll();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].topic, "ret/b");
}

TEST_F(Broker, WillIsPublishedOnAbnormalCloseOnly) {
  auto watcher = connect("will-watch");
  ASSERT_TRUE(watcher->subscribe("will/#", QoS::AtLeastOnce));

  auto o = server_->mqtt("will-abort");
  o.will = mqtt::Will{"will/abort", bytes("gone"), QoS::AtLeastOnce, false};
  auto dying = connect(o);
  dying->abort();
  auto m = watcher->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "will/abort");
  EXPECT_EQ(text(m->payload), "gone");

  auto o2 = server_->mqtt("will-clean");
  o2.will = mqtt::Will{"will/clean", bytes("should not"), QoS::AtLeastOnce, false};
  auto polite = connect(o2);
  polite->disconnect();
  EXPECT_FALSE(watcher->receive(500ms)) << "DISCONNECT must discard the will [MQTT-3.14.4-3]";
}

TEST_F(Broker, RetainedWillIsKeptForLaterSubscribers) {
  auto o = server_->mqtt("will-retain");
  o.will = mqtt::Will{"will-r/status", bytes("offline"), QoS::AtLeastOnce, true};
  const auto retained = [] { return call(*server_, "GET", "/api/v1/admin/stats").body["mqtt"]["retained"].get<int>(); };
  const int before = retained();
  connect(o)->abort();
  for (int i = 0; i < 1000 && retained() == before; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(retained(), before + 1) << "the will is retained";
  auto late = connect("will-retain-late");
  ASSERT_TRUE(late->subscribe("will-r/status", QoS::AtLeastOnce));
  auto m = late->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "offline");
  EXPECT_TRUE(m->retain);
}

TEST_F(Broker, KeepaliveExpiryClosesTheClientAndPublishesItsWill) {
  auto watcher = connect("ka-watch");
  ASSERT_TRUE(watcher->subscribe("ka/will", QoS::AtMostOnce));
  auto o = server_->mqtt("ka-silent");
  o.keepAlive = 1;
  o.sendPingreq = false;
  o.will = mqtt::Will{"ka/will", bytes("timed out"), QoS::AtMostOnce, false};
  auto silent = connect(o);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(silent->waitClosed(5s)) << "the server must close after 1.5 x keepalive";
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 1200ms) << "closed before 1.5 x keepalive";
  auto m = watcher->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "timed out");
}

TEST_F(Broker, PingingClientStaysConnected) {
  auto o = server_->mqtt("ka-pinger");
  o.keepAlive = 1;
  auto pinger = connect(o);
  EXPECT_FALSE(pinger->waitClosed(3s));
  EXPECT_TRUE(pinger->connected());
}

TEST_F(Broker, SecondConnectionWithTheSameIdTakesTheSessionOver) {
  auto watcher = connect("take-watch");
  ASSERT_TRUE(watcher->subscribe("take/will", QoS::AtMostOnce));
  auto o = server_->mqtt("take-me", false);
  o.will = mqtt::Will{"take/will", bytes("taken over"), QoS::AtMostOnce, false};
  auto first = connect(o);
  ASSERT_TRUE(first->subscribe("take/data", QoS::AtLeastOnce));

  auto second = std::make_unique<SyncMqttClient>(server_->mqtt("take-me", false));
  auto ack = second->connect();
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->sessionPresent);
  EXPECT_TRUE(first->waitClosed(3s)) << "the first connection must be closed";
  auto will = watcher->receive();
  ASSERT_TRUE(will) << "a takeover publishes the old connection's will";
  EXPECT_EQ(text(will->payload), "taken over");

  // The session (and its subscription) moved to the second connection.
  auto pub = connect("take-pub");
  ASSERT_FALSE(pub->publish("take/data", "hello", QoS::AtLeastOnce));
  auto m = second->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "hello");
  // Leave no persistent session behind for other tests.
  second->disconnect();
  connect("take-me", true)->disconnect();
}

TEST_F(Broker, EmptyClientIdIsAssignedWithCleanSessionAndRejectedWithout) {
  auto anon = std::make_unique<SyncMqttClient>(server_->mqtt(""));
  auto ack = anon->connect();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
  ASSERT_TRUE(anon->subscribe("anon/t", QoS::AtMostOnce));

  // Two anonymous clients get distinct ids: both stay connected.
  auto anon2 = connect(server_->mqtt(""));
  EXPECT_FALSE(anon->waitClosed(300ms));

  auto persistentAnon = std::make_unique<SyncMqttClient>(server_->mqtt("", false));
  auto refused = persistentAnon->connect();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->returnCode, mqtt::ConnectReturn::IdentifierRejected);  // [MQTT-3.1.3-8]
}

TEST_F(Broker, OverlappingSubscriptionsDeliverOneCopyAtTheHighestQos) {
  auto sub = connect("overlap-sub");
  ASSERT_TRUE(sub->subscribe({{"ov/+", QoS::AtMostOnce}, {"ov/#", QoS::ExactlyOnce}, {"ov/x", QoS::AtLeastOnce}}));
  auto pub = connect("overlap-pub");
  ASSERT_FALSE(pub->publish("ov/x", "once", QoS::ExactlyOnce));
  auto got = sub->receiveAll();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].qos, QoS::ExactlyOnce);
}

TEST_F(Broker, DollarTopicsAreNotMatchedByLeadingWildcards) {
  auto all = connect("dollar-all");
  ASSERT_TRUE(all->subscribe({{"#", QoS::AtMostOnce}, {"+/info", QoS::AtMostOnce}}));
  auto sys = connect("dollar-sys");
  ASSERT_TRUE(sys->subscribe("$SYS/#", QoS::AtMostOnce));
  auto plus = connect("dollar-plus");
  ASSERT_TRUE(plus->subscribe("$SYS/+", QoS::AtMostOnce));
  all->receiveAll(200ms);  // whatever other tests left retained

  auto pub = connect("dollar-pub");
  ASSERT_FALSE(pub->publish("$SYS/info", "sys", QoS::AtLeastOnce));
  auto s = sys->receive();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->topic, "$SYS/info");
  ASSERT_TRUE(plus->receive());
  for (const auto& m : all->receiveAll(300ms)) EXPECT_NE(m.topic, "$SYS/info") << "[MQTT-4.7.2-1]";
}

TEST_F(Broker, UnsubscribeStopsDelivery) {
  auto sub = connect("unsub-sub");
  ASSERT_TRUE(sub->subscribe("unsub/t", QoS::AtLeastOnce));
  auto pub = connect("unsub-pub");
  ASSERT_FALSE(pub->publish("unsub/t", "before", QoS::AtLeastOnce));
  ASSERT_TRUE(sub->receive());
  ASSERT_FALSE(sub->unsubscribe({"unsub/t"}));
  ASSERT_FALSE(pub->publish("unsub/t", "after", QoS::AtLeastOnce));
  EXPECT_FALSE(sub->receive(500ms));
}

TEST_F(Broker, Mqtt31ClientsWork) {
  auto o = server_->mqtt("v31-sub");
  o.protocolLevel = mqtt::kLevel31;
  auto sub = connect(o);
  ASSERT_TRUE(sub->subscribe("v31/t", QoS::ExactlyOnce));
  auto o2 = server_->mqtt("v31-pub");
  o2.protocolLevel = mqtt::kLevel31;
  auto pub = connect(o2);
  ASSERT_FALSE(pub->publish("v31/t", "old but gold", QoS::ExactlyOnce));
  auto m = sub->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "old but gold");
  EXPECT_EQ(m->qos, QoS::ExactlyOnce);
}

TEST_F(Broker, PersistentSessionQueuesWhileOfflineAndReportsSessionPresent) {
  {
    auto sub = connect("queue-sub", false);
    ASSERT_TRUE(sub->subscribe("queue/t", QoS::AtLeastOnce));
    sub->disconnect();
  }
  auto pub = connect("queue-pub");
  for (int i = 0; i < 5; ++i) ASSERT_FALSE(pub->publish("queue/t", std::to_string(i), QoS::AtLeastOnce));
  ASSERT_FALSE(pub->publish("queue/t", "qos0 is not queued", QoS::AtMostOnce));

  auto sub = std::make_unique<SyncMqttClient>(server_->mqtt("queue-sub", false));
  auto ack = sub->connect();
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->sessionPresent);
  for (int i = 0; i < 5; ++i) {
    auto m = sub->receive();
    ASSERT_TRUE(m);
    EXPECT_EQ(text(m->payload), std::to_string(i));
  }
  EXPECT_FALSE(sub->receive(300ms));
  sub->disconnect();
  // A clean-session connect discards the stored session [MQTT-3.1.2-6].
  auto clean = std::make_unique<SyncMqttClient>(server_->mqtt("queue-sub", true));
  auto cleanAck = clean->connect();
  ASSERT_TRUE(cleanAck);
  EXPECT_FALSE(cleanAck->sessionPresent);
}

TEST_F(Broker, UnacknowledgedMessagesAreRedeliveredWithDup) {
  auto o = server_->mqtt("dup-sub", false);
  o.autoAck = false;
  {
    auto sub = connect(o);
    ASSERT_TRUE(sub->subscribe("dup/t", QoS::ExactlyOnce));
    auto pub = connect("dup-pub");
    ASSERT_FALSE(pub->publish("dup/t", "one", QoS::AtLeastOnce));
    ASSERT_FALSE(pub->publish("dup/t", "two", QoS::ExactlyOnce));
    auto first = sub->receive();
    ASSERT_TRUE(first);
    EXPECT_FALSE(first->dup);
    ASSERT_TRUE(sub->receive());
    sub->abort();  // neither acknowledged
  }
  o.autoAck = true;
  auto again = connect(o);
  auto a = again->receive();
  auto b = again->receive();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(text(a->payload), "one");
  EXPECT_TRUE(a->dup) << "[MQTT-4.4.0-1]";
  EXPECT_EQ(text(b->payload), "two");
  EXPECT_TRUE(b->dup);
  EXPECT_FALSE(again->receive(300ms)) << "acknowledged now: nothing more";
  again->disconnect();
  connect("dup-sub", true)->disconnect();
}

}  // namespace
}  // namespace fc::test
