// The local PKI: files created once and reused, the server certificate reissued when its names
// change, and certificates that really verify against the CA (checked with OpenSSL's verifier).
#include "server/app/pki.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace fc::server {
namespace {

namespace fs = std::filesystem;

struct X509Free {
  void operator()(X509* p) const noexcept { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

/// OpenSSL's own chain verification of `leaf` against `ca` for `purpose`; "" on success, else
/// OpenSSL's reason.
std::string verify(const std::string& caPem, const std::string& leafPem, int purpose) {
  auto ca = parse(caPem);
  auto leaf = parse(leafPem);
  if (!ca || !leaf) return "unparseable certificate";
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_add_cert(store.get(), ca.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

bool coversHost(const std::string& certPem, const std::string& host) {
  auto cert = parse(certPem);
  return cert && X509_check_host(cert.get(), host.c_str(), host.size(), 0, nullptr) == 1;
}

bool coversIp(const std::string& certPem, const std::string& ip) {
  auto cert = parse(certPem);
  return cert && X509_check_ip_asc(cert.get(), ip.c_str(), 0) == 1;
}

struct Snapshot {
  std::string caCert, caKey, serverCert, serverKey;
  explicit Snapshot(const PkiFiles& f)
      : caCert(test::readFile(f.caCert)),
        caKey(test::readFile(f.caKey)),
        serverCert(test::readFile(f.serverCert)),
        serverKey(test::readFile(f.serverKey)) {}
};

TEST(LocalPki, CreatesACaAndAServerCertificateThatVerifies) {
  test::TempDir dir;
  const auto files = ensureLocalPki(dir.file("pki"), {});
  for (const auto& path : {files.caCert, files.caKey, files.serverCert, files.serverKey})
    EXPECT_TRUE(fs::exists(path)) << path;
  EXPECT_EQ(files.caCert, dir.file("pki") + "/ca.pem");
  EXPECT_EQ(files.serverKey, dir.file("pki") + "/server.key");

  // Private keys are for the owner only.
  for (const auto& key : {files.caKey, files.serverKey})
    EXPECT_EQ(fs::status(key).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << key;

  const Snapshot s(files);
  EXPECT_EQ(verify(s.caCert, s.serverCert, X509_PURPOSE_SSL_SERVER), "");
  EXPECT_TRUE(coversHost(s.serverCert, "localhost"));
  EXPECT_TRUE(coversIp(s.serverCert, "127.0.0.1"));
  EXPECT_TRUE(coversIp(s.serverCert, "::1"));
  EXPECT_FALSE(coversHost(s.serverCert, "example.com"));
  EXPECT_EQ(certificateSubject(s.caCert), "CN=fakecloud local CA,O=fakecloud");
}

TEST(LocalPki, SecondCallReusesTheFilesByteForByte) {
  test::TempDir dir;
  const Snapshot first(ensureLocalPki(dir.file("pki"), {"device.test"}));
  const Snapshot second(ensureLocalPki(dir.file("pki"), {"device.test"}));
  EXPECT_EQ(first.caCert, second.caCert);
  EXPECT_EQ(first.caKey, second.caKey);
  EXPECT_EQ(first.serverCert, second.serverCert);
  EXPECT_EQ(first.serverKey, second.serverKey);
  // Fewer names than the certificate has: still covered, still reused.
  const Snapshot third(ensureLocalPki(dir.file("pki"), {}));
  EXPECT_EQ(first.serverCert, third.serverCert);
}

TEST(LocalPki, ServerCertificateIsReissuedWhenNamesAreAdded) {
  test::TempDir dir;
  const Snapshot before(ensureLocalPki(dir.file("pki"), {}));
  const auto files = ensureLocalPki(dir.file("pki"), {"fakecloud.test", "10.0.0.5", "fd00::5"});
  const Snapshot after(files);

  EXPECT_EQ(before.caCert, after.caCert) << "the CA stays";
  EXPECT_EQ(before.caKey, after.caKey);
  EXPECT_NE(before.serverCert, after.serverCert);
  EXPECT_NE(before.serverKey, after.serverKey);
  EXPECT_EQ(verify(after.caCert, after.serverCert, X509_PURPOSE_SSL_SERVER), "");
  EXPECT_TRUE(coversHost(after.serverCert, "fakecloud.test"));
  EXPECT_TRUE(coversIp(after.serverCert, "10.0.0.5"));
  EXPECT_TRUE(coversIp(after.serverCert, "fd00::5"));
  EXPECT_TRUE(coversHost(after.serverCert, "localhost")) << "the default names stay";

  // The same address spelled differently is the same name: no reissue.
  const Snapshot again(ensureLocalPki(dir.file("pki"), {"fakecloud.test", "10.0.0.5", "fd00:0:0:0:0:0:0:5"}));
  EXPECT_EQ(after.serverCert, again.serverCert);
}

TEST(LocalPki, ALostCaKeyMeansANewCaAndANewServerCertificate) {
  test::TempDir dir;
  const auto files = ensureLocalPki(dir.file("pki"), {});
  const Snapshot before(files);
  fs::remove(files.caKey);

  const Snapshot after(ensureLocalPki(dir.file("pki"), {}));
  EXPECT_NE(before.caCert, after.caCert);
  EXPECT_NE(before.serverCert, after.serverCert);
  EXPECT_EQ(verify(after.caCert, after.serverCert, X509_PURPOSE_SSL_SERVER), "");
  EXPECT_NE(verify(before.caCert, after.serverCert, X509_PURPOSE_SSL_SERVER), "");
}

TEST(LocalPki, IssuedClientCertificatesVerifyAndCarryTheCommonName) {
  test::TempDir dir;
  const auto files = ensureLocalPki(dir.file("pki"), {});
  const auto ca = test::readFile(files.caCert);

  const auto issued = issueClientCertificate(files, "device-42");
  EXPECT_EQ(verify(ca, issued.certPem, X509_PURPOSE_SSL_CLIENT), "");
  EXPECT_NE(verify(ca, issued.certPem, X509_PURPOSE_SSL_SERVER), "") << "clientAuth only";
  EXPECT_EQ(certificateSubject(issued.certPem), "CN=device-42,O=fakecloud");
  EXPECT_NE(issued.keyPem.find("PRIVATE KEY"), std::string::npos);

  // The key is the certificate's.
  auto cert = parse(issued.certPem);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(issued.keyPem.data(), static_cast<int>(issued.keyPem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);

  // A second certificate is a different one; one from another CA does not verify here.
  EXPECT_NE(issueClientCertificate(files, "device-42").certPem, issued.certPem);
  test::TempDir other;
  const auto foreign = issueClientCertificate(ensureLocalPki(other.file("pki"), {}), "device-42");
  EXPECT_NE(verify(ca, foreign.certPem, X509_PURPOSE_SSL_CLIENT), "");
}

TEST(LocalPki, IssuingWithoutACaThrows) {
  test::TempDir dir;
  PkiFiles none{dir.file("ca.pem"), dir.file("ca.key"), dir.file("server.pem"), dir.file("server.key")};
  EXPECT_THROW(issueClientCertificate(none, "x"), std::runtime_error);
}

TEST(CertificateSubject, EmptyForSomethingThatIsNotACertificate) {
  EXPECT_EQ(certificateSubject(""), "");
  EXPECT_EQ(certificateSubject("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), "");
}

}  // namespace
}  // namespace fc::server
