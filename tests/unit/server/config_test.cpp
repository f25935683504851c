// Configuration: defaults, the file < environment < flags precedence, the users/ACL sections, and
// that every error is exit code 2 with a message naming the key at fault.
#include "server/app/config.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace fc::server {
namespace {

ConfigResult load(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<const char*> argv{"fakecloud"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return loadConfig(static_cast<int>(argv.size()), argv.data(), env);
}

/// The result is a refusal (no config, exit 2) whose message contains every one of `parts`.
void expectError(const ConfigResult& r, std::initializer_list<std::string> parts) {
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.exitCode, 2);
  for (const auto& part : parts)
    EXPECT_NE(r.message.find(part), std::string::npos) << "'" << part << "' not in: " << r.message;
}

#define ASSERT_CONFIG(r) ASSERT_TRUE((r).config.has_value()) << (r).message

void expectDefaults(const Config& c) {
  EXPECT_EQ(c.dataDir, "./fakecloud-data");
  EXPECT_EQ(c.db, "");
  EXPECT_EQ(c.dbPath(), "./fakecloud-data/fakecloud.db");
  EXPECT_EQ(c.bind, "127.0.0.1");
  EXPECT_EQ(c.ports.mqtt, 1883);
  EXPECT_EQ(c.ports.mqtts, 8883);
  EXPECT_EQ(c.ports.mqttsMtls, 8884);
  EXPECT_EQ(c.ports.http, 8080);
  EXPECT_EQ(c.portsFile, "");
  EXPECT_EQ(c.logLevel, "info");
  EXPECT_EQ(c.logFormat, "text");
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.tls.certFile, "");
  EXPECT_EQ(c.tls.minVersion, "1.2");
  EXPECT_EQ(c.tls.clientCerts, ClientCertMode::Required);  // on the mutual-TLS port only
  EXPECT_TRUE(c.tls.serverNames.empty());
  EXPECT_EQ(c.mqtt.connectTimeoutMs, 10'000u);
  EXPECT_EQ(c.mqtt.maxPacketSize, 1u << 20);
  EXPECT_EQ(c.mqtt.maxInflight, 32u);
  EXPECT_EQ(c.mqtt.maxQueued, 1000u);
  EXPECT_EQ(c.mqtt.maxOutboundBytes, 8u << 20);
  EXPECT_TRUE(c.mqtt.allowAnonymous);
  EXPECT_TRUE(c.mqtt.users.empty());
  EXPECT_TRUE(c.mqtt.acl.empty());
  EXPECT_EQ(c.ports.coap, 5683);
  EXPECT_EQ(c.coap.ackTimeoutMs, 2000u);
  EXPECT_DOUBLE_EQ(c.coap.ackRandomFactor, 1.5);
  EXPECT_EQ(c.coap.maxRetransmit, 4u);
  EXPECT_EQ(c.coap.maxPeers, 10'000u);
  EXPECT_EQ(c.coap.maxBodySize, 64u * 1024);
  EXPECT_EQ(c.ports.coaps, 5684);
  EXPECT_EQ(c.coap.dtlsCiphers, (std::vector<std::string>{"TLS_PSK_WITH_AES_128_CBC_SHA256", "TLS_PSK_WITH_AES_256_CBC_SHA",
                                                          "TLS_PSK_WITH_AES_128_CBC_SHA", "TLS_PSK_WITH_AES_128_CCM_8"}));
  EXPECT_EQ(c.coap.dtlsHandshakeTimeoutMs, 30'000u);
  EXPECT_EQ(c.coap.dtlsIdleTimeoutMs, 30u * 60'000);
  EXPECT_EQ(c.coap.dtlsMaxHalfOpen, 256u);
}

TEST(LoadConfig, DefaultsWithNoFileEnvironmentOrFlags) {
  auto r = load({}, {"PATH=/usr/bin", "HOME=/root"});
  ASSERT_CONFIG(r);
  EXPECT_EQ(r.exitCode, 0);
  expectDefaults(*r.config);
}

TEST(ConfigFromJson, EmptyObjectGivesTheDefaults) {
  auto r = configFromJson("{}");
  ASSERT_CONFIG(r);
  expectDefaults(*r.config);
}

TEST(LoadConfig, FileThenEnvironmentThenFlags) {
  test::TempDir dir;
  const auto file = dir.write("fc.json", R"({
    // comments are allowed
    "ports": { "mqtt": 1000, "http": 1001 },  /* and block comments */
    "log": { "level": "debug" },
    "mqtt": { "maxInflight": 5, "maxQueued": 50 }
  })");

  auto fileOnly = load({"--config", file});
  ASSERT_CONFIG(fileOnly);
  EXPECT_EQ(fileOnly.config->ports.mqtt, 1000);
  EXPECT_EQ(fileOnly.config->mqtt.maxInflight, 5u);

  const std::vector<std::string> env{"FAKECLOUD_PORTS_MQTT=2000", "FAKECLOUD_MQTT_MAX_INFLIGHT=6"};
  auto withEnv = load({"--config", file}, env);
  ASSERT_CONFIG(withEnv);
  EXPECT_EQ(withEnv.config->ports.mqtt, 2000);
  EXPECT_EQ(withEnv.config->mqtt.maxInflight, 6u);

  auto withFlags = load({"--config", file, "--mqtt-port", "3000"}, env);
  ASSERT_CONFIG(withFlags);
  const auto& c = *withFlags.config;
  EXPECT_EQ(c.ports.mqtt, 3000);      // flag over env over file
  EXPECT_EQ(c.mqtt.maxInflight, 6u);  // env over file
  EXPECT_EQ(c.ports.http, 1001);      // file only
  EXPECT_EQ(c.logLevel, "debug");
  EXPECT_EQ(c.mqtt.maxQueued, 50u);
  EXPECT_EQ(c.ports.mqtts, 8883);  // nowhere: default
}

TEST(LoadConfig, ConfigFileCanComeFromTheEnvironmentAndTheFlagWins) {
  test::TempDir dir;
  const auto a = dir.write("a.json", R"({"bind": "10.0.0.1"})");
  const auto b = dir.write("b.json", R"({"bind": "10.0.0.2"})");

  auto fromEnv = load({}, {"FAKECLOUD_CONFIG=" + a});
  ASSERT_CONFIG(fromEnv);
  EXPECT_EQ(fromEnv.config->bind, "10.0.0.1");

  auto fromFlag = load({"--config", b}, {"FAKECLOUD_CONFIG=" + a});
  ASSERT_CONFIG(fromFlag);
  EXPECT_EQ(fromFlag.config->bind, "10.0.0.2");
}

TEST(LoadConfig, EnvironmentNamesFollowTheJsonKeys) {
  auto r = load({}, {"FAKECLOUD_DATA_DIR=/var/fc", "FAKECLOUD_DB=:memory:", "FAKECLOUD_PORTS_FILE=/tmp/ports.json",
                     "FAKECLOUD_THREADS=3", "FAKECLOUD_LOG_FORMAT=json", "FAKECLOUD_TLS_MIN_VERSION=1.3",
                     "FAKECLOUD_TLS_CLIENT_CERTS=optional", "FAKECLOUD_TLS_SERVER_NAMES=a.test,,10.1.2.3",
                     "FAKECLOUD_MQTT_CONNECT_TIMEOUT_MS=250", "FAKECLOUD_MQTT_MAX_OUTBOUND_BYTES=4096",
                     "FAKECLOUD_UNRELATED=1", "NO_EQUALS_SIGN"});
  ASSERT_CONFIG(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.dataDir, "/var/fc");
  EXPECT_EQ(c.dbPath(), ":memory:");
  EXPECT_EQ(c.portsFile, "/tmp/ports.json");
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.logFormat, "json");
  EXPECT_EQ(c.tls.minVersion, "1.3");
  EXPECT_EQ(c.tls.clientCerts, ClientCertMode::Optional);
  EXPECT_EQ(c.tls.serverNames, (std::vector<std::string>{"a.test", "10.1.2.3"}));  // empty items skipped
  EXPECT_EQ(c.mqtt.connectTimeoutMs, 250u);
  EXPECT_EQ(c.mqtt.maxOutboundBytes, 4096u);
}

TEST(LoadConfig, FlagsSetEveryKind) {
  auto r = load({"--data-dir", "/d", "--bind", "0.0.0.0", "--http-port", "0", "--tls-client-certs", "none",
                 "--tls-server-names", "x.test,y.test", "--mqtt-allow-anonymous", "off", "--log-level", "trace"});
  ASSERT_CONFIG(r);
  const auto& c = *r.config;
  EXPECT_EQ(c.dataDir, "/d");
  EXPECT_EQ(c.dbPath(), "/d/fakecloud.db");
  EXPECT_EQ(c.bind, "0.0.0.0");
  EXPECT_EQ(c.ports.http, 0);
  EXPECT_EQ(c.tls.clientCerts, ClientCertMode::None);
  EXPECT_EQ(c.tls.serverNames, (std::vector<std::string>{"x.test", "y.test"}));
  EXPECT_FALSE(c.mqtt.allowAnonymous);
  EXPECT_EQ(c.logLevel, "trace");
}

TEST(LoadConfig, BooleanTextsInTheEnvironment) {
  for (const char* yes : {"1", "true", "TRUE", "Yes", "on"}) {
    auto r = load({}, {std::string("FAKECLOUD_MQTT_ALLOW_ANONYMOUS=") + yes});
    ASSERT_CONFIG(r);
    EXPECT_TRUE(r.config->mqtt.allowAnonymous) << yes;
  }
  for (const char* no : {"0", "false", "False", "NO", "off"}) {
    auto r = load({}, {std::string("FAKECLOUD_MQTT_ALLOW_ANONYMOUS=") + no});
    ASSERT_CONFIG(r);
    EXPECT_FALSE(r.config->mqtt.allowAnonymous) << no;
  }
}

TEST(LoadConfig, HelpExitsZeroWithTheOptions) {
  auto r = load({"--help"});
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.exitCode, 0);
  for (const char* part :
       {"--config", "--mqtt-port", "mqtt.maxInflight", "FAKECLOUD_MQTT_MAX_INFLIGHT", "--tls-client-certs"})
    EXPECT_NE(r.message.find(part), std::string::npos) << part;
}

TEST(LoadConfig, VersionExitsZeroWithTheProjectVersion) {
  auto r = load({"--version"});
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_EQ(r.message, std::string("fakecloud ") + FC_PROJECT_VERSION);  // project(VERSION …), passed by CMake
}

// --- errors ----------------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeysAreNamed) {
  expectError(configFromJson(R"({"bogus": 1})"), {"bogus", "unknown key"});
  expectError(configFromJson(R"({"mqtt": {"maxInFlight": 1}})"), {"mqtt.maxInFlight", "unknown key"});
  expectError(configFromJson(R"({"ports": {"mqtt": 1, "amqp": 5672}})"), {"ports.amqp"});
  expectError(configFromJson(R"({"log": "debug"})"), {"log: "});  // a section given as a value
}

