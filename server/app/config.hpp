// fakecloud's configuration: one table of options read from a JSON file (comments allowed),
// overridden by FAKECLOUD_* environment variables, overridden by command-line flags.
#pragma once

#include <cstdint>
#include <optional>
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

/// What the mutual-TLS MQTT listener (ports.mqttsMtls) asks of clients. The other TLS listeners never
/// send a CertificateRequest: some device stacks (iotkit-embedded v2.x's mbedTLS) answer one with a
/// malformed empty Certificate and fail the handshake, and the clouds they talk to never ask.
enum class ClientCertMode {
  None,      ///< no mutual-TLS listener at all
  Optional,  ///< asks for a certificate, verifies one if sent, accepts a client without one
  Required,  ///< asks for a certificate and refuses the handshake without a verified one
};

struct TlsConfig {
  std::string certFile;  // server certificate chain (PEM); empty: generated in the data dir
  std::string keyFile;
  std::string caFile;   // CA that signs client certificates (mutual-TLS listener); empty: the generated CA
  std::string ciphers;  // OpenSSL cipher list for TLS ≤ 1.2; empty: OpenSSL's default
  std::string minVersion = "1.2";
  ClientCertMode clientCerts = ClientCertMode::Required;  // on ports.mqttsMtls only
  std::vector<std::string> serverNames;                   // extra SANs for the generated server certificate
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

struct PlatformConfig {
  std::uint32_t journalPerDevice = 1000;        // exchanges kept per device
  std::uint32_t messagesPerDevice = 1000;       // uplink messages kept per device
  std::uint32_t maxPendingCommandsPerDevice = 1000;  // beyond it POST …/commands answers 429
};

/// The CoAP endpoint over UDP and DTLS (docs/coap.md): RFC 7252 §4.8 transmission parameters and bounds.
struct CoapConfig {
  std::uint32_t ackTimeoutMs = 2000;  // ACK_TIMEOUT
  double ackRandomFactor = 1.5;       // ACK_RANDOM_FACTOR
  std::uint32_t maxRetransmit = 4;    // MAX_RETRANSMIT
  std::uint32_t maxPeers = 10'000;    // peers with state; datagrams from more are dropped
  std::uint32_t maxBodySize = 64 * 1024;  // largest Block1 request body reassembled
  // CoAP over DTLS-PSK (coaps, RFC 7252 §9.1.3.1; docs/dtls.md) on a second UDP socket (ports.coaps).
  std::vector<std::string> dtlsCiphers = {"TLS_PSK_WITH_AES_128_CBC_SHA256", "TLS_PSK_WITH_AES_256_CBC_SHA",
                                          "TLS_PSK_WITH_AES_128_CBC_SHA", "TLS_PSK_WITH_AES_128_CCM_8"};
  std::uint32_t dtlsHandshakeTimeoutMs = 30'000;   // a handshake not finished by then fails
  std::uint32_t dtlsIdleTimeoutMs = 30 * 60'000;   // a session that received nothing this long ends
  std::uint32_t dtlsMaxHalfOpen = 256;             // handshakes in progress at once
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
