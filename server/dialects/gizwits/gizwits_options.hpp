// The gizwits dialect's options (config keys gizwits.*; docs/dialects/gizwits.md).
#pragma once

#include <cstdint>
#include <string>

namespace fc::server {

struct GizwitsConfig {
  /// The M2M host name the provision answer tells devices; empty: the host the device asked
  /// GService by (its Host header, without a port), or the bind address without one.
  std::string mqttHost;
  /// The MQTT port the provision answer tells devices; 0: the plain MQTT listener's bound port.
  std::uint16_t mqttPort = 0;
  /// A CONNECT keepalive above this (or 0) is treated as this, in seconds (Gizwits: 600).
  std::uint16_t maxKeepAlive = 600;
  /// More PINGREQs than this within pingWindowSeconds close the connection (Gizwits: 60 per 180 s);
  /// 0: no limit.
  std::uint32_t maxPings = 60;
  std::uint32_t pingWindowSeconds = 180;
};

}  // namespace fc::server
