// GService for GAgent v4 devices and the gizwits northbound route; see gizwits_http.hpp.
#include "server/dialects/gizwits/gizwits_http.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "protocols/dialects/gizwits/http_forms.hpp"
#include "server/core/random.hpp"

namespace fc::server::dialects {
namespace {

namespace giz = fc::gizwits;
using http::ApiRequest;
using http::ApiResponse;
using nlohmann::json;

// Gizwits' OpenAPI error shape; the numbers are fakecloud's choice (the seed gives none).
constexpr int kFormInvalid = 9015;
constexpr int kProductKeyInvalid = 9002;
constexpr int kDeviceNotFound = 9005;
constexpr int kPasscodeInvalid = 9004;

/// A device answer: one write, the status between the first two spaces of the status line.
ApiResponse answer(int status, std::string body, std::string contentType = "text/plain") {
  ApiResponse r;
  r.status = status;
  r.contentType = std::move(contentType);
  r.body = std::move(body);
  r.singleWrite = true;
  return r;
}

ApiResponse error(int status, int code, const std::string& message, const std::string& detail) {
  return answer(status,
                json{{"error_code", code}, {"error_message", message}, {"detail_message", detail}}.dump(), "application/json");
}

void journalExchange(core::Platform& platform, const std::string& deviceId, const ApiRequest& r,
                     const ApiResponse& a) {
  const std::string transport = r.tls ? "https" : "http";
  platform.journal(deviceId, "in", transport, r.path, http::wireBytes(r),
                   r.method + " " + r.path + " (" + std::to_string(r.body.size()) + " bytes)");
  platform.journal(deviceId, "out", transport, r.path, http::wireBytes(a),
                   std::to_string(a.status) + " " + a.body.substr(0, 120));
}

/// The host a device reached GService by (Host header without port), else the bind address.
std::string mqttHost(const GizwitsDialect& gizwits, const GizwitsEndpoints& endpoints, const ApiRequest& r) {
  if (!gizwits.config().mqttHost.empty()) return gizwits.config().mqttHost;
  if (auto h = r.headers.find("host"); h != r.headers.end() && !h->second.empty()) {
    std::string host = h->second;
    if (host.front() == '[') {  // [v6]:port
      if (auto end = host.find(']'); end != std::string::npos) return host.substr(1, end - 1);
    } else if (auto colon = host.rfind(':'); colon != std::string::npos) {
      host.resize(colon);
    }
    if (!host.empty()) return host;
  }
  return endpoints.bindHost;
}

// POST /dev/devices — passcode=&mac=&product_key= → 201 did=<22>
ApiResponse registerDevice(core::Platform& platform, GizwitsDialect& gizwits, const ApiRequest& r) {
  auto form = giz::parseForm(r.body);
  const auto& passcode = form["passcode"];
  const auto mac = giz::normalizeMac(form["mac"]);
  const auto& productKey = form["product_key"];
  const auto refuse = [&](int status, int code, const std::string& message, const std::string& detail) {
    spdlog::info("gizwits: registration from mac '{}' product key '{}' refused: {}", form["mac"], productKey, detail);
    return error(status, code, message, detail);
  };
  if (!mac) return refuse(400, kFormInvalid, "form invalid", "mac must be 12 hexadecimal digits");
  if (!giz::validPasscode(passcode))
    return refuse(400, kFormInvalid, "form invalid", "passcode must be 10 printable characters");
  auto product = giz::validProductKey(productKey) ? gizwits.findProduct(productKey) : std::nullopt;
  if (!product) return refuse(400, kProductKeyInvalid, "product_key invalid", "no gizwits product '" + productKey + "'");

  std::string did;
  if (auto existing = platform.findDevice(product->id, "mac", *mac)) {
    // The same device again: its DID back. A new passcode (the device was reset without
    // deregistering) replaces the old one.
    did = GizwitsDialect::did(*existing);
    if (GizwitsDialect::passcode(*existing) != passcode) {
      auto secrets = existing->secrets;
      secrets["passcode"] = passcode;
      if (auto updated = platform.updateDevice(existing->id, json{{"secrets", secrets}}); !updated)
        return refuse(500, kFormInvalid, "internal error", updated.error().message);
    }
    auto a = answer(201, giz::registerAnswer(did));
    journalExchange(platform, existing->id, r, a);
    return a;
  }
  core::Device d;
  do did = core::randomAlnum(22);
  while (gizwits.findByDid(did));
  d.id = did;
  d.productId = product->id;
  d.name = "gizwits-" + *mac;
  d.identifiers = {{"did", did}, {"mac", *mac}};
  d.secrets = {{"passcode", passcode}};
  auto created = platform.createDevice(std::move(d));
  if (!created) return refuse(500, kFormInvalid, "internal error", created.error().message);
  spdlog::info("gizwits: device {} registered (mac {}, product {})", did, *mac, product->id);
  auto a = answer(201, giz::registerAnswer(did));
  journalExchange(platform, created->id, r, a);
  return a;
}

// DELETE /dev/devices — did=&passcode= → 200
ApiResponse deregisterDevice(core::Platform& platform, GizwitsDialect& gizwits, const ApiRequest& r) {
  auto form = giz::parseForm(r.body);
  auto login = gizwits.findByDid(form["did"]);
  if (!login) {
    spdlog::info("gizwits: deregistration of unknown DID '{}'", form["did"]);
    return error(404, kDeviceNotFound, "device not found", "no device with did '" + form["did"] + "'");
  }
  if (GizwitsDialect::passcode(login->device) != form["passcode"]) {
    auto a = error(403, kPasscodeInvalid, "passcode invalid", "wrong passcode for did '" + form["did"] + "'");
    journalExchange(platform, login->device.id, r, a);
    return a;
  }
  auto a = answer(200, "");
  journalExchange(platform, login->device.id, r, a);  // before the device (and its journal) goes
  if (auto removed = platform.deleteDevice(login->device.id); !removed)
    spdlog::info("gizwits: deregistering {}: {}", login->device.id, removed.error().message);
  else
    spdlog::info("gizwits: device {} deregistered", login->device.id);
  return a;
}

// GET /dev/devices/<did> → host=&port=&server_ts=&log_host=&log_port=&biz_log=0&sys_log=0
ApiResponse provision(core::Platform& platform, GizwitsDialect& gizwits, const GizwitsEndpoints& endpoints,
                      const ApiRequest& r) {
  const auto& didParam = r.params.at("did");
  auto login = gizwits.findByDid(didParam);
  if (!login) {
    spdlog::info("gizwits: provision of unknown DID '{}'", didParam);
    return error(404, kDeviceNotFound, "device not found", "no device with did '" + didParam + "'");
  }
  giz::Provision p;
  p.host = mqttHost(gizwits, endpoints, r);
  p.port = gizwits.config().mqttPort != 0 ? gizwits.config().mqttPort : endpoints.mqttPort.load();
  p.serverTs = core::toMillis(platform.clock().now()) / 1000;
  p.logHost = p.host;
  p.logPort = p.port;
  auto a = answer(200, giz::provisionAnswer(p));
  journalExchange(platform, login->device.id, r, a);
  return a;
}

}  // namespace

void addGizwitsRoutes(http::Router& router, core::Platform& platform, GizwitsDialect& gizwits,
                      const GizwitsEndpoints& endpoints) {
  router.add("POST", "/dev/devices",
             [&platform, &gizwits](const ApiRequest& r) { return registerDevice(platform, gizwits, r); });
  router.add("DELETE", "/dev/devices",
             [&platform, &gizwits](const ApiRequest& r) { return deregisterDevice(platform, gizwits, r); });
  router.add("GET", "/dev/devices/{did}", [&platform, &gizwits, &endpoints](const ApiRequest& r) {
    return provision(platform, gizwits, endpoints, r);
  });

  const auto appsOf = [&platform, &gizwits](const std::string& id) -> Expected<core::Device, ApiResponse> {
    auto device = platform.device(id);
    if (!device) return Unexpected(http::errorResponse(404, "not_found", "no device '" + id + "'"));
    auto product = platform.product(device->productId);
    if (!product || product->dialect != gizwits.name())
      return Unexpected(http::errorResponse(422, "invalid", "device '" + id + "' is not a gizwits device"));
    return *device;
  };
  router.add("GET", "/api/v1/devices/{id}/gizwits/apps", [&gizwits, appsOf](const ApiRequest& r) {
    auto device = appsOf(r.params.at("id"));
    if (!device) return device.error();
    return http::jsonResponse(200, json{{"deviceId", device->id}, {"count", gizwits.appCount(device->id)}}.dump());
  });
  router.add("PUT", "/api/v1/devices/{id}/gizwits/apps", [&gizwits, appsOf](const ApiRequest& r) {
    auto device = appsOf(r.params.at("id"));
    if (!device) return device.error();
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object()) return http::errorResponse(400, "bad_request", "the body must be a JSON object");
    if (!body.contains("count") || !body["count"].is_number_unsigned() || body["count"].get<std::uint64_t>() > 65535)
      return http::errorResponse(422, "invalid", "count must be an integer 0..65535");
    const auto count = body["count"].get<std::uint16_t>();
    gizwits.setAppCount(*device, count);
    return http::jsonResponse(200, json{{"deviceId", device->id}, {"count", count}}.dump());
  });
}

