// The broker core over a real BrokerStore (in-memory SQLite behind a Writer thread): that an
// acknowledgement which depends on something stored is not sent before the commit, that replies on
// one connection keep their order while some wait, and that what is stored rebuilds the sessions.
//
// Commit callbacks arrive on the writer thread and queue into a DeferQueue; the test thread runs
// them. To hold a commit back deterministically, a WriterGate queues an operation that blocks the
// writer until released: nothing submitted after it can commit before it does.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/broker/broker.hpp"
#include "storage/broker_store.hpp"
#include "storage/database.hpp"
#include "storage/migrations.hpp"
#include "storage/writer.hpp"
#include "tests/unit/server/broker_test_support.hpp"

namespace fc::server::broker {
namespace {

using mqtt::QoS;
using storage::MessageState;
using test::Client;
using test::connack;
using test::connectPacket;
using test::Packets;
using test::publish;

storage::Database migratedMemoryDatabase() {
  auto db = storage::Database::open(":memory:");
  storage::migrate(db);
  return db;
}

/// Holds the writer thread inside one operation until released (at the latest on destruction).
class WriterGate {
 public:
  explicit WriterGate(storage::Writer& writer) {
    writer.submit([open = open_.get_future().share()](storage::Database&) { open.wait(); });
  }
  ~WriterGate() { release(); }
  WriterGate(const WriterGate&) = delete;
  WriterGate& operator=(const WriterGate&) = delete;

  void release() {
    if (released_) return;
    released_ = true;
    open_.set_value();
  }

 private:
  std::promise<void> open_;
  bool released_ = false;
};

class BrokerPersistenceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    broker_.reset();
    writer_.flush();
    std::lock_guard lock(errorsMutex_);
    EXPECT_TRUE(errors_.empty()) << "the store reported: " << ::testing::PrintToString(errors_);
  }

  Client open(mqtt::Connect c) {
    Client client{nextId_++, std::make_shared<test::StubPort>()};
    broker_->onConnect(client.id, client.port, std::move(c), {"127.0.0.1:5000", false, ""});
    return client;
  }
  void send(const Client& c, mqtt::Packet p) { broker_->onPacket(c.id, std::move(p)); }

  /// Lets every commit happen and runs what the broker deferred, until nothing more is pending.
  void settle() {
    for (;;) {
      writer_.flush();  // callbacks queued before this one have run, so they are in deferred_
      if (deferred_.runAll() == 0) return;
    }
  }

  /// A connected client, settled, with its CONNACK checked and read.
  Client connect(const std::string& clientId, bool cleanSession, bool sessionPresent = false) {
    auto c = open(connectPacket(clientId, cleanSession));
    settle();
    EXPECT_EQ(c.port->take(), Packets{connack(sessionPresent)}) << "connecting " << clientId;
    return c;
  }

  void subscribe(const Client& c, const std::string& filter, QoS qos, std::uint16_t packetId = 100) {
    send(c, mqtt::Subscribe{packetId, {{filter, qos}}});
    settle();
    EXPECT_EQ(c.port->take(), Packets{mqtt::Suback({packetId, {static_cast<std::uint8_t>(qos)}})});
  }

  /// No reply may arrive while the writer is held: give a wrongly-immediate path a moment.
  void expectNothingWhileHeld(const Client& c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto early = c.port->take();
    EXPECT_TRUE(early.empty()) << "sent before the commit: " << ::testing::PrintToString(early);
    EXPECT_EQ(deferred_.size(), 0u) << "a commit callback ran although the writer is held";
  }

  /// Releases the gate and runs the deferred replies once the commit callback arrives.
  void releaseAndSettle(WriterGate& gate) {
    gate.release();
    EXPECT_TRUE(deferred_.waitFor(1)) << "no commit callback within 5 s";
    settle();
  }

  const storage::SessionRow* storedSession(const storage::BrokerSnapshot& snap, const std::string& clientId) {
    for (const auto& s : snap.sessions)
      if (s.clientId == clientId) return &s;
    return nullptr;
  }

