// LwM2M Registration interface (LwM2M 1.0 §5.3): Register/Update/De-register parsing from CoAP
// messages, defaults, binding modes, alternate root paths, every failure with its response code.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocols/coap/message.hpp"
#include "protocols/lwm2m/registration.hpp"

namespace {

namespace coap = fc::coap;
namespace lwm2m = fc::lwm2m;
using lwm2m::RegistrationError;

constexpr std::string_view kLiteOsPayload =
    R"(</>;rt="oma.lwm2m",</1/0>,</2>,</3/0>,</4/0>,</5/0>,</6/0>,</19/0>,</19/1>)";

coap::Message request(coap::Code method, std::string_view path, std::vector<std::string_view> query,
                      std::string_view payload = {}, std::optional<std::uint32_t> format = coap::format::kLinkFormat) {
  coap::Message m;
  m.code = method;
  m.setUriPath(path);
  for (const auto q : query) m.addString(coap::option::kUriQuery, q);
  if (!payload.empty()) {
    if (format) m.setUint(coap::option::kContentFormat, *format);
    m.setPayload(payload);
  }
  return m;
}

coap::Message reg(std::vector<std::string_view> query, std::string_view payload = kLiteOsPayload) {
  return request(coap::code::kPost, "rd", std::move(query), payload);
}

TEST(Lwm2mRegister, LiteOsRegistration) {
  const auto m = reg({"lwm2m=1.0", "ep=44440003", "b=UQ", "lt=20"});
  EXPECT_EQ(lwm2m::classify(m), lwm2m::RegistrationOp::Register);
  auto r = lwm2m::parseRegister(m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->endpoint, "44440003");
  EXPECT_EQ(r->lifetime, 20u);
  EXPECT_EQ(r->version, "1.0");
  EXPECT_TRUE(r->binding.udp);
  EXPECT_TRUE(r->binding.queue);
  EXPECT_FALSE(r->binding.sms);
  EXPECT_EQ(r->binding.toString(), "UQ");
  EXPECT_FALSE(r->sms);
  EXPECT_TRUE(r->extraParameters.empty());
  EXPECT_EQ(r->objects.rootPath, "/");
  ASSERT_EQ(r->objects.objects.size(), 7u);
  EXPECT_EQ(r->objects.objects[0], (lwm2m::SupportedObject{1, "", {0}}));
  EXPECT_EQ(r->objects.objects[1], (lwm2m::SupportedObject{2, "", {}}));
  ASSERT_NE(r->objects.object(19), nullptr);
  EXPECT_EQ(r->objects.object(19)->instances, (std::vector<std::uint16_t>{0, 1}));
  EXPECT_EQ(r->objects.object(7), nullptr);
  EXPECT_EQ(r->objects.links.size(), 9u);
}

TEST(Lwm2mRegister, FromTheLiteOsDemoDatagram) {
  // The plain LiteOS demo's Register (also tests/fuzz/corpus/coap/lwm2m_register.bin).
  // clang-format off
  const std::vector<std::uint8_t> wire{
      0x48,                          // CoAP version 1, CON, token length 8
      0x02,                          // 0.02 POST
      0x00, 0x01,                    // message id
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // token
      0xB2, 'r', 'd',                // Uri-Path (delta 11), length 2: "rd"
      0x11, 0x28,                    // Content-Format (delta 1), length 1: 40 link-format
      0x39, 'l', 'w', 'm', '2', 'm', '=', '1', '.', '0',  // Uri-Query (delta 3), length 9
      0x0B, 'e', 'p', '=', '4', '4', '4', '4', '0', '0', '0', '3',  // Uri-Query, length 11
      0x03, 'b', '=', 'U',           // Uri-Query, length 3
      0x05, 'l', 't', '=', '2', '0', // Uri-Query, length 5
      0xFF,                          // payload marker
  };
  // clang-format on
  std::vector<std::uint8_t> datagram = wire;
  datagram.insert(datagram.end(), kLiteOsPayload.begin(), kLiteOsPayload.end());
  auto m = coap::decode(datagram);
  ASSERT_TRUE(m);
  auto r = lwm2m::parseRegister(*m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->endpoint, "44440003");
  EXPECT_EQ(r->lifetime, 20u);
  EXPECT_EQ(r->binding.toString(), "U");
  EXPECT_FALSE(r->binding.queue);
  EXPECT_EQ(r->objects.objects.size(), 7u);
}

TEST(Lwm2mRegister, Defaults) {
  // A payload without Content-Format is read as link-format too (Wakaama omits it in old versions).
  auto r = lwm2m::parseRegister(request(coap::code::kPost, "rd", {"ep=dev"}, "</3/0>", std::nullopt));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->lifetime, lwm2m::kDefaultLifetime);
  EXPECT_EQ(r->lifetime, 86400u);
  EXPECT_EQ(r->version, "1.0");
  EXPECT_EQ(r->binding, lwm2m::Binding{});
  EXPECT_EQ(r->binding.toString(), "U");
  EXPECT_EQ(r->objects.rootPath, "/");
  EXPECT_FALSE(r->objects.rootContentFormat);
}

