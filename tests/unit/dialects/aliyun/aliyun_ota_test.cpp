// aliyun OTA and remote-config messages (protocols/dialects/aliyun/ota.hpp): the upgrade offer and
// config messages byte for byte, the device's reports as iotkit-embedded's otalib_GenInfoMsg and
// otalib_GenReportMsg write them, and every malformed form refused, never thrown.
#include "protocols/dialects/aliyun/ota.hpp"

#include <gtest/gtest.h>

#include <string>

namespace fc::aliyun {
namespace {

TEST(AliyunOta, UpgradeMessageAsTheSdkReadsIt) {
  FirmwareOffer offer{1234567, "2.0.0", "https://fc.test:8443/ota/o/abc", 15000, "6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e", "", ""};
  EXPECT_EQ(otaUpgradeMessage(offer),
            R"({"code":"1000","data":{"md5":"6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e","sign":"6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e",)"
            R"("signMethod":"Md5","size":15000,"url":"https://fc.test:8443/ota/o/abc","version":"2.0.0"},"id":1234567,)"
            R"("message":"success"})");
  offer.sha256 = std::string(64, 'a');
  offer.module = "mcu";
  EXPECT_EQ(otaUpgradeMessage(offer),
            R"({"code":"1000","data":{"md5":"6e3fa2f2f15d9e0c3c7b8f2ba0ce7d4e","module":"mcu","sign":")" +
                std::string(64, 'a') +
                R"(","signMethod":"SHA256","size":15000,"url":"https://fc.test:8443/ota/o/abc","version":"2.0.0"},)"
                R"("id":1234567,"message":"success"})");
}

TEST(AliyunOta, VersionReportsOfInformAndRequest) {
  // otalib_GenInfoMsg: {"id":%d,"params":{"version":"%s"}}
  auto v = parseOtaVersionReport(R"({"id":0,"params":{"version":"app-1.0.0-20180101.1000"}})");
  ASSERT_TRUE(v) << v.error();
  EXPECT_EQ(v->id, "0");
  EXPECT_EQ(v->version, "app-1.0.0-20180101.1000");
  EXPECT_EQ(v->module, "");
  auto m = parseOtaVersionReport(R"({"id":"5","params":{"version":"3.1","module":"mcu"}})");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, "5");
  EXPECT_EQ(m->module, "mcu");
  for (const char* bad : {"", "{", "[]", R"({"id":1})", R"({"params":[]})", R"({"params":{"version":""}})",
                          R"({"params":{"version":1}})", R"({"params":{"version":"123456789012345678901234567890123"}})"})
    EXPECT_FALSE(parseOtaVersionReport(bad)) << bad;
}

TEST(AliyunOta, ProgressStepsAndTheirMeaning) {
  // otalib_GenReportMsg: {"id":%d,"params":{"step":"%d","desc":"%s"}}
  auto p = parseOtaProgress(R"({"id":0,"params":{"step":"33","desc":"Enter in downloading state"}})");
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->step, 33);
  EXPECT_EQ(p->desc, "Enter in downloading state");
  EXPECT_FALSE(p->failed());
  auto failed = parseOtaProgress(R"({"id":0,"params":{"step":"-3","desc":"md5 mismatch"}})");
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->failed());
  EXPECT_EQ(otaStepMeaning(failed->step), "verify failed");
  EXPECT_EQ(otaStepMeaning(-1), "upgrade failed");
  EXPECT_EQ(otaStepMeaning(-2), "download failed");
  EXPECT_EQ(otaStepMeaning(-4), "flash write failed");
  EXPECT_EQ(otaStepMeaning(100), "");
  auto number = parseOtaProgress(R"({"params":{"step":100}})");
  ASSERT_TRUE(number) << "an integer step is taken too";
  EXPECT_EQ(number->step, 100);
  for (const char* bad : {R"({"params":{"step":"101"}})", R"({"params":{"step":"-5"}})", R"({"params":{"step":"3x"}})",
                          R"({"params":{"step":""}})", R"({"params":{"step":" 3"}})", R"({"params":{"step":1.5}})",
                          R"({"params":{"desc":"x"}})", R"({"params":{"step":"99999999999999"}})", "null"})
    EXPECT_FALSE(parseOtaProgress(bad)) << bad;
}

TEST(AliyunOta, EveryPrefixOfAReportIsRefusedNotThrown) {
  const std::string report = R"({"id":0,"params":{"step":"33","desc":"x","version":"1.0"}})";
  for (std::size_t n = 0; n < report.size(); ++n) {
    EXPECT_FALSE(parseOtaProgress(report.substr(0, n)));
    EXPECT_FALSE(parseOtaVersionReport(report.substr(0, n)));
    EXPECT_FALSE(parseConfigGet(report.substr(0, n)));
  }
  EXPECT_TRUE(parseOtaProgress(report));
  EXPECT_TRUE(parseOtaVersionReport(report));
}

TEST(AliyunCota, GetRequestReplyAndPush) {
  // iotx_ota_get_config's request, with its space before the colon.
  auto r = parseConfigGet(
      R"({"id" : 7,"version":"1.0","params":{"configScope":"product","getType":"file","attributeKeys":""},"method":"thing.config.get"})");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->id, "7");
  EXPECT_EQ(r->configScope, "product");
  EXPECT_EQ(r->getType, "file");
  EXPECT_FALSE(parseConfigGet(R"({"params":{}})")) << "no id to answer";

  const ConfigFile file{"cfg-1", 1234, std::string(64, 'b'), "Sha256", "https://fc.test/ota/c/cfg-1", "file"};
  EXPECT_EQ(configGetReply("7", file),
            R"({"code":200,"data":{"configId":"cfg-1","configSize":1234,"getType":"file","sign":")" + std::string(64, 'b') +
                R"(","signMethod":"Sha256","url":"https://fc.test/ota/c/cfg-1"},"id":"7","message":"success","version":"1.0"})");
  EXPECT_EQ(configGetNothing("7"), R"({"code":404,"data":{},"id":"7","message":"config not found","version":"1.0"})");
  EXPECT_EQ(configPush("9", file),
            R"({"id":"9","method":"thing.config.push","params":{"configId":"cfg-1","configSize":1234,"getType":"file",)"
            R"("sign":")" + std::string(64, 'b') +
                R"(","signMethod":"Sha256","url":"https://fc.test/ota/c/cfg-1"},"version":"1.0"})");
}

TEST(AliyunCota, PushRepliesIncludingTheSdksBracelessRefusal) {
  auto ok = parseConfigPushReply(R"({"id":"9","code":200,"data":{}})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 200);
  // ota_mqtt.c answers a push it cannot take with "\"id\":%.*s,\"code\":\"%d\",\"data\":{}".
  auto refused = parseConfigPushReply(R"("id":9,"code":"400","data":{})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(*refused, 400);
  EXPECT_FALSE(parseConfigPushReply(""));
  EXPECT_FALSE(parseConfigPushReply(R"({"id":"9"})"));
  EXPECT_FALSE(parseConfigPushReply(R"({"code":"abc"})"));
}

}  // namespace
}  // namespace fc::aliyun
