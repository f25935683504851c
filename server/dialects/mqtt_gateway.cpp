// The MQTT gateway: logins, topic ACL and traffic of devices, by their product's dialect.
#include "server/dialects/mqtt_gateway.hpp"

#include <spdlog/spdlog.h>

#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/describe.hpp"
#include "server/broker/mqtt_server.hpp"
#include "server/dialects/registry.hpp"

namespace fc::server::dialects {

namespace {

/// One send of a command: its acknowledgement by the device is the command's delivery. Held by
/// the broker with that copy of the message, so sends never acknowledged go with their messages.
class CommandAck final : public broker::Acknowledgement {
 public:
  CommandAck(core::Platform& platform, std::string commandId) : platform_(platform), commandId_(std::move(commandId)) {}
  void acknowledged() override {
    if (auto delivered = platform_.commandDelivered(commandId_); !delivered)
      spdlog::debug("gateway: acknowledgement of command {} ignored: {}", commandId_, delivered.error().message);
  }

 private:
  core::Platform& platform_;
  std::string commandId_;
};

}  // namespace

MqttGateway::MqttGateway(core::Platform& platform, const DialectRegistry& dialects, broker::AccessPolicy& fallback)
    : platform_(platform), fallback_(fallback), dialects_(dialects) {
  platformSubscription_ = platform_.subscribe([this](const core::Event& event) {
    const auto* deleted = std::get_if<core::DeviceDeleted>(&event);
    if (!deleted) return;
    std::lock_guard lock(mutex_);
    for (auto* bindings : {&authenticated_, &connected_})
      for (auto& [_, b] : *bindings)
        if (b->deviceId == deleted->device.id)
          b = std::make_shared<const Binding>(Binding{b->deviceId, b->dialect, nullptr, nullptr});
  });
}

MqttGateway::~MqttGateway() { platform_.unsubscribe(platformSubscription_); }

std::shared_ptr<const MqttGateway::Binding> MqttGateway::binding(const std::string& clientId) const {
  std::lock_guard lock(mutex_);
  if (auto it = connected_.find(clientId); it != connected_.end()) return it->second;
  if (auto it = authenticated_.find(clientId); it != authenticated_.end()) return it->second;
  return nullptr;
}

mqtt::ConnectReturn MqttGateway::authenticate(const broker::ClientIdentity& client,
                                              const std::optional<std::vector<std::uint8_t>>& password) {
  for (const MqttDialect* dialect : dialects_.mqttDialects()) {
    auto login = dialect->identify(platform_, client);
    if (!login) continue;
    if (!dialect->verify(*login, client, password)) {
      spdlog::info("{}: device {} failed to sign in from {} (client id '{}')", dialect->name(), login->device.id,
                   client.remote, client.clientId);
      std::lock_guard lock(mutex_);
      refused_[client.clientId] = login->device.id;  // its CONNECT and CONNACK go to the device's journal
      return mqtt::ConnectReturn::BadUsernameOrPassword;
    }
    std::lock_guard lock(mutex_);
    const std::string deviceId = login->device.id;
    auto acl = std::make_shared<const broker::TopicAcl>(dialect->topicAcl(login->device));
    authenticated_[client.clientId] = std::make_shared<const Binding>(
        Binding{deviceId, dialect, std::make_shared<const core::Device>(std::move(login->device)), std::move(acl)});
    return mqtt::ConnectReturn::Accepted;
  }
  for (const MqttDialect* dialect : dialects_.mqttDialects()) {
    auto refusal = dialect->refuse(platform_, client);
    if (!refusal) continue;
    spdlog::info("{}: refused the login of client id '{}' from {}: {}", dialect->name(), client.clientId,
                 client.remote, refusal->reason);
    return refusal->code;
  }
  return fallback_.authenticate(client, password);
}

bool MqttGateway::mayPublish(const broker::ClientIdentity& client, std::string_view topic) {
  auto b = binding(client.clientId);
  if (!b) return fallback_.mayPublish(client, topic);
  return b->acl && b->acl->mayPublish(topic);
}

bool MqttGateway::maySubscribe(const broker::ClientIdentity& client, std::string_view filter) {
  auto b = binding(client.clientId);
  if (!b) return fallback_.maySubscribe(client, filter);
  return b->acl && b->acl->maySubscribe(filter);
}

mqtt::ConnectionRules MqttGateway::connectionRules(const mqtt::Connect& connect) {
  broker::ClientIdentity client;
  client.clientId = connect.clientId;
  client.username = connect.username;
  for (const MqttDialect* dialect : dialects_.mqttDialects())
    if (auto rules = dialect->connectionRules(platform_, client)) return *rules;
  return fallback_.connectionRules(connect);
}

bool MqttGateway::clientConnected(const broker::ClientIdentity& client) {
  std::string deviceId;
  {
    std::lock_guard lock(mutex_);
    auto it = authenticated_.find(client.clientId);
    if (it == authenticated_.end()) return false;  // a plain MQTT client
    deviceId = it->second->deviceId;
    connected_[client.clientId] = std::move(it->second);
    authenticated_.erase(it);
    clientOf_[deviceId] = client.clientId;
  }
  platform_.deviceConnected(deviceId, client.tls ? "mqtts" : "mqtt", client.remote);
  return true;  // a device: its packets go to the journal
}

void MqttGateway::clientRefused(const broker::ClientIdentity& client, std::span<const std::uint8_t> connect,
                                std::span<const std::uint8_t> connack) {
  std::string deviceId;
  {
    std::lock_guard lock(mutex_);
    if (auto it = refused_.find(client.clientId); it != refused_.end()) {
      deviceId = it->second;
      refused_.erase(it);
    } else if (auto a = authenticated_.find(client.clientId); a != authenticated_.end()) {
      deviceId = a->second->deviceId;  // signed in, but its will topic is not allowed
      authenticated_.erase(a);
    }
  }
  if (deviceId.empty()) return;  // not a device (the static policy refused it)
  const std::string transport = client.tls ? "mqtts" : "mqtt";
  for (const auto bytes : {connect, connack}) {
    auto summary = mqtt::summarize(bytes);
    platform_.journal(deviceId, bytes.data() == connect.data() ? "in" : "out", transport, "",
                      std::vector<std::uint8_t>(bytes.begin(), bytes.end()), std::move(summary.text));
  }
}

void MqttGateway::clientPacket(const broker::ClientIdentity& client, bool incoming, const mqtt::Packet* packet,
                               std::span<const std::uint8_t> bytes) {
  auto b = binding(client.clientId);
  if (!b) return;
  auto summary = packet ? mqtt::summarize(*packet) : incoming ? mqtt::summarize(bytes) : mqtt::summarizeEncoded(bytes);
  // The broker asks this gateway whether to route a PUBLISH or grant a filter right after this
  // trace: the journal says what it will answer, since a denied PUBLISH leaves nothing on the wire.
  if (incoming && packet) {
    const broker::TopicAcl* acl = b->acl.get();
    if (const auto* p = std::get_if<mqtt::Publish>(packet)) {
      if (!acl || !acl->mayPublish(p->topic)) summary.text += " denied (dropped)";
    } else if (const auto* sub = std::get_if<mqtt::Subscribe>(packet)) {
      std::string denied;
      for (const auto& s : sub->subscriptions)
        if (!acl || !acl->maySubscribe(s.filter)) denied += (denied.empty() ? "" : " ") + s.filter;
      if (!denied.empty()) summary.text += " denied: " + denied;
    }
  }
  platform_.journal(b->deviceId, incoming ? "in" : "out", client.tls ? "mqtts" : "mqtt", std::move(summary.topic),
                    std::vector<std::uint8_t>(bytes.begin(), bytes.end()), std::move(summary.text));
}

void MqttGateway::clientDisconnected(const broker::ClientIdentity& client, std::string_view reason) {
  std::string deviceId;
  bool current = false;
  {
    std::lock_guard lock(mutex_);
    auto it = connected_.find(client.clientId);
    if (it == connected_.end()) return;
    deviceId = it->second->deviceId;
    connected_.erase(it);
    if (auto c = clientOf_.find(deviceId); c != clientOf_.end() && c->second == client.clientId) {
      clientOf_.erase(c);
      current = true;  // else the device is connected again under another client id
    }
  }
  // A close the server decided (a rule of the connection, a takeover) goes to the device's
  // journal: nothing on the wire says why the device lost its connection.
  if (!reason.empty() && reason != "client disconnected" && reason != "connection closed by client" &&
      !reason.starts_with("read failed"))
    platform_.journal(deviceId, "out", client.tls ? "mqtts" : "mqtt", "", {},
                      "connection closed: " + std::string(reason));
  if (current) platform_.deviceDisconnected(deviceId);
}

void MqttGateway::clientSubscribed(const broker::ClientIdentity& client, const std::string& filter) {
  auto b = binding(client.clientId);
  if (!b) return;
  // Commands go out once the device can receive them: a command published before its
  // subscription exists would reach nobody.
  if (b->device && b->dialect->receivesCommands(*b->device, filter)) platform_.deviceReachable(b->deviceId);
}

void MqttGateway::clientPublished(const broker::ClientIdentity& client, const mqtt::Publish& publish) {
  auto b = binding(client.clientId);
  if (!b) return;
  if (b->device) b->dialect->uplink(platform_, *b->device, publish, *this);
}

void MqttGateway::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos) {
  if (server_) server_->publish(std::move(topic), std::move(payload), qos, /*retain=*/false);
}

