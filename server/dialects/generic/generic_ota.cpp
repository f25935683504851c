// The generic dialect's OTA contract; see generic_ota.hpp.
#include "server/dialects/generic/generic_ota.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace fc::server::dialects {
namespace {

using nlohmann::json;

std::vector<std::uint8_t> bytesOf(const json& j) {
  const auto text = j.dump();
  return {text.begin(), text.end()};
}

std::string text(const json& body, const char* name) {
  if (!body.contains(name)) return {};
  const auto& v = body[name];
  return v.is_string() ? v.get<std::string>() : v.dump();  // codes may come as numbers
}

}  // namespace

void GenericOta::offer(const core::Device& device, const ota::OtaOffer& offer) {
  const auto& f = offer.current();
  const json body = {{"jobId", offer.jobId},
                     {"firmwareId", f.firmwareId},
                     {"version", f.version},
                     {"name", f.name},
                     {"module", f.module},
                     {"url", f.httpUrl},
                     {"httpsUrl", f.httpsUrl},
                     {"size", f.size},
                     {"md5", f.md5},
                     {"sha256", f.sha256},
                     {"mode", std::string(ota::toString(offer.mode))},
                     {"step", offer.step + 1},
                     {"steps", offer.firmware.size()},
                     {"attempt", offer.attempt}};
  mqtt_.publish("devices/" + device.id + "/ota/offer", bytesOf(body), mqtt::QoS::AtLeastOnce);
}

void GenericOta::cancel(const core::Device& device, const std::string& jobId) {
  mqtt_.publish("devices/" + device.id + "/ota/cancel", bytesOf({{"jobId", jobId}}), mqtt::QoS::AtLeastOnce);
}

bool GenericOta::uplink(const core::Device& device, std::string_view rest,
                        const std::vector<std::uint8_t>& payload) const {
  if (rest != "version" && rest != "progress") return false;
  const auto body = json::parse(payload.begin(), payload.end(), nullptr, false);
  ota::OtaReporter* to = reporter();
  if (!body.is_object()) {
    spdlog::warn("generic: device {} sent ota/{} that is not a JSON object; dropped", device.id, rest);
    return true;
  }
  if (!to) return true;
  if (rest == "version") {
    if (!body.contains("version") || !body["version"].is_string() || body["version"].get<std::string>().empty()) {
      spdlog::warn("generic: device {} sent ota/version without a version; dropped", device.id);
      return true;
    }
    to->versionReported(device.id, body["version"].get<std::string>(), text(body, "module"));
    to->ready(device.id);
    return true;
  }
  const std::string jobId = text(body, "jobId");
  const std::string state = text(body, "state");
  if (state == "downloading") {
    const auto& p = body.contains("progress") ? body["progress"] : json();
    if (!p.is_number()) {
      spdlog::warn("generic: device {} sent ota/progress downloading without a number 'progress'; dropped", device.id);
      return true;
    }
    to->progress(device.id, static_cast<int>(p.get<double>()), jobId);
  } else if (state == "downloaded") {
    to->downloaded(device.id, jobId);
  } else if (state == "installing") {
    to->installing(device.id, jobId);
  } else if (state == "failed") {
    to->failed(device.id, text(body, "code"), text(body, "reason"), jobId);
  } else {
    spdlog::warn("generic: device {} sent ota/progress with unknown state '{}'; dropped", device.id, state);
  }
  return true;
}

}  // namespace fc::server::dialects
