// CoAP message codec (RFC 7252 §3): golden bytes, round trips, truncations, malformed datagrams,
// option header boundaries, helpers. Section numbers refer to RFC 7252 unless noted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/coap/message.hpp"

namespace fc::coap {
// Readable failure messages instead of byte dumps.
void PrintTo(const Message& m, std::ostream* os) {
  *os << typeName(m.type) << ' ' << codeName(m.code) << " mid=" << m.messageId << " tkl=" << m.token.size()
      << " options=" << m.options.size() << " payload=" << m.payload.size();
}
}  // namespace fc::coap

namespace {

namespace coap = fc::coap;
namespace opt = fc::coap::option;
using Bytes = std::vector<std::uint8_t>;
using coap::Type;
using E = coap::DecodeError;

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

struct Golden {
  std::string name;
  Bytes wire;
  coap::Message message;
};

std::ostream& operator<<(std::ostream& os, const Golden& g) { return os << g.name; }

const std::vector<Golden>& goldens() {
  static const std::vector<Golden> kGoldens{
      {"ConGetUriPathAndQuery",
       {
           0x44,                                              // ver 1, CON, TKL 4
           0x01,                                              // 0.01 GET
           0x12, 0x34,                                        // message id 0x1234
           0xDE, 0xAD, 0xBE, 0xEF,                            // token
           0xB2,                                              // delta 11 (Uri-Path), length 2
           'r', 'd',                                          // "rd"
           0x4B,                                              // delta 4 (Uri-Query 15), length 11
           'e', 'p', '=', '4', '4', '4', '4', '0', '0', '0', '3',  // "ep=44440003"
       },
       {.type = Type::Confirmable,
        .code = coap::code::kGet,
        .messageId = 0x1234,
        .token = {0xDE, 0xAD, 0xBE, 0xEF},
        .options = {{opt::kUriPath, bytes("rd")}, {opt::kUriQuery, bytes("ep=44440003")}}}},
      {"LiteOsRegister",
       {
           0x48,                                              // ver 1, CON, TKL 8
           0x02,                                              // 0.02 POST
           0x00, 0x01,                                        // message id 1
           0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,    // token (8 bytes, the maximum)
           0xB2,                                              // delta 11 (Uri-Path), length 2
           'r', 'd',                                          // "rd"
           0x11,                                              // delta 1 (Content-Format 12), length 1
           0x28,                                              // 40 application/link-format
           0x39,                                              // delta 3 (Uri-Query 15), length 9
           'l', 'w', 'm', '2', 'm', '=', '1', '.', '0',       // "lwm2m=1.0"
           0x0B,                                              // delta 0 (Uri-Query again), length 11
           'e', 'p', '=', '4', '4', '4', '4', '0', '0', '0', '3',  // "ep=44440003"
           0x03,                                              // delta 0 (Uri-Query), length 3
           'b', '=', 'U',                                     // "b=U"
           0x05,                                              // delta 0 (Uri-Query), length 5
           'l', 't', '=', '2', '0',                           // "lt=20"
           0xFF,                                              // payload marker
           '<', '/', '1', '/', '0', '>', ',',                 // payload "</1/0>,
           '<', '/', '3', '/', '0', '>',                      //   </3/0>"
       },
       {.type = Type::Confirmable,
        .code = coap::code::kPost,
        .messageId = 1,
        .token = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08},
        .options = {{opt::kUriPath, bytes("rd")},
                    {opt::kContentFormat, {40}},
                    {opt::kUriQuery, bytes("lwm2m=1.0")},
                    {opt::kUriQuery, bytes("ep=44440003")},
                    {opt::kUriQuery, bytes("b=U")},
                    {opt::kUriQuery, bytes("lt=20")}},
        .payload = bytes("</1/0>,</3/0>")}},
      {"AckPiggybackedJson",
       {
           0x62,                                              // ver 1, ACK, TKL 2
           0x45,                                              // 2.05 Content
           0x12, 0x34,                                        // message id 0x1234 (echoes the CON)
           0xA1, 0xB2,                                        // token
           0xC1,                                              // delta 12 (Content-Format), length 1
           0x32,                                              // 50 application/json
           0xFF,                                              // payload marker
           '{', '"', 't', 'o', 'k', 'e', 'n', '"', ':',       // payload {"token":
           '"', 'T', '1', '"', '}',                           //   "T1"}
       },
       {.type = Type::Acknowledgement,
        .code = coap::code::kContent,
        .messageId = 0x1234,
        .token = {0xA1, 0xB2},
        .options = {{opt::kContentFormat, {50}}},
        .payload = bytes(R"({"token":"T1"})")}},
      {"EmptyAck",
       {
           0x60,        // ver 1, ACK, TKL 0
           0x00,        // 0.00 Empty
           0x12, 0x34,  // message id 0x1234
       },
       {.type = Type::Acknowledgement, .code = coap::code::kEmpty, .messageId = 0x1234}},
      {"Reset",
       {
           0x70,        // ver 1, RST, TKL 0
           0x00,        // 0.00 Empty
           0xAB, 0xCD,  // message id 0xABCD
       },
       {.type = Type::Reset, .code = coap::code::kEmpty, .messageId = 0xABCD}},
      {"EmptyConPing",
       {
           0x40,        // ver 1, CON, TKL 0
           0x00,        // 0.00 Empty: "CoAP ping" (§4.3)
           0x00, 0x07,  // message id 7
       },
       {.type = Type::Confirmable, .code = coap::code::kEmpty, .messageId = 7}},
      {"AckCreatedLocationPath",
       {
           0x60,                // ver 1, ACK, TKL 0
           0x41,                // 2.01 Created
           0x00, 0x01,          // message id 1
           0x82,                // delta 8 (Location-Path), length 2
           'r', 'd',            // "rd"
           0x04,                // delta 0 (Location-Path again), length 4
           '5', 'a', '3', 'f',  // "5a3f"
       },
       {.type = Type::Acknowledgement,
        .code = coap::code::kCreated,
        .messageId = 1,
        .options = {{opt::kLocationPath, bytes("rd")}, {opt::kLocationPath, bytes("5a3f")}}}},
      {"ObserveRegister",
       {
           0x41,        // ver 1, CON, TKL 1
           0x01,        // 0.01 GET
           0x00, 0x10,  // message id 0x10
           0x7A,        // token
           0x60,        // delta 6 (Observe), length 0: value 0 = register (RFC 7641 §2)
           0x52,        // delta 5 (Uri-Path 11), length 2
           '1', '9',    // "19"
           0x01,        // delta 0 (Uri-Path), length 1
           '0',         // "0"
           0x01,        // delta 0 (Uri-Path), length 1
           '0',         // "0"
           0x61,        // delta 6 (Accept 17), length 1
           0x2A,        // 42 application/octet-stream
       },
       {.type = Type::Confirmable,
        .code = coap::code::kGet,
        .messageId = 0x10,
        .token = {0x7A},
        .options = {{opt::kObserve, {}},
                    {opt::kUriPath, bytes("19")},
                    {opt::kUriPath, bytes("0")},
                    {opt::kUriPath, bytes("0")},
                    {opt::kAccept, {42}}}}},
      {"NonNotification",
       {
           0x51,        // ver 1, NON, TKL 1
           0x45,        // 2.05 Content
           0x00, 0x11,  // message id 0x11
           0x7A,        // token (the observe request's)
           0x61,        // delta 6 (Observe), length 1
           0x05,        // sequence number 5
           0x61,        // delta 6 (Content-Format 12), length 1
           0x2A,        // 42 application/octet-stream
           0xFF,        // payload marker
           0x01,        // payload: one raw byte
       },
       {.type = Type::NonConfirmable,
        .code = coap::code::kContent,
        .messageId = 0x11,
        .token = {0x7A},
        .options = {{opt::kObserve, {5}}, {opt::kContentFormat, {42}}},
        .payload = {0x01}}},
      {"Block2Response",
       {
           0x61,              // ver 1, ACK, TKL 1
           0x45,              // 2.05 Content
           0x00, 0x20,        // message id 0x20
           0x33,              // token
           0xC1,              // delta 12 (Content-Format), length 1
           0x2A,              // 42 application/octet-stream
           0xB1,              // delta 11 (Block2 23), length 1
           0x1E,              // NUM 1, M 1, SZX 6 (1024 bytes): 1 << 4 | 0x08 | 6
           0x52,              // delta 5 (Size2 28), length 2
           0x05, 0x00,        // 1280 bytes in all
           0xFF,              // payload marker
           0xCA, 0xFE,        // payload
       },
       {.type = Type::Acknowledgement,
        .code = coap::code::kContent,
        .messageId = 0x20,
        .token = {0x33},
        .options = {{opt::kContentFormat, {42}}, {opt::kBlock2, {0x1E}}, {opt::kSize2, {0x05, 0x00}}},
        .payload = {0xCA, 0xFE}}},
      {"Extended13DeltaAndLength",
       {
           0x40,                                                              // ver 1, CON, TKL 0
           0x02,                                                              // 0.02 POST
           0x00, 0x30,                                                        // message id 0x30
           0xBD,                                                              // delta 11 (Uri-Path), length 13: one extension byte
           0x00,                                                              // length 13 + 0 = 13
           'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm',  // 13-byte segment
           0xD2,                                                              // delta 13: one extension byte, length 2
           0x24,                                                              // delta 13 + 36 = 49 (Size1 60 = 11 + 49)
           0x04, 0x00,                                                        // 1024
       },
       {.type = Type::Confirmable,
        .code = coap::code::kPost,
        .messageId = 0x30,
        .options = {{opt::kUriPath, bytes("abcdefghijklm")}, {opt::kSize1, {0x04, 0x00}}}}},
      {"Extended14DeltaAliyunToken",
       {
           0x42,                               // ver 1, CON, TKL 2
           0x02,                               // 0.02 POST
           0x00, 0x40,                         // message id 0x40
           0x01, 0x02,                         // token
           0xB5,                               // delta 11 (Uri-Path), length 5
           't', 'o', 'p', 'i', 'c',            // "topic"
           0x02,                               // delta 0 (Uri-Path), length 2
           'p', 'k',                           // "pk"
           0x02,                               // delta 0 (Uri-Path), length 2
           'd', 'n',                           // "dn"
           0x06,                               // delta 0 (Uri-Path), length 6
           'u', 'p', 'd', 'a', 't', 'e',       // "update"
           0x11,                               // delta 1 (Content-Format 12), length 1
           0x32,                               // 50 application/json
           0xE3,                               // delta 14: two extension bytes, length 3
           0x07, 0x0F,                         // delta 269 + 0x070F = 2076 (option 2088, Aliyun's token)
           't', 'o', 'k',                      // "tok"
           0xFF,                               // payload marker
           '{', '}',                           // payload "{}"
       },
       {.type = Type::Confirmable,
        .code = coap::code::kPost,
        .messageId = 0x40,
        .token = {0x01, 0x02},
        .options = {{opt::kUriPath, bytes("topic")},
                    {opt::kUriPath, bytes("pk")},
                    {opt::kUriPath, bytes("dn")},
                    {opt::kUriPath, bytes("update")},
                    {opt::kContentFormat, {50}},
                    {2088, bytes("tok")}},
        .payload = bytes("{}")}},
      {"Extended14Length",
       cat({{
                0x40,        // ver 1, CON, TKL 0
                0x01,        // 0.01 GET
                0x00, 0x50,  // message id 0x50
                0xDE,        // delta 13: one extension byte; length 14: two extension bytes
                0x16,        // delta 13 + 22 = 35 (Proxy-Uri)
                0x00, 0x1F,  // length 269 + 31 = 300
            },
            Bytes(300, 'x')}),  // 300-byte value
       {.type = Type::Confirmable,
        .code = coap::code::kGet,
        .messageId = 0x50,
        .options = {{opt::kProxyUri, Bytes(300, 'x')}}}},
  };
  return kGoldens;
}

