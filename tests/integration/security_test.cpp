// Authentication, topic ACLs, TLS and mutual TLS.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>

#include "client/sync_mqtt_client.hpp"
#include "server/app/pki.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;

mqtt::ConnectReturn connackCode(const client::MqttOptions& o) {
  SyncMqttClient c(o);
  auto ack = c.connect();
  EXPECT_TRUE(ack) << (ack ? "" : ack.error().message());
  return ack ? ack->returnCode : mqtt::ConnectReturn::ServerUnavailable;
}

constexpr const char* kSecuredConfig = R"({
  // users and ACL from the config file (comments are allowed)
  "mqtt": {
    "allowAnonymous": false,
    "users": [{"username": "alice", "password": "wonderland"}, {"username": "bob", "password": "builder"}],
    "acl": [
      {"topic": "users/%u/#"},
      {"topic": "public/#", "access": "read"},
      {"username": "bob", "topic": "public/#", "access": "readwrite"}
    ]
  }
})";

class Secured : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess({.configJson = kSecuredConfig}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static client::MqttOptions as(const std::string& user, const std::string& password) {
    auto o = server_->mqtt(user + "-client");
    o.username = user;
    o.password = password;
    return o;
  }
  static ServerProcess* server_;
};
ServerProcess* Secured::server_ = nullptr;

TEST_F(Secured, WrongPasswordGetsConnack4) {
  EXPECT_EQ(connackCode(as("alice", "nope")), mqtt::ConnectReturn::BadUsernameOrPassword);
  EXPECT_EQ(connackCode(as("mallory", "x")), mqtt::ConnectReturn::BadUsernameOrPassword);
  EXPECT_EQ(connackCode(as("alice", "wonderland")), mqtt::ConnectReturn::Accepted);
}

TEST_F(Secured, AnonymousGetsConnack5WhenNotAllowed) {
  EXPECT_EQ(connackCode(server_->mqtt("nobody")), mqtt::ConnectReturn::NotAuthorized);
}

TEST_F(Secured, AclRefusesForeignSubscriptionsWith0x80) {
  SyncMqttClient alice(as("alice", "wonderland"));
  ASSERT_TRUE(alice.connect());
  auto codes = alice.subscribe({{"users/alice/#", QoS::AtLeastOnce},
                                {"users/bob/#", QoS::AtLeastOnce},
                                {"users/+/inbox", QoS::AtLeastOnce},
                                {"public/news", QoS::AtMostOnce},
                                {"#", QoS::AtMostOnce}});
  ASSERT_TRUE(codes);
  EXPECT_EQ(*codes, (std::vector<std::uint8_t>{0x01, 0x80, 0x80, 0x00, 0x80}));
}

TEST_F(Secured, AclDropsForbiddenPublishes) {
  SyncMqttClient bob(as("bob", "builder"));
  ASSERT_TRUE(bob.connect());
  ASSERT_TRUE(bob.subscribe("public/#", QoS::AtLeastOnce));
  SyncMqttClient alice(as("alice", "wonderland"));
  ASSERT_TRUE(alice.connect());
  // alice may only read public/#: the publish is acknowledged but goes nowhere.
  EXPECT_FALSE(alice.publish("public/news", "from alice", QoS::AtLeastOnce));
  EXPECT_FALSE(bob.receive(500ms));
  EXPECT_NE(server_->log().find("may not publish to public/news"), std::string::npos);
  EXPECT_FALSE(alice.waitClosed(100ms)) << "a refused publish does not close the connection";
  ASSERT_TRUE(alice.subscribe("public/#", QoS::AtLeastOnce));
  EXPECT_FALSE(bob.publish("public/news", "from bob", QoS::AtLeastOnce));
  auto m = alice.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "from bob");
}

TEST_F(Secured, WillOnAForbiddenTopicIsRefused) {
  auto o = as("alice", "wonderland");
  o.will = mqtt::Will{"users/bob/will", bytes("x"), QoS::AtMostOnce, false};
  EXPECT_EQ(connackCode(o), mqtt::ConnectReturn::NotAuthorized);
}