http::OpenApiFragment gizwitsOpenApi() {
  using namespace http::openapi;
  http::OpenApiFragment out;
  out.operations = {
      {"POST",
       "/dev/devices",
       "gizwits GService register (form passcode, mac, product_key): 201 did=<22 characters>; the same MAC again "
       "gets its DID back",
       nullptr,
       nullptr,
       {201, 400},
       {},
       "GizwitsError"},
      {"DELETE", "/dev/devices", "gizwits GService deregister (form did, passcode): 200", nullptr, nullptr,
       {200, 403, 404}, {}, "GizwitsError"},
      {"GET",
       "/dev/devices/{did}",
       "gizwits GService provision: host=&port=&server_ts=&log_host=&log_port=&biz_log=0&sys_log=0",
       nullptr,
       nullptr,
       {200, 404},
       {},
       "GizwitsError"},
      {"GET", "/api/v1/devices/{id}/gizwits/apps", "gizwits: the online app count the device is told (0x0210)",
       nullptr, "GizwitsApps", {200, 404, 422}},
      {"PUT",
       "/api/v1/devices/{id}/gizwits/apps",
       "gizwits: set the online app count; a change is pushed to an online device (0x0210 on ser2cli_res/<did>)",
       "GizwitsAppsInput",
       "GizwitsApps",
       {200, 400, 404, 422}},
  };
  out.schemas = {
      {"GizwitsError", object({{"error_code", integer()}, {"error_message", str()}, {"detail_message", str()}})},
      {"GizwitsAppsInput", object({{"count", integer()}})},
      {"GizwitsApps", object({{"deviceId", str()}, {"count", integer()}})},
  };
  return out;
}

}  // namespace fc::server::dialects