class CoapGolden : public testing::TestWithParam<Golden> {};

TEST_P(CoapGolden, DecodesToTheMessage) {
  const auto& g = GetParam();
  auto r = coap::decode(g.wire);
  ASSERT_TRUE(r) << coap::make_error_code(r.error()).message();
  EXPECT_EQ(*r, g.message);
}

TEST_P(CoapGolden, EncodesToTheGoldenBytes) {
  const auto& g = GetParam();
  EXPECT_EQ(coap::validate(g.message), std::nullopt);
  EXPECT_EQ(coap::encode(g.message).value(), g.wire);
}

TEST_P(CoapGolden, DecodeThenEncodeReproducesTheBytes) {
  const auto& g = GetParam();
  auto r = coap::decode(g.wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(coap::encode(*r).value(), g.wire);
  auto again = coap::decode(coap::encode(g.message).value());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, g.message);
}

TEST_P(CoapGolden, EncodeAppendsToExistingBytes) {
  const auto& g = GetParam();
  Bytes out{0xAA, 0xBB};
  ASSERT_EQ(coap::encode(g.message, out).value(), g.wire.size());
  ASSERT_EQ(out.size(), 2 + g.wire.size());
  EXPECT_EQ(out[0], 0xAA);
  EXPECT_EQ(out[1], 0xBB);
  EXPECT_TRUE(std::equal(g.wire.begin(), g.wire.end(), out.begin() + 2));
}

