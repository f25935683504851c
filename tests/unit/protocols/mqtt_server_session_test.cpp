// The server side of an MQTT connection (protocols/mqtt/server_session.*) with made-up time: CONNECT
// first, framing across reads, PINGREQ answered at the edge, nothing after DISCONNECT, malformed
// input, the connect timeout and the keepalive's 1.5 periods, each at its edges.
//
// One-line mutations of server_session.cpp these tests are meant to kill:
// - `* 1500` → `* 1000` (or 2000) in deadline()          → KeepaliveIsOneAndAHalfPeriods…
// - `now < *due` → `now <= *due` in onTimer()            → …ExpiresExactlyAtTheDeadline tests
// - dropping `mark_ = now` for Connected in onBytes()      → AnyBytesMoveTheKeepaliveDeadline
// - moving `mark_ = now` before the state check            → BytesBeforeConnectDoNotMoveTheConnectDeadline
// - dropping the Disconnected early return in onBytes()    → NothingIsReadAfterDisconnect
// - delivering PINGREQ instead of answering it             → PingreqIsAnsweredHereAndNotDelivered
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/server_session.hpp"

namespace fc::mqtt {
void PrintTo(const Packet& p, std::ostream* os);  // defined in mqtt_codec_test.cpp, same executable
}  // namespace fc::mqtt

namespace {

namespace mqtt = fc::mqtt;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using mqtt::CloseReason;
using mqtt::ServerSession;
using State = ServerSession::State;
using TimePoint = ServerSession::TimePoint;

const TimePoint t0 = TimePoint{} + 1000h;  // any fixed point: the session reads no clock

struct Delivered {
  mqtt::Packet packet;
  Bytes bytes;
};

/// Records what the session asks for.
class Recorder final : public mqtt::ServerSessionHandler {
 public:
  void deliver(mqtt::Packet&& packet, std::span<const std::uint8_t> bytes) override {
    delivered.push_back({std::move(packet), Bytes(bytes.begin(), bytes.end())});
  }
  void send(const mqtt::Packet& packet) override { sent.push_back(packet); }
  void close(CloseReason reason, std::string_view message) override {
    closes.push_back(reason);
    closeMessage = std::string(message);
  }

