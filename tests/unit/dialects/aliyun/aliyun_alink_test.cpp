// Alink JSON shapes byte for byte: replies, cloud requests, NTP, and the device shadow.
#include "protocols/dialects/aliyun/alink.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fc::aliyun {
namespace {

using nlohmann::json;

TEST(AlinkReply, ExactBytesOfTheCloudReply) {
  EXPECT_EQ(alinkReply("2", 200, json::object(), "success"), R"({"code":200,"data":{},"id":"2","message":"success"})");
  EXPECT_EQ(alinkReply("", kAlinkBadRequest, json::object(), "request parameter error"),
            R"({"code":460,"data":{},"id":"","message":"request parameter error"})");
}

TEST(AlinkReply, IdIsEchoedAsAString) {
  EXPECT_EQ(alinkId(json::parse(R"({"id":"2","method":"thing.event.property.post"})")), "2");
  EXPECT_EQ(alinkId(json::parse(R"({"id":17})")), "17") << "a numeric id is echoed as a string";
  EXPECT_FALSE(alinkId(json::parse(R"({"id":1.5})")));
  EXPECT_FALSE(alinkId(json::parse(R"({"id":null})")));
  EXPECT_FALSE(alinkId(json::parse(R"({"method":"x"})")));
  EXPECT_FALSE(alinkId(json::parse(R"([1,2])")));
}

TEST(AlinkRequest, ExactBytesOfAServiceCall) {
  EXPECT_EQ(alinkRequest("100", "thing.service.property.set", json::parse(R"({"LightSwitch":1})")),
            R"({"id":"100","method":"thing.service.property.set","params":{"LightSwitch":1},"version":"1.0.0"})");
  EXPECT_EQ(alinkRequest("7", "thing.service.reboot", json::object()),
            R"({"id":"7","method":"thing.service.reboot","params":{},"version":"1.0.0"})");
}

TEST(AlinkRequest, ServiceNames) {
  EXPECT_TRUE(validServiceName("property.set"));
  EXPECT_TRUE(validServiceName("reboot"));
  EXPECT_TRUE(validServiceName("Set_Level2"));
  for (std::string_view bad : {"", "a/b", "a+b", "#", "a.b", "a b", "é"}) EXPECT_FALSE(validServiceName(bad)) << bad;
  EXPECT_FALSE(validServiceName(std::string(65, 'a')));
}

TEST(AlinkNtp, TimesAreStringsOfMilliseconds) {
  EXPECT_EQ(ntpResponse("1571724098000", 1571724098123, 1571724098124),
            R"({"deviceSendTime":"1571724098000","serverRecvTime":"1571724098123","serverSendTime":"1571724098124"})");
  EXPECT_EQ(ntpDeviceSendTime(json::parse(R"({"deviceSendTime":"42"})")), "42");
  EXPECT_EQ(ntpDeviceSendTime(json::parse(R"({"deviceSendTime":42})")), "42");
  EXPECT_FALSE(ntpDeviceSendTime(json::parse(R"({})")));
  EXPECT_FALSE(ntpDeviceSendTime(json::parse(R"("x")")));
}

TEST(AliyunShadow, ParsesTheSdkMessages) {
  // What iotkit-embedded's shadow module sends (shadow_common.c formats).
  auto update = parseShadowRequest(
      R"({"method":"update","state":{"reported":{"temp":21,"mode":"eco"}},"clientToken":"pk.dn-1","version":1})");
  ASSERT_TRUE(update);
  EXPECT_EQ(update->method, ShadowRequest::Method::Update);
  EXPECT_EQ(update->clientToken, "pk.dn-1");
  EXPECT_EQ(update->version, 1);
  EXPECT_EQ(json::parse(update->reported), json::parse(R"({"temp":21,"mode":"eco"})"));
  EXPECT_FALSE(update->clearDesired);

  auto get = parseShadowRequest(R"({"method":"get","clientToken":"pk.dn-3","version":3})");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->method, ShadowRequest::Method::Get);

