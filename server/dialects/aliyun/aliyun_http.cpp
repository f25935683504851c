// The aliyun HTTP endpoints; the list is at the top of aliyun_http.hpp. Codes of the HTTP channel
// are iotkit-embedded's iotx_http_upstream_response_t.
#include "server/dialects/aliyun/aliyun_http.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocols/common/base64.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "protocols/mqtt/topic.hpp"
#include "server/core/random.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
using http::ApiRequest;
using http::ApiResponse;
namespace ali = fc::aliyun;

// iotx_http_upstream_response_t
constexpr int kHttpSuccess = 0;
constexpr int kHttpParamError = 10001;
constexpr int kHttpAuthCheckError = 20000;
constexpr int kHttpTokenExpired = 20001;  // the SDK signs in again on this one
constexpr int kHttpTokenNull = 20002;
constexpr int kHttpPublishError = 30001;

ApiResponse deviceAnswer(const json& body) {
  return http::jsonResponse(200, body.dump(-1, ' ', false, json::error_handler_t::replace));
}
ApiResponse channelError(int code, const std::string& message) {
  return deviceAnswer({{"code", code}, {"message", message}});
}

std::string field(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : std::string{};
}

/// Journals a known device's request and the answer it gets, as HTTP/1.1 text (transport "http",
/// or "https" from the HTTPS listener): "POST /auth (180 bytes)", then "200 code=0 success".
void journalExchange(core::Platform& platform, const std::string& deviceId, const ApiRequest& r,
                     const ApiResponse& answer, const std::string& topic) {
  const std::string transport = r.tls ? "https" : "http";
  platform.journal(deviceId, "in", transport, topic, http::wireBytes(r),
                   r.method + " " + r.path + " (" + std::to_string(r.body.size()) + " bytes)");
  std::string summary = std::to_string(answer.status);
  if (const auto body = json::parse(answer.body, nullptr, false); body.is_object()) {
    if (body.contains("code")) summary += " code=" + body["code"].dump();
    summary += " " + field(body, "message");
  }
  platform.journal(deviceId, "out", transport, topic, http::wireBytes(answer), std::move(summary));
}

// POST /auth — {"version","clientId","signmethod","sign","productKey","deviceName"[,"timestamp"]}
ApiResponse httpAuth(core::Platform& platform, AliyunDialect& aliyun, const ApiRequest& r) {
  const auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object()) {
    spdlog::info("aliyun http: /auth body is not a JSON object");
    return channelError(kHttpParamError, "request body is not a JSON object");
  }
  const auto pk = field(body, "productKey"), dn = field(body, "deviceName"), clientId = field(body, "clientId"),
             sign = field(body, "sign");
  if (pk.empty() || dn.empty() || clientId.empty() || sign.empty())
    return channelError(kHttpParamError, "productKey, deviceName, clientId and sign are required");
  auto t = aliyunCheckSign(aliyun, pk, dn, clientId, field(body, "timestamp"), field(body, "signmethod"), sign);
  if (!t) {
    spdlog::info("aliyun http: /auth of {}/{} refused: {}", pk, dn, t.error());
    auto refused = channelError(kHttpAuthCheckError, "auth check error");
    if (auto device = aliyun.findDevice(pk, dn)) journalExchange(platform, device->device.id, r, refused, r.path);
    return refused;
  }
  auto answer = deviceAnswer(
      {{"code", kHttpSuccess}, {"message", "success"}, {"info", {{"token", aliyun.issueHttpToken(t->device.id)}}}});
  journalExchange(platform, t->device.id, r, answer, r.path);
  return answer;
}

