// CoRE Link Format (RFC 6690): LwM2M registration payloads, parameters with and without quotes,
// malformed input, serialization round trips.
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/coap/link_format.hpp"

namespace {

namespace coap = fc::coap;
using coap::Link;
using coap::LinkFormatError;
using coap::LinkParam;

LinkParam bare(std::string name) { return LinkParam{std::move(name), std::nullopt, false}; }
LinkParam token(std::string name, std::string value) { return LinkParam{std::move(name), std::move(value), false}; }
LinkParam quoted(std::string name, std::string value) { return LinkParam{std::move(name), std::move(value), true}; }

struct Row {
  std::string name;
  std::string text;
  std::vector<Link> links;
  std::optional<std::string> canonical;  // what serializing the links gives, when not `text` itself
};

std::ostream& operator<<(std::ostream& os, const Row& r) { return os << r.name; }

const std::vector<Row>& rows() {
  static const std::vector<Row> kRows{
      {"Empty", "", {}},
      {"LiteOsRegistration",
       R"(</>;rt="oma.lwm2m",</1/0>,</2>,</3/0>,</4/0>,</5/0>,</6/0>,</19/0>,</19/1>)",
       {Link{"/", {quoted("rt", "oma.lwm2m")}}, Link{"/1/0", {}}, Link{"/2", {}}, Link{"/3/0", {}},
        Link{"/4/0", {}}, Link{"/5/0", {}}, Link{"/6/0", {}}, Link{"/19/0", {}}, Link{"/19/1", {}}}},
      {"Lwm2m11WithVersionsAndContentType",
       R"(</>;rt="oma.lwm2m";ct=11543,</1/0>;ver=1.1,</3/0>;ver=1.1,</5>)",
       {Link{"/", {quoted("rt", "oma.lwm2m"), token("ct", "11543")}}, Link{"/1/0", {token("ver", "1.1")}},
        Link{"/3/0", {token("ver", "1.1")}}, Link{"/5", {}}}},
      {"Rfc6690Example",
       R"(</sensors/temp>;rt="temperature-c";if="sensor";obs;sz=1234,</sensors/light>;ct=41;title="Light")",
       {Link{"/sensors/temp", {quoted("rt", "temperature-c"), quoted("if", "sensor"), bare("obs"), token("sz", "1234")}},
        Link{"/sensors/light", {token("ct", "41"), quoted("title", "Light")}}}},
      {"QuotedWithEscapesSpacesAndSeparators",
       R"(</t>;title="a \"quoted\" \\ word, and; more")",
       {Link{"/t", {quoted("title", R"(a "quoted" \ word, and; more)")}}}},
      {"EmptyQuotedValue", R"(</t>;rt="")", {Link{"/t", {quoted("rt", "")}}}},
      {"RelationTypesWithSpacesAreQuoted", R"(</t>;rt="one two")", {Link{"/t", {quoted("rt", "one two")}}}},
      {"PtokenWithEveryPunctuation", "</t>;x=!#$%&'()*+-./:<=>?@[]^_`{|}~",
       {Link{"/t", {token("x", "!#$%&'()*+-./:<=>?@[]^_`{|}~")}}}},
      {"ExtNameStar", "</t>;title*=UTF-8'en'%e2%82%ac", {Link{"/t", {token("title*", "UTF-8'en'%e2%82%ac")}}}},
      {"EmptyTarget", "<>;rt=x", {Link{"", {token("rt", "x")}}}},
      {"AbsoluteTargetWithQuery", "<coap://[2001:db8::1]:5683/fw?x=1;y=2,3>;ct=42",
       {Link{"coap://[2001:db8::1]:5683/fw?x=1;y=2,3", {token("ct", "42")}}}},
      {"RepeatedParameter", "</t>;rt=a;rt=b", {Link{"/t", {token("rt", "a"), token("rt", "b")}}}},
      {"WhitespaceAroundSeparatorsIsTolerated", " </1/0> ,\r\n</3/0> ; ver=1.1 ;obs \t",
       {Link{"/1/0", {}}, Link{"/3/0", {token("ver", "1.1"), bare("obs")}}},
       "</1/0>,</3/0>;ver=1.1;obs"},
  };
  return kRows;
}

class CoapLinkFormat : public testing::TestWithParam<Row> {};

TEST_P(CoapLinkFormat, Parses) {
  const auto& row = GetParam();
  auto r = coap::parseLinkFormat(row.text);
  ASSERT_TRUE(r) << coap::make_error_code(r.error()).message();
  EXPECT_EQ(*r, row.links);
}

TEST_P(CoapLinkFormat, SerializesBackToTheText) {
  const auto& row = GetParam();
  EXPECT_EQ(coap::serializeLinkFormat(row.links), row.canonical.value_or(row.text));
}

TEST_P(CoapLinkFormat, ParseOfSerializeRoundTrips) {
  const auto& row = GetParam();
  auto r = coap::parseLinkFormat(coap::serializeLinkFormat(row.links));
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, row.links);
}

INSTANTIATE_TEST_SUITE_P(CoapTable, CoapLinkFormat, testing::ValuesIn(rows()),
                         [](const testing::TestParamInfo<Row>& info) { return info.param.name; });

struct Bad {
  std::string name;
  std::string text;
  LinkFormatError error;
};

std::ostream& operator<<(std::ostream& os, const Bad& b) { return os << b.name; }

