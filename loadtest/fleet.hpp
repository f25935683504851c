// The fleet engine: lean MQTT connections driven directly by the protocols/ codec on a few
// io_contexts (one thread each, no strands), and the controller that takes a run through its
// phases: connect subscribers → connect publishers → publish → drain → disconnect.
// Asio stays inside fleet.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "loadtest/report.hpp"
#include "loadtest/scenario.hpp"

namespace fc::loadtest {

/// A once-a-second snapshot for the progress line.
struct Progress {
  double elapsedS = 0;
  const char* phase = "";
  std::uint64_t target = 0;      ///< connections
  std::uint64_t connected = 0;
  std::uint64_t failed = 0;
  std::uint64_t sent = 0;        ///< totals so far
  std::uint64_t delivered = 0;
  double sentPerSec = 0;         ///< over the last second
  double deliveredPerSec = 0;
  std::uint64_t errors = 0;
};

struct FleetHooks {
  std::function<void(const Progress&)> onProgress;  ///< called from the calling thread, about once a second
  const std::atomic<bool>* interrupted = nullptr;   ///< set (e.g. by SIGINT): stop publishing, drain, report
};

/// Runs `scenario` to its end and returns what the receivers measured. Blocks the calling thread.
RunResults runFleet(const Scenario& scenario, const FleetHooks& hooks);

}  // namespace fc::loadtest
