// Persistent sessions and retained messages survive a restart of the server, and a SIGKILL:
// what the broker acknowledged was committed first.
#include <gtest/gtest.h>

#include <chrono>
#include <tuple>

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

/// The next `n` packets from `raw`, decoded; fewer when the connection stalls or closes.
std::vector<mqtt::Packet> readPackets(RawConnection& raw, std::size_t n, std::chrono::milliseconds timeout = 5s) {
  std::vector<mqtt::Packet> out;
  std::vector<std::uint8_t> buf;
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    auto r = mqtt::decode(buf, mqtt::Limits{});
    if (r) {
      buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r->consumed));
      out.push_back(std::move(r->value));
      continue;
    }
    if (r.error() != mqtt::DecodeError::Incomplete) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    auto more = raw.receive(left);
    if (more.empty()) break;
    buf.insert(buf.end(), more.begin(), more.end());
  }
  return out;
}

std::vector<std::uint8_t> operator+(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Issue 13 §2: a client that writes SUBSCRIBE and a matching PUBLISH in one write (as
// iotkit-embedded's samples do) gets the SUBACK before the message, on clean and persistent
// sessions alike; on a persistent one the SUBACK waits for the subscription's commit.
class SubackFirst : public ::testing::TestWithParam<std::tuple<bool, QoS>> {};

TEST_P(SubackFirst, SubscribeAndPublishInOneWrite) {
  const auto [clean, qos] = GetParam();
  TempDir dir;
  ServerProcess server({.fileDb = true}, dir.path());
  mqtt::Connect connect;
  connect.clientId = clean ? "sf-clean" : "sf-kept";
  connect.cleanSession = clean;
  RawConnection raw(server.mqttPort());
  ASSERT_TRUE(raw.send(mqtt::encode(connect).value()));
  ASSERT_EQ(readPackets(raw, 1), (std::vector<mqtt::Packet>{mqtt::Connack{false, mqtt::ConnectReturn::Accepted}}));

  const std::uint16_t pubId = qos == QoS::AtMostOnce ? 0 : 2;
  ASSERT_TRUE(raw.send(mqtt::encode(mqtt::Subscribe{1, {{"sf/own", qos}}}).value() +
                       mqtt::encode(mqtt::Publish{"sf/own", bytes("first"), qos, false, false, pubId}).value()));
  const std::size_t expected = qos == QoS::AtMostOnce ? 2 : 3;
  const auto got = readPackets(raw, expected);
  ASSERT_EQ(got.size(), expected);
  EXPECT_EQ(got[0], mqtt::Packet(mqtt::Suback{1, {static_cast<std::uint8_t>(qos)}})) << "the SUBACK must come first";
  const auto* delivered = std::get_if<mqtt::Publish>(&got[1]);
  ASSERT_NE(delivered, nullptr) << "the message follows the SUBACK";
  EXPECT_EQ(delivered->topic, "sf/own");
  EXPECT_EQ(text(delivered->payload), "first");
  EXPECT_EQ(delivered->qos, qos);
  if (qos == QoS::AtLeastOnce) {
    EXPECT_EQ(got[2], mqtt::Packet(mqtt::Puback{2}));
  } else if (qos == QoS::ExactlyOnce) {
    EXPECT_EQ(got[2], mqtt::Packet(mqtt::Pubrec{2}));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Sessions, SubackFirst,
    ::testing::Combine(::testing::Bool(), ::testing::Values(QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce)),
    [](const auto& info) {
      return std::string(std::get<0>(info.param) ? "Clean" : "Persistent") + "Qos" +
             std::to_string(static_cast<int>(std::get<1>(info.param)));
    });

TEST(SubackFirstKill, ASubscriptionWhoseSubackWasSentSurvivesASigkillRightAfterIt) {
  TempDir dir;
  ServerProcess server({.fileDb = true}, dir.path());
  mqtt::Connect connect;
  connect.clientId = "sf-killed";
  connect.cleanSession = false;
  {
    RawConnection raw(server.mqttPort());
    ASSERT_TRUE(raw.send(mqtt::encode(connect).value()));
    ASSERT_EQ(readPackets(raw, 1).size(), 1u);
    ASSERT_TRUE(raw.send(mqtt::encode(mqtt::Subscribe{1, {{"sf/kill", QoS::AtLeastOnce}}}).value()));
    ASSERT_EQ(readPackets(raw, 1), (std::vector<mqtt::Packet>{mqtt::Suback{1, {1}}}));
    server.kill();  // at once: no graceful shutdown may have flushed anything
  }
  server.start();
  RawConnection raw(server.mqttPort());
  ASSERT_TRUE(raw.send(mqtt::encode(connect).value()));
  ASSERT_EQ(readPackets(raw, 1), (std::vector<mqtt::Packet>{mqtt::Connack{true, mqtt::ConnectReturn::Accepted}}));
  auto pub = connected(server.mqtt("sf-pub"));
  ASSERT_FALSE(pub->publish("sf/kill", "after the kill", QoS::AtLeastOnce));
  const auto got = readPackets(raw, 1);
  ASSERT_EQ(got.size(), 1u) << "the subscription did not survive";
  const auto& m = std::get<mqtt::Publish>(got[0]);
  EXPECT_EQ(m.topic, "sf/kill");
  EXPECT_EQ(text(m.payload), "after the kill");
}

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
