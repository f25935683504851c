// MQTT 3.1/3.1.1 codec: golden bytes for every packet type, round trips, prefixes, malformed
// inputs and limits. Rule ids refer to MQTT 3.1.1 (OASIS, 2014).
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/mqtt/codec.hpp"

namespace fc::mqtt {
// Lets gtest name the packet in failure messages instead of dumping the variant's bytes.
void PrintTo(const Packet& p, std::ostream* os) { *os << packetName(p); }
}  // namespace fc::mqtt

namespace {

namespace mqtt = fc::mqtt;
using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Test-side framing, independent of the encoder under test.
Bytes lengthPrefixed(std::string_view s) {
  Bytes out;
  out.reserve(2 + s.size());
  out.push_back(static_cast<std::uint8_t>(s.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(s.size() & 0xFF));
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes frame(std::uint8_t first, const Bytes& body) {
  Bytes out{first};
  std::size_t n = body.size();
  do {
    auto digit = static_cast<std::uint8_t>(n % 128);
    n /= 128;
    if (n > 0) digit |= 0x80;
    out.push_back(digit);
  } while (n > 0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// A 3.1.1 CONNECT with the given flags byte and payload; keep alive 60.
Bytes connectWire(std::uint8_t flags, const Bytes& payload, std::string_view name = "MQTT", std::uint8_t level = 4) {
  return frame(0x10, cat({lengthPrefixed(name), {level, flags, 0x00, 0x3C}, payload}));
}

struct Golden {
  std::string name;
  Bytes wire;
  mqtt::Packet packet;
};

std::ostream& operator<<(std::ostream& os, const Golden& g) { return os << g.name; }

const std::vector<Golden>& goldens() {
  static const std::vector<Golden> kGoldens{
      {"ConnectMinimal",
       {
           0x10,                // CONNECT, flags 0
           0x0F,                // remaining length 15
           0x00, 0x04,          // protocol name length 4
           'M', 'Q', 'T', 'T',  // protocol name "MQTT"
           0x04,                // protocol level 4 (3.1.1)
           0x02,                // connect flags: clean session
           0x00, 0x3C,          // keep alive 60 s
           0x00, 0x03,          // client id length 3
           'a', 'b', 'c',       // client id "abc"
       },
       mqtt::Connect{
           .protocolName = "MQTT", .protocolLevel = 4, .cleanSession = true, .keepAlive = 60, .clientId = "abc"}},
      {"ConnectWillUsernamePassword",
       {
           0x10,                                                    // CONNECT, flags 0
           0x2D,                                                    // remaining length 45
           0x00, 0x04,                                              // protocol name length 4
           'M', 'Q', 'T', 'T',                                      // protocol name "MQTT"
           0x04,                                                    // protocol level 4 (3.1.1)
           0xEC,                                                    // flags: user 0x80, password 0x40,
                                                                    //   will retain 0x20, will QoS 1 0x08,
                                                                    //   will 0x04; clean session 0
           0x01, 0x2C,                                              // keep alive 300 s
           0x00, 0x04,                                              // client id length 4
           'd', 'e', 'v', '1',                                      // client id "dev1"
           0x00, 0x0C,                                              // will topic length 12
           'd', 'e', 'v', '/', '1', '/', 's', 't', 'a', 't', 'u', 's',  // will topic "dev/1/status"
           0x00, 0x03,                                              // will message length 3
           'o', 'f', 'f',                                           // will message "off"
           0x00, 0x04,                                              // user name length 4
           'u', 's', 'e', 'r',                                      // user name "user"
           0x00, 0x02,                                              // password length 2
           0x00, 0xFF,                                              // password: binary, not UTF-8
       },
       mqtt::Connect{.protocolName = "MQTT",
                     .protocolLevel = 4,
                     .cleanSession = false,
                     .keepAlive = 300,
                     .clientId = "dev1",
                     .will = mqtt::Will{.topic = "dev/1/status",
                                        .payload = bytes("off"),
                                        .qos = mqtt::QoS::AtLeastOnce,
                                        .retain = true},
                     .username = "user",
                     .password = Bytes{0x00, 0xFF}}},
      {"Connect31",
       {
           0x10,                          // CONNECT, flags 0
           0x14,                          // remaining length 20
           0x00, 0x06,                    // protocol name length 6
           'M', 'Q', 'I', 's', 'd', 'p',  // protocol name "MQIsdp" (MQTT 3.1)
           0x03,                          // protocol level 3 (3.1)
           0x82,                          // flags: user name 0x80, clean session 0x02
           0x00, 0x0A,                    // keep alive 10 s
           0x00, 0x03,                    // client id length 3
           'c', '3', '1',                 // client id "c31"
           0x00, 0x01,                    // user name length 1
           'u',                           // user name "u"
       },
       mqtt::Connect{.protocolName = "MQIsdp",
                     .protocolLevel = 3,
                     .cleanSession = true,
                     .keepAlive = 10,
                     .clientId = "c31",
                     .username = "u"}},
      {"Connect31PasswordWithoutUsername",
       {
           0x10,                          // CONNECT, flags 0
           0x13,                          // remaining length 19
           0x00, 0x06,                    // protocol name length 6
           'M', 'Q', 'I', 's', 'd', 'p',  // protocol name "MQIsdp"
           0x03,                          // protocol level 3: 3.1 does not forbid a lone password
           0x42,                          // flags: password 0x40, clean session 0x02
           0x00, 0x0A,                    // keep alive 10 s
           0x00, 0x01,                    // client id length 1
           'p',                           // client id "p"
           0x00, 0x02,                    // password length 2
           'p', 'w',                      // password "pw"
       },
       mqtt::Connect{.protocolName = "MQIsdp",
                     .protocolLevel = 3,
                     .cleanSession = true,
                     .keepAlive = 10,
                     .clientId = "p",
                     .password = bytes("pw")}},
      {"ConnackSessionPresent",
       {
           0x20,  // CONNACK, flags 0
           0x02,  // remaining length 2
           0x01,  // acknowledge flags: session present
           0x00,  // return code 0: accepted
       },
       mqtt::Connack{.sessionPresent = true, .returnCode = mqtt::ConnectReturn::Accepted}},
      {"ConnackNotAuthorized",
       {
           0x20,  // CONNACK, flags 0
           0x02,  // remaining length 2
           0x00,  // acknowledge flags: no session
           0x05,  // return code 5: not authorized
       },
       mqtt::Connack{.sessionPresent = false, .returnCode = mqtt::ConnectReturn::NotAuthorized}},
      {"PublishQos0Retain",
       {
           0x31,           // PUBLISH, retain
           0x07,           // remaining length 7
           0x00, 0x03,     // topic length 3
           'a', '/', 'b',  // topic "a/b"
           'h', 'i',       // payload "hi" (no packet id at QoS 0)
       },
       mqtt::Publish{.topic = "a/b", .payload = bytes("hi"), .qos = mqtt::QoS::AtMostOnce, .retain = true}},
      {"PublishQos1Dup",
       {
           0x3A,        // PUBLISH, DUP 0x08, QoS 1 0x02
           0x07,        // remaining length 7
           0x00, 0x01,  // topic length 1
           't',         // topic "t"
           0x12, 0x34,  // packet id 0x1234
           0x00, 0xFF,  // payload: two binary bytes
       },
       mqtt::Publish{
           .topic = "t", .payload = Bytes{0x00, 0xFF}, .qos = mqtt::QoS::AtLeastOnce, .dup = true, .packetId = 0x1234}},
      {"PublishQos2EmptyPayload",
       {
           0x34,           // PUBLISH, QoS 2 0x04
           0x07,           // remaining length 7
           0x00, 0x03,     // topic length 3
           't', '/', '2',  // topic "t/2"
           0x00, 0x01,     // packet id 1; payload empty
       },
       mqtt::Publish{.topic = "t/2", .qos = mqtt::QoS::ExactlyOnce, .packetId = 1}},
      {"Puback",
       {
           0x40,        // PUBACK, flags 0
           0x02,        // remaining length 2
           0x12, 0x34,  // packet id 0x1234
       },
       mqtt::Puback{.packetId = 0x1234}},
      {"Pubrec",
       {
           0x50,        // PUBREC, flags 0
           0x02,        // remaining length 2
           0x00, 0x01,  // packet id 1
       },
       mqtt::Pubrec{.packetId = 1}},
      {"Pubrel",
       {
           0x62,        // PUBREL, flags 0b0010 [MQTT-3.6.1-1]
           0x02,        // remaining length 2
           0xFF, 0xFF,  // packet id 65535
       },
       mqtt::Pubrel{.packetId = 0xFFFF}},
      {"Pubcomp",
       {
           0x70,        // PUBCOMP, flags 0
           0x02,        // remaining length 2
           0x00, 0x2A,  // packet id 42
       },
       mqtt::Pubcomp{.packetId = 42}},
      {"Subscribe",
       {
           0x82,           // SUBSCRIBE, flags 0b0010 [MQTT-3.8.1-1]
           0x0E,           // remaining length 14
           0x00, 0x0A,     // packet id 10
           0x00, 0x03,     // filter length 3
           'a', '/', '+',  // filter "a/+"
           0x00,           // requested QoS 0
           0x00, 0x03,     // filter length 3
           'b', '/', '#',  // filter "b/#"
           0x02,           // requested QoS 2
       },
       mqtt::Subscribe{.packetId = 10,
                       .subscriptions = {{.filter = "a/+", .qos = mqtt::QoS::AtMostOnce},
                                         {.filter = "b/#", .qos = mqtt::QoS::ExactlyOnce}}}},
      {"Suback",
       {
           0x90,        // SUBACK, flags 0
           0x06,        // remaining length 6
           0x00, 0x0A,  // packet id 10
           0x00,        // granted QoS 0
           0x01,        // granted QoS 1
           0x02,        // granted QoS 2
           0x80,        // failure
       },
       mqtt::Suback{.packetId = 10, .returnCodes = {0x00, 0x01, 0x02, 0x80}}},
      {"Unsubscribe",
       {
           0xA2,                          // UNSUBSCRIBE, flags 0b0010 [MQTT-3.10.1-1]
           0x0F,                          // remaining length 15
           0x00, 0x0B,                    // packet id 11
           0x00, 0x03,                    // filter length 3
           'a', '/', '+',                 // filter "a/+"
           0x00, 0x06,                    // filter length 6
           '$', 'S', 'Y', 'S', '/', '#',  // filter "$SYS/#"
       },
       mqtt::Unsubscribe{.packetId = 11, .filters = {"a/+", "$SYS/#"}}},
      {"Unsuback",
       {
           0xB0,        // UNSUBACK, flags 0
           0x02,        // remaining length 2
           0x00, 0x0B,  // packet id 11
       },
       mqtt::Unsuback{.packetId = 11}},
      {"Pingreq",
       {
           0xC0,  // PINGREQ, flags 0
           0x00,  // remaining length 0
       },
       mqtt::Pingreq{}},
      {"Pingresp",
       {
           0xD0,  // PINGRESP, flags 0
           0x00,  // remaining length 0
       },
       mqtt::Pingresp{}},
      {"Disconnect",
       {
           0xE0,  // DISCONNECT, flags 0
           0x00,  // remaining length 0
       },
       mqtt::Disconnect{}},
  };
  return kGoldens;
}

class MqttGolden : public testing::TestWithParam<Golden> {};

TEST_P(MqttGolden, DecodesToThePacket) {
  const auto& g = GetParam();
  auto r = mqtt::decode(g.wire, {});
  ASSERT_TRUE(r) << mqtt::make_error_code(r.error()).message();
  EXPECT_EQ(r->consumed, g.wire.size());
  EXPECT_EQ(r->value, g.packet);
}

TEST_P(MqttGolden, EncodesToTheGoldenBytes) {
  const auto& g = GetParam();
  EXPECT_EQ(mqtt::encode(g.packet).value(), g.wire);
}

TEST_P(MqttGolden, EveryStrictPrefixIsIncomplete) {
  const auto& g = GetParam();
  const std::span<const std::uint8_t> wire(g.wire);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = mqtt::decode(wire.first(n), {});
    ASSERT_FALSE(r) << "prefix " << n;
    EXPECT_EQ(r.error(), mqtt::DecodeError::Incomplete) << "prefix " << n;
  }
}

TEST_P(MqttGolden, DecodeThenEncodeReproducesTheBytes) {
  const auto& g = GetParam();
  auto r = mqtt::decode(g.wire, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(mqtt::encode(r->value).value(), g.wire);
  auto again = mqtt::decode(mqtt::encode(g.packet).value(), {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->value, g.packet);
}

TEST_P(MqttGolden, EncodeAppendsToExistingBytes) {
  const auto& g = GetParam();
  Bytes out{0xAA, 0xBB};
  ASSERT_EQ(mqtt::encode(g.packet, out).value(), g.wire.size());
  ASSERT_EQ(out.size(), 2 + g.wire.size());
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(out[1], 0xBB);
  EXPECT_TRUE(std::equal(g.wire.begin(), g.wire.end(), out.begin() + 2));
}

TEST_P(MqttGolden, IgnoresBytesOfTheNextPacket) {
  const auto& g = GetParam();
  Bytes wire = g.wire;
  wire.push_back(0xC0);  // first byte of a following PINGREQ
  auto r = mqtt::decode(wire, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, g.wire.size());
  EXPECT_EQ(r->value, g.packet);
}

INSTANTIATE_TEST_SUITE_P(AllPacketTypes, MqttGolden, testing::ValuesIn(goldens()),
                         [](const testing::TestParamInfo<Golden>& info) { return info.param.name; });

TEST(MqttGoldenSet, CoversEveryPacketType) {
  std::set<std::size_t> types;
  for (const auto& g : goldens()) types.insert(g.packet.index());
  EXPECT_EQ(types.size(), std::variant_size_v<mqtt::Packet>);
}

// ---- malformed input ----

struct Malformed {
  std::string name;
  Bytes wire;
  mqtt::DecodeError error;
  mqtt::Limits limits{};
};

std::ostream& operator<<(std::ostream& os, const Malformed& m) { return os << m.name; }

using E = mqtt::DecodeError;

const std::vector<Malformed>& malformed() {
  static const std::vector<Malformed> kRows{
      // Nothing received yet: the caller must read more.
      {"EmptyInput", {}, E::Incomplete},
      // §2.2.3: the remaining length is at most four bytes; the fourth must not say "more follows".
      {"LengthOfFiveBytes", {0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, E::MalformedLength},
      // §3.3.2.1: topic length 5 overruns a remaining length of 3.
      {"PublishTopicOverrunsPacket", {0x30, 0x03, 0x00, 0x05, 'a'}, E::MalformedLength},
      // §3.4.1: PUBACK remaining length is 2; one byte cannot hold the packet id.
      {"PubackTooShort", {0x40, 0x01, 0x01}, E::MalformedLength},
      // §3.2.1: CONNACK remaining length is 2.
      {"ConnackTooShort", {0x20, 0x01, 0x00}, E::MalformedLength},
      // §3.1.2: CONNECT variable header ends after the protocol name.
      {"ConnectWithoutLevel", frame(0x10, lengthPrefixed("MQTT")), E::MalformedLength},
      // §3.1.3: a will flag promises a will topic and message that are missing.
      {"ConnectWillMissing", connectWire(0x06, lengthPrefixed("a")), E::MalformedLength},
      // §3.8.3: each SUBSCRIBE filter is followed by a Requested QoS byte.
      {"SubscribeMissingQos", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed("a")})), E::MalformedLength},
      // Limits::maxPacket: a 5-byte packet (fixed header included) over a 4-byte limit.
      {"OverMaxPacket", {0xC0, 0x03, 0x00, 0x00, 0x00}, E::TooLarge, mqtt::Limits{.maxPacket = 4}},
      // §2.2.1: packet types 0 and 15 are reserved.
      {"TypeZero", {0x00, 0x00}, E::UnknownPacketType},
      {"TypeFifteen", {0xF0, 0x00}, E::UnknownPacketType},
      // [MQTT-2.2.2-2]: reserved flags of CONNECT, PUBACK, PINGREQ are 0.
      {"ConnectFlagsSet", {0x11, 0x00}, E::BadFlags},
      {"PubackFlagsSet", {0x41, 0x02, 0x00, 0x01}, E::BadFlags},
      {"PingreqFlagsSet", {0xC2, 0x00}, E::BadFlags},
      // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]: these three carry 0b0010.
      {"PubrelFlagsZero", {0x60, 0x02, 0x00, 0x01}, E::BadFlags},
      {"SubscribeFlagsZero", frame(0x80, cat({{0x00, 0x01}, lengthPrefixed("a"), {0x00}})), E::BadFlags},
      {"UnsubscribeFlagsThree", frame(0xA3, cat({{0x00, 0x01}, lengthPrefixed("a")})), E::BadFlags},
      // [MQTT-3.3.1-2]: DUP must be 0 for QoS 0 messages.
      {"PublishQos0WithDup", frame(0x38, lengthPrefixed("a")), E::BadFlags},
      // [MQTT-3.3.1-4]: PUBLISH QoS 3 is malformed.
      {"PublishQos3", frame(0x36, cat({lengthPrefixed("a"), {0x00, 0x01}})), E::BadQos},
      // [MQTT-3.1.2-14]: will QoS 3 (flags: will QoS 0x18, will 0x04, clean 0x02).
      {"ConnectWillQos3", connectWire(0x1E, cat({lengthPrefixed("a"), lengthPrefixed("w"), lengthPrefixed("")})),
       E::BadQos},
      // [MQTT-3.8.3-4]: Requested QoS 3.
      {"SubscribeQos3", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed("a"), {0x03}})), E::BadQos},
      // [MQTT-3.8.3-4]: reserved upper six bits of the Requested QoS byte set (reported as BadQos).
      {"SubscribeQosReservedBits", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed("a"), {0x41}})), E::BadQos},
      // [MQTT-3.9.3-2]: SUBACK return codes other than 0x00, 0x01, 0x02, 0x80 are reserved.
      {"SubackCode3", {0x90, 0x03, 0x00, 0x01, 0x03}, E::BadQos},
      // [MQTT-2.3.1-1]: packet ids are non-zero wherever they appear.
      {"PublishQos1IdZero", frame(0x32, cat({lengthPrefixed("a"), {0x00, 0x00}})), E::ZeroPacketId},
      {"PubackIdZero", {0x40, 0x02, 0x00, 0x00}, E::ZeroPacketId},
      {"PubrecIdZero", {0x50, 0x02, 0x00, 0x00}, E::ZeroPacketId},
      {"PubrelIdZero", {0x62, 0x02, 0x00, 0x00}, E::ZeroPacketId},
      {"PubcompIdZero", {0x70, 0x02, 0x00, 0x00}, E::ZeroPacketId},
      {"SubscribeIdZero", frame(0x82, cat({{0x00, 0x00}, lengthPrefixed("a"), {0x00}})), E::ZeroPacketId},
      {"SubackIdZero", {0x90, 0x03, 0x00, 0x00, 0x00}, E::ZeroPacketId},
      {"UnsubscribeIdZero", frame(0xA2, cat({{0x00, 0x00}, lengthPrefixed("a")})), E::ZeroPacketId},
      {"UnsubackIdZero", {0xB0, 0x02, 0x00, 0x00}, E::ZeroPacketId},
      // [MQTT-1.5.3-1]: overlong encoding of U+0000 (C0 80) in a topic name.
      {"PublishTopicOverlong", frame(0x30, cat({{0x00, 0x02, 0xC0, 0x80}})), E::BadUtf8},
      // [MQTT-1.5.3-2]: U+0000 in a topic name.
      {"PublishTopicNul", frame(0x30, lengthPrefixed(std::string_view("a\0b", 3))), E::BadUtf8},
      // [MQTT-1.5.3-1]: UTF-16 surrogate half (ED A0 80) in a client id.
      {"ConnectClientIdSurrogate", connectWire(0x02, {0x00, 0x03, 0xED, 0xA0, 0x80}), E::BadUtf8},
      // [MQTT-3.1.3-11]: the user name is a UTF-8 string; FF never occurs in UTF-8.
      {"ConnectUsernameInvalid", connectWire(0x82, cat({lengthPrefixed("a"), {0x00, 0x01, 0xFF}})), E::BadUtf8},
      // [MQTT-3.1.3-10]: the will topic is a UTF-8 string; C3 is a truncated sequence.
      {"ConnectWillTopicInvalid", connectWire(0x06, cat({lengthPrefixed("a"), {0x00, 0x01, 0xC3}, lengthPrefixed("")})),
       E::BadUtf8},
      // [MQTT-1.5.3-1]: lone continuation byte in a SUBSCRIBE filter.
      {"SubscribeFilterInvalid", frame(0x82, cat({{0x00, 0x01}, {0x00, 0x01, 0x80}, {0x00}})), E::BadUtf8},
      // [MQTT-1.5.3-1]: code point above U+10FFFF (F4 90 80 80) in an UNSUBSCRIBE filter.
      {"UnsubscribeFilterInvalid", frame(0xA2, cat({{0x00, 0x01}, {0x00, 0x04, 0xF4, 0x90, 0x80, 0x80}})), E::BadUtf8},
      // [MQTT-4.7.3-1]: topic names are at least one character long.
      {"PublishEmptyTopic", frame(0x30, lengthPrefixed("")), E::BadTopicName},
      // [MQTT-3.3.2-2]: no wildcards in a PUBLISH topic name.
      {"PublishTopicPlus", frame(0x30, lengthPrefixed("a/+")), E::BadTopicName},
      {"PublishTopicHash", frame(0x30, lengthPrefixed("a/#")), E::BadTopicName},
      // §3.1.3.2, [MQTT-3.3.2-2]: the will topic becomes a PUBLISH topic name, so no wildcards.
      {"ConnectWillTopicWildcard",
       connectWire(0x06, cat({lengthPrefixed("a"), lengthPrefixed("w/#"), lengthPrefixed("")})), E::BadTopicName},
      // [MQTT-4.7.1-2]: '#' must be last and alone in its level.
      {"SubscribeHashNotLast", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed("a/#/b"), {0x00}})), E::BadTopicFilter},
      // [MQTT-4.7.1-3]: '+' must occupy a whole level.
      {"SubscribePlusInLevel", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed("a+"), {0x00}})), E::BadTopicFilter},
      // [MQTT-4.7.3-1]: filters are at least one character long.
      {"SubscribeEmptyFilter", frame(0x82, cat({{0x00, 0x01}, lengthPrefixed(""), {0x00}})), E::BadTopicFilter},
      {"UnsubscribeHashInLevel", frame(0xA2, cat({{0x00, 0x01}, lengthPrefixed("a#")})), E::BadTopicFilter},
      // [MQTT-3.1.2-1]: protocol name is "MQTT" (or "MQIsdp" for 3.1), case-sensitive.
      {"ConnectProtocolMqtx", connectWire(0x02, lengthPrefixed("a"), "MQTX"), E::BadProtocolName},
      {"ConnectProtocolLowercase", connectWire(0x02, lengthPrefixed("a"), "mqtt"), E::BadProtocolName},
      {"ConnectProtocolEmpty", connectWire(0x02, lengthPrefixed("a"), ""), E::BadProtocolName},
      // [MQTT-3.1.2-3]: the reserved connect flag is 0.
      {"ConnectReservedFlag", connectWire(0x03, lengthPrefixed("a")), E::BadConnectFlags},
      // [MQTT-3.1.2-13]: will QoS must be 0 when the will flag is 0.
      {"ConnectWillQosWithoutWill", connectWire(0x0A, lengthPrefixed("a")), E::BadConnectFlags},
      // [MQTT-3.1.2-15]: will retain must be 0 when the will flag is 0.
      {"ConnectWillRetainWithoutWill", connectWire(0x22, lengthPrefixed("a")), E::BadConnectFlags},
      // [MQTT-3.1.2-22]: 3.1.1 forbids a password without a user name.
      {"ConnectPasswordWithoutUsername", connectWire(0x42, cat({lengthPrefixed("a"), lengthPrefixed("pw")})),
       E::BadConnectFlags},
      // §3.2.2.1: CONNACK acknowledge flags bits 7-1 are reserved.
      {"ConnackReservedFlags", {0x20, 0x02, 0x02, 0x00}, E::BadConnectFlags},
      // [MQTT-3.8.3-3]: a SUBSCRIBE carries at least one filter.
      {"SubscribeNoFilters", {0x82, 0x02, 0x00, 0x01}, E::EmptySubscription},
      // [MQTT-3.10.3-2]: an UNSUBSCRIBE carries at least one filter.
      {"UnsubscribeNoFilters", {0xA2, 0x02, 0x00, 0x01}, E::EmptySubscription},
      // §3.9.3: a SUBACK has one return code per filter of its SUBSCRIBE, so at least one.
      {"SubackNoCodes", {0x90, 0x02, 0x00, 0x01}, E::EmptySubscription},
      // §3.12.1, §3.13.1, §3.14.1: remaining length 0.
      {"PingreqWithBody", {0xC0, 0x01, 0x00}, E::TrailingBytes},
      {"PingrespWithBody", {0xD0, 0x01, 0x00}, E::TrailingBytes},
      {"DisconnectWithBody", {0xE0, 0x01, 0x00}, E::TrailingBytes},
      // §3.4.1, §3.11.1: remaining length 2.
      {"PubackWithExtraByte", {0x40, 0x03, 0x00, 0x01, 0x00}, E::TrailingBytes},
      {"UnsubackWithExtraByte", {0xB0, 0x03, 0x00, 0x01, 0x00}, E::TrailingBytes},
      // §3.2.1: CONNACK remaining length 2.
      {"ConnackWithExtraByte", {0x20, 0x03, 0x00, 0x00, 0x00}, E::TrailingBytes},
      // §3.1.3: nothing follows the last field the flags announce.
      {"ConnectWithExtraByte", connectWire(0x02, cat({lengthPrefixed("a"), {0x00}})), E::TrailingBytes},
  };
  return kRows;
}

