// Alibaba sign-in: the worked example of ../shared/protocols/aliyun.md, the three HMACs against
// published test vectors, hex case, and the client id / username grammar.
#include "protocols/dialects/aliyun/sign.hpp"

#include <gtest/gtest.h>

namespace fc::aliyun {
namespace {

constexpr std::string_view kPk = "a1MZxOdcBnO";
constexpr std::string_view kDn = "test_01";
constexpr std::string_view kSecret = "t9GmMf2jb3LgWfXBaZD2r3aJrfVWBv56";
constexpr std::string_view kClientId =
    "a1MZxOdcBnO.test_01|securemode=3,timestamp=2524608000000,signmethod=hmacsha1,gw=0,ext=0,"
    "partner_id=example.demo.partner-id,module_id=example.demo.module-id|";

TEST(AliyunSign, WorkedExampleFromTheProtocolNotes) {
  auto id = parseClientId(kClientId);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->id, "a1MZxOdcBnO.test_01");
  EXPECT_EQ(id->param("securemode"), "3");
  EXPECT_EQ(id->param("signmethod"), "hmacsha1");
  EXPECT_EQ(id->param("partner_id"), "example.demo.partner-id");
  const auto ts = id->param("timestamp").value_or("");
  EXPECT_EQ(signContent(id->id, kDn, kPk, ts),
            "clientIda1MZxOdcBnO.test_01deviceNametest_01productKeya1MZxOdcBnOtimestamp2524608000000");
  const auto method = parseSignMethod(*id->param("signmethod"));
  ASSERT_TRUE(method);
  EXPECT_EQ(sign(*method, kSecret, id->id, kDn, kPk, ts), "d8b19bb8f07df191ef73a0e868a4b65373017f1f");
}

TEST(AliyunSign, AllThreeMethodsOnTheWorkedExample) {
  // Cross-checked with `openssl dgst -<alg> -hmac <secret>`.
  const std::string ts = "2524608000000";
  EXPECT_EQ(sign(SignMethod::HmacMd5, kSecret, "a1MZxOdcBnO.test_01", kDn, kPk, ts),
            "5c7d5c3f54816a32588df0268f9b423d");
  EXPECT_EQ(sign(SignMethod::HmacSha256, kSecret, "a1MZxOdcBnO.test_01", kDn, kPk, ts),
            "d64bac40a79ad70ba6c453508d0df5436a937c091ae789ddcd93ffaf864b7b2f");
  // The HTTP channel's /auth signs without a timestamp.
  EXPECT_EQ(sign(SignMethod::HmacSha1, kSecret, "a1MZxOdcBnO.test_01", kDn, kPk, ""),
            "1a904c66a402c6eea0f0b12387ae0e73a25be4b4");
}

TEST(AliyunSign, HmacMatchesPublishedTestVectors) {
  // RFC 2202 test case 2 (MD5, SHA-1) and RFC 4231 test case 2 (SHA-256).
  EXPECT_EQ(hmacHex(SignMethod::HmacMd5, "Jefe", "what do ya want for nothing?"), "750c783e6ab0b503eaa86e310a5db738");
  EXPECT_EQ(hmacHex(SignMethod::HmacSha1, "Jefe", "what do ya want for nothing?"),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(hmacHex(SignMethod::HmacSha256, "Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmacHex(SignMethod::HmacSha1, "", "").size(), 40u) << "an empty key is still a key";
}

TEST(AliyunSign, DynamicRegistrationGoldenVectors) {
  // The request an iotkit-embedded device sends (productKey=a1ExpAkj9Hi&deviceName=Example_dyn1&
  // random=7y4Jg5xdKCy9W2i&sign=…&signMethod=hmacsha256), signed with a made-up ProductSecret;
  // computed independently with `printf '<content>' | openssl dgst -<alg> -hmac <secret>`.
  constexpr std::string_view productSecret = "Rfa9GqVnP0cXk2LzYw4sHd7TbJm3Ue8N";
  const auto content = registrationSignContent("Example_dyn1", "a1ExpAkj9Hi", "7y4Jg5xdKCy9W2i");
  EXPECT_EQ(content, "deviceNameExample_dyn1productKeya1ExpAkj9Hirandom7y4Jg5xdKCy9W2i");
  EXPECT_EQ(hmacHex(SignMethod::HmacSha256, productSecret, content),
            "fe21c9720338e2843577753a623452c55a7a75094affbade2909431b8f64f278");
  EXPECT_EQ(hmacHex(SignMethod::HmacSha1, productSecret, content), "99aca368c984ba1a2e79614ce369bd8f8bbc8bb5");
  EXPECT_EQ(hmacHex(SignMethod::HmacMd5, productSecret, content), "6d07acd23d81f18620799f47a7901ab7");
}

TEST(AliyunSign, SignatureComparisonIgnoresHexCaseOnly) {
  const std::string good = "d8b19bb8f07df191ef73a0e868a4b65373017f1f";
  EXPECT_TRUE(signatureMatches(good, good));
  EXPECT_TRUE(signatureMatches(good, "D8B19BB8F07DF191EF73A0E868A4B65373017F1F")) << "v3 sends uppercase";
  EXPECT_TRUE(signatureMatches(good, "D8b19Bb8f07df191ef73a0e868a4b65373017f1F"));
  EXPECT_FALSE(signatureMatches(good, "d8b19bb8f07df191ef73a0e868a4b65373017f1e"));
  EXPECT_FALSE(signatureMatches(good, "d8b19bb8f07df191ef73a0e868a4b65373017f1"));
  EXPECT_FALSE(signatureMatches(good, ""));
  EXPECT_FALSE(signatureMatches("", "")) << "no expected signature never matches";
}

// Mutations these tests are meant to kill (signatureMatches):
//   `expectedHex.size() != givenHex.size()` → `>` or `<`   (a longer or a shorter signature matches)
//   `lower(expectedHex[i]) ^ lower(givenHex[i])` → without lower() on either side (case matters)
//   `diff |= …` → `diff = …`                               (only the last character counts)
//   `expectedHex.empty() ||` dropped                        (an empty password matches a missing secret)
TEST(AliyunSign, OnlyTheExactSignatureMatchesNotAPrefixOrAnExtension) {
  const std::string good = "d8b19bb8f07df191ef73a0e868a4b65373017f1f";
  EXPECT_FALSE(signatureMatches(good, good + "0")) << "the correct signature followed by a character";
  EXPECT_FALSE(signatureMatches(good, good + good)) << "the correct signature twice";
  EXPECT_FALSE(signatureMatches(good, good + std::string(1, '\0')));
  EXPECT_FALSE(signatureMatches(good, good.substr(0, 20))) << "truncated to half";
  EXPECT_FALSE(signatureMatches(good, good.substr(1))) << "the first character dropped";
  EXPECT_FALSE(signatureMatches(good, "d")) << "one character";
  EXPECT_FALSE(signatureMatches(good, "0" + good.substr(1))) << "only the first character differs";
  EXPECT_TRUE(signatureMatches("ABCDEF0123456789", "abcdef0123456789"));
  EXPECT_TRUE(signatureMatches("abcdef0123456789", "ABCDEF0123456789"));
  // A sha256 signature compared with an sha1 one (the method named in the client id decides the length).
  const std::string sha256 = "d64bac40a79ad70ba6c453508d0df5436a937c091ae789ddcd93ffaf864b7b2f";
  EXPECT_FALSE(signatureMatches(sha256.substr(0, 40), sha256));
  EXPECT_FALSE(signatureMatches(sha256, sha256.substr(0, 40)));
}

TEST(AliyunSign, SignMethodNames) {
  EXPECT_EQ(parseSignMethod("hmacsha1"), SignMethod::HmacSha1);
  EXPECT_EQ(parseSignMethod("HmacSHA256"), SignMethod::HmacSha256);
  EXPECT_EQ(parseSignMethod("hmacmd5"), SignMethod::HmacMd5);
  EXPECT_FALSE(parseSignMethod("sha1"));
  EXPECT_FALSE(parseSignMethod(""));
  EXPECT_EQ(toString(SignMethod::HmacSha256), "hmacsha256");
}

TEST(AliyunClientId, V3FormAndBareForm) {
  auto v3 = parseClientId("a1.dev|timestamp=2524608000000,securemode=2,signmethod=hmacsha256,v=20,a=sdk-c-3.0.1|");
  ASSERT_TRUE(v3);
  EXPECT_EQ(v3->id, "a1.dev");
  EXPECT_EQ(v3->param("securemode"), "2");
  EXPECT_EQ(v3->param("a"), "sdk-c-3.0.1");
  EXPECT_FALSE(v3->param("gw"));

  auto bare = parseClientId("a1.dev");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->id, "a1.dev");
  EXPECT_TRUE(bare->params.empty());

  auto leadingComma = parseClientId("a1.dev|,partner_id=x|");  // the v2 pre-step login over TLS
  ASSERT_TRUE(leadingComma);
  EXPECT_EQ(leadingComma->params.size(), 1u);
  EXPECT_EQ(leadingComma->param("partner_id"), "x");

  auto empty = parseClientId("a1.dev||");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->params.empty());

  auto emptyValue = parseClientId("a1.dev|ext=|");
  ASSERT_TRUE(emptyValue);
  EXPECT_EQ(emptyValue->param("ext"), "");
}

TEST(AliyunClientId, MalformedFormsAreErrorsNotCrashes) {
  struct Case {
    std::string_view input;
    ClientIdError error;
  };
  for (const auto& c : {Case{"", ClientIdError::Empty}, Case{"|securemode=3|", ClientIdError::Empty},
                        Case{"a.b|securemode=3", ClientIdError::UnclosedParams},
                        Case{"a.b|securemode=3|x", ClientIdError::TrailingBytes},
                        Case{"a.b|securemode=3||", ClientIdError::TrailingBytes},
                        Case{"a.b|securemode|", ClientIdError::MalformedParam},
                        Case{"a.b|=3|", ClientIdError::MalformedParam}}) {
    auto r = parseClientId(c.input);
    ASSERT_FALSE(r) << c.input;
    EXPECT_EQ(r.error(), c.error) << c.input;
    EXPECT_FALSE(toString(r.error()).empty());
  }
}

TEST(AliyunUsername, DeviceNameAmpersandProductKey) {
  EXPECT_EQ(parseUsername("test_01&a1MZxOdcBnO"), (Username{"test_01", "a1MZxOdcBnO"}));
  EXPECT_FALSE(parseUsername("test_01"));
  EXPECT_FALSE(parseUsername("&a1"));
  EXPECT_FALSE(parseUsername("dev&"));
  EXPECT_FALSE(parseUsername(""));
}

TEST(AliyunNames, SecureModeAndTopicSafeNames) {
  EXPECT_EQ(parseSecureMode("3"), 3);
  EXPECT_EQ(parseSecureMode("-1"), -1);
  EXPECT_FALSE(parseSecureMode(""));
  EXPECT_FALSE(parseSecureMode("3x"));
  EXPECT_FALSE(parseSecureMode("99999999999999"));
  EXPECT_TRUE(validName("test_01"));
  EXPECT_TRUE(validName("dev-1@home.local:2"));
  for (std::string_view bad : {"", "a/b", "a+", "#", "a&b", "a|b", "a\nb"}) EXPECT_FALSE(validName(bad)) << bad;
  EXPECT_FALSE(validName(std::string(65, 'a')));
}

}  // namespace
}  // namespace fc::aliyun
