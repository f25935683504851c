// The LwM2M northbound routes; the contract is at the top of lwm2m_api.hpp. Handlers are
// asynchronous: the answer comes from the CoAP strand when the device responds.
#include "server/http/lwm2m_api.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>
#include <variant>

#include "protocols/coap/link_format.hpp"
#include "protocols/common/base64.hpp"
#include "protocols/lwm2m/attributes.hpp"
#include "protocols/lwm2m/content.hpp"
#include "protocols/lwm2m/path.hpp"
#include "protocols/lwm2m/senml.hpp"
#include "protocols/lwm2m/tlv.hpp"
#include "protocols/lwm2m/value.hpp"

namespace fc::server::http {
namespace {

using nlohmann::json;
namespace fcoap = fc::coap;

ApiResponse ok(int status, const json& body) {
  return jsonResponse(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

json tlvJson(const std::vector<lwm2m::TlvEntry>& entries) {
  json out = json::array();
  for (const auto& e : entries) {
    json j = {{"type", std::string(lwm2m::tlvTypeName(e.type))}, {"id", e.id}};
    if (e.isContainer()) j["children"] = tlvJson(e.children);
    else j["valueHex"] = hex(e.value);
    out.push_back(std::move(j));
  }
  return out;
}

/// SenML records as the API shows them: {name, value | valueBase64 | objlnk, time?, unit?}.
json senmlJson(const std::vector<lwm2m::SenmlRecord>& records) {
  json out = json::array();
  for (const auto& r : records) {
    json j = {{"name", r.name}};
    std::visit(
        [&j](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, lwm2m::Opaque>) j["valueBase64"] = base64Encode(v);
          else if constexpr (std::is_same_v<T, lwm2m::Objlnk>) j["objlnk"] = lwm2m::formatText(lwm2m::Value{v});
          else if constexpr (!std::is_same_v<T, std::monostate>) j["value"] = v;
        },
        r.value);
    if (r.time) j["time"] = *r.time;
    if (!r.unit.empty()) j["unit"] = r.unit;
    out.push_back(std::move(j));
  }
  return out;
}

/// {path, code, contentFormat, value | valueBase64 | tlv | senml}: a response as the API shows it.
json responseJson(const std::string& path, const fcoap::Message& m) {
  json out = {{"path", path}, {"code", fcoap::codeName(m.code)}};
  const auto cf = m.getUint(fcoap::option::kContentFormat);
  out["contentFormat"] = cf ? json(*cf) : json(nullptr);
  if (m.payload.empty()) return out;
  if (cf && lwm2m::isTlv(static_cast<std::uint16_t>(*cf))) {
    if (auto tlv = lwm2m::decodeTlv(m.payload)) out["tlv"] = tlvJson(*tlv);
    else out["tlvError"] = make_error_code(tlv.error()).message();
    out["valueBase64"] = base64Encode(m.payload);
  } else if (!cf || *cf == fcoap::format::kTextPlain || *cf == fcoap::format::kLinkFormat ||
             *cf == fcoap::format::kJson || *cf == fcoap::format::kSenmlJson) {
    const std::string text(m.payload.begin(), m.payload.end());
    if (isUtf8(text)) out["value"] = text;
    else out["valueBase64"] = base64Encode(m.payload);
    if (cf && *cf == fcoap::format::kSenmlJson) {
      if (auto records = lwm2m::decodeSenmlJson(text)) out["senml"] = senmlJson(*records);
      else out["senmlError"] = make_error_code(records.error()).message();
    }
  } else {
    out["valueBase64"] = base64Encode(m.payload);
  }
  return out;
}

/// 502 for the device's error code, 504 for no answer, 409 for a registration that ended.
ApiResponse failure(const std::string& path, const Expected<fcoap::Message, std::error_code>& r) {
  if (r) {
    auto body = responseJson(path, *r);
    body["error"] = {{"code", "device_error"}, {"message", "the device answered " + fcoap::codeName(r->code)}};
    return ok(502, body);
  }
  if (r.error() == make_error_code(fcoap::RequestError::Timeout))
    return errorResponse(504, "device_timeout", "the device did not answer " + path + " (CoAP timeout)");
  if (r.error().category() == coap::lwm2mCategory())
    return errorResponse(409, "not_registered", r.error().message());
  return errorResponse(502, "device_error", path + ": " + r.error().message());
}

struct Target {
  std::string deviceId;
  lwm2m::Path path;
  coap::Lwm2mClient client;
};

/// The device, the path and its registration, or the answer that says which is missing.
Expected<Target, ApiResponse> target(core::Platform& platform, coap::Lwm2mServer& lwm2m, const ApiRequest& r) {
  const auto& id = r.params.at("id");
  if (!platform.device(id)) return Unexpected(errorResponse(404, "not_found", "no device '" + id + "'"));
  // Discover also names just an object or an object instance.
  std::string text;
  for (const char* name : {"object", "instance", "resource"})
    if (auto it = r.params.find(name); it != r.params.end()) text += "/" + it->second;
  auto path = lwm2m::Path::parse(text.empty() ? "/" : text);  // composite operations address the root
  if (!path)
    return Unexpected(errorResponse(422, "invalid", "object, instance and resource must be ids 0-65535: " +
                                                        make_error_code(path.error()).message()));
  auto client = lwm2m.client(id);
  if (!client) return Unexpected(errorResponse(409, "not_registered", "device '" + id + "' is not registered"));
  if (!lwm2m.awake(id))
    return Unexpected(errorResponse(409, "asleep", "device '" + id + "' is in queue mode and asleep: try after it is heard from"));
  return Target{id, *path, *client};
}

fcoap::Message requestFor(const Target& t, fcoap::Code code) {
  fcoap::Message m;
  m.code = code;
  t.path.applyTo(m, t.client.registration.objects.rootPath);
  return m;
}

/// `?format=` of a read: the Accept option asked of the device (a name or a Content-Format number);
/// nullopt leaves the choice to the device.
Expected<std::optional<std::uint16_t>, ApiResponse> acceptOf(const ApiRequest& r) {
  static const std::map<std::string, std::uint16_t, std::less<>> names{
      {"text", fcoap::format::kTextPlain},        {"link", fcoap::format::kLinkFormat},
      {"opaque", fcoap::format::kOctetStream},    {"senml-json", fcoap::format::kSenmlJson},
      {"tlv", fcoap::format::kLwm2mTlv},          {"lwm2m-json", lwm2m::content::kJson}};
  const auto format = r.queryParam("format");
  if (!format) return std::optional<std::uint16_t>{};
  if (auto it = names.find(*format); it != names.end()) return std::optional<std::uint16_t>{it->second};
  std::uint32_t number = 0;
  const auto* end = format->data() + format->size();
  if (auto [p, ec] = std::from_chars(format->data(), end, number); !format->empty() && ec == std::errc{} && p == end &&
                                                                    number <= 65535)
    return std::optional<std::uint16_t>{static_cast<std::uint16_t>(number)};
  return Unexpected(errorResponse(
      422, "invalid", "format must be text, link, opaque, senml-json, tlv, lwm2m-json or a Content-Format number"));
}

/// Sends `m` (the LwM2M server journals it and the answer) and answers the API call.
void exchange(coap::Lwm2mServer& lwm2m, const Target& t, fcoap::Message m, const Respond& respond) {
  const auto path = t.path.toString();
  lwm2m.request(t.deviceId, std::move(m), [path, respond](Expected<fcoap::Message, std::error_code> r) {
    if (!r || r->code.codeClass() != 2) return respond(failure(path, r));
    respond(ok(200, responseJson(path, *r)));
  });
}

/// Discover (OMA-TS-LightweightM2M-V1_0 §5.4.2): GET with Accept application/link-format; the
/// answer also lists the links parsed.
void discover(coap::Lwm2mServer& lwm2m, const Target& t, const Respond& respond) {
  auto m = requestFor(t, fcoap::code::kGet);
  m.setUint(fcoap::option::kAccept, fcoap::format::kLinkFormat);
  const auto path = t.path.toString();
  lwm2m.request(t.deviceId, std::move(m), [path, respond](Expected<fcoap::Message, std::error_code> r) {
    if (!r || r->code.codeClass() != 2) return respond(failure(path, r));
    auto body = responseJson(path, *r);
    const std::string text(r->payload.begin(), r->payload.end());
    if (auto links = fcoap::parseLinkFormat(text)) {
      body["links"] = json::array();
      for (const auto& link : *links) {
        json params = json::object();
        for (const auto& p : link.params) params[p.name] = p.value ? json(*p.value) : json(true);
        body["links"].push_back({{"target", link.target}, {"params", params}});
      }
    } else {
      body["linksError"] = make_error_code(links.error()).message();
    }
    respond(ok(200, body));
  });
}

/// The registration as the API shows it: what the client said in its Register (and Updates).
json registrationJson(const coap::Lwm2mClient& c, bool awake) {
  const auto& r = c.registration;
  json objects = json::array();
  for (const auto& o : r.objects.objects) {
    json j = {{"id", o.id}, {"instances", o.instances}};
    if (!o.version.empty()) j["version"] = o.version;
    objects.push_back(std::move(j));
  }
  return {
      {"deviceId", c.deviceId},
      {"endpoint", r.endpoint},
      {"location", std::string(lwm2m::kRegistrationPath) + "/" + r.location},
      {"version", r.version},
      {"binding", r.binding.toString()},
      {"queueMode", r.binding.queue},
      {"lifetime", r.lifetime},
      {"sms", r.sms ? json(*r.sms) : json(nullptr)},
      {"rootPath", r.objects.rootPath},
      {"objects", objects},
      {"transport", c.transport},
      {"remoteAddress", c.peer.substr(c.peer.starts_with(coap::kDtlsPeerPrefix) ? coap::kDtlsPeerPrefix.size() : 0)},
      {"registeredAt", core::isoTime(r.registeredAt)},
      {"updatedAt", core::isoTime(r.updatedAt)},
      {"expiresAt", core::isoTime(r.expiresAt)},
      {"awake", awake}};
}

/// Composite operations are LwM2M 1.1 (OMA-TS-LightweightM2M_Core-V1_1 §5.4.7, §5.4.8): a 1.0 client
/// would not understand FETCH and iPATCH on its root, so the API refuses before anything is sent.
std::optional<ApiResponse> needsVersion11(const Target& t, std::string_view operation) {
  if (t.client.registration.version != "1.0") return std::nullopt;
  return errorResponse(409, "lwm2m_version",
                       std::string(operation) + " is an LwM2M 1.1 operation; device '" + t.deviceId +
                           "' registered with lwm2m=" + t.client.registration.version);
}

/// The Write-Attributes of a request: `?pmin=10&pmax=60&st` (as on the wire; a bare name removes) or
/// the JSON body {"pmin": 10, "gt": 20.5, "st": null} (null removes).
Expected<std::vector<lwm2m::AttributeSetting>, ApiResponse> attributesOf(const ApiRequest& r) {
  if (!r.query.empty()) {
    std::vector<std::string> items;
    std::string_view rest = r.query;
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      items.push_back(percentDecode(rest.substr(0, amp), true));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
    std::vector<std::string_view> views(items.begin(), items.end());
    auto parsed = lwm2m::parseAttributes(views);
    if (!parsed) return Unexpected(errorResponse(422, "invalid", parsed.error().message()));
    return *parsed;
  }
  const auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object())
    return Unexpected(
        errorResponse(400, "bad_json",
                      "Write-Attributes takes ?pmin=…&pmax=… or a JSON object such as {\"pmin\": 10, \"st\": null}"));
  std::vector<lwm2m::AttributeSetting> out;
  for (const auto& [name, value] : body.items()) {
    const auto attribute = lwm2m::attributeByName(name);
    if (!attribute)
      return Unexpected(
          errorResponse(422, "invalid", "unknown attribute '" + name + "': pmin, pmax, gt, lt, st, epmin, epmax"));
    if (!value.is_null() && !value.is_number())
      return Unexpected(
          errorResponse(422, "invalid", "attribute '" + name + "' must be a number, or null to remove it"));
    out.push_back({*attribute, value.is_null() ? std::nullopt : std::optional<double>(value.get<double>())});
  }
  return out;
}

/// Observations started through the API, by device and path. Observing a path again replaces the
/// earlier observation; `serial` tells an ended observation from the one that replaced it.
struct Observations {
  struct Entry {
    std::uint64_t serial = 0;
    std::optional<fcoap::Endpoint::RequestId> id;  // once the request went out
  };
  std::mutex mutex;
  std::uint64_t nextSerial = 1;
  std::map<std::pair<std::string, std::string>, Entry> entries;
};

}  // namespace

void addLwm2mRoutes(Router& router, core::Platform& platform, coap::Lwm2mServer& lwm2m) {
  auto* p = &platform;
  auto* l = &lwm2m;
  const std::string base = "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}";
  auto observations = std::make_shared<Observations>();

  const std::string objectBase = "/api/v1/devices/{id}/lwm2m/{object}";
  for (const auto& route : {objectBase, objectBase + "/{instance}", base}) {
    router.addAsync("GET", route, [p, l](ApiRequest r, Respond respond) {
      auto t = target(*p, *l, r);
      if (!t) return respond(t.error());
      const auto accept = acceptOf(r);
      if (!accept) return respond(accept.error());
      auto m = requestFor(*t, fcoap::code::kGet);
      if (*accept) m.setUint(fcoap::option::kAccept, **accept);
      exchange(*l, *t, std::move(m), respond);
    });
  }

  // Write (§5.4.3): a resource, or an object instance (Replace) with TLV or SenML.
  auto write = [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object())
      return respond(errorResponse(
          400, "bad_json", "a JSON object body is required: {\"text\"}, {\"tlvBase64\"}, {\"opaqueBase64\"} or {\"senml\"}"));
    auto m = requestFor(*t, fcoap::code::kPut);
    if (body.contains("text") && body["text"].is_string()) {
      m.setUint(fcoap::option::kContentFormat, fcoap::format::kTextPlain);
      m.setPayload(body["text"].get<std::string>());
    } else if (body.contains("senml")) {
      // Sent as given (compact), once it reads as a SenML pack: the device sees the caller's labels.
      const auto text = body["senml"].dump(-1, ' ', false, json::error_handler_t::replace);
      if (auto records = lwm2m::decodeSenmlJson(text); !records)
        return respond(errorResponse(422, "invalid", "senml: " + make_error_code(records.error()).message()));
      m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
      m.setPayload(text);
    } else {
      const bool tlv = body.contains("tlvBase64") && body["tlvBase64"].is_string();
      const bool opaque = body.contains("opaqueBase64") && body["opaqueBase64"].is_string();
      if (!tlv && !opaque)
        return respond(errorResponse(
            422, "invalid", "write needs \"text\", \"tlvBase64\" or \"opaqueBase64\" (a string), or \"senml\" (an array)"));
      auto bytes = base64Decode(body[tlv ? "tlvBase64" : "opaqueBase64"].get<std::string>());
      if (!bytes) return respond(errorResponse(422, "invalid", "the value is not valid base64"));
      if (tlv && !lwm2m::decodeTlv(*bytes)) return respond(errorResponse(422, "invalid", "tlvBase64 is not OMA TLV"));
      m.setUint(fcoap::option::kContentFormat, tlv ? fcoap::format::kLwm2mTlv : fcoap::format::kOctetStream);
      m.payload = std::move(*bytes);
    }
    exchange(*l, *t, std::move(m), respond);
  };
  router.addAsync("PUT", objectBase + "/{instance}", write);
  router.addAsync("PUT", base, write);

