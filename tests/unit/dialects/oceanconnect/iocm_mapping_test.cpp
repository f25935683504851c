// The pure IoCM mapping of protocols/dialects/oceanconnect/iocm.hpp: Huawei's time format, paging,
// the command body and callback shapes, deviceDataChanged notifications with and without a codec
// profile. The server's use of them (routes, platform shapes) is in iocm_test.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdint>

#include "protocols/dialects/oceanconnect/iocm.hpp"
#include "tests/integration/oceanconnect_profiles.hpp"

namespace fc::oceanconnect {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

IocmClock::time_point at(int y, unsigned mo, unsigned d, int h, int mi, int s) {
  return IocmClock::time_point(
      std::chrono::sys_days(std::chrono::year(y) / std::chrono::month(mo) / std::chrono::day(d)).time_since_epoch() +
      std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(s));
}

std::vector<json> dataChanged(const CodecProfile* profile, std::vector<std::uint8_t> bytes, IocmClock::time_point t) {
  auto out = iocmDataChanged("dev-9", profile, bytes, t);
  EXPECT_TRUE(out) << out.error();
  return out ? *out : std::vector<json>{};
}

TEST(IocmMappingTime, FormatsUtcAsHuaweiDoes) {
  EXPECT_EQ(iocmTime(at(2026, 12, 3, 6, 40, 5)), "20261203T064005Z");
  EXPECT_EQ(iocmTime(at(1999, 1, 31, 23, 59, 59) + 999ms), "19990131T235959Z") << "milliseconds are cut, not rounded";
}

TEST(IocmMappingTime, ParsesWhatItFormatsAndRefusesAnythingElse) {
  const auto t = at(2024, 2, 29, 12, 0, 1);
  EXPECT_EQ(parseIocmTime(iocmTime(t)), t);
  for (const char* bad :
       {"", "20240229T120001", "20240229 120001Z", "2024-02-29T12:00:01Z", "20230229T120001Z", "20241301T000000Z",
        "20240229T240000Z", "20240229T126000Z", "2024022xT120001Z", "20240229T120001ZZ"})
    EXPECT_FALSE(parseIocmTime(bad)) << bad;
}

TEST(IocmMappingPage, DefaultsAndLimits) {
  auto p = parseIocmPage(std::nullopt, std::nullopt, 1000, 1000);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pageNo, 0u);
  EXPECT_EQ(p->pageSize, 1000u);
  p = parseIocmPage("2", "25", 1000, 1000);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pageNo, 2u);
  EXPECT_EQ(p->pageSize, 25u);
  for (const auto& [no, size] : std::vector<std::pair<std::string, std::string>>{
           {"-1", "10"}, {"x", "10"}, {"1.5", "10"}, {"0", "0"}, {"0", "1001"}, {"0", "ten"}}) {
    auto bad = parseIocmPage(no, size, 1000, 1000);
    EXPECT_FALSE(bad) << no << " " << size;
  }
}

TEST(IocmMappingPage, RangeOfEachPage) {
  using R = std::pair<std::size_t, std::size_t>;
  EXPECT_EQ(pageRange({0, 10}, 25), R(0, 10));
  EXPECT_EQ(pageRange({2, 10}, 25), R(20, 25));
  EXPECT_EQ(pageRange({3, 10}, 25), R(25, 25)) << "past the end: empty";
  EXPECT_EQ(pageRange({0, 10}, 0), R(0, 0));
  EXPECT_EQ(pageRange({SIZE_MAX / 2, 1000}, 25), R(25, 25)) << "no overflow for absurd page numbers";
}

TEST(IocmMappingCommand, BodyFromJsonPayloadRawBytesOrOtherJson) {
  EXPECT_EQ(iocmCommandBody("", R"({"serviceId":"LightControl","method":"SET_LIGHT","paras":{"light":1}})", false),
            json::parse(R"({"serviceId":"LightControl","method":"SET_LIGHT","paras":{"light":1}})"));
  EXPECT_EQ(iocmCommandBody("", std::string("\x01\x02", 2), true),
            json::parse(R"({"serviceId":"RawData","method":"RawData","paras":{"rawData":"AQI="}})"));
  EXPECT_EQ(iocmCommandBody("reboot", R"({"delay":5})", false),
            json::parse(R"({"serviceId":null,"method":"reboot","paras":{"delay":5}})"));
  EXPECT_EQ(iocmCommandBody("", "not json", false),
            json::parse(R"({"serviceId":null,"method":null,"paras":"not json"})"));
}

TEST(IocmMappingCommand, CallbackCarriesStatusAndResultOrReason) {
  json command = {{"id", "cmd-2"},
                  {"deviceId", "dev-2"},
                  {"status", "SUCCESSFUL"},
                  {"result", {{"resultCode", "SUCCESSFUL"}, {"mid", 7}, {"result", 0}}},
                  {"reason", nullptr}};
  EXPECT_EQ(iocmCommandCallback(command),
            json::parse(R"({"deviceId":"dev-2","commandId":"cmd-2","result":{"resultCode":"SUCCESSFUL",
                           "resultDetail":{"resultCode":"SUCCESSFUL","mid":7,"result":0}}})"));
  command["status"] = "EXPIRED";
  command["result"] = nullptr;
  command["reason"] = "not delivered within expireTime";
  EXPECT_EQ(iocmCommandCallback(command)["result"],
            json::parse(R"({"resultCode":"EXPIRED","resultDetail":"not delivered within expireTime"})"));
  command["status"] = "PENDING";
  command["reason"] = nullptr;
  EXPECT_EQ(iocmCommandCallback(command)["result"], json::parse(R"({"resultCode":"PENDING","resultDetail":null})"));
}

TEST(IocmMappingDataChanged, DecodedWithTheProfileOneNotificationPerService) {
  const auto profile = CodecProfile::parse(std::string_view(fc::test::kLedMidProfile));
  ASSERT_TRUE(profile);
  const auto t = at(2026, 12, 3, 7, 0, 0);
  auto out = dataChanged(&*profile, {0x01, 0x01}, t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], json::parse(R"({"notifyType":"deviceDataChanged","requestId":null,"deviceId":"dev-9",
      "gatewayId":"dev-9","service":{"serviceId":"LightControl","serviceType":"LightControl",
      "data":{"light":1},"eventTime":"20261203T070000Z"}})"));
  out = dataChanged(&*profile, {0x00, 0xFF, 0x38}, t);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["service"]["data"]["temperature"], -200);
  EXPECT_TRUE(dataChanged(&*profile, {0x03, 0x12, 0x34, 0x00}, t).empty()) << "a command response";
  const std::vector<std::uint8_t> unknown = {0x07, 0x00}, truncated = {0x00, 0xFF};
  EXPECT_FALSE(iocmDataChanged("dev-9", &*profile, unknown, t)) << "an unknown message id";
  EXPECT_FALSE(iocmDataChanged("dev-9", &*profile, truncated, t)) << "truncated";
}

TEST(IocmMappingDataChanged, RawDataWithoutAProfile) {
  auto out = dataChanged(nullptr, {0xDE, 0xAD}, at(2026, 1, 1, 0, 0, 0));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["service"]["serviceId"], "RawData");
  EXPECT_EQ(out[0]["service"]["data"], json::parse(R"({"rawData":"3q0="})"));
}

}  // namespace
}  // namespace fc::oceanconnect