  std::vector<Delivered> delivered;
  std::vector<mqtt::Packet> sent;
  std::vector<CloseReason> closes;
  std::string closeMessage;
};

mqtt::Connect connectWith(std::uint16_t keepAlive, std::string clientId = "dev") {
  mqtt::Connect c;
  c.clientId = std::move(clientId);
  c.keepAlive = keepAlive;
  return c;
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ServerSessionTest : public ::testing::Test {
 protected:
  ServerSessionTest() { options_.connectTimeout = 2s; }

  /// A session that has had its CONNECT (keepalive `keepAlive` s) at `at`.
  void connectAt(TimePoint at, std::uint16_t keepAlive) {
    const Bytes wire = mqtt::encode(connectWith(keepAlive)).value();
    ASSERT_EQ(session_.onBytes(wire, at, out_), wire.size());
    ASSERT_EQ(session_.state(), State::Connected);
    out_.delivered.clear();
  }

  mqtt::ServerSessionOptions options_;
  ServerSession session_{options_, t0};
  Recorder out_;
};

TEST_F(ServerSessionTest, ConnectIsDeliveredWithTheBytesItArrivedAs) {
  const Bytes wire = mqtt::encode(connectWith(30, "sensor-1")).value();
  EXPECT_EQ(session_.onBytes(wire, t0, out_), wire.size());
  ASSERT_EQ(out_.delivered.size(), 1u);
  EXPECT_EQ(out_.delivered[0].packet, mqtt::Packet(connectWith(30, "sensor-1")));
  EXPECT_EQ(out_.delivered[0].bytes, wire);
  EXPECT_EQ(session_.state(), State::Connected);
  EXPECT_EQ(session_.clientId(), "sensor-1");
  EXPECT_EQ(session_.keepAlive(), 30);
  EXPECT_TRUE(out_.closes.empty());
}

TEST_F(ServerSessionTest, EveryStrictPrefixUsesNothingAndTheRestCompletesIt) {
  const Bytes wire =
      mqtt::encode(connectWith(30)).value() + mqtt::encode(mqtt::Subscribe{1, {{"a/#", mqtt::QoS::AtLeastOnce}}}).value();
  const std::size_t connectSize = mqtt::encode(connectWith(30)).value().size();
  for (std::size_t n = 0; n < connectSize; ++n) {
    ServerSession fresh(options_, t0);
    Recorder out;
    EXPECT_EQ(fresh.onBytes(std::span(wire).first(n), t0, out), 0u) << "prefix " << n;
    EXPECT_TRUE(out.delivered.empty()) << "prefix " << n;
    EXPECT_TRUE(out.closes.empty()) << "prefix " << n;
  }
  // CONNECT and part of the SUBSCRIBE: the CONNECT is used, the rest waits for more.
  EXPECT_EQ(session_.onBytes(std::span(wire).first(wire.size() - 1), t0, out_), connectSize);
  ASSERT_EQ(out_.delivered.size(), 1u);
  EXPECT_EQ(session_.onBytes(std::span(wire).subspan(connectSize), t0, out_), wire.size() - connectSize);
  ASSERT_EQ(out_.delivered.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<mqtt::Subscribe>(out_.delivered[1].packet));
}

TEST_F(ServerSessionTest, SeveralPacketsInOneReadAreDeliveredInOrderEachWithItsOwnBytes) {
  const mqtt::Subscribe sub{1, {{"own/t", mqtt::QoS::AtLeastOnce}}};
  const mqtt::Publish pub{"own/t", {'h', 'i'}, mqtt::QoS::AtLeastOnce, false, false, 2};
  const Bytes wire = mqtt::encode(connectWith(0)).value() + mqtt::encode(sub).value() + mqtt::encode(pub).value();
  EXPECT_EQ(session_.onBytes(wire, t0, out_), wire.size());
  ASSERT_EQ(out_.delivered.size(), 3u);
  EXPECT_EQ(out_.delivered[1].packet, mqtt::Packet(sub));
  EXPECT_EQ(out_.delivered[1].bytes, mqtt::encode(sub).value());
  EXPECT_EQ(out_.delivered[2].packet, mqtt::Packet(pub));
  EXPECT_EQ(out_.delivered[2].bytes, mqtt::encode(pub).value());
}

TEST_F(ServerSessionTest, AFirstPacketOtherThanConnectCloses) {
  // [MQTT-3.1.0-1]
  const Bytes wire = mqtt::encode(mqtt::Pingreq{}).value() + mqtt::encode(connectWith(30)).value();
  session_.onBytes(wire, t0, out_);
  EXPECT_TRUE(out_.delivered.empty());
  EXPECT_TRUE(out_.sent.empty()) << "no PINGRESP before CONNECT";
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::NotConnect});
  EXPECT_EQ(out_.closeMessage, "first packet was PINGREQ, not CONNECT");
  EXPECT_EQ(session_.state(), State::Closed);
  EXPECT_EQ(session_.deadline(), std::nullopt);
  EXPECT_EQ(session_.onBytes(mqtt::encode(connectWith(30)).value(), t0, out_), 0u) << "closed: nothing more is read";
}

TEST_F(ServerSessionTest, PingreqIsAnsweredHereAndNotDelivered) {
  connectAt(t0, 30);
  const Bytes wire = mqtt::encode(mqtt::Pingreq{}).value();
  EXPECT_EQ(session_.onBytes(wire, t0 + 1s, out_), wire.size());
  EXPECT_TRUE(out_.delivered.empty());
  EXPECT_EQ(out_.sent, std::vector<mqtt::Packet>{mqtt::Pingresp{}});  // [MQTT-3.12.4-1]
}

TEST_F(ServerSessionTest, NothingIsReadAfterDisconnect) {
  // [MQTT-3.14.4-1]: after DISCONNECT the server reads nothing more.
  connectAt(t0, 30);
  const Bytes disconnect = mqtt::encode(mqtt::Disconnect{}).value();
  const Bytes wire = disconnect + mqtt::encode(mqtt::Publish{"t", {'x'}, mqtt::QoS::AtMostOnce, false, false, 0}).value();
  EXPECT_EQ(session_.onBytes(wire, t0, out_), disconnect.size());
  ASSERT_EQ(out_.delivered.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<mqtt::Disconnect>(out_.delivered[0].packet));
  EXPECT_EQ(session_.state(), State::Disconnected);
  EXPECT_EQ(session_.deadline(), std::nullopt);
  EXPECT_EQ(session_.onBytes(std::span(wire).subspan(disconnect.size()), t0, out_), 0u);
  EXPECT_EQ(out_.delivered.size(), 1u);
  session_.onTimer(t0 + 1000h, out_);
  EXPECT_TRUE(out_.closes.empty()) << "the broker closes a disconnected client, not a timer";
}

