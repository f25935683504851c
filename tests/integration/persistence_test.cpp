// Persistent sessions and retained messages survive a restart of the server, and a SIGKILL:
// what the broker acknowledged was committed first.
#include <gtest/gtest.h>

#include "client/sync_mqtt_client.hpp"
#include "protocols/mqtt/codec.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;

std::unique_ptr<SyncMqttClient> connected(const client::MqttOptions& o, bool* sessionPresent = nullptr) {
  auto c = std::make_unique<SyncMqttClient>(o);
  auto ack = c->connect();
  EXPECT_TRUE(ack);
  if (ack) {
    EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted);
    if (sessionPresent) *sessionPresent = ack->sessionPresent;
  }
  return c;
}

enum class Ending { Sigterm, Sigkill };

class Persistence : public ::testing::TestWithParam<Ending> {
 protected:
  void restart(ServerProcess& server) {
    if (GetParam() == Ending::Sigterm) EXPECT_EQ(server.stop(), 0);
    else server.kill();
    server.start();
  }
  TempDir dir_;
};

TEST_P(Persistence, OfflineQueueSubscriptionsAndRetainedSurvive) {
  ServerProcess server({.fileDb = true}, dir_.path());
  {
    auto sub = connected(server.mqtt("p-sub", false));
    ASSERT_TRUE(sub->subscribe({{"p/q1", QoS::AtLeastOnce}, {"p/q2", QoS::ExactlyOnce}}));
    sub->abort();
  }
  {
    auto pub = connected(server.mqtt("p-pub"));
    for (int i = 0; i < 20; ++i) ASSERT_FALSE(pub->publish("p/q1", "m" + std::to_string(i), QoS::AtLeastOnce));
    ASSERT_FALSE(pub->publish("p/q2", "exactly", QoS::ExactlyOnce));
    ASSERT_FALSE(pub->publish("p/retained", "kept", QoS::AtLeastOnce, true));
  }
  restart(server);

  bool present = false;
  auto sub = connected(server.mqtt("p-sub", false), &present);
  EXPECT_TRUE(present);
  for (int i = 0; i < 20; ++i) {
    auto m = sub->receive();
    ASSERT_TRUE(m) << "message " << i << " lost";
    EXPECT_EQ(text(m->payload), "m" + std::to_string(i));
    EXPECT_EQ(m->qos, QoS::AtLeastOnce);
  }
  auto q2 = sub->receive();
  ASSERT_TRUE(q2);
  EXPECT_EQ(text(q2->payload), "exactly");
  EXPECT_EQ(q2->qos, QoS::ExactlyOnce);
  EXPECT_FALSE(sub->receive(300ms));

  // The subscriptions came back too: a new publish reaches the session.
  auto pub = connected(server.mqtt("p-pub2"));
  ASSERT_FALSE(pub->publish("p/q1", "after restart", QoS::AtLeastOnce));
  auto live = sub->receive();
  ASSERT_TRUE(live);
  EXPECT_EQ(text(live->payload), "after restart");

  auto reader = connected(server.mqtt("p-reader"));
  ASSERT_TRUE(reader->subscribe("p/retained", QoS::AtLeastOnce));
  auto kept = reader->receive();
  ASSERT_TRUE(kept);
  EXPECT_EQ(text(kept->payload), "kept");
  EXPECT_TRUE(kept->retain);
}

TEST_P(Persistence, InflightMessagesAreRedeliveredWithDupAfterRestart) {
  ServerProcess server({.fileDb = true}, dir_.path());
  auto o = server.mqtt("p-inflight", false);
  o.autoAck = false;
  {
    auto sub = connected(o);
    ASSERT_TRUE(sub->subscribe("p/inflight", QoS::ExactlyOnce));
    auto pub = connected(server.mqtt("p-inflight-pub"));
    ASSERT_FALSE(pub->publish("p/inflight", "unacked-1", QoS::AtLeastOnce));
    ASSERT_FALSE(pub->publish("p/inflight", "unacked-2", QoS::ExactlyOnce));
    ASSERT_TRUE(sub->receive());
    ASSERT_TRUE(sub->receive());
    sub->abort();
  }
  restart(server);
  o.autoAck = true;
  o.port = server.mqttPort();
  auto sub = connected(o);
  auto a = sub->receive();
  auto b = sub->receive();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(text(a->payload), "unacked-1");
  EXPECT_TRUE(a->dup);
  EXPECT_EQ(text(b->payload), "unacked-2");
  EXPECT_TRUE(b->dup);
  EXPECT_FALSE(sub->receive(300ms));
}

TEST_P(Persistence, Qos2PacketIdAwaitingPubrelSurvivesSoAResendIsNotRoutedTwice) {
  // [MQTT-4.3.3-2]: after PUBREC the server must not deliver a resent PUBLISH with the same id again.
  ServerProcess server({.fileDb = true}, dir_.path());
  mqtt::Connect connect;
  connect.clientId = "p-q2-raw";
  connect.cleanSession = false;
  mqtt::Publish publish{"p/q2once", bytes("exactly once"), QoS::ExactlyOnce, false, false, 7};
  {
    RawConnection raw(server.mqttPort());
    raw.send(mqtt::encode(connect).value());
    ASSERT_EQ(raw.receiveExactly(4).size(), 4u);
    raw.send(mqtt::encode(publish).value());
    EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x50, 0x02, 0x00, 0x07}));  // PUBREC 7
  }  // gone before PUBREL
  restart(server);

  auto watcher = connected(server.mqtt("p-q2-watch"));
  ASSERT_TRUE(watcher->subscribe("p/q2once", QoS::AtLeastOnce));
  RawConnection raw(server.mqttPort());
  raw.send(mqtt::encode(connect).value());
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x20, 0x02, 0x01, 0x00}));  // session present
  publish.dup = true;
  raw.send(mqtt::encode(publish).value());
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x50, 0x02, 0x00, 0x07}));
  raw.send(mqtt::encode(mqtt::Pubrel{7}).value());
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x70, 0x02, 0x00, 0x07}));  // PUBCOMP 7
  EXPECT_FALSE(watcher->receive(300ms)) << "the resent PUBLISH was routed a second time";

  // The id is free again: a new PUBLISH with it is a new message.
  publish.dup = false;
  publish.payload = bytes("a new message");
  raw.send(mqtt::encode(publish).value());
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x50, 0x02, 0x00, 0x07}));
  auto m = watcher->receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "a new message");
}

INSTANTIATE_TEST_SUITE_P(Restart, Persistence, ::testing::Values(Ending::Sigterm, Ending::Sigkill),
                         [](const auto& info) { return info.param == Ending::Sigterm ? "Sigterm" : "Sigkill"; });

TEST(PersistenceInMemory, EverythingWorksButNothingSurvivesARestart) {
  TempDir dir;
  ServerProcess server({}, dir.path());
  {
    auto sub = connected(server.mqtt("mem-sub", false));
    ASSERT_TRUE(sub->subscribe("mem/t", QoS::AtLeastOnce));
    sub->abort();
    auto pub = connected(server.mqtt("mem-pub"));
    ASSERT_FALSE(pub->publish("mem/t", "queued", QoS::AtLeastOnce));
  }
  server.stop();
  server.start();
  bool present = true;
  auto sub = connected(server.mqtt("mem-sub", false), &present);
  EXPECT_FALSE(present);
  EXPECT_FALSE(sub->receive(300ms));
}

}  // namespace
}  // namespace fc::test
