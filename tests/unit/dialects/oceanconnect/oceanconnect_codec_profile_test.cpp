// OceanConnect codec profiles: the LiteOS LightControl example, a multi-message profile with
// message ids, mids and a command response (golden bytes), malformed profiles naming the JSON path,
// and every coding error.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocols/dialects/oceanconnect/codec_profile.hpp"

namespace {

namespace oc = fc::oceanconnect;
using nlohmann::json;
using Bytes = std::vector<std::uint8_t>;
using oc::CodecErrc;
using oc::ProfileErrc;

// oceanconnect.md: service LightControl, property light = byte 0 (uint8).
constexpr const char* kLightProfile = R"({
  "uplink": [
    {"serviceId": "LightControl", "properties": [{"name": "light", "type": "uint8", "offset": 0}]}
  ],
  "commands": [
    {"serviceId": "LightControl", "method": "SET_LIGHT",
     "paras": [{"name": "light", "type": "uint8", "offset": 0, "min": 0, "max": 1}]}
  ]
})";

constexpr const char* kSensorProfile = R"({
  "messageIdOffset": 0,
  "uplink": [
    {"serviceId": "Sensor", "messageId": 0, "properties": [
      {"name": "temperature", "type": "int16", "offset": 1},
      {"name": "humidity", "type": "uint8", "offset": 3},
      {"name": "voltage", "type": "float32", "offset": 4},
      {"name": "label", "type": "string", "offset": 8, "length": 4},
      {"name": "raw", "type": "hex", "offset": 12, "length": 2},
      {"name": "tail", "type": "bytes", "offset": 14}]},
    {"serviceId": "LightControl", "messageId": 1, "properties": [
      {"name": "light", "type": "uint8", "offset": 1}]}
  ],
  "commands": [
    {"serviceId": "LightControl", "method": "SET_LIGHT", "messageId": 2, "midOffset": 1,
     "paras": [{"name": "light", "type": "uint8", "offset": 3, "max": 1}]},
    {"serviceId": "Display", "method": "SHOW", "messageId": 4, "midOffset": 1,
     "paras": [{"name": "text", "type": "string", "offset": 3}]},
    {"serviceId": "Motor", "method": "MOVE", "messageId": 5,
     "paras": [{"name": "speed", "type": "int32", "offset": 1, "min": -1000, "max": 1000},
               {"name": "gain", "type": "float32", "offset": 5},
               {"name": "tag", "type": "string", "offset": 9, "length": 3},
               {"name": "key", "type": "hex", "offset": 12, "length": 2},
               {"name": "blob", "type": "bytes", "offset": 14, "length": 2}]},
    {"serviceId": "Device", "method": "REBOOT", "messageId": 6}
  ],
  "commandResponse": {"messageId": 3, "midOffset": 1, "resultOffset": 3}
})";

oc::CodecProfile profile(const char* text) {
  auto p = oc::CodecProfile::parse(std::string_view(text));
  EXPECT_TRUE(p) << p.error().message();
  return *p;
}

TEST(OceanconnectCodec, LightControlUplinkFromTheManual) {
  const auto p = profile(kLightProfile);
  const Bytes wire{0x01};  // light = 1
  EXPECT_EQ(p.classify(wire).value(), oc::UplinkKind::Data);
  auto decoded = p.decodeUplink(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, json::parse(R"({"LightControl":{"light":1}})"));
  EXPECT_EQ(decoded->dump(), R"({"LightControl":{"light":1}})");
}

TEST(OceanconnectCodec, LightControlCommand) {
  const auto p = profile(kLightProfile);
  EXPECT_EQ(p.encodeCommand("LightControl", "SET_LIGHT", json{{"light", 1}}, 7).value(), Bytes{0x01});
  EXPECT_EQ(p.encodeCommand("LightControl", "SET_LIGHT", json{{"light", 0}}, 7).value(), Bytes{0x00});
  const auto tooBig = p.encodeCommand("LightControl", "SET_LIGHT", json{{"light", 2}}, 7);
  ASSERT_FALSE(tooBig);
  EXPECT_EQ(tooBig.error(), (oc::CodecError{CodecErrc::OutOfRange, "light"}));
  EXPECT_EQ(tooBig.error().message(), "para out of range: light");
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0}).error().code, CodecErrc::NoSuchMessage);
}