// A datagram has no length field, so a cut at an option boundary or inside the payload is itself
// a valid, shorter message (§3). Every other cut must be the precise error for where it falls.
TEST_P(CoapGolden, EveryTruncationIsAnErrorOrTheShorterMessage) {
  const auto& g = GetParam();
  const auto& m = g.message;
  const std::size_t afterToken = coap::kHeaderSize + m.token.size();

  // Where each option ends, computed from the message, not from the decoder under test.
  std::vector<std::size_t> optionEnds;
  coap::Message shorter = m;
  shorter.options.clear();
  shorter.payload.clear();
  for (const auto& o : m.options) {
    shorter.options.push_back(o);
    optionEnds.push_back(coap::encode(shorter).value().size());
  }
  const std::size_t optionsEnd = optionEnds.empty() ? afterToken : optionEnds.back();

  const std::span<const std::uint8_t> wire(g.wire);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = coap::decode(wire.first(n));
    if (n < coap::kHeaderSize) {
      ASSERT_FALSE(r) << "cut " << n;
      EXPECT_EQ(r.error(), E::HeaderTooShort) << "cut " << n;
    } else if (m.code.isEmpty()) {
      FAIL() << "an Empty message is exactly its header";
    } else if (n < afterToken) {
      ASSERT_FALSE(r) << "cut " << n;
      EXPECT_EQ(r.error(), E::TokenTruncated) << "cut " << n;
    } else if (n == afterToken || std::count(optionEnds.begin(), optionEnds.end(), n) != 0) {
      ASSERT_TRUE(r) << "cut " << n << ": " << coap::make_error_code(r.error()).message();
      const auto kept = static_cast<std::size_t>(std::count_if(optionEnds.begin(), optionEnds.end(),
                                                               [n](std::size_t end) { return end <= n; }));
      coap::Message expected = m;
      expected.options.resize(kept);
      expected.payload.clear();
      EXPECT_EQ(*r, expected) << "cut " << n;
    } else if (n < optionsEnd) {
      ASSERT_FALSE(r) << "cut " << n;
      EXPECT_EQ(r.error(), E::OptionTruncated) << "cut " << n;
    } else if (n == optionsEnd + 1) {
      ASSERT_FALSE(r) << "cut " << n;
      EXPECT_EQ(r.error(), E::EmptyPayload) << "cut " << n;
    } else {
      ASSERT_TRUE(r) << "cut " << n;
      coap::Message expected = m;
      expected.payload.resize(n - optionsEnd - 1);
      EXPECT_EQ(*r, expected) << "cut " << n;
    }
  }
}

TEST_P(CoapGolden, PeekHeaderAgreesWithDecode) {
  const auto& g = GetParam();
  const auto h = coap::peekHeader(g.wire);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, g.message.type);
  EXPECT_EQ(h->code, g.message.code);
  EXPECT_EQ(h->messageId, g.message.messageId);
  EXPECT_EQ(h->tokenLength, g.message.token.size());
}

INSTANTIATE_TEST_SUITE_P(CoapMessages, CoapGolden, testing::ValuesIn(goldens()),
                         [](const testing::TestParamInfo<Golden>& info) { return info.param.name; });

TEST(CoapGoldenSet, CoversEveryType) {
  std::set<Type> types;
  for (const auto& g : goldens()) types.insert(g.message.type);
  EXPECT_EQ(types.size(), 4u);
}

// ---- malformed datagrams: one row per §3 rule, several for some ----

struct Malformed {
  std::string name;
  Bytes wire;
  E error;
};

std::ostream& operator<<(std::ostream& os, const Malformed& m) { return os << m.name; }

