// fc::client::GenericDevice — a device of fakecloud's own "generic" dialect (docs/dialects/generic.md):
// signs in with its id and secret, sends telemetry, answers commands through a handler, and, with
// enableOta(), performs firmware upgrades: takes an offer, downloads it (resuming after a cut),
// verifies MD5 and SHA-256, reports progress, "reboots" and reports its new version.
// The device owns the client's message handler: messages other than its commands are dropped, and
// SyncMqttClient::receive() sees none.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

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

  /// A firmware offer as devices/{id}/ota/offer carries it.
  struct FirmwareOffer {
    std::string jobId, firmwareId, version, name, module, url, httpsUrl, md5, sha256, mode;
    std::uint64_t size = 0;
    std::uint32_t step = 1, steps = 1, attempt = 1;
  };
  /// How the device upgrades; the knobs let tests drive every path of a job.
  struct OtaBehaviour {
    bool https = false;   ///< download from httpsUrl, verifying the server with caFile
    std::string caFile;
    bool ignoreOffers = false;        ///< record offers but do nothing (a device that never upgrades)
    std::uint32_t failAttempts = 0;   ///< report this many offers as failed (after downloading) before succeeding
    std::string failCode = "-1";
    std::string failReason = "install failed";
    bool corruptAfterDownload = false;  ///< check the digests against a changed image (a verification failure)
    std::chrono::milliseconds installTime{0};  ///< between reporting "installing" and the new version
    std::uint32_t maxConnections = 8;          ///< per download, resumes included
    std::chrono::milliseconds downloadIdleTimeout{10'000};
  };
  /// What the device saw and did, for tests.
  struct OtaRecord {
    std::vector<FirmwareOffer> offers;
    std::vector<std::string> cancels;    ///< job ids
    std::vector<std::string> installed;  ///< versions, in order
    std::vector<std::string> failures;   ///< "code: reason" reported
    std::vector<std::uint8_t> lastImage;
    std::uint32_t downloadConnections = 0;  ///< over all downloads
    std::uint32_t downloadResumes = 0;
  };

  /// `transport` gives host, port, TLS, keepalive…; username and password are set from the device.
  GenericDevice(MqttOptions transport, std::string deviceId, std::string secret);
  ~GenericDevice();
  GenericDevice(const GenericDevice&) = delete;
  GenericDevice& operator=(const GenericDevice&) = delete;

  /// Set before connect().
  void onCommand(CommandHandler handler);

  /// Before connect(): the device runs `version` and takes firmware offers. connect() then also
  /// subscribes to devices/{id}/ota/offer and /ota/cancel and reports the version on
  /// devices/{id}/ota/version, which makes it ready for offers. An upgrade runs on the client's I/O
  /// thread (the download too: no thread of its own): progress on devices/{id}/ota/progress,
  /// "downloaded", "installing", then — the "reboot" — the new version on devices/{id}/ota/version.
  void enableOta(std::string version, OtaBehaviour behaviour);
  void enableOta(std::string version);
  std::string firmwareVersion() const;
  OtaRecord otaRecord() const;
  /// True once the device runs `version` (within `timeout`): after an upgrade, once the cloud has
  /// acknowledged (PUBACK) its report of the new version.
  bool waitForVersion(const std::string& version, std::chrono::milliseconds timeout = kDefaultTimeout);
  /// True once the device has seen `n` offers (within `timeout`).
  bool waitForOffers(std::size_t n, std::chrono::milliseconds timeout = kDefaultTimeout);

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
  struct Ota;
  std::string id_;
  std::shared_ptr<Handlers> handlers_;  // shared with the client's message handler
  std::unique_ptr<SyncMqttClient> mqtt_;
  std::shared_ptr<Ota> ota_;  // shared with the message handler and the downloads
};

}  // namespace fc::client