class MqttMalformed : public testing::TestWithParam<Malformed> {};

TEST_P(MqttMalformed, IsRejectedWithTheRuleItBreaks) {
  const auto& m = GetParam();
  auto r = mqtt::decode(m.wire, m.limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), m.error) << "got " << mqtt::make_error_code(r.error()).message();
}

// Every row except the empty buffer has a complete fixed header, so bytes of a following packet
// must not change the verdict.
std::vector<Malformed> framedRows() {
  std::vector<Malformed> rows;
  for (const auto& m : malformed()) {
    if (m.error != E::Incomplete) rows.push_back(m);
  }
  return rows;
}

class MqttMalformedFramed : public testing::TestWithParam<Malformed> {};

TEST_P(MqttMalformedFramed, ExtraBytesAfterThePacketDoNotChangeTheVerdict) {
  const auto& m = GetParam();
  Bytes wire = m.wire;
  wire.insert(wire.end(), {0xC0, 0x00});  // a PINGREQ behind it
  auto r = mqtt::decode(wire, m.limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), m.error);
}

INSTANTIATE_TEST_SUITE_P(Table, MqttMalformed, testing::ValuesIn(malformed()),
                         [](const testing::TestParamInfo<Malformed>& info) { return info.param.name; });
INSTANTIATE_TEST_SUITE_P(Table, MqttMalformedFramed, testing::ValuesIn(framedRows()),
                         [](const testing::TestParamInfo<Malformed>& info) { return info.param.name; });

