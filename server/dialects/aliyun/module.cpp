// The aliyun dialect's registration and its product, device and command rules; see module.hpp.
#include "server/dialects/aliyun/module.hpp"

#include "protocols/dialects/aliyun/alink.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "server/core/random.hpp"
#include "server/dialects/aliyun/aliyun_coap.hpp"
#include "server/dialects/aliyun/aliyun_http.hpp"

namespace fc::server::dialects {
namespace {

core::Failure invalid(std::string message) { return {core::Errc::Invalid, std::move(message)}; }

std::string stringKey(const nlohmann::json& object, const char* key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : std::string{};
}

}  // namespace

AliyunModule::AliyunModule(const DialectContext& context)
    : platform_(context.platform), aliyun_(context.platform, context.mqtt), ota_(context.platform, context.mqtt, aliyun_) {
  aliyun_.setOta(&ota_);
}

std::optional<core::Failure> AliyunModule::prepareProduct(const core::Platform& platform, core::Product& p) const {
  if (!p.keys.contains("productKey")) p.keys["productKey"] = "a1" + core::randomAlnum(9);
  const auto pk = stringKey(p.keys, "productKey");
  if (!fc::aliyun::validName(pk))
    return invalid("keys.productKey must be 1-64 characters without / + # & | or controls");
  if (p.keys.contains("productSecret") && (!p.keys["productSecret"].is_string() || stringKey(p.keys, "productSecret").empty() ||
                                            stringKey(p.keys, "productSecret").size() > 64))
    return invalid("keys.productSecret must be a string of 1-64 characters");
  if (p.keys.contains("otaUrlScheme") && p.keys["otaUrlScheme"] != "https" && p.keys["otaUrlScheme"] != "http")
    return invalid("keys.otaUrlScheme must be \"https\" (the default) or \"http\"");
  if (p.keys.contains("tsl") && !p.keys["tsl"].is_object())
    return invalid("keys.tsl must be the product's thing model, a JSON object");
  if (p.keys.contains("dynamicRegistration")) {
    if (!p.keys["dynamicRegistration"].is_boolean()) return invalid("keys.dynamicRegistration must be true or false");
    if (p.keys["dynamicRegistration"] == true && !p.keys.contains("productSecret"))
      return invalid("keys.dynamicRegistration needs keys.productSecret");
  }
  for (const auto& other : platform.products())
    if (other.dialect == name() && stringKey(other.keys, "productKey") == pk)
      return core::Failure{core::Errc::Conflict, "productKey '" + pk + "' is used by product '" + other.id + "'"};
  return std::nullopt;
}

std::optional<core::Failure> AliyunModule::prepareDevice(const core::Platform& platform, core::Device& d,
                                                         core::DeviceChange change) const {
  // A change (PATCH) is not checked: a device's triplet is its identity on the wire, and the
  // rules below only ever applied to new devices.
  if (change != core::DeviceChange::Create) return std::nullopt;
  if (!d.identifiers.contains("deviceName")) {
    if (d.id.empty()) return invalid("an aliyun device needs identifiers.deviceName or an id");
    d.identifiers["deviceName"] = d.id;
  }
  const auto dn = stringKey(d.identifiers, "deviceName");
  if (!fc::aliyun::validName(dn))
    return invalid("identifiers.deviceName must be 1-64 characters without / + # & | or controls");
  if (auto other = platform.findDevice(d.productId, "deviceName", dn))
    return core::Failure{core::Errc::Conflict, "deviceName '" + dn + "' is used by device '" + other->id + "'"};
  if (!d.secrets.contains("deviceSecret")) d.secrets["deviceSecret"] = core::randomAlnum(32);
  if (stringKey(d.secrets, "deviceSecret").empty()) return invalid("secrets.deviceSecret must be a non-empty string");
  return std::nullopt;
}

std::optional<core::Failure> AliyunModule::checkCommand(const core::Product&, const core::CommandSpec& spec) const {
  if (spec.binary && !spec.name.empty())
    return invalid("a binary aliyun command goes to thing/model/down_raw and has no name");
  if (!spec.name.empty() && !fc::aliyun::validServiceName(spec.name))
    return invalid("an aliyun command name is a service identifier (letters, digits, _) or property.set");
  return std::nullopt;
}

CoapPart AliyunModule::coap() { return {aliyunCoapResources(platform_, aliyun_), {kAliyunCoapTokenOptionOld}}; }

void AliyunModule::addRoutes(http::Router& router) { addAliyunRoutes(router, platform_, aliyun_); }

http::OpenApiFragment AliyunModule::openApi() const {
  using namespace http::openapi;
  http::OpenApiFragment out;
  out.operations = {
      {"POST",
       "/api/v1/devices/{id}/rrpc",
       "aliyun RRPC: send a request and wait for the device's answer",
       "RrpcInput",
       "RrpcReply",
       {200, 400, 404, 409, 422, 504}},
      {"POST",
       "/api/v1/products/{id}/broadcast",
       "aliyun broadcast: publish to /broadcast/{productKey}/{topic} at QoS 0 (the product's subscribed devices)",
       "BroadcastInput",
       "BroadcastReply",
       {200, 400, 404, 422}},
      {"POST",
       "/auth",
       "aliyun device channel: HTTP sign-in, answered {code, message, info{token}}",
       nullptr,
       nullptr,
       {200}},
      {"POST",
       "/auth/devicename",
       "aliyun pre-step for securemode -1/0 (form-encoded): answered {code, data{iotId, iotToken, resources}}",
       nullptr,
       nullptr,
       {200}},
      {"POST",
       "/auth/register/device",
       "aliyun dynamic registration (form-encoded, signed with the ProductSecret): answered {code, data{productKey, "
       "deviceName, deviceSecret}, message}",
       nullptr,
       nullptr,
       {200}},
      {"POST",
       "/topic/{topic}",
       "aliyun device channel: publish to /{topic} with the token in the password header",
       nullptr,
       nullptr,
       {200}},
  };
  out.schemas = {
      {"RrpcInput", object({{"payload", any()}, {"payloadBase64", str()}, {"timeoutMs", integer()}})},
      {"RrpcReply", object({{"msgId", str()}, {"payload", any()}, {"payloadBase64", str()}})},
      {"BroadcastInput", object({{"topic", str()}, {"payload", any()}, {"payloadBase64", str()}})},
      {"BroadcastReply", object({{"topic", str()}})},
  };
  return out;
}

}  // namespace fc::server::dialects
