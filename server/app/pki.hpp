// The local certificate authority: with no certificates configured, fakecloud makes a CA and a
// server certificate in its data dir on first start and reuses them afterwards; the CA also
// issues device client certificates for mutual TLS.
#pragma once

#include <string>
#include <vector>

namespace fc::server {

struct PkiFiles {
  std::string caCert;
  std::string caKey;
  std::string serverCert;
  std::string serverKey;
};

struct IssuedCertificate {
  std::string certPem;
  std::string keyPem;
};

/// Creates `<dir>/ca.pem`, `ca.key`, `server.pem`, `server.key` where missing. The server certificate
/// carries SANs localhost, 127.0.0.1, ::1 and `extraNames` (IP addresses or DNS names); when its SANs
/// no longer cover `extraNames` it is issued again. Throws std::runtime_error with OpenSSL's reason.
PkiFiles ensureLocalPki(const std::string& dir, const std::vector<std::string>& extraNames);

/// A client certificate (RSA 2048, CN = commonName, clientAuth) signed by the CA in `files`.
IssuedCertificate issueClientCertificate(const PkiFiles& files, const std::string& commonName, int days = 3650);

/// The verified subject of a certificate in RFC 2253 form ("CN=dev1,O=acme"); empty on failure.
std::string certificateSubject(const std::string& certPem);

}  // namespace fc::server