TEST(MqttMalformedTable, CoversEveryDecodeError) {
  std::set<E> seen;
  for (const auto& m : malformed()) seen.insert(m.error);
  for (int e = static_cast<int>(E::Incomplete); e <= static_cast<int>(E::TrailingBytes); ++e) {
    EXPECT_TRUE(seen.count(static_cast<E>(e))) << mqtt::make_error_code(static_cast<E>(e)).message();
  }
}

// ---- limits ----

TEST(MqttLimits, DefaultMaxPacketIs256KiB) { EXPECT_EQ(mqtt::Limits{}.maxPacket, 256u * 1024u); }

TEST(MqttLimits, MaxPacketIsInclusive) {
  // PUBLISH "t" with 200 payload bytes: 1 + 2 (length 203) + 203 = 206 bytes.
  const auto wire = frame(0x30, cat({lengthPrefixed("t"), Bytes(200, 0x5A)}));
  ASSERT_EQ(wire.size(), 206u);
  auto fits = mqtt::decode(wire, mqtt::Limits{.maxPacket = 206});
  ASSERT_TRUE(fits);
  EXPECT_EQ(fits->consumed, 206u);
  auto over = mqtt::decode(wire, mqtt::Limits{.maxPacket = 205});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), E::TooLarge);
}

TEST(MqttLimits, TooLargeIsReportedBeforeTheBodyArrives) {
  const Bytes header{0x30, 0xFF, 0x7F};  // PUBLISH, remaining length 16383, no body yet
  auto r = mqtt::decode(header, mqtt::Limits{.maxPacket = 1000});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), E::TooLarge);
}

