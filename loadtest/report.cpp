#include "loadtest/report.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <sstream>

namespace fc::loadtest {
namespace {

using nlohmann::json;

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

/// 3 significant decimals of milliseconds, i.e. microsecond resolution.
double round3(double v) { return static_cast<double>(static_cast<std::int64_t>(v * 1000.0 + 0.5)) / 1000.0; }

json latencyJson(const Histogram& h) {
  return {{"count", h.count()},
          {"mean", round3(h.mean() / 1e6)},
          {"p50", round3(ms(h.percentile(50)))},
          {"p90", round3(ms(h.percentile(90)))},
          {"p99", round3(ms(h.percentile(99)))},
          {"p999", round3(ms(h.percentile(99.9)))},
          {"max", round3(ms(h.max()))}};
}

std::string fmtMs(std::uint64_t ns) {
  char buf[32];
  const double v = ms(ns);
  if (v < 10) std::snprintf(buf, sizeof buf, "%.3f ms", v);
  else if (v < 1000) std::snprintf(buf, sizeof buf, "%.1f ms", v);
  else std::snprintf(buf, sizeof buf, "%.2f s", v / 1000);
  return buf;
}

std::string fmt(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string latencyLine(const Histogram& h) {
  if (h.count() == 0) return "no samples";
  return "p50 " + fmtMs(h.percentile(50)) + "  p90 " + fmtMs(h.percentile(90)) + "  p99 " + fmtMs(h.percentile(99)) +
         "  p99.9 " + fmtMs(h.percentile(99.9)) + "  max " + fmtMs(h.max()) + "  (" + withCommas(h.count()) +
         " samples)";
}

}  // namespace

std::string withCommas(std::uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::uint64_t RunResults::errorCount() const noexcept {
  std::uint64_t n = 0;
  for (const auto& [_, c] : errors) n += c;
  return n;
}

json toJson(const RunResults& r) {
  json j;
  j["scenario"] = toJson(r.scenario);
  j["stopReason"] = r.stopReason;
  j["elapsedS"] = round3(r.elapsedS);
  j["threads"] = r.threads;
  j["limits"] = {{"nofileSoft", r.nofileSoft}, {"nofileHard", r.nofileHard}, {"cappedByNofile", r.nofileCapped}};
  j["connections"] = {{"target", r.connectionsTarget},
                      {"connected", r.connected},
                      {"failed", r.connectFailed},
                      {"subscribed", r.subscribed},
                      {"subscribersPhaseS", round3(r.connectSubscribersS)},
                      {"publishersPhaseS", round3(r.connectPublishersS)},
                      {"phaseS", round3(r.connectSubscribersS + r.connectPublishersS)},
                      {"latencyMs", latencyJson(r.connectLatency)}};
  j["messages"] = {{"sent", r.sent},
                   {"acked", r.acked},
                   {"expected", r.expected},
                   {"delivered", r.delivered},
                   {"lost", r.lost},
                   {"duplicated", r.duplicates},
                   {"outOfOrder", r.outOfOrder},
                   {"publishS", round3(r.publishS)},
                   {"deliveryS", round3(r.deliveryS)},
                   {"sentPerSec", round3(r.sentPerSec())},
                   {"deliveredPerSec", round3(r.deliveredPerSec())}};
  j["latencyMs"] = latencyJson(r.latency);
  j["errors"] = json::object();
  for (const auto& [k, v] : r.errors) j["errors"][k] = v;
  j["errorCount"] = r.errorCount();
  if (r.server) {
    const auto& s = *r.server;
    json sj = {{"pid", s.pid},
               {"rssBeforeKb", s.rssBeforeKb},
               {"rssConnectedKb", s.rssConnectedKb},
               {"rssEndKb", s.rssEndKb},
               {"rssPeakKb", s.rssPeakKb},
               {"cpuPublishS", round3(s.cpuPublishS)}};
    if (r.connected > 0 && s.rssEndKb >= s.rssBeforeKb)
      sj["rssPerConnectionBytes"] = round3(static_cast<double>(s.rssEndKb - s.rssBeforeKb) * 1024.0 /
                                           static_cast<double>(r.connected));
    if (r.delivered > 0) sj["cpuUsPerDelivered"] = round3(s.cpuPublishS * 1e6 / static_cast<double>(r.delivered));
    j["server"] = sj;
  }
  j["client"] = {{"cpuS", round3(r.clientCpuS)}, {"maxRssKb", r.clientMaxRssKb}};
  return j;
}

std::string toText(const RunResults& r) {
  const auto& s = r.scenario;
  std::ostringstream o;
  o << "fakecloud-load: " << s.dialect << " MQTT, " << topologyName(s.topology) << ", " << s.publishers
    << " publishers → " << s.subscribers << " subscribers, QoS " << int(s.qos) << ", " << s.payloadSize
    << "-byte payload, ";
  if (s.intervalMs > 0) o << "every " << fmt(s.intervalMs, s.intervalMs < 10 ? 2 : 0) << " ms per publisher";
  else o << "max rate (window " << s.window << ")";
  o << "\n  target " << s.host << ":" << s.targetPort() << (s.tls ? " (TLS)" : "") << ", " << r.threads
    << " threads, stopped by " << r.stopReason << " after " << fmt(r.elapsedS, 1) << " s\n";

  o << "connections  " << withCommas(r.connected) << "/" << withCommas(r.connectionsTarget) << " connected, "
    << withCommas(r.connectFailed) << " failed";
  if (s.subscribers > 0) o << ", " << withCommas(r.subscribed) << " subscribed";
  o << "; set-up " << fmt(r.connectSubscribersS + r.connectPublishersS, 2) << " s";
  if (s.subscribers > 0 && s.publishers > 0)
    o << " (subscribers " << fmt(r.connectSubscribersS, 2) << " s, publishers " << fmt(r.connectPublishersS, 2)
      << " s)";
  o << "\n  connect    " << latencyLine(r.connectLatency) << "\n";

  o << "messages     sent " << withCommas(r.sent) << " (" << withCommas(static_cast<std::uint64_t>(r.sentPerSec()))
    << "/s)  delivered " << withCommas(r.delivered) << " of " << withCommas(r.expected) << " ("
    << withCommas(static_cast<std::uint64_t>(r.deliveredPerSec())) << "/s)\n"
    << "             lost " << withCommas(r.lost) << "  duplicated " << withCommas(r.duplicates)
    << "  out of order " << withCommas(r.outOfOrder);
  if (s.qos > 0) o << "  acknowledged " << withCommas(r.acked) << "/" << withCommas(r.sent);
  o << "\n  latency    " << latencyLine(r.latency) << "\n";

  o << "errors       ";
  if (r.errors.empty()) o << "none\n";
  else {
    bool first = true;
    for (const auto& [k, v] : r.errors) {
      o << (first ? "" : "\n             ") << withCommas(v) << " × " << k;
      first = false;
    }
    o << "\n";
  }
  if (r.server) {
    const auto& sv = *r.server;
    o << "server       pid " << sv.pid << ": RSS " << fmt(sv.rssBeforeKb / 1024.0, 1) << " MB before → "
      << fmt(sv.rssConnectedKb / 1024.0, 1) << " MB set up → " << fmt(sv.rssEndKb / 1024.0, 1) << " MB at end (peak "
      << fmt(sv.rssPeakKb / 1024.0, 1) << " MB)";
    if (r.connected > 0 && sv.rssEndKb >= sv.rssBeforeKb)
      o << ", " << fmt(static_cast<double>(sv.rssEndKb - sv.rssBeforeKb) * 1024.0 / static_cast<double>(r.connected), 0)
        << " B/connection";
    o << "\n             CPU " << fmt(sv.cpuPublishS, 2) << " s while publishing";
    if (r.delivered > 0) o << " (" << fmt(sv.cpuPublishS * 1e6 / static_cast<double>(r.delivered), 2) << " µs/delivery)";
    o << "\n";
  }
  o << "client       CPU " << fmt(r.clientCpuS, 2) << " s, max RSS " << fmt(r.clientMaxRssKb / 1024.0, 1)
    << " MB; open files " << r.nofileSoft << " (hard " << r.nofileHard << ")"
    << (r.nofileCapped ? " — CAPPED the run: raise the hard limit (ulimit -Hn / prlimit)" : "") << "\n";
  return o.str();
}

}  // namespace fc::loadtest