// POST /topic/{topic…} with header `password:{token}`
ApiResponse httpTopic(AliyunDialect& aliyun, core::Platform& platform, const ApiRequest& r) {
  const auto topic = "/" + r.params.at("topic");
  auto header = r.headers.find("password");
  if (header == r.headers.end() || header->second.empty()) return channelError(kHttpTokenNull, "token is null");
  auto deviceId = aliyun.httpTokenDevice(header->second);
  if (!deviceId) {
    spdlog::info("aliyun http: POST {} with an unknown or expired token", r.path);
    auto refused = channelError(kHttpTokenExpired, "token is expired or invalid");
    // An expired token still names its device, whose journal shows why it must sign in again.
    if (auto expired = aliyun.httpTokenDevice(header->second, true))
      journalExchange(platform, *expired, r, refused, topic);
    return refused;
  }
  auto device = platform.device(*deviceId);
  auto t = device ? aliyun.triplet(*device) : std::nullopt;
  if (!t) return channelError(kHttpTokenExpired, "token is expired or invalid");
  if (!mqtt::validTopicName(topic) || !mqtt::validUtf8(topic) ||
      !aliyunMayPublish(t->productKey, t->deviceName, topic)) {
    spdlog::info("aliyun http: device {} may not publish to {}", t->device.id, topic);
    auto refused = channelError(kHttpPublishError, "no permission to publish to " + r.path.substr(6));
    journalExchange(platform, t->device.id, r, refused, topic);
    return refused;
  }
  std::vector<std::uint8_t> payload(r.body.begin(), r.body.end());
  // iotkit-embedded sends strlen(payload) + 1 bytes: the C string's terminator is not data.
  if (!payload.empty() && payload.back() == 0) payload.pop_back();
  auto answer =
      deviceAnswer({{"code", kHttpSuccess}, {"message", "success"}, {"info", {{"messageId", aliyun.nextMessageId()}}}});
  // Journaled before the uplink is handled, so the journal shows the request before the replies it causes.
  journalExchange(platform, t->device.id, r, answer, topic);
  aliyun.httpUplink(*t, topic, payload);
  return answer;
}

// POST /auth/devicename — form productKey, deviceName, sign, signmethod, clientId, timestamp, version, resources
ApiResponse preAuth(core::Platform& platform, AliyunDialect& aliyun, const ApiRequest& r) {
  ApiRequest form;
  form.query = r.body;  // application/x-www-form-urlencoded is a query string
  const auto get = [&form](const char* name) { return form.queryParam(name).value_or(""); };
  const auto pk = get("productKey"), dn = get("deviceName"), sign = get("sign");
  if (pk.empty() || dn.empty() || sign.empty())
    return deviceAnswer({{"code", 460}, {"message", "request parameter error: productKey, deviceName and sign are required"}});
  const auto clientId = get("clientId").empty() ? pk + "." + dn : get("clientId");
  auto t = aliyunCheckSign(aliyun, pk, dn, clientId, get("timestamp"), get("signmethod"), sign);
  if (!t) {
    spdlog::info("aliyun: pre-step (/auth/devicename) of {}/{} refused: {}", pk, dn, t.error());
    auto refused = deviceAnswer({{"code", 401}, {"message", "authentication failed"}});
    if (auto device = aliyun.findDevice(pk, dn)) journalExchange(platform, device->device.id, r, refused, r.path);
    return refused;
  }
  std::string host = "127.0.0.1";
  if (auto h = r.headers.find("host"); h != r.headers.end() && !h->second.empty()) {
    host = h->second;
    if (host.front() == '[') host = host.find(']') == std::string::npos ? "" : host.substr(0, host.find(']') + 1);
    else host = host.substr(0, host.find(':'));  // [::1]:8080 above, 127.0.0.1:8080 here
    if (host.empty()) host = "127.0.0.1";
  }
  const auto token = aliyun.issueIotToken(t->device.id);
  auto answer = deviceAnswer({{"code", 200},
                              {"data",
                               {{"iotId", token.iotId},
                                {"iotToken", token.iotToken},
                                {"resources", {{"mqtt", {{"host", host}, {"port", aliyun.mqttPort()}}}}}}},
                              {"message", "success"}});
  journalExchange(platform, t->device.id, r, answer, r.path);
  return answer;
}

// POST /auth/register/device — dynamic registration: form productKey, deviceName, random, sign,
// signMethod; the sign is keyed by the ProductSecret. The SDK reads only `code` (200 or not) and
// data.deviceSecret, into a 256-byte buffer. Alibaba does not publish its refusal codes; these are
// fakecloud's, in the manner of the pre-step's (docs/dialects/aliyun.md).
constexpr int kRegisterOk = 200;
constexpr int kRegisterParamError = 460;
constexpr int kRegisterSignError = 401;
constexpr int kRegisterNotEnabled = 403;
constexpr int kRegisterUnknown = 404;
constexpr int kRegisterActivated = 409;

