// OMA TLV (LwM2M 1.0 §6.4.3): the spec's Device object example byte for byte, wide identifiers and
// lengths, every strict prefix, malformed tables, limits, typed values, text/plain values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "protocols/lwm2m/content.hpp"
#include "protocols/lwm2m/tlv.hpp"

namespace {

namespace lwm2m = fc::lwm2m;
using lwm2m::TlvEntry;
using lwm2m::TlvError;
using lwm2m::TlvType;
using lwm2m::Value;
using lwm2m::ValueError;
using Bytes = std::vector<std::uint8_t>;

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

// LwM2M 1.0 §6.4.3.1, "Single Object Instance Request Example": Read /3/0 of the Device object.
// clang-format off
const Bytes kDeviceInstance{
    0xC8,        // 11 0 01 000: Resource, 8-bit id, 8-bit length field
    0x00,        //   id 0 Manufacturer
    0x14,        //   length 20
    'O', 'p', 'e', 'n', ' ', 'M', 'o', 'b', 'i', 'l', 'e', ' ', 'A', 'l', 'l', 'i', 'a', 'n', 'c', 'e',
    0xC8,        // Resource, 8-bit length field
    0x01,        //   id 1 Model Number
    0x16,        //   length 22
    'L', 'i', 'g', 'h', 't', 'w', 'e', 'i', 'g', 'h', 't', ' ', 'M', '2', 'M', ' ', 'C', 'l', 'i', 'e', 'n', 't',
    0xC8,        // Resource, 8-bit length field
    0x02,        //   id 2 Serial Number
    0x09,        //   length 9
    '3', '4', '5', '0', '0', '0', '1', '2', '3',
    0xC3,        // 11 0 00 011: Resource, length 3 in bits 2-0
    0x03,        //   id 3 Firmware Version
    '1', '.', '0',
    0x86,        // 10 0 00 110: Multiple Resource, length 6
    0x06,        //   id 6 Available Power Sources
    0x41,        //   01 0 00 001: Resource Instance, length 1
    0x00,        //     instance 0
    0x01,        //     value 1 (internal battery)
    0x41, 0x01,  //   Resource Instance 1, length 1
    0x05,        //     value 5 (USB)
    0x88,        // 10 0 01 000: Multiple Resource, 8-bit length field
    0x07,        //   id 7 Power Source Voltage
    0x08,        //   length 8
    0x42, 0x00,  //   Resource Instance 0, length 2
    0x0E, 0xD8,  //     3800 mV
    0x42, 0x01,  //   Resource Instance 1, length 2
    0x13, 0x88,  //     5000 mV
    0x87,        // Multiple Resource, length 7
    0x08,        //   id 8 Power Source Current
    0x41, 0x00,  //   Resource Instance 0, length 1
    0x7D,        //     125 mA
    0x42, 0x01,  //   Resource Instance 1, length 2
    0x03, 0x84,  //     900 mA
    0xC1,        // Resource, length 1
    0x09,        //   id 9 Battery Level
    0x64,        //   100 %
    0xC1, 0x0A,  // Resource 10 Memory Free, length 1
    0x0F,        //   15 KB
    0x83,        // Multiple Resource, length 3
    0x0B,        //   id 11 Error Code
    0x41, 0x00,  //   Resource Instance 0, length 1
    0x00,        //     0 (no error)
    0xC4,        // Resource, length 4
    0x0D,        //   id 13 Current Time
    0x51, 0x82, 0x42, 0x8F,  // 1367491215
    0xC6,        // Resource, length 6
    0x0E,        //   id 14 UTC Offset
    '+', '0', '2', ':', '0', '0',
    0xC1,        // Resource, length 1
    0x10,        //   id 16 Supported Binding and Modes
    'U',
};
// clang-format on

std::vector<TlvEntry> deviceResources() {
  using lwm2m::encodeTlvInteger;
  return {
      TlvEntry::resource(0, text("Open Mobile Alliance")),
      TlvEntry::resource(1, text("Lightweight M2M Client")),
      TlvEntry::resource(2, text("345000123")),
      TlvEntry::resource(3, text("1.0")),
      TlvEntry::multipleResource(
          6, {TlvEntry::resourceInstance(0, encodeTlvInteger(1)), TlvEntry::resourceInstance(1, encodeTlvInteger(5))}),
      TlvEntry::multipleResource(7, {TlvEntry::resourceInstance(0, encodeTlvInteger(3800)),
                                     TlvEntry::resourceInstance(1, encodeTlvInteger(5000))}),
      TlvEntry::multipleResource(8, {TlvEntry::resourceInstance(0, encodeTlvInteger(125)),
                                     TlvEntry::resourceInstance(1, encodeTlvInteger(900))}),
      TlvEntry::resource(9, encodeTlvInteger(100)),
      TlvEntry::resource(10, encodeTlvInteger(15)),
      TlvEntry::multipleResource(11, {TlvEntry::resourceInstance(0, encodeTlvInteger(0))}),
      TlvEntry::resource(13, encodeTlvInteger(1367491215)),
      TlvEntry::resource(14, text("+02:00")),
      TlvEntry::resource(16, text("U")),
  };
}

TEST(Lwm2mTlv, DecodesTheSpecDeviceInstanceExample) {
  auto r = lwm2m::decodeTlv(kDeviceInstance);
  ASSERT_TRUE(r) << make_error_code(r.error()).message();
  EXPECT_EQ(*r, deviceResources());
  ASSERT_EQ(r->size(), 13u);
  EXPECT_EQ(lwm2m::decodeTlvValue(lwm2m::ResourceType::String, (*r)[0].value).value(),
            Value(std::string("Open Mobile Alliance")));
  const auto& voltage = (*r)[5];
  EXPECT_EQ(voltage.type, TlvType::MultipleResource);
  EXPECT_EQ(lwm2m::decodeTlvInteger(voltage.child(1)->value).value(), 5000);
  EXPECT_EQ(lwm2m::decodeTlvValue(lwm2m::ResourceType::Time, (*r)[10].value).value(), Value(lwm2m::Time{1367491215}));
}

TEST(Lwm2mTlv, EncodesTheSpecDeviceInstanceExampleExactly) {
  EXPECT_EQ(lwm2m::encodeTlv(deviceResources()), kDeviceInstance);
}

TEST(Lwm2mTlv, ObjectInstanceWrapperAsInReadOfObject) {
  // LwM2M 1.0 §6.4.3.2: a Read of /3 wraps the same resources in Object Instance 0.
  Bytes wire{0x08,   // 00 0 01 000: Object Instance, 8-bit id, 8-bit length field
             0x00,   //   instance 0
             0x79};  //   length 121
  wire.insert(wire.end(), kDeviceInstance.begin(), kDeviceInstance.end());
  auto r = lwm2m::decodeTlv(wire);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0], TlvEntry::objectInstance(0, deviceResources()));
  EXPECT_EQ(lwm2m::encodeTlv(*r), wire);
}