TEST(ConfigErrors, OutOfRangeNamesKeyValueAndRange) {
  expectError(configFromJson(R"({"ports": {"mqtt": 70000}})"), {"ports.mqtt", "70000", "0..65535"});
  expectError(configFromJson(R"({"ports": {"http": -1}})"), {"ports.http", "-1"});
  expectError(configFromJson(R"({"mqtt": {"maxInflight": 0}})"), {"mqtt.maxInflight", "1..65535"});
  expectError(configFromJson(R"({"mqtt": {"maxOutboundBytes": 100}})"), {"mqtt.maxOutboundBytes"});
  expectError(load({"--threads", "300"}), {"threads", "300"});
  expectError(load({}, {"FAKECLOUD_MQTT_CONNECT_TIMEOUT_MS=5"}), {"mqtt.connectTimeoutMs", "100..3600000"});
}

TEST(ConfigErrors, WrongTypesAreNamed) {
  expectError(configFromJson(R"({"ports": {"http": "80"}})"), {"ports.http", "integer"});
  expectError(configFromJson(R"({"ports": {"http": 80.5}})"), {"ports.http", "integer"});
  expectError(configFromJson(R"({"bind": 1})"), {"bind", "string"});
  expectError(configFromJson(R"({"mqtt": {"allowAnonymous": "yes"}})"), {"mqtt.allowAnonymous", "true or false"});
  expectError(configFromJson(R"({"tls": {"serverNames": "a,b"}})"), {"tls.serverNames", "array of strings"});
  expectError(configFromJson(R"({"tls": {"serverNames": ["a", 1]}})"), {"tls.serverNames"});
  expectError(load({"--mqtt-port", "12ab"}), {"ports.mqtt", "12ab", "not an integer"});
  expectError(load({}, {"FAKECLOUD_PORTS_MQTT= 1883"}), {"ports.mqtt", "not an integer"});
  expectError(load({}, {"FAKECLOUD_PORTS_MQTT=99999999999999999999"}), {"ports.mqtt"});
}