  auto ackControl = parseShadowRequest(R"({"method":"update","state":{"desired":"null"},"clientToken":"t","version":5})");
  ASSERT_TRUE(ackControl);
  EXPECT_TRUE(ackControl->clearDesired);
  EXPECT_TRUE(ackControl->reported.empty());

  auto del = parseShadowRequest(R"({"method":"delete","state":{"reported":{"temp":"null"}},"clientToken":"t","version":7})");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->method, ShadowRequest::Method::Delete);
  EXPECT_EQ(json::parse(del->reported), json::parse(R"({"temp":null})")) << "delete removes the named attributes";

  auto delAll = parseShadowRequest(R"({"method":"delete","state":{"reported":"null"}})");
  ASSERT_TRUE(delAll);
  EXPECT_TRUE(delAll->clearReported);
}

TEST(AliyunShadow, MalformedRequestsGetTheSdkErrorCodes) {
  struct Case {
    std::string_view payload;
    ShadowError error;
  };
  for (const auto& c : {Case{"not json", ShadowError::BadJson}, Case{"[1]", ShadowError::BadJson},
                        Case{R"({"clientToken":"t"})", ShadowError::NoMethod},
                        Case{R"({"method":7})", ShadowError::NoMethod},
                        Case{R"({"method":"patch"})", ShadowError::BadMethod},
                        Case{R"({"method":"get","version":"1"})", ShadowError::BadVersion},
                        Case{R"({"method":"update","version":1})", ShadowError::NoState},
                        Case{R"({"method":"update","state":{}})", ShadowError::NoReported},
                        Case{R"({"method":"update","state":{"reported":{}}})", ShadowError::EmptyReported},
                        Case{R"({"method":"update","state":{"reported":5}})", ShadowError::EmptyReported}}) {
    auto r = parseShadowRequest(c.payload);
    ASSERT_FALSE(r) << c.payload;
    EXPECT_EQ(r.error().error, c.error) << c.payload;
  }
  auto withToken = parseShadowRequest(R"({"method":"patch","clientToken":"abc"})");
  ASSERT_FALSE(withToken);
  EXPECT_EQ(withToken.error().clientToken, "abc") << "errors echo the clientToken";
}

TEST(AliyunShadow, ExactBytesOfRepliesAndControl) {
  EXPECT_EQ(shadowUpdateReply("pk.dn-1", 1, 1700000000),
            R"({"clientToken":"pk.dn-1","method":"reply","payload":{"status":"success","version":1},"timestamp":1700000000})");
  EXPECT_EQ(shadowErrorReply("t", ShadowError::VersionConflict, 1700000000),
            R"({"clientToken":"t","method":"reply","payload":{"content":{"errorcode":"409","errormessage":"version conflict"},"status":"error"},"timestamp":1700000000})");
  EXPECT_EQ(shadowControl(json::parse(R"({"a":1})"), 4, 1699999999, 1700000000),
            R"({"method":"control","payload":{"metadata":{"desired":{"a":{"timestamp":1699999999}}},"state":{"desired":{"a":1}}},"timestamp":1700000000,"version":4})");
  EXPECT_EQ(shadowGetReply("t", json::parse(R"({"temp":21})"), json::object(), 3, 1699999999, 1700000000),
            R"({"clientToken":"t","method":"reply","payload":{"metadata":{"reported":{"temp":{"timestamp":1699999999}}},"state":{"reported":{"temp":21}},"status":"success"},"timestamp":1700000000,"version":3})");
  auto both = json::parse(shadowGetReply("t", json::parse(R"({"temp":21})"), json::parse(R"({"mode":"eco"})"), 4, 1, 2));
  EXPECT_EQ(both["payload"]["state"]["desired"]["mode"], "eco");
  EXPECT_EQ(both["payload"]["metadata"]["desired"]["mode"]["timestamp"], 1);
}

}  // namespace
}  // namespace fc::aliyun
