// The MQTT broker's options (config keys mqtt.*): limits, users and the static ACL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fc::server {

struct MqttUser {
  std::string username;
  std::string password;
};

/// One static ACL rule: clients matching `username`/`clientId` ("*" = any) may (or, with `deny`, may
/// not) use topics matching `topic`, where "%u" and "%c" stand for the client's username and client
/// id. Rules are tried in order and the first that matches decides (server/broker/access.hpp).
struct AclRule {
  std::string username = "*";
  std::string clientId = "*";
  std::string topic;
  bool read = true;   // SUBSCRIBE / receive
  bool write = true;  // PUBLISH
  bool deny = false;  // "access": "deny": refuses both
};

struct MqttConfig {
  std::uint32_t connectTimeoutMs = 10'000;
  std::uint32_t maxPacketSize = 1 << 20;
  std::uint32_t maxInflight = 32;
  std::uint32_t maxQueued = 1000;
  std::uint32_t maxOutboundBytes = 8 << 20;
  bool allowAnonymous = true;
  std::vector<MqttUser> users;
  std::vector<AclRule> acl;
};

}  // namespace fc::server