TEST(ConfigErrors, BadEnumValuesListTheChoices) {
  expectError(configFromJson(R"({"log": {"level": "loud"}})"), {"log.level", "'loud'", "trace, debug"});
  expectError(load({"--tls-min-version", "1.4"}), {"tls.minVersion", "1.4"});
  expectError(load({}, {"FAKECLOUD_TLS_CLIENT_CERTS=mandatory"}), {"tls.clientCerts", "none, optional, required"});
  expectError(configFromJson(R"({"log": {"format": 1}})"), {"log.format", "string"});
}

TEST(ConfigErrors, BadBooleanTextInTheEnvironment) {
  expectError(load({}, {"FAKECLOUD_MQTT_ALLOW_ANONYMOUS=maybe"}), {"mqtt.allowAnonymous", "maybe"});
  expectError(load({"--mqtt-allow-anonymous", "2"}), {"mqtt.allowAnonymous", "'2'"});
}

TEST(ConfigErrors, FileProblemsNameTheFile) {
  test::TempDir dir;
  const auto broken = dir.write("broken.json", "{ \"bind\": ");
  expectError(load({"--config", broken}), {"--config", broken, "not valid JSON"});
  const auto array = dir.write("array.json", "[1, 2]");
  expectError(load({"--config", array}), {"--config", array, "JSON object"});
  const auto missing = dir.file("missing.json");
  expectError(load({"--config", missing}), {"--config", missing, "cannot read"});
  const auto unknown = dir.write("unknown.json", R"({"tls": {"cert": "x", "passphrase": "y"}})");
  expectError(load({"--config", unknown}), {"tls.passphrase", "unknown key"});
}

