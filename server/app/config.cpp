// Configuration loading. Every option is one row of kOptions: its JSON key, its flag, its help and
// how to read it. The file, the environment and the flags are merged into one JSON document first,
// then that document is validated once, so every source reports errors the same way.
#include "server/app/config.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

namespace fc::server {
namespace {

using nlohmann::json;

/// A problem with one key; becomes exit code 2 and "config: <key>: <problem>".
struct ConfigError : std::runtime_error {
  ConfigError(const std::string& key, const std::string& problem) : std::runtime_error(key + ": " + problem) {}
};

enum class Kind { String, Int, Number, Bool, Enum, StringList, Object };

struct Option {
  const char* key;   // dotted JSON path
  const char* flag;  // long flag, or nullptr for file-only options
  const char* help;
  Kind kind;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::vector<std::string> choices = {};
  std::function<void(Config&, const json&)> apply = {};
};

std::int64_t asInt(const json& v) { return v.get<std::int64_t>(); }
double asNumber(const json& v) { return v.get<double>(); }

std::vector<std::string> asStrings(const json& v) { return v.get<std::vector<std::string>>(); }

ClientCertMode certMode(const std::string& s) {
  if (s == "none") return ClientCertMode::None;
  if (s == "required") return ClientCertMode::Required;
  return ClientCertMode::Optional;
}

std::vector<MqttUser> parseUsers(const json& v) {
  if (!v.is_array()) throw ConfigError("mqtt.users", "must be an array of {\"username\",\"password\"}");
  std::vector<MqttUser> users;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto& u = v[i];
    const auto key = "mqtt.users[" + std::to_string(i) + "]";
    if (!u.is_object() || !u.contains("username") || !u["username"].is_string())
      throw ConfigError(key, "needs a string \"username\"");
    if (u.contains("password") && !u["password"].is_string()) throw ConfigError(key + ".password", "must be a string");
    users.push_back({u["username"].get<std::string>(), u.value("password", std::string{})});
  }
  return users;
}

std::vector<AclRule> parseAcl(const json& v) {
  if (!v.is_array()) throw ConfigError("mqtt.acl", "must be an array of rules");
  std::vector<AclRule> rules;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto& r = v[i];
    const auto key = "mqtt.acl[" + std::to_string(i) + "]";
    if (!r.is_object() || !r.contains("topic") || !r["topic"].is_string())
      throw ConfigError(key, "needs a string \"topic\"");
    for (const auto& [k, _] : r.items())
      if (k != "topic" && k != "username" && k != "clientId" && k != "access")
        throw ConfigError(key + "." + k, "unknown key (expected topic, username, clientId, access)");
    for (const char* field : {"username", "clientId", "access"})
      if (r.contains(field) && !r[field].is_string()) throw ConfigError(key + "." + field, "must be a string");
    AclRule rule;
    rule.topic = r["topic"].get<std::string>();
    if (r.contains("username")) rule.username = r["username"].get<std::string>();
    if (r.contains("clientId")) rule.clientId = r["clientId"].get<std::string>();
    const auto access = r.value("access", std::string{"readwrite"});
    if (access == "read") rule.write = false;
    else if (access == "write") rule.read = false;
    else if (access == "deny") rule.deny = true;
    else if (access != "readwrite") throw ConfigError(key + ".access", "must be read, write, readwrite or deny");
    rules.push_back(std::move(rule));
  }
  return rules;
}