TEST(MqttLimits, LargestRemainingLengthIs268435455) {
  const Bytes header{0x30, 0xFF, 0xFF, 0xFF, 0x7F};  // PUBLISH, remaining length 268435455 (§2.2.3 table 2.4)
  constexpr std::size_t kTotal = 5 + 268'435'455;
  auto fits = mqtt::decode(header, mqtt::Limits{.maxPacket = kTotal});
  ASSERT_FALSE(fits);
  EXPECT_EQ(fits.error(), E::Incomplete);  // accepted; waiting for the body
  auto over = mqtt::decode(header, mqtt::Limits{.maxPacket = kTotal - 1});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), E::TooLarge);  // proves the length decoded to exactly 268435455
}

TEST(MqttLimits, FifthLengthByteIsMalformedWithoutWaitingForIt) {
  const mqtt::Limits unlimited{.maxPacket = std::numeric_limits<std::size_t>::max()};
  const Bytes threeMore{0x30, 0x80, 0x80, 0x80};  // three length bytes, all "more follows"
  auto partial = mqtt::decode(threeMore, unlimited);
  ASSERT_FALSE(partial);
  EXPECT_EQ(partial.error(), E::Incomplete);
  const Bytes fourMore{0x30, 0x80, 0x80, 0x80, 0x80};  // the fourth also says "more follows"
  auto r = mqtt::decode(fourMore, unlimited);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), E::MalformedLength);
}