TEST(Lwm2mTlv, WideIdentifierAnd16And24BitLengths) {
  const TlvEntry big = TlvEntry::resource(0x0100, Bytes(300, 0xAB));
  const Bytes wire = lwm2m::encodeTlv(std::vector{big});
  ASSERT_EQ(wire.size(), 5u + 300u);
  EXPECT_EQ(wire[0], 0xF0);  // 11 1 10 000: Resource, 16-bit id, 16-bit length field
  EXPECT_EQ(wire[1], 0x01);  // id 0x0100
  EXPECT_EQ(wire[2], 0x00);
  EXPECT_EQ(wire[3], 0x01);  // length 300
  EXPECT_EQ(wire[4], 0x2C);
  EXPECT_EQ(lwm2m::decodeTlv(wire).value(), std::vector{big});

  const TlvEntry huge = TlvEntry::resource(1, Bytes(70000, 0x01));
  const Bytes wire24 = lwm2m::encodeTlv(std::vector{huge});
  EXPECT_EQ(Bytes(wire24.begin(), wire24.begin() + 5),
            (Bytes{0xD8,                 // 11 0 11 000: Resource, 8-bit id, 24-bit length field
                   0x01,                 // id 1
                   0x01, 0x11, 0x70}));  // length 70000
  EXPECT_EQ(lwm2m::decodeTlv(wire24, {.maxPayload = 100000}).value(), std::vector{huge});
}

