// The fakecloud process: readiness, configuration errors, environment overrides, shutdown.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "client/sync_mqtt_client.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

TEST(App, ServesHealthAndReadinessAndWritesThePortsFile) {
  ServerProcess server;
  EXPECT_NE(server.mqttPort(), 0);
  EXPECT_NE(server.mqttsPort(), 0);
  EXPECT_NE(server.httpPort(), 0);
  auto health = httpRequest(server.httpPort(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(nlohmann::json::parse(health.body)["status"], "ok");
  auto ready = httpRequest(server.httpPort(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  auto missing = httpRequest(server.httpPort(), "GET", "/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["code"], "not_found");
  auto wrongMethod = httpRequest(server.httpPort(), "POST", "/healthz", "{}");
  EXPECT_EQ(wrongMethod.status, 405);
}

TEST(App, SigtermStopsPromptlyWithExitCode0) {
  ServerProcess server;
  client::SyncMqttClient c(server.mqtt("lingering"));
  ASSERT_TRUE(c.connect());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST(App, EnvironmentOverridesTheFileAndFlagsOverrideBoth) {
  // File says 1 s connect timeout; env says 300 ms; a silent socket must be closed well before 1 s.
  ServerProcess server({.configJson = R"({"mqtt": {"connectTimeoutMs": 60000}})",
                        .env = {"FAKECLOUD_MQTT_CONNECT_TIMEOUT_MS=300"}});
  RawConnection raw(server.mqttPort());
  EXPECT_TRUE(raw.closedByPeer(2s));
}

int runAndWait(const std::vector<std::string>& args, std::string* output) {
  TempDir dir;
  const auto out = dir.path() + "/out.txt";
  std::string cmd = fakecloudBinary();
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " > " + out + " 2>&1";
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return WEXITSTATUS(status);
}

TEST(App, InvalidConfigExitsWith2NamingTheKey) {
  TempDir dir;
  const auto config = dir.path() + "/bad.json";
  std::string out;

  std::ofstream(config) << R"({"ports": {"mqtt": 70000}})";
  EXPECT_EQ(runAndWait({"--config", config}, &out), 2);
  EXPECT_NE(out.find("ports.mqtt"), std::string::npos) << out;
  EXPECT_NE(out.find("outside"), std::string::npos) << out;

  std::ofstream(config) << R"({"mqtt": {"maxInflite": 5}})";
  EXPECT_EQ(runAndWait({"--config", config}, &out), 2);
  EXPECT_NE(out.find("mqtt.maxInflite: unknown key"), std::string::npos) << out;

  std::ofstream(config) << R"({"log": {"format": "xml"}})";
  EXPECT_EQ(runAndWait({"--config", config}, &out), 2);
  EXPECT_NE(out.find("log.format"), std::string::npos) << out;

  std::ofstream(config) << R"({ not json )";
  EXPECT_EQ(runAndWait({"--config", config}, &out), 2);
  EXPECT_NE(out.find("not valid JSON"), std::string::npos) << out;

  EXPECT_EQ(runAndWait({"--mqtt-port", "many"}, &out), 2);
  EXPECT_NE(out.find("ports.mqtt"), std::string::npos) << out;

  EXPECT_EQ(runAndWait({"--no-such-flag"}, &out), 2);
}

TEST(App, HelpDocumentsEveryOption) {
  std::string out;
  EXPECT_EQ(runAndWait({"--help"}, &out), 0);
  for (const char* flag : {"--config", "--data-dir", "--db", "--bind", "--mqtt-port", "--mqtts-port", "--mqtts-mtls-port",
                           "--http-port", "--https-port", "--api-token", "--ports-file", "--log-level", "--log-format",
                           "--tls-client-certs", "--tls-ciphers", "--ota-max-firmware-bytes", "--ota-http-base-url",
                           "--ota-https-base-url", "FAKECLOUD_MQTT_MAX_INFLIGHT"})
    EXPECT_NE(out.find(flag), std::string::npos) << flag;
  // Issue 13 §7: the help describes what exists; there is no web console yet.
  std::string lower = out;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(lower.find("console"), std::string::npos);
}

TEST(App, JsonLogFormatWritesOneObjectPerLine) {
  ServerProcess server({.args = {"--log-format", "json"}});
  server.stop();
  std::istringstream lines(server.log());
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    ++parsed;
  }
  EXPECT_GE(parsed, 2);
}

}  // namespace
}  // namespace fc::test
