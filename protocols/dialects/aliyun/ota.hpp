// Firmware updates (OTA) and remote configuration (COTA) of Alibaba IoT as iotkit-embedded's OTA
// module reads and writes them (../shared/protocols/aliyun.md "OTA"; the SDK's ota_lib.c and
// ota_mqtt.c): the cloud's upgrade offer, the device's version and progress reports, and the
// config get/push exchange. Pure functions: no I/O; parsers return a value or a reason, never throw.
//
// Topics (pk/dn of the device):
//   /ota/device/inform/{pk}/{dn}     device → cloud, QoS 1: {"id":N,"params":{"version":"…"}}
//   /ota/device/request/{pk}/{dn}    device → cloud, QoS 1, same shape: "is there something for me?";
//                                    the cloud answers on the same topic with an upgrade message
//                                    (the SDK subscribes to it and takes only messages holding "url")
//   /ota/device/upgrade/{pk}/{dn}    cloud → device: the upgrade message
//   /ota/device/progress/{pk}/{dn}   device → cloud, QoS 0: {"id":N,"params":{"step":"33","desc":"…"}}
//   /sys/{pk}/{dn}/thing/config/get  device → cloud: thing.config.get; answered on …/get_reply
//   /sys/{pk}/{dn}/thing/config/push cloud → device: thing.config.push; answered on …/push_reply
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"

namespace fc::aliyun {

/// What the cloud offers a device. `md5` is always sent (the v2 SDK requires it and checks the
/// image with it); with `sha256` set the message signs with SHA256 instead of Md5 (v3 SDKs).
struct FirmwareOffer {
  std::int64_t id = 0;  ///< the message id (a number in Alibaba's messages)
  std::string version;
  std::string url;
  std::uint64_t size = 0;
  std::string md5;       ///< lower-case hex
  std::string sha256;    ///< lower-case hex, optional
  std::string module;    ///< optional: the firmware module (v3 multi-module OTA); "" = default
};

/// `{"code":"1000","data":{"md5":…,"sign":…,"signMethod":"Md5","size":N,"url":…,"version":…},
/// "id":N,"message":"success"}` (keys sorted; "module" in data when set). The SDK requires
/// `message` "success" and data.version, url, md5 and size.
[[nodiscard]] std::string otaUpgradeMessage(const FirmwareOffer& offer);

/// The version a device reports with inform or request (`params.version`, 1–32 characters as
/// the SDK allows, and `params.module` when present).
struct OtaVersionReport {
  std::string id;  ///< as sent ("" when absent)
  std::string version;
  std::string module;
};
[[nodiscard]] Expected<OtaVersionReport, std::string> parseOtaVersionReport(std::string_view payload);

/// A progress report: `step` −4…100 (a string in the SDK's messages; an integer is accepted too).
struct OtaProgress {
  std::string id;
  int step = 0;
  std::string desc;
  std::string module;
  bool failed() const { return step < 0; }
};
[[nodiscard]] Expected<OtaProgress, std::string> parseOtaProgress(std::string_view payload);

/// The SDK's meaning of a failing step (IOT_OTA_Progress_t): −1 "upgrade failed", −2 "download
/// failed", −3 "verify failed", −4 "flash write failed"; "" for 0…100.
[[nodiscard]] std::string_view otaStepMeaning(int step) noexcept;

// --- remote configuration (COTA) ---

/// A configuration file as the cloud describes it to the device.
struct ConfigFile {
  std::string configId;
  std::uint64_t size = 0;
  std::string sign;                   ///< hex digest of the file
  std::string signMethod = "Sha256";  ///< Alibaba's spelling
  std::string url;
  std::string getType = "file";
};

/// `thing.config.get` from the device: `{"id":…,"version":"1.0","params":{"configScope":"product",
/// "getType":"file","attributeKeys":"…"},"method":"thing.config.get"}`.
struct ConfigGetRequest {
  std::string id;
  std::string configScope;
  std::string getType;
};
[[nodiscard]] Expected<ConfigGetRequest, std::string> parseConfigGet(std::string_view payload);

/// The reply on …/thing/config/get_reply: `{"code":200,"data":{"configId","configSize","getType",
/// "sign","signMethod","url"},"id":"…","message":"success","version":"1.0"}`.
[[nodiscard]] std::string configGetReply(std::string_view id, const ConfigFile& file);
/// The reply when there is no configuration file: code 404 "config not found", data {} (Alibaba does
/// not publish its code for this; the SDK only tells 200 from the rest).
[[nodiscard]] std::string configGetNothing(std::string_view id);

/// The cloud's push on …/thing/config/push: `{"id":"…","method":"thing.config.push","params":{…the
/// same six fields…},"version":"1.0"}`.
[[nodiscard]] std::string configPush(std::string_view id, const ConfigFile& file);

/// The device's answer on …/thing/config/push_reply: its code (200 = taken). The SDK sends
/// `"code":"400"` as a string, and on failure a body without its outer braces, which is read here
/// too.
[[nodiscard]] Expected<int, std::string> parseConfigPushReply(std::string_view payload);

}  // namespace fc::aliyun
