// The aliyun dialect's OTA part (docs/dialects/aliyun.md, "Firmware updates"), over the pure
// messages of protocols/dialects/aliyun/ota.hpp:
//   offer     cloud → /ota/device/upgrade/{pk}/{dn}, QoS 1: {"code":"1000","data":{md5, sign,
//             signMethod, size, url, version[, module]},"id":N,"message":"success"}; the URL is the
//             download offer's HTTPS URL (HTTP with keys.otaUrlScheme "http")
//   request   device → /ota/device/request/{pk}/{dn}: answered on that same topic with the running
//             job's offer (the SDK subscribes to it and takes only a message holding "url"); no
//             answer when the device has nothing to install
//   progress  device → /ota/device/progress/{pk}/{dn}: step 0…100 → progress (100 → downloaded);
//             -1…-4 → failed, with the SDK's meaning of the step and the device's desc
//   inform    device → /ota/device/inform/{pk}/{dn}: the device is ready for offers (the SDK informs
//             after subscribing, on every start); its version → versionReported, which also sets
//             its firmwareVersion and, being the target version, completes its upgrade
// A device that reconnects mid-upgrade is offered again: iotkit-embedded keeps no OTA state.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/platform.hpp"
#include "server/dialects/aliyun/aliyun.hpp"
#include "server/dialects/mqtt_dialect.hpp"
#include "server/ota/ota_part.hpp"

namespace fc::server::dialects {

class AliyunOta final : public ota::OtaPart {
 public:
  AliyunOta(core::Platform& platform, MqttPublisher& mqtt, const AliyunDialect& aliyun);

  void offer(const core::Device& device, const ota::OtaOffer& offer) override;
  bool waitsForReady() const override { return true; }

  /// A device's PUBLISH on /ota/device/{kind}/{pk}/{dn} (`kind`: inform, request or progress);
  /// a bad payload is logged and dropped.
  void uplink(const AliyunDialect::Triplet& t, std::string_view kind, const std::vector<std::uint8_t>& payload);

 private:
  std::string upgradeMessage(const AliyunDialect::Triplet& t, const ota::OtaOffer& offer);

  core::Platform& platform_;
  MqttPublisher& mqtt_;
  const AliyunDialect& aliyun_;
  std::atomic<std::int64_t> nextId_;
};

}  // namespace fc::server::dialects