  router.addAsync("POST", base, [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    auto m = requestFor(*t, fcoap::code::kPost);
    if (!r.body.empty()) {
      const auto body = json::parse(r.body, nullptr, false);
      if (!body.is_object()) return respond(errorResponse(400, "bad_json", "the body must be a JSON object"));
      if (body.contains("args")) {
        if (!body["args"].is_string()) return respond(errorResponse(422, "invalid", "\"args\" must be a string"));
        m.setPayload(body["args"].get<std::string>());  // §5.4.5: Execute arguments, text
      }
    }
    exchange(*l, *t, std::move(m), respond);
  });

  for (const auto& route : {objectBase, objectBase + "/{instance}", base}) {
    router.addAsync("GET", route + "/discover", [p, l](ApiRequest r, Respond respond) {
      auto t = target(*p, *l, r);
      if (!t) return respond(t.error());
      discover(*l, *t, respond);
    });
  }

  // The registration: version, binding and objects as the client registered them.
  router.add("GET", "/api/v1/devices/{id}/lwm2m", [p, l](const ApiRequest& r) {
    const auto& id = r.params.at("id");
    if (!p->device(id)) return errorResponse(404, "not_found", "no device '" + id + "'");
    auto client = l->client(id);
    if (!client) return errorResponse(409, "not_registered", "device '" + id + "' is not registered");
    return ok(200, registrationJson(*client, l->awake(id)));
  });

