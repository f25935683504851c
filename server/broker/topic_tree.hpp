// Subscriptions and retained messages indexed by topic level, so a PUBLISH is matched by walking
// its levels rather than by testing every filter (MQTT 3.1.1 §4.7).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fc::server::broker {

/// Splits "a/b//c" into {"a","b","","c"}; views into `topic`.
std::vector<std::string_view> splitLevels(std::string_view topic);

/// Filters → subscribers. `Key` identifies a subscriber (the broker uses its session pointer).
template <class Key>
class SubscriptionTree {
 public:
  /// Adds or replaces `key`'s subscription to `filter` with `qos`.
  void add(std::string_view filter, Key key, std::uint8_t qos) {
    Node* node = &root_;
    for (auto level : splitLevels(filter)) {
      auto it = node->children.find(level);
      if (it == node->children.end()) it = node->children.emplace(std::string(level), std::make_unique<Node>()).first;
      node = it->second.get();
    }
    for (auto& [k, q] : node->subscribers)
      if (k == key) {
        q = qos;
        return;
      }
    node->subscribers.emplace_back(key, qos);
  }

  /// Removes `key`'s subscription to `filter`; true if there was one. Empty branches are pruned.
  bool remove(std::string_view filter, Key key) {
    const auto levels = splitLevels(filter);
    return removeAt(root_, levels, 0, key);
  }

  /// Calls `visit(key, qos)` for every subscription whose filter matches `topic`; a subscriber with
  /// several matching filters is visited once per filter (the broker keeps the highest QoS).
  template <class Visit>
  void match(std::string_view topic, Visit&& visit) const {
    const bool dollar = !topic.empty() && topic.front() == '$';
    matchAt(root_, topic, 0, true, dollar, visit);
  }

 private:
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
    // A vector, not a hash map: most filters have one subscriber, and a hash map's first insert
    // allocates a bucket array (≈ 100 bytes) besides the node — per idle subscribed client.
    std::vector<std::pair<Key, std::uint8_t>> subscribers;
    bool empty() const { return children.empty() && subscribers.empty(); }
  };

  static bool eraseKey(Node& node, Key key) {
    auto& subs = node.subscribers;
    for (std::size_t i = 0; i < subs.size(); ++i) {
      if (subs[i].first != key) continue;
      subs[i] = subs.back();
      subs.pop_back();
      if (subs.empty()) subs.shrink_to_fit();
      return true;
    }
    return false;
  }

  bool removeAt(Node& node, const std::vector<std::string_view>& levels, std::size_t i, Key key) {
    if (i == levels.size()) return eraseKey(node, key);
    auto it = node.children.find(levels[i]);
    if (it == node.children.end()) return false;
    const bool removed = removeAt(*it->second, levels, i + 1, key);
    if (it->second->empty()) node.children.erase(it);
    return removed;
  }

  template <class Visit>
  static void visitAll(const Node& node, Visit& visit) {
    for (const auto& [key, qos] : node.subscribers) visit(key, qos);
  }

  /// Matches the levels of `topic` from offset `start` (npos: every level is matched) below `node`.
  /// Walks the topic in place: a PUBLISH is routed without splitting its topic into a vector.
  template <class Visit>
  static void matchAt(const Node& node, std::string_view topic, std::size_t start, bool first, bool dollar,
                      Visit& visit) {
    // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a topic starting with '$'.
    const bool wildcardsAllowed = !(first && dollar);
    if (wildcardsAllowed) {
      // "a/#" matches "a" itself as well as everything below it (§4.7.1.2).
      if (auto hash = node.children.find(std::string_view("#")); hash != node.children.end())
        visitAll(*hash->second, visit);
    }
    if (start == std::string_view::npos) {
      visitAll(node, visit);
      return;
    }
    const auto slash = topic.find('/', start);
    const auto level = topic.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    const auto next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
    if (auto child = node.children.find(level); child != node.children.end())
      matchAt(*child->second, topic, next, false, dollar, visit);
    if (wildcardsAllowed)
      if (auto plus = node.children.find(std::string_view("+")); plus != node.children.end())
        matchAt(*plus->second, topic, next, false, dollar, visit);
  }

  Node root_;
};

/// Topic → retained value, searchable by filter.
template <class Value>
class RetainedTree {
 public:
  void set(std::string_view topic, Value value) {
    Node* node = &root_;
    for (auto level : splitLevels(topic)) {
      auto it = node->children.find(level);
      if (it == node->children.end()) it = node->children.emplace(std::string(level), std::make_unique<Node>()).first;
      node = it->second.get();
    }
    if (!node->value) ++size_;
    node->value = std::move(value);
  }

  /// Removes the value at `topic`; true if there was one.
  bool erase(std::string_view topic) {
    const auto levels = splitLevels(topic);
    const bool erased = eraseAt(root_, levels, 0);
    if (erased) --size_;
    return erased;
  }

  std::size_t size() const { return size_; }

  /// Calls `visit(const Value&)` for every retained topic matched by `filter`.
  template <class Visit>
  void match(std::string_view filter, Visit&& visit) const {
    const auto levels = splitLevels(filter);
    matchAt(root_, levels, 0, visit);
  }

 private:
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> children;
    std::optional<Value> value;
  };

  bool eraseAt(Node& node, const std::vector<std::string_view>& levels, std::size_t i) {
    if (i == levels.size()) {
      const bool had = node.value.has_value();
      node.value.reset();
      return had;
    }
    auto it = node.children.find(levels[i]);
    if (it == node.children.end()) return false;
    const bool erased = eraseAt(*it->second, levels, i + 1);
    if (!it->second->value && it->second->children.empty()) node.children.erase(it);
    return erased;
  }

  template <class Visit>
  static void visitSubtree(const Node& node, Visit& visit) {
    if (node.value) visit(*node.value);
    for (const auto& [_, child] : node.children) visitSubtree(*child, visit);
  }

  template <class Visit>
  static void matchAt(const Node& node, const std::vector<std::string_view>& levels, std::size_t i, Visit& visit) {
    if (i == levels.size()) {
      if (node.value) visit(*node.value);
      return;
    }
    const auto level = levels[i];
    if (level == "#") {
      // §4.7.1.2: "a/#" matches "a" too; the root's "#" skips "$" topics [MQTT-4.7.2-1].
      if (i > 0 && node.value) visit(*node.value);
      for (const auto& [name, child] : node.children)
        if (!(i == 0 && name.starts_with('$'))) visitSubtree(*child, visit);
      return;
    }
    if (level == "+") {
      for (const auto& [name, child] : node.children)
        if (!(i == 0 && name.starts_with('$'))) matchAt(*child, levels, i + 1, visit);
      return;
    }
    if (auto it = node.children.find(level); it != node.children.end()) matchAt(*it->second, levels, i + 1, visit);
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace fc::server::broker