TEST_F(ServerSessionTest, MalformedBytesCloseAfterThePacketsBeforeThem) {
  connectAt(t0, 30);
  const Bytes good = mqtt::encode(mqtt::Publish{"t", {'x'}, mqtt::QoS::AtMostOnce, false, false, 0}).value();
  const Bytes qos3{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01};  // PUBLISH QoS 3 [MQTT-3.3.1-4]
  session_.onBytes(good + qos3, t0, out_);
  ASSERT_EQ(out_.delivered.size(), 1u);
  EXPECT_EQ(out_.delivered[0].bytes, good);
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::Malformed});
  EXPECT_NE(out_.closeMessage.find("malformed packet: "), std::string::npos) << out_.closeMessage;
  EXPECT_EQ(session_.state(), State::Closed);
}

TEST_F(ServerSessionTest, PacketsLargerThanTheLimitAreMalformed) {
  options_.limits.maxPacket = 64;
  connectAt(t0, 30);
  session_.onBytes(mqtt::encode(mqtt::Publish{"t", Bytes(100, 'x'), mqtt::QoS::AtMostOnce, false, false, 0}).value(), t0, out_);
  EXPECT_TRUE(out_.delivered.empty());
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::Malformed});
}

TEST_F(ServerSessionTest, ConnectTimeoutExpiresExactlyAtTheDeadline) {
  EXPECT_EQ(session_.deadline(), t0 + 2s);
  session_.onTimer(t0 + 2s - 1ns, out_);
  EXPECT_TRUE(out_.closes.empty());
  session_.onTimer(t0 + 2s, out_);
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::ConnectTimeout});
  EXPECT_EQ(out_.closeMessage, "no CONNECT within the connect timeout");
  EXPECT_EQ(session_.deadline(), std::nullopt);
}

TEST_F(ServerSessionTest, BytesBeforeConnectDoNotMoveTheConnectDeadline) {
  const Bytes wire = mqtt::encode(connectWith(30)).value();
  session_.onBytes(std::span(wire).first(3), t0 + 1500ms, out_);  // a slow client trickles its CONNECT
  EXPECT_EQ(session_.deadline(), t0 + 2s);
  session_.onTimer(t0 + 2s, out_);
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::ConnectTimeout});
}

TEST_F(ServerSessionTest, ConnectJustInTimeStartsTheKeepaliveFromTheConnect) {
  connectAt(t0 + 2s - 1ms, 10);
  EXPECT_EQ(session_.deadline(), t0 + 2s - 1ms + 15s);
  session_.onTimer(t0 + 2s, out_);
  EXPECT_TRUE(out_.closes.empty()) << "the connect deadline no longer applies";
}

TEST_F(ServerSessionTest, KeepaliveIsOneAndAHalfPeriodsAndExpiresExactlyAtTheDeadline) {
  // [MQTT-3.1.2-24]
  connectAt(t0, 10);
  EXPECT_EQ(session_.deadline(), t0 + 15s);
  session_.onTimer(t0 + 15s - 1ns, out_);
  EXPECT_TRUE(out_.closes.empty());
  session_.onTimer(t0 + 15s, out_);
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::KeepaliveTimeout});
  EXPECT_EQ(out_.closeMessage, "keepalive timeout");
}

TEST_F(ServerSessionTest, AnyBytesMoveTheKeepaliveDeadline) {
  connectAt(t0, 10);
  const Bytes ping = mqtt::encode(mqtt::Pingreq{}).value();
  session_.onBytes(ping, t0 + 14s, out_);
  EXPECT_EQ(session_.deadline(), t0 + 29s);
  // Even the first byte of a packet that is not complete yet counts as activity.
  const Bytes pub = mqtt::encode(mqtt::Publish{"t", {'x'}, mqtt::QoS::AtMostOnce, false, false, 0}).value();
  EXPECT_EQ(session_.onBytes(std::span(pub).first(1), t0 + 28s, out_), 0u);
  EXPECT_EQ(session_.deadline(), t0 + 43s);
  session_.onTimer(t0 + 29s, out_);
  EXPECT_TRUE(out_.closes.empty());
}

