// Options of fakecloud-load. Every option is one row of kOptions: its JSON key, its flag, its help,
// its type and bounds and how to apply it. A scenario file and the flags are merged into one JSON
// document (flags win), which is then validated once, so both report errors the same way.
#include "loadtest/scenario.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace fc::loadtest {
namespace {

using nlohmann::json;

/// A problem with one key; becomes exit code 2 and "fakecloud-load: <key>: <problem>".
struct OptionError : std::runtime_error {
  OptionError(const std::string& key, const std::string& problem) : std::runtime_error(key + ": " + problem) {}
};

enum class Kind { String, Int, Double, Bool, Enum, StringList };

struct Option {
  const char* key;
  const char* flag;
  const char* help;
  Kind kind;
  double min = 0;
  double max = 0;
  std::vector<std::string> choices = {};
  std::function<void(Scenario&, const json&)> apply = {};
};

template <class T>
T asInt(const json& v) {
  return static_cast<T>(v.get<std::int64_t>());
}

Topology topologyOf(const std::string& s) {
  if (s == "fan-in") return Topology::FanIn;
  if (s == "fan-out") return Topology::FanOut;
  return Topology::PointToPoint;
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"dialect", "--dialect", "Device dialect; only 'plain' (plain MQTT) exists so far", Kind::String, 0, 0, {},
       [](Scenario& s, const json& v) { s.dialect = v.get<std::string>(); }},
      {"host", "--host", "Target broker: localhost or an address in 127.0.0.0/8", Kind::String, 0, 0, {},
       [](Scenario& s, const json& v) { s.host = v.get<std::string>(); }},
      {"port", "--port", "MQTT port", Kind::Int, 1, 65535, {},
       [](Scenario& s, const json& v) { s.port = asInt<std::uint16_t>(v); }},
      {"tlsPort", "--tls-port", "MQTT over TLS port", Kind::Int, 1, 65535, {},
       [](Scenario& s, const json& v) { s.tlsPort = asInt<std::uint16_t>(v); }},
      {"portsFile", "--ports-file", "Read port and tlsPort from fakecloud's --ports-file JSON", Kind::String, 0, 0,
       {}, [](Scenario& s, const json& v) { s.portsFile = v.get<std::string>(); }},
      {"tls", "--tls", "Connect over TLS (to tlsPort)", Kind::Bool, 0, 0, {},
       [](Scenario& s, const json& v) { s.tls = v.get<bool>(); }},
      {"caFile", "--ca-file", "TLS: verify the server with this CA (PEM); without it the server is not verified",
       Kind::String, 0, 0, {}, [](Scenario& s, const json& v) { s.caFile = v.get<std::string>(); }},
      {"sourceAddresses", "--source",
       "Local source addresses in 127.0.0.0/8, comma-separated; each gives ~28k more ports to one target",
       Kind::StringList, 0, 0, {},
       [](Scenario& s, const json& v) { s.sourceAddresses = v.get<std::vector<std::string>>(); }},
      {"topology", "--topology",
       "p2p (publisher i → its topic → subsPerTopic subscribers), fan-in (every subscriber hears every "
       "publisher through <prefix>/+) or fan-out (every publisher → one topic → every subscriber)",
       Kind::Enum, 0, 0, {"p2p", "fan-in", "fan-out"},
       [](Scenario& s, const json& v) { s.topology = topologyOf(v.get<std::string>()); }},
      {"publishers", "--publishers", "Publishing devices", Kind::Int, 0, 1'000'000, {},
       [](Scenario& s, const json& v) { s.publishers = asInt<std::uint32_t>(v); }},
      {"subscribers", "--subscribers",
       "Subscribing devices (default: publishers × subsPerTopic for p2p, 1 for fan-in; required for fan-out)",
       Kind::Int, 0, 1'000'000, {}, [](Scenario& s, const json& v) { s.subscribers = asInt<std::uint32_t>(v); }},
      {"subsPerTopic", "--subs-per-topic", "p2p: subscribers per publisher topic", Kind::Int, 1, 100'000, {},
       [](Scenario& s, const json& v) { s.subsPerTopic = asInt<std::uint32_t>(v); }},
      {"qos", "--qos", "QoS of publications and subscriptions", Kind::Int, 0, 2, {},
       [](Scenario& s, const json& v) { s.qos = asInt<std::uint8_t>(v); }},
      {"payloadSize", "--payload-size", "Payload bytes (≥ 24: publisher, sequence number, timestamp)", Kind::Int,
       24, 16 * 1024 * 1024, {}, [](Scenario& s, const json& v) { s.payloadSize = asInt<std::uint32_t>(v); }},
      {"intervalMs", "--interval-ms",
       "Publish interval per publisher, ms; 0 = as fast as the window allows (throughput runs)", Kind::Double, 0,
       3'600'000, {}, [](Scenario& s, const json& v) { s.intervalMs = v.get<double>(); }},
      {"jitter", "--jitter", "Interval jitter, ± this fraction of the interval", Kind::Double, 0, 1, {},
       [](Scenario& s, const json& v) { s.jitter = v.get<double>(); }},
      {"window", "--window",
       "Interval 0: messages per publisher sent but not yet received by all its subscribers", Kind::Int, 1, 65535,
       {}, [](Scenario& s, const json& v) { s.window = asInt<std::uint32_t>(v); }},
      {"windowTimeoutMs", "--window-timeout-ms",
       "Interval 0: a window that does not move for this long is written off (lost messages) and reopened",
       Kind::Int, 10, 600'000, {}, [](Scenario& s, const json& v) { s.windowTimeoutMs = asInt<std::uint32_t>(v); }},
      {"durationS", "--duration", "Publishing time, seconds (default 10; 3600 when only --count is given)",
       Kind::Double, 0, 86'400, {}, [](Scenario& s, const json& v) { s.durationS = v.get<double>(); }},
      {"count", "--count", "Messages per publisher (publishing stops at --count or --duration)", Kind::Int, 0,
       1e15, {}, [](Scenario& s, const json& v) { s.count = v.get<std::uint64_t>(); }},
      {"rampPerSec", "--ramp", "Connection ramp, new connections per second (0: as fast as possible)", Kind::Double,
       0, 10'000'000, {}, [](Scenario& s, const json& v) { s.rampPerSec = v.get<double>(); }},
      {"connectConcurrency", "--connect-concurrency", "Connection attempts in progress at once", Kind::Int, 1,
       1'000'000, {}, [](Scenario& s, const json& v) { s.connectConcurrency = asInt<std::uint32_t>(v); }},
      {"connectTimeoutMs", "--connect-timeout-ms", "TCP + TLS + CONNACK (+ SUBACK) must finish within this",
       Kind::Int, 10, 600'000, {}, [](Scenario& s, const json& v) { s.connectTimeoutMs = asInt<std::uint32_t>(v); }},
      {"drainTimeoutMs", "--drain-timeout-ms",
       "After publishing: wait at most this long for messages still on their way (less if nothing moves for 1 s)",
       Kind::Int, 0, 600'000, {}, [](Scenario& s, const json& v) { s.drainTimeoutMs = asInt<std::uint32_t>(v); }},
      {"keepAlive", "--keepalive", "MQTT keepalive, seconds (PINGREQ after half of it without sending)", Kind::Int,
       0, 65535, {}, [](Scenario& s, const json& v) { s.keepAlive = asInt<std::uint16_t>(v); }},
      {"threads", "--threads", "I/O threads, each with its own io_context (0: one per core)", Kind::Int, 0, 256, {},
       [](Scenario& s, const json& v) { s.threads = asInt<std::uint32_t>(v); }},
      {"topicPrefix", "--topic-prefix", "Topic prefix (default fcload/<run id>)", Kind::String, 0, 0, {},
       [](Scenario& s, const json& v) { s.topicPrefix = v.get<std::string>(); }},
      {"clientIdPrefix", "--client-id-prefix", "Client id prefix (default fcl-<run id>)", Kind::String, 0, 0, {},
       [](Scenario& s, const json& v) { s.clientIdPrefix = v.get<std::string>(); }},
      {"json", "--json", "Write a machine-readable report to this file", Kind::String, 0, 0, {},
       [](Scenario& s, const json& v) { s.jsonReport = v.get<std::string>(); }},
      {"serverPid", "--server-pid", "Sample this process's RSS and CPU time (the broker under test)", Kind::Int, 0,
       4'194'304, {}, [](Scenario& s, const json& v) { s.serverPid = asInt<int>(v); }},
      {"progress", "--progress", "Show the progress line (a terminal) or a line per second (otherwise)", Kind::Bool,
       0, 0, {}, [](Scenario& s, const json& v) { s.progress = v.get<bool>(); }},
  };
  return kOptions;
}

const Option* findOption(const std::string& key) {
  for (const auto& o : options())
    if (key == o.key) return &o;
  return nullptr;
}

json fromText(const Option& o, const std::string& text) {
  switch (o.kind) {
    case Kind::Int: {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc{} || p != text.data() + text.size())
        throw OptionError(o.key, "'" + text + "' is not an integer");
      return v;
    }
    case Kind::Double: {
      // from_chars for double needs g++ 11+, which we have.
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc{} || p != text.data() + text.size())
        throw OptionError(o.key, "'" + text + "' is not a number");
      return v;
    }
    case Kind::StringList: {
      json list = json::array();
      std::stringstream ss(text);
      for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) list.push_back(item);
      return list;
    }
    default:
      return text;
  }
}

