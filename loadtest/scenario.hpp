// What a load run does: the fleet, its traffic and where it goes. One table of options feeds the
// command line and the JSON scenario file (same keys), so both are validated the same way.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fc::loadtest {

enum class Topology : std::uint8_t {
  PointToPoint,  ///< publisher i → topic <prefix>/i ← subsPerTopic subscribers each
  FanIn,         ///< publisher i → topic <prefix>/i; every subscriber subscribes <prefix>/+
  FanOut,        ///< every publisher → <prefix>/all ← every subscriber
};

const char* topologyName(Topology t) noexcept;

struct Scenario {
  std::string dialect = "plain";
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  std::uint16_t tlsPort = 8883;
  std::string portsFile;  ///< fakecloud's --ports-file: sets port and tlsPort
  bool tls = false;
  std::string caFile;     ///< TLS: verify the server against this CA; empty = no verification
  std::vector<std::string> sourceAddresses;  ///< 127.0.0.x; connections take them in turn

  Topology topology = Topology::PointToPoint;
  std::uint32_t publishers = 10;
  std::uint32_t subscribers = 10;  ///< resolved: see resolveDefaults
  std::uint32_t subsPerTopic = 1;
  std::uint8_t qos = 0;
  std::uint32_t payloadSize = 64;

  double intervalMs = 1000;  ///< per publisher; 0 = as fast as the window allows
  double jitter = 0.1;       ///< ± this fraction of the interval
  std::uint32_t window = 8;  ///< interval 0: messages per publisher not yet received by all its subscribers
  std::uint32_t windowTimeoutMs = 5000;
  double durationS = 10;
  std::optional<std::uint64_t> count;  ///< messages per publisher

  double rampPerSec = 0;  ///< new connections per second; 0 = as fast as connectConcurrency allows
  std::uint32_t connectConcurrency = 500;
  std::uint32_t connectTimeoutMs = 10000;
  std::uint32_t drainTimeoutMs = 5000;
  std::uint16_t keepAlive = 60;
  std::uint32_t threads = 0;  ///< 0 = one per core

  std::string topicPrefix;     ///< default fcload/<run id>
  std::string clientIdPrefix;  ///< default fcl-<run id>
  std::string jsonReport;      ///< --json FILE
  int serverPid = 0;           ///< sample this process's RSS and CPU time
  bool progress = true;

  [[nodiscard]] std::uint32_t connections() const noexcept { return publishers + subscribers; }
  [[nodiscard]] std::uint16_t targetPort() const noexcept { return tls ? tlsPort : port; }
};

nlohmann::json toJson(const Scenario& s);

/// The outcome of reading options: a scenario, or an exit code with a message (help text: code 0).
struct ScenarioResult {
  std::optional<Scenario> scenario;
  int exitCode = 0;
  std::string message;
};

/// Flags over `--scenario FILE` over defaults. Errors give exit code 2 and a message naming the key.
ScenarioResult parseCommandLine(int argc, const char* const* argv);
/// A JSON scenario document on its own (the same keys as the file).
ScenarioResult scenarioFromJson(const std::string& text);

// --- the topology, as pure functions of the scenario --------------------------------------------

std::string publishTopic(const Scenario& s, std::uint32_t publisher);
std::string subscribeFilter(const Scenario& s, std::uint32_t subscriber);
/// Point-to-point: the one publisher subscriber `j` hears, if any. Fan-in/out: nullopt (it hears all).
std::optional<std::uint32_t> soleSource(const Scenario& s, std::uint32_t subscriber);
/// Whether subscriber `j` receives what publisher `i` sends.
bool hears(const Scenario& s, std::uint32_t subscriber, std::uint32_t publisher);

}  // namespace fc::loadtest
