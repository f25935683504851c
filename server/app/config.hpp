// fakecloud's configuration: one table of options read from a JSON file (comments allowed),
// overridden by FAKECLOUD_* environment variables, overridden by command-line flags. Each component's
// own options live beside it (mqtt_options, coap_options, tls_options), so a component's headers do
// not pull in, and its files are not rebuilt for, every other component's keys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/broker/mqtt_options.hpp"
#include "server/coap/coap_options.hpp"
#include "server/dialects/gizwits/gizwits_options.hpp"
#include "server/net/tls_options.hpp"
#include "server/ota/ota_options.hpp"

namespace fc::server {

struct PlatformConfig {
  std::uint32_t journalPerDevice = 1000;        // exchanges kept per device
  std::uint32_t messagesPerDevice = 1000;       // uplink messages kept per device
  std::uint32_t maxPendingCommandsPerDevice = 1000;  // beyond it POST …/commands answers 429
};

struct Ports {
  std::uint16_t mqtt = 1883;
  std::uint16_t mqtts = 8883;      // TLS, no client-certificate request
  std::uint16_t mqttsMtls = 8884;  // mutual TLS: asks for a client certificate (tls.clientCerts)
  std::uint16_t http = 8080;
  std::uint16_t https = 8443;
  std::uint16_t coap = 5683;
  std::uint16_t coaps = 5684;  // CoAP over DTLS-PSK
};

struct Config {
  std::string dataDir = "./fakecloud-data";
  std::string db;  // SQLite file, or ":memory:"; empty: <dataDir>/fakecloud.db
  std::string bind = "127.0.0.1";
  Ports ports;
  std::string portsFile;
  std::string apiToken;  // empty: /api is open on loopback, and a token is generated when bound wider
  std::string fixtures;  // JSON file of products and devices loaded at start
  std::string logLevel = "info";
  std::string logFormat = "text";
  unsigned threads = 0;  // 0: one per core
  TlsConfig tls;
  MqttConfig mqtt;
  PlatformConfig platform;
  CoapConfig coap;
  OtaConfig ota;
  GizwitsConfig gizwits;

  std::string dbPath() const;
};

/// What loading produced: a config to run with, or an exit code (0 after --help, 2 on a bad config)
/// and the message to print.
struct ConfigResult {
  std::optional<Config> config;
  int exitCode = 0;
  std::string message;
};

/// Reads flags, then the file they name (--config or FAKECLOUD_CONFIG), then the environment.
/// `environ` entries are "NAME=value"; pass the process environment in main, a fixed list in tests.
ConfigResult loadConfig(int argc, const char* const* argv, const std::vector<std::string>& environment);

/// Loads from a JSON document alone (tests, fixtures); the error names the key and the problem.
ConfigResult configFromJson(const std::string& jsonText);

}  // namespace fc::server