TEST(ConfigErrors, InvalidJsonText) {
  expectError(configFromJson("{"), {"not valid JSON"});
  expectError(configFromJson("[]"), {"(root)", "JSON object"});
}

TEST(ConfigErrors, UnknownFlagPointsAtHelp) {
  expectError(load({"--no-such-flag"}), {"--no-such-flag", "--help"});
  expectError(load({"--mqtt-port"}), {"--mqtt-port"});  // value missing
}

// --- mqtt.users and mqtt.acl -----------------------------------------------------------------

TEST(ConfigOta, CoapPathAndBasesFromFileAndFlags) {
  auto d = configFromJson("{}");
  ASSERT_CONFIG(d);
  EXPECT_EQ(d.config->ota.coapPath, "fw");
  EXPECT_EQ(d.config->ota.coapBaseUrl, "");
  auto r = configFromJson(R"({"ota": {"coapPath": "/ota/fw/", "coapsBaseUrl": "coaps://iot.example.com:5684"}})");
  ASSERT_CONFIG(r);
  EXPECT_EQ(r.config->ota.coapPath, "ota/fw");  // slashes at the ends do not matter
  EXPECT_EQ(r.config->ota.coapsBaseUrl, "coaps://iot.example.com:5684");
  auto f = load({"--ota-coap-path", "firmware", "--ota-coap-base-url", "coap://10.0.0.1:5683"});
  ASSERT_CONFIG(f);
  EXPECT_EQ(f.config->ota.coapPath, "firmware");
  EXPECT_EQ(f.config->ota.coapBaseUrl, "coap://10.0.0.1:5683");
  for (const char* bad : {R"({"ota": {"coapPath": "/"}})", R"({"ota": {"coapPath": "a//b"}})",
                          R"({"ota": {"coapPath": "fw?x=1"}})", R"({"ota": {"coapPath": ".well-known/core"}})"})
    expectError(configFromJson(bad), {"ota.coapPath"});
}

TEST(ConfigUsers, ParsedWithOptionalPasswords) {
  auto r = configFromJson(R"({"mqtt": {"users": [{"username": "alice", "password": "s3"}, {"username": "bob"}]}})");
  ASSERT_CONFIG(r);
  ASSERT_EQ(r.config->mqtt.users.size(), 2u);
  EXPECT_EQ(r.config->mqtt.users[0].username, "alice");
  EXPECT_EQ(r.config->mqtt.users[0].password, "s3");
  EXPECT_EQ(r.config->mqtt.users[1].username, "bob");
  EXPECT_EQ(r.config->mqtt.users[1].password, "");
}

TEST(ConfigUsers, ErrorsNameTheEntry) {
  expectError(configFromJson(R"({"mqtt": {"users": {"alice": "x"}}})"), {"mqtt.users", "array"});
  expectError(configFromJson(R"({"mqtt": {"users": [{"username": "a"}, {"password": "x"}]}})"),
              {"mqtt.users[1]", "username"});
  expectError(configFromJson(R"({"mqtt": {"users": [{"username": 5}]}})"), {"mqtt.users[0]", "username"});
  expectError(configFromJson(R"({"mqtt": {"users": ["alice"]}})"), {"mqtt.users[0]"});
  expectError(configFromJson(R"({"mqtt": {"users": [{"username": "a", "password": 1234}]}})"),
              {"mqtt.users[0].password", "string"});
}

TEST(ConfigUsers, CanComeFromTheEnvironmentAsJson) {
  auto r = load({}, {R"(FAKECLOUD_MQTT_USERS=[{"username":"env","password":"pw"}])"});
  ASSERT_CONFIG(r);
  ASSERT_EQ(r.config->mqtt.users.size(), 1u);
  EXPECT_EQ(r.config->mqtt.users[0].username, "env");
  EXPECT_EQ(r.config->mqtt.users[0].password, "pw");
}

TEST(ConfigAcl, ParsedWithDefaultsAndAccessModes) {
  auto r = configFromJson(R"({"mqtt": {"acl": [
      {"topic": "devices/%c/#"},
      {"topic": "telemetry/#", "username": "alice", "access": "write"},
      {"topic": "commands/#", "clientId": "console", "access": "read"},
      {"topic": "all", "access": "readwrite"},
      {"topic": "test/nosubscribe", "access": "deny"}
  ]}})");
  ASSERT_CONFIG(r);
  const auto& acl = r.config->mqtt.acl;
  ASSERT_EQ(acl.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_FALSE(acl[i].deny) << i;
  EXPECT_TRUE(acl[4].deny);
  EXPECT_EQ(acl[4].topic, "test/nosubscribe");
  EXPECT_EQ(acl[0].topic, "devices/%c/#");
  EXPECT_EQ(acl[0].username, "*");
  EXPECT_EQ(acl[0].clientId, "*");
  EXPECT_TRUE(acl[0].read);
  EXPECT_TRUE(acl[0].write);
  EXPECT_EQ(acl[1].username, "alice");
  EXPECT_FALSE(acl[1].read);
  EXPECT_TRUE(acl[1].write);
  EXPECT_EQ(acl[2].clientId, "console");
  EXPECT_TRUE(acl[2].read);
  EXPECT_FALSE(acl[2].write);
  EXPECT_TRUE(acl[3].read && acl[3].write);
}

