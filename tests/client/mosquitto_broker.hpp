// Test support: a real mosquitto broker on free loopback ports (plain, TLS, mutual TLS) and the
// certificates it needs, made with the openssl CLI.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace fc::client::test {

inline constexpr const char* kMosquittoPath = "/usr/sbin/mosquitto";

struct TestCerts {
  std::filesystem::path caFile;      ///< the CA that signed the server and client certificates
  std::filesystem::path serverCert;  ///< SAN IP:127.0.0.1, DNS:localhost
  std::filesystem::path serverKey;
  std::filesystem::path clientCert;  ///< CN=fc-test-device, extendedKeyUsage clientAuth
  std::filesystem::path clientKey;
  std::filesystem::path rogueCaFile;  ///< a CA that signed nothing we use
  std::string error;                  ///< non-empty when generating them failed
};

/// Made once per process in a temporary directory removed at exit.
const TestCerts& testCerts();

/// A loopback port that was free a moment ago (bind port 0, read it, close).
std::uint16_t freePort();

class MosquittoBroker {
 public:
  MosquittoBroker();
  ~MosquittoBroker();
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  /// Starts the broker (again, on the same ports after stop()) and waits until every listener accepts.
  /// Returns what went wrong, with the broker's log, or an empty string.
  std::string start(const TestCerts& certs);
  void stop();

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::uint16_t tlsPort() const { return tlsPort_; }
  [[nodiscard]] std::uint16_t mtlsPort() const { return mtlsPort_; }
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::uint16_t tlsPort_ = 0;
  std::uint16_t mtlsPort_ = 0;
  pid_t pid_ = -1;
};

}  // namespace fc::client::test