  // Declaration order is destruction order reversed: the writer may still queue callbacks into
  // deferred_ while it stops, and reports into errors_.
  test::DeferQueue deferred_;
  std::mutex errorsMutex_;
  std::vector<std::string> errors_;
  storage::Database db_ = migratedMemoryDatabase();
  storage::Writer writer_{db_, [this](const std::string& m) {
                            std::lock_guard lock(errorsMutex_);
                            errors_.push_back(m);
                          }};
  storage::BrokerStore store_{writer_};
  MqttConfig access_;
  StaticAccessPolicy policy_{access_};
  std::unique_ptr<Broker> broker_ = std::make_unique<Broker>(BrokerOptions{}, policy_, &store_, deferred_.fn());
  ConnectionId nextId_ = 1;
};

TEST_F(BrokerPersistenceTest, ConnackOfANewPersistentSessionWaitsForTheCommit) {
  WriterGate gate(writer_);
  auto keeper = open(connectPacket("keeper", /*cleanSession=*/false));
  expectNothingWhileHeld(keeper);

  // A clean session stores nothing, so its CONNACK does not wait.
  auto passer = open(connectPacket("passer", true));
  EXPECT_EQ(passer.port->take(), Packets{connack(false)});

  releaseAndSettle(gate);
  EXPECT_EQ(keeper.port->take(), Packets{connack(false)});
  ASSERT_EQ(store_.load().sessions.size(), 1u);
  EXPECT_EQ(store_.load().sessions[0].clientId, "keeper");
}

TEST_F(BrokerPersistenceTest, PubackWaitsForTheCommitWhenAPersistentSubscriberGotTheMessage) {
  auto keeper = connect("keeper", false);
  subscribe(keeper, "t", QoS::AtLeastOnce);
  auto pub = connect("pub", true);

  WriterGate gate(writer_);
  send(pub, publish("t", "m", QoS::AtLeastOnce, 5));
  EXPECT_EQ(keeper.port->take(), Packets{publish("t", "m", QoS::AtLeastOnce, 1)});
  expectNothingWhileHeld(pub);

  releaseAndSettle(gate);
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Puback{5}});
  const auto snap = store_.load();
  const auto* row = storedSession(snap, "keeper");
  ASSERT_NE(row, nullptr);
  ASSERT_EQ(row->messages.size(), 1u);
  EXPECT_EQ(row->messages[0].topic, "t");
  EXPECT_EQ(row->messages[0].packetId, 1);
  EXPECT_EQ(row->messages[0].state, MessageState::Sent);
}

TEST_F(BrokerPersistenceTest, PubackDoesNotWaitWhenNothingWasStored) {
  auto sub = connect("sub", true);
  subscribe(sub, "t", QoS::AtLeastOnce);
  auto pub = connect("pub", true);

  WriterGate gate(writer_);
  send(pub, publish("t", "m", QoS::AtLeastOnce, 5));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Puback{5}});
  EXPECT_EQ(sub.port->take(), Packets{publish("t", "m", QoS::AtLeastOnce, 1)});
}

TEST_F(BrokerPersistenceTest, PubrecAndPubcompWaitForTheInboundQos2IdToBeStoredAndRemoved) {
  auto dev = connect("dev", false);

  WriterGate gate(writer_);
  send(dev, publish("t", "m", QoS::ExactlyOnce, 77));
  expectNothingWhileHeld(dev);
  releaseAndSettle(gate);
  EXPECT_EQ(dev.port->take(), Packets{mqtt::Pubrec{77}});
  ASSERT_EQ(store_.load().sessions.size(), 1u);
  EXPECT_EQ(store_.load().sessions[0].inboundQos2, std::vector<std::uint16_t>{77});

  WriterGate gate2(writer_);
  send(dev, mqtt::Pubrel{77});
  expectNothingWhileHeld(dev);
  releaseAndSettle(gate2);
  EXPECT_EQ(dev.port->take(), Packets{mqtt::Pubcomp{77}});
  EXPECT_TRUE(store_.load().sessions[0].inboundQos2.empty());
}

TEST_F(BrokerPersistenceTest, ADeferredPubackAndALaterImmediateOneComeOutInOrder) {
  auto keeper = connect("keeper", false);
  subscribe(keeper, "stored", QoS::AtLeastOnce);
  auto pub = connect("pub", true);

  WriterGate gate(writer_);
  send(pub, publish("stored", "1", QoS::AtLeastOnce, 1));  // stored for keeper: waits for the commit
  send(pub, publish("nobody", "2", QoS::AtLeastOnce, 2));  // stores nothing, but must queue behind 1
  send(pub, mqtt::Pingreq{});
  expectNothingWhileHeld(pub);

  releaseAndSettle(gate);
  EXPECT_EQ(pub.port->take(), (Packets{mqtt::Puback{1}, mqtt::Puback{2}, mqtt::Pingresp{}}));

  // Once the queue is empty, replies that store nothing are immediate again.
  send(pub, publish("nobody", "3", QoS::AtLeastOnce, 3));
  EXPECT_EQ(pub.port->take(), Packets{mqtt::Puback{3}});
}