TEST(Lwm2mRegister, AlternateRootPathVersionsAndContentType) {
  auto r = lwm2m::parseRegister(reg({"ep=dev", "lwm2m=1.1", "Q", "b=U", "sms=+4912345", "apn=x", "flag"},
                                    R"(</lwm2m>;rt="oma.lwm2m";ct=11543,</lwm2m/1/0>,</lwm2m/3/0>;ver=1.1,)"
                                    R"(</lwm2m/5>;ver=1.0,</lwm2m/3/1>,</other/1>,</1/0>)"));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->version, "1.1");
  EXPECT_TRUE(r->binding.queue);
  EXPECT_EQ(r->binding.toString(), "UQ");
  EXPECT_EQ(r->sms, "+4912345");
  EXPECT_EQ(r->extraParameters, (std::vector<lwm2m::ExtraParameter>{{"apn", "x"}, {"flag", std::nullopt}}));
  EXPECT_EQ(r->objects.rootPath, "/lwm2m");
  EXPECT_EQ(r->objects.rootContentFormat, 11543);
  ASSERT_EQ(r->objects.objects.size(), 3u);
  EXPECT_EQ(r->objects.objects[1], (lwm2m::SupportedObject{3, "1.1", {0, 1}}));
  EXPECT_EQ(r->objects.objects[2], (lwm2m::SupportedObject{5, "1.0", {}}));
}

TEST(Lwm2mRegister, RootLinkWithTrailingSlashAndSpaceSeparatedRt) {
  auto links = lwm2m::parseObjectLinks(R"(</r/>;rt="x oma.lwm2m";ct="110 11543",</r/3/0>,</r/3/0>)");
  ASSERT_TRUE(links) << links.error().message();
  EXPECT_EQ(links->rootPath, "/r");
  EXPECT_EQ(links->rootContentFormat, 110);
  ASSERT_EQ(links->objects.size(), 1u);
  EXPECT_EQ(links->objects[0].instances, (std::vector<std::uint16_t>{0}));
}

TEST(Lwm2mRegister, BindingModes) {
  for (const std::string_view b : {"U", "UQ", "S", "SQ", "US", "UQS"}) {
    auto binding = lwm2m::parseBinding(b);
    ASSERT_TRUE(binding) << b;
    EXPECT_EQ(binding->toString(), b);
  }
  const auto uqs = lwm2m::parseBinding("UQS").value();
  EXPECT_TRUE(uqs.udp && uqs.queue && uqs.sms && !uqs.tcp);
  for (const std::string_view b : {"", "Q", "QU", "SU", "UU", "T", "UT", "u", "UQSQ", "N"}) {
    auto binding = lwm2m::parseBinding(b);
    ASSERT_FALSE(binding) << b;
    EXPECT_EQ(binding.error().error, RegistrationError::BadBinding) << b;
  }
  EXPECT_EQ(lwm2m::parseBinding("TN", "1.1").value().toString(), "TN");
  EXPECT_EQ(lwm2m::parseBinding("UT", "1.1").value().toString(), "UT");
  EXPECT_FALSE(lwm2m::parseBinding("UU", "1.1"));
  EXPECT_FALSE(lwm2m::parseBinding("X", "1.1"));
  EXPECT_FALSE(lwm2m::parseBinding("Q", "1.1"));
}