ApiResponse registerDevice(core::Platform& platform, AliyunDialect& aliyun, const ApiRequest& r) {
  ApiRequest form;
  form.query = r.body;  // application/x-www-form-urlencoded is a query string
  const auto get = [&form](const char* name) { return form.queryParam(name).value_or(""); };
  const auto pk = get("productKey"), dn = get("deviceName"), random = get("random"), sign = get("sign");
  const auto device = pk.empty() || dn.empty() ? std::nullopt : aliyun.findDevice(pk, dn);
  const auto refuse = [&](int code, const std::string& message) {
    spdlog::info("aliyun: dynamic registration of {}/{} refused: {}", pk, dn, message);
    auto refused = deviceAnswer({{"code", code}, {"message", message}});
    if (device) journalExchange(platform, device->device.id, r, refused, r.path);
    return refused;
  };
  if (pk.empty() || dn.empty() || random.empty() || sign.empty())
    return refuse(kRegisterParamError,
                  "request parameter error: productKey, deviceName, random and sign are required");
  const auto method = ali::parseSignMethod(get("signMethod"));
  if (!method) return refuse(kRegisterParamError, "request parameter error: signMethod must be hmacsha256, hmacsha1 or hmacmd5");
  const auto product = aliyun.findProduct(pk);
  if (!product) return refuse(kRegisterUnknown, "product not found");
  const auto productSecret = field(product->keys, "productSecret");
  if (productSecret.empty() || product->keys.value("dynamicRegistration", false) != true)
    return refuse(kRegisterNotEnabled, "dynamic registration is not enabled for this product");
  if (!device) return refuse(kRegisterUnknown, "device not found: add the device to its product first");
  if (!ali::signatureMatches(ali::hmacHex(*method, productSecret, ali::registrationSignContent(dn, pk, random)), sign))
    return refuse(kRegisterSignError, "sign check failed");
  if (device->device.online || device->device.lastSeen)
    return refuse(kRegisterActivated, "the device is already activated");

  auto deviceSecret = device->deviceSecret;
  if (deviceSecret.empty()) {  // possible after a PATCH that replaced the secrets
    auto secrets = device->device.secrets;
    secrets["deviceSecret"] = deviceSecret = core::randomAlnum(32);
    if (auto updated = platform.updateDevice(device->device.id, {{"secrets", secrets}}); !updated)
      return refuse(500, "device secret not stored: " + updated.error().message);
  }
  auto answer = deviceAnswer({{"code", kRegisterOk},
                              {"data", {{"productKey", pk}, {"deviceName", dn}, {"deviceSecret", deviceSecret}}},
                              {"message", "success"}});
  journalExchange(platform, device->device.id, r, answer, r.path);
  return answer;
}

/// The bytes a northbound request sends to devices: `payload` (JSON, sent as its text) or
/// `payloadBase64` (raw bytes); the error answer otherwise.
Expected<std::vector<std::uint8_t>, ApiResponse> requestPayload(const json& body, const char* what) {
  if (body.contains("payloadBase64")) {
    if (!body["payloadBase64"].is_string())
      return Unexpected(http::errorResponse(422, "invalid", "field 'payloadBase64' must be a string"));
    auto decoded = base64Decode(body["payloadBase64"].get<std::string>());
    if (!decoded) return Unexpected(http::errorResponse(422, "invalid", "payloadBase64 is not valid base64"));
    return std::move(*decoded);
  }
  if (body.contains("payload")) {
    const auto text = body["payload"].dump();
    return std::vector<std::uint8_t>(text.begin(), text.end());
  }
  return Unexpected(http::errorResponse(422, "invalid", std::string(what) + " needs 'payload' (JSON) or 'payloadBase64'"));
}

// POST /api/v1/products/{id}/broadcast — {"topic": "<suffix>", "payload": JSON | "payloadBase64": "…"}
ApiResponse postBroadcast(AliyunDialect& aliyun, const ApiRequest& r) {
  const auto body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return http::errorResponse(400, "bad_json", "the body is not JSON");
  if (!body.is_object()) return http::errorResponse(400, "bad_request", "the body must be a JSON object");
  if (!body.contains("topic") || !body["topic"].is_string())
    return http::errorResponse(422, "invalid", "field 'topic' (the part after /broadcast/{productKey}/) must be a string");
  auto payload = requestPayload(body, "a broadcast");
  if (!payload) return payload.error();
  auto topic = aliyun.broadcast(r.params.at("id"), body["topic"].get<std::string>(), std::move(*payload));
  if (!topic) return http::failureResponse(topic.error());
  return http::jsonResponse(200, json{{"topic", *topic}}.dump());
}

