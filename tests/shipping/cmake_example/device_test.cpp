// A host test of "firmware" against the fakecloud of the CTest fixture: the device of fixtures.json
// signs in over MQTT with TLS (trusting FAKECLOUD_CA) and reports telemetry, and a wrong secret is
// refused. The ports come from the environment that fakecloud_add_test() sets.
#include <cstdlib>
#include <iostream>
#include <string>

#include "client/sync_mqtt_client.hpp"

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok - " : "not ok - ") << what << std::endl;
  if (!ok) ++failures;
}

std::string env(const char* name) {
  const char* value = std::getenv(name);
  if (!value) {
    std::cerr << name << " is not set: run this test through fakecloud_add_test()" << std::endl;
    std::exit(2);
  }
  return value;
}

fc::client::MqttOptions device(const std::string& secret) {
  fc::client::MqttOptions o;
  o.host = env("FAKECLOUD_HOST");
  o.port = static_cast<std::uint16_t>(std::stoi(env("FAKECLOUD_MQTTS_PORT")));
  o.tls = fc::client::TlsOptions{.caFile = env("FAKECLOUD_CA"), .serverName = "localhost"};
  o.clientId = "thermo-1";
  o.username = "thermo-1";
  o.password = secret;
  return o;
}

}  // namespace

int main() {
  {
    fc::client::SyncMqttClient client(device("s3cret"));
    auto connack = client.connect();
    check(connack && connack->returnCode == fc::mqtt::ConnectReturn::Accepted,
          "the fixture's device signs in over TLS");
    if (connack) {
      auto error = client.publish("devices/thermo-1/telemetry", R"({"temperature":21.5})", fc::mqtt::QoS::AtLeastOnce);
      check(!error, "its telemetry is acknowledged (PUBACK)");
      client.disconnect();
    }
  }
  {
    fc::client::SyncMqttClient client(device("wrong"));
    auto connack = client.connect();
    check(connack && connack->returnCode == fc::mqtt::ConnectReturn::BadUsernameOrPassword,
          "a wrong secret gets CONNACK 0x04");
  }
  return failures == 0 ? 0 : 1;
}