const std::vector<Malformed>& malformed() {
  static const std::vector<Malformed> kRows{
      // §3: the header is 4 bytes.
      {"EmptyDatagram", {}, E::HeaderTooShort},
      {"OneByte", {0x40}, E::HeaderTooShort},
      {"ThreeBytes", {0x40, 0x01, 0x00}, E::HeaderTooShort},
      // §3: version must be 1; others are silently ignored.
      {"Version0", {0x00, 0x01, 0x00, 0x01}, E::BadVersion},
      {"Version2", {0x80, 0x01, 0x00, 0x01}, E::BadVersion},
      {"Version3", {0xC0, 0x00, 0x00, 0x01}, E::BadVersion},
      // §3: TKL 9-15 are reserved and a message format error.
      {"TokenLength9", cat({{0x49, 0x01, 0x00, 0x01}, Bytes(9, 0xAA)}), E::ReservedTokenLength},
      {"TokenLength15", cat({{0x4F, 0x01, 0x00, 0x01}, Bytes(15, 0xAA)}), E::ReservedTokenLength},
      {"EmptyWithTokenLength9", {0x49, 0x00, 0x00, 0x01}, E::ReservedTokenLength},
      // §3: TKL promises more token bytes than the datagram has.
      {"TokenShort", {0x48, 0x01, 0x00, 0x01, 0x01, 0x02, 0x03}, E::TokenTruncated},
      {"TokenMissing", {0x41, 0x01, 0x00, 0x01}, E::TokenTruncated},
      // §4.1: an Empty message is the 4-byte header alone.
      {"EmptyWithToken", {0x41, 0x00, 0x00, 0x01, 0x7A}, E::EmptyMessageNotEmpty},
      {"EmptyAckWithOption", {0x60, 0x00, 0x00, 0x01, 0x60}, E::EmptyMessageNotEmpty},
      {"EmptyRstWithPayload", {0x70, 0x00, 0x00, 0x01, 0xFF, 0x01}, E::EmptyMessageNotEmpty},
      {"EmptyWithPayloadMarkerOnly", {0x40, 0x00, 0x00, 0x01, 0xFF}, E::EmptyMessageNotEmpty},
      // §3.1: delta nibble 15 is only valid as the whole payload marker byte 0xFF.
      {"OptionDelta15", {0x40, 0x01, 0x00, 0x01, 0xF0}, E::ReservedOptionDelta},
      {"OptionDelta15Length1", {0x40, 0x01, 0x00, 0x01, 0xF1, 0x00}, E::ReservedOptionDelta},
      {"OptionDelta15AfterOption", {0x40, 0x01, 0x00, 0x01, 0xB1, 'a', 0xF3, 'b', 'c', 'd'}, E::ReservedOptionDelta},
      // §3.1: length nibble 15 is reserved.
      {"OptionLength15", {0x40, 0x01, 0x00, 0x01, 0x0F}, E::ReservedOptionLength},
      {"UriPathLength15", cat({{0x40, 0x01, 0x00, 0x01, 0xBF}, Bytes(20, 'a')}), E::ReservedOptionLength},
      // §3.1: the extension bytes or the value run past the end of the datagram.
      {"Delta13ExtensionMissing", {0x40, 0x01, 0x00, 0x01, 0xD0}, E::OptionTruncated},
      {"Delta14ExtensionHalf", {0x40, 0x01, 0x00, 0x01, 0xE0, 0x00}, E::OptionTruncated},
      {"Length13ExtensionMissing", {0x40, 0x01, 0x00, 0x01, 0x0D}, E::OptionTruncated},
      {"Length14ExtensionHalf", {0x40, 0x01, 0x00, 0x01, 0x0E, 0x01}, E::OptionTruncated},
      {"LengthExtensionAfterDeltaExtensionMissing", {0x40, 0x01, 0x00, 0x01, 0xDD, 0x00}, E::OptionTruncated},
      {"ValueShort", {0x40, 0x01, 0x00, 0x01, 0xB3, 'r', 'd'}, E::OptionTruncated},
      {"Value13Short", cat({{0x40, 0x01, 0x00, 0x01, 0xBD, 0x05}, Bytes(17, 'a')}), E::OptionTruncated},
      // §3.1, §12.2: option numbers are 16-bit.
      {"Delta65804", {0x40, 0x01, 0x00, 0x01, 0xE0, 0xFF, 0xFF}, E::OptionNumberTooLarge},
      {"SumPast65535", {0x40, 0x01, 0x00, 0x01, 0xE0, 0xFE, 0xF2, 0x10}, E::OptionNumberTooLarge},
      // §3: a payload marker followed by nothing is a format error.
      {"MarkerOnly", {0x40, 0x01, 0x00, 0x01, 0xFF}, E::EmptyPayload},
      {"MarkerAfterTokenAndOption", {0x41, 0x45, 0x00, 0x01, 0x7A, 0xC1, 0x2A, 0xFF}, E::EmptyPayload},
  };
  return kRows;
}

class CoapMalformed : public testing::TestWithParam<Malformed> {};

TEST_P(CoapMalformed, IsRejectedWithTheRuleItBreaks) {
  const auto& m = GetParam();
  auto r = coap::decode(m.wire);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), m.error) << "got " << coap::make_error_code(r.error()).message();
}

INSTANTIATE_TEST_SUITE_P(CoapTable, CoapMalformed, testing::ValuesIn(malformed()),
                         [](const testing::TestParamInfo<Malformed>& info) { return info.param.name; });

TEST(CoapMalformedTable, CoversEveryDecodeError) {
  std::set<E> seen;
  for (const auto& m : malformed()) seen.insert(m.error);
  for (int e = static_cast<int>(E::HeaderTooShort); e <= static_cast<int>(E::EmptyPayload); ++e) {
    EXPECT_TRUE(seen.count(static_cast<E>(e))) << coap::make_error_code(static_cast<E>(e)).message();
  }
}

TEST(CoapMalformedTable, HeaderStaysReadableForRejection) {
  // §4.2: a malformed CON is rejected with an RST echoing its message id, so the id must be readable.
  const Bytes wire{0x40, 0x01, 0xBE, 0xEF, 0xF0};
  ASSERT_FALSE(coap::decode(wire));
  const auto h = coap::peekHeader(wire);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, Type::Confirmable);
  EXPECT_EQ(h->messageId, 0xBEEF);
  EXPECT_FALSE(coap::peekHeader(Bytes{0x80, 0x01, 0x00, 0x01}));  // version 2: no header to trust
  EXPECT_FALSE(coap::peekHeader(Bytes{0x40, 0x01, 0x00}));
}

// ---- option header boundaries (§3.1) ----

struct Boundary {
  std::uint16_t number;
  std::size_t length;
  Bytes header;  // the option's first byte and extension bytes
};

