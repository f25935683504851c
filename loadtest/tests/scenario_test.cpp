#include "loadtest/scenario.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace fc::loadtest {
namespace {

ScenarioResult parse(std::vector<std::string> args) {
  args.insert(args.begin(), "fakecloud-load");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parseCommandLine(static_cast<int>(argv.size()), argv.data());
}

/// A file removed at the end of the test.
struct TempFile {
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/fcload-test-XXXXXX";
    const int fd = mkstemp(name);
    close(fd);
    path = name;
    std::ofstream(path) << content;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

TEST(Scenario, Defaults) {
  auto r = parse({});
  ASSERT_TRUE(r.scenario) << r.message;
  const auto& s = *r.scenario;
  EXPECT_EQ(s.dialect, "plain");
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 1883);
  EXPECT_EQ(s.topology, Topology::PointToPoint);
  EXPECT_EQ(s.subscribers, s.publishers);  // p2p: one subscriber per publisher
  EXPECT_EQ(s.durationS, 10);
  EXPECT_FALSE(s.count);
  EXPECT_TRUE(s.topicPrefix.starts_with("fcload/"));
  EXPECT_TRUE(s.clientIdPrefix.starts_with("fcl-"));
}

TEST(Scenario, Flags) {
  auto r = parse({"--publishers", "1000", "--subs-per-topic", "3", "--qos", "1", "--payload-size", "256",
                  "--interval-ms", "0", "--window", "4", "--tls", "--tls-port", "18883", "--source",
                  "127.0.0.2,127.0.0.3", "--ramp", "500", "--count", "100", "--json", "out.json"});
  ASSERT_TRUE(r.scenario) << r.message;
  const auto& s = *r.scenario;
  EXPECT_EQ(s.publishers, 1000u);
  EXPECT_EQ(s.subscribers, 3000u);
  EXPECT_EQ(s.qos, 1);
  EXPECT_EQ(s.payloadSize, 256u);
  EXPECT_EQ(s.intervalMs, 0);
  EXPECT_EQ(s.window, 4u);
  EXPECT_TRUE(s.tls);
  EXPECT_EQ(s.targetPort(), 18883);
  EXPECT_EQ(s.sourceAddresses, (std::vector<std::string>{"127.0.0.2", "127.0.0.3"}));
  EXPECT_EQ(s.rampPerSec, 500);
  ASSERT_TRUE(s.count);
  EXPECT_EQ(*s.count, 100u);
  EXPECT_EQ(s.durationS, 3600);  // --count alone: duration is only a safety bound
  EXPECT_EQ(s.jsonReport, "out.json");
}

TEST(Scenario, TopologyDefaults) {
  auto in = parse({"--topology", "fan-in", "--publishers", "1000"});
  ASSERT_TRUE(in.scenario) << in.message;
  EXPECT_EQ(in.scenario->subscribers, 1u);
  auto out = parse({"--topology", "fan-out", "--publishers", "5", "--subscribers", "1000"});
  ASSERT_TRUE(out.scenario) << out.message;
  EXPECT_EQ(out.scenario->subscribers, 1000u);
  auto missing = parse({"--topology", "fan-out", "--publishers", "5"});
  EXPECT_EQ(missing.exitCode, 2);
  EXPECT_NE(missing.message.find("subscribers"), std::string::npos) << missing.message;
}

TEST(Scenario, FileWithTheSameKeysAndFlagsOverIt) {
  TempFile f(R"({
    // comments are allowed
    "topology": "fan-out", "publishers": 5, "subscribers": 1000, "qos": 1,
    "intervalMs": 0, "durationS": 3, "sourceAddresses": ["127.0.0.1", "127.0.0.2"], "tls": true
  })");
  auto r = parse({"--scenario", f.path, "--qos", "0", "--no-tls"});
  ASSERT_TRUE(r.scenario) << r.message;
  const auto& s = *r.scenario;
  EXPECT_EQ(s.topology, Topology::FanOut);
  EXPECT_EQ(s.publishers, 5u);
  EXPECT_EQ(s.subscribers, 1000u);
  EXPECT_EQ(s.qos, 0);  // the flag wins
  EXPECT_FALSE(s.tls);  // so does --no-tls
  EXPECT_EQ(s.durationS, 3);
  EXPECT_EQ(s.sourceAddresses.size(), 2u);
}

TEST(Scenario, JsonReportRoundTrips) {
  auto r = parse({"--topology", "fan-in", "--publishers", "7", "--qos", "2", "--count", "9"});
  ASSERT_TRUE(r.scenario) << r.message;
  auto again = scenarioFromJson(toJson(*r.scenario).dump());
  ASSERT_TRUE(again.scenario) << again.message;
  EXPECT_EQ(toJson(*again.scenario), toJson(*r.scenario));
}

