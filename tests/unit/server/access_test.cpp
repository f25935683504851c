// filterCovers and the static access policy: users and passwords, anonymous clients, and ACL rules
// with %u / %c substitution.
#include "server/broker/access.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fc::server::broker {
namespace {

using mqtt::ConnectReturn;

std::optional<std::vector<std::uint8_t>> password(std::string_view s) {
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

ClientIdentity client(std::string clientId, std::optional<std::string> username = std::nullopt,
                      std::string certSubject = {}) {
  return ClientIdentity{std::move(clientId), std::move(username), std::move(certSubject), "127.0.0.1:5000", false};
}

struct CoverCase {
  const char* pattern;
  const char* filter;
  bool covers;
};

TEST(FilterCovers, Table) {
  const CoverCase cases[] = {
      {"a/b", "a/b", true},    {"a/b", "a/c", false},   {"a/b", "a", false},
      {"a", "a/b", false},     {"a/+", "a/b", true},    {"a/+", "a/+", true},
      {"a/+", "a/b/c", false}, {"a/+", "a/#", false},  // a/# also matches a/b/c
      {"a/+", "a", false},     {"a/b", "a/+", false},   {"a/#", "a", true},
      {"a/#", "a/b", true},    {"a/#", "a/b/#", true},  {"a/#", "a/+/c", true},
      {"a/#", "a/#", true},    {"a/#", "#", false},     {"a/#", "+", false},
      {"a/b/#", "a/#", false}, {"a/b/#", "a/+", false}, {"#", "#", true},
      {"#", "a/b/c", true},    {"+", "a", true},        {"+", "+", true},
      {"+", "#", false},       {"+", "a/b", false},     {"+/+", "a/b", true},
      {"+/b", "a/+", false},   {"a//c", "a//c", true},  {"a/+/c", "a//c", true},
      // Leading wildcards do not reach '$' topics, as in matching [MQTT-4.7.2-1].
      {"#", "$SYS/x", false},  {"+/status", "$SYS/status", false}, {"$SYS/#", "$SYS/x", true},
  };
  for (const auto& c : cases)
    EXPECT_EQ(filterCovers(c.pattern, c.filter), c.covers)
        << "pattern '" << c.pattern << "', filter '" << c.filter << "'";
}

// --- authentication ---------------------------------------------------------------------------

TEST(StaticAccessPolicy, KnownUserNeedsTheRightPassword) {
  MqttConfig config;
  config.users = {{"alice", "secret"}, {"bob", ""}};
  StaticAccessPolicy policy(config);
  EXPECT_EQ(policy.authenticate(client("c", "alice"), password("secret")), ConnectReturn::Accepted);
  EXPECT_EQ(policy.authenticate(client("c", "alice"), password("Secret")), ConnectReturn::BadUsernameOrPassword);
  EXPECT_EQ(policy.authenticate(client("c", "alice"), std::nullopt), ConnectReturn::BadUsernameOrPassword);
  EXPECT_EQ(policy.authenticate(client("c", "alice"), password("")), ConnectReturn::BadUsernameOrPassword);
  // A user configured without a password connects without one (or with an empty one).
  EXPECT_EQ(policy.authenticate(client("c", "bob"), std::nullopt), ConnectReturn::Accepted);
  EXPECT_EQ(policy.authenticate(client("c", "bob"), password("x")), ConnectReturn::BadUsernameOrPassword);
}

TEST(StaticAccessPolicy, UnknownUserIsRefusedWith0x04WhenUsersAreConfigured) {
  MqttConfig config;
  config.users = {{"alice", "secret"}};
  StaticAccessPolicy policy(config);
  EXPECT_EQ(policy.authenticate(client("c", "mallory"), password("secret")), ConnectReturn::BadUsernameOrPassword);
  // Even with a verified certificate: the username given must be a known one.
  EXPECT_EQ(policy.authenticate(client("c", "mallory", "CN=dev"), std::nullopt), ConnectReturn::BadUsernameOrPassword);
}

TEST(StaticAccessPolicy, AnonymousClientsDependOnAllowAnonymous) {
  MqttConfig open;
  EXPECT_EQ(StaticAccessPolicy(open).authenticate(client("c"), std::nullopt), ConnectReturn::Accepted);

  MqttConfig closed;
  closed.allowAnonymous = false;
  StaticAccessPolicy policy(closed);
  EXPECT_EQ(policy.authenticate(client("c"), std::nullopt), ConnectReturn::NotAuthorized);
  // With no users configured, a username alone does not authenticate anyone.
  EXPECT_EQ(policy.authenticate(client("c", "anyone"), password("x")), ConnectReturn::NotAuthorized);
  // A verified client certificate does.
  EXPECT_EQ(policy.authenticate(client("c", std::nullopt, "CN=dev1,O=fakecloud"), std::nullopt),
            ConnectReturn::Accepted);
}

TEST(StaticAccessPolicy, UsernameOutsideAnEmptyUserListCountsAsAnonymous) {
  MqttConfig config;  // no users, anonymous allowed
  StaticAccessPolicy policy(config);
  EXPECT_EQ(policy.authenticate(client("c", "whoever"), password("whatever")), ConnectReturn::Accepted);
}

// --- ACL ----------------------------------------------------------------------------------------

TEST(StaticAccessPolicy, NoRulesMeansEverythingIsOpen) {
  StaticAccessPolicy policy(MqttConfig{});
  EXPECT_TRUE(policy.mayPublish(client("c"), "any/topic"));
  EXPECT_TRUE(policy.maySubscribe(client("c"), "#"));
}

TEST(StaticAccessPolicy, RulesAreSubstitutedWithUsernameAndClientId) {
  MqttConfig config;
  config.acl = {AclRule{"*", "*", "users/%u/#"}, AclRule{"*", "*", "devices/%c/+"}};
  StaticAccessPolicy policy(config);
  const auto alice = client("dev1", "alice");

  EXPECT_TRUE(policy.mayPublish(alice, "users/alice/x"));
  EXPECT_TRUE(policy.maySubscribe(alice, "users/alice/#"));
  EXPECT_FALSE(policy.mayPublish(alice, "users/bob/x"));
  EXPECT_FALSE(policy.maySubscribe(alice, "users/+/x"));
  EXPECT_FALSE(policy.maySubscribe(alice, "users/#"));

  EXPECT_TRUE(policy.mayPublish(alice, "devices/dev1/status"));
  EXPECT_FALSE(policy.mayPublish(alice, "devices/dev2/status"));
  EXPECT_FALSE(policy.mayPublish(alice, "devices/dev1/status/deeper"));

  // Without a username, %u matches nothing (not the empty level).
  const auto anon = client("dev1");
  EXPECT_FALSE(policy.mayPublish(anon, "users//x"));
  EXPECT_TRUE(policy.mayPublish(anon, "devices/dev1/status"));
}

TEST(StaticAccessPolicy, WildcardsOrSlashesInNamesNeverWidenARule) {
  MqttConfig config;
  config.acl = {AclRule{"*", "*", "users/%u/#"}, AclRule{"*", "*", "devices/%c"}};
  StaticAccessPolicy policy(config);
  for (const std::string name : {"+", "#", "a/b", "x/+", "ali+ce", "a#"}) {
    const auto c = client(name, name);
    EXPECT_FALSE(policy.maySubscribe(c, "users/" + name + "/#")) << name;
    EXPECT_FALSE(policy.maySubscribe(c, "users/#")) << name;
    EXPECT_FALSE(policy.mayPublish(c, "users/bob/x")) << name;
    EXPECT_FALSE(policy.mayPublish(c, "users/a/b/x")) << name;
    EXPECT_FALSE(policy.maySubscribe(c, "devices/+")) << name;
    EXPECT_FALSE(policy.mayPublish(c, "devices/dev2")) << name;
  }
}

TEST(StaticAccessPolicy, ReadAndWriteAreSeparate) {
  MqttConfig config;
  config.acl = {AclRule{"*", "*", "telemetry/#", /*read=*/false, /*write=*/true},
                AclRule{"*", "*", "commands/#", /*read=*/true, /*write=*/false}};
  StaticAccessPolicy policy(config);
  const auto c = client("c");
  EXPECT_TRUE(policy.mayPublish(c, "telemetry/t1"));
  EXPECT_FALSE(policy.maySubscribe(c, "telemetry/#"));
  EXPECT_TRUE(policy.maySubscribe(c, "commands/#"));
  EXPECT_FALSE(policy.mayPublish(c, "commands/reboot"));
  EXPECT_FALSE(policy.mayPublish(c, "other"));
  EXPECT_FALSE(policy.maySubscribe(c, "other"));
}

TEST(StaticAccessPolicy, RulesApplyOnlyToTheirUsernameAndClientId) {
  MqttConfig config;
  config.acl = {AclRule{"admin", "*", "#"}, AclRule{"*", "console", "status/#"}};
  StaticAccessPolicy policy(config);
  EXPECT_TRUE(policy.mayPublish(client("any", "admin"), "x/y"));
  EXPECT_FALSE(policy.mayPublish(client("any", "user"), "x/y"));
  EXPECT_FALSE(policy.mayPublish(client("any"), "x/y")) << "a rule for a username needs that username";
  EXPECT_TRUE(policy.maySubscribe(client("console"), "status/+"));
  EXPECT_FALSE(policy.maySubscribe(client("console2"), "status/+"));
}

// Deny rules (issue 13 §6). The tests below are meant to kill these one-line mutations of
// StaticAccessPolicy::allowed:
//   - `return !rule.deny` → `return true` (deny rules ignored)       DenyRuleBeforeAWildcardRefusesItsTopic
//   - dropping `!rule.deny &&` (a deny rule skipped for one direction) DenyRuleRefusesBothDirections
//   - continuing the loop after a match (last or any match wins)     TheFirstMatchingRuleDecides
//   - no widening of an unsubstitutable deny pattern                 ADenyRuleIsNotEscapedByAnOddName
//   - `return false` at the end → `return true` (default open)        the FALSE cases of NoRuleMatches…
AclRule deny(std::string topic, std::string username = "*", std::string clientId = "*") {
  AclRule r{std::move(username), std::move(clientId), std::move(topic)};
  r.deny = true;
  return r;
}

TEST(StaticAccessPolicy, DenyRuleBeforeAWildcardRefusesItsTopic) {
  // What MQTT conformance suites configure: everything open except test/nosubscribe.
  MqttConfig config;
  config.acl = {deny("test/nosubscribe"), AclRule{"*", "*", "+/+"}, AclRule{"*", "*", "#"}};
  StaticAccessPolicy policy(config);
  const auto c = client("c");
  EXPECT_FALSE(policy.maySubscribe(c, "test/nosubscribe"));
  EXPECT_TRUE(policy.maySubscribe(c, "test/other"));
  EXPECT_TRUE(policy.maySubscribe(c, "+/+")) << "a filter the deny rule does not cover wholly is granted";
  EXPECT_TRUE(policy.maySubscribe(c, "#"));
  EXPECT_TRUE(policy.mayPublish(c, "a/b/c"));
}

TEST(StaticAccessPolicy, DenyRuleRefusesBothDirections) {
  MqttConfig config;
  config.acl = {deny("secret/#"), AclRule{"*", "*", "#"}};
  StaticAccessPolicy policy(config);
  const auto c = client("c");
  EXPECT_FALSE(policy.mayPublish(c, "secret/x"));
  EXPECT_FALSE(policy.maySubscribe(c, "secret/x"));
  EXPECT_FALSE(policy.maySubscribe(c, "secret/#"));
  EXPECT_TRUE(policy.mayPublish(c, "public/x"));
}

TEST(StaticAccessPolicy, TheFirstMatchingRuleDecides) {
  MqttConfig config;
  // admin is allowed before the deny is reached; everyone else is refused a/#, then allowed the rest.
  config.acl = {AclRule{"admin", "*", "a/#"}, deny("a/#"), AclRule{"*", "*", "a/b"}, AclRule{"*", "*", "#"}};
  StaticAccessPolicy policy(config);
  EXPECT_TRUE(policy.mayPublish(client("c", "admin"), "a/b"));
  EXPECT_FALSE(policy.mayPublish(client("c", "user"), "a/b")) << "the later allow of a/b is not reached";
  EXPECT_TRUE(policy.mayPublish(client("c", "user"), "b"));
  // A read-only allow rule does not match a PUBLISH, so the deny after it decides.
  MqttConfig readOnly;
  readOnly.acl = {AclRule{"*", "*", "x/#", /*read=*/true, /*write=*/false}, deny("x/#"), AclRule{"*", "*", "#"}};
  StaticAccessPolicy policy2(readOnly);
  EXPECT_TRUE(policy2.maySubscribe(client("c"), "x/y"));
  EXPECT_FALSE(policy2.mayPublish(client("c"), "x/y"));
}

TEST(StaticAccessPolicy, NoRuleMatchesMeansRefusedEvenWithDenyRulesOnly) {
  MqttConfig config;
  config.acl = {deny("a")};
  StaticAccessPolicy policy(config);
  EXPECT_FALSE(policy.mayPublish(client("c"), "a"));
  EXPECT_FALSE(policy.mayPublish(client("c"), "b")) << "rules exist, none allows";
}

TEST(StaticAccessPolicy, ADenyRuleIsNotEscapedByAnOddName) {
  MqttConfig config;
  config.acl = {deny("users/%u/private"), deny("dev-%c/x"), AclRule{"*", "*", "#"}};
  StaticAccessPolicy policy(config);
  EXPECT_FALSE(policy.mayPublish(client("c", "alice"), "users/alice/private"));
  EXPECT_TRUE(policy.mayPublish(client("c", "alice"), "users/bob/private"));
  for (const std::string name : {"a/b", "+", "#"}) {
    // Not substitutable: the %u level reads as '+', so the rule refuses users/<anything>/private.
    EXPECT_FALSE(policy.mayPublish(client("c", name), "users/bob/private")) << name;
    EXPECT_TRUE(policy.mayPublish(client("c", name), "users/bob/public")) << name;
    EXPECT_FALSE(policy.mayPublish(client(name), "dev-x/x")) << name;
  }
  EXPECT_FALSE(policy.mayPublish(client("c"), "users/bob/private")) << "no username: widened too";
}

TEST(TopicAcl, RefusesEverythingWithoutRules) {
  TopicAcl acl;
  EXPECT_FALSE(acl.mayPublish("a"));
  EXPECT_FALSE(acl.maySubscribe("#"));
}

TEST(TopicAcl, ARuleCountsOnlyForTheDirectionsItNames) {
  using enum TopicAcl::Direction;
  TopicAcl acl;
  acl.deny(Publish, "d/get").deny(Subscribe, "d/update").allow(Publish, "d/+/#").allow(Subscribe, "d/#");
  EXPECT_FALSE(acl.mayPublish("d/get"));
  EXPECT_TRUE(acl.maySubscribe("d/get")) << "the publish deny does not refuse a subscription";
  EXPECT_TRUE(acl.mayPublish("d/update"));
  EXPECT_FALSE(acl.maySubscribe("d/update"));
  EXPECT_TRUE(acl.maySubscribe("d/+")) << "a deny rule refuses only what it covers whole";
  EXPECT_TRUE(acl.mayPublish("d/x/y"));
  EXPECT_FALSE(acl.mayPublish("d")) << "d/+/# needs a level below d";
  EXPECT_FALSE(acl.mayPublish("e/x"));
  EXPECT_FALSE(acl.maySubscribe("#"));
}

TEST(TopicAcl, TheFirstMatchingRuleDecides) {
  using enum TopicAcl::Direction;
  TopicAcl allowFirst;
  allowFirst.allow(Both, "a/#").deny(Both, "a/b");
  EXPECT_TRUE(allowFirst.mayPublish("a/b"));
  TopicAcl denyFirst;
  denyFirst.deny(Both, "a/b").allow(Both, "a/#");
  EXPECT_FALSE(denyFirst.mayPublish("a/b"));
  EXPECT_FALSE(denyFirst.maySubscribe("a/b"));
  EXPECT_TRUE(denyFirst.maySubscribe("a/#"));
}

TEST(TopicAcl, WildcardPatternsDoNotReachDollarTopics) {
  TopicAcl acl;
  acl.allow(TopicAcl::Direction::Both, "#");
  EXPECT_TRUE(acl.mayPublish("a/b"));
  EXPECT_FALSE(acl.mayPublish("$SYS/x"));
  EXPECT_FALSE(acl.maySubscribe("$SYS/#"));
}

}  // namespace
}  // namespace fc::server::broker