TEST(MqttLimits, NonMinimalLengthIsAccepted) {
  const Bytes wire{0xC0, 0x80, 0x00};  // PINGREQ, remaining length 0 spelled in two bytes
  auto r = mqtt::decode(wire, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, 3u);
  EXPECT_EQ(r->value, mqtt::Packet{mqtt::Pingreq{}});
  EXPECT_EQ(mqtt::encode(r->value).value(), (Bytes{0xC0, 0x00}));  // re-encoded minimally
}

struct LengthCase {
  std::size_t remaining;
  Bytes encoded;
};

TEST(MqttLimits, RemainingLengthBoundariesRoundTrip) {
  // §2.2.3 table 2.4: the largest value of each width and the smallest of the next.
  const std::vector<LengthCase> cases{
      {3, {0x03}},
      {127, {0x7F}},
      {128, {0x80, 0x01}},
      {16'383, {0xFF, 0x7F}},
      {16'384, {0x80, 0x80, 0x01}},
      {2'097'151, {0xFF, 0xFF, 0x7F}},
      {2'097'152, {0x80, 0x80, 0x80, 0x01}},
  };
  const mqtt::Limits big{.maxPacket = 4 * 1024 * 1024};
  for (const auto& c : cases) {
    // PUBLISH QoS 0 to "t": remaining = 2 + 1 + payload.
    const mqtt::Publish p{.topic = "t", .payload = Bytes(c.remaining - 3, 0x42)};
    const auto wire = mqtt::encode(p).value();
    ASSERT_EQ(wire.size(), 1 + c.encoded.size() + c.remaining) << c.remaining;
    EXPECT_TRUE(std::equal(c.encoded.begin(), c.encoded.end(), wire.begin() + 1)) << c.remaining;
    auto r = mqtt::decode(wire, big);
    ASSERT_TRUE(r) << c.remaining;
    EXPECT_EQ(r->consumed, wire.size());
    EXPECT_EQ(std::get<mqtt::Publish>(r->value), p);
    // The prefix that ends inside a multi-byte length is Incomplete too.
    auto head = mqtt::decode(std::span(wire).first(c.encoded.size()), big);
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error(), E::Incomplete);
  }
}

// ---- streams and CONNECT details ----

TEST(MqttDecode, TwoPacketsInOneBufferAreConsumedExactly) {
  const Bytes wire{
      0x32, 0x06,       // PUBLISH QoS 1, remaining length 6
      0x00, 0x01, 'x',  // topic "x"
      0x00, 0x07,       // packet id 7
      'p',              // payload "p"
      0xC0, 0x00,       // PINGREQ
  };
  auto first = mqtt::decode(wire, {});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->consumed, 8u);
  const mqtt::Publish expected{.topic = "x", .payload = bytes("p"), .qos = mqtt::QoS::AtLeastOnce, .packetId = 7};
  EXPECT_EQ(first->value, mqtt::Packet{expected});
  auto second = mqtt::decode(std::span(wire).subspan(first->consumed), {});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->consumed, 2u);
  EXPECT_EQ(second->value, mqtt::Packet{mqtt::Pingreq{}});
}