TEST_F(BrokerPersistenceTest, SubackOfAPersistentSessionWaitsAndRetainedMessagesFollowIt) {
  broker_->publish("r/1", test::bytes("kept"), QoS::AtLeastOnce, true);
  auto keeper = connect("keeper", false);

  WriterGate gate(writer_);
  send(keeper, mqtt::Subscribe{9, {{"r/#", QoS::AtLeastOnce}}});
  expectNothingWhileHeld(keeper);
  releaseAndSettle(gate);
  EXPECT_EQ(keeper.port->take(),
            (Packets{mqtt::Suback({9, {1}}), publish("r/1", "kept", QoS::AtLeastOnce, 1, /*retain=*/true)}));
  ASSERT_EQ(store_.load().sessions.size(), 1u);
  EXPECT_EQ(store_.load().sessions[0].subscriptions, (std::vector<storage::SubscriptionRow>{{"r/#", 1}}));
}

// Issue 13 §2: a SUBACK is sent before anything its subscription delivers, and packets the client
// sent after the SUBSCRIBE take effect after it. iotkit-embedded installs a topic's handler only
// when the SUBACK arrives. Mutations these tests are meant to kill (in broker.cpp):
// - onSubscribe adds to the tree before the SUBACK goes out        → PUBLISH ahead of SUBACK
// - packet() handles a packet while Link::held is set              → PUBLISH ahead of SUBACK
// - release() drops the held packets, or handles them before activate() → message lost
// - detach() forgets the held subscription                         → not matched / not restored
class SubackFirst : public BrokerPersistenceTest, public ::testing::WithParamInterface<QoS> {};

TEST_P(SubackFirst, APublishSentRightAfterASubscribeOfAPersistentSessionComesAfterTheSuback) {
  const QoS qos = GetParam();
  auto dev = connect("dev", /*cleanSession=*/false);
  WriterGate gate(writer_);
  send(dev, mqtt::Subscribe{3, {{"own/+", qos}}});
  send(dev, publish("own/t", "first", qos, qos == QoS::AtMostOnce ? 0 : 8));
  expectNothingWhileHeld(dev);
  releaseAndSettle(gate);
  Packets expected{mqtt::Suback({3, {static_cast<std::uint8_t>(qos)}}),
                   publish("own/t", "first", qos, qos == QoS::AtMostOnce ? 0 : 1)};
  if (qos == QoS::AtLeastOnce) expected.push_back(mqtt::Puback{8});
  if (qos == QoS::ExactlyOnce) expected.push_back(mqtt::Pubrec{8});
  EXPECT_EQ(dev.port->take(), expected);
}

TEST_P(SubackFirst, OnACleanSessionWhoseSubackQueuesBehindADeferredReplyToo) {
  const QoS qos = GetParam();
  auto keeper = connect("keeper", false);
  subscribe(keeper, "stored", QoS::AtLeastOnce);
  auto dev = connect("dev", /*cleanSession=*/true);
  WriterGate gate(writer_);
  send(dev, publish("stored", "x", QoS::AtLeastOnce, 1));  // stored for keeper: PUBACK waits
  send(dev, mqtt::Subscribe{4, {{"own/t", qos}}});          // nothing stored, but queues behind it
  send(dev, publish("own/t", "first", qos, qos == QoS::AtMostOnce ? 0 : 9));
  expectNothingWhileHeld(dev);
  releaseAndSettle(gate);
  Packets expected{mqtt::Puback{1}, mqtt::Suback({4, {static_cast<std::uint8_t>(qos)}}),
                   publish("own/t", "first", qos, qos == QoS::AtMostOnce ? 0 : 1)};
  if (qos == QoS::AtLeastOnce) expected.push_back(mqtt::Puback{9});
  if (qos == QoS::ExactlyOnce) expected.push_back(mqtt::Pubrec{9});
  EXPECT_EQ(dev.port->take(), expected);
  keeper.port->take();
}

INSTANTIATE_TEST_SUITE_P(Qos, SubackFirst, ::testing::Values(QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce),
                         [](const auto& info) { return "Qos" + std::to_string(static_cast<int>(info.param)); });

