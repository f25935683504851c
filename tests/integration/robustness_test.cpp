// Bad input never crashes the server: each bad connection is closed with a log line naming the
// reason, and everyone else carries on.
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

std::vector<std::uint8_t> connectBytes(const std::string& clientId, std::uint8_t level = mqtt::kLevel311) {
  mqtt::Connect c;
  c.clientId = clientId;
  c.protocolLevel = level;
  c.protocolName = level == mqtt::kLevel31 ? mqtt::kProtocolName31 : mqtt::kProtocolName311;
  return mqtt::encode(c).value();
}

class Robustness : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({.args = {"--mqtt-max-packet-size", "4096", "--mqtt-connect-timeout-ms", "500"}});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  /// A bystander that must keep working whatever the test does to the server.
  void SetUp() override {
    bystander_ = std::make_unique<SyncMqttClient>(server_->mqtt(
        std::string("bystander-") + ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(bystander_->connect());
    ASSERT_TRUE(bystander_->subscribe("alive/#", QoS::AtLeastOnce));
  }
  void TearDown() override {
    ASSERT_FALSE(bystander_->publish("alive/check", "still here", QoS::AtLeastOnce));
    auto m = bystander_->receive();
    ASSERT_TRUE(m) << "the server stopped serving other clients";
    EXPECT_EQ(text(m->payload), "still here");
  }

  static ServerProcess* server_;
  std::unique_ptr<SyncMqttClient> bystander_;
};
ServerProcess* Robustness::server_ = nullptr;

TEST_F(Robustness, UnsupportedProtocolLevelGetsConnack1) {
  auto bytesOut = connectBytes("level-5", 5);
  RawConnection raw(server_->mqttPort());
  raw.send(bytesOut);
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x01}));  // [MQTT-3.1.2-2]
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, Mqtt5ConnectGetsConnack1) {
  // An MQTT 5 CONNECT: properties length 0 before the client id.
  const std::vector<std::uint8_t> v5{0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3c,
                                     0x00, 0x00, 0x03, 'v', '5', 'c'};
  RawConnection raw(server_->mqttPort());
  raw.send(v5);
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x01}));
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, FirstPacketThatIsNotConnectClosesTheConnection) {
  RawConnection raw(server_->mqttPort());
  raw.send({0xc0, 0x00});  // PINGREQ
  EXPECT_TRUE(raw.closedByPeer());
  EXPECT_NE(server_->log().find("first packet was PINGREQ, not CONNECT"), std::string::npos);
}

TEST_F(Robustness, GarbageClosesTheConnection) {
  RawConnection raw(server_->mqttPort());
  raw.send(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, MalformedPacketAfterConnectClosesTheConnection) {
  RawConnection raw(server_->mqttPort());
  raw.send(connectBytes("malformed-1"));
  ASSERT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x00}));
  raw.send({0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01});  // PUBLISH QoS 3 [MQTT-3.3.1-4]
  EXPECT_TRUE(raw.closedByPeer());
  EXPECT_NE(server_->log().find("'malformed-1'"), std::string::npos) << "the log line names the client";
}

TEST_F(Robustness, WildcardInPublishTopicClosesTheConnection) {
  RawConnection raw(server_->mqttPort());
  raw.send(connectBytes("wild-pub"));
  ASSERT_EQ(raw.receiveExactly(4).size(), 4u);
  raw.send({0x30, 0x05, 0x00, 0x03, 'a', '/', '#'});  // [MQTT-3.3.2-2]
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, OversizedPacketClosesTheConnection) {
  auto c = std::make_unique<SyncMqttClient>(server_->mqtt("oversized"));
  ASSERT_TRUE(c->connect());
  c->async().publish("big/t", std::vector<std::uint8_t>(8192, 'x'), QoS::AtMostOnce, false);
  EXPECT_TRUE(c->waitClosed(3s));
  EXPECT_NE(server_->log().find("exceeds the size limit"), std::string::npos) << server_->log();
}

TEST_F(Robustness, SilentSocketIsClosedAfterTheConnectTimeout) {
  RawConnection raw(server_->mqttPort());
  EXPECT_TRUE(raw.closedByPeer(3s));
}