TEST(OceanconnectCodec, MultiMessageUplinkGoldenBytes) {
  const auto p = profile(kSensorProfile);
  const Bytes wire{
      0x00,                    // messageId 0: Sensor
      0xFF, 0x38,              // temperature int16 -200
      0x37,                    // humidity uint8 55
      0x40, 0x48, 0x00, 0x00,  // voltage float32 3.125
      'a',  'b',  0x00, 0x00,  // label string[4] "ab", NUL-padded
      0x0A, 0x1B,              // raw hex[2]
      0x01, 0x02, 0x03,        // tail bytes up to the end
  };
  auto decoded = p.decodeUplink(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, json::parse(R"({"Sensor":{"temperature":-200,"humidity":55,"voltage":3.125,
                                      "label":"ab","raw":"0A1B","tail":"AQID"}})"));
  // The up-to-the-end field may be empty.
  auto shortest = p.decodeUplink(std::span(wire).first(14));
  ASSERT_TRUE(shortest) << shortest.error().message();
  EXPECT_EQ((*shortest)["Sensor"]["tail"], "");

  EXPECT_EQ(p.decodeUplink(Bytes{0x01, 0x00}).value(), json::parse(R"({"LightControl":{"light":0}})"));
  EXPECT_EQ(p.classify(Bytes{0x01}).value(), oc::UplinkKind::Data);
  EXPECT_EQ(p.classify(Bytes{0x03}).value(), oc::UplinkKind::CommandResponse);
  EXPECT_EQ(p.classify(Bytes{0x09}).error(), (oc::CodecError{CodecErrc::UnknownMessageId, "9"}));
  EXPECT_EQ(p.classify(Bytes{}).error().code, CodecErrc::Truncated);
}

TEST(OceanconnectCodec, Float32ShowsItsShortestDecimal) {
  const auto p = profile(R"({"uplink":[{"serviceId":"S","properties":[{"name":"v","type":"float32","offset":0}]}]})");
  // 0x3DCCCCCD is 0.1f: 0.100000001490116… as a double, shown as 0.1.
  EXPECT_EQ(p.decodeUplink(Bytes{0x3D, 0xCC, 0xCC, 0xCD}).value().dump(), R"({"S":{"v":0.1}})");
}

TEST(OceanconnectCodec, EveryStrictPrefixIsTruncated) {
  const auto p = profile(kSensorProfile);
  const Bytes wire{0x00, 0xFF, 0x38, 0x37, 0x40, 0x48, 0x00, 0x00, 'a', 'b', 0x00, 0x00, 0x0A, 0x1B};
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto r = p.decodeUplink(std::span(wire).first(n));
    ASSERT_FALSE(r) << "prefix " << n;
    EXPECT_EQ(r.error().code, CodecErrc::Truncated) << "prefix " << n;
  }
  const Bytes light{0x01, 0x01, 0x00};
  EXPECT_EQ(p.decodeUplink(light).error(),
            (oc::CodecError{CodecErrc::TrailingBytes, "LightControl: 3 bytes, 2 expected"}));
}