TEST(ConfigAcl, ErrorsNameTheEntryAndField) {
  expectError(configFromJson(R"({"mqtt": {"acl": {"topic": "a"}}})"), {"mqtt.acl", "array"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a"}, {"username": "x"}]}})"), {"mqtt.acl[1]", "topic"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": 1}]}})"), {"mqtt.acl[0]", "topic"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a", "user": "x"}]}})"),
              {"mqtt.acl[0].user", "unknown key"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a", "access": "rw"}]}})"),
              {"mqtt.acl[0].access", "read, write, readwrite or deny"});
}

// ACL fields of the wrong type are reported by key, like every other config error.
TEST(ConfigAcl, NonStringFieldsNameTheField) {
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a", "username": 5}]}})"),
              {"mqtt.acl[0].username", "string"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a", "clientId": null}]}})"),
              {"mqtt.acl[0].clientId", "string"});
  expectError(configFromJson(R"({"mqtt": {"acl": [{"topic": "a", "access": true}]}})"), {"mqtt.acl[0].access"});
}

// Invalid JSON in an object option's environment variable is reported by key.
TEST(ConfigUsers, InvalidJsonInTheEnvironmentNamesTheKey) {
  expectError(load({}, {"FAKECLOUD_MQTT_USERS=[{"}), {"mqtt.users"});
  expectError(load({}, {"FAKECLOUD_MQTT_ACL=nope"}), {"mqtt.acl"});
}

