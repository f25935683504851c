// Who may connect, publish and subscribe. The broker asks an AccessPolicy for every CONNECT,
// SUBSCRIBE and PUBLISH; the static policy reads users and ACL rules from the config, and the
// dialects will plug in their own policies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/packet.hpp"
#include "protocols/mqtt/server_session.hpp"
#include "server/broker/mqtt_options.hpp"

namespace fc::server::broker {

/// What the broker knows of a client when it asks the policy.
struct ClientIdentity {
  std::string clientId;
  std::optional<std::string> username;
  std::string certSubject;  // RFC 2253 subject of a verified client certificate, or empty
  std::string remote;       // "address:port"
  bool tls = false;
};

class AccessPolicy {
 public:
  virtual ~AccessPolicy() = default;
  /// CONNACK code for this CONNECT: Accepted, BadUsernameOrPassword or NotAuthorized.
  virtual mqtt::ConnectReturn authenticate(const ClientIdentity& client,
                                           const std::optional<std::vector<std::uint8_t>>& password) = 0;
  virtual bool mayPublish(const ClientIdentity& client, std::string_view topic) = 0;
  virtual bool maySubscribe(const ClientIdentity& client, std::string_view filter) = 0;
  /// The rules of the connection that sent this CONNECT (a capped keepalive, a PINGREQ rate), asked
  /// before the CONNECT reaches the broker, on the connection's strand: any thread. None by default.
  virtual mqtt::ConnectionRules connectionRules(const mqtt::Connect&) { return {}; }
};

/// Users and ACL rules from MqttConfig.
/// - A username that is in `users` must bring its password (else 0x04); one that is not is
///   refused when `users` is non-empty (0x04), and counts as anonymous when it is empty.
/// - An anonymous client (no username and no verified certificate) is refused with 0x05 unless
///   allowAnonymous.
/// - With no ACL rules every topic is open. With rules, they are tried in order and the first that
///   matches decides: a rule matches when it is for the client, grants the access asked for (a
///   deny rule counts for both), and its topic pattern covers the topic (PUBLISH) or the whole
///   filter (SUBSCRIBE). A deny rule refuses, any other allows; when none matches, refused.
///   So `[{"topic":"test/nosubscribe","access":"deny"}, {"topic":"#"}]` refuses a SUBSCRIBE to
///   test/nosubscribe and grants `#` (which covers more than the deny rule does).
/// - A username or client id holding '/', '+' or '#' (or missing) cannot be put into a pattern: an
///   allow rule with %u/%c then matches nothing of that client's, and a deny rule reads the levels
///   holding %u/%c as '+', refusing more rather than less.
class StaticAccessPolicy final : public AccessPolicy {
 public:
  explicit StaticAccessPolicy(const MqttConfig& config);
  mqtt::ConnectReturn authenticate(const ClientIdentity& client,
                                   const std::optional<std::vector<std::uint8_t>>& password) override;
  bool mayPublish(const ClientIdentity& client, std::string_view topic) override;
  bool maySubscribe(const ClientIdentity& client, std::string_view filter) override;

 private:
  bool allowed(const ClientIdentity& client, std::string_view topicOrFilter, bool write) const;

  bool allowAnonymous_;
  std::vector<MqttUser> users_;
  std::vector<AclRule> acl_;
};

/// True when every topic matched by `filter` is also matched by `pattern` (both valid filters):
/// "a/+" covers "a/b" and "a/+", "a/#" covers "a" and "a/b/#", "a/b" does not cover "a/+".
bool filterCovers(std::string_view pattern, std::string_view filter);

/// One client's topic rights, compiled once (a dialect builds them for a device at CONNECT) and
/// asked for every PUBLISH and SUBSCRIBE without building a string. Rules are tried in order; the
/// first whose direction it names and whose pattern covers the topic (PUBLISH) or the whole filter
/// (SUBSCRIBE) decides, a deny rule refusing; when none matches, refused. Patterns are valid
/// filters; a default-constructed TopicAcl refuses everything.
class TopicAcl {
 public:
  enum class Direction : std::uint8_t { Publish = 1, Subscribe = 2, Both = 3 };
  TopicAcl& allow(Direction direction, std::string_view pattern);
  TopicAcl& deny(Direction direction, std::string_view pattern);
  bool mayPublish(std::string_view topic) const { return allowed(topic, Direction::Publish); }
  bool maySubscribe(std::string_view filter) const { return allowed(filter, Direction::Subscribe); }

 private:
  struct Rule {
    bool deny = false;
    Direction direction = Direction::Both;
    std::vector<std::string> levels;
  };
  TopicAcl& add(bool deny, Direction direction, std::string_view pattern);
  bool allowed(std::string_view topicOrFilter, Direction direction) const;
  std::vector<Rule> rules_;
};

}  // namespace fc::server::broker