TEST(CoapOptionHeader, DeltaAndLengthBoundaries) {
  const std::vector<Boundary> rows{
      {0, 0, {0x00}},                          // delta 0, length 0
      {12, 12, {0xCC}},                        // largest values held in the nibbles
      {13, 13, {0xDD, 0x00, 0x00}},            // smallest one-byte extensions: 13 + 0
      {268, 268, {0xDD, 0xFF, 0xFF}},          // largest one-byte extensions: 13 + 255
      {269, 269, {0xEE, 0x00, 0x00, 0x00, 0x00}},  // smallest two-byte extensions: 269 + 0
      {65535, 0, {0xE0, 0xFE, 0xF2}},          // largest option number: 269 + 0xFEF2
      {1, 65535 + 269, {0x1E, 0xFF, 0xFF}},    // largest length: 269 + 0xFFFF
  };
  for (const auto& row : rows) {
    coap::Message m{.type = Type::NonConfirmable, .code = coap::code::kPost, .messageId = 9};
    m.add(row.number, Bytes(row.length, 0x5A));
    const Bytes wire = coap::encode(m).value();
    const Bytes expected = cat({{0x50, 0x02, 0x00, 0x09}, row.header, Bytes(row.length, 0x5A)});
    EXPECT_EQ(wire, expected) << "option " << row.number << " length " << row.length;
    auto r = coap::decode(wire);
    ASSERT_TRUE(r) << "option " << row.number;
    EXPECT_EQ(*r, m);
  }
}

TEST(CoapOptionHeader, DeltasAreRelativeToThePreviousOption) {
  coap::Message m{.type = Type::Confirmable, .code = coap::code::kGet, .messageId = 1};
  m.addString(300, "a");   // delta 300: 269 + 31
  m.addString(313, "b");   // delta 13: 13 + 0
  m.addString(313, "c");   // delta 0
  m.addString(1000, "d");  // delta 687: 269 + 418
  const Bytes expected{
      0x40, 0x01, 0x00, 0x01,        // CON GET, message id 1
      0xE1, 0x00, 0x1F, 'a',         // delta 269 + 0x001F = 300, length 1
      0xD1, 0x00, 'b',               // delta 13 + 0 = 13 (313), length 1
      0x01, 'c',                     // delta 0 (313 again), length 1
      0xE1, 0x01, 0xA2, 'd',         // delta 269 + 0x01A2 = 687 (1000), length 1
  };
  EXPECT_EQ(coap::encode(m).value(), expected);
  auto r = coap::decode(expected);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, m);
}

TEST(CoapDecode, AcceptsWhatTheMessageLayerRejects) {
  // §4.2: these are rejected or ignored by the message layer, not format errors, so they decode.
  auto reservedClass = coap::decode(Bytes{0x40, 0xE0, 0x00, 0x01});  // CON 7.00
  ASSERT_TRUE(reservedClass);
  EXPECT_TRUE(reservedClass->code.isReservedClass());
  auto ackWithRequest = coap::decode(Bytes{0x60, 0x01, 0x00, 0x01});  // ACK carrying GET
  ASSERT_TRUE(ackWithRequest);
  EXPECT_TRUE(ackWithRequest->code.isRequest());
  auto rstWithResponse = coap::decode(Bytes{0x70, 0x45, 0x00, 0x01, 0xFF, 'x'});  // RST 2.05
  ASSERT_TRUE(rstWithResponse);
  EXPECT_EQ(rstWithResponse->payloadText(), "x");
}

TEST(CoapDecode, UnknownAndOptionZeroAreKept) {
  // Option 0 is reserved (§12.2) and 61 is Aliyun's old token option: unrecognized options are the
  // server's to judge (§5.4.1), so the codec keeps them.
  auto r = coap::decode(Bytes{0x40, 0x02, 0x00, 0x01, 0x01, 'z', 0xD1, 0x30, 't'});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->options.size(), 2u);
  EXPECT_EQ(r->options[0].number, 0);
  EXPECT_EQ(r->options[1].number, 61);
  EXPECT_EQ(r->getString(61), "t");
}

TEST(CoapDecode, NonMinimalUintValuesAreKeptAsSent) {
  // §3.2: the minimal length is a SHOULD; the bytes are kept so that re-encoding is exact.
  const Bytes wire{0x40, 0x01, 0x00, 0x01, 0xC2, 0x00, 0x32};  // Content-Format 0x0032 in 2 bytes
  auto r = coap::decode(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->getUint(opt::kContentFormat), 50u);
  EXPECT_EQ(coap::encode(*r).value(), wire);
}

TEST(CoapDecode, MaxTokenAndEveryTokenLength) {
  for (std::uint8_t tkl = 0; tkl <= 8; ++tkl) {
    coap::Message m{.type = Type::Confirmable, .code = coap::code::kGet, .messageId = tkl};
    m.token.assign(tkl, static_cast<std::uint8_t>(0xF0 | tkl));
    const Bytes wire = coap::encode(m).value();
    EXPECT_EQ(wire[0], 0x40 | tkl);
    auto r = coap::decode(wire);
    ASSERT_TRUE(r) << "tkl " << int{tkl};
    EXPECT_EQ(*r, m);
  }
}

// ---- encoder ----

TEST(CoapEncode, SortsOptionsStably) {
  coap::Message m{.type = Type::Confirmable, .code = coap::code::kPost, .messageId = 2};
  m.options = {{opt::kUriQuery, bytes("a=1")},
               {opt::kUriPath, bytes("rd")},
               {opt::kUriQuery, bytes("b=2")},
               {opt::kContentFormat, {40}},
               {opt::kUriPath, bytes("x")}};
  auto r = coap::decode(coap::encode(m).value());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->getStrings(opt::kUriPath), (std::vector<std::string_view>{"rd", "x"}));
  EXPECT_EQ(r->getStrings(opt::kUriQuery), (std::vector<std::string_view>{"a=1", "b=2"}));
  EXPECT_EQ(r->getUint(opt::kContentFormat), 40u);
  EXPECT_TRUE(std::is_sorted(r->options.begin(), r->options.end(),
                             [](const coap::Option& a, const coap::Option& b) { return a.number < b.number; }));
}