TEST(OceanconnectCodec, CommandsGoldenBytes) {
  const auto p = profile(kSensorProfile);
  EXPECT_EQ(p.encodeCommand("LightControl", "SET_LIGHT", json{{"light", 1}}, 0x1234).value(),
            (Bytes{0x02,        // messageId 2
                   0x12, 0x34,  // mid
                   0x01}));     // light
  EXPECT_EQ(p.encodeCommand("Display", "SHOW", json{{"text", "hi"}}, 7).value(), (Bytes{0x04, 0x00, 0x07, 'h', 'i'}));
  EXPECT_EQ(p.encodeCommand("Motor", "MOVE",
                            json{{"speed", -2}, {"gain", 1.5}, {"tag", "ab"}, {"key", "beef"}, {"blob", "AQI="}}, 7)
                .value(),
            (Bytes{0x05,                    // messageId 5, no mid
                   0xFF, 0xFF, 0xFF, 0xFE,  // speed int32 -2
                   0x3F, 0xC0, 0x00, 0x00,  // gain float32 1.5
                   'a', 'b', 0x00,          // tag string[3], NUL-padded
                   0xBE, 0xEF,              // key hex[2]
                   0x01, 0x02}));           // blob bytes[2] from base64
  EXPECT_EQ(p.encodeCommand("Device", "REBOOT", json::object(), 7).value(), Bytes{0x06});
  EXPECT_EQ(p.encodeCommand("Device", "REBOOT", json(nullptr), 7).value(), Bytes{0x06});
  // An integral float is an integer.
  EXPECT_EQ(p.encodeCommand("LightControl", "SET_LIGHT", json{{"light", 1.0}}, 0).value(), (Bytes{0x02, 0, 0, 0x01}));
}

TEST(OceanconnectCodec, CommandErrors) {
  const auto p = profile(kSensorProfile);
  const json motor{{"speed", 1}, {"gain", 1}, {"tag", "a"}, {"key", "00"}, {"blob", ""}};
  const auto with = [&](const char* key, json v) {
    json paras = motor;
    paras[key] = std::move(v);
    return paras;
  };
  const struct {
    const char* name;
    std::string service;
    std::string method;
    json paras;
    oc::CodecError error;
  } rows[] = {
      {"unknown command", "LightControl", "BLINK", json::object(), {CodecErrc::UnknownCommand, "LightControl.BLINK"}},
      {"paras array", "LightControl", "SET_LIGHT", json::array(), {CodecErrc::ParasNotObject, ""}},
      {"paras null", "LightControl", "SET_LIGHT", json(nullptr), {CodecErrc::ParasNotObject, ""}},
      {"missing", "LightControl", "SET_LIGHT", json::object(), {CodecErrc::MissingPara, "light"}},
      {"unknown", "LightControl", "SET_LIGHT", json{{"light", 1}, {"lihgt", 1}}, {CodecErrc::UnknownPara, "lihgt"}},
      {"string for number",
       "LightControl",
       "SET_LIGHT",
       json{{"light", "1"}},
       {CodecErrc::WrongParaType, "light: expected a number"}},
      {"fraction",
       "LightControl",
       "SET_LIGHT",
       json{{"light", 0.5}},
       {CodecErrc::WrongParaType, "light: expected an integer"}},
      {"above max", "LightControl", "SET_LIGHT", json{{"light", 2}}, {CodecErrc::OutOfRange, "light"}},
      {"negative uint", "LightControl", "SET_LIGHT", json{{"light", -1}}, {CodecErrc::OutOfRange, "light"}},
      {"huge unsigned",
       "LightControl",
       "SET_LIGHT",
       json{{"light", 18446744073709551615ULL}},
       {CodecErrc::OutOfRange, "light"}},
      {"below min", "Motor", "MOVE", with("speed", -1001), {CodecErrc::OutOfRange, "speed"}},
      {"float overflow", "Motor", "MOVE", with("gain", 1e39), {CodecErrc::OutOfRange, "gain"}},
      {"number for string",
       "Display",
       "SHOW",
       json{{"text", 1}},
       {CodecErrc::WrongParaType, "text: expected a string"}},
      {"string too long", "Motor", "MOVE", with("tag", "abcd"), {CodecErrc::TooLong, "tag"}},
      {"bad hex", "Motor", "MOVE", with("key", "zz"), {CodecErrc::BadEncoding, "key: not hex"}},
      {"odd hex", "Motor", "MOVE", with("key", "abc"), {CodecErrc::BadEncoding, "key: not hex"}},
      {"hex too long", "Motor", "MOVE", with("key", "000000"), {CodecErrc::TooLong, "key"}},
      {"bad base64", "Motor", "MOVE", with("blob", "A"), {CodecErrc::BadEncoding, "blob: not base64"}},
      {"bad utf-8", "Display", "SHOW", json{{"text", "\xFF"}}, {CodecErrc::BadEncoding, "text: not UTF-8"}},
  };
  for (const auto& row : rows) {
    auto r = p.encodeCommand(row.service, row.method, row.paras, 0);
    ASSERT_FALSE(r) << row.name;
    EXPECT_EQ(r.error(), row.error) << row.name << ": " << r.error().message();
  }
}