void checkType(const Option& o, const json& v) {
  auto range = [&](double x) {
    if (x < o.min || x > o.max) {
      std::ostringstream m;
      m << x << " is outside " << o.min << ".." << o.max;
      throw OptionError(o.key, m.str());
    }
  };
  switch (o.kind) {
    case Kind::String:
      if (!v.is_string()) throw OptionError(o.key, "must be a string");
      break;
    case Kind::Enum: {
      if (!v.is_string()) throw OptionError(o.key, "must be a string");
      const auto s = v.get<std::string>();
      if (std::find(o.choices.begin(), o.choices.end(), s) == o.choices.end()) {
        std::string all;
        for (const auto& c : o.choices) all += (all.empty() ? "" : ", ") + c;
        throw OptionError(o.key, "'" + s + "' is not one of " + all);
      }
      break;
    }
    case Kind::Int:
      if (!v.is_number_integer()) throw OptionError(o.key, "must be an integer");
      if (v.is_number_unsigned()) range(static_cast<double>(v.get<std::uint64_t>()));
      else range(static_cast<double>(v.get<std::int64_t>()));
      break;
    case Kind::Double:
      if (!v.is_number()) throw OptionError(o.key, "must be a number");
      range(v.get<double>());
      break;
    case Kind::Bool:
      if (!v.is_boolean()) throw OptionError(o.key, "must be true or false");
      break;
    case Kind::StringList:
      if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }))
        throw OptionError(o.key, "must be an array of strings");
      break;
  }
}

