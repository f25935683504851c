// The results of a run and their two renderings: a text summary for people and a JSON report for
// scripts (the benchmark reads it). Pure: no I/O besides the strings they return.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "loadtest/histogram.hpp"
#include "loadtest/scenario.hpp"

namespace fc::loadtest {

/// What /proc said about the broker under test (--server-pid).
struct ServerSample {
  int pid = 0;
  std::uint64_t rssBeforeKb = 0;     ///< before the first connection
  std::uint64_t rssConnectedKb = 0;  ///< every connection set up (and subscribed)
  std::uint64_t rssEndKb = 0;        ///< end of the publish phase (for an idle fleet: after holding it)
  std::uint64_t rssPeakKb = 0;       ///< highest once-a-second sample
  double cpuPublishS = 0;            ///< user + system CPU seconds during the publish phase and drain
};

struct RunResults {
  Scenario scenario;
  std::string stopReason;  ///< "duration", "count", "interrupted", …
  double elapsedS = 0;
  unsigned threads = 0;

  // Open files: the soft limit as raised, the hard limit, and whether it caps the run.
  std::uint64_t nofileSoft = 0;
  std::uint64_t nofileHard = 0;
  bool nofileCapped = false;

  std::uint64_t connectionsTarget = 0;
  std::uint64_t connected = 0;
  std::uint64_t connectFailed = 0;
  std::uint64_t subscribed = 0;
  double connectSubscribersS = 0;  ///< first attempt → last CONNACK/SUBACK of the subscribers
  double connectPublishersS = 0;   ///< first attempt → last CONNACK of the publishers
  Histogram connectLatency;        ///< ns, TCP connect start → CONNACK (TLS handshake included)

  std::uint64_t sent = 0;
  std::uint64_t acked = 0;       ///< QoS 1/2: PUBACK / PUBCOMP received
  std::uint64_t expected = 0;    ///< Σ sent × subscribers that hear it (subscribed in time)
  std::uint64_t delivered = 0;   ///< unique deliveries at the subscribers
  std::uint64_t duplicates = 0;
  std::uint64_t outOfOrder = 0;
  std::uint64_t lost = 0;        ///< expected − delivered
  double publishS = 0;           ///< publish phase: start → stop
  double deliveryS = 0;          ///< publish start → last delivery, at least publishS
  Histogram latency;             ///< ns, payload timestamp → receipt

  std::map<std::string, std::uint64_t> errors;

  std::optional<ServerSample> server;
  double clientCpuS = 0;
  std::uint64_t clientMaxRssKb = 0;

  [[nodiscard]] double sentPerSec() const noexcept { return publishS > 0 ? static_cast<double>(sent) / publishS : 0; }
  [[nodiscard]] double deliveredPerSec() const noexcept {
    return deliveryS > 0 ? static_cast<double>(delivered) / deliveryS : 0;
  }
  [[nodiscard]] std::uint64_t errorCount() const noexcept;
};

nlohmann::json toJson(const RunResults& r);
std::string toText(const RunResults& r);

/// "12,345" — for summaries and the progress line.
std::string withCommas(std::uint64_t n);

}  // namespace fc::loadtest