TEST(MqttDecode, ConnectWithUnknownLevelSkipsThePayload) {
  // An MQTT 5 CONNECT: properties (length 0) precede the client id. The server must still be able
  // to answer CONNACK 0x01 [MQTT-3.1.2-2], so the decoder reports the level and skips the rest.
  const Bytes wire{
      0x10, 0x10,               // CONNECT, remaining length 16
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // "MQTT"
      0x05,                     // protocol level 5
      0x02,                     // clean start
      0x00, 0x3C,               // keep alive 60
      0x00,                     // property length 0 (MQTT 5 only)
      0x00, 0x03, 'a', 'b', 'c',  // client id "abc"
  };
  auto r = mqtt::decode(wire, {});
  ASSERT_TRUE(r) << mqtt::make_error_code(r.error()).message();
  EXPECT_EQ(r->consumed, wire.size());
  const auto& c = std::get<mqtt::Connect>(r->value);
  EXPECT_EQ(c.protocolLevel, 5);
  EXPECT_EQ(c.keepAlive, 60);
  EXPECT_TRUE(c.cleanSession);
  EXPECT_EQ(c.clientId, "");
  auto again = mqtt::decode(mqtt::encode(r->value).value(), {});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->value, r->value);
}

TEST(MqttDecode, ConnectProtocolNameAndLevelNeedNotAgree) {
  // "MQIsdp" with level 4: the name is known and the level is the server's business.
  auto r = mqtt::decode(connectWire(0x02, lengthPrefixed("a"), "MQIsdp", 4), {});
  ASSERT_TRUE(r);
  const auto& c = std::get<mqtt::Connect>(r->value);
  EXPECT_EQ(c.protocolName, "MQIsdp");
  EXPECT_EQ(c.protocolLevel, 4);
  EXPECT_EQ(c.clientId, "a");
}