const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = {
      {"dataDir", "--data-dir", "Directory for the database and the generated TLS certificates", Kind::String, 0, 0,
       {}, [](Config& c, const json& v) { c.dataDir = v.get<std::string>(); }},
      {"db", "--db", "SQLite database file, or :memory: (default: <data-dir>/fakecloud.db)", Kind::String, 0, 0, {},
       [](Config& c, const json& v) { c.db = v.get<std::string>(); }},
      {"bind", "--bind", "Address every listener binds to", Kind::String, 0, 0, {},
       [](Config& c, const json& v) { c.bind = v.get<std::string>(); }},
      {"ports.mqtt", "--mqtt-port", "MQTT port (0: ephemeral)", Kind::Int, 0, 65535, {},
       [](Config& c, const json& v) { c.ports.mqtt = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.mqtts", "--mqtts-port", "MQTT over TLS port, no client certificate asked for (0: ephemeral)", Kind::Int,
       0, 65535, {}, [](Config& c, const json& v) { c.ports.mqtts = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.mqttsMtls", "--mqtts-mtls-port",
       "MQTT over mutual TLS port: asks for a client certificate per tls.clientCerts (0: ephemeral)", Kind::Int, 0,
       65535, {}, [](Config& c, const json& v) { c.ports.mqttsMtls = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.http", "--http-port", "HTTP port: REST API, event stream, health, aliyun HTTP device channel (0: ephemeral)",
       Kind::Int, 0, 65535, {}, [](Config& c, const json& v) { c.ports.http = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.https", "--https-port", "HTTPS port: the HTTP listener over TLS (0: ephemeral)", Kind::Int, 0, 65535, {},
       [](Config& c, const json& v) { c.ports.https = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.coap", "--coap-port", "CoAP over UDP port (0: ephemeral)", Kind::Int, 0, 65535, {},
       [](Config& c, const json& v) { c.ports.coap = static_cast<std::uint16_t>(asInt(v)); }},
      {"ports.coaps", "--coaps-port", "CoAP over DTLS-PSK (coaps) port (0: ephemeral)", Kind::Int, 0, 65535, {},
       [](Config& c, const json& v) { c.ports.coaps = static_cast<std::uint16_t>(asInt(v)); }},
      {"api.token", "--api-token",
       "Bearer token /api requires (default: none on loopback; generated and logged when bound wider)", Kind::String,
       0, 0, {}, [](Config& c, const json& v) { c.apiToken = v.get<std::string>(); }},
      {"portsFile", "--ports-file", "Write the bound ports as JSON to this file once ready", Kind::String, 0, 0, {},
       [](Config& c, const json& v) { c.portsFile = v.get<std::string>(); }},
      {"fixtures", "--fixtures", "Load products and devices from this JSON file at start (as POST /api/v1/admin/fixtures)",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.fixtures = v.get<std::string>(); }},
      {"log.level", "--log-level", "trace, debug, info, warn, error or off", Kind::Enum, 0, 0,
       {"trace", "debug", "info", "warn", "error", "off"},
       [](Config& c, const json& v) { c.logLevel = v.get<std::string>(); }},
      {"log.format", "--log-format", "text or json (one object per line)", Kind::Enum, 0, 0, {"text", "json"},
       [](Config& c, const json& v) { c.logFormat = v.get<std::string>(); }},
      {"threads", "--threads", "I/O threads (0: one per core)", Kind::Int, 0, 256, {},
       [](Config& c, const json& v) { c.threads = static_cast<unsigned>(asInt(v)); }},
      {"tls.cert", "--tls-cert", "Server certificate chain, PEM (default: generated)", Kind::String, 0, 0, {},
       [](Config& c, const json& v) { c.tls.certFile = v.get<std::string>(); }},
      {"tls.key", "--tls-key", "Server private key, PEM", Kind::String, 0, 0, {},
       [](Config& c, const json& v) { c.tls.keyFile = v.get<std::string>(); }},
      {"tls.ca", "--tls-ca",
       "CA certificate(s) that sign client certificates on the mutual-TLS port, PEM (default: generated CA)",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.tls.caFile = v.get<std::string>(); }},
      {"tls.ciphers", "--tls-ciphers",
       "OpenSSL cipher list for TLS <= 1.2, e.g. AES128-SHA:AES256-SHA for legacy static-RSA device stacks",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.tls.ciphers = v.get<std::string>(); }},
      {"tls.minVersion", "--tls-min-version", "Lowest TLS version accepted: 1.0, 1.1, 1.2 or 1.3", Kind::Enum, 0, 0,
       {"1.0", "1.1", "1.2", "1.3"}, [](Config& c, const json& v) { c.tls.minVersion = v.get<std::string>(); }},
      {"tls.clientCerts", "--tls-client-certs",
       "Client certificates on the mutual-TLS port: required, optional, or none (no such port)", Kind::Enum, 0, 0,
       {"none", "optional", "required"},
       [](Config& c, const json& v) { c.tls.clientCerts = certMode(v.get<std::string>()); }},
      {"tls.serverNames", "--tls-server-names",
       "Extra DNS names/IPs for the generated server certificate (comma-separated)", Kind::StringList, 0, 0, {},
       [](Config& c, const json& v) { c.tls.serverNames = asStrings(v); }},
      {"mqtt.connectTimeoutMs", "--mqtt-connect-timeout-ms", "Close sockets that send no CONNECT within this time",
       Kind::Int, 100, 3'600'000, {}, [](Config& c, const json& v) { c.mqtt.connectTimeoutMs = asInt(v); }},
      {"mqtt.maxPacketSize", "--mqtt-max-packet-size", "Largest MQTT packet accepted, bytes", Kind::Int, 64,
       268'435'460, {}, [](Config& c, const json& v) { c.mqtt.maxPacketSize = asInt(v); }},
      {"mqtt.maxInflight", "--mqtt-max-inflight", "Unacknowledged QoS 1/2 messages per client", Kind::Int, 1, 65535,
       {}, [](Config& c, const json& v) { c.mqtt.maxInflight = asInt(v); }},
      {"mqtt.maxQueued", "--mqtt-max-queued", "Messages queued per client beyond the in-flight window", Kind::Int, 0,
       10'000'000, {}, [](Config& c, const json& v) { c.mqtt.maxQueued = asInt(v); }},
      {"mqtt.maxOutboundBytes", "--mqtt-max-outbound-bytes",
       "Bytes buffered for a slow client before its QoS 0 messages are dropped", Kind::Int, 4096, 1 << 30, {},
       [](Config& c, const json& v) { c.mqtt.maxOutboundBytes = asInt(v); }},
      {"mqtt.allowAnonymous", "--mqtt-allow-anonymous", "Accept clients without username or certificate",
       Kind::Bool, 0, 0, {}, [](Config& c, const json& v) { c.mqtt.allowAnonymous = v.get<bool>(); }},
      {"platform.journalPerDevice", "--journal-per-device", "Journal entries (wire exchanges) kept per device",
       Kind::Int, 0, 10'000'000, {}, [](Config& c, const json& v) { c.platform.journalPerDevice = asInt(v); }},
      {"platform.messagesPerDevice", "--messages-per-device", "Uplink messages kept per device", Kind::Int, 0,
       10'000'000, {}, [](Config& c, const json& v) { c.platform.messagesPerDevice = asInt(v); }},
      {"platform.maxPendingCommandsPerDevice", "--max-pending-commands",
       "Open commands per device; beyond it POST .../commands answers 429", Kind::Int, 1, 1'000'000, {},
       [](Config& c, const json& v) { c.platform.maxPendingCommandsPerDevice = asInt(v); }},
      {"coap.ackTimeoutMs", "--coap-ack-timeout-ms", "CoAP ACK_TIMEOUT: first retransmission of a CON after this long",
       Kind::Int, 10, 600'000, {}, [](Config& c, const json& v) { c.coap.ackTimeoutMs = asInt(v); }},
      {"coap.ackRandomFactor", "--coap-ack-random-factor", "CoAP ACK_RANDOM_FACTOR (1 to 10)", Kind::Number, 1, 10, {},
       [](Config& c, const json& v) { c.coap.ackRandomFactor = asNumber(v); }},
      {"coap.maxRetransmit", "--coap-max-retransmit", "CoAP MAX_RETRANSMIT: retransmissions of a CON before giving up",
       Kind::Int, 0, 20, {}, [](Config& c, const json& v) { c.coap.maxRetransmit = asInt(v); }},
      {"coap.maxPeers", "--coap-max-peers", "CoAP peers with state at once; datagrams from more are dropped", Kind::Int,
       1, 10'000'000, {}, [](Config& c, const json& v) { c.coap.maxPeers = asInt(v); }},
      {"coap.maxBodySize", "--coap-max-body-size", "Largest CoAP request body reassembled from Block1 blocks, bytes",
       Kind::Int, 16, 16 << 20, {}, [](Config& c, const json& v) { c.coap.maxBodySize = asInt(v); }},
      {"coap.dtlsCiphers", "--coaps-ciphers",
       "DTLS-PSK cipher suites offered on the coaps port, IANA or OpenSSL names (comma-separated)", Kind::StringList, 0,
       0, {}, [](Config& c, const json& v) { c.coap.dtlsCiphers = asStrings(v); }},
      {"coap.dtlsHandshakeTimeoutMs", "--coaps-handshake-timeout-ms",
       "A DTLS handshake not finished this long after its cookie exchange fails", Kind::Int, 100, 3'600'000, {},
       [](Config& c, const json& v) { c.coap.dtlsHandshakeTimeoutMs = asInt(v); }},
      {"coap.dtlsIdleTimeoutMs", "--coaps-idle-timeout-ms", "A DTLS session that received nothing this long is dropped",
       Kind::Int, 1000, 2'000'000'000, {}, [](Config& c, const json& v) { c.coap.dtlsIdleTimeoutMs = asInt(v); }},
      {"coap.dtlsMaxHalfOpen", "--coaps-max-half-open",
       "DTLS handshakes in progress at once; further ClientHellos are dropped", Kind::Int, 1, 1'000'000, {},
       [](Config& c, const json& v) { c.coap.dtlsMaxHalfOpen = asInt(v); }},
      {"ota.maxFirmwareBytes", "--ota-max-firmware-bytes", "Largest firmware image accepted, bytes (beyond: 413)",
       Kind::Int, 1, std::int64_t{1} << 40, {},
       [](Config& c, const json& v) { c.ota.maxFirmwareBytes = static_cast<std::uint64_t>(asInt(v)); }},
      {"ota.httpBaseUrl", "--ota-http-base-url",
       "Public base of the http download URLs handed to devices (default: http://<bind>:<http port>)", Kind::String,
       0, 0, {}, [](Config& c, const json& v) { c.ota.httpBaseUrl = v.get<std::string>(); }},
      {"ota.httpsBaseUrl", "--ota-https-base-url",
       "Public base of the https download URLs handed to devices (default: https://<bind>:<https port>)",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.ota.httpsBaseUrl = v.get<std::string>(); }},
      {"gizwits.mqttHost", "--gizwits-mqtt-host",
       "M2M host name in gizwits provision answers (default: the host the device asked, else the bind address)",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.gizwits.mqttHost = v.get<std::string>(); }},
      {"gizwits.mqttPort", "--gizwits-mqtt-port", "MQTT port in gizwits provision answers (0: the bound MQTT port)",
       Kind::Int, 0, 65535, {}, [](Config& c, const json& v) { c.gizwits.mqttPort = static_cast<std::uint16_t>(asInt(v)); }},
      {"gizwits.maxKeepAlive", "--gizwits-max-keepalive",
       "Gizwits devices: a CONNECT keepalive above this (or 0) counts as this, seconds", Kind::Int, 1, 65535, {},
       [](Config& c, const json& v) { c.gizwits.maxKeepAlive = static_cast<std::uint16_t>(asInt(v)); }},
      {"gizwits.maxPings", "--gizwits-max-pings",
       "Gizwits devices: more PINGREQs than this within gizwits.pingWindowSeconds disconnect (0: no limit)", Kind::Int,
       0, 1'000'000, {}, [](Config& c, const json& v) { c.gizwits.maxPings = static_cast<std::uint32_t>(asInt(v)); }},
      {"gizwits.pingWindowSeconds", "--gizwits-ping-window-seconds", "The window of gizwits.maxPings, seconds",
       Kind::Int, 1, 86'400, {},
       [](Config& c, const json& v) { c.gizwits.pingWindowSeconds = static_cast<std::uint32_t>(asInt(v)); }},
      {"ota.coapPath", "--ota-coap-path",
       "CoAP path under which firmware is served block-wise: /<path>/{firmwareId}, offers /<path>/o/{token}",
       Kind::String, 0, 0, {},
       [](Config& c, const json& v) {
         std::string p = v.get<std::string>();
         while (p.starts_with('/')) p.erase(0, 1);
         while (p.ends_with('/')) p.pop_back();
         if (p.empty() || p.find("//") != std::string::npos || p.find_first_of("?#") != std::string::npos ||
             p == ".well-known" || p.starts_with(".well-known/"))
           throw ConfigError("ota.coapPath", "must be a path of non-empty segments, e.g. \"fw\"");
         c.ota.coapPath = p;
       }},
      {"ota.coapBaseUrl", "--ota-coap-base-url",
       "Public base of the coap download URLs handed to devices (default: coap://<bind>:<coap port>)", Kind::String,
       0, 0, {}, [](Config& c, const json& v) { c.ota.coapBaseUrl = v.get<std::string>(); }},
      {"ota.coapsBaseUrl", "--ota-coaps-base-url",
       "Public base of the coaps download URLs handed to devices (default: coaps://<bind>:<coaps port>)",
       Kind::String, 0, 0, {}, [](Config& c, const json& v) { c.ota.coapsBaseUrl = v.get<std::string>(); }},
      {"mqtt.users", nullptr, "Username/password list (file only)", Kind::Object, 0, 0, {},
       [](Config& c, const json& v) { c.mqtt.users = parseUsers(v); }},
      {"mqtt.acl", nullptr, "Static topic ACL rules (file only)", Kind::Object, 0, 0, {},
       [](Config& c, const json& v) { c.mqtt.acl = parseAcl(v); }},
  };
  return kOptions;
}

/// "mqtt.maxInflight" → "FAKECLOUD_MQTT_MAX_INFLIGHT".
std::string envName(std::string_view key) {
  std::string out = "FAKECLOUD_";
  for (char ch : key) {
    if (ch == '.') out += '_';
    else if (std::isupper(static_cast<unsigned char>(ch))) { out += '_'; out += ch; }
    else out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

json::json_pointer pointer(std::string_view key) {
  std::string p = "/";
  for (char ch : key) p += ch == '.' ? '/' : ch;
  return json::json_pointer(p);
}

/// A flag or environment value is text; turn it into the JSON type the option expects.
json fromText(const Option& o, const std::string& text) {
  switch (o.kind) {
    case Kind::Int: {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc{} || p != text.data() + text.size()) throw ConfigError(o.key, "'" + text + "' is not an integer");
      return v;
    }
    case Kind::Number: {
      double v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc{} || p != text.data() + text.size()) throw ConfigError(o.key, "'" + text + "' is not a number");
      return v;
    }
    case Kind::Bool: {
      std::string t = text;
      std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
      if (t == "1" || t == "true" || t == "yes" || t == "on") return true;
      if (t == "0" || t == "false" || t == "no" || t == "off") return false;
      throw ConfigError(o.key, "'" + text + "' is not a boolean (true/false)");
    }
    case Kind::StringList: {
      json list = json::array();
      std::stringstream ss(text);
      for (std::string item; std::getline(ss, item, ',');)
        if (!item.empty()) list.push_back(item);
      return list;
    }
    case Kind::Object:
      try {
        return json::parse(text);
      } catch (const json::parse_error& e) {
        throw ConfigError(o.key, std::string("not valid JSON: ") + e.what());
      }
    default:
      return text;
  }
}

void checkType(const Option& o, const json& v) {
  switch (o.kind) {
    case Kind::String:
      if (!v.is_string()) throw ConfigError(o.key, "must be a string");
      break;
    case Kind::Enum: {
      if (!v.is_string()) throw ConfigError(o.key, "must be a string");
      const auto s = v.get<std::string>();
      if (std::find(o.choices.begin(), o.choices.end(), s) == o.choices.end()) {
        std::string all;
        for (const auto& c : o.choices) all += (all.empty() ? "" : ", ") + c;
        throw ConfigError(o.key, "'" + s + "' is not one of " + all);
      }
      break;
    }
    case Kind::Int:
      if (!v.is_number_integer()) throw ConfigError(o.key, "must be an integer");
      if (asInt(v) < o.min || asInt(v) > o.max)
        throw ConfigError(o.key, std::to_string(asInt(v)) + " is outside " + std::to_string(o.min) + ".." +
                                     std::to_string(o.max));
      break;
    case Kind::Number:
      if (!v.is_number()) throw ConfigError(o.key, "must be a number");
      if (asNumber(v) < static_cast<double>(o.min) || asNumber(v) > static_cast<double>(o.max))
        throw ConfigError(o.key, v.dump() + " is outside " + std::to_string(o.min) + ".." + std::to_string(o.max));
      break;
    case Kind::Bool:
      if (!v.is_boolean()) throw ConfigError(o.key, "must be true or false");
      break;
    case Kind::StringList:
      if (!v.is_array() || !std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); }))
        throw ConfigError(o.key, "must be an array of strings");
      break;
    case Kind::Object:
      break;
  }
}

