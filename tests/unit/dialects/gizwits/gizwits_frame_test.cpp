// Gizwits GAgent v4 frames byte for byte (v4.0.6 §4.4-4.13): golden bytes with a comment per
// field, round trips, every strict prefix Incomplete, malformed inputs, limits; and the GService
// form bodies.
#include "protocols/dialects/gizwits/frame.hpp"
#include "protocols/dialects/gizwits/http_forms.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace fc::gizwits {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes(std::initializer_list<int> list) {
  Bytes out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

/// Decodes `wire` whole, checks every strict prefix is Incomplete, and that encoding the result
/// gives `wire` back.
Frame roundTrip(const Bytes& wire) {
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = decode(std::span(wire).first(n));
    EXPECT_FALSE(r) << "prefix " << n;
    if (!r) EXPECT_EQ(r.error(), DecodeError::Incomplete) << "prefix " << n;
  }
  auto r = decode(wire);
  EXPECT_TRUE(r) << (r ? "" : toString(r.error()));
  if (!r) return OtherLong{};
  EXPECT_EQ(r->consumed, wire.size());
  EXPECT_EQ(encode(r->value), wire);
  return r->value;
}

TEST(GizwitsFrame, PassThroughFromApp) {
  const auto wire = bytes({
      0x00, 0x00, 0x00, 0x03,  // header
      0x06,                    // length: flag + command + 3 bytes of data
      0x00,                    // flag
      0x00, 0x90,              // command 0x0090
      0x01, 0x02, 0x03,        // data
  });
  EXPECT_EQ(roundTrip(wire), Frame(PassThrough{Cmd::AppToDevice, bytes({1, 2, 3})}));
  EXPECT_EQ(decodeLong(wire)->value, Frame(PassThrough{Cmd::AppToDevice, bytes({1, 2, 3})}));
}

TEST(GizwitsFrame, PassThroughToAppAsGAgentSendsIt) {
  // MQTT_SenData: 4-byte header, Tran2varc(1 + 2 + len), flag, 0x0091, P0.
  const auto wire = bytes({0x00, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00, 0x91, 0xAA});
  EXPECT_EQ(roundTrip(wire), Frame(PassThrough{Cmd::DeviceToApp, bytes({0xAA})}));
}

TEST(GizwitsFrame, EmptyPassThrough) {
  EXPECT_EQ(roundTrip(bytes({0, 0, 0, 3, 0x03, 0x00, 0x00, 0x91})), Frame(PassThrough{Cmd::DeviceToApp, {}}));
}

TEST(GizwitsFrame, TwoByteLength) {
  // 200 bytes of data: length 203 = 0xCB → 0xCB 0x01 (203 % 128 = 75 | 0x80, 203 / 128 = 1)
  Bytes wire = bytes({0x00, 0x00, 0x00, 0x03, 0xCB, 0x01, 0x00, 0x00, 0x90});
  wire.insert(wire.end(), 200, 0x5A);
  auto f = roundTrip(wire);
  ASSERT_TRUE(std::holds_alternative<PassThrough>(f));
  EXPECT_EQ(std::get<PassThrough>(f).data.size(), 200u);
}