TEST_F(BrokerPersistenceTest, RetainedAndOtherClientsMessagesDoNotOvertakeAWaitingSuback) {
  broker_->publish("r/1", test::bytes("kept"), QoS::AtMostOnce, true);
  settle();
  auto dev = connect("dev", false);
  auto other = connect("other", true);
  WriterGate gate(writer_);
  send(dev, mqtt::Subscribe{5, {{"r/#", QoS::AtMostOnce}}});
  send(other, publish("r/2", "meanwhile", QoS::AtMostOnce));  // before the subscription takes effect
  send(dev, mqtt::Unsubscribe{6, {"r/#"}});
  send(dev, publish("r/3", "after unsubscribe", QoS::AtMostOnce));
  expectNothingWhileHeld(dev);
  releaseAndSettle(gate);
  EXPECT_EQ(dev.port->take(), (Packets{mqtt::Suback({5, {0}}), publish("r/1", "kept", QoS::AtMostOnce, 0, true),
                                       mqtt::Unsuback{6}}));
}

TEST_F(BrokerPersistenceTest, AConnectionThatEndsWhileItsSubackWaitsKeepsTheSubscriptionAndItsLaterPackets) {
  auto watcher = connect("watcher", true);
  subscribe(watcher, "w", QoS::AtMostOnce);
  auto dev = connect("dev", false);
  WriterGate gate(writer_);
  send(dev, mqtt::Subscribe{7, {{"own", QoS::AtLeastOnce}}});
  send(dev, publish("w", "sent before the close", QoS::AtMostOnce));
  broker_->onClosed(dev.id, "connection reset");
  EXPECT_EQ(watcher.port->take(), Packets{publish("w", "sent before the close", QoS::AtMostOnce)});
  releaseAndSettle(gate);
  // Offline, the persistent session still holds the subscription: a message for it is queued.
  broker_->publish("own", test::bytes("queued"), QoS::AtLeastOnce, false);
  settle();
  auto again = open(connectPacket("dev", false));
  settle();
  EXPECT_EQ(again.port->take(), (Packets{connack(true), publish("own", "queued", QoS::AtLeastOnce, 1)}));
  const auto snap = store_.load();
  const auto* row = storedSession(snap, "dev");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->subscriptions, (std::vector<storage::SubscriptionRow>{{"own", 1}}));
}

// PUBREL goes through reply(): it must wait behind a reply that waits for a commit, and for the
// commit of the Released state, or a restart could PUBLISH again after PUBREL [MQTT-4.3.3-1]. The
// case: a persistent client with an outbound QoS 2 message in flight sends SUBSCRIBE (its SUBACK
// waits for the subscription's commit) and then PUBREC.
TEST_F(BrokerPersistenceTest, PubrelQueuesBehindADeferredReplyAndWaitsForItsCommit) {
  auto keeper = connect("keeper", false);
  subscribe(keeper, "q2", QoS::ExactlyOnce);
  broker_->publish("q2", test::bytes("m"), QoS::ExactlyOnce, false);
  settle();
  EXPECT_EQ(keeper.port->take(), Packets{publish("q2", "m", QoS::ExactlyOnce, 1)});

  WriterGate gate(writer_);
  send(keeper, mqtt::Subscribe{7, {{"other", QoS::AtMostOnce}}});
  send(keeper, mqtt::Pubrec{1});
  expectNothingWhileHeld(keeper);
  releaseAndSettle(gate);
  EXPECT_EQ(keeper.port->take(), (Packets{mqtt::Suback({7, {0}}), mqtt::Pubrel{1}}));
}

