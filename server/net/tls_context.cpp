// Builds the OpenSSL server context for the TLS listeners (MQTTS, HTTPS).
#include "server/net/tls_context.hpp"

#include <boost/asio/ssl/context.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace fc::server {
namespace {

namespace ssl = boost::asio::ssl;

int tlsVersion(const std::string& v) {
  if (v == "1.0") return TLS1_VERSION;
  if (v == "1.1") return TLS1_1_VERSION;
  if (v == "1.3") return TLS1_3_VERSION;
  return TLS1_2_VERSION;
}

}  // namespace

std::shared_ptr<ssl::context> makeServerTlsContext(const TlsFiles& tls) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  const int minVersion = tlsVersion(tls.minVersion);
  SSL_CTX_set_min_proto_version(native, minVersion);
  if (!tls.ciphers.empty()) {
    // Legacy suites (static RSA, CBC, TLS 1.0/1.1) sit below the distribution's default security
    // level; whoever lists them explicitly asks for them, so lower the level with them.
    const std::string list = tls.ciphers + (minVersion < TLS1_2_VERSION ? ":@SECLEVEL=0" : ":@SECLEVEL=1");
    if (SSL_CTX_set_cipher_list(native, list.c_str()) != 1)
      throw std::runtime_error("tls.ciphers: OpenSSL accepts none of '" + tls.ciphers + "'");
  } else if (minVersion < TLS1_2_VERSION) {
    SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
  }
  try {
    ctx->use_certificate_chain_file(tls.certFile);
    ctx->use_private_key_file(tls.keyFile, ssl::context::pem);
  } catch (const std::exception& e) {
    throw std::runtime_error("tls: cannot load certificate " + tls.certFile + " / key " + tls.keyFile + ": " + e.what());
  }
  if (tls.clientCerts != ClientCertMode::None) {
    try {
      ctx->load_verify_file(tls.caFile);
    } catch (const std::exception& e) {
      throw std::runtime_error("tls.ca: cannot load " + tls.caFile + ": " + e.what());
    }
    SSL_CTX_set_client_CA_list(native, SSL_load_client_CA_file(tls.caFile.c_str()));
    auto mode = ssl::verify_peer;
    if (tls.clientCerts == ClientCertMode::Required) mode |= ssl::verify_fail_if_no_peer_cert;
    ctx->set_verify_mode(mode);
  }
  return ctx;
}

}  // namespace fc::server