/// Loopback only: a load test must never leave the machine.
bool isLoopbackV4(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  return (ntohl(a.s_addr) >> 24) == 127;
}

void readPortsFile(Scenario& s) {
  std::ifstream in(s.portsFile);
  if (!in) throw OptionError("portsFile", "cannot read '" + s.portsFile + "'");
  try {
    const auto ports = json::parse(in);
    if (ports.contains("mqtt")) s.port = ports.at("mqtt").get<std::uint16_t>();
    if (ports.contains("mqtts")) s.tlsPort = ports.at("mqtts").get<std::uint16_t>();
  } catch (const json::exception& e) {
    throw OptionError("portsFile", s.portsFile + " is not a ports file: " + e.what());
  }
}

constexpr std::size_t kMaxPrefixLength = 64'000;

Scenario validate(const json& doc) {
  if (!doc.is_object()) throw OptionError("(root)", "a scenario must be a JSON object");
  for (const auto& [k, _] : doc.items())
    if (!findOption(k)) throw OptionError(k, "unknown key");
  Scenario s;
  for (const auto& o : options()) {
    if (!doc.contains(o.key)) continue;
    checkType(o, doc.at(o.key));
    o.apply(s, doc.at(o.key));
  }

  if (s.dialect != "plain")
    throw OptionError("dialect", "'" + s.dialect + "' is not available: only 'plain' (plain MQTT) exists so far");
  if (s.host == "localhost") s.host = "127.0.0.1";
  if (!isLoopbackV4(s.host))
    throw OptionError("host", "'" + s.host + "': load tests only target loopback addresses (127.0.0.0/8)");
  for (const auto& a : s.sourceAddresses)
    if (!isLoopbackV4(a)) throw OptionError("sourceAddresses", "'" + a + "' is not an IPv4 address in 127.0.0.0/8");
  if (!s.portsFile.empty()) readPortsFile(s);

  const bool subscribersGiven = doc.contains("subscribers");
  if (s.topology != Topology::PointToPoint && doc.contains("subsPerTopic") && s.subsPerTopic != 1)
    throw OptionError("subsPerTopic", "applies to the p2p topology only");
  if (!subscribersGiven) {
    switch (s.topology) {
      case Topology::PointToPoint:
        s.subscribers = s.publishers * s.subsPerTopic;
        break;
      case Topology::FanIn:
        s.subscribers = 1;
        break;
      case Topology::FanOut:
        throw OptionError("subscribers", "fan-out needs a subscriber count");
    }
  }
  if (s.connections() == 0) throw OptionError("publishers", "no publishers and no subscribers: nothing to do");
  if (static_cast<std::uint64_t>(s.publishers) + s.subscribers > 1'000'000)
    throw OptionError("subscribers", "more than 1000000 connections in total");
  if (doc.contains("count") && !doc.contains("durationS")) s.durationS = 3600;  // a safety bound only
  if (s.qos > 0 && s.window > 32768) throw OptionError("window", "QoS 1/2 needs a window ≤ 32768 (packet ids)");
  // MQTT strings carry a two-byte length (§1.5.3); the suffixes added per client stay far below 1000 bytes.
  for (const auto& [key, value] :
       {std::pair{"topicPrefix", &s.topicPrefix}, std::pair{"clientIdPrefix", &s.clientIdPrefix}})
    if (value->size() > kMaxPrefixLength)
      throw OptionError(key, "longer than " + std::to_string(kMaxPrefixLength) + " bytes (an MQTT string holds 65535)");
  return s;
}

json parseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw OptionError("--scenario", "cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw OptionError("--scenario", path + " is not valid JSON: " + e.what());
  }
}

std::string defaultRunId() {
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  std::ostringstream id;
  id << std::hex << ((static_cast<std::uint64_t>(now) ^ (static_cast<std::uint64_t>(getpid()) << 40)) & 0xffffffffffULL);
  return id.str();
}

void fillDefaults(Scenario& s) {
  if (s.topicPrefix.empty() || s.clientIdPrefix.empty()) {
    const auto id = defaultRunId();
    if (s.topicPrefix.empty()) s.topicPrefix = "fcload/" + id;
    if (s.clientIdPrefix.empty()) s.clientIdPrefix = "fcl-" + id;
  }
}

}  // namespace

const char* topologyName(Topology t) noexcept {
  switch (t) {
    case Topology::PointToPoint: return "p2p";
    case Topology::FanIn: return "fan-in";
    case Topology::FanOut: return "fan-out";
  }
  return "?";
}

json toJson(const Scenario& s) {
  json j = {{"dialect", s.dialect},
            {"host", s.host},
            {"port", s.port},
            {"tlsPort", s.tlsPort},
            {"tls", s.tls},
            {"sourceAddresses", s.sourceAddresses},
            {"topology", topologyName(s.topology)},
            {"publishers", s.publishers},
            {"subscribers", s.subscribers},
            {"subsPerTopic", s.subsPerTopic},
            {"qos", s.qos},
            {"payloadSize", s.payloadSize},
            {"intervalMs", s.intervalMs},
            {"jitter", s.jitter},
            {"window", s.window},
            {"windowTimeoutMs", s.windowTimeoutMs},
            {"durationS", s.durationS},
            {"rampPerSec", s.rampPerSec},
            {"connectConcurrency", s.connectConcurrency},
            {"connectTimeoutMs", s.connectTimeoutMs},
            {"drainTimeoutMs", s.drainTimeoutMs},
            {"keepAlive", s.keepAlive},
            {"threads", s.threads},
            {"topicPrefix", s.topicPrefix},
            {"clientIdPrefix", s.clientIdPrefix}};
  if (s.count) j["count"] = *s.count;
  if (!s.caFile.empty()) j["caFile"] = s.caFile;
  return j;
}