TEST(Scenario, InvalidOptionsExit2WithAMessage) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"--dialect", "aliyun"}, "only 'plain'"},
      {{"--host", "10.0.0.1"}, "loopback"},
      {{"--host", "example.com"}, "loopback"},
      {{"--source", "192.168.1.2"}, "127.0.0.0/8"},
      {{"--qos", "3"}, "qos"},
      {{"--payload-size", "10"}, "payloadSize"},
      {{"--publishers", "-1"}, "publishers"},
      {{"--publishers", "ten"}, "not an integer"},
      {{"--interval-ms", "fast"}, "not a number"},
      {{"--topology", "mesh"}, "p2p, fan-in, fan-out"},
      {{"--topology", "fan-in", "--subs-per-topic", "2"}, "p2p"},
      {{"--publishers", "0", "--subscribers", "0"}, "nothing to do"},
      {{"--frobnicate"}, "frobnicate"},
      {{"--scenario", "/nonexistent/scenario.json"}, "cannot read"},
      {{"--ports-file", "/nonexistent/ports.json"}, "cannot read"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.args);
    EXPECT_FALSE(r.scenario) << c.args[0];
    EXPECT_EQ(r.exitCode, 2) << c.args[0];
    EXPECT_NE(r.message.find(c.mentions), std::string::npos) << c.args[0] << ": " << r.message;
  }
}

TEST(Scenario, UnknownOrMistypedKeysInAFile) {
  auto unknown = scenarioFromJson(R"({"publishrs": 5})");
  EXPECT_EQ(unknown.exitCode, 2);
  EXPECT_NE(unknown.message.find("publishrs: unknown key"), std::string::npos) << unknown.message;
  auto typed = scenarioFromJson(R"({"publishers": "5"})");
  EXPECT_EQ(typed.exitCode, 2);
  EXPECT_NE(typed.message.find("must be an integer"), std::string::npos) << typed.message;
  auto broken = scenarioFromJson("{");
  EXPECT_EQ(broken.exitCode, 2);
}

TEST(Scenario, HelpExits0) {
  auto r = parse({"--help"});
  EXPECT_FALSE(r.scenario);
  EXPECT_EQ(r.exitCode, 0);
  EXPECT_NE(r.message.find("--interval-ms"), std::string::npos);
  EXPECT_NE(r.message.find("[intervalMs]"), std::string::npos);  // the JSON key of each flag
}

TEST(Scenario, PortsFile) {
  TempFile f(R"({"http":8080,"mqtt":41883,"mqtts":48883})");
  auto r = parse({"--ports-file", f.path, "--host", "localhost"});
  ASSERT_TRUE(r.scenario) << r.message;
  EXPECT_EQ(r.scenario->port, 41883);
  EXPECT_EQ(r.scenario->tlsPort, 48883);
  EXPECT_EQ(r.scenario->host, "127.0.0.1");
}

TEST(ScenarioTopology, PointToPoint) {
  auto r = parse({"--publishers", "3", "--subs-per-topic", "2", "--topic-prefix", "t"});
  ASSERT_TRUE(r.scenario);
  const auto& s = *r.scenario;
  EXPECT_EQ(publishTopic(s, 2), "t/2");
  EXPECT_EQ(subscribeFilter(s, 0), "t/0");
  EXPECT_EQ(subscribeFilter(s, 1), "t/0");
  EXPECT_EQ(subscribeFilter(s, 5), "t/2");
  EXPECT_EQ(soleSource(s, 5), 2u);
  EXPECT_TRUE(hears(s, 4, 2));
  EXPECT_FALSE(hears(s, 4, 1));
  EXPECT_FALSE(hears(s, 0, 3));  // no such publisher
}

TEST(ScenarioTopology, IdleSubscribersEachHoldTheirOwnTopic) {
  auto r = parse({"--publishers", "0", "--subscribers", "4", "--topic-prefix", "t"});
  ASSERT_TRUE(r.scenario) << r.message;
  EXPECT_EQ(subscribeFilter(*r.scenario, 3), "t/3");
  EXPECT_FALSE(soleSource(*r.scenario, 3));
}

TEST(ScenarioTopology, FanInAndFanOut) {
  auto in = parse({"--topology", "fan-in", "--publishers", "3", "--topic-prefix", "t"});
  ASSERT_TRUE(in.scenario);
  EXPECT_EQ(publishTopic(*in.scenario, 1), "t/1");
  EXPECT_EQ(subscribeFilter(*in.scenario, 0), "t/+");
  EXPECT_FALSE(soleSource(*in.scenario, 0));
  EXPECT_TRUE(hears(*in.scenario, 0, 2));
  auto out = parse({"--topology", "fan-out", "--publishers", "3", "--subscribers", "9", "--topic-prefix", "t"});
  ASSERT_TRUE(out.scenario);
  EXPECT_EQ(publishTopic(*out.scenario, 1), "t/all");
  EXPECT_EQ(subscribeFilter(*out.scenario, 8), "t/all");
  EXPECT_TRUE(hears(*out.scenario, 8, 0));
}

}  // namespace
}  // namespace fc::loadtest