struct BadRow {
  const char* name;
  coap::Message message;
  RegistrationError error;
  coap::Code code;
  std::string detail;
};

TEST(Lwm2mRegister, FailuresNameTheProblemAndTheResponseCode) {
  const BadRow rows[] = {
      {"GET", request(coap::code::kGet, "rd", {"ep=a"}, "</3/0>"), RegistrationError::WrongMethod,
       coap::code::kMethodNotAllowed, "0.01 GET"},
      {"wrong path", request(coap::code::kPost, "rx", {"ep=a"}, "</3/0>"), RegistrationError::WrongPath,
       coap::code::kNotFound, "/rx"},
      {"no ep", reg({"lt=20"}), RegistrationError::MissingEndpoint, coap::code::kBadRequest, ""},
      {"empty ep", reg({"ep="}), RegistrationError::BadEndpoint, coap::code::kBadRequest, "ep="},
      {"bare ep", reg({"ep"}), RegistrationError::BadParameter, coap::code::kBadRequest, "ep without a value"},
      {"two ep", reg({"ep=a", "ep=b"}), RegistrationError::DuplicateParameter, coap::code::kBadRequest, "ep"},
      {"lt text", reg({"ep=a", "lt=abc"}), RegistrationError::BadLifetime, coap::code::kBadRequest, "lt=abc"},
      {"lt zero", reg({"ep=a", "lt=0"}), RegistrationError::BadLifetime, coap::code::kBadRequest, "lt=0"},
      {"lt negative", reg({"ep=a", "lt=-5"}), RegistrationError::BadLifetime, coap::code::kBadRequest, "lt=-5"},
      {"lt overflow", reg({"ep=a", "lt=4294967296"}), RegistrationError::BadLifetime, coap::code::kBadRequest,
       "lt=4294967296"},
      {"lwm2m text", reg({"ep=a", "lwm2m=one"}), RegistrationError::BadVersion, coap::code::kBadRequest, "lwm2m=one"},
      {"lwm2m 2.0", reg({"ep=a", "lwm2m=2.0"}), RegistrationError::UnsupportedVersion, coap::code::kPreconditionFailed,
       "lwm2m=2.0"},
      {"binding", reg({"ep=a", "b=X"}), RegistrationError::BadBinding, coap::code::kBadRequest, "b=X"},
      {"Q with 1.0", reg({"ep=a", "Q"}), RegistrationError::BadParameter, coap::code::kBadRequest, "Q"},
      {"Q with value", reg({"ep=a", "lwm2m=1.1", "Q=1"}), RegistrationError::BadParameter, coap::code::kBadRequest,
       "Q"},
      {"sms empty", reg({"ep=a", "sms="}), RegistrationError::BadSms, coap::code::kBadRequest, "sms="},
      {"query not utf-8", reg({"ep=\xFF"}), RegistrationError::BadParameter, coap::code::kBadRequest,
       "query is not UTF-8"},
      {"json payload", request(coap::code::kPost, "rd", {"ep=a"}, "{}", coap::format::kJson),
       RegistrationError::BadContentFormat, coap::code::kBadRequest, "Content-Format 50"},
      {"no payload", reg({"ep=a"}, ""), RegistrationError::MissingObjects, coap::code::kBadRequest, ""},
      {"bad link-format", reg({"ep=a"}, "</3/0"), RegistrationError::BadLinkFormat, coap::code::kBadRequest,
       "'<' without a closing '>' (RFC 6690 §2)"},
      {"resource link", reg({"ep=a"}, "</3/0/1>"), RegistrationError::BadObjectLink, coap::code::kBadRequest,
       "</3/0/1>"},
      {"text link", reg({"ep=a"}, "</abc>"), RegistrationError::BadObjectLink, coap::code::kBadRequest, "</abc>"},
      {"id too big", reg({"ep=a"}, "</70000/0>"), RegistrationError::BadObjectLink, coap::code::kBadRequest,
       "</70000/0>"},
      {"bad ver", reg({"ep=a"}, "</3/0>;ver=x"), RegistrationError::BadObjectLink, coap::code::kBadRequest,
       "</3/0>;ver=x"},
      {"bad root", reg({"ep=a"}, R"(<a//b>;rt="oma.lwm2m")"), RegistrationError::BadObjectLink, coap::code::kBadRequest,
       "root path <a//b>"},
  };
  for (const auto& row : rows) {
    auto r = lwm2m::parseRegister(row.message);
    ASSERT_FALSE(r) << row.name;
    EXPECT_EQ(r.error().error, row.error) << row.name << ": " << r.error().message();
    EXPECT_EQ(r.error().code(), row.code) << row.name;
    EXPECT_EQ(r.error().detail, row.detail) << row.name;
  }
  const std::string longEp = "ep=" + std::string(lwm2m::kMaxEndpointLength + 1, 'x');
  EXPECT_EQ(lwm2m::parseRegister(reg({longEp})).error().error, RegistrationError::BadEndpoint);
  EXPECT_EQ(lwm2m::parseRegister(reg({"lt=abc"})).error().message(), "missing endpoint name (ep)");
  EXPECT_EQ(lwm2m::parseRegister(reg({"ep=a", "lt=abc"})).error().message(), "bad lifetime: lt=abc");
}

