// The gizwits dialect; the contract is at the top of gizwits.hpp.
#include "server/dialects/gizwits/gizwits.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "protocols/common/overloaded.hpp"
#include "protocols/dialects/gizwits/frame.hpp"
#include "protocols/dialects/gizwits/http_forms.hpp"
#include "protocols/mqtt/topic.hpp"

namespace fc::server::dialects {
namespace {

namespace giz = fc::gizwits;
using nlohmann::json;

std::string stringField(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                                               : std::string{};
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool isRequestTopic(std::string_view topic) {
  return topic == "cli2ser_req" || topic == "cli2ser" || topic == "ser2cli_req";
}

/// The bytes a command carries: raw for payloadBase64, a JSON string's text, else the JSON text.
std::vector<std::uint8_t> commandData(const core::CommandSpec& spec) {
  if (!spec.binary) {
    const auto j = json::parse(spec.payload, nullptr, false);
    if (j.is_string()) {
      const auto s = j.get<std::string>();
      return {s.begin(), s.end()};
    }
  }
  return {spec.payload.begin(), spec.payload.end()};
}

}  // namespace

std::optional<GizwitsCommandName> parseGizwitsCommandName(std::string_view name) {
  GizwitsCommandName out;
  const auto at = name.find('@');
  const auto kind = name.substr(0, at);
  if (kind.empty() || kind == "passthrough") out.kind = GizwitsCommandName::Kind::PassThrough;
  else if (kind == "ack") out.kind = GizwitsCommandName::Kind::Acked;
  else if (kind == "logLevel") out.kind = GizwitsCommandName::Kind::LogLevel;
  else return std::nullopt;
  if (at != std::string_view::npos) {
    const auto app = name.substr(at + 1);
    if (app.empty() || app.size() > 64) return std::nullopt;
    for (unsigned char c : app)
      if (c < 0x21 || c == 0x7F || c == '/' || c == '+' || c == '#') return std::nullopt;
    out.appClientId = std::string(app);
  }
  return out;
}

GizwitsDialect::GizwitsDialect(core::Platform& platform, MqttPublisher& publisher, GizwitsConfig config)
    : platform_(platform), publisher_(publisher), config_(std::move(config)) {}

std::string GizwitsDialect::did(const core::Device& d) { return stringField(d.identifiers, "did"); }
std::string GizwitsDialect::passcode(const core::Device& d) { return stringField(d.secrets, "passcode"); }
std::string GizwitsDialect::productKey(const core::Product& p) { return stringField(p.keys, "productKey"); }

std::optional<MqttLogin> GizwitsDialect::findByDid(std::string_view did) const {
  if (!giz::validDid(did)) return std::nullopt;
  const std::string key(did);
  // Registered devices take their DID as their id: one lookup, no scan.
  if (auto d = platform_.device(key); d && this->did(*d) == key) {
    auto p = platform_.product(d->productId);
    if (p && p->dialect == name()) return MqttLogin{*d, *p};
  }
  for (const auto& p : platform_.products()) {
    if (p.dialect != name()) continue;
    if (auto d = platform_.findDevice(p.id, "did", key)) return MqttLogin{*d, p};
  }
  return std::nullopt;
}

std::optional<core::Product> GizwitsDialect::findProduct(std::string_view productKey) const {
  const auto wanted = lower(std::string(productKey));
  for (const auto& p : platform_.products())
    if (p.dialect == name() && lower(this->productKey(p)) == wanted) return p;
  return std::nullopt;
}

// --- login ---

std::optional<MqttLogin> GizwitsDialect::identify(const core::Platform&, const broker::ClientIdentity& client) const {
  if (!client.username || *client.username != client.clientId) return std::nullopt;
  return findByDid(client.clientId);
}

std::optional<MqttRefusal> GizwitsDialect::refuse(const core::Platform&, const broker::ClientIdentity& client) const {
  if (!giz::validDid(client.clientId)) return std::nullopt;
  if (findByDid(client.clientId)) {
    // A known DID whose username is not the DID (identify() took every other login of it).
    return MqttRefusal{mqtt::ConnectReturn::BadUsernameOrPassword,
                       "the username of device " + client.clientId + " must be its DID"};
  }
  if (client.username && *client.username == client.clientId)
    return MqttRefusal{mqtt::ConnectReturn::IdentifierRejected, "no gizwits device has DID " + client.clientId};
  return std::nullopt;  // a 22-character client id of someone else
}

bool GizwitsDialect::verify(const MqttLogin& login, const broker::ClientIdentity&,
                            const std::optional<std::vector<std::uint8_t>>& password) const {
  const auto expected = passcode(login.device);
  const std::string given = password ? std::string(password->begin(), password->end()) : std::string{};
  if (!expected.empty() && given == expected) return true;
  spdlog::info("gizwits: device {} (DID {}) gave a wrong passcode", login.device.id, did(login.device));
  return false;
}

std::optional<mqtt::ConnectionRules> GizwitsDialect::connectionRules(const core::Platform&,
                                                                     const broker::ClientIdentity& client) const {
  if (!findByDid(client.clientId)) return std::nullopt;
  return mqtt::ConnectionRules{config_.maxKeepAlive, config_.maxPings,
                               std::chrono::seconds(config_.pingWindowSeconds)};
}

// --- topics ---

broker::TopicAcl GizwitsDialect::topicAcl(const core::Device& device) const {
  using enum broker::TopicAcl::Direction;
  broker::TopicAcl acl;
  const auto d = did(device);
  if (!giz::validDid(d)) return acl;
  const auto product = platform_.product(device.productId);
  const auto pk = product ? productKey(*product) : std::string{};
  if (giz::validProductKey(pk)) acl.allow(Subscribe, "ser2cli_noti/" + pk);
  acl.allow(Subscribe, "ser2cli_res/" + d)
      .allow(Subscribe, "app2dev/" + d + "/#")
      .allow(Publish, "dev2app/" + d)
      .allow(Publish, "dev2app/" + d + "/+")
      .allow(Publish, "cli2ser_req")
      .allow(Publish, "cli2ser")
      .allow(Publish, "ser2cli_req");
  return acl;
}

bool GizwitsDialect::receivesCommands(const core::Device& device, std::string_view filter) const {
  return mqtt::topicMatches(filter, "app2dev/" + did(device) + "/fakecloud");
}

// --- uplinks ---

void GizwitsDialect::uplink(core::Platform&, const core::Device& device, const mqtt::Publish& p,
                            MqttPublisher& out) const {
  const auto decoded = giz::decode(p.payload);
  if (!decoded) {
    spdlog::info("gizwits: device {} sent an undecodable frame on {}: {}", device.id, p.topic,
                 giz::toString(decoded.error()));
    if (!isRequestTopic(p.topic)) platform_.recordUplink(device.id, "mqtt", p.topic, p.payload, "application/octet-stream");
    return;
  }
  if (decoded->consumed != p.payload.size())
    spdlog::info("gizwits: device {} sent {} bytes after a frame on {}; ignored", device.id,
                 p.payload.size() - decoded->consumed, p.topic);
  std::visit(Overloaded{
                 [&](const giz::PassThrough& f) {
                   platform_.recordUplink(device.id, "mqtt", p.topic, f.data, "application/octet-stream");
                 },
                 [&](const giz::AckedData& f) {
                   if (f.cmd == giz::Cmd::AckedDataAck) return completeBySn(device, f.sn, f.data);
                   // Data for the apps that wants their ACK: the server does not answer it (§4.9).
                   platform_.recordUplink(device.id, "mqtt", p.topic, f.data, "application/octet-stream");
                 },
                 [&](const giz::SetLogLevelAck&) { completeLogLevel(device); },
                 [&](const giz::DeviceLog& f) {
                   platform_.recordDeviceLog(core::DeviceLogEntry{0, device.id, {}, f.level, f.tag, f.source,
                                                                  f.content, "mqtt"});
                 },
                 [&](const giz::OnlineAppsRequest&) { sendAppCount(device, appCount(device.id), out); },
                 [&](const auto& f) {
                   spdlog::info("gizwits: device {} sent {} on {}, which a device does not send", device.id,
                                giz::describe(f), p.topic);
                 },
             },
             decoded->value);
}

void GizwitsDialect::completeBySn(const core::Device& device, std::uint32_t sn,
                                  const std::vector<std::uint8_t>& data) const {
  auto commands = platform_.commands(device.id);
  if (!commands) return;
  for (const auto& c : *commands) {
    if (static_cast<std::uint32_t>(c.seq) != sn || core::isFinal(c.status)) continue;
    const auto parsed = parseGizwitsCommandName(c.spec.name);
    if (!parsed || parsed->kind != GizwitsCommandName::Kind::Acked) continue;
    const std::string result = json{{"sn", sn}, {"dataHex", [&] {
                                                  static constexpr char kHex[] = "0123456789abcdef";
                                                  std::string h;
                                                  for (auto b : data) {
                                                    h += kHex[b >> 4];
                                                    h += kHex[b & 15];
                                                  }
                                                  return h;
                                                }()}}
                                   .dump();
    if (auto done = platform_.commandCompleted(c.id, true, result); !done)
      spdlog::info("gizwits: ack of command {} ignored: {}", c.id, done.error().message);
    return;
  }
  spdlog::info("gizwits: device {} acknowledged sn {}, which no open command has", device.id, sn);
}

void GizwitsDialect::completeLogLevel(const core::Device& device) const {
  auto commands = platform_.commands(device.id);
  if (!commands) return;
  for (const auto& c : *commands) {  // creation order: the oldest open one
    if (c.status != core::CommandStatus::Sent && c.status != core::CommandStatus::Delivered) continue;
    const auto parsed = parseGizwitsCommandName(c.spec.name);
    if (!parsed || parsed->kind != GizwitsCommandName::Kind::LogLevel) continue;
    if (auto done = platform_.commandCompleted(c.id, true, "{}"); !done)
      spdlog::info("gizwits: 0x0011 for command {} ignored: {}", c.id, done.error().message);
    return;
  }
  spdlog::info("gizwits: device {} confirmed a log level nobody set", device.id);
}

// --- commands ---

MqttDownlink GizwitsDialect::encodeCommand(const core::Device& device, const core::Command& command) const {
  const auto parsed = parseGizwitsCommandName(command.spec.name).value_or(GizwitsCommandName{});
  giz::Frame frame;
  switch (parsed.kind) {
    case GizwitsCommandName::Kind::PassThrough:
      frame = giz::PassThrough{giz::Cmd::AppToDevice, commandData(command.spec)};
      break;
    case GizwitsCommandName::Kind::Acked:
      frame = giz::AckedData{giz::Cmd::AckedData, static_cast<std::uint32_t>(command.seq), commandData(command.spec)};
      break;
    case GizwitsCommandName::Kind::LogLevel: {
      std::uint16_t bits = 0;
      if (command.spec.binary && command.spec.payload.size() == 2) {
        bits = static_cast<std::uint16_t>(static_cast<std::uint8_t>(command.spec.payload[0]) << 8 |
                                          static_cast<std::uint8_t>(command.spec.payload[1]));
      } else {
        const auto j = json::parse(command.spec.payload, nullptr, false);
        if (j.is_number_unsigned() && j.get<std::uint64_t>() <= 0xFFFF) bits = j.get<std::uint16_t>();
      }
      frame = giz::SetLogLevel{bits};
      break;
    }
  }
  return {"app2dev/" + did(device) + "/" + parsed.appClientId, giz::encode(frame), mqtt::QoS::AtLeastOnce};
}

void GizwitsDialect::sendCommand(const core::Device& device, const core::Product&, const core::Command& command) {
  auto downlink = encodeCommand(device, command);
  if (downlink.payload.empty()) {
    if (auto failed = platform_.commandCompleted(command.id, false, "the data is over the 65535 bytes of a frame");
        !failed)
      spdlog::debug("gizwits: command {} not failed: {}", command.id, failed.error().message);
    return;
  }
  spdlog::debug("gizwits: command {} to {} on {} (send {})", command.id, device.id, downlink.topic, command.sends);
  publisher_.publish(std::move(downlink.topic), std::move(downlink.payload), downlink.qos);
  // M2M acknowledges nothing (§4.9): a plain pass-through is done once it is on its way; the
  // others wait for the device's 0x0094 or 0x0011 (or time out and are resent, as any command).
  const auto parsed = parseGizwitsCommandName(command.spec.name);
  if (parsed && parsed->kind == GizwitsCommandName::Kind::PassThrough)
    if (auto done = platform_.commandCompleted(command.id, true, "{}"); !done)
      spdlog::debug("gizwits: command {} not completed: {}", command.id, done.error().message);
}

// --- online apps ---

std::uint16_t GizwitsDialect::appCount(const std::string& deviceId) const {
  std::lock_guard lock(mutex_);
  auto it = appCounts_.find(deviceId);
  return it == appCounts_.end() ? 0 : it->second;
}

void GizwitsDialect::setAppCount(const core::Device& device, std::uint16_t count) {
  {
    std::lock_guard lock(mutex_);
    auto& current = appCounts_[device.id];
    if (current == count) return;
    current = count;
  }
  if (device.online) sendAppCount(device, count, publisher_);
}

void GizwitsDialect::sendAppCount(const core::Device& device, std::uint16_t count, MqttPublisher& out) const {
  out.publish("ser2cli_res/" + did(device), giz::encode(giz::OnlineApps{count}), mqtt::QoS::AtLeastOnce);
}

void GizwitsDialect::reset() {
  std::lock_guard lock(mutex_);
  appCounts_.clear();
}

}  // namespace fc::server::dialects
