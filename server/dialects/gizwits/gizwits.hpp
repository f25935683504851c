// The gizwits dialect: Gizwits GAgent v4 devices as the Gizwits M2M service sees them
// (docs/dialects/gizwits.md, ../shared/protocols/gizwits.md, the v4.0.6 protocol in the seeds).
//   product      keys.productKey: 32 hex digits (generated when absent); keys.productSecret optional
//   device       identifiers.did (22 letters and digits; the device id when that is one, else
//                generated), identifiers.mac (12 hex, normalised, optional), secrets.passcode (10)
//   login        MQTT 3.1 or 3.1.1: client id = username = DID, password = passcode. A DID-shaped
//                client id naming no device: CONNACK 0x02; a username other than the DID, or a
//                wrong passcode: 0x04. Keepalive > gizwits.maxKeepAlive (600) counts as 600; more
//                than gizwits.maxPings (60) PINGREQ in gizwits.pingWindowSeconds (180) disconnect.
//   ACL          subscribe ser2cli_noti/<productKey>, ser2cli_res/<did>, app2dev/<did>/#;
//                publish dev2app/<did>[/<appClientId>], cli2ser_req, cli2ser, ser2cli_req
//   uplinks      0x0091 (and 0x0093 from the device) → uplink history: the data, on its topic (which
//                names the app client id); 0x0094 → the command with that sn SUCCESSFUL; 0x0011 → the
//                oldest open logLevel command SUCCESSFUL; 0x0012 → the device's log; 0x020F → 0x0210
//                with the device's app count on ser2cli_res/<did>
//   commands     name `[kind][@appClientId]`, kind "" / passthrough → 0x0090, ack → 0x0093 (sn = the
//                command's sequence number), logLevel → 0x0010 (payload: the 16 bits); published on
//                app2dev/<did>/<appClientId> ("fakecloud" by default). M2M acknowledges nothing, so a
//                0x0090 is SUCCESSFUL once published; 0x0093 waits for its 0x0094, 0x0010 for 0x0011.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "server/dialects/gizwits/gizwits_options.hpp"
#include "server/dialects/mqtt_dialect.hpp"

namespace fc::server::dialects {

/// A gizwits command name read: what to send and to which app client id.
struct GizwitsCommandName {
  enum class Kind { PassThrough, Acked, LogLevel } kind = Kind::PassThrough;
  std::string appClientId = "fakecloud";
};
/// nullopt when the name is not `[kind][@appClientId]` with a known kind and an app client id of
/// 1-64 characters without '/', '+', '#' or controls.
std::optional<GizwitsCommandName> parseGizwitsCommandName(std::string_view name);

class GizwitsDialect final : public MqttDialect, public core::CommandSender {
 public:
  GizwitsDialect(core::Platform& platform, MqttPublisher& publisher, GizwitsConfig config);

  // --- MqttDialect ---
  std::string_view name() const override { return "gizwits"; }
  std::optional<MqttLogin> identify(const core::Platform& platform, const broker::ClientIdentity& client) const override;
  std::optional<MqttRefusal> refuse(const core::Platform& platform, const broker::ClientIdentity& client) const override;
  bool verify(const MqttLogin& login, const broker::ClientIdentity& client,
              const std::optional<std::vector<std::uint8_t>>& password) const override;
  std::optional<mqtt::ConnectionRules> connectionRules(const core::Platform& platform,
                                                       const broker::ClientIdentity& client) const override;
  broker::TopicAcl topicAcl(const core::Device& device) const override;
  void uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& publish,
              MqttPublisher& out) const override;
  bool receivesCommands(const core::Device& device, std::string_view filter) const override;
  MqttDownlink encodeCommand(const core::Device& device, const core::Command& command) const override;

  // --- core::CommandSender: publishes, and completes what M2M never acknowledges ---
  void sendCommand(const core::Device& device, const core::Product& product, const core::Command& command) override;

  // --- devices ---
  /// The gizwits device with this DID, with its product, if any.
  std::optional<MqttLogin> findByDid(std::string_view did) const;
  /// The product whose keys.productKey is `productKey` (any case), if it is a gizwits product.
  std::optional<core::Product> findProduct(std::string_view productKey) const;
  static std::string did(const core::Device& device);
  static std::string passcode(const core::Device& device);
  static std::string productKey(const core::Product& product);

  // --- online app count (§4.11, §4.12) ---
  std::uint16_t appCount(const std::string& deviceId) const;
  /// Sets it and, when it changed, tells the device (0x0210 on ser2cli_res/<did>).
  void setAppCount(const core::Device& device, std::uint16_t count);
  void reset();

  const GizwitsConfig& config() const { return config_; }

 private:
  void completeBySn(const core::Device& device, std::uint32_t sn, const std::vector<std::uint8_t>& data) const;
  void completeLogLevel(const core::Device& device) const;
  void sendAppCount(const core::Device& device, std::uint16_t count, MqttPublisher& out) const;

  core::Platform& platform_;
  MqttPublisher& publisher_;
  GizwitsConfig config_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::uint16_t> appCounts_;  // device id → online apps
};

}  // namespace fc::server::dialects