TEST(OceanconnectCodec, CommandResponse) {
  const auto p = profile(kSensorProfile);
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0x03,        // messageId 3: command response
                                          0x12, 0x34,  // mid
                                          0x00})       // result 0
                .value(),
            (oc::CommandResponse{0x1234, 0, true}));
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0x03, 0x00, 0x01, 0x05}).value(), (oc::CommandResponse{1, 5, false}));
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0x03, 0x00, 0x01}).error().code, CodecErrc::Truncated);
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0x03, 0x00, 0x01, 0x00, 0x00}).error().code, CodecErrc::TrailingBytes);
  EXPECT_EQ(p.decodeCommandResponse(Bytes{0x01, 0x00, 0x01, 0x00}).error(),
            (oc::CodecError{CodecErrc::UnknownMessageId, "1"}));
  EXPECT_EQ(p.decodeCommandResponse(Bytes{}).error().code, CodecErrc::Truncated);
  // A data decode of a response id is not a data report.
  EXPECT_EQ(p.decodeUplink(Bytes{0x03, 0x00, 0x01, 0x00}).error().code, CodecErrc::UnknownMessageId);

  const auto signedResult =
      profile(R"({"commandResponse":{"resultOffset":0,"resultType":"int16","successResults":[0,1]}})");
  EXPECT_EQ(signedResult.classify(Bytes{0xFF, 0xFF}).value(), oc::UplinkKind::CommandResponse);
  EXPECT_EQ(signedResult.decodeCommandResponse(Bytes{0xFF, 0xFF}).value(),
            (oc::CommandResponse{std::nullopt, -1, false}));
  EXPECT_EQ(signedResult.decodeCommandResponse(Bytes{0x00, 0x01}).value(),
            (oc::CommandResponse{std::nullopt, 1, true}));
  EXPECT_EQ(signedResult.decodeUplink(Bytes{0x00}).error().code, CodecErrc::NoSuchMessage);
}

TEST(OceanconnectCodec, ParsedProfileExposesItsMessages) {
  const auto p = profile(kSensorProfile);
  EXPECT_EQ(p.messageIdOffset(), 0u);
  ASSERT_EQ(p.uplinks().size(), 2u);
  EXPECT_EQ(p.uplinks()[0].properties[5], (oc::Field{"tail", oc::FieldType::Bytes, 14, std::nullopt, {}, {}}));
  ASSERT_NE(p.findCommand("Motor", "MOVE"), nullptr);
  EXPECT_EQ(p.findCommand("Motor", "MOVE")->paras[0].min, -1000);
  EXPECT_EQ(p.findCommand("Motor", "STOP"), nullptr);
  EXPECT_EQ(p.commandResponse()->successResults, (std::vector<std::int64_t>{0}));
  EXPECT_EQ(oc::fieldTypeName(oc::FieldType::Float32), "float32");
  EXPECT_TRUE(oc::CodecProfile::parse(std::string_view("{}")));
}

