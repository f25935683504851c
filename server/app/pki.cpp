// Local CA and certificates with OpenSSL 3. RSA keys, because legacy firmware TLS stacks that
// only speak static-RSA cipher suites need an RSA server certificate.
#include "server/app/pki.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>

namespace fc::server {
namespace {

namespace fs = std::filesystem;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { F(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) {
  char buf[256] = "unknown error";
  if (auto code = ERR_get_error()) ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  throw std::runtime_error("pki: " + what + ": " + buf);
}

KeyPtr makeKey() {
  KeyPtr key(EVP_RSA_gen(2048));
  if (!key) fail("generating an RSA key");
  return key;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& path, const std::string& data, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("pki: cannot write " + path);
  out.close();
  if (secret) fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
}

std::string keyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) fail("writing a key");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

std::string certPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) fail("writing a certificate");
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

KeyPtr loadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) fail("reading a private key");
  return key;
}

CertPtr loadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("reading a certificate");
  return cert;
}

void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("building extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

/// An unsigned certificate for `key`, issued by `issuer` (self-issued when null); sign() signs it.
CertPtr makeCert(EVP_PKEY* key, const std::string& commonName, X509* issuer, int days) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("fakecloud"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(commonName.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* issuerOrSelf = issuer ? issuer : cert.get();
  addExtension(cert.get(), issuerOrSelf, NID_subject_key_identifier, "hash");
  if (issuer) addExtension(cert.get(), issuerOrSelf, NID_authority_key_identifier, "keyid:always");
  return cert;
}

void sign(X509* cert, EVP_PKEY* key) {
  if (!X509_sign(cert, key, EVP_sha256())) fail("signing a certificate");
}

/// "IP:" + the address in one canonical spelling (dotted quad, or eight hex groups), so that the
/// names we want and the names a certificate holds compare as strings.
std::string ipSan(const unsigned char* bytes, int length) {
  char buf[64] = "";
  if (length == 4) {
    std::snprintf(buf, sizeof buf, "%d.%d.%d.%d", bytes[0], bytes[1], bytes[2], bytes[3]);
  } else if (length == 16) {
    int at = 0;
    for (int i = 0; i < 16; i += 2)
      at += std::snprintf(buf + at, sizeof buf - at, i ? ":%X" : "%X", (bytes[i] << 8) | bytes[i + 1]);
  }
  return std::string("IP:") + buf;
}

std::set<std::string> wantedSans(const std::vector<std::string>& extraNames) {
  std::set<std::string> sans{"DNS:localhost"};
  std::vector<std::string> names{"127.0.0.1", "::1"};
  names.insert(names.end(), extraNames.begin(), extraNames.end());
  for (const auto& n : names) {
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(n.c_str())) {
      sans.insert(ipSan(ASN1_STRING_get0_data(ip), ASN1_STRING_length(ip)));
      ASN1_OCTET_STRING_free(ip);
    } else {
      ERR_clear_error();
      sans.insert("DNS:" + n);
    }
  }
  return sans;
}

std::set<std::string> certSans(X509* cert) {
  std::set<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      out.insert("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                                       ASN1_STRING_length(gn->d.dNSName)));
    } else if (gn->type == GEN_IPADD) {
      out.insert(ipSan(ASN1_STRING_get0_data(gn->d.iPAddress), ASN1_STRING_length(gn->d.iPAddress)));
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string sanList(const std::set<std::string>& sans) {
  std::string out;
  for (const auto& s : sans) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

PkiFiles ensureLocalPki(const std::string& dir, const std::vector<std::string>& extraNames) {
  fs::create_directories(dir);
  PkiFiles files{dir + "/ca.pem", dir + "/ca.key", dir + "/server.pem", dir + "/server.key"};

  if (!fs::exists(files.caCert) || !fs::exists(files.caKey)) {
    auto key = makeKey();
    auto cert = makeCert(key.get(), "fakecloud local CA", nullptr, 3650);
    addExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    sign(cert.get(), key.get());
    writeFile(files.caKey, keyPem(key.get()), true);
    writeFile(files.caCert, certPem(cert.get()), false);
    fs::remove(files.serverCert);
  }

  const auto sans = wantedSans(extraNames);
  bool reissue = !fs::exists(files.serverCert) || !fs::exists(files.serverKey);
  if (!reissue) {
    auto existing = loadCert(readFile(files.serverCert));
    const auto have = certSans(existing.get());
    reissue = !std::includes(have.begin(), have.end(), sans.begin(), sans.end());
  }
  if (reissue) {
    auto caKey = loadKey(readFile(files.caKey));
    auto caCert = loadCert(readFile(files.caCert));
    auto key = makeKey();
    auto cert = makeCert(key.get(), "localhost", caCert.get(), 825);
    addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert.get(), caCert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
    addExtension(cert.get(), caCert.get(), NID_ext_key_usage, "serverAuth");
    addExtension(cert.get(), caCert.get(), NID_subject_alt_name, sanList(sans));
    sign(cert.get(), caKey.get());
    writeFile(files.serverKey, keyPem(key.get()), true);
    writeFile(files.serverCert, certPem(cert.get()), false);
  }
  return files;
}

IssuedCertificate issueClientCertificate(const PkiFiles& files, const std::string& commonName, int days) {
  auto caKey = loadKey(readFile(files.caKey));
  auto caCert = loadCert(readFile(files.caCert));
  auto key = makeKey();
  auto cert = makeCert(key.get(), commonName, caCert.get(), days);
  addExtension(cert.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE");
  addExtension(cert.get(), caCert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  addExtension(cert.get(), caCert.get(), NID_ext_key_usage, "clientAuth");
  sign(cert.get(), caKey.get());
  return {certPem(cert.get()), keyPem(key.get())};
}

std::string certificateSubject(const std::string& pem) {
  BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return {};
  }
  BioPtr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return {data, static_cast<std::size_t>(n)};
}

}  // namespace fc::server