// Issue 13 §6, end to end: the config a conformance suite asks for (all open but test/nosubscribe).
TEST(AclDeny, RefusesOneTopicWhileWildcardsStayOpen) {
  ServerProcess server({.configJson = R"({"mqtt": {"acl": [
      {"topic": "test/nosubscribe", "access": "deny"}, {"topic": "+/+"}, {"topic": "#"}]}})"});
  SyncMqttClient c(server.mqtt("conformance"));
  ASSERT_TRUE(c.connect());
  auto codes = c.subscribe({{"test/nosubscribe", QoS::ExactlyOnce}, {"#", QoS::AtLeastOnce}, {"+/+", QoS::AtMostOnce}});
  ASSERT_TRUE(codes);
  EXPECT_EQ(*codes, (std::vector<std::uint8_t>{0x80, 0x01, 0x00}));
  // Publishing to the denied topic is acknowledged and dropped; the next message arrives alone
  // (once per matching subscription: one client, overlapping subscriptions get one copy).
  EXPECT_FALSE(c.publish("test/nosubscribe", "must not arrive", QoS::AtLeastOnce));
  EXPECT_FALSE(c.publish("test/other", "arrives", QoS::AtLeastOnce));
  auto m = c.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "test/other");
  EXPECT_FALSE(c.receive(300ms)) << "the denied publish was delivered";
  EXPECT_NE(server.log().find("may not subscribe to test/nosubscribe"), std::string::npos);
  EXPECT_NE(server.log().find("may not publish to test/nosubscribe"), std::string::npos);
}

TEST(Tls, ClientThatTrustsTheGeneratedCaConnectsAndPublishes) {
  ServerProcess server;
  SyncMqttClient sub(server.mqtts("tls-sub"));
  ASSERT_TRUE(sub.connect());
  ASSERT_TRUE(sub.subscribe("tls/t", QoS::AtLeastOnce));
  SyncMqttClient pub(server.mqtt("plain-pub"));
  ASSERT_TRUE(pub.connect());
  ASSERT_FALSE(pub.publish("tls/t", "across transports", QoS::AtLeastOnce));
  auto m = sub.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(m->payload), "across transports");
  // The CA is also served over HTTP.
  auto ca = httpRequest(server.httpPort(), "GET", "/api/v1/ca.pem");
  EXPECT_EQ(ca.status, 200);
  EXPECT_NE(ca.body.find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST(Tls, GarbageOnTheTlsPortIsRefusedAndLogged) {
  ServerProcess server;
  {
    RawConnection raw(server.mqttsPort());
    raw.send(bytes("this is not a TLS ClientHello\r\n\r\n"));
    EXPECT_TRUE(raw.closedByPeer());
  }
  EXPECT_NE(server.log().find("TLS handshake failed"), std::string::npos);
  SyncMqttClient still(server.mqtts("after-garbage"));
  EXPECT_TRUE(still.connect());
}

TEST(Tls, LegacyStaticRsaCbcSuiteCanBeEnabled) {
  ServerProcess server({.args = {"--tls-ciphers", "AES128-SHA", "--tls-min-version", "1.2"}});
  SyncMqttClient c(server.mqtts("legacy"));
  ASSERT_TRUE(c.connect());
  EXPECT_TRUE(c.connected());
}

/// Writes a client certificate issued by the CA in `pkiDir` and returns its options.
client::MqttOptions withClientCert(client::MqttOptions o, const std::string& pkiDir, const std::string& outDir,
                                   const std::string& cn) {
  server::PkiFiles files{pkiDir + "/ca.pem", pkiDir + "/ca.key", "", ""};
  auto issued = server::issueClientCertificate(files, cn);
  std::ofstream(outDir + "/" + cn + ".pem") << issued.certPem;
  std::ofstream(outDir + "/" + cn + ".key") << issued.keyPem;
  o.tls->certFile = outDir + "/" + cn + ".pem";
  o.tls->keyFile = outDir + "/" + cn + ".key";
  return o;
}

/// What an OpenSSL client without a certificate saw of a TLS handshake with 127.0.0.1:`port`.
struct NoCertHandshake {
  bool completed = false;
  bool certificateRequested = false;                   // the server sent a CertificateRequest
  std::optional<std::vector<std::uint8_t>> mqttReply;  // the answer to a CONNECT, when one was sent
};

thread_local bool tCertificateRequested = false;

/// Handshakes as an OpenSSL client that has no certificate: it answers a CertificateRequest with
/// an empty certificate list, as TLS allows (RFC 5246 §7.4.6, RFC 8446 §4.4.2). `maxVersion`
/// pins TLS 1.2 or lets 1.3 be negotiated. With `connect`, sends an MQTT CONNECT once connected
/// and reads what comes back.
NoCertHandshake handshakeWithoutCertificate(std::uint16_t port, int maxVersion, bool connect) {
  NoCertHandshake result;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return result;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), maxVersion);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  tCertificateRequested = false;
  // Called only when a CertificateRequest arrives; 0 means "no certificate", an empty list.
  SSL_CTX_set_client_cert_cb(ctx.get(), [](SSL*, X509**, EVP_PKEY**) {
    tCertificateRequested = true;
    return 0;
  });
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  result.completed = SSL_connect(ssl.get()) == 1;
  if (result.completed && connect) {
    // CONNECT, remaining length 19: "MQTT", level 4, clean session, keepalive 60, client id "no-cert".
    const std::vector<std::uint8_t> wire{0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00,
                                         0x3C, 0x00, 0x07, 'n',  'o', '-', 'c', 'e', 'r',  't'};
    if (SSL_write(ssl.get(), wire.data(), static_cast<int>(wire.size())) == static_cast<int>(wire.size())) {
      std::vector<std::uint8_t> reply(4);
      // TLS 1.3 may deliver the client-auth alert of a server that wanted a certificate only now.
      const int n = SSL_read(ssl.get(), reply.data(), static_cast<int>(reply.size()));
      if (n > 0) result.mqttReply = std::vector<std::uint8_t>(reply.begin(), reply.begin() + n);
    }
  }
  result.certificateRequested = tCertificateRequested;
  ::close(fd);
  return result;
}