const std::vector<Bad>& bad() {
  static const std::vector<Bad> kRows{
      {"NoAngleBracket", "/1/0", LinkFormatError::ExpectedLink},
      {"JunkBeforeSecondLink", "</1/0>,/3/0", LinkFormatError::ExpectedLink},
      {"UnterminatedTarget", "</1/0", LinkFormatError::UnterminatedTarget},
      {"SpaceInTarget", "</1 0>", LinkFormatError::BadTarget},
      {"AngleInTarget", "</a<b>", LinkFormatError::BadTarget},
      {"ControlInTarget", std::string("</a\x01>"), LinkFormatError::BadTarget},
      {"SemicolonWithoutParam", "</1/0>;", LinkFormatError::BadParamName},
      {"ParamWithoutName", "</1/0>;=1", LinkFormatError::BadParamName},
      {"QuoteInName", "</1/0>;a\"b\"", LinkFormatError::BadParamName},
      {"PercentInName", "</1/0>;a%b", LinkFormatError::BadParamName},
      {"EqualsWithoutValue", "</1/0>;ver=", LinkFormatError::BadParamValue},
      {"EqualsThenComma", "</1/0>;ver=,</2>", LinkFormatError::BadParamValue},
      {"QuoteInsidePtoken", "</1/0>;ver=1\"", LinkFormatError::BadParamValue},
      {"BackslashInPtoken", "</1/0>;ver=1\\", LinkFormatError::BadParamValue},
      {"UnterminatedQuote", "</1/0>;rt=\"oma", LinkFormatError::UnterminatedQuote},
      {"EscapeAtEnd", "</1/0>;rt=\"oma\\", LinkFormatError::UnterminatedQuote},
      {"EscapedClosingQuote", "</1/0>;rt=\"oma\\\"", LinkFormatError::UnterminatedQuote},
      {"JunkAfterQuote", "</1/0>;rt=\"a\"b", LinkFormatError::ExpectedSeparator},
      {"JunkAfterTarget", "</1/0>x", LinkFormatError::ExpectedSeparator},
      {"TwoTargets", "</1/0></2>", LinkFormatError::ExpectedSeparator},
      {"SpaceInsideParam", "</1/0>;ver =1.1", LinkFormatError::ExpectedSeparator},
      {"DoubleComma", "</1/0>,,</2>", LinkFormatError::EmptyLink},
      {"TrailingComma", "</1/0>,", LinkFormatError::EmptyLink},
      {"TrailingCommaAndSpace", "</1/0>, ", LinkFormatError::EmptyLink},
      {"LoneComma", ",", LinkFormatError::EmptyLink},
  };
  return kRows;
}

class CoapLinkFormatBad : public testing::TestWithParam<Bad> {};

TEST_P(CoapLinkFormatBad, IsRejected) {
  const auto& row = GetParam();
  auto r = coap::parseLinkFormat(row.text);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), row.error) << coap::make_error_code(r.error()).message();
}

INSTANTIATE_TEST_SUITE_P(CoapTable, CoapLinkFormatBad, testing::ValuesIn(bad()),
                         [](const testing::TestParamInfo<Bad>& info) { return info.param.name; });

TEST(CoapLinkFormatTable, CoversEveryError) {
  std::set<LinkFormatError> seen;
  for (const auto& b : bad()) seen.insert(b.error);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(LinkFormatError::EmptyLink));
}

TEST(CoapLinkFormatParams, Lookup) {
  auto r = coap::parseLinkFormat(R"(</>;rt="oma.lwm2m";ct=11543;obs)");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  const Link& root = r->front();
  EXPECT_EQ(root.param("rt"), "oma.lwm2m");
  EXPECT_EQ(root.param("ct"), "11543");
  EXPECT_EQ(root.param("obs"), "");
  EXPECT_TRUE(root.hasParam("obs"));
  EXPECT_EQ(root.param("ver"), std::nullopt);
  EXPECT_FALSE(root.hasParam("ver"));
}

TEST(CoapLinkFormatSerialize, QuotesValuesThatAreNotPtokens) {
  const std::vector<Link> links{
      Link{"/a", {token("t", "x,y")}},      // ',' would end the link
      Link{"/b", {token("t", "")}},         // a ptoken is at least one character
      Link{"/c", {token("t", "say \"hi\"")}},
      Link{"/d", {bare("obs"), quoted("v", "1.1")}},
  };
  EXPECT_EQ(coap::serializeLinkFormat(links), R"(</a>;t="x,y",</b>;t="",</c>;t="say \"hi\"",</d>;obs;v="1.1")");
  auto back = coap::parseLinkFormat(coap::serializeLinkFormat(links));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 4u);
  EXPECT_EQ((*back)[0].param("t"), "x,y");
  EXPECT_EQ((*back)[1].param("t"), "");
  EXPECT_EQ((*back)[2].param("t"), "say \"hi\"");
  EXPECT_EQ((*back)[3], links[3]);
}

TEST(CoapLinkFormatErrors, CategoryNamesEveryError) {
  const auto& cat = coap::linkFormatCategory();
  EXPECT_STREQ(cat.name(), "coap.link-format");
  std::set<std::string> messages;
  for (int e = static_cast<int>(LinkFormatError::ExpectedLink); e <= static_cast<int>(LinkFormatError::EmptyLink);
       ++e) {
    const std::error_code ec = static_cast<LinkFormatError>(e);
    EXPECT_EQ(&ec.category(), &cat);
    messages.insert(ec.message());
  }
  EXPECT_EQ(messages.size(), static_cast<std::size_t>(LinkFormatError::EmptyLink));
}

}  // namespace