TEST_F(Robustness, SecondConnectIsAProtocolViolation) {
  RawConnection raw(server_->mqttPort());
  raw.send(connectBytes("twice"));
  ASSERT_EQ(raw.receiveExactly(4).size(), 4u);
  raw.send(connectBytes("twice"));  // [MQTT-3.1.0-2]
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, ServerToClientPacketFromAClientIsAProtocolViolation) {
  RawConnection raw(server_->mqttPort());
  raw.send(connectBytes("sends-suback"));
  ASSERT_EQ(raw.receiveExactly(4).size(), 4u);
  raw.send({0x90, 0x03, 0x00, 0x01, 0x00});  // SUBACK
  EXPECT_TRUE(raw.closedByPeer());
}

TEST_F(Robustness, PacketsSplitIntoSingleBytesAreReassembled) {
  RawConnection raw(server_->mqttPort());
  for (auto b : connectBytes("byte-by-byte")) raw.send({b});
  EXPECT_EQ(raw.receiveExactly(4), (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x00}));
  raw.send({0xc0});
  raw.send({0x00});
  EXPECT_EQ(raw.receiveExactly(2), (std::vector<std::uint8_t>{0xd0, 0x00}));  // PINGRESP
}

TEST_F(Robustness, ManyAbruptDisconnectsLeaveNoTrace) {
  for (int i = 0; i < 50; ++i) {
    RawConnection raw(server_->mqttPort());
    auto half = connectBytes("abrupt-" + std::to_string(i));
    half.resize(half.size() / 2);
    raw.send(half);
  }
  // No trace: the only connection and the only session left are the bystander's.
  nlohmann::json mqtt;
  for (int i = 0; i < 1000; ++i) {
    mqtt = call(*server_, "GET", "/api/v1/admin/stats").body["mqtt"];
    if (mqtt["connections"] == 1 && mqtt["sessions"] == 1) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(mqtt["connections"], 1) << mqtt;
  EXPECT_EQ(mqtt["sessions"], 1) << mqtt;
  EXPECT_EQ(mqtt["subscriptions"], 1) << "the bystander's alive/#: " << mqtt;
}

// --- running out of file descriptors ---------------------------------------------------------------

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

TEST(OpenFiles, SoftLimitIsRaisedToTheHardLimitAtStart) {
  ServerProcess server({.openFilesHard = 300, .openFilesSoft = 200});
  EXPECT_NE(server.log().find("open files: soft limit raised from 200 to the hard limit, 300"), std::string::npos)
      << server.log();
}

TEST(OpenFiles, AcceptBacksOffWhileDescriptorsRunOutAndRecovers) {
  ServerProcess server({.openFilesHard = 64});
  EXPECT_NE(server.log().find("open files: limit 64"), std::string::npos) << server.log();
  {
    // More connections than the server has descriptors: the kernel completes them all (the listen
    // backlog), and accept() fails with EMFILE once the server's table is full.
    std::vector<std::unique_ptr<RawConnection>> flood;
    for (int i = 0; i < 100; ++i) flood.push_back(std::make_unique<RawConnection>(server.mqttPort()));
    for (int i = 0; i < 1000 && server.log().find("retrying every 100 ms") == std::string::npos; ++i)
      std::this_thread::sleep_for(20ms);
    // Real time by design: a busy loop would log thousands of lines in this second; the back-off, none.
    std::this_thread::sleep_for(1s);
    const auto log = server.log();
    // A busy loop logged millions of lines here; backing off logs one per 5 s.
    const auto failures = count(log, "mqtt: accept failed: Too many open files");
    EXPECT_GE(failures, 1u) << log;
    EXPECT_LE(failures, 2u) << log;
    EXPECT_NE(log.find("retrying every 100 ms"), std::string::npos) << log;
  }
  // Once the flood is gone, the server accepts what is left in the backlog, sees it closed, and
  // serves new clients again.
  SyncMqttClient client(server.mqtt("after-the-flood"));
  ASSERT_TRUE(client.connect());
  ASSERT_TRUE(client.subscribe("recovered", QoS::AtLeastOnce));
  ASSERT_FALSE(client.publish("recovered", "yes", QoS::AtLeastOnce));
  auto m = client.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "yes");
}

}  // namespace
}  // namespace fc::test
