// SubscriptionTree (filters → subscribers, matched by a topic) and RetainedTree (topics → values,
// matched by a filter), against the matching rules of MQTT 3.1.1 §4.7.
#include "server/broker/topic_tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace fc::server::broker {
namespace {

using Visits = std::vector<std::pair<std::string, int>>;

/// Every (key, qos) the tree visits for `topic`, sorted.
Visits matches(const SubscriptionTree<std::string>& tree, std::string_view topic) {
  Visits out;
  tree.match(topic, [&](const std::string& key, std::uint8_t qos) { out.emplace_back(key, qos); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> retainedFor(const RetainedTree<std::string>& tree, std::string_view filter) {
  std::vector<std::string> out;
  tree.match(filter, [&](const std::string& v) { out.push_back(v); });
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SplitLevels, KeepsEmptyLevels) {
  EXPECT_EQ(splitLevels("a/b//c"), (std::vector<std::string_view>{"a", "b", "", "c"}));
  EXPECT_EQ(splitLevels("/"), (std::vector<std::string_view>{"", ""}));
  EXPECT_EQ(splitLevels("a/"), (std::vector<std::string_view>{"a", ""}));
  EXPECT_EQ(splitLevels("a"), (std::vector<std::string_view>{"a"}));
}

struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
};

TEST(SubscriptionTree, MatchingTable) {
  const MatchCase cases[] = {
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a/b", "a", false},
      {"a", "a/b", false},
      {"a/+", "a/b", true},
      {"a/+", "a", false},
      {"a/+", "a/b/c", false},
      {"a/+", "a/", true},  // '+' matches an empty level
      {"+", "a", true},
      {"+", "/a", false},
      {"+/+", "/a", true},
      {"a/+/c", "a//c", true},
      {"a//c", "a//c", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      // §4.7.1.2: "sport/#" also matches "sport" itself.
      {"sport/#", "sport", true},
      {"sport/#", "sport/tennis/player1", true},
      {"sport/#", "sports", false},
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"+/tennis/#", "sport/tennis", true},
      {"+/+/#", "a", false},
      {"/#", "/x", true},
      {"/#", "x", false},
      // [MQTT-4.7.2-1]: a leading wildcard does not match a topic starting with '$'.
      {"#", "$SYS/uptime", false},
      {"+/uptime", "$SYS/uptime", false},
      {"+/#", "$SYS", false},
      {"$SYS/#", "$SYS/uptime", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/+", "$SYS/uptime", true},
      {"a/+", "a/$b", true},  // '$' only matters at the start of the topic
      {"#", "a/$b", true},
  };
  for (const auto& c : cases) {
    SubscriptionTree<std::string> tree;
    tree.add(c.filter, "k", 1);
    const auto got = matches(tree, c.topic);
    EXPECT_EQ(got.size(), c.matches ? 1u : 0u) << "filter '" << c.filter << "', topic '" << c.topic << "'";
  }
}

TEST(SubscriptionTree, OneKeyWithSeveralMatchingFiltersIsVisitedOncePerFilter) {
  SubscriptionTree<std::string> tree;
  tree.add("a/+", "k", 1);
  tree.add("a/#", "k", 2);
  tree.add("a/b", "k", 0);
  tree.add("a/b", "other", 1);
  EXPECT_EQ(matches(tree, "a/b"), (Visits{{"k", 0}, {"k", 1}, {"k", 2}, {"other", 1}}));
  EXPECT_EQ(matches(tree, "a/c"), (Visits{{"k", 1}, {"k", 2}}));
  EXPECT_EQ(matches(tree, "a"), (Visits{{"k", 2}}));
}

TEST(SubscriptionTree, AddingTheSameFilterAgainReplacesTheQos) {
  SubscriptionTree<std::string> tree;
  tree.add("a", "k", 0);
  tree.add("a", "k", 2);
  EXPECT_EQ(matches(tree, "a"), (Visits{{"k", 2}}));
}

TEST(SubscriptionTree, RemoveTakesOnlyThatKeysFilter) {
  SubscriptionTree<std::string> tree;
  tree.add("a/b/c", "k1", 1);
  tree.add("a/b", "k2", 1);
  tree.add("a/b/c", "k2", 0);
  tree.add("a/#", "k1", 2);

  EXPECT_TRUE(tree.remove("a/b/c", "k1"));
  EXPECT_FALSE(tree.remove("a/b/c", "k1")) << "already removed";
  EXPECT_FALSE(tree.remove("a/b/c/d", "k1")) << "never added";
  EXPECT_FALSE(tree.remove("a/b", "k1")) << "the node exists but not for k1";
  EXPECT_EQ(matches(tree, "a/b/c"), (Visits{{"k1", 2}, {"k2", 0}}));

  // Removing the last subscriber of a branch leaves the parent's subscribers and '#' intact.
  EXPECT_TRUE(tree.remove("a/b/c", "k2"));
  EXPECT_EQ(matches(tree, "a/b/c"), (Visits{{"k1", 2}}));
  EXPECT_EQ(matches(tree, "a/b"), (Visits{{"k1", 2}, {"k2", 1}}));
  EXPECT_TRUE(tree.remove("a/#", "k1"));
  EXPECT_TRUE(tree.remove("a/b", "k2"));
  EXPECT_TRUE(matches(tree, "a/b").empty());
  EXPECT_TRUE(matches(tree, "a").empty());

  // A pruned branch can be built again.
  tree.add("a/b/c", "k3", 1);
  EXPECT_EQ(matches(tree, "a/b/c"), (Visits{{"k3", 1}}));
}

TEST(SubscriptionTree, WorksWithPointerKeysLikeTheBroker) {
  int s1 = 0, s2 = 0;
  SubscriptionTree<int*> tree;
  tree.add("t/+", &s1, 1);
  tree.add("t/#", &s2, 0);
  std::vector<int*> seen;
  tree.match("t/x", [&](int* k, std::uint8_t) { seen.push_back(k); });
  std::sort(seen.begin(), seen.end());
  std::vector<int*> expected{&s1, &s2};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(seen, expected);
}

class RetainedTreeTest : public ::testing::Test {
 protected:
  RetainedTreeTest() {
    for (const char* topic : {"a", "a/b", "a/b/c", "a/c", "a//b", "b", "/x", "$SYS", "$SYS/x"}) tree_.set(topic, topic);
  }
  RetainedTree<std::string> tree_;
};

TEST_F(RetainedTreeTest, MatchByFilter) {
  using V = std::vector<std::string>;
  EXPECT_EQ(retainedFor(tree_, "a"), (V{"a"}));
  EXPECT_EQ(retainedFor(tree_, "a/b"), (V{"a/b"}));
  EXPECT_EQ(retainedFor(tree_, "nope"), V{});
  EXPECT_EQ(retainedFor(tree_, "a/+"), (V{"a/b", "a/c"}));
  EXPECT_EQ(retainedFor(tree_, "a/+/c"), (V{"a/b/c"}));
  EXPECT_EQ(retainedFor(tree_, "a/+/+"), (V{"a//b", "a/b/c"}));  // '+' matches the empty level
  EXPECT_EQ(retainedFor(tree_, "a/+/b"), (V{"a//b"}));
  EXPECT_EQ(retainedFor(tree_, "+"), (V{"a", "b"}));
  EXPECT_EQ(retainedFor(tree_, "+/+"), (V{"/x", "a/b", "a/c"}));
  EXPECT_EQ(retainedFor(tree_, "+/x"), (V{"/x"}));
  EXPECT_EQ(retainedFor(tree_, "+/b/#"), (V{"a/b", "a/b/c"}));
  // '#' also matches the parent level (§4.7.1.2).
  EXPECT_EQ(retainedFor(tree_, "a/#"), (V{"a", "a//b", "a/b", "a/b/c", "a/c"}));
  EXPECT_EQ(retainedFor(tree_, "a/b/#"), (V{"a/b", "a/b/c"}));
  EXPECT_EQ(retainedFor(tree_, "a/b/c/#"), (V{"a/b/c"}));
  EXPECT_EQ(retainedFor(tree_, "nope/#"), V{});
  // Leading wildcards skip '$' topics [MQTT-4.7.2-1]; naming them matches.
  EXPECT_EQ(retainedFor(tree_, "#"), (V{"/x", "a", "a//b", "a/b", "a/b/c", "a/c", "b"}));
  EXPECT_EQ(retainedFor(tree_, "+/#"), (V{"/x", "a", "a//b", "a/b", "a/b/c", "a/c", "b"}));
  EXPECT_EQ(retainedFor(tree_, "$SYS/#"), (V{"$SYS", "$SYS/x"}));
  EXPECT_EQ(retainedFor(tree_, "$SYS/+"), (V{"$SYS/x"}));
  EXPECT_EQ(retainedFor(tree_, "$SYS"), (V{"$SYS"}));
}

TEST_F(RetainedTreeTest, SizeCountsTopicsNotWrites) {
  EXPECT_EQ(tree_.size(), 9u);
  tree_.set("a/b", "replaced");
  EXPECT_EQ(tree_.size(), 9u);
  EXPECT_EQ(retainedFor(tree_, "a/b"), std::vector<std::string>{"replaced"});
}

TEST_F(RetainedTreeTest, EraseRemovesOneTopicAndKeepsItsNeighbours) {
  EXPECT_TRUE(tree_.erase("a/b"));  // has a child a/b/c
  EXPECT_EQ(tree_.size(), 8u);
  EXPECT_EQ(retainedFor(tree_, "a/b/#"), std::vector<std::string>{"a/b/c"});

  EXPECT_FALSE(tree_.erase("a/b")) << "already gone";
  EXPECT_FALSE(tree_.erase("a/b/c/d")) << "never set";
  EXPECT_FALSE(tree_.erase("a/+")) << "erase takes a topic, not a filter";
  EXPECT_EQ(tree_.size(), 8u);

  EXPECT_TRUE(tree_.erase("a/b/c"));
  EXPECT_TRUE(retainedFor(tree_, "a/b/#").empty());
  EXPECT_EQ(retainedFor(tree_, "a/#"), (std::vector<std::string>{"a", "a//b", "a/c"}));
  EXPECT_EQ(tree_.size(), 7u);

  tree_.set("a/b/c", "again");
  EXPECT_EQ(retainedFor(tree_, "a/b/c"), std::vector<std::string>{"again"});
  EXPECT_EQ(tree_.size(), 8u);
}

}  // namespace
}  // namespace fc::server::broker
