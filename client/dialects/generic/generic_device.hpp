// fc::client::GenericDevice — a device of fakecloud's own "generic" dialect (docs/dialects/generic.md):
// signs in with its id and secret, sends telemetry, and answers commands through a handler.
// The device owns the client's message handler: messages other than its commands are dropped, and
// SyncMqttClient::receive() sees none.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "client/mqtt_options.hpp"
#include "client/sync_mqtt_client.hpp"
#include "protocols/common/expected.hpp"

namespace fc::client {

class GenericDevice {
 public:
  /// A command as devices/{id}/commands carries it.
  struct Command {
    std::string id;
    std::string name;
    nlohmann::json payload;  ///< the command's JSON; for a binary command, its base64 string
    bool binary = false;
  };
  /// Runs on the client's I/O thread (do not block in it); what it returns is published to
  /// devices/{id}/commands/{commandId}/result — `{"success": false, …}` makes the command FAILED.
  using CommandHandler = std::function<nlohmann::json(const Command&)>;

  /// `transport` gives host, port, TLS, keepalive…; username and password are set from the device.
  GenericDevice(MqttOptions transport, std::string deviceId, std::string secret);
  ~GenericDevice();
  GenericDevice(const GenericDevice&) = delete;
  GenericDevice& operator=(const GenericDevice&) = delete;

  /// Set before connect().
  void onCommand(CommandHandler handler);

  /// Connects and subscribes to devices/{id}/commands at QoS 1, after which cached commands arrive.
  /// A refusing CONNACK is Error::ConnectionRefused with the CONNACK.
  Expected<mqtt::Connack, std::error_code> connect(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Publishes JSON to devices/{id}/telemetry (or devices/{id}/{subtopic}); waits for the PUBACK at QoS 1.
  std::error_code telemetry(const nlohmann::json& data, mqtt::QoS qos = mqtt::QoS::AtLeastOnce,
                            std::chrono::milliseconds timeout = kDefaultTimeout);
  std::error_code publish(const std::string& subtopic, const std::string& payload, mqtt::QoS qos = mqtt::QoS::AtLeastOnce,
                          std::chrono::milliseconds timeout = kDefaultTimeout);
  void disconnect();

  const std::string& id() const { return id_; }
  /// The MQTT client underneath, for what this class does not cover.
  SyncMqttClient& mqtt() { return *mqtt_; }

 private:
  struct Handlers;
  std::string id_;
  std::shared_ptr<Handlers> handlers_;  // shared with the client's message handler
  std::unique_ptr<SyncMqttClient> mqtt_;
};

}  // namespace fc::client