TEST(CoapEncode, NoPayloadMeansNoMarker) {
  coap::Message m{.type = Type::NonConfirmable, .code = coap::code::kChanged, .messageId = 3};
  EXPECT_EQ(coap::encode(m).value(), (Bytes{0x50, 0x44, 0x00, 0x03}));  // NON 2.04, id 3, nothing else
}

TEST(CoapEncode, ValidateReportsWhatDecodeWouldReject) {
  coap::Message longToken{.code = coap::code::kGet, .token = Bytes(9, 1)};
  EXPECT_EQ(coap::validate(longToken), E::ReservedTokenLength);
  coap::Message emptyWithPayload{.type = Type::Acknowledgement, .code = coap::code::kEmpty, .payload = {1}};
  EXPECT_EQ(coap::validate(emptyWithPayload), E::EmptyMessageNotEmpty);
  coap::Message emptyWithToken{.type = Type::Reset, .code = coap::code::kEmpty, .token = {1}};
  EXPECT_EQ(coap::validate(emptyWithToken), E::EmptyMessageNotEmpty);
  coap::Message hugeOption{.code = coap::code::kPost};
  hugeOption.add(1, Bytes(coap::kMaxOptionLength + 1, 0));
  EXPECT_EQ(coap::validate(hugeOption), E::ReservedOptionLength);
  coap::Message fine{.code = coap::code::kPost};
  fine.add(1, Bytes(coap::kMaxOptionLength, 0));
  EXPECT_EQ(coap::validate(fine), std::nullopt);
}

// Issue 13 §3: the encoder refuses what validate() refuses, and leaves the output untouched.
TEST(CoapEncode, RefusesWhatTheWireCannotRepresent) {
  coap::Message longToken{.code = coap::code::kGet, .token = Bytes(9, 1)};
  Bytes out{0xAA};
  auto r = coap::encode(longToken, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), E::ReservedTokenLength);
  EXPECT_EQ(out, Bytes{0xAA});
  coap::Message hugeOption{.code = coap::code::kPost};
  hugeOption.add(1, Bytes(coap::kMaxOptionLength + 1, 0));
  auto whole = coap::encode(hugeOption);
  ASSERT_FALSE(whole);
  EXPECT_EQ(whole.error(), E::ReservedOptionLength);
  coap::Message emptyWithPayload{.type = Type::Acknowledgement, .code = coap::code::kEmpty, .payload = {1}};
  EXPECT_FALSE(coap::encode(emptyWithPayload));
  // The longest option value there is still encodes, and decodes back.
  coap::Message longest{.code = coap::code::kPost};
  longest.add(1, Bytes(coap::kMaxOptionLength, 7));
  auto ok = coap::encode(longest, out);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, out.size() - 1);
  auto back = coap::decode(std::span(out).subspan(1));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, longest);
}

// ---- uint option values (§3.2) ----

TEST(CoapUint, MinimalLengthEncoding) {
  const std::vector<std::pair<std::uint32_t, Bytes>> rows{
      {0, {}},
      {1, {0x01}},
      {255, {0xFF}},
      {256, {0x01, 0x00}},
      {65535, {0xFF, 0xFF}},
      {65536, {0x01, 0x00, 0x00}},
      {0x00FFFFFF, {0xFF, 0xFF, 0xFF}},
      {0x01000000, {0x01, 0x00, 0x00, 0x00}},
      {0xFFFFFFFF, {0xFF, 0xFF, 0xFF, 0xFF}},
  };
  for (const auto& [value, wire] : rows) {
    EXPECT_EQ(coap::encodeUint(value), wire) << value;
    EXPECT_EQ(coap::decodeUint(wire), value) << value;
  }
}

TEST(CoapUint, DecodeAcceptsLeadingZerosAndRejectsFiveBytes) {
  EXPECT_EQ(coap::decodeUint(Bytes{0x00, 0x00, 0x01}), 1u);
  EXPECT_EQ(coap::decodeUint(Bytes{0x00, 0x00, 0x00, 0x00}), 0u);
  EXPECT_EQ(coap::decodeUint(Bytes{0x00, 0x00, 0x00, 0x00, 0x01}), std::nullopt);
}

// ---- Message helpers ----

TEST(CoapMessageHelpers, AddKeepsOptionsSortedAndRepeatsInOrder) {
  coap::Message m;
  m.addUint(opt::kContentFormat, coap::format::kLinkFormat);
  m.addString(opt::kUriQuery, "ep=dev");
  m.addString(opt::kUriPath, "rd");
  m.addString(opt::kUriQuery, "lt=20");
  m.addUint(opt::kObserve, 0);
  ASSERT_EQ(m.options.size(), 5u);
  EXPECT_EQ(m.options[0], (coap::Option{opt::kObserve, {}}));
  EXPECT_EQ(m.options[1], (coap::Option{opt::kUriPath, bytes("rd")}));
  EXPECT_EQ(m.options[2], (coap::Option{opt::kContentFormat, {40}}));
  EXPECT_EQ(m.options[3], (coap::Option{opt::kUriQuery, bytes("ep=dev")}));
  EXPECT_EQ(m.options[4], (coap::Option{opt::kUriQuery, bytes("lt=20")}));
}

TEST(CoapMessageHelpers, SetReplacesAllInstancesAndRemoveCounts) {
  coap::Message m;
  m.addString(opt::kUriQuery, "a");
  m.addString(opt::kUriQuery, "b");
  m.setString(opt::kUriQuery, "c");
  EXPECT_EQ(m.getStrings(opt::kUriQuery), (std::vector<std::string_view>{"c"}));
  m.setUint(opt::kMaxAge, 60);
  m.setUint(opt::kMaxAge, 0x12345678);
  EXPECT_EQ(m.getUint(opt::kMaxAge), 0x12345678u);
  EXPECT_EQ(m.find(opt::kMaxAge)->value.size(), 4u);
  EXPECT_EQ(m.remove(opt::kUriQuery), 1u);
  EXPECT_EQ(m.remove(opt::kUriQuery), 0u);
  EXPECT_FALSE(m.has(opt::kUriQuery));
  EXPECT_EQ(m.getString(opt::kUriQuery), std::nullopt);
  EXPECT_EQ(m.getUint(opt::kAccept), std::nullopt);
}

