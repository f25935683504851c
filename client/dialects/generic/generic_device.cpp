#include "client/dialects/generic/generic_device.hpp"

#include <mutex>

namespace fc::client {

struct GenericDevice::Handlers {
  std::mutex mutex;
  CommandHandler onCommand;
};

GenericDevice::GenericDevice(MqttOptions transport, std::string deviceId, std::string secret)
    : id_(std::move(deviceId)), handlers_(std::make_shared<Handlers>()) {
  transport.username = id_;
  transport.password = std::move(secret);
  if (transport.clientId.empty()) transport.clientId = id_;
  mqtt_ = std::make_unique<SyncMqttClient>(std::move(transport));
  MqttClient* client = &mqtt_->async();
  const std::string commands = "devices/" + id_ + "/commands";
  // Runs on the client's strand; answers go out with the asynchronous publish (never the blocking one).
  client->onMessage([h = handlers_, client, commands, id = id_](Message m) {
    if (m.topic != commands) return;
    const auto body = nlohmann::json::parse(m.payload.begin(), m.payload.end(), nullptr, false);
    if (!body.is_object() || !body.contains("id") || !body["id"].is_string()) return;
    Command c{body["id"].get<std::string>(), body.value("name", ""), body.value("payload", nlohmann::json()),
              body.value("binary", false)};
    CommandHandler handler;
    {
      std::lock_guard lock(h->mutex);
      handler = h->onCommand;
    }
    if (!handler) return;
    const auto result = handler(c).dump();
    client->publish("devices/" + id + "/commands/" + c.id + "/result", {result.begin(), result.end()},
                    mqtt::QoS::AtLeastOnce, false);
  });
}

GenericDevice::~GenericDevice() = default;

void GenericDevice::onCommand(CommandHandler handler) {
  std::lock_guard lock(handlers_->mutex);
  handlers_->onCommand = std::move(handler);
}

Expected<mqtt::Connack, std::error_code> GenericDevice::connect(std::chrono::milliseconds timeout) {
  auto ack = mqtt_->connect(timeout);
  if (!ack) return ack;
  if (ack->returnCode != mqtt::ConnectReturn::Accepted) return Unexpected(make_error_code(Error::ConnectionRefused));
  if (auto sub = mqtt_->subscribe("devices/" + id_ + "/commands", mqtt::QoS::AtLeastOnce, timeout); !sub)
    return Unexpected(sub.error());
  return ack;
}

std::error_code GenericDevice::telemetry(const nlohmann::json& data, mqtt::QoS qos, std::chrono::milliseconds timeout) {
  return publish("telemetry", data.dump(), qos, timeout);
}

std::error_code GenericDevice::publish(const std::string& subtopic, const std::string& payload, mqtt::QoS qos,
                                       std::chrono::milliseconds timeout) {
  return mqtt_->publish("devices/" + id_ + "/" + subtopic, std::string_view(payload), qos, false, timeout);
}

void GenericDevice::disconnect() { mqtt_->disconnect(); }

}  // namespace fc::client