void MqttGateway::sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) {
  const MqttDialect* dialect = dialects_.mqtt(product.dialect);
  if (!dialect || !server_) return;
  auto downlink = dialect->encodeCommand(device, command);
  // A command whose topic or payload the MQTT wire cannot carry fails now, with the reason, rather
  // than being dropped by the broker and left to time out.
  if (auto e = mqtt::checkPublish(downlink.topic.size(), downlink.payload.size(), downlink.qos)) {
    const auto why = "cannot be sent over MQTT: " + make_error_code(*e).message();
    spdlog::error("{}: command {} to {} {}", dialect->name(), command.id, device.id, why);
    if (auto failed = platform_.commandCompleted(command.id, false, why); !failed)
      spdlog::debug("gateway: command {} not failed: {}", command.id, failed.error().message);
    return;
  }
  std::string clientId;
  {
    std::lock_guard lock(mutex_);
    auto it = clientOf_.find(device.id);
    if (it == clientOf_.end()) return;  // not on MQTT now: the ack timeout decides
    clientId = it->second;
  }
  spdlog::debug("{}: command {} to {} on {} (send {})", dialect->name(), command.id, device.id, downlink.topic,
                command.sends);
  server_->publishFor(std::move(downlink.topic), std::move(downlink.payload), downlink.qos, std::move(clientId),
                      std::make_shared<CommandAck>(platform_, command.id));
}

}  // namespace fc::server::dialects