  // Create (§5.4.6): POST on the object with the new instance as OMA TLV or SenML JSON; the client
  // names the instance it made in Location-Path.
  router.addAsync("POST", objectBase, [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object())
      return respond(errorResponse(400, "bad_json", "Create takes a JSON object: {\"tlvBase64\"} or {\"senml\"}"));
    auto m = requestFor(*t, fcoap::code::kPost);
    if (body.contains("senml")) {
      const auto text = body["senml"].dump(-1, ' ', false, json::error_handler_t::replace);
      if (auto records = lwm2m::decodeSenmlJson(text); !records)
        return respond(errorResponse(422, "invalid", "senml: " + make_error_code(records.error()).message()));
      m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
      m.setPayload(text);
    } else if (body.contains("tlvBase64") && body["tlvBase64"].is_string()) {
      auto bytes = base64Decode(body["tlvBase64"].get<std::string>());
      if (!bytes) return respond(errorResponse(422, "invalid", "tlvBase64 is not valid base64"));
      if (!lwm2m::decodeTlv(*bytes)) return respond(errorResponse(422, "invalid", "tlvBase64 is not OMA TLV"));
      m.setUint(fcoap::option::kContentFormat, fcoap::format::kLwm2mTlv);
      m.payload = std::move(*bytes);
    } else {
      return respond(errorResponse(422, "invalid", "Create needs \"tlvBase64\" (a string) or \"senml\" (an array)"));
    }
    const auto path = t->path.toString();
    const auto root = t->client.registration.objects.rootPath;
    l->request(t->deviceId, std::move(m), [path, root, respond](Expected<fcoap::Message, std::error_code> r) {
      if (!r || r->code.codeClass() != 2) return respond(failure(path, r));
      auto answer = responseJson(path, *r);
      // Location-Path below the client's root path: "/19/0".
      fcoap::Message located;
      for (const auto& segment : r->getStrings(fcoap::option::kLocationPath))
        located.addString(fcoap::option::kUriPath, segment);
      if (auto where = lwm2m::Path::fromMessage(located, root); where && !where->isRoot())
        answer["location"] = where->toString();
      else
        answer["location"] = nullptr;
      respond(ok(201, answer));
    });
  });

  // Delete (§5.4.7) of an object instance.
  router.addAsync("DELETE", objectBase + "/{instance}", [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    exchange(*l, *t, requestFor(*t, fcoap::code::kDelete), respond);
  });

  // Write-Attributes (§5.4.4): PUT with the attributes as Uri-Query options and no payload.
  for (const auto& route : {objectBase, objectBase + "/{instance}", base}) {
    router.addAsync("PUT", route + "/attributes", [p, l](ApiRequest r, Respond respond) {
      auto t = target(*p, *l, r);
      if (!t) return respond(t.error());
      auto settings = attributesOf(r);
      if (!settings) return respond(settings.error());
      if (auto bad = lwm2m::checkAttributes(*settings, t->path, t->client.registration.version))
        return respond(errorResponse(422, "invalid", bad->message()));
      auto m = requestFor(*t, fcoap::code::kPut);
      for (const auto& q : lwm2m::attributeQuery(*settings)) m.addString(fcoap::option::kUriQuery, q);
      exchange(*l, *t, std::move(m), respond);
    });
  }

  // Read-Composite (LwM2M 1.1 §5.4.7): FETCH on the root with the paths as SenML JSON names.
  router.addAsync("POST", "/api/v1/devices/{id}/lwm2m/composite/read", [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    if (auto refused = needsVersion11(*t, "Read-Composite")) return respond(*refused);
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("paths") || !body["paths"].is_array() || body["paths"].empty())
      return respond(errorResponse(422, "invalid", "Read-Composite needs {\"paths\": [\"/3/0/0\", …]}"));
    std::vector<lwm2m::SenmlRecord> records;
    for (const auto& item : body["paths"]) {
      const auto path = item.is_string()
                            ? lwm2m::Path::parse(item.get<std::string>())
                            : Expected<lwm2m::Path, lwm2m::PathError>(Unexpected(lwm2m::PathError::NotAbsolute));
      if (!path || path->isRoot())
        return respond(
            errorResponse(422, "invalid", "paths: " + item.dump() + " is not an LwM2M path such as \"/3/0/0\""));
      records.push_back({path->toString(), std::nullopt, "", std::monostate{}});
    }
    auto m = requestFor(*t, fcoap::code::kFetch);
    m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
    m.setUint(fcoap::option::kAccept, fcoap::format::kSenmlJson);
    m.setPayload(lwm2m::encodeSenmlJson(records));
    exchange(*l, *t, std::move(m), respond);
  });

  // Write-Composite (LwM2M 1.1 §5.4.8): iPATCH on the root with SenML JSON records.
  router.addAsync("POST", "/api/v1/devices/{id}/lwm2m/composite/write", [p, l](ApiRequest r, Respond respond) {
    auto t = target(*p, *l, r);
    if (!t) return respond(t.error());
    if (auto refused = needsVersion11(*t, "Write-Composite")) return respond(*refused);
    const auto body = json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body.contains("senml"))
      return respond(errorResponse(422, "invalid",
                                   "Write-Composite needs {\"senml\": [{\"n\": \"/3/0/14\", \"vs\": \"+02\"}, …]}"));
    const auto text = body["senml"].dump(-1, ' ', false, json::error_handler_t::replace);
    auto records = lwm2m::decodeSenmlJson(text);
    if (!records) return respond(errorResponse(422, "invalid", "senml: " + make_error_code(records.error()).message()));
    for (const auto& record : *records) {
      auto path = lwm2m::Path::parse(record.name);
      if (!path || path->depth() < 3 || std::holds_alternative<std::monostate>(record.value))
        return respond(errorResponse(
            422, "invalid",
            "senml: every record names a resource (\"/3/0/14\") and carries a value; " + record.name + " does not"));
    }
    auto m = requestFor(*t, fcoap::code::kIPatch);
    m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
    m.setPayload(text);
    exchange(*l, *t, std::move(m), respond);
  });

  // Observe (§5.5.1) and its cancel, of an object, an instance or a resource.
  for (const auto& route : {objectBase, objectBase + "/{instance}", base}) {
    router.addAsync("POST", route + "/observe", [p, l, observations](ApiRequest r, Respond respond) {
      auto t = target(*p, *l, r);
      if (!t) return respond(t.error());
      const auto accept = acceptOf(r);
      if (!accept) return respond(accept.error());
      const auto path = t->path.toString();
      auto m = requestFor(*t, fcoap::code::kGet);
      if (*accept) m.setUint(fcoap::option::kAccept, **accept);
      auto answered = std::make_shared<bool>(false);
      const auto key = std::make_pair(t->deviceId, path);
      std::uint64_t serial = 0;
      std::optional<fcoap::Endpoint::RequestId> replaced;
      {
        std::lock_guard lock(observations->mutex);
        auto& entry = observations->entries[key];
        replaced = entry.id;
        entry = {observations->nextSerial++, std::nullopt};
        serial = entry.serial;
      }
      // Observing again replaces: the earlier observation ends (its next notification is answered RST).
      if (replaced) l->cancel(*replaced, false);
      auto forget = [observations, key, serial] {
        std::lock_guard lock(observations->mutex);
        if (auto it = observations->entries.find(key); it != observations->entries.end() && it->second.serial == serial)
          observations->entries.erase(it);
      };
      l->observe(
          t->deviceId, std::move(m),
          [p, path, respond, answered, forget, key](Expected<fcoap::Message, std::error_code> r, bool last) {
            if (last) forget();
            if (std::exchange(*answered, true)) {
              // Every later notification is an event: {"type":"lwm2m.notification","data":{path, code, value…,
              // observing}}.
              if (!r) return;
              auto data = responseJson(path, *r);
              data["observing"] = !last && r->code.codeClass() == 2;
              p->announce(core::Lwm2mNotification{key.first, p->clock().now(), std::move(data)});
              return;
            }
            if (!r || r->code.codeClass() != 2) return respond(failure(path, r));
            auto body = responseJson(path, *r);
            body["observing"] = !last;
            respond(ok(200, body));
          },
          [observations, key, serial, forget](std::optional<fcoap::Endpoint::RequestId> id) {
            if (!id) return forget();
            std::lock_guard lock(observations->mutex);
            if (auto it = observations->entries.find(key); it != observations->entries.end() && it->second.serial == serial)
              it->second.id = *id;
          });
    });

    router.add("DELETE", route + "/observe", [p, l, observations](const ApiRequest& r) {
      auto t = target(*p, *l, r);
      if (!t) return t.error();
      const auto key = std::make_pair(t->deviceId, t->path.toString());
      std::optional<fcoap::Endpoint::RequestId> id;
      {
        std::lock_guard lock(observations->mutex);
        auto it = observations->entries.find(key);
        if (it == observations->entries.end())
          return errorResponse(404, "not_found", "no observation of " + key.second + " through the API");
        if (!it->second.id)
          return errorResponse(409, "starting", "the observation of " + key.second + " has not gone out yet: try again");
        id = it->second.id;
        observations->entries.erase(it);
      }
      l->cancel(*id, true);  // RFC 7641 §3.6: GET with Observe 1
      return ok(200, {{"path", key.second}, {"observing", false}});
    });
  }
}

}  // namespace fc::server::http
