// The one-line packet descriptions of the packet journal (protocols/mqtt/describe.*).
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/describe.hpp"

namespace {

namespace mqtt = fc::mqtt;

TEST(MqttDescribe, PublishShowsQosIdFlagsTopicAndSizeButNotThePayload) {
  const mqtt::Publish p{
      "devices/x/telemetry", std::vector<std::uint8_t>(14, 'z'), mqtt::QoS::AtLeastOnce, true, true, 7};
  const auto s = mqtt::summarize(mqtt::Packet(p));
  EXPECT_EQ(s.topic, "devices/x/telemetry");
  EXPECT_EQ(s.text, "PUBLISH qos=1 id=7 retain dup devices/x/telemetry (14 bytes)");
  const auto q0 = mqtt::summarize(mqtt::Packet(mqtt::Publish{"t", {}, mqtt::QoS::AtMostOnce, false, false, 0}));
  EXPECT_EQ(q0.text, "PUBLISH qos=0 t (0 bytes)");
}

TEST(MqttDescribe, EachKindNamesItsFields) {
  mqtt::Connect c;
  c.clientId = "dev";
  c.keepAlive = 60;
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(c)).text, "CONNECT client=dev level=4 clean=1 keepalive=60");
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(mqtt::Connack{true, mqtt::ConnectReturn::NotAuthorized})).text,
            "CONNACK rc=5 sessionPresent=1");
  const auto sub = mqtt::summarize(
      mqtt::Packet(mqtt::Subscribe{3, {{"a/#", mqtt::QoS::ExactlyOnce}, {"b", mqtt::QoS::AtMostOnce}}}));
  EXPECT_EQ(sub.text, "SUBSCRIBE id=3 a/#(2) b(0)");
  EXPECT_EQ(sub.topic, "a/#");
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(mqtt::Suback{3, {2, 0x80}})).text, "SUBACK id=3 2 128");
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(mqtt::Unsubscribe{4, {"a/#", "b"}})).text, "UNSUBSCRIBE id=4 a/# b");
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(mqtt::Pubrel{9})).text, "PUBREL id=9");
  EXPECT_EQ(mqtt::summarize(mqtt::Packet(mqtt::Pingreq{})).text, "PINGREQ");
}

TEST(MqttDescribe, BytesAreDecodedWhateverTheirSizeOrSaidUndecodable) {
  const mqtt::Publish big{"t", std::vector<std::uint8_t>(300 * 1024, 'x'), mqtt::QoS::AtMostOnce, false, false, 0};
  EXPECT_EQ(mqtt::summarize(mqtt::encode(big).value()).text, "PUBLISH qos=0 t (307200 bytes)");
  const std::vector<std::uint8_t> qos3{0x36, 0x05, 0x00, 0x01, 'a', 0x00, 0x01};
  EXPECT_EQ(mqtt::summarize(qos3).text.rfind("undecodable (", 0), 0u);
}

TEST(MqttDescribe, EncodedPacketsReadTheSameAsDecodedOnes) {
  std::vector<mqtt::Packet> packets = {
      mqtt::Publish{"devices/x/telemetry", std::vector<std::uint8_t>(14, 'z'), mqtt::QoS::AtLeastOnce, true, true, 7},
      mqtt::Publish{"t", {}, mqtt::QoS::AtMostOnce, false, false, 0},
      mqtt::Publish{"x", std::vector<std::uint8_t>(3, 0), mqtt::QoS::ExactlyOnce, false, false, 65535},
      mqtt::Publish{"a/b", std::vector<std::uint8_t>(200 * 1024, 'x'), mqtt::QoS::AtMostOnce, true, false, 0},
      mqtt::Puback{5},
      mqtt::Connack{false, mqtt::ConnectReturn::Accepted},
      mqtt::Suback{3, {1}},
  };
  for (const auto& packet : packets) {
    const auto bytes = mqtt::encode(packet).value();
    const auto encoded = mqtt::summarizeEncoded(bytes);
    const auto expected = mqtt::summarize(packet);
    EXPECT_EQ(encoded.text, expected.text);
    EXPECT_EQ(encoded.topic, expected.topic);
  }
  const std::vector<std::uint8_t> truncated{0x32, 0x05, 0x00, 0x04, 'a'};
  EXPECT_EQ(mqtt::summarizeEncoded(truncated).text.rfind("undecodable (", 0), 0u) << "not one PUBLISH: decoded";
}

}  // namespace
