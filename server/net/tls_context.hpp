// Server-side TLS settings and the OpenSSL context built from them, shared by the MQTTS and HTTPS
// listeners so both present the same certificate and honour the same cipher and version settings.
#pragma once

#include <memory>
#include <string>

#include "server/net/tls_options.hpp"

namespace boost::asio::ssl {
class context;
}

namespace fc::server {

/// Server-side TLS settings with every file resolved (configured or generated).
struct TlsFiles {
  std::string certFile;
  std::string keyFile;
  std::string caFile;
  std::string ciphers;
  std::string minVersion = "1.2";
  ClientCertMode clientCerts = ClientCertMode::None;  // None: no CertificateRequest is sent
};

/// A server context for `tls`: certificate chain and key, minimum version, cipher list (legacy
/// suites lower OpenSSL's security level with them), and client-certificate verification against
/// the CA per `clientCerts` (None: the server never sends a CertificateRequest). Throws
/// std::runtime_error naming the setting that failed.
std::shared_ptr<boost::asio::ssl::context> makeServerTlsContext(const TlsFiles& tls);

}  // namespace fc::server