TEST(MqttDecode, ConnectAcceptsEmptyClientId) {
  // [MQTT-3.1.3-6]: a zero-byte client id is the server's decision, not a malformed packet.
  auto r = mqtt::decode(connectWire(0x02, lengthPrefixed("")), {});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<mqtt::Connect>(r->value).clientId, "");
}

TEST(MqttDecode, ConnackKeepsReservedReturnCodes) {
  // Return codes 6-255 are reserved (§3.2.2.3); the client sees the raw value.
  auto r = mqtt::decode(Bytes{0x20, 0x02, 0x00, 0x06}, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<int>(std::get<mqtt::Connack>(r->value).returnCode), 6);
}

TEST(MqttDecode, PublishPayloadMayContainAnyBytes) {
  Bytes payload;
  for (int i = 0; i < 256; ++i) payload.push_back(static_cast<std::uint8_t>(i));
  const auto wire = frame(0x30, cat({lengthPrefixed("bin"), payload}));
  auto r = mqtt::decode(wire, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<mqtt::Publish>(r->value).payload, payload);
}

TEST(MqttDecode, DollarTopicsAreValidNames) {
  auto r = mqtt::decode(frame(0x30, lengthPrefixed("$SYS/broker/uptime")), {});
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<mqtt::Publish>(r->value).topic, "$SYS/broker/uptime");
}

// ---- encoder ----

TEST(MqttEncode, Qos0PublishOmitsThePacketId) {
  const mqtt::Publish p{.topic = "t", .payload = bytes("x"), .qos = mqtt::QoS::AtMostOnce, .packetId = 99};
  EXPECT_EQ(mqtt::encode(p).value(), (Bytes{0x30, 0x04, 0x00, 0x01, 't', 'x'}));
}

TEST(MqttEncode, KeepAliveIsBigEndian) {
  const mqtt::Connect c{.keepAlive = 0xABCD, .clientId = "k"};
  const auto wire = mqtt::encode(c).value();
  ASSERT_GE(wire.size(), 12u);
  EXPECT_EQ(wire[10], 0xAB);  // after type, length, "MQTT" (6), level, flags
  EXPECT_EQ(wire[11], 0xCD);
}

TEST(MqttEncode, EncodePublishMatchesEncodeOfAPublish) {
  const Bytes payload = bytes("payload");
  for (const auto qos : {mqtt::QoS::AtMostOnce, mqtt::QoS::AtLeastOnce, mqtt::QoS::ExactlyOnce}) {
    for (const bool retain : {false, true}) {
      const bool dup = qos != mqtt::QoS::AtMostOnce;
      const std::uint16_t id = qos == mqtt::QoS::AtMostOnce ? 0 : 0x0102;
      const mqtt::Publish p{
          .topic = "a/b", .payload = payload, .qos = qos, .retain = retain, .dup = dup, .packetId = id};
      Bytes out{0x01};
      ASSERT_TRUE(mqtt::encodePublish("a/b", payload, qos, retain, dup, id, out));
      Bytes expected{0x01};
      ASSERT_TRUE(mqtt::encode(p, expected));
      EXPECT_EQ(out, expected) << static_cast<int>(qos) << retain;
    }
  }
}