// POST /api/v1/devices/{id}/rrpc — {"payload": JSON | "payloadBase64": "…", "timeoutMs"?: 5000}
void postRrpc(AliyunDialect& aliyun, const ApiRequest& r, const http::Respond& respond) {
  const auto body = json::parse(r.body, nullptr, false);
  if (body.is_discarded()) return respond(http::errorResponse(400, "bad_json", "the body is not JSON"));
  if (!body.is_object()) return respond(http::errorResponse(400, "bad_request", "the body must be a JSON object"));
  auto requested = requestPayload(body, "an RRPC");
  if (!requested) return respond(requested.error());
  auto payload = std::move(*requested);
  std::int64_t timeoutMs = 5000;
  if (body.contains("timeoutMs")) {
    if (!body["timeoutMs"].is_number_integer())
      return respond(http::errorResponse(422, "invalid", "field 'timeoutMs' must be an integer"));
    timeoutMs = body["timeoutMs"].get<std::int64_t>();
    if (timeoutMs < 10 || timeoutMs > 60'000)
      return respond(http::errorResponse(422, "invalid", "timeoutMs must be 10..60000"));
  }
  auto started = aliyun.rrpc(r.params.at("id"), std::move(payload), std::chrono::milliseconds(timeoutMs),
                             [respond, timeoutMs](AliyunDialect::RrpcResult result) {
                               if (!result.answered)
                                 return respond(http::errorResponse(
                                     504, "timeout",
                                     "the device did not answer RRPC " + result.msgId + " within " +
                                         std::to_string(timeoutMs) + " ms"));
                               const auto parsed =
                                   json::parse(result.payload.begin(), result.payload.end(), nullptr, false);
                               json out = {{"msgId", result.msgId},
                                           {"payload", parsed.is_discarded() ? json(nullptr) : parsed},
                                           {"payloadBase64", base64Encode(result.payload)}};
                               respond(http::jsonResponse(200, out.dump(-1, ' ', false, json::error_handler_t::replace)));
                             });
  if (!started) respond(http::failureResponse(started.error()));
}

}  // namespace

Expected<AliyunDialect::Triplet, std::string> aliyunCheckSign(const AliyunDialect& aliyun, const std::string& productKey,
                                                        const std::string& deviceName, const std::string& clientId,
                                                        const std::string& timestamp, const std::string& signMethod,
                                                        const std::string& sign) {
  const auto method = ali::parseSignMethod(signMethod.empty() ? "hmacmd5" : signMethod);  // the SDK's default
  if (!method) return Unexpected("signmethod '" + signMethod + "' is not hmacmd5, hmacsha1 or hmacsha256");
  auto t = aliyun.findDevice(productKey, deviceName);
  if (!t) return Unexpected("no device '" + deviceName + "' in product key '" + productKey + "'");
  if (t->deviceSecret.empty()) return Unexpected(std::string("the device has no secrets.deviceSecret"));
  const auto expected = ali::sign(*method, t->deviceSecret, clientId, deviceName, productKey, timestamp);
  if (!ali::signatureMatches(expected, sign))
    return Unexpected("wrong sign (" + std::string(ali::toString(*method)) + " over '" +
                      ali::signContent(clientId, deviceName, productKey, timestamp) + "')");
  return *t;
}

void addAliyunRoutes(http::Router& router, core::Platform& platform, AliyunDialect& aliyun) {
  auto* a = &aliyun;
  auto* p = &platform;
  // A token is answered once it is committed, so a device never holds one a restart forgot.
  const auto afterCommit = [p](ApiResponse out, http::Respond respond) {
    p->whenCommitted([out = std::move(out), respond = std::move(respond)]() mutable { respond(std::move(out)); });
  };
  router.addAsync("POST", "/auth", [a, p, afterCommit](ApiRequest r, http::Respond respond) {
    afterCommit(httpAuth(*p, *a, r), std::move(respond));
  });
  router.add("POST", "/topic/{topic*}", [a, p](const ApiRequest& r) { return httpTopic(*a, *p, r); });
  router.addAsync("POST", "/auth/devicename", [a, p, afterCommit](ApiRequest r, http::Respond respond) {
    afterCommit(preAuth(*p, *a, r), std::move(respond));
  });
  router.addAsync("POST", "/auth/register/device", [a, p, afterCommit](ApiRequest r, http::Respond respond) {
    afterCommit(registerDevice(*p, *a, r), std::move(respond));
  });
  router.add("POST", "/api/v1/products/{id}/broadcast", [a](const ApiRequest& r) { return postBroadcast(*a, r); });
  router.addAsync("POST", "/api/v1/devices/{id}/rrpc",
                  [a](ApiRequest r, http::Respond respond) { postRrpc(*a, r, respond); });
}

}  // namespace fc::server::dialects