TEST_F(BrokerPersistenceTest, StoredStateRestoresIntoAFreshBroker) {
  auto keeper = connect("keeper", false);
  send(keeper, mqtt::Subscribe{1, {{"a/#", QoS::AtLeastOnce}, {"b", QoS::ExactlyOnce}}});
  settle();
  keeper.port->take();
  broker_->publish("a/1", test::bytes("unacked"), QoS::AtLeastOnce, false);
  broker_->publish("b", test::bytes("released"), QoS::ExactlyOnce, false);
  broker_->publish("retained", test::bytes("r"), QoS::AtMostOnce, true);
  settle();
  EXPECT_EQ(keeper.port->take(),
            (Packets{publish("a/1", "unacked", QoS::AtLeastOnce, 1), publish("b", "released", QoS::ExactlyOnce, 2)}));
  send(keeper, mqtt::Pubrec{2});
  send(keeper, publish("x", "in", QoS::ExactlyOnce, 50));  // inbound QoS 2, PUBREL never comes
  settle();
  EXPECT_EQ(keeper.port->take(), (Packets{mqtt::Pubrel{2}, mqtt::Pubrec{50}}));
  broker_->onClosed(keeper.id, "connection reset");
  broker_->publish("a/2", test::bytes("offline"), QoS::AtLeastOnce, false);
  settle();

  const auto snap = store_.load();
  ASSERT_EQ(snap.sessions.size(), 1u);
  const auto& row = snap.sessions[0];
  EXPECT_EQ(row.clientId, "keeper");
  EXPECT_EQ(row.subscriptions, (std::vector<storage::SubscriptionRow>{{"a/#", 1}, {"b", 2}}));
  ASSERT_EQ(row.messages.size(), 3u);
  EXPECT_EQ(row.messages[0].state, MessageState::Sent);
  EXPECT_EQ(row.messages[0].packetId, 1);
  EXPECT_EQ(row.messages[1].state, MessageState::Released);
  EXPECT_EQ(row.messages[1].packetId, 2);
  EXPECT_EQ(row.messages[2].state, MessageState::Queued);
  EXPECT_EQ(row.messages[2].topic, "a/2");
  EXPECT_EQ(row.inboundQos2, std::vector<std::uint16_t>{50});
  EXPECT_EQ(snap.retained, (std::vector<storage::RetainedRow>{{"retained", test::bytes("r"), 0}}));

  // A new broker (as after a restart) picks up where the old one stopped.
  test::DeferQueue deferred;
  Broker restarted(BrokerOptions{}, policy_, nullptr, deferred.fn());
  restarted.restore(snap);
  auto again = std::make_shared<test::StubPort>();
  restarted.onConnect(99, again, connectPacket("keeper", false), {});
  auto got = again->take();
  ASSERT_EQ(got.size(), 4u) << ::testing::PrintToString(got);
  EXPECT_EQ(got[0], connack(true));
  EXPECT_EQ(got[1], mqtt::Packet(publish("a/1", "unacked", QoS::AtLeastOnce, 1, false, /*dup=*/true)));
  EXPECT_EQ(got[2], mqtt::Packet(mqtt::Pubrel{2}));
  const auto& queued = std::get<mqtt::Publish>(got[3]);
  EXPECT_EQ(queued.topic, "a/2");
  EXPECT_NE(queued.packetId, 1);
  EXPECT_NE(queued.packetId, 2);
  restarted.onPacket(99, publish("x", "in", QoS::ExactlyOnce, 50, false, true));
  EXPECT_EQ(again->take(), Packets{mqtt::Pubrec{50}});
  EXPECT_EQ(restarted.stats().publishesReceived, 1u);
}

TEST_F(BrokerPersistenceTest, CompletedMessagesClearedRetainedAndCleanSessionsLeaveTheStore) {
  auto keeper = connect("keeper", false);
  send(keeper, mqtt::Subscribe{1, {{"q1", QoS::AtLeastOnce}, {"q2", QoS::ExactlyOnce}}});
  settle();
  keeper.port->take();
  broker_->publish("q1", test::bytes("a"), QoS::AtLeastOnce, false);
  broker_->publish("q2", test::bytes("b"), QoS::ExactlyOnce, true);
  settle();
  keeper.port->take();
  ASSERT_EQ(store_.load().sessions.at(0).messages.size(), 2u);
  EXPECT_EQ(store_.load().retained.size(), 1u);

  send(keeper, mqtt::Puback{1});
  send(keeper, mqtt::Pubrec{2});
  send(keeper, mqtt::Pubcomp{2});
  broker_->publish("q2", {}, QoS::AtMostOnce, true);  // clears the retained message
  settle();
  EXPECT_TRUE(store_.load().sessions.at(0).messages.empty());
  EXPECT_TRUE(store_.load().retained.empty());

  broker_->onClosed(keeper.id, "eof");
  auto clean = open(connectPacket("keeper", true));
  settle();
  EXPECT_EQ(clean.port->take(), Packets{connack(false)});
  EXPECT_TRUE(store_.load().sessions.empty());
}

}  // namespace
}  // namespace fc::server::broker
