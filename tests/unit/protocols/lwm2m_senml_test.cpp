// SenML JSON (RFC 8428, LwM2M 1.1 §7.4.4): base-name and base-time resolution, every value label,
// the examples of the LwM2M 1.1 specification, round trips, and the malformed-pack table.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocols/lwm2m/senml.hpp"

namespace {

namespace lwm2m = fc::lwm2m;
using lwm2m::SenmlError;
using lwm2m::SenmlRecord;

std::vector<SenmlRecord> decode(std::string_view text) {
  auto r = lwm2m::decodeSenmlJson(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : make_error_code(r.error()).message());
  return r ? *r : std::vector<SenmlRecord>{};
}

TEST(Senml, DeviceObjectInstanceWithABaseName) {
  // The shape of OMA-TS-LightweightM2M_Core-V1_1 §7.4.4's Device object example.
  const auto records = decode(R"([{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},
                                  {"n":"1","vs":"Lightweight M2M Client"},
                                  {"n":"6/0","v":1},{"n":"6/1","v":5},
                                  {"n":"9","v":100},{"n":"13","v":1367491215},
                                  {"n":"16","vs":"U"}])");
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(records[0].name, "/3/0/0");
  EXPECT_EQ(std::get<std::string>(records[0].value), "Open Mobile Alliance");
  EXPECT_EQ(records[2].name, "/3/0/6/0");
  EXPECT_EQ(std::get<std::int64_t>(records[3].value), 5);
  EXPECT_EQ(records[5].name, "/3/0/13");
  EXPECT_EQ(std::get<std::int64_t>(records[5].value), 1367491215);
  EXPECT_FALSE(records[0].time);
}

TEST(Senml, EveryValueLabel) {
  const auto records = decode(R"([{"n":"/1/0/1","v":86400},{"n":"/3303/0/5700","v":21.5},
                                  {"n":"/1/0/6","vb":true},{"n":"/5/0/0","vd":"AAEC_w"},
                                  {"n":"/2/0/2","vlo":"3:0"},{"n":"/3/0/0","vs":"x"},{"n":"/6/0/0"}])");
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(std::get<std::int64_t>(records[0].value), 86400);
  EXPECT_DOUBLE_EQ(std::get<double>(records[1].value), 21.5);
  EXPECT_TRUE(std::get<bool>(records[2].value));
  EXPECT_EQ(std::get<lwm2m::Opaque>(records[3].value), (lwm2m::Opaque{0x00, 0x01, 0x02, 0xFF}));
  EXPECT_EQ(std::get<lwm2m::Objlnk>(records[4].value), (lwm2m::Objlnk{3, 0}));
  EXPECT_EQ(std::get<std::string>(records[5].value), "x");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(records[6].value)) << "a Read-Composite request's record";
}

TEST(Senml, BaseTimeUnitAndValueApplyToLaterRecordsUntilChanged) {
  const auto records = decode(R"([{"bn":"/3303/0/","bt":1700000000,"bu":"Cel","n":"5700","v":20,"t":-5},
                                  {"n":"5700","v":21},
                                  {"bn":"/3304/0/","bv":10,"n":"5700","v":1.5,"u":"%RH"}])");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].name, "/3303/0/5700");
  EXPECT_DOUBLE_EQ(*records[0].time, 1699999995);
  EXPECT_EQ(records[0].unit, "Cel");
  EXPECT_DOUBLE_EQ(*records[1].time, 1700000000);
  EXPECT_EQ(records[2].name, "/3304/0/5700");
  EXPECT_EQ(records[2].unit, "%RH");
  EXPECT_DOUBLE_EQ(std::get<double>(records[2].value), 11.5) << "the base value is added";
}

TEST(Senml, OpaqueAcceptsBothAlphabetsPaddedOrNot) {
  for (const char* vd : {"AAEC_w", "AAEC/w==", "AAEC/w", "AAEC_w=="}) {
    const auto records = decode(std::string(R"([{"n":"/5/0/0","vd":")") + vd + "\"}]");
    ASSERT_EQ(records.size(), 1u) << vd;
    EXPECT_EQ(std::get<lwm2m::Opaque>(records[0].value), (lwm2m::Opaque{0x00, 0x01, 0x02, 0xFF})) << vd;
  }
  EXPECT_EQ(lwm2m::base64UrlEncode(lwm2m::Opaque{0x00, 0x01, 0x02, 0xFF}), "AAEC_w") << "RFC 8428 §4.3";
  EXPECT_EQ(lwm2m::base64UrlEncode(lwm2m::Opaque{}), "");
  EXPECT_FALSE(lwm2m::base64UrlDecode("A"));
  EXPECT_FALSE(lwm2m::base64UrlDecode("AA*A"));
}

