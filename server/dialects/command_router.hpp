// The platform's one CommandSender, dispatching each command by its product's dialect: a dialect
// with its own sender (oceanconnect: its LwM2M downlink) gets it, every other goes to the
// MqttGateway (the fallback), which encodes it with the dialect's MQTT part. Asks the registry,
// which is read-only once the servers run, so any thread may send.
#pragma once

#include "server/core/platform.hpp"

namespace fc::server::dialects {

class DialectRegistry;

class CommandRouter final : public core::CommandSender {
 public:
  CommandRouter(const DialectRegistry& dialects, core::CommandSender& fallback)
      : dialects_(dialects), fallback_(fallback) {}

  void sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) override;

 private:
  const DialectRegistry& dialects_;
  core::CommandSender& fallback_;
};

}  // namespace fc::server::dialects