TEST_F(ServerSessionTest, KeepaliveZeroMeansNoDeadline) {
  connectAt(t0, 0);
  EXPECT_EQ(session_.deadline(), std::nullopt);
  session_.onTimer(t0 + 1000h, out_);
  EXPECT_TRUE(out_.closes.empty());
}

TEST_F(ServerSessionTest, TheLongestKeepaliveDoesNotOverflow) {
  connectAt(t0, 65535);
  EXPECT_EQ(session_.deadline(), t0 + std::chrono::milliseconds(65535LL * 1500));
}


// --- per-connection rules (a dialect's, e.g. gizwits: keepalive ≤ 600 s, ≤ 60 PINGREQ per 180 s) ---

class ServerSessionRulesTest : public ServerSessionTest {
 protected:
  ServerSessionRulesTest() {
    options_.rules = [this](const mqtt::Connect& c) {
      asked.push_back(c.clientId);
      return c.clientId == "dev" ? mqtt::ConnectionRules{600, 3, 10s} : mqtt::ConnectionRules{};
    };
  }
  void ping(TimePoint at) { session_.onBytes(mqtt::encode(mqtt::Pingreq{}).value(), at, out_); }
  std::vector<std::string> asked;
};

TEST_F(ServerSessionRulesTest, RulesAreAskedOnceWithTheConnect) {
  connectAt(t0, 60);
  EXPECT_EQ(asked, std::vector<std::string>{"dev"});
  EXPECT_EQ(session_.rules(), (mqtt::ConnectionRules{600, 3, 10s}));
  ping(t0 + 1s);
  EXPECT_EQ(asked.size(), 1u);
}

TEST_F(ServerSessionRulesTest, KeepaliveAboveTheCapCountsAsTheCap) {
  connectAt(t0, 1200);
  EXPECT_EQ(session_.keepAlive(), 600);
  EXPECT_EQ(session_.deadline(), t0 + 900s);
}

TEST_F(ServerSessionRulesTest, NoKeepaliveCountsAsTheCap) {
  connectAt(t0, 0);
  EXPECT_EQ(session_.deadline(), t0 + 900s);
}

TEST_F(ServerSessionRulesTest, KeepaliveBelowTheCapIsKept) {
  connectAt(t0, 120);
  EXPECT_EQ(session_.keepAlive(), 120);
  EXPECT_EQ(session_.deadline(), t0 + 180s);
}

TEST_F(ServerSessionRulesTest, OneMorePingThanAllowedWithinTheWindowCloses) {
  connectAt(t0, 60);
  ping(t0 + 1s);
  ping(t0 + 2s);
  ping(t0 + 3s);
  EXPECT_EQ(out_.sent.size(), 3u);
  EXPECT_TRUE(out_.closes.empty());
  ping(t0 + 10s + 999ms);  // the fourth within 10 s of the first
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::TooManyPings});
  EXPECT_EQ(out_.closeMessage, "more than 3 PINGREQ within 10 s");
  EXPECT_EQ(out_.sent.size(), 3u) << "no PINGRESP for the ping that broke the rule";
  EXPECT_EQ(session_.state(), State::Closed);
}

TEST_F(ServerSessionRulesTest, PingsOutsideTheWindowDoNotCount) {
  connectAt(t0, 60);
  for (int i = 0; i < 20; ++i) ping(t0 + std::chrono::milliseconds(3400 * i));  // 3 per 10.2 s
  EXPECT_TRUE(out_.closes.empty());
  EXPECT_EQ(out_.sent.size(), 20u);
}

TEST_F(ServerSessionRulesTest, PingsInOneReadCountEach) {
  connectAt(t0, 60);
  const Bytes p = mqtt::encode(mqtt::Pingreq{}).value();
  session_.onBytes(p + p + p + p + p, t0 + 1s, out_);
  EXPECT_EQ(out_.sent.size(), 3u);
  EXPECT_EQ(out_.closes, std::vector<CloseReason>{CloseReason::TooManyPings});
}

TEST_F(ServerSessionRulesTest, OtherClientsGetNoRules) {
  const Bytes wire = mqtt::encode(connectWith(0, "other")).value();
  session_.onBytes(wire, t0, out_);
  EXPECT_EQ(session_.deadline(), std::nullopt);
  for (int i = 0; i < 10; ++i) ping(t0 + 1s);
  EXPECT_TRUE(out_.closes.empty());
}

}  // namespace
