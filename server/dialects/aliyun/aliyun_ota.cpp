// The aliyun OTA part; what it does is at the top of aliyun_ota.hpp.
#include "server/dialects/aliyun/aliyun_ota.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocols/dialects/aliyun/ota.hpp"

namespace fc::server::dialects {
namespace {

namespace ali = fc::aliyun;

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

}  // namespace

AliyunOta::AliyunOta(core::Platform& platform, MqttPublisher& mqtt, const AliyunDialect& aliyun)
    : platform_(platform),
      mqtt_(mqtt),
      aliyun_(aliyun),
      // Numeric message ids that do not repeat across restarts, as the dialect's others.
      nextId_(core::toMillis(platform.clock().now())) {}

std::string AliyunOta::upgradeMessage(const AliyunDialect::Triplet& t, const ota::OtaOffer& offer) {
  const auto& f = offer.current();
  const auto scheme = t.product.keys.value("otaUrlScheme", std::string("https"));
  const auto& url = scheme == "http" || f.httpsUrl.empty() ? f.httpUrl : f.httpsUrl;
  return ali::otaUpgradeMessage({nextId_++, f.version, url, f.size, f.md5, "", f.module});
}

void AliyunOta::offer(const core::Device& device, const ota::OtaOffer& offer) {
  auto t = aliyun_.triplet(device);
  if (!t) return;
  // The SDK subscribes to /ota/device/upgrade at QoS 1.
  mqtt_.publish("/ota/device/upgrade/" + t->productKey + "/" + t->deviceName, bytes(upgradeMessage(*t, offer)),
                mqtt::QoS::AtLeastOnce);
}

void AliyunOta::uplink(const AliyunDialect::Triplet& t, std::string_view kind, const std::vector<std::uint8_t>& payload) {
  auto* to = reporter();
  const auto& id = t.device.id;
  if (kind == "inform" || kind == "request") {
    auto report = ali::parseOtaVersionReport(text(payload));
    if (!report) {
      spdlog::info("aliyun: device {} sent an OTA {} that is not {{\"id\",\"params\":{{\"version\"}}}} ({}): {}", id,
                   kind, report.error(), text(payload));
      return;
    }
    if (!to) {  // a server without upgrade jobs still learns the version
      if (report->module.empty()) (void)platform_.updateDevice(id, nlohmann::json{{"firmwareVersion", report->version}});
      return;
    }
    if (kind == "inform") {
      // The version first: a device back on its target version completes before it could be offered.
      to->versionReported(id, report->version, report->module);
      to->ready(id);
      return;
    }
    // request: answered on the request topic itself, only when there is something to install.
    if (auto offer = to->currentOffer(id))
      mqtt_.publish("/ota/device/request/" + t.productKey + "/" + t.deviceName, bytes(upgradeMessage(t, *offer)),
                    mqtt::QoS::AtLeastOnce);
    return;
  }
  if (kind != "progress") return;
  auto progress = ali::parseOtaProgress(text(payload));
  if (!progress) {
    spdlog::info("aliyun: device {} sent an OTA progress that is not understood ({}): {}", id, progress.error(),
                 text(payload));
    return;
  }
  if (!to) return;
  if (progress->failed()) {
    std::string reason(ali::otaStepMeaning(progress->step));
    if (!progress->desc.empty()) reason += ": " + progress->desc;
    to->failed(id, std::to_string(progress->step), std::move(reason));
    return;
  }
  to->progress(id, progress->step);
  if (progress->step == 100) to->downloaded(id);
}

}  // namespace fc::server::dialects
