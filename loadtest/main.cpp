// fakecloud-load: options → open-files limit → run → summary (stdout) and --json report.
// Exit codes: 0 the run completed (read the report for losses), 1 it could not run or nothing
// connected, 2 invalid options.
#include <sys/resource.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "loadtest/fleet.hpp"
#include "loadtest/report.hpp"
#include "loadtest/scenario.hpp"

namespace {

std::atomic<bool> gInterrupted{false};

extern "C" void onSignal(int sig) {
  gInterrupted.store(true);
  std::signal(sig, SIG_DFL);  // a second Ctrl-C ends the process at once
}

struct NofileLimit {
  std::uint64_t soft = 0;
  std::uint64_t hard = 0;
  bool capped = false;
};

/// Raises the soft open-files limit as far as the hard limit allows; says so when that is not enough.
NofileLimit raiseNofile(std::uint64_t connections) {
  constexpr std::uint64_t kSpare = 64;  // stdio, epoll, eventfds, the report file…
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const std::uint64_t need = connections + kSpare;
  if (rl.rlim_cur < need && rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max == RLIM_INFINITY ? need : std::min<rlim_t>(rl.rlim_max, need);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  NofileLimit n{rl.rlim_cur, rl.rlim_max == RLIM_INFINITY ? UINT64_MAX : rl.rlim_max, rl.rlim_cur < need};
  if (n.capped)
    std::cerr << "fakecloud-load: the open-files limit (soft " << n.soft << ", hard " << n.hard << ") allows about "
              << (n.soft > kSpare ? n.soft - kSpare : 0) << " of the " << connections
              << " connections; the rest will fail with 'Too many open files'. Raise the hard limit "
                 "(as root: ulimit -Hn, or prlimit --nofile) to run them all.\n";
  return n;
}

void printProgress(const fc::loadtest::Progress& p, bool tty) {
  using fc::loadtest::withCommas;
  const std::string failed = p.failed ? " (" + withCommas(p.failed) + " failed)" : "";
  char line[256];
  std::snprintf(line, sizeof line, "[%6.1fs] %-11s connected %s/%s%s  sent %s/s  delivered %s/s  errors %s",
                p.elapsedS, p.phase, withCommas(p.connected).c_str(), withCommas(p.target).c_str(), failed.c_str(),
                withCommas(static_cast<std::uint64_t>(p.sentPerSec)).c_str(),
                withCommas(static_cast<std::uint64_t>(p.deliveredPerSec)).c_str(), withCommas(p.errors).c_str());
  if (tty) std::fprintf(stderr, "\r\033[K%s", line);  // rewrite the line in place
  else std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = fc::loadtest::parseCommandLine(argc, argv);
  if (!parsed.scenario) {
    (parsed.exitCode == 0 ? std::cout : std::cerr) << parsed.message << "\n";
    return parsed.exitCode;
  }
  const auto& scenario = *parsed.scenario;
  const auto nofile = raiseNofile(scenario.connections());

  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGPIPE, SIG_IGN);

  const bool tty = isatty(STDERR_FILENO) == 1;
  bool printed = false;
  fc::loadtest::FleetHooks hooks;
  hooks.interrupted = &gInterrupted;
  if (scenario.progress)
    hooks.onProgress = [&](const fc::loadtest::Progress& p) {
      printProgress(p, tty);
      printed = true;
    };

  fc::loadtest::RunResults results;
  try {
    results = fc::loadtest::runFleet(scenario, hooks);
  } catch (const std::exception& e) {
    if (printed && tty) std::fputc('\n', stderr);
    std::cerr << "fakecloud-load: " << e.what() << "\n";
    return 1;
  }
  if (printed && tty) std::fputc('\n', stderr);
  results.nofileSoft = nofile.soft;
  results.nofileHard = nofile.hard;
  results.nofileCapped = nofile.capped;

  std::cout << fc::loadtest::toText(results) << std::flush;
  if (!scenario.jsonReport.empty()) {
    std::ofstream out(scenario.jsonReport);
    out << fc::loadtest::toJson(results).dump(2) << "\n";
    if (!out) {
      std::cerr << "fakecloud-load: cannot write " << scenario.jsonReport << "\n";
      return 1;
    }
  }
  return results.connected == 0 ? 1 : 0;
}
