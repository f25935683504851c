// The generic dialect's OTA part (docs/dialects/generic.md, "Firmware updates"):
//   offer     cloud → devices/{id}/ota/offer, QoS 1: {"jobId","firmwareId","version","name","module","url",
//             "httpsUrl","size","md5","sha256","mode","step","steps","attempt"}
//   cancel    cloud → devices/{id}/ota/cancel, QoS 1: {"jobId"}
//   version   device → devices/{id}/ota/version: {"version"[, "module"]} — after subscribing, on every
//             connect and after an upgrade; the device is then ready for offers
//   progress  device → devices/{id}/ota/progress: {"jobId"?, "state": "downloading", "progress": 0..100}
//             | {"state": "downloaded"} | {"state": "installing"} | {"state": "failed", "code", "reason"}
// Offers wait for the version report (waitsForReady), so none is published before the device has
// subscribed; a device that reconnects mid-upgrade is offered again (it resumes its download).
#pragma once

#include <string_view>
#include <vector>

#include "server/core/model.hpp"
#include "server/dialects/mqtt_dialect.hpp"
#include "server/ota/ota_part.hpp"

namespace fc::server::dialects {

class GenericOta final : public ota::OtaPart {
 public:
  explicit GenericOta(MqttPublisher& mqtt) : mqtt_(mqtt) {}

  void offer(const core::Device& device, const ota::OtaOffer& offer) override;
  void cancel(const core::Device& device, const std::string& jobId) override;
  bool waitsForReady() const override { return true; }

  /// A device's PUBLISH below devices/{id}/ota/ (`rest` is what follows "ota/"): true when it is one
  /// of the contract's topics (handled, a bad payload logged and dropped), false otherwise.
  bool uplink(const core::Device& device, std::string_view rest, const std::vector<std::uint8_t>& payload) const;

 private:
  MqttPublisher& mqtt_;
};

}  // namespace fc::server::dialects