/// Every key in the document must be an option (or a section holding options).
void rejectUnknownKeys(const json& doc, const std::string& prefix) {
  for (const auto& [k, v] : doc.items()) {
    const auto key = prefix.empty() ? k : prefix + "." + k;
    const bool known = std::any_of(options().begin(), options().end(),
                                   [&](const Option& o) { return o.key == key; });
    if (known) continue;
    const bool section = v.is_object() && std::any_of(options().begin(), options().end(), [&](const Option& o) {
      return std::string_view(o.key).starts_with(key + ".");
    });
    if (!section) throw ConfigError(key, "unknown key");
    rejectUnknownKeys(v, key);
  }
}

Config validate(const json& doc) {
  if (!doc.is_object()) throw ConfigError("(root)", "the configuration must be a JSON object");
  rejectUnknownKeys(doc, "");
  Config c;
  for (const auto& o : options()) {
    const auto ptr = pointer(o.key);
    if (!doc.contains(ptr)) continue;
    const auto& v = doc.at(ptr);
    checkType(o, v);
    o.apply(c, v);
  }
  return c;
}

json parseFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("--config", "cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    throw ConfigError("--config", path + " is not valid JSON: " + e.what());
  }
}

}  // namespace

std::string Config::dbPath() const { return db.empty() ? dataDir + "/fakecloud.db" : db; }

