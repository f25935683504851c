// Test support: runs the real fakecloud binary on ephemeral ports in a temporary data dir, and
// talks to it with raw sockets where the client library would be too polite.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/coap_client.hpp"
#include "client/mqtt_options.hpp"
#include "tests/support/temp_dir.hpp"

namespace fc::test {

using namespace std::chrono_literals;

// The fakecloud executable of the build tree this test binary belongs to: $FAKECLOUD_BINARY if set,
// else <build root>/server/fakecloud, the build root being the nearest ancestor of this executable
// that holds CMakeCache.txt. Found at run time rather than baked in at compile time, so a compiler
// cache shared between checkouts cannot hand one checkout's test the other checkout's server.
std::string fakecloudBinary();

struct ServerOptions {
  bool fileDb = false;              // false: --db :memory:
  std::string configJson;           // written to <dataDir>/config.json and passed with --config
  std::vector<std::string> args;    // extra flags
  std::vector<std::string> env;     // extra NAME=value
  std::uint64_t openFilesHard = 0;  // > 0: the process's RLIMIT_NOFILE hard limit (the server raises its soft one to it)
  std::uint64_t openFilesSoft = 0;  // its soft limit; 0: the same as the hard one
};

class ServerProcess {
 public:
  /// Starts at once; `dataDir` outlives restarts when given (persistence tests), else a temp dir.
  explicit ServerProcess(ServerOptions options = {}, std::string dataDir = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  void start();
  /// SIGTERM, then the exit code (or -signal); -1000 if it did not exit within `timeout`.
  int stop(std::chrono::milliseconds timeout = 5s);
  /// SIGKILL and reap.
  void kill();
  /// Waits for the process to exit by itself (e.g. a bad config); the exit code, or -1000 on timeout.
  int waitExit(std::chrono::milliseconds timeout = 5s);
  bool running() const { return pid_ > 0; }

  std::uint16_t mqttPort() const { return mqtt_; }
  std::uint16_t mqttsPort() const { return mqtts_; }
  /// The mutual-TLS MQTT port; 0 when tls.clientCerts is none (no such listener).
  std::uint16_t mqttsMtlsPort() const { return mqttsMtls_; }
  std::uint16_t httpPort() const { return http_; }
  std::uint16_t httpsPort() const { return https_; }
  std::uint16_t coapPort() const { return coap_; }
  std::uint16_t coapsPort() const { return coaps_; }
  const std::string& dataDir() const { return dataDir_; }
  std::string caFile() const { return dataDir_ + "/tls/ca.pem"; }
  /// What the server has logged so far (stderr).
  std::string log() const;

  /// Options for a plain MQTT client of this server.
  client::MqttOptions mqtt(std::string clientId, bool cleanSession = true) const;
  /// Options for an MQTT-over-TLS client that trusts the server's CA.
  client::MqttOptions mqtts(std::string clientId) const;
  /// The same for the mutual-TLS port (add a client certificate to tls).
  client::MqttOptions mqttsMtls(std::string clientId) const;
  /// Options for a CoAP client of this server (short ACK timeout: loopback does not lose datagrams).
  client::CoapOptions coap() const;
  /// Options for a CoAP client of the coaps port with these DTLS-PSK credentials.
  client::CoapOptions coaps(client::CoapDtlsOptions dtls) const;

 private:
  ServerOptions options_;
  std::optional<TempDir> ownDir_;
  std::string dataDir_;
  pid_t pid_ = -1;
  std::uint16_t mqtt_ = 0, mqtts_ = 0, mqttsMtls_ = 0, http_ = 0, https_ = 0, coap_ = 0, coaps_ = 0;
};

/// A blocking TCP connection for hand-built packets.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  bool send(const std::vector<std::uint8_t>& bytes);
  /// Up to `max` bytes, waiting at most `timeout`; empty on timeout or close.
  std::vector<std::uint8_t> receive(std::chrono::milliseconds timeout = 3s, std::size_t max = 65536);
  /// Exactly `n` bytes or fewer on timeout/close.
  std::vector<std::uint8_t> receiveExactly(std::size_t n, std::chrono::milliseconds timeout = 3s);
  /// True once the peer has closed the connection (EOF or reset) within `timeout`.
  bool closedByPeer(std::chrono::milliseconds timeout = 3s);

 private:
  int fd_ = -1;
};

struct HttpResult {
  int status = 0;
  std::string body;
};

/// A minimal HTTP/1.1 request over loopback (no keep-alive).
HttpResult httpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body = {});
/// The same with extra header lines ("Name: value" or "name:value", sent as given) and a content type.
HttpResult httpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body, const std::vector<std::string>& headers,
                       const std::string& contentType = "application/json");

struct JsonReply {
  int status = 0;
  nlohmann::json body;  // discarded (is_discarded()) when the body is not JSON
};

/// An HTTP request with a JSON body (none when null) to the server's HTTP port; the reply parsed.
JsonReply call(const ServerProcess& server, const std::string& method, const std::string& target,
               const nlohmann::json& body = nullptr);

std::vector<std::uint8_t> bytes(std::string_view s);
std::string text(const std::vector<std::uint8_t>& b);

}  // namespace fc::test
