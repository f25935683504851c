// The generic dialect; the contract is at the top of generic.hpp.
#include "server/dialects/generic/generic.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocols/common/base64.hpp"
#include "protocols/mqtt/topic.hpp"
#include "server/dialects/generic/generic_ota.hpp"

namespace fc::server::dialects {
namespace {

std::string deviceRoot(const core::Device& d) { return "devices/" + d.id + "/"; }

}  // namespace

std::optional<MqttLogin> GenericDialect::identify(const core::Platform& platform,
                                                  const broker::ClientIdentity& client) const {
  if (!client.username) return std::nullopt;
  auto device = platform.device(*client.username);
  if (!device) return std::nullopt;
  auto product = platform.product(device->productId);
  if (!product || product->dialect != name()) return std::nullopt;
  return MqttLogin{*device, *product};
}

bool GenericDialect::verify(const MqttLogin& login, const broker::ClientIdentity&,
                            const std::optional<std::vector<std::uint8_t>>& password) const {
  const auto& secrets = login.device.secrets;
  const std::string expected = secrets.contains("secret") && secrets["secret"].is_string()
                                   ? secrets["secret"].get<std::string>()
                                   : std::string{};
  const std::string given = password ? std::string(password->begin(), password->end()) : std::string{};
  return !expected.empty() && given == expected;
}

broker::TopicAcl GenericDialect::topicAcl(const core::Device& device) const {
  using enum broker::TopicAcl::Direction;
  // Publish below devices/{id}/ (not on the root itself), subscribe to anything under it; device
  // ids hold no '/', '+' or '#', so they are single literal levels.
  const auto root = deviceRoot(device);
  broker::TopicAcl acl;
  acl.deny(Publish, root).allow(Publish, root + "+/#").allow(Subscribe, root + "#");
  return acl;
}

void GenericDialect::uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& p,
                            MqttPublisher&) const {
  const auto root = deviceRoot(device);
  const std::string_view rest = std::string_view(p.topic).substr(root.size());
  // devices/{id}/commands/{commandId}/result
  constexpr std::string_view kCommands = "commands/";
  constexpr std::string_view kResult = "/result";
  if (rest.starts_with(kCommands) && rest.ends_with(kResult) && rest.size() > kCommands.size() + kResult.size()) {
    const std::string commandId(rest.substr(kCommands.size(), rest.size() - kCommands.size() - kResult.size()));
    const auto body = nlohmann::json::parse(p.payload.begin(), p.payload.end(), nullptr, false);
    const bool success = !(body.is_object() && body.contains("success") && body["success"] == false);
    if (auto done = platform.commandCompleted(commandId, success, std::string(p.payload.begin(), p.payload.end())); !done)
      spdlog::info("generic: result for command {} ignored: {}", commandId, done.error().message);
    return;
  }
  constexpr std::string_view kOta = "ota/";
  if (ota_ && rest.starts_with(kOta) && ota_->uplink(device, rest.substr(kOta.size()), p.payload)) return;
  const auto body = nlohmann::json::parse(p.payload.begin(), p.payload.end(), nullptr, false);
  platform.recordUplink(device.id, "mqtt", p.topic, p.payload,
                        body.is_discarded() ? "application/octet-stream" : "application/json");
}

bool GenericDialect::receivesCommands(const core::Device& device, std::string_view filter) const {
  return mqtt::topicMatches(filter, "devices/" + device.id + "/commands");
}

MqttDownlink GenericDialect::encodeCommand(const core::Device& device, const core::Command& command) const {
  nlohmann::json body = {{"id", command.id}, {"name", command.spec.name}};
  if (command.spec.binary) {
    body["payload"] = base64Encode(command.spec.payload);
    body["binary"] = true;
  } else {
    auto payload = nlohmann::json::parse(command.spec.payload, nullptr, false);
    body["payload"] = payload.is_discarded() ? nlohmann::json(command.spec.payload) : payload;
  }
  const auto text = body.dump();
  return {"devices/" + device.id + "/commands", {text.begin(), text.end()}, mqtt::QoS::AtLeastOnce};
}

}  // namespace fc::server::dialects