TEST(CoapMessageHelpers, GetUintOfAFiveByteValueIsNullopt) {
  coap::Message m;
  m.add(opt::kSize1, Bytes{1, 2, 3, 4, 5});
  EXPECT_TRUE(m.has(opt::kSize1));
  EXPECT_EQ(m.getUint(opt::kSize1), std::nullopt);
}

TEST(CoapMessageHelpers, UriPathSplitsAndJoins) {
  struct Row {
    std::string_view path;
    std::vector<std::string_view> segments;
    std::string joined;
  };
  const std::vector<Row> rows{
      {"rd/5a3f", {"rd", "5a3f"}, "rd/5a3f"},
      {"/19/0/0", {"19", "0", "0"}, "19/0/0"},
      {"", {}, ""},
      {"/", {}, ""},
      {"a//b", {"a", "", "b"}, "a//b"},
      {"/fw/", {"fw", ""}, "fw/"},
  };
  for (const auto& row : rows) {
    coap::Message m;
    m.setString(opt::kUriPath, "old");
    m.setUriPath(row.path);
    EXPECT_EQ(m.getStrings(opt::kUriPath), row.segments) << row.path;
    EXPECT_EQ(m.uriPath(), row.joined) << row.path;
  }
}

TEST(CoapMessageHelpers, LocationPathForRegistration) {
  coap::Message m{.type = Type::Acknowledgement, .code = coap::code::kCreated};
  m.setLocationPath("/rd/5a3f");
  EXPECT_EQ(m.locationPath(), "rd/5a3f");
  EXPECT_EQ(m.getStrings(opt::kLocationPath), (std::vector<std::string_view>{"rd", "5a3f"}));
  EXPECT_EQ(m.uriPath(), "");
}

TEST(CoapMessageHelpers, QueryFindsKeysAndBareFlags) {
  coap::Message m;
  for (const auto q : {"lwm2m=1.0", "ep=44440003", "b=UQ", "Q", "lt="}) m.addString(opt::kUriQuery, q);
  EXPECT_EQ(m.query("ep"), "44440003");
  EXPECT_EQ(m.query("b"), "UQ");
  EXPECT_EQ(m.query("Q"), "");
  EXPECT_EQ(m.query("lt"), "");
  EXPECT_EQ(m.query("e"), std::nullopt);
  EXPECT_EQ(m.query("sms"), std::nullopt);
}

TEST(CoapMessageHelpers, PayloadText) {
  coap::Message m;
  m.setPayload("hello");
  EXPECT_EQ(m.payloadText(), "hello");
  EXPECT_EQ(m.payload, bytes("hello"));
}

// ---- codes, options, formats, names ----

TEST(CoapCode, ClassAndDetail) {
  EXPECT_EQ(coap::code::kContent.raw, 0x45);
  EXPECT_EQ(coap::code::kContent.codeClass(), 2);
  EXPECT_EQ(coap::code::kContent.detail(), 5);
  EXPECT_EQ(coap::code::kUnsupportedContentFormat.raw, 0x8F);
  EXPECT_EQ(coap::code::kProxyingNotSupported.raw, 0xA5);
  EXPECT_EQ(coap::code::kContinue.raw, 0x5F);
  EXPECT_EQ(coap::Code::fromRaw(0x84), coap::code::kNotFound);
  EXPECT_TRUE(coap::code::kEmpty.isEmpty());
  EXPECT_FALSE(coap::code::kEmpty.isRequest());
  EXPECT_TRUE(coap::code::kDelete.isRequest());
  EXPECT_TRUE(coap::code::kBadGateway.isResponse());
  EXPECT_FALSE(coap::code::kGet.isResponse());
  for (const std::uint8_t cls : {1, 6, 7}) EXPECT_TRUE(coap::Code(cls, 0).isReservedClass()) << int{cls};
  for (const std::uint8_t cls : {0, 2, 4, 5}) EXPECT_FALSE(coap::Code(cls, 3).isReservedClass()) << int{cls};
  EXPECT_FALSE(coap::Code(3, 0).isResponse());  // class 3 is unassigned, not a response
}

TEST(CoapCode, Names) {
  EXPECT_EQ(coap::codeName(coap::code::kContent), "2.05 Content");
  EXPECT_EQ(coap::codeName(coap::code::kGet), "0.01 GET");
  EXPECT_EQ(coap::codeName(coap::code::kEmpty), "0.00 Empty");
  EXPECT_EQ(coap::codeName(coap::code::kCreated), "2.01 Created");
  EXPECT_EQ(coap::codeName(coap::code::kBadOption), "4.02 Bad Option");
  EXPECT_EQ(coap::codeName(coap::code::kRequestEntityTooLarge), "4.13 Request Entity Too Large");
  EXPECT_EQ(coap::codeName(coap::code::kServiceUnavailable), "5.03 Service Unavailable");
  EXPECT_EQ(coap::codeName(coap::code::kContinue), "2.31 Continue");
  EXPECT_EQ(coap::codeName(coap::Code(2, 7)), "2.07");
  EXPECT_EQ(coap::codeName(coap::Code(7, 31)), "7.31");
  EXPECT_STREQ(coap::typeName(Type::Confirmable), "CON");
  EXPECT_STREQ(coap::typeName(Type::NonConfirmable), "NON");
  EXPECT_STREQ(coap::typeName(Type::Acknowledgement), "ACK");
  EXPECT_STREQ(coap::typeName(Type::Reset), "RST");
}