TEST(ConfigCoap, PortAndTransmissionParametersFromEveryKindOfSource) {
  auto r = load({"--coap-port", "0", "--coap-ack-random-factor", "1.25"},
                {"FAKECLOUD_COAP_ACK_TIMEOUT_MS=500", "FAKECLOUD_COAP_MAX_RETRANSMIT=2"});
  ASSERT_CONFIG(r);
  EXPECT_EQ(r.config->ports.coap, 0);
  EXPECT_DOUBLE_EQ(r.config->coap.ackRandomFactor, 1.25);
  EXPECT_EQ(r.config->coap.ackTimeoutMs, 500u);
  EXPECT_EQ(r.config->coap.maxRetransmit, 2u);

  auto json = configFromJson(R"({"coap": {"ackRandomFactor": 2, "maxPeers": 7, "maxBodySize": 1024}})");
  ASSERT_CONFIG(json);
  EXPECT_DOUBLE_EQ(json.config->coap.ackRandomFactor, 2.0);
  EXPECT_EQ(json.config->coap.maxPeers, 7u);
  EXPECT_EQ(json.config->coap.maxBodySize, 1024u);
}

TEST(ConfigCoap, BadValuesNameTheKey) {
  expectError(load({"--coap-ack-random-factor", "fast"}), {"coap.ackRandomFactor", "not a number"});
  expectError(load({"--coap-ack-random-factor", "0.5"}), {"coap.ackRandomFactor", "outside 1..10"});
  expectError(configFromJson(R"({"coap": {"ackRandomFactor": "1.5"}})"), {"coap.ackRandomFactor", "must be a number"});
  expectError(configFromJson(R"({"ports": {"coap": 70000}})"), {"ports.coap", "outside 0..65535"});
  expectError(configFromJson(R"({"coap": {"maxRetransmit": 21}})"), {"coap.maxRetransmit", "outside"});
}

TEST(ConfigCoaps, DtlsSettingsFromEveryKindOfSource) {
  auto r = load({"--coaps-port", "0", "--coaps-ciphers", "TLS_PSK_WITH_AES_128_CCM_8,PSK-AES128-CBC-SHA"},
                {"FAKECLOUD_COAP_DTLS_HANDSHAKE_TIMEOUT_MS=5000", "FAKECLOUD_COAP_DTLS_MAX_HALF_OPEN=8"});
  ASSERT_CONFIG(r);
  EXPECT_EQ(r.config->ports.coaps, 0);
  EXPECT_EQ(r.config->coap.dtlsCiphers, (std::vector<std::string>{"TLS_PSK_WITH_AES_128_CCM_8", "PSK-AES128-CBC-SHA"}));
  EXPECT_EQ(r.config->coap.dtlsHandshakeTimeoutMs, 5000u);
  EXPECT_EQ(r.config->coap.dtlsMaxHalfOpen, 8u);
  auto json = configFromJson(R"({"ports": {"coaps": 15684}, "coap": {"dtlsIdleTimeoutMs": 60000}})");
  ASSERT_CONFIG(json);
  EXPECT_EQ(json.config->ports.coaps, 15684);
  EXPECT_EQ(json.config->coap.dtlsIdleTimeoutMs, 60'000u);
  expectError(configFromJson(R"({"ports": {"coaps": 70000}})"), {"ports.coaps", "outside 0..65535"});
  expectError(configFromJson(R"({"coap": {"dtlsMaxHalfOpen": 0}})"), {"coap.dtlsMaxHalfOpen", "outside"});
}

}  // namespace
}  // namespace fc::server
