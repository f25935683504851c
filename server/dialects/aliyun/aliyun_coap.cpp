// The aliyun CoAP channel; the contract is at the top of aliyun_coap.hpp. Handlers run on the CoAP
// endpoint's strand and answer synchronously (piggybacked in the ACK of the device's CON).
#include "server/dialects/aliyun/aliyun_coap.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocols/mqtt/topic.hpp"
#include "server/coap/coap_server.hpp"
#include "server/dialects/aliyun/aliyun_http.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
namespace coap = fc::coap;

std::string field(const json& body, const char* key) {
  return body.contains(key) && body[key].is_string() ? body[key].get<std::string>() : std::string{};
}

std::string summary(const coap::Message& m, std::string_view path) {
  std::string s = std::string(coap::typeName(m.type)) + " " + coap::codeName(m.code);
  if (!path.empty()) s += " /" + std::string(path);
  if (!m.payload.empty()) s += " (" + std::to_string(m.payload.size()) + " bytes)";
  return s;
}

/// Journals the request and the response the handler is about to return (as the piggybacked ACK,
/// or the NON response, it becomes on the wire).
void journalExchange(core::Platform& platform, const std::string& deviceId, const coap::IncomingRequest& r,
                     const coap::Message& response) {
  const auto transport = server::coap::transportOf(r.peer);
  if (auto in = coap::encode(r.message))  // decoded, so it encodes
    platform.journal(deviceId, "in", transport, "/" + r.path, std::move(*in), summary(r.message, r.path));
  coap::Message wire = response;
  wire.type = r.message.type == coap::Type::Confirmable ? coap::Type::Acknowledgement : coap::Type::NonConfirmable;
  wire.messageId = r.message.messageId;
  wire.token = r.message.token;
  if (auto out = coap::encode(wire))  // one that cannot be encoded is replaced by a 5.00 on the wire
    platform.journal(deviceId, "out", transport, "/" + r.path, std::move(*out), summary(wire, {}));
}

coap::Message auth(core::Platform& platform, AliyunDialect& aliyun, const coap::IncomingRequest& r) {
  const auto body = json::parse(r.message.payload.begin(), r.message.payload.end(), nullptr, false);
  if (!body.is_object()) {
    spdlog::info("aliyun coap {}: /auth payload is not a JSON object", r.peer);
    return coap::makeResponse(coap::code::kBadRequest, "the payload is not a JSON object");
  }
  const auto pk = field(body, "productKey"), dn = field(body, "deviceName"), clientId = field(body, "clientId"),
             sign = field(body, "sign");
  if (pk.empty() || dn.empty() || clientId.empty() || sign.empty())
    return coap::makeResponse(coap::code::kBadRequest, "productKey, deviceName, clientId and sign are required");
  // iotkit-embedded signs with hmacmd5 and sends no signmethod; other methods are accepted when named.
  auto t = aliyunCheckSign(aliyun, pk, dn, clientId, field(body, "timestamp"), field(body, "signmethod"), sign);
  if (!t) {
    spdlog::info("aliyun coap {}: /auth of {}/{} refused: {}", r.peer, pk, dn, t.error());
    auto refused = coap::makeResponse(coap::code::kUnauthorized, "auth check error");
    if (auto device = aliyun.findDevice(pk, dn)) journalExchange(platform, device->device.id, r, refused);
    return refused;
  }
  coap::Message ok;
  ok.code = coap::code::kContent;
  ok.setUint(coap::option::kContentFormat, coap::format::kJson);
  ok.setPayload(json{{"token", aliyun.issueCoapToken(t->device.id)}}.dump());
  journalExchange(platform, t->device.id, r, ok);
  return ok;
}

coap::Message topic(core::Platform& platform, AliyunDialect& aliyun, const coap::IncomingRequest& r) {
  auto token = r.message.getString(kAliyunCoapTokenOption);
  if (!token) token = r.message.getString(kAliyunCoapTokenOptionOld);
  if (!token || token->empty()) return coap::makeResponse(coap::code::kUnauthorized, "no auth token (option 2088)");
  const auto deviceId = aliyun.coapTokenDevice(std::string(*token));
  const auto device = deviceId ? platform.device(*deviceId) : std::nullopt;
  const auto t = device ? aliyun.triplet(*device) : std::nullopt;
  if (!t) {
    spdlog::info("aliyun coap {}: POST /{} with an unknown or expired token", r.peer, r.path);
    auto refused = coap::makeResponse(coap::code::kUnauthorized, "token is expired or invalid");
    // An expired token still names its device, whose journal shows why it must sign in again.
    if (auto expired = aliyun.coapTokenDevice(std::string(*token), true))
      journalExchange(platform, *expired, r, refused);
    return refused;
  }
  const auto name = "/" + r.subpath;
  if (r.subpath.empty() || !mqtt::validTopicName(name) || !mqtt::validUtf8(name) ||
      !aliyunMayPublish(t->productKey, t->deviceName, name)) {
    spdlog::info("aliyun coap {}: device {} may not publish to {}", r.peer, t->device.id, name);
    auto refused = coap::makeResponse(coap::code::kForbidden, "no permission to publish to " + name);
    journalExchange(platform, t->device.id, r, refused);
    return refused;
  }
  coap::Message ok;
  ok.code = coap::code::kContent;
  journalExchange(platform, t->device.id, r, ok);
  aliyun.coapUplink(*t, name, r.message.payload, server::coap::transportOf(r.peer));
  return ok;
}

}  // namespace

std::vector<coap::Resource> aliyunCoapResources(core::Platform& platform, AliyunDialect& aliyun) {
  auto* p = &platform;
  auto* a = &aliyun;
  const std::vector<coap::LinkParam> json = {{"ct", "50", false}};
  return {
      coap::Resource{"auth", false, {coap::code::kPost}, json, true,
                     [p, a](const coap::IncomingRequest& r) { return auth(*p, *a, r); }},
      coap::Resource{"topic", true, {coap::code::kPost}, json, true,
                     [p, a](const coap::IncomingRequest& r) { return topic(*p, *a, r); }},
  };
}

}  // namespace fc::server::dialects
