// TLS options (config keys tls.*): certificates, ciphers, and what the mutual-TLS listener asks of clients.
#pragma once

#include <string>
#include <vector>

namespace fc::server {

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

}  // namespace fc::server
