// LwM2M Write-Attributes (OMA-TS-LightweightM2M-V1_0 §5.1.2, §5.4.4; LwM2M 1.1 §5.1.1): the query
// syntax, each value's checks, the orders between values, and the query options sent.
//
// Mutations these tests are meant to kill (the checks guard what goes to a device):
//   - `*l->value > *h->value` → `>=` in checkAttributes (pmin == pmax must pass; checked by hand)
//   - `lt + 2 * st >= gt` → `lt + st >= gt` (checked by hand)
//   - dropping the depth check of gt/lt/st, or the 1.0 check of epmin/epmax
//   - parsePeriod accepting a sign or a fraction; a bare name parsed as a value instead of a removal
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocols/lwm2m/attributes.hpp"

namespace {

namespace lwm2m = fc::lwm2m;
using lwm2m::Attribute;
using lwm2m::AttributeError;

lwm2m::Path path(std::string_view text) { return *lwm2m::Path::parse(text); }

std::vector<lwm2m::AttributeSetting> parse(std::vector<std::string_view> query) {
  auto r = lwm2m::parseAttributes(query);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::vector<lwm2m::AttributeSetting>{};
}

AttributeError parseError(std::vector<std::string_view> query) {
  auto r = lwm2m::parseAttributes(query);
  EXPECT_FALSE(r);
  return r ? AttributeError{} : r.error().error;
}

std::optional<AttributeError> check(std::vector<std::string_view> query, std::string_view on = "/3/0/7",
                                    std::string_view version = "1.1") {
  auto bad = lwm2m::checkAttributes(parse(std::move(query)), path(on), version);
  return bad ? std::optional(bad->error) : std::nullopt;
}

TEST(Lwm2mAttributes, ParsesEveryAttributeAndRemovals) {
  const auto s = parse({
      "pmin=10",
      "pmax=60",
      "gt=20.5",
      "lt=-3",
      "st=0.5",
      "epmin=1",
      "epmax=2",
  });
  ASSERT_EQ(s.size(), 7u);
  EXPECT_EQ(s[0], (lwm2m::AttributeSetting{Attribute::Pmin, 10.0}));
  EXPECT_EQ(s[2], (lwm2m::AttributeSetting{Attribute::Gt, 20.5}));
  EXPECT_EQ(s[3], (lwm2m::AttributeSetting{Attribute::Lt, -3.0}));
  EXPECT_EQ(parse({"pmin"})[0], (lwm2m::AttributeSetting{Attribute::Pmin, std::nullopt})) << "a bare name removes";
}

TEST(Lwm2mAttributes, RefusesBadNamesAndValues) {
  EXPECT_EQ(parseError({"pmn=1"}), AttributeError::UnknownAttribute);
  EXPECT_EQ(parseError({"pmin=1", "pmin=2"}), AttributeError::DuplicateAttribute);
  for (std::string_view bad : {"pmin=", "pmin=-1", "pmin=1.5", "pmin=+1", "pmin=x", "pmax=4294967296", "gt=abc",
                               "gt=", "lt=inf", "lt=nan", "st= 1"})
    EXPECT_EQ(parseError({bad}), AttributeError::BadValue) << bad;
  EXPECT_EQ(parseError({"st=-1"}), AttributeError::NegativeStep);
  EXPECT_EQ(parse({"pmax=4294967295"})[0].value, 4294967295.0);
}

TEST(Lwm2mAttributes, ChecksTheOrdersTheSpecificationDemands) {
  EXPECT_EQ(check({"pmin=10", "pmax=60"}), std::nullopt);
  EXPECT_EQ(check({"pmin=60", "pmax=60"}), std::nullopt) << "equal periods are allowed";
  EXPECT_EQ(check({"pmin=61", "pmax=60"}), AttributeError::PeriodOrder);
  EXPECT_EQ(check({"epmin=5", "epmax=4"}), AttributeError::PeriodOrder);
  EXPECT_EQ(check({"lt=10", "gt=20"}), std::nullopt);
  EXPECT_EQ(check({"lt=20", "gt=20"}), AttributeError::ThresholdOrder);
  EXPECT_EQ(check({"lt=10", "gt=20", "st=4.9"}), std::nullopt);
  EXPECT_EQ(check({"lt=10", "gt=20", "st=5"}), AttributeError::ThresholdOrder) << "lt + 2*st must stay below gt";
  EXPECT_EQ(check({"pmin=61", "pmax"}), std::nullopt) << "a removal is no value to compare";
}

TEST(Lwm2mAttributes, ThresholdsOnResourcesAndEvaluationPeriodsWithLwm2m11) {
  EXPECT_EQ(check({"gt=1"}, "/3/0"), AttributeError::NotOnResource);
  EXPECT_EQ(check({"st=1"}, "/3"), AttributeError::NotOnResource);
  EXPECT_EQ(check({"gt=1"}, "/3/0/7/1"), std::nullopt) << "a resource instance is a resource's value";
  EXPECT_EQ(check({"pmin=1"}, "/3"), std::nullopt);
  EXPECT_EQ(check({"epmin=1"}, "/3/0/7", "1.0"), AttributeError::NeedsVersion11);
  EXPECT_EQ(check({"pmin=1"}, "/3/0/7", "1.0"), std::nullopt);
  EXPECT_EQ(lwm2m::checkAttributes({}, path("/3"), "1.1")->error, AttributeError::Empty);
}

TEST(Lwm2mAttributes, QueryOptionsAsSent) {
  const std::vector<lwm2m::AttributeSetting> s = {
      {Attribute::Pmin, 10.0}, {Attribute::Gt, 20.5}, {Attribute::St, std::nullopt}, {Attribute::Pmax, 4294967295.0}};
  EXPECT_EQ(lwm2m::attributeQuery(s), (std::vector<std::string>{"pmin=10", "gt=20.5", "st", "pmax=4294967295"}));
  // What goes out reads back the same.
  const auto query = lwm2m::attributeQuery(s);
  std::vector<std::string_view> views(query.begin(), query.end());
  EXPECT_EQ(parse(views), s);
}

}  // namespace