TEST(Lwm2mTlv, EmptyPayloadEmptyValuesAndEmptyContainers) {
  EXPECT_TRUE(lwm2m::decodeTlv({}).value().empty());
  const Bytes wire{0xC0, 0x05,   // Resource 5, length 0 (an empty string)
                   0x80, 0x06,   // Multiple Resource 6 with no instances
                   0x00, 0x01};  // Object Instance 1 with no resources
  auto r = lwm2m::decodeTlv(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(
      *r, (std::vector{TlvEntry::resource(5, {}), TlvEntry::multipleResource(6, {}), TlvEntry::objectInstance(1, {})}));
  EXPECT_EQ(lwm2m::encodeTlv(*r), wire);
}

TEST(Lwm2mTlv, NonMinimalFieldsAreAcceptedAndReencodedMinimally) {
  const Bytes wire{0xF8,        // 11 1 11 000: Resource, 16-bit id, 24-bit length field
                   0x00, 0x02,  // id 2
                   0x00, 0x00, 0x01, 0x2A};
  auto r = lwm2m::decodeTlv(wire);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, std::vector{TlvEntry::resource(2, {0x2A})});
  EXPECT_EQ(lwm2m::encodeTlv(*r), (Bytes{0xC1, 0x02, 0x2A}));
  // Bits 2-0 are ignored when a length field is present.
  EXPECT_EQ(lwm2m::decodeTlv(Bytes{0xCF, 0x02, 0x01, 0x2A}).value(), std::vector{TlvEntry::resource(2, {0x2A})});
}

TEST(Lwm2mTlv, EveryStrictPrefixIsTruncated) {
  Bytes wire{0x08, 0x00, 0x79};
  wire.insert(wire.end(), kDeviceInstance.begin(), kDeviceInstance.end());
  for (std::size_t n = 1; n < wire.size(); ++n) {
    auto r = lwm2m::decodeTlv(std::span(wire).first(n));
    ASSERT_FALSE(r) << "prefix " << n;
    EXPECT_EQ(r.error(), TlvError::Truncated) << "prefix " << n;
  }
  // Prefixes of the bare resource list end either on an entry boundary (valid, fewer entries) or
  // inside one (Truncated); never anything else.
  for (std::size_t n = 0; n < kDeviceInstance.size(); ++n) {
    auto r = lwm2m::decodeTlv(std::span(kDeviceInstance).first(n));
    if (!r) {
      EXPECT_EQ(r.error(), TlvError::Truncated) << "prefix " << n;
    }
  }
}

TEST(Lwm2mTlv, MalformedInputs) {
  const struct {
    const char* name;
    Bytes wire;
    TlvError error;
  } rows[] = {
      {"type byte only", {0xC1}, TlvError::Truncated},
      {"16-bit id cut", {0xE1, 0x00}, TlvError::Truncated},
      {"length field cut", {0xD0, 0x01, 0x00}, TlvError::Truncated},
      {"value cut", {0xC4, 0x01, 0x00, 0x00}, TlvError::Truncated},
      {"child runs past parent", {0x03, 0x00, 0xC4, 0x01, 0x00, 0x00, 0x00}, TlvError::ChildOverrun},
      {"child header past parent", {0x01, 0x00, 0xC1}, TlvError::ChildOverrun},
      {"instance in instance", {0x02, 0x00, 0x00, 0x01}, TlvError::BadNesting},
      {"resource instance in instance", {0x03, 0x00, 0x41, 0x00, 0x01}, TlvError::BadNesting},
      {"resource in multiple resource", {0x83, 0x06, 0xC1, 0x00, 0x01}, TlvError::BadNesting},
      {"instance in multiple resource", {0x82, 0x06, 0x00, 0x00}, TlvError::BadNesting},
      {"multiple in multiple", {0x82, 0x06, 0x80, 0x00}, TlvError::BadNesting},
  };
  for (const auto& row : rows) {
    auto r = lwm2m::decodeTlv(row.wire);
    ASSERT_FALSE(r) << row.name;
    EXPECT_EQ(r.error(), row.error) << row.name;
  }
}

TEST(Lwm2mTlv, Limits) {
  EXPECT_EQ(lwm2m::decodeTlv(kDeviceInstance, {.maxPayload = kDeviceInstance.size() - 1}).error(), TlvError::TooLarge);
  EXPECT_TRUE(lwm2m::decodeTlv(kDeviceInstance, {.maxPayload = kDeviceInstance.size()}));
  // 13 resources + 7 resource instances = 20 entries.
  EXPECT_EQ(lwm2m::decodeTlv(kDeviceInstance, {.maxEntries = 19}).error(), TlvError::TooManyEntries);
  EXPECT_TRUE(lwm2m::decodeTlv(kDeviceInstance, {.maxEntries = 20}));
  const Bytes manyEmpty(2000, 0x00);  // 1000 × (Object Instance 0, length 0)
  EXPECT_EQ(lwm2m::decodeTlv(manyEmpty, {.maxEntries = 999}).error(), TlvError::TooManyEntries);
  EXPECT_EQ(lwm2m::decodeTlv(manyEmpty).value().size(), 1000u);
}