TEST(Lwm2mRegister, ResponseCodesOfServerSideErrors) {
  EXPECT_EQ(lwm2m::responseCode(RegistrationError::EndpointNotAllowed), coap::code::kForbidden);
  EXPECT_EQ(lwm2m::responseCode(RegistrationError::UnknownLocation), coap::code::kNotFound);
  EXPECT_EQ(make_error_code(RegistrationError::UnknownLocation).category().name(), std::string("lwm2m.registration"));
}

TEST(Lwm2mUpdate, EmptyUpdateAndOneWithEverything) {
  const auto empty = request(coap::code::kPost, "rd/Ab3", {});
  EXPECT_EQ(lwm2m::classify(empty), lwm2m::RegistrationOp::Update);
  auto u = lwm2m::parseUpdate(empty);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->location, "Ab3");
  EXPECT_FALSE(u->lifetime);
  EXPECT_FALSE(u->binding);
  EXPECT_FALSE(u->sms);
  EXPECT_FALSE(u->objects);

  auto full =
      lwm2m::parseUpdate(request(coap::code::kPost, "rd/Ab3", {"lt=60", "b=UQS", "sms=123", "ep=x"}, "</3/0>,</19/0>"));
  ASSERT_TRUE(full) << full.error().message();
  EXPECT_EQ(full->lifetime, 60u);
  EXPECT_EQ(full->binding->toString(), "UQS");
  EXPECT_EQ(full->sms, "123");
  ASSERT_TRUE(full->objects);
  EXPECT_EQ(full->objects->objects.size(), 2u);
  EXPECT_EQ(full->extraParameters, (std::vector<lwm2m::ExtraParameter>{{"ep", "x"}}));
}