TEST(OceanconnectProfile, MalformedProfilesNameTheJsonPath) {
  const struct {
    const char* name;
    const char* text;
    ProfileErrc code;
    const char* path;
  } rows[] = {
      {"not json", "{", ProfileErrc::BadJson, ""},
      {"not an object", "[]", ProfileErrc::WrongType, ""},
      {"unknown top key", R"({"uplinks":[]})", ProfileErrc::UnknownKey, "/uplinks"},
      {"uplink not array", R"({"uplink":{}})", ProfileErrc::WrongType, "/uplink"},
      {"no serviceId", R"({"uplink":[{"properties":[]}]})", ProfileErrc::MissingKey, "/uplink/0/serviceId"},
      {"empty serviceId", R"({"uplink":[{"serviceId":""}]})", ProfileErrc::BadValue, "/uplink/0/serviceId"},
      {"unknown type", R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"u8","offset":0}]}]})",
       ProfileErrc::BadValue, "/uplink/0/properties/0/type"},
      {"negative offset", R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":-1}]}]})",
       ProfileErrc::BadValue, "/uplink/0/properties/0/offset"},
      {"offset text", R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":"0"}]}]})",
       ProfileErrc::WrongType, "/uplink/0/properties/0/offset"},
      {"huge offset", R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":70000}]}]})",
       ProfileErrc::BadValue, "/uplink/0/properties/0/offset"},
      {"no offset", R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8"}]}]})",
       ProfileErrc::MissingKey, "/uplink/0/properties/0/offset"},
      {"length on numeric",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":0,"length":1}]}]})",
       ProfileErrc::BadValue, "/uplink/0/properties/0/length"},
      {"zero length",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"hex","offset":0,"length":0}]}]})",
       ProfileErrc::BadValue, "/uplink/0/properties/0/length"},
      {"min on uplink",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":0,"min":0}]}]})",
       ProfileErrc::UnknownKey, "/uplink/0/properties/0/min"},
      {"duplicate name",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint8","offset":0},{"name":"a","type":"uint8","offset":1}]}]})",
       ProfileErrc::Duplicate, "/uplink/0/properties/1/name"},
      {"overlap",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"uint16","offset":0},{"name":"b","type":"uint8","offset":1}]}]})",
       ProfileErrc::Overlap, "/uplink/0/properties/1"},
      {"variable not last",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"string","offset":0},{"name":"b","type":"uint8","offset":1}]}]})",
       ProfileErrc::VariableNotLast, "/uplink/0/properties/0"},
      {"field overlaps variable",
       R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"string","offset":1},{"name":"b","type":"uint16","offset":0}]}]})",
       ProfileErrc::Overlap, "/uplink/0/properties/1"},
      {"two uplinks without ids", R"({"uplink":[{"serviceId":"S"},{"serviceId":"T"}]})", ProfileErrc::MessageIdRequired,
       ""},
      {"uplink and response without ids", R"({"uplink":[{"serviceId":"S"}],"commandResponse":{"resultOffset":0}})",
       ProfileErrc::MessageIdRequired, ""},
      {"messageId without offset", R"({"uplink":[{"serviceId":"S","messageId":1}]})", ProfileErrc::MessageIdUnused,
       "/uplink/0/messageId"},
      {"missing messageId", R"({"messageIdOffset":0,"uplink":[{"serviceId":"S"}]})", ProfileErrc::MissingKey,
       "/uplink/0/messageId"},
      {"messageId 256", R"({"messageIdOffset":0,"uplink":[{"serviceId":"S","messageId":256}]})", ProfileErrc::BadValue,
       "/uplink/0/messageId"},
      {"duplicate uplink id",
       R"({"messageIdOffset":0,"uplink":[{"serviceId":"S","messageId":1},{"serviceId":"T","messageId":1}]})",
       ProfileErrc::Duplicate, "/uplink/1/messageId"},
      {"response id clash",
       R"({"messageIdOffset":0,"uplink":[{"serviceId":"S","messageId":1}],"commandResponse":{"messageId":1,"resultOffset":1}})",
       ProfileErrc::Duplicate, "/commandResponse/messageId"},
      {"field on message id",
       R"({"messageIdOffset":0,"uplink":[{"serviceId":"S","messageId":1,"properties":[{"name":"a","type":"uint8","offset":0}]}]})",
       ProfileErrc::Overlap, "/uplink/0/properties/0"},
      {"no method", R"({"commands":[{"serviceId":"S"}]})", ProfileErrc::MissingKey, "/commands/0/method"},
      {"duplicate command", R"({"commands":[{"serviceId":"S","method":"M"},{"serviceId":"S","method":"M"}]})",
       ProfileErrc::Duplicate, "/commands/1"},
      {"duplicate command id",
       R"({"messageIdOffset":0,"commands":[{"serviceId":"S","method":"M","messageId":1},{"serviceId":"S","method":"N","messageId":1}]})",
       ProfileErrc::Duplicate, "/commands/1/messageId"},
      {"para on mid",
       R"({"commands":[{"serviceId":"S","method":"M","midOffset":0,"paras":[{"name":"a","type":"uint8","offset":1}]}]})",
       ProfileErrc::Overlap, "/commands/0/paras/0"},
      {"min above max",
       R"({"commands":[{"serviceId":"S","method":"M","paras":[{"name":"a","type":"uint8","offset":0,"min":5,"max":1}]}]})",
       ProfileErrc::BadValue, "/commands/0/paras/0/min"},
      {"max outside type",
       R"({"commands":[{"serviceId":"S","method":"M","paras":[{"name":"a","type":"uint8","offset":0,"max":256}]}]})",
       ProfileErrc::BadValue, "/commands/0/paras/0/max"},
      {"min on string",
       R"({"commands":[{"serviceId":"S","method":"M","paras":[{"name":"a","type":"string","offset":0,"min":1}]}]})",
       ProfileErrc::BadValue, "/commands/0/paras/0/min"},
      {"max text",
       R"({"commands":[{"serviceId":"S","method":"M","paras":[{"name":"a","type":"uint8","offset":0,"max":"1"}]}]})",
       ProfileErrc::WrongType, "/commands/0/paras/0/max"},
      {"no resultOffset", R"({"commandResponse":{}})", ProfileErrc::MissingKey, "/commandResponse/resultOffset"},
      {"float result", R"({"commandResponse":{"resultOffset":0,"resultType":"float32"}})", ProfileErrc::BadValue,
       "/commandResponse/resultType"},
      {"empty successResults", R"({"commandResponse":{"resultOffset":0,"successResults":[]}})", ProfileErrc::BadValue,
       "/commandResponse/successResults"},
      {"success out of range", R"({"commandResponse":{"resultOffset":0,"successResults":[300]}})",
       ProfileErrc::BadValue, "/commandResponse/successResults/0"},
      {"success text", R"({"commandResponse":{"resultOffset":0,"successResults":["0"]}})", ProfileErrc::WrongType,
       "/commandResponse/successResults/0"},
      {"result on mid", R"({"commandResponse":{"midOffset":0,"resultOffset":1}})", ProfileErrc::Overlap,
       "/commandResponse/resultOffset"},
  };
  for (const auto& row : rows) {
    auto p = oc::CodecProfile::parse(std::string_view(row.text));
    ASSERT_FALSE(p) << row.name;
    EXPECT_EQ(p.error().code, row.code) << row.name << ": " << p.error().message();
    EXPECT_EQ(p.error().path, row.path) << row.name << ": " << p.error().message();
  }
  EXPECT_EQ(
      oc::CodecProfile::parse(
          std::string_view(R"({"uplink":[{"serviceId":"S","properties":[{"name":"a","type":"u8","offset":0}]}]})"))
          .error()
          .message(),
      R"(/uplink/0/properties/0/type: bad value: unknown field type "u8")");
}

}  // namespace