// Issue 13 §3: a field longer than its two-byte length prefix, or a packet longer than four
// remaining-length bytes, is refused (and nothing appended) instead of wrapping into a corrupt packet.
TEST(MqttEncode, RefusesStringsLongerThanTheirLengthPrefix) {
  const std::string longest(mqtt::kMaxStringLength, 'a');
  const std::string tooLong(mqtt::kMaxStringLength + 1, 'a');
  Bytes out{0x01};
  auto ok = mqtt::encode(mqtt::Publish{.topic = longest, .payload = bytes("x")}, out);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, out.size() - 1);
  auto back = mqtt::decode(std::span(out).subspan(1), {.maxPacket = out.size()});
  ASSERT_TRUE(back);
  EXPECT_EQ(std::get<mqtt::Publish>(back->value).topic, longest);

  const auto before = out;
  const auto refused = [&](const mqtt::Packet& p) {
    auto r = mqtt::encode(p, out);
    EXPECT_EQ(out, before) << "nothing appended";
    return r ? std::optional<mqtt::EncodeError>{} : std::optional(r.error());
  };
  const auto kTooLong = std::optional(mqtt::EncodeError::StringTooLong);
  EXPECT_EQ(refused(mqtt::Publish{.topic = tooLong}), kTooLong);
  EXPECT_EQ(refused(mqtt::Publish{.topic = std::string(70'000, 't'), .payload = bytes("x")}), kTooLong);
  EXPECT_EQ(refused(mqtt::Connect{.clientId = tooLong}), kTooLong);
  EXPECT_EQ(refused(mqtt::Connect{.clientId = "c", .username = tooLong}), kTooLong);
  EXPECT_EQ(refused(mqtt::Connect{.clientId = "c", .username = "u", .password = Bytes(mqtt::kMaxStringLength + 1)}),
            kTooLong);
  EXPECT_EQ(refused(mqtt::Connect{.clientId = "c", .will = mqtt::Will{.topic = "w", .payload = Bytes(70'000)}}),
            kTooLong);
  EXPECT_EQ(refused(mqtt::Connect{.clientId = "c", .will = mqtt::Will{.topic = tooLong}}), kTooLong);
  EXPECT_EQ(refused(mqtt::Subscribe{.packetId = 1, .subscriptions = {{"ok"}, {tooLong}}}), kTooLong);
  EXPECT_EQ(refused(mqtt::Unsubscribe{.packetId = 1, .filters = {tooLong}}), kTooLong);
  auto publish = mqtt::encodePublish(tooLong, {}, mqtt::QoS::AtMostOnce, false, false, 0, out);
  ASSERT_FALSE(publish);
  EXPECT_EQ(publish.error(), mqtt::EncodeError::StringTooLong);
  EXPECT_EQ(out, before);
  auto whole = mqtt::encode(mqtt::Publish{.topic = tooLong});
  ASSERT_FALSE(whole);
  EXPECT_EQ(make_error_code(whole.error()).category().name(), std::string("mqtt.encode"));
}

TEST(MqttEncode, RefusesPacketsBeyondFourLengthBytes) {
  // Sizes only: a 256 MiB payload is not worth allocating to check one comparison.
  using mqtt::QoS;
  const std::size_t fitsQos0 = mqtt::kMaxRemainingLength - 2 - 3;  // topic "a/b" with its length prefix
  EXPECT_EQ(mqtt::checkPublish(3, fitsQos0, QoS::AtMostOnce), std::nullopt);
  EXPECT_EQ(mqtt::checkPublish(3, fitsQos0 + 1, QoS::AtMostOnce), mqtt::EncodeError::PacketTooLarge);
  // QoS 1 adds a packet id.
  EXPECT_EQ(mqtt::checkPublish(3, fitsQos0, QoS::AtLeastOnce), mqtt::EncodeError::PacketTooLarge);
  EXPECT_EQ(mqtt::checkPublish(3, fitsQos0 - 2, QoS::ExactlyOnce), std::nullopt);
  EXPECT_EQ(mqtt::checkPublish(mqtt::kMaxStringLength + 1, 0, QoS::AtMostOnce), mqtt::EncodeError::StringTooLong);
  EXPECT_EQ(mqtt::checkPublish(3, SIZE_MAX, QoS::AtMostOnce), mqtt::EncodeError::PacketTooLarge) << "no wrap-around";
}

TEST(MqttEncode, ManyPacketsAppendToOneBuffer) {
  Bytes out;
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(mqtt::encode(mqtt::Puback{.packetId = static_cast<std::uint16_t>(i + 1)}, out));
  ASSERT_EQ(out.size(), 4000u);
  std::span<const std::uint8_t> rest(out);
  for (int i = 0; i < 1000; ++i) {
    auto r = mqtt::decode(rest, {});
    ASSERT_TRUE(r);
    EXPECT_EQ(std::get<mqtt::Puback>(r->value).packetId, i + 1);
    rest = rest.subspan(r->consumed);
  }
  EXPECT_TRUE(rest.empty());
}

// ---- names and error codes ----

TEST(MqttNames, PacketNameForEveryType) {
  const std::array<const char*, 14> expected{"CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
                                             "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE",
                                             "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT"};
  for (const auto& g : goldens()) {
    EXPECT_STREQ(mqtt::packetName(g.packet), expected[g.packet.index()]) << g.name;
  }
}

TEST(MqttErrors, CategoryNamesEveryError) {
  const auto& cat = mqtt::decodeCategory();
  EXPECT_STREQ(cat.name(), "mqtt.decode");
  std::set<std::string> messages;
  for (int e = static_cast<int>(E::Incomplete); e <= static_cast<int>(E::TrailingBytes); ++e) {
    const std::error_code ec = static_cast<E>(e);  // implicit thanks to is_error_code_enum
    EXPECT_EQ(&ec.category(), &cat);
    EXPECT_EQ(ec.value(), e);
    EXPECT_FALSE(ec.message().empty());
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(E::TrailingBytes));  // all distinct
  EXPECT_TRUE(mqtt::make_error_code(E::TooLarge));
}

}  // namespace