TEST(Lwm2mTlvValue, IntegersUseTheShortestWidthAndSignExtend) {
  const struct {
    std::int64_t v;
    Bytes wire;
  } rows[] = {
      {0, {0x00}},
      {127, {0x7F}},
      {-128, {0x80}},
      {128, {0x00, 0x80}},
      {-129, {0xFF, 0x7F}},
      {32767, {0x7F, 0xFF}},
      {32768, {0x00, 0x00, 0x80, 0x00}},
      {1367491215, {0x51, 0x82, 0x42, 0x8F}},
      {-2147483648LL, {0x80, 0x00, 0x00, 0x00}},
      {2147483648LL, {0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00}},
      {std::numeric_limits<std::int64_t>::min(), {0x80, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(lwm2m::encodeTlvInteger(row.v), row.wire) << row.v;
    EXPECT_EQ(lwm2m::decodeTlvInteger(row.wire).value(), row.v) << row.v;
  }
  EXPECT_EQ(lwm2m::decodeTlvInteger(Bytes{0xFF, 0xFF}).value(), -1);
  for (const std::size_t n : {0u, 3u, 5u, 9u}) {
    EXPECT_EQ(lwm2m::decodeTlvInteger(Bytes(n, 0)).error(), ValueError::BadLength) << n;
  }
}

TEST(Lwm2mTlvValue, FloatsBooleansObjlnks) {
  EXPECT_EQ(lwm2m::encodeTlvFloat(1.5), (Bytes{0x3F, 0xC0, 0x00, 0x00}));                          // binary32 1.5
  EXPECT_EQ(lwm2m::encodeTlvFloat(0.1), (Bytes{0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}));  // binary64 0.1
  EXPECT_EQ(lwm2m::decodeTlvFloat(Bytes{0x3F, 0xC0, 0x00, 0x00}).value(), 1.5);
  EXPECT_EQ(lwm2m::decodeTlvFloat(Bytes{0x3F, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}).value(), 0.1);
  EXPECT_TRUE(std::isnan(lwm2m::decodeTlvFloat(lwm2m::encodeTlvFloat(std::nan(""))).value()));
  EXPECT_EQ(lwm2m::decodeTlvFloat(Bytes{1, 2}).error(), ValueError::BadLength);

  EXPECT_EQ(lwm2m::encodeTlvBoolean(true), Bytes{0x01});
  EXPECT_EQ(lwm2m::decodeTlvBoolean(Bytes{0x00}).value(), false);
  EXPECT_EQ(lwm2m::decodeTlvBoolean(Bytes{0x02}).error(), ValueError::BadBoolean);
  EXPECT_EQ(lwm2m::decodeTlvBoolean(Bytes{0x01, 0x00}).error(), ValueError::BadLength);

  EXPECT_EQ(lwm2m::encodeTlvObjlnk({3, 0x1234}), (Bytes{0x00, 0x03, 0x12, 0x34}));
  EXPECT_EQ(lwm2m::decodeTlvObjlnk(Bytes{0xFF, 0xFF, 0x00, 0x01}).value(), (lwm2m::Objlnk{65535, 1}));
  EXPECT_EQ(lwm2m::decodeTlvObjlnk(Bytes{0x00}).error(), ValueError::BadLength);
}

TEST(Lwm2mTlvValue, EveryTypeRoundTrips) {
  const Value values[] = {Value(std::string("héllo")),
                          Value(std::int64_t{-5}),
                          Value(2.25),
                          Value(true),
                          Value(lwm2m::Opaque{0x00, 0xFF}),
                          Value(lwm2m::Time{1700000000}),
                          Value(lwm2m::Objlnk{1, 2})};
  for (const auto& v : values) {
    const auto type = lwm2m::typeOf(v);
    EXPECT_EQ(lwm2m::decodeTlvValue(type, lwm2m::encodeTlvValue(v)).value(), v) << lwm2m::resourceTypeName(type);
    EXPECT_EQ(lwm2m::parseText(type, lwm2m::formatText(v)).value(), v) << lwm2m::resourceTypeName(type);
  }
  EXPECT_EQ(lwm2m::decodeTlvValue(lwm2m::ResourceType::String, Bytes{0xC3, 0x28}).error(), ValueError::BadUtf8);
  EXPECT_EQ(lwm2m::decodeTlvValue(lwm2m::ResourceType::Time, Bytes{1, 2, 3}).error(), ValueError::BadLength);
}

TEST(Lwm2mContent, FormatNumbers) {
  EXPECT_TRUE(lwm2m::isTlv(11542));
  EXPECT_TRUE(lwm2m::isTlv(1542));
  EXPECT_FALSE(lwm2m::isTlv(42));
  EXPECT_TRUE(lwm2m::isLwm2mJson(1543));
  EXPECT_TRUE(lwm2m::isLwm2mJson(11543));
  EXPECT_EQ(lwm2m::contentFormatName(1542), "application/vnd.oma.lwm2m+tlv");
  EXPECT_EQ(lwm2m::contentFormatName(0), "text/plain");
  EXPECT_EQ(lwm2m::contentFormatName(40), "application/link-format");
  EXPECT_EQ(lwm2m::contentFormatName(42), "application/octet-stream");
  EXPECT_EQ(lwm2m::contentFormatName(110), "application/senml+json");
  EXPECT_EQ(lwm2m::contentFormatName(50), "");
}

TEST(Lwm2mContent, PlainTextRendering) {
  EXPECT_EQ(lwm2m::formatText(Value(std::int64_t{-42})), "-42");
  EXPECT_EQ(lwm2m::formatText(Value(0.1)), "0.1");
  EXPECT_EQ(lwm2m::formatText(Value(3.0)), "3");
  EXPECT_EQ(lwm2m::formatText(Value(false)), "0");
  EXPECT_EQ(lwm2m::formatText(Value(lwm2m::Opaque{'h', 'i'})), "aGk=");
  EXPECT_EQ(lwm2m::formatText(Value(lwm2m::Objlnk{3, 0})), "3:0");
  EXPECT_EQ(lwm2m::formatText(Value(lwm2m::Time{1367491215})), "1367491215");
  EXPECT_EQ(lwm2m::formatText(Value(std::string("coap://h/fw/1"))), "coap://h/fw/1");
}

TEST(Lwm2mContent, PlainTextParsing) {
  using lwm2m::ResourceType;
  EXPECT_EQ(lwm2m::parseText(ResourceType::Integer, "86400").value(), Value(std::int64_t{86400}));
  EXPECT_EQ(lwm2m::parseText(ResourceType::Integer, "-9223372036854775808").value(),
            Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(lwm2m::parseText(ResourceType::Float, "-1.5e3").value(), Value(-1500.0));
  EXPECT_EQ(lwm2m::parseText(ResourceType::Boolean, "1").value(), Value(true));
  EXPECT_EQ(lwm2m::parseText(ResourceType::Objlnk, "65535:65535").value(), Value(lwm2m::Objlnk{65535, 65535}));
  const struct {
    ResourceType type;
    std::string_view text;
    ValueError error;
  } bad[] = {
      {ResourceType::Integer, "", ValueError::BadNumber},
      {ResourceType::Integer, "+1", ValueError::BadNumber},
      {ResourceType::Integer, " 1", ValueError::BadNumber},
      {ResourceType::Integer, "1.5", ValueError::BadNumber},
      {ResourceType::Integer, "9223372036854775808", ValueError::OutOfRange},
      {ResourceType::Time, "x", ValueError::BadNumber},
      {ResourceType::Float, "nan", ValueError::BadNumber},
      {ResourceType::Float, "inf", ValueError::BadNumber},
      {ResourceType::Float, "1e999", ValueError::BadNumber},
      {ResourceType::Float, "1.0x", ValueError::BadNumber},
      {ResourceType::Boolean, "true", ValueError::BadBoolean},
      {ResourceType::Boolean, "2", ValueError::BadBoolean},
      {ResourceType::Opaque, "aGk", ValueError::BadBase64},
      {ResourceType::Objlnk, "3", ValueError::BadObjlnk},
      {ResourceType::Objlnk, "3:65536", ValueError::BadObjlnk},
      {ResourceType::Objlnk, "-1:0", ValueError::BadObjlnk},
      {ResourceType::Objlnk, "3:", ValueError::BadObjlnk},
      {ResourceType::String, "\xC0\xAF", ValueError::BadUtf8},
      {ResourceType::String, "\xED\xA0\x80", ValueError::BadUtf8},
  };
  for (const auto& row : bad) {
    auto r = lwm2m::parseText(row.type, row.text);
    ASSERT_FALSE(r) << row.text;
    EXPECT_EQ(r.error(), row.error) << row.text;
  }
}

}  // namespace