ScenarioResult scenarioFromJson(const std::string& text) {
  try {
    auto s = validate(json::parse(text, nullptr, true, true));
    fillDefaults(s);
    return {s, 0, {}};
  } catch (const json::exception& e) {
    return {std::nullopt, 2, std::string("fakecloud-load: scenario: ") + e.what()};
  } catch (const std::exception& e) {
    return {std::nullopt, 2, std::string("fakecloud-load: ") + e.what()};
  }
}

ScenarioResult parseCommandLine(int argc, const char* const* argv) {
  CLI::App app{"fakecloud-load — simulates a fleet of MQTT devices against a broker on this machine and\n"
               "measures, at the receivers, delivered messages per second, publish→delivery latency,\n"
               "connect latency, and lost, duplicated and out-of-order messages.\n"
               "Options come from --scenario FILE (JSON with the keys shown in brackets), then these flags.",
               "fakecloud-load"};
  std::string scenarioFile;
  app.add_option("--scenario", scenarioFile, "JSON scenario file (same keys as the flags, shown in brackets)");
  std::map<std::string, std::string> textValues;
  std::map<std::string, bool> boolValues;
  for (const auto& o : options()) {
    const auto help = std::string(o.help) + "  [" + o.key + "]";
    if (o.kind == Kind::Bool) {
      // --tls / --no-tls
      const std::string name = std::string(o.flag) + ",!--no-" + std::string(o.flag).substr(2);
      app.add_flag(name, boolValues[o.key], help);
    } else {
      app.add_option(o.flag, textValues[o.key], help);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, std::string("fakecloud-load: ") + e.what() + "\nRun with --help for the options."};
  }
  try {
    json doc = scenarioFile.empty() ? json::object() : parseFile(scenarioFile);
    if (!doc.is_object()) throw OptionError("--scenario", scenarioFile + " must hold a JSON object");
    for (const auto& o : options()) {
      if (app.count(o.flag) == 0) continue;  // for a flag pair this counts --no-… as well
      doc[o.key] = o.kind == Kind::Bool ? json(boolValues[o.key]) : fromText(o, textValues[o.key]);
    }
    auto s = validate(doc);
    fillDefaults(s);
    return {s, 0, {}};
  } catch (const json::exception& e) {
    return {std::nullopt, 2, std::string("fakecloud-load: ") + e.what()};
  } catch (const std::exception& e) {
    return {std::nullopt, 2, std::string("fakecloud-load: ") + e.what()};
  }
}

// --- topology ----------------------------------------------------------------------------------

std::string publishTopic(const Scenario& s, std::uint32_t publisher) {
  if (s.topology == Topology::FanOut) return s.topicPrefix + "/all";
  return s.topicPrefix + "/" + std::to_string(publisher);
}

std::string subscribeFilter(const Scenario& s, std::uint32_t subscriber) {
  switch (s.topology) {
    case Topology::PointToPoint:
      // With no publishers (an idle fleet) every subscriber holds a topic of its own.
      return s.topicPrefix + "/" + std::to_string(s.publishers == 0 ? subscriber : subscriber / s.subsPerTopic);
    case Topology::FanIn:
      return s.topicPrefix + "/+";
    case Topology::FanOut:
      return s.topicPrefix + "/all";
  }
  return {};
}

std::optional<std::uint32_t> soleSource(const Scenario& s, std::uint32_t subscriber) {
  if (s.topology != Topology::PointToPoint) return std::nullopt;
  const std::uint32_t p = subscriber / s.subsPerTopic;
  if (s.publishers == 0 || p >= s.publishers) return std::nullopt;
  return p;
}

bool hears(const Scenario& s, std::uint32_t subscriber, std::uint32_t publisher) {
  if (publisher >= s.publishers) return false;
  if (s.topology != Topology::PointToPoint) return true;
  return soleSource(s, subscriber) == publisher;
}

}  // namespace fc::loadtest