TEST(Lwm2mUpdate, Failures) {
  const struct {
    const char* name;
    coap::Message message;
    RegistrationError error;
  } rows[] = {
      {"PUT", request(coap::code::kPut, "rd/a", {}), RegistrationError::WrongMethod},
      {"no location", request(coap::code::kPost, "rd", {}), RegistrationError::WrongPath},
      {"deep", request(coap::code::kPost, "rd/a/b", {}), RegistrationError::WrongPath},
      {"lt", request(coap::code::kPost, "rd/a", {"lt=x"}), RegistrationError::BadLifetime},
      {"b", request(coap::code::kPost, "rd/a", {"b=T"}), RegistrationError::BadBinding},
      {"lt twice", request(coap::code::kPost, "rd/a", {"lt=1", "lt=2"}), RegistrationError::DuplicateParameter},
      {"payload", request(coap::code::kPost, "rd/a", {}, "3/0>"), RegistrationError::BadLinkFormat},
  };
  for (const auto& row : rows) {
    auto u = lwm2m::parseUpdate(row.message);
    ASSERT_FALSE(u) << row.name;
    EXPECT_EQ(u.error().error, row.error) << row.name;
  }
  EXPECT_TRUE(lwm2m::parseUpdate(request(coap::code::kPost, "rd/a", {"b=T"}), "1.1"));
}

TEST(Lwm2mDeregister, ParsesLocationAndSetsLocationPath) {
  const auto m = request(coap::code::kDelete, "rd/Ab3", {});
  EXPECT_EQ(lwm2m::classify(m), lwm2m::RegistrationOp::Deregister);
  EXPECT_EQ(lwm2m::parseDeregister(m).value().location, "Ab3");
  EXPECT_EQ(lwm2m::parseDeregister(request(coap::code::kPost, "rd/Ab3", {})).error().error,
            RegistrationError::WrongMethod);
  EXPECT_EQ(lwm2m::parseDeregister(request(coap::code::kDelete, "rd", {})).error().error, RegistrationError::WrongPath);

  coap::Message created;
  created.code = coap::code::kCreated;
  lwm2m::setRegistrationLocation(created, "Ab3");
  EXPECT_EQ(created.locationPath(), "rd/Ab3");
  EXPECT_EQ(created.getStrings(coap::option::kLocationPath).size(), 2u);
}

TEST(Lwm2mRegistration, Classify) {
  EXPECT_EQ(lwm2m::classify(request(coap::code::kGet, "19/0/0", {})), lwm2m::RegistrationOp::None);
  EXPECT_EQ(lwm2m::classify(request(coap::code::kGet, "", {})), lwm2m::RegistrationOp::None);
  EXPECT_EQ(lwm2m::classify(request(coap::code::kGet, "rd", {})), lwm2m::RegistrationOp::Invalid);
  EXPECT_EQ(lwm2m::classify(request(coap::code::kDelete, "rd", {})), lwm2m::RegistrationOp::Invalid);
  EXPECT_EQ(lwm2m::classify(request(coap::code::kPost, "rd/a/b", {})), lwm2m::RegistrationOp::Invalid);
}

// The journal names the device a refused Register was for (lwm2m_server.cpp); kills: a "return
// std::nullopt" for a valid ep, accepting two ep options, accepting an over-long or empty one.
TEST(Lwm2mRegister, EndpointOfARefusedRegister) {
  const auto refused = request(coap::code::kPost, "rd", {"ep=node-1", "lwm2m=1.2"}, kLiteOsPayload);
  ASSERT_FALSE(lwm2m::parseRegister(refused));
  EXPECT_EQ(lwm2m::registerEndpoint(refused), "node-1");
  EXPECT_EQ(lwm2m::registerEndpoint(request(coap::code::kPost, "rd", {"lt=abc", "ep=x"})), "x");
  EXPECT_FALSE(lwm2m::registerEndpoint(request(coap::code::kPost, "rd", {"lt=1"})));
  EXPECT_FALSE(lwm2m::registerEndpoint(request(coap::code::kPost, "rd", {"ep="})));
  EXPECT_FALSE(lwm2m::registerEndpoint(request(coap::code::kPost, "rd", {"ep=a", "ep=b"}))) << "which one is a guess";
  const std::string tooLong = "ep=" + std::string(lwm2m::kMaxEndpointLength + 1, 'a');
  EXPECT_FALSE(lwm2m::registerEndpoint(request(coap::code::kPost, "rd", {tooLong})));
}

}  // namespace