TEST(CoapOptionNumbers, ValuesFromTheRegistries) {
  EXPECT_EQ(opt::kIfMatch, 1);
  EXPECT_EQ(opt::kUriHost, 3);
  EXPECT_EQ(opt::kETag, 4);
  EXPECT_EQ(opt::kIfNoneMatch, 5);
  EXPECT_EQ(opt::kObserve, 6);
  EXPECT_EQ(opt::kUriPort, 7);
  EXPECT_EQ(opt::kLocationPath, 8);
  EXPECT_EQ(opt::kUriPath, 11);
  EXPECT_EQ(opt::kContentFormat, 12);
  EXPECT_EQ(opt::kMaxAge, 14);
  EXPECT_EQ(opt::kUriQuery, 15);
  EXPECT_EQ(opt::kAccept, 17);
  EXPECT_EQ(opt::kLocationQuery, 20);
  EXPECT_EQ(opt::kBlock2, 23);
  EXPECT_EQ(opt::kBlock1, 27);
  EXPECT_EQ(opt::kSize2, 28);
  EXPECT_EQ(opt::kProxyUri, 35);
  EXPECT_EQ(opt::kProxyScheme, 39);
  EXPECT_EQ(opt::kSize1, 60);
}

TEST(CoapOptionNumbers, CriticalUnsafeNoCacheKeyBits) {
  // RFC 7252 §5.10 Table 4 (C, U, N columns), RFC 7641 Table 1, RFC 7959 Table 1 and 3.
  struct Row {
    std::uint16_t number;
    bool critical, unsafe, noCacheKey;
  };
  const std::vector<Row> rows{
      {opt::kIfMatch, true, false, false},      {opt::kUriHost, true, true, false},
      {opt::kETag, false, false, false},        {opt::kIfNoneMatch, true, false, false},
      {opt::kObserve, false, true, false},      {opt::kUriPort, true, true, false},
      {opt::kLocationPath, false, false, false}, {opt::kUriPath, true, true, false},
      {opt::kContentFormat, false, false, false}, {opt::kMaxAge, false, true, false},
      {opt::kUriQuery, true, true, false},      {opt::kAccept, true, false, false},
      {opt::kLocationQuery, false, false, false}, {opt::kBlock2, true, true, false},
      {opt::kBlock1, true, true, false},        {opt::kSize2, false, false, true},
      {opt::kProxyUri, true, true, false},      {opt::kProxyScheme, true, true, false},
      {opt::kSize1, false, false, true},        {61, true, false, true},
      {2088, false, false, false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(coap::isCritical(r.number), r.critical) << r.number;
    EXPECT_EQ(coap::isUnsafe(r.number), r.unsafe) << r.number;
    EXPECT_EQ(coap::isNoCacheKey(r.number), r.noCacheKey) << r.number;
  }
}

TEST(CoapOptionNumbers, InfoAndLengthRanges) {
  const auto* uriHost = coap::optionInfo(opt::kUriHost);
  ASSERT_NE(uriHost, nullptr);
  EXPECT_EQ(uriHost->name, "Uri-Host");
  EXPECT_EQ(uriHost->format, coap::OptionFormat::String);
  EXPECT_FALSE(coap::optionLengthValid(opt::kUriHost, 0));  // §5.10.1: 1-255
  EXPECT_TRUE(coap::optionLengthValid(opt::kUriHost, 255));
  EXPECT_FALSE(coap::optionLengthValid(opt::kUriHost, 256));
  EXPECT_TRUE(coap::optionLengthValid(opt::kETag, 8));
  EXPECT_FALSE(coap::optionLengthValid(opt::kETag, 9));
  EXPECT_TRUE(coap::optionLengthValid(opt::kIfNoneMatch, 0));
  EXPECT_FALSE(coap::optionLengthValid(opt::kIfNoneMatch, 1));
  EXPECT_TRUE(coap::optionLengthValid(opt::kObserve, 3));
  EXPECT_FALSE(coap::optionLengthValid(opt::kObserve, 4));
  EXPECT_TRUE(coap::optionLengthValid(opt::kProxyUri, 1034));
  EXPECT_FALSE(coap::optionLengthValid(opt::kBlock2, 4));
  EXPECT_TRUE(coap::optionInfo(opt::kUriPath)->repeatable);
  EXPECT_FALSE(coap::optionInfo(opt::kContentFormat)->repeatable);
  EXPECT_EQ(coap::optionInfo(2088), nullptr);
  EXPECT_FALSE(coap::optionLengthValid(2088, 3));
  for (const std::uint16_t n : {1, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 17, 20, 23, 27, 28, 35, 39, 60, 258}) {
    const auto* info = coap::optionInfo(n);
    ASSERT_NE(info, nullptr) << n;
    EXPECT_EQ(info->number, n);
    EXPECT_FALSE(info->name.empty());
    EXPECT_LE(info->minLength, info->maxLength);
  }
}

TEST(CoapContentFormat, NumbersAndNames) {
  EXPECT_EQ(coap::format::kTextPlain, 0);
  EXPECT_EQ(coap::format::kLinkFormat, 40);
  EXPECT_EQ(coap::format::kOctetStream, 42);
  EXPECT_EQ(coap::format::kJson, 50);
  EXPECT_EQ(coap::format::kSenmlJson, 110);
  EXPECT_EQ(coap::format::kOmaTlvOld, 1542);
  EXPECT_EQ(coap::format::kLwm2mTlv, 11542);
  EXPECT_EQ(coap::contentFormatName(50), "application/json");
  EXPECT_EQ(coap::contentFormatName(40), "application/link-format");
  EXPECT_EQ(coap::contentFormatName(11542), "application/vnd.oma.lwm2m+tlv");
  EXPECT_EQ(coap::contentFormatName(9999), "");
}

TEST(CoapErrors, CategoryNamesEveryError) {
  const auto& cat = coap::decodeCategory();
  EXPECT_STREQ(cat.name(), "coap.decode");
  std::set<std::string> messages;
  for (int e = static_cast<int>(E::HeaderTooShort); e <= static_cast<int>(E::EmptyPayload); ++e) {
    const std::error_code ec = static_cast<E>(e);
    EXPECT_EQ(&ec.category(), &cat);
    EXPECT_EQ(ec.value(), e);
    EXPECT_NE(ec.message().find("RFC 7252 §"), std::string::npos) << ec.message();
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(E::EmptyPayload));
}

}  // namespace