ConfigResult configFromJson(const std::string& jsonText) {
  try {
    return {validate(json::parse(jsonText, nullptr, true, true)), 0, {}};
  } catch (const json::parse_error& e) {
    return {std::nullopt, 2, std::string("config: not valid JSON: ") + e.what()};
  } catch (const std::exception& e) {
    return {std::nullopt, 2, std::string("config: ") + e.what()};
  }
}

ConfigResult loadConfig(int argc, const char* const* argv, const std::vector<std::string>& environment) {
  CLI::App app{"fakecloud — a mock IoT cloud for device integration tests.\n"
               "Options come from --config FILE (JSON, comments allowed), then FAKECLOUD_* environment\n"
               "variables (named after the JSON key: mqtt.maxInflight → FAKECLOUD_MQTT_MAX_INFLIGHT),\n"
               "then these flags, each overriding the one before.",
               "fakecloud"};
  app.set_version_flag("--version", std::string("fakecloud ") + FC_VERSION);
  std::string configFile;
  app.add_option("--config", configFile, "JSON configuration file (env FAKECLOUD_CONFIG)");
  std::map<std::string, std::string> flagValues;
  for (const auto& o : options()) {
    if (!o.flag) continue;
    auto help = std::string(o.help) + "  [json " + o.key + ", env " + envName(o.key) + "]";
    app.add_option(o.flag, flagValues[o.key], help);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return {std::nullopt, 0, app.help()};
  } catch (const CLI::CallForVersion& e) {
    return {std::nullopt, 0, e.what()};
  } catch (const CLI::ParseError& e) {
    return {std::nullopt, 2, std::string("fakecloud: ") + e.what() + "\nRun with --help for the options."};
  }

  std::map<std::string, std::string> env;
  for (const auto& entry : environment)
    if (auto eq = entry.find('='); eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);

  try {
    if (configFile.empty())
      if (auto it = env.find("FAKECLOUD_CONFIG"); it != env.end()) configFile = it->second;
    json doc = configFile.empty() ? json::object() : parseFile(configFile);
    if (!doc.is_object()) throw ConfigError("--config", configFile + " must hold a JSON object");
    for (const auto& o : options())
      if (auto it = env.find(envName(o.key)); it != env.end()) doc[pointer(o.key)] = fromText(o, it->second);
    for (const auto& o : options())
      if (o.flag && app.count(o.flag) > 0) doc[pointer(o.key)] = fromText(o, flagValues[o.key]);
    return {validate(doc), 0, {}};
  } catch (const json::exception& e) {
    return {std::nullopt, 2, std::string("config: ") + e.what()};
  } catch (const std::exception& e) {
    return {std::nullopt, 2, std::string("config: ") + e.what()};
  }
}

}  // namespace fc::server