TEST(Senml, EncodeWritesFullNamesAndDecodesBackToTheSameRecords) {
  const std::vector<SenmlRecord> records{
      {"/3/0/0", std::nullopt, "", std::string("Acme \"Lamp\"")},
      {"/3/0/9", std::nullopt, "", std::int64_t{87}},
      {"/3303/0/5700", 1700000000.5, "Cel", 21.25},
      {"/1/0/6", std::nullopt, "", false},
      {"/5/0/0", std::nullopt, "", lwm2m::Opaque{0xFB, 0xFF}},
      {"/2/0/2", std::nullopt, "", lwm2m::Objlnk{3, 65535}},
      {"/6/0", std::nullopt, "", std::monostate{}},
  };
  const auto text = lwm2m::encodeSenmlJson(records);
  EXPECT_EQ(text.rfind(R"([{"n":"/3/0/0","vs":"Acme \"Lamp\""},{"n":"/3/0/9","v":87},)", 0), 0u) << text;
  EXPECT_NE(text.find(R"({"n":"/5/0/0","vd":"-_8"})"), std::string::npos) << text;
  EXPECT_NE(text.find(R"({"n":"/2/0/2","vlo":"3:65535"})"), std::string::npos) << text;
  EXPECT_EQ(decode(text), records);
  EXPECT_EQ(lwm2m::encodeSenmlJson({}), "[]");
}

TEST(Senml, MalformedPacksAreNamedNeverThrown) {
  const std::vector<std::pair<std::string, SenmlError>> table{
      {"", SenmlError::NotJson},
      {"[{\"n\":\"/3/0/0\",", SenmlError::NotJson},
      {R"({"n":"/3/0/0","v":1})", SenmlError::NotAnArray},
      {R"([1])", SenmlError::NotAnObject},
      {R"([{"n":"/3/0/0","v":"1"}])", SenmlError::BadLabel},
      {R"([{"n":3,"v":1}])", SenmlError::BadLabel},
      {R"([{"n":"/3/0/0","vb":1}])", SenmlError::BadLabel},
      {R"([{"bn":"/3/0/","t":"now","n":"0","v":1}])", SenmlError::BadLabel},
      {R"([{"n":"/3/0/0","v":1,"vs":"1"}])", SenmlError::TwoValues},
      {R"([{"n":"/3/0/0","v":1,"s":2}])", SenmlError::TwoValues},
      {R"([{"v":1}])", SenmlError::BadName},
      {R"([{"n":"/3/0/0 ","v":1}])", SenmlError::BadName},
      {R"([{"n":"/3/0/0","vd":"not base64!"}])", SenmlError::BadData},
      {R"([{"n":"/2/0/2","vlo":"3"}])", SenmlError::BadObjlnk},
      {R"([{"n":"/2/0/2","vlo":"3:70000"}])", SenmlError::BadObjlnk},
      {R"([{"bver":11,"n":"/3/0/0","v":1}])", SenmlError::BadVersion},
      {R"([{"bver":"10","n":"/3/0/0","v":1}])", SenmlError::BadVersion},
      {R"([{"n":"/3/0/0","v":1,"crit_":true}])", SenmlError::MustUnderstand},
  };
  for (const auto& [text, error] : table) {
    const auto r = lwm2m::decodeSenmlJson(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error(), error) << text << ": " << make_error_code(r.error()).message();
  }
  // Unknown labels without the trailing "_" are extensions a reader ignores (RFC 8428 §4.4).
  EXPECT_EQ(decode(R"([{"n":"/3/0/0","v":1,"xyz":[1,2]}])").size(), 1u);
}

TEST(Senml, LimitsBoundThePack) {
  lwm2m::SenmlLimits limits;
  limits.maxRecords = 2;
  EXPECT_EQ(lwm2m::decodeSenmlJson(R"([{"n":"/a","v":1},{"n":"/b","v":1},{"n":"/c","v":1}])", limits).error(),
            SenmlError::TooLarge);
  limits.maxPayload = 8;
  EXPECT_EQ(lwm2m::decodeSenmlJson(R"([{"n":"/a","v":1}])", limits).error(), SenmlError::TooLarge);
}

}  // namespace