// Issue 13 §1: iotkit-embedded v2.x (mbedTLS) fails any handshake that carries a CertificateRequest,
// so the default TLS listeners must not send one; only the mutual-TLS port asks.
TEST(Tls, DefaultListenersNeverAskForAClientCertificate) {
  ServerProcess server;
  ASSERT_NE(server.mqttsMtlsPort(), 0) << "the mutual-TLS listener is on by default";
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    SCOPED_TRACE(version == TLS1_2_VERSION ? "TLS 1.2" : "TLS 1.3");
    const auto mqtts = handshakeWithoutCertificate(server.mqttsPort(), version, true);
    EXPECT_TRUE(mqtts.completed);
    EXPECT_FALSE(mqtts.certificateRequested) << "MQTTS sent a CertificateRequest";
    EXPECT_EQ(mqtts.mqttReply, (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x00})) << "CONNACK accepted over MQTTS";
    const auto https = handshakeWithoutCertificate(server.httpsPort(), version, false);
    EXPECT_TRUE(https.completed);
    EXPECT_FALSE(https.certificateRequested) << "HTTPS sent a CertificateRequest";

    // The mutual-TLS port asks, and (tls.clientCerts: required by default) refuses the empty answer.
    const auto mtls = handshakeWithoutCertificate(server.mqttsMtlsPort(), version, true);
    EXPECT_TRUE(mtls.certificateRequested);
    EXPECT_FALSE(mtls.mqttReply) << "a client without a certificate got an MQTT answer on the mTLS port";
  }
}

TEST(MutualTls, OptionalAcceptsAClientThatAnswersWithNoCertificate) {
  ServerProcess server({.configJson = R"({"tls": {"clientCerts": "optional"}})"});
  const auto mtls = handshakeWithoutCertificate(server.mqttsMtlsPort(), TLS1_2_VERSION, true);
  EXPECT_TRUE(mtls.completed);
  EXPECT_TRUE(mtls.certificateRequested);
  EXPECT_EQ(mtls.mqttReply, (std::vector<std::uint8_t>{0x20, 0x02, 0x00, 0x00}));
}

TEST(MutualTls, NoneOpensNoMutualTlsListener) {
  ServerProcess server({.args = {"--tls-client-certs", "none"}});
  EXPECT_EQ(server.mqttsMtlsPort(), 0);
  EXPECT_FALSE(handshakeWithoutCertificate(server.mqttsPort(), TLS1_3_VERSION, false).certificateRequested);
}

TEST(MutualTls, RequiredClientCertificateMustBeSignedByTheCa) {
  ServerProcess server({.configJson = R"({"tls": {"clientCerts": "required"}, "mqtt": {"allowAnonymous": false}})"});
  TempDir certs;

  SyncMqttClient noCert(server.mqttsMtls("no-cert"));
  EXPECT_FALSE(noCert.connect()) << "a TLS client without a certificate must be refused";

  auto signedByCa = withClientCert(server.mqttsMtls("device-1"), server.dataDir() + "/tls", certs.path(), "device-1");
  SyncMqttClient good(signedByCa);
  auto ack = good.connect();
  ASSERT_TRUE(ack) << ack.error().message();
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted) << "a verified certificate counts as authenticated";

  // A certificate from another CA is refused during the handshake.
  TempDir otherCa;
  server::ensureLocalPki(otherCa.path(), {});
  auto foreign = withClientCert(server.mqttsMtls("intruder"), otherCa.path(), certs.path(), "intruder");
  SyncMqttClient bad(foreign);
  EXPECT_FALSE(bad.connect());

  // The plain TLS port never asks, so a certificate a client holds is not sent there and does not
  // authenticate it: with anonymous clients refused, its CONNECT is refused.
  auto onPlainTls = withClientCert(server.mqtts("device-1b"), server.dataDir() + "/tls", certs.path(), "device-1b");
  EXPECT_EQ(connackCode(onPlainTls), mqtt::ConnectReturn::NotAuthorized);
}

}  // namespace
}  // namespace fc::test
