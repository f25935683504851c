// The static access policy: config users and ACL rules.
#include "server/broker/access.hpp"

#include <algorithm>
#include <utility>

#include "server/broker/topic_tree.hpp"

namespace fc::server::broker {

namespace {

/// filterCovers on levels already split; `P` holds strings or string views.
template <class P>
bool levelsCover(const std::vector<P>& p, const std::vector<std::string_view>& f) {
  // As in matching [MQTT-4.7.2-1], a pattern starting with a wildcard does not reach '$' topics.
  if (f.front().starts_with('$') && (p.front() == "#" || p.front() == "+")) return false;
  std::size_t i = 0;
  for (; i < p.size(); ++i) {
    if (p[i] == "#") return true;
    if (i >= f.size()) return false;
    if (f[i] == "#") return false;
    if (p[i] == "+") continue;
    if (f[i] == "+" || f[i] != p[i]) return false;
  }
  return i == f.size();
}

}  // namespace

bool filterCovers(std::string_view pattern, std::string_view filter) {
  return levelsCover(splitLevels(pattern), splitLevels(filter));
}

TopicAcl& TopicAcl::allow(Direction direction, std::string_view pattern) { return add(false, direction, pattern); }

TopicAcl& TopicAcl::deny(Direction direction, std::string_view pattern) { return add(true, direction, pattern); }

TopicAcl& TopicAcl::add(bool deny, Direction direction, std::string_view pattern) {
  Rule rule{deny, direction, {}};
  for (const auto level : splitLevels(pattern)) rule.levels.emplace_back(level);
  rules_.push_back(std::move(rule));
  return *this;
}

bool TopicAcl::allowed(std::string_view topicOrFilter, Direction direction) const {
  const auto levels = splitLevels(topicOrFilter);
  for (const auto& rule : rules_) {
    if ((static_cast<std::uint8_t>(rule.direction) & static_cast<std::uint8_t>(direction)) == 0) continue;
    if (levelsCover(rule.levels, levels)) return !rule.deny;  // first match decides
  }
  return false;
}

namespace {

/// Replaces %u and %c in an ACL pattern. A username or client id holding a wildcard or a '/'
/// would widen the rule, so such a client gets a pattern that matches nothing of theirs.
std::optional<std::string> expandPattern(std::string_view pattern, const ClientIdentity& client) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && (pattern[i + 1] == 'u' || pattern[i + 1] == 'c')) {
      const std::string& value = pattern[i + 1] == 'u' ? client.username.value_or("") : client.clientId;
      if (value.empty() || value.find_first_of("+#/") != std::string::npos) return std::nullopt;
      out += value;
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

/// A deny rule's pattern for a client whose username or client id cannot be substituted: every
/// level that names %u or %c becomes '+', so the rule refuses at least what it would for any value.
std::string widenedPattern(std::string_view pattern) {
  std::string out;
  bool first = true;
  for (const auto level : splitLevels(pattern)) {
    if (!std::exchange(first, false)) out += '/';
    const bool placeholder = level.find("%u") != std::string_view::npos || level.find("%c") != std::string_view::npos;
    out += placeholder ? std::string_view("+") : level;
  }
  return out;
}

bool ruleApplies(const AclRule& rule, const ClientIdentity& client) {
  const bool userOk = rule.username == "*" || (client.username && *client.username == rule.username);
  const bool clientOk = rule.clientId == "*" || client.clientId == rule.clientId;
  return userOk && clientOk;
}

}  // namespace

StaticAccessPolicy::StaticAccessPolicy(const MqttConfig& config)
    : allowAnonymous_(config.allowAnonymous), users_(config.users), acl_(config.acl) {}

mqtt::ConnectReturn StaticAccessPolicy::authenticate(const ClientIdentity& client,
                                                     const std::optional<std::vector<std::uint8_t>>& password) {
  if (client.username) {
    auto user = std::find_if(users_.begin(), users_.end(), [&](const MqttUser& u) { return u.username == *client.username; });
    if (user != users_.end()) {
      const std::string given = password ? std::string(password->begin(), password->end()) : std::string{};
      return given == user->password ? mqtt::ConnectReturn::Accepted : mqtt::ConnectReturn::BadUsernameOrPassword;
    }
    if (!users_.empty()) return mqtt::ConnectReturn::BadUsernameOrPassword;
  }
  if (!client.certSubject.empty() || allowAnonymous_) return mqtt::ConnectReturn::Accepted;
  return mqtt::ConnectReturn::NotAuthorized;
}

bool StaticAccessPolicy::allowed(const ClientIdentity& client, std::string_view topicOrFilter, bool write) const {
  if (acl_.empty()) return true;
  for (const auto& rule : acl_) {
    // An allow rule for the other direction does not match; a deny rule covers both.
    if (!rule.deny && ((write && !rule.write) || (!write && !rule.read))) continue;
    if (!ruleApplies(rule, client)) continue;
    auto pattern = expandPattern(rule.topic, client);
    if (!pattern && rule.deny) pattern = widenedPattern(rule.topic);
    if (pattern && filterCovers(*pattern, topicOrFilter)) return !rule.deny;  // first match decides
  }
  return false;
}

bool StaticAccessPolicy::mayPublish(const ClientIdentity& client, std::string_view topic) {
  return allowed(client, topic, true);
}

bool StaticAccessPolicy::maySubscribe(const ClientIdentity& client, std::string_view filter) {
  return allowed(client, filter, false);
}

}  // namespace fc::server::broker
