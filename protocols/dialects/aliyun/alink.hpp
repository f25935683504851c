// Alink, Alibaba IoT's JSON over MQTT, as iotkit-embedded expects it (../shared/protocols/aliyun.md):
// replies to device requests, cloud requests (service calls), NTP and the device shadow.
// Pure functions: no I/O; parsers return a value or a precise error and never throw.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"

namespace fc::aliyun {

inline constexpr int kAlinkSuccess = 200;
/// Alibaba's "request parameter error" (the request is not an Alink JSON object).
inline constexpr int kAlinkBadRequest = 460;

/// A request's `id` as the string it must be echoed as: a JSON string as it is, a JSON integer in
/// decimal (some firmware sends numbers); nullopt for anything else or a missing id.
[[nodiscard]] std::optional<std::string> alinkId(const nlohmann::json& request);

/// `{"code":200,"data":{},"id":"2","message":"success"}` — keys in that order, `id` a string,
/// `code` a number, `data` always present (aliyun.md "Cloud reply").
[[nodiscard]] std::string alinkReply(std::string_view id, int code, const nlohmann::json& data,
                                     std::string_view message);

/// A cloud → device request: `{"id":"100","method":"thing.service.property.set","params":{…},"version":"1.0.0"}`.
[[nodiscard]] std::string alinkRequest(std::string_view id, std::string_view method, const nlohmann::json& params);

/// A service identifier usable in `thing/service/{identifier}` and `thing.service.{identifier}`:
/// 1..64 of letters, digits and '_' (Alibaba's TSL identifier rule), or "property.set".
[[nodiscard]] bool validServiceName(std::string_view name) noexcept;

/// NTP answer: `{"deviceSendTime":"…","serverRecvTime":"…","serverSendTime":"…"}`, all strings of
/// milliseconds since the Unix epoch.
[[nodiscard]] std::string ntpResponse(std::string_view deviceSendTime, std::int64_t serverRecvMs,
                                      std::int64_t serverSendMs);
/// The request's `deviceSendTime` (a string or an integer) as a string; nullopt when absent.
[[nodiscard]] std::optional<std::string> ntpDeviceSendTime(const nlohmann::json& request);

// --- device shadow (/shadow/update → /shadow/get) ---

/// Error codes the SDK knows (iotx_shadow_ack_code_t), plus 409 for a stale version.
enum class ShadowError : std::uint16_t {
  BadJson = 400,              ///< not a JSON object
  NoMethod = 401,             ///< no "method"
  NoState = 402,              ///< update/delete without "state"
  BadVersion = 403,           ///< "version" is not an integer
  NoReported = 404,           ///< update/delete whose state has neither reported nor desired
  EmptyReported = 405,        ///< reported is not an object or "null"
  BadMethod = 406,            ///< method other than update, get, delete
  DocumentEmpty = 407,        ///< get of a shadow that holds nothing (the SDK counts it as success)
  VersionConflict = 409,      ///< version not above the shadow's
  ServerError = 500,
};
[[nodiscard]] std::string_view message(ShadowError e) noexcept;

/// What a device's shadow message asks for.
struct ShadowRequest {
  enum class Method : std::uint8_t { Update, Get, Delete };
  Method method = Method::Get;
  std::string clientToken;                ///< echoed in the reply; may be empty
  std::optional<std::int64_t> version;    ///< as sent
  /// update: attributes to set (a JSON null value removes one); delete: attributes to remove.
  /// Held as JSON text so this header needs only json_fwd; empty when none.
  std::string reported;
  bool clearReported = false;  ///< `"reported":"null"` (delete all)
  bool clearDesired = false;   ///< `"desired":"null"` — the SDK's answer to a control push
  std::string desired;         ///< update of desired attributes by the device, JSON text; empty when none
};

/// The request, or the error to answer with (and the clientToken found, for that answer).
struct ShadowParseError {
  ShadowError error;
  std::string clientToken;
};
[[nodiscard]] Expected<ShadowRequest, ShadowParseError> parseShadowRequest(std::string_view payload);

/// `{"method":"reply","clientToken":"…","payload":{"status":"success","version":N},"timestamp":T}`.
/// Timestamps are seconds: the SDK reads them with atoi into a uint32_t.
[[nodiscard]] std::string shadowUpdateReply(std::string_view clientToken, std::int64_t version,
                                            std::int64_t timestampSeconds);
/// `{"method":"reply","clientToken":"…","payload":{"status":"error","content":{"errorcode":"403","errormessage":"…"}},"timestamp":T}`.
[[nodiscard]] std::string shadowErrorReply(std::string_view clientToken, ShadowError error,
                                           std::int64_t timestampSeconds);
/// The whole document for "get": `{"method":"reply","clientToken":"…","payload":{"status":"success",
/// "state":{"reported":{…},"desired":{…}},"metadata":{"reported":{"a":{"timestamp":T}},…}},
/// "version":N,"timestamp":T}`; `desired` and its metadata are left out when empty.
[[nodiscard]] std::string shadowGetReply(std::string_view clientToken, const nlohmann::json& reported,
                                         const nlohmann::json& desired, std::int64_t version,
                                         std::int64_t attributeTimestampSeconds, std::int64_t timestampSeconds);
/// The cloud's push of desired state: `{"method":"control","payload":{"state":{"desired":{…}},
/// "metadata":{"desired":{"a":{"timestamp":T}}}},"version":N,"timestamp":T}`.
[[nodiscard]] std::string shadowControl(const nlohmann::json& desired, std::int64_t version,
                                        std::int64_t attributeTimestampSeconds, std::int64_t timestampSeconds);

}  // namespace fc::aliyun
