// The platform's one CommandSender, dispatching each command by its product's dialect: MQTT
// dialects go to the MqttGateway (the fallback), the oceanconnect dialect to its LwM2M downlink.
// Configured before the servers start; read-only afterwards, so any thread may send.
#pragma once

#include <map>
#include <string>

#include "server/core/platform.hpp"

namespace fc::server::dialects {

class CommandRouter final : public core::CommandSender {
 public:
  explicit CommandRouter(core::CommandSender& fallback) : fallback_(fallback) {}
  /// Commands to devices of `dialect` products go to `sender`.
  void route(const std::string& dialect, core::CommandSender& sender) { byDialect_[dialect] = &sender; }

  void sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) override;

 private:
  core::CommandSender& fallback_;
  std::map<std::string, core::CommandSender*> byDialect_;
};

}  // namespace fc::server::dialects
