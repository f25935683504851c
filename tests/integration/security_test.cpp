// Authentication, topic ACLs, TLS and mutual TLS.
#include <gtest/gtest.h>

#include <fstream>

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

TEST(MutualTls, RequiredClientCertificateMustBeSignedByTheCa) {
  ServerProcess server({.configJson = R"({"tls": {"clientCerts": "required"}, "mqtt": {"allowAnonymous": false}})"});
  TempDir certs;

  SyncMqttClient noCert(server.mqtts("no-cert"));
  EXPECT_FALSE(noCert.connect()) << "a TLS client without a certificate must be refused";

  auto signedByCa = withClientCert(server.mqtts("device-1"), server.dataDir() + "/tls", certs.path(), "device-1");
  SyncMqttClient good(signedByCa);
  auto ack = good.connect();
  ASSERT_TRUE(ack) << ack.error().message();
  EXPECT_EQ(ack->returnCode, mqtt::ConnectReturn::Accepted) << "a verified certificate counts as authenticated";

  // A certificate from another CA is refused during the handshake.
  TempDir otherCa;
  server::ensureLocalPki(otherCa.path(), {});
  auto foreign = withClientCert(server.mqtts("intruder"), otherCa.path(), certs.path(), "intruder");
  SyncMqttClient bad(foreign);
  EXPECT_FALSE(bad.connect());
}

}  // namespace
}  // namespace fc::test