TEST(GizwitsFrame, VariableLengthEncoding) {
  // MQTT V3.1 §2.1 Remaining Length, the seed's "可变长度".
  const std::vector<std::pair<std::uint32_t, Bytes>> cases = {
      {0, bytes({0x00})},
      {127, bytes({0x7F})},
      {128, bytes({0x80, 0x01})},
      {16'383, bytes({0xFF, 0x7F})},
      {16'384, bytes({0x80, 0x80, 0x01})},
      {2'097'151, bytes({0xFF, 0xFF, 0x7F})},
      {2'097'152, bytes({0x80, 0x80, 0x80, 0x01})},
      {kMaxLength, bytes({0xFF, 0xFF, 0xFF, 0x7F})},
  };
  for (const auto& [value, wire] : cases) {
    Bytes out;
    appendLength(value, out);
    EXPECT_EQ(out, wire) << value;
    auto r = readLength(wire);
    ASSERT_TRUE(r) << value;
    EXPECT_EQ(r->value, value);
    EXPECT_EQ(r->consumed, wire.size());
    for (std::size_t n = 0; n < wire.size(); ++n)
      EXPECT_EQ(readLength(std::span(wire).first(n)).error(), DecodeError::Incomplete) << value << " prefix " << n;
  }
  EXPECT_EQ(readLength(bytes({0x80, 0x80, 0x80, 0x80, 0x01})).error(), DecodeError::MalformedLength);
}

TEST(GizwitsFrame, AckedDataAndItsAck) {
  const auto wire = bytes({
      0x00, 0x00, 0x00, 0x03,  // header
      0x09,                    // length: flag, command, sn, 2 bytes of data
      0x00,                    // flag
      0x00, 0x93,              // command 0x0093
      0x00, 0x00, 0x01, 0x02,  // sn 258
      0xBE, 0xEF,              // data
  });
  EXPECT_EQ(roundTrip(wire), Frame(AckedData{Cmd::AckedData, 258, bytes({0xBE, 0xEF})}));
  const auto ack = bytes({0x00, 0x00, 0x00, 0x03, 0x07, 0x00, 0x00, 0x94, 0xDE, 0xAD, 0xBE, 0xEF});
  EXPECT_EQ(roundTrip(ack), Frame(AckedData{Cmd::AckedDataAck, 0xDEADBEEF, {}}));
}

TEST(GizwitsFrame, SetLogLevelAndAck) {
  const auto wire = bytes({
      0x00, 0x00, 0x00, 0x03,  // header
      0x05,                    // length
      0x00,                    // flag
      0x00, 0x10,              // command 0x0010
      0x01,                    // bits 8-15
      0x07,                    // bits 0-7
  });
  EXPECT_EQ(roundTrip(wire), Frame(SetLogLevel{0x0107}));
  EXPECT_EQ(roundTrip(bytes({0x00, 0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x11})), Frame(SetLogLevelAck{}));
}

TEST(GizwitsFrame, DeviceLog) {
  const auto wire = bytes({
      0x00, 0x00, 0x00, 0x03,  // header
      0x10,                    // length 16: flag, command, level, 2+3, 2+1, 2+2
      0x00,                    // flag
      0x00, 0x12,              // command 0x0012
      0x02,                    // level: warning
      0x00, 0x03, 'n', 'e', 't',  // tag
      0x00, 0x01, 'M',            // source
      0x00, 0x02, 'o', 'k',       // content
  });
  EXPECT_EQ(roundTrip(wire), Frame(DeviceLog{2, "net", "M", "ok"}));
}

TEST(GizwitsFrame, ShortFormsOfSer2cliResAndCli2serReq) {
  // GAgent's Mqtt_ReqOnlineClient: exactly these six bytes on cli2ser_req.
  EXPECT_EQ(roundTrip(bytes({0x00, 0x00, 0x00, 0x03, 0x02, 0x0F})), Frame(OnlineAppsRequest{}));
  // Mqtt_ResOnlineClient reads the count at bytes 6-7.
  EXPECT_EQ(roundTrip(bytes({0x00, 0x00, 0x00, 0x03, 0x02, 0x10, 0x00, 0x05})), Frame(OnlineApps{5}));
  EXPECT_EQ(roundTrip(bytes({0x00, 0x00, 0x00, 0x03, 0x02, 0x11, 0x02})), Frame(OtaPushV41{2}));
  const auto v40 = bytes({
      0x00, 0x00, 0x00, 0x03,  // header
      0x02, 0x0E,              // command 0x020E
      0x01,                    // type: Wi-Fi
      0x00, 0x00, 0x00, 0x2A,  // target fid 42
      0x00, 0x04, 'h', 't', 't', 'p',  // url
  });
  EXPECT_EQ(roundTrip(v40), Frame(OtaPushV40{1, 42, "http"}));
  EXPECT_EQ(decodeShort(v40)->consumed, v40.size());
}

TEST(GizwitsFrame, LongDecoderRefusesShortCommandsAndBack) {
  // 0x0210 dressed as a long frame
  EXPECT_EQ(decodeLong(bytes({0, 0, 0, 3, 0x05, 0x00, 0x02, 0x10, 0x00, 0x01})).error(), DecodeError::WrongForm);
  // 0x0091 without length and flag
  EXPECT_EQ(decodeShort(bytes({0, 0, 0, 3, 0x00, 0x91, 0x01})).error(), DecodeError::WrongForm);
  EXPECT_EQ(decodeShort(bytes({0, 0, 0, 3, 0x03, 0x01})).error(), DecodeError::UnknownCommand);
}

TEST(GizwitsFrame, UnknownLongCommandIsKept) {
  const auto wire = bytes({0, 0, 0, 3, 0x04, 0x00, 0x01, 0x23, 0x7F});
  EXPECT_EQ(roundTrip(wire), Frame(OtherLong{0x0123, bytes({0x7F})}));
}

TEST(GizwitsFrame, FrameEndsWhereItsLengthSays) {
  auto wire = bytes({0, 0, 0, 3, 0x04, 0x00, 0x00, 0x91, 0x01, 0xFF, 0xFF});
  auto r = decode(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->consumed, 9u) << "the caller sees the two extra bytes";
}

TEST(GizwitsFrame, MalformedInputs) {
  const std::vector<std::pair<Bytes, DecodeError>> cases = {
      {bytes({0x01}), DecodeError::BadHeader},
      {bytes({0x00, 0x00, 0x00, 0x04, 0x03, 0x00, 0x00, 0x91}), DecodeError::BadHeader},
      {bytes({0x00, 0x00, 0x01}), DecodeError::BadHeader},
      {bytes({0, 0, 0, 3, 0x80, 0x80, 0x80, 0x80, 0x01}), DecodeError::MalformedLength},
      {bytes({0, 0, 0, 3, 0x03, 0x01, 0x00, 0x91}), DecodeError::BadFlag},
      {bytes({0, 0, 0, 3, 0x03, 0x01}), DecodeError::BadFlag},  // refused before the rest arrives
      {bytes({0, 0, 0, 3, 0x00}), DecodeError::TooShort},
      {bytes({0, 0, 0, 3, 0x02, 0x00, 0x00}), DecodeError::TooShort},
      {bytes({0, 0, 0, 3, 0x06, 0x00, 0x00, 0x93, 0x00, 0x00, 0x01}), DecodeError::TooShort},  // sn cut
      {bytes({0, 0, 0, 3, 0x04, 0x00, 0x00, 0x10, 0x01}), DecodeError::TooShort},               // bits cut
      {bytes({0, 0, 0, 3, 0x06, 0x00, 0x00, 0x10, 0x01, 0x02, 0x03}), DecodeError::TrailingBytes},
      {bytes({0, 0, 0, 3, 0x04, 0x00, 0x00, 0x11, 0x00}), DecodeError::TrailingBytes},
      {bytes({0, 0, 0, 3, 0x06, 0x00, 0x00, 0x12, 0x03, 0x00, 0x05}), DecodeError::TooShort},  // tag cut
      {bytes({0, 0, 0, 3, 0x0B, 0x00, 0x00, 0x12, 0x03, 0, 0, 0, 0, 0, 0, 0x55}), DecodeError::TrailingBytes},
      {bytes({0, 0, 0, 3, 0x06, 0x00, 0x00, 0x12, 0x03, 0x01, 0x01}), DecodeError::Oversized},  // tag 257
      {bytes({0, 0, 0, 3, 0x02, 0x0E, 0x01, 0, 0, 0, 1, 0x02, 0x01}), DecodeError::Oversized},  // url 513
  };
  for (const auto& [wire, error] : cases) {
    auto r = decode(wire);
    ASSERT_FALSE(r) << ::testing::PrintToString(wire);
    EXPECT_EQ(r.error(), error) << ::testing::PrintToString(wire) << ": " << toString(r.error());
    EXPECT_FALSE(make_error_code(r.error()).message().empty());
  }
}

TEST(GizwitsFrame, LimitsOnEncodeAndDecode) {
  EXPECT_TRUE(encode(PassThrough{Cmd::DeviceToApp, Bytes(kMaxData, 1)}).size() > kMaxData);
  EXPECT_TRUE(encode(PassThrough{Cmd::DeviceToApp, Bytes(kMaxData + 1, 1)}).empty());
  EXPECT_TRUE(encode(DeviceLog{1, std::string(kMaxTag + 1, 't'), "", ""}).empty());
  EXPECT_TRUE(encode(DeviceLog{1, "", std::string(kMaxSource + 1, 's'), ""}).empty());
  EXPECT_TRUE(encode(OtaPushV40{1, 1, std::string(kMaxUrl + 1, 'u')}).empty());
  EXPECT_FALSE(encode(DeviceLog{1, std::string(kMaxTag, 't'), std::string(kMaxSource, 's'), "c"}).empty());
  // A long frame of 65536 bytes of data decodes as Oversized, not as a frame.
  Bytes wire = bytes({0, 0, 0, 3});
  appendLength(kMaxData + 1 + 3, wire);
  wire.insert(wire.end(), {0x00, 0x00, 0x91});
  wire.insert(wire.end(), kMaxData + 1, 0);
  EXPECT_EQ(decode(wire).error(), DecodeError::Oversized);
  Bytes out = bytes({9});
  EXPECT_FALSE(encode(Frame(PassThrough{Cmd::DeviceToApp, Bytes(kMaxData + 1, 1)}), out));
  EXPECT_EQ(out, bytes({9})) << "nothing appended";
}

TEST(GizwitsFrame, Describe) {
  EXPECT_EQ(describe(PassThrough{Cmd::DeviceToApp, bytes({1, 2})}), "0x0091 pass-through 2 bytes");
  EXPECT_EQ(describe(DeviceLog{1, "t", "s", "c"}), "0x0012 log error [t] s: c");
  EXPECT_EQ(describe(OnlineApps{3}), "0x0210 online apps 3");
}

// --- GService form bodies ---

TEST(GizwitsForms, ParseForm) {
  auto f = parseForm("passcode=ABCDEFGHIJ&mac=a0b1c2d3e4f5&product_key=0123&x=a%20b+c&flag&x=again");
  EXPECT_EQ(f["passcode"], "ABCDEFGHIJ");
  EXPECT_EQ(f["mac"], "a0b1c2d3e4f5");
  EXPECT_EQ(f["product_key"], "0123");
  EXPECT_EQ(f["x"], "a b c") << "the first value wins";
  EXPECT_TRUE(f.contains("flag"));
  EXPECT_TRUE(parseForm("").empty());
  EXPECT_EQ(parseForm("a=%zz%4")["a"], "%zz%4") << "malformed escapes stay";
}

TEST(GizwitsForms, ExactAnswers) {
  EXPECT_EQ(registerAnswer("hQy2hCXdVJ7dxdcGzGUUFf"), "did=hQy2hCXdVJ7dxdcGzGUUFf");
  EXPECT_EQ(provisionAnswer({"m2m.example", 1883, 1700000000, "m2m.example", 0}),
            "host=m2m.example&port=1883&server_ts=1700000000&log_host=m2m.example&log_port=0&biz_log=0&sys_log=0");
  EXPECT_EQ(registerForm("ABCDEFGHIJ", "a0b1c2d3e4f5", "0123456789abcdef0123456789abcdef"),
            "passcode=ABCDEFGHIJ&mac=a0b1c2d3e4f5&product_key=0123456789abcdef0123456789abcdef");
  EXPECT_EQ(deregisterForm("hQy2hCXdVJ7dxdcGzGUUFf", "ABCDEFGHIJ"), "did=hQy2hCXdVJ7dxdcGzGUUFf&passcode=ABCDEFGHIJ");
}

TEST(GizwitsForms, ProvisionAnswerHasAnAmpersandAfterThePort) {
  // GAgent finds the port with strstr("port=") and reads up to the next '&'.
  const auto body = provisionAnswer({"h", 8883, 1, "h", 0});
  EXPECT_NE(body.find("port=8883&"), std::string::npos);
  auto p = parseProvision(body);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->host, "h");
  EXPECT_EQ(p->port, 8883);
  EXPECT_EQ(p->serverTs, 1);
  EXPECT_FALSE(parseProvision("host=&port=1"));
  EXPECT_FALSE(parseProvision("host=h&port=70000"));
  EXPECT_FALSE(parseProvision("host=h"));
}

TEST(GizwitsForms, Validation) {
  EXPECT_TRUE(validDid("hQy2hCXdVJ7dxdcGzGUUFf"));
  EXPECT_FALSE(validDid("hQy2hCXdVJ7dxdcGzGUUF"));
  EXPECT_FALSE(validDid("hQy2hCXdVJ7dxdcGzGUUF/"));
  EXPECT_TRUE(validPasscode("ABCDEFGHIJ"));
  EXPECT_FALSE(validPasscode("ABCDEFGHI"));
  EXPECT_FALSE(validPasscode("ABCDE&GHIJ"));
  EXPECT_FALSE(validPasscode("ABCDE GHIJ"));
  EXPECT_TRUE(validProductKey("0123456789abcdef0123456789ABCDEF"));
  EXPECT_FALSE(validProductKey("0123456789abcdef0123456789abcdeg"));
  EXPECT_FALSE(validProductKey("0123"));
  EXPECT_EQ(normalizeMac("A0B1C2D3E4F5"), "a0b1c2d3e4f5");
  EXPECT_EQ(normalizeMac("a0:b1:c2:d3:e4:f5"), "a0b1c2d3e4f5");
  EXPECT_EQ(normalizeMac("a0-b1-c2-d3-e4-f5"), "a0b1c2d3e4f5");
  EXPECT_FALSE(normalizeMac("a0:b1-c2:d3:e4:f5"));
  EXPECT_FALSE(normalizeMac("a0b1c2d3e4fg"));
  EXPECT_FALSE(normalizeMac("a0b1c2d3e4f"));
  EXPECT_EQ(parseRegisterAnswer("did=hQy2hCXdVJ7dxdcGzGUUFf"), "hQy2hCXdVJ7dxdcGzGUUFf");
  EXPECT_FALSE(parseRegisterAnswer("did=short"));
}

}  // namespace
}  // namespace fc::gizwits
