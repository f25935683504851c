// REST handlers: parse and validate JSON, call the platform, shape the answer. Every error is
// {"error":{"code","message"}} with a fitting status; a 201 for a command comes after its commit.
#include "server/http/platform_api.hpp"

#include "server/http/event_json.hpp"
#include "server/http/webhooks.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

#include "protocols/common/base64.hpp"
#include "protocols/mqtt/topic.hpp"
#include "protocols/mqtt/codec.hpp"

namespace fc::server::http {
namespace {

using nlohmann::json;

ApiResponse ok(int status, const json& body) {
  return jsonResponse(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

/// 422 for a field longer than the wire can carry: {"error":{"code":"too_long","message","field",
/// "limit","length"}}, so a caller sees the limit without parsing the message.
ApiResponse tooLong(const std::string& field, std::size_t limit, std::size_t length, const std::string& why) {
  return ok(422, {{"error",
                   {{"code", "too_long"},
                    {"message", "'" + field + "' is " + std::to_string(length) + " bytes, over the limit of " +
                                    std::to_string(limit) + ": " + why},
                    {"field", field},
                    {"limit", limit},
                    {"length", length}}}});
}

ApiResponse fail(const core::Failure& f) { return failureResponse(f); }

/// The body as a JSON object, or the 400 that explains why it is not one.
Expected<json, ApiResponse> objectBody(const ApiRequest& r) {
  if (r.body.empty()) return Unexpected(errorResponse(400, "bad_request", "a JSON object body is required"));
  try {
    auto j = json::parse(r.body);
    if (!j.is_object()) return Unexpected(errorResponse(400, "bad_request", "the body must be a JSON object"));
    return j;
  } catch (const json::parse_error& e) {
    return Unexpected(errorResponse(400, "bad_json", std::string("malformed JSON: ") + e.what()));
  }
}

/// A field of a known type, or the 422 that names it.
template <class T>
Expected<std::optional<T>, ApiResponse> field(const json& body, const char* name) {
  if (!body.contains(name) || body[name].is_null()) return std::optional<T>{};
  try {
    return std::optional<T>(body[name].get<T>());
  } catch (const json::exception&) {
    return Unexpected(errorResponse(422, "invalid", std::string("field '") + name + "' has the wrong type"));
  }
}

std::optional<std::size_t> sizeParam(const ApiRequest& r, const char* name) {
  auto v = r.queryParam(name);
  if (!v) return std::nullopt;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || p != v->data() + v->size()) return std::nullopt;
  return n;
}

/// {"items": [...], "total", "offset", "limit"} over a whole list, with ?offset= and ?limit= (≤ 1000).
template <class T>
ApiResponse page(const ApiRequest& r, const std::vector<T>& all) {
  const auto offset = sizeParam(r, "offset").value_or(0);
  const auto limit = std::min<std::size_t>(sizeParam(r, "limit").value_or(100), 1000);
  json items = json::array();
  for (std::size_t i = offset; i < all.size() && i < offset + limit; ++i) items.push_back(core::toJson(all[i]));
  return ok(200, {{"items", items}, {"total", all.size()}, {"offset", offset}, {"limit", limit}});
}

/// A product's dialect must be one this server runs: else 422, naming the ones it does.
ApiResponse unknownDialect(const core::DialectCatalog& dialects, const std::string& name) {
  const auto names = dialects.names();
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  json body = {{"error",
                {{"code", "invalid"},
                 {"message", "unknown dialect '" + name + "'; this server runs: " + list},
                 {"dialects", names}}}};
  return ok(422, body);
}

// --- products ---

/// A product from its JSON form, or the 422 that says what is wrong.
Expected<core::Product, ApiResponse> productFromJson(const core::Platform& platform,
                                                     const core::DialectCatalog& dialects, const json& body) {
  auto id = field<std::string>(body, "id");
  auto name = field<std::string>(body, "name");
  auto dialect = field<std::string>(body, "dialect");
  if (!id) return Unexpected(id.error());
  if (!name) return Unexpected(name.error());
  if (!dialect) return Unexpected(dialect.error());
  const auto d = dialect->value_or("generic");
  const auto* rules = dialects.rules(d);
  if (!rules) return Unexpected(unknownDialect(dialects, d));
  core::Product p;
  p.id = id->value_or("");
  p.name = name->value_or("");
  p.dialect = d;
  if (body.contains("keys")) {
    if (!body["keys"].is_object()) return Unexpected(errorResponse(422, "invalid", "field 'keys' must be an object"));
    p.keys = body["keys"];
  }
  if (auto bad = rules->prepareProduct(platform, p)) return Unexpected(fail(*bad));
  return p;
}

ApiResponse createProduct(core::Platform& platform, const core::DialectCatalog& dialects, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  auto p = productFromJson(platform, dialects, *body);
  if (!p) return p.error();
  auto created = platform.createProduct(std::move(*p));
  return created ? ok(201, core::toJson(*created)) : fail(created.error());
}

// --- devices ---

/// A device from its JSON form (its product must exist), or the 422 that says what is wrong.
Expected<core::Device, ApiResponse> deviceFromJson(const core::Platform& platform, const core::DialectCatalog& dialects,
                                                   const json& body) {
  auto id = field<std::string>(body, "id");
  auto productId = field<std::string>(body, "productId");
  auto name = field<std::string>(body, "name");
  auto fw = field<std::string>(body, "firmwareVersion");
  if (!id) return Unexpected(id.error());
  if (!productId) return Unexpected(productId.error());
  if (!name) return Unexpected(name.error());
  if (!fw) return Unexpected(fw.error());
  if (!*productId) return Unexpected(errorResponse(422, "invalid", "field 'productId' is required"));
  auto product = platform.product(**productId);
  if (!product) return Unexpected(errorResponse(422, "invalid", "no product '" + **productId + "'"));
  core::Device d;
  d.id = id->value_or("");
  d.productId = **productId;
  d.name = name->value_or("");
  d.firmwareVersion = fw->value_or("");
  for (const char* key : {"identifiers", "secrets"}) {
    if (!body.contains(key)) continue;
    if (!body[key].is_object())
      return Unexpected(errorResponse(422, "invalid", std::string("field '") + key + "' must be an object"));
    (key == std::string("identifiers") ? d.identifiers : d.secrets) = body[key];
  }
  if (const auto* rules = dialects.rules(product->dialect))
    if (auto bad = rules->prepareDevice(platform, d, core::DeviceChange::Create)) return Unexpected(fail(*bad));
  return d;
}

ApiResponse createDevice(core::Platform& platform, const core::DialectCatalog& dialects, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  auto d = deviceFromJson(platform, dialects, *body);
  if (!d) return d.error();
  auto created = platform.createDevice(std::move(*d));
  return created ? ok(201, core::toJson(*created)) : fail(created.error());
}

ApiResponse patchDevice(core::Platform& platform, const core::DialectCatalog& dialects, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  for (const auto& [key, value] : body->items()) {
    if (key == "name" || key == "firmwareVersion") {
      if (!value.is_string()) return errorResponse(422, "invalid", "field '" + key + "' must be a string");
    } else if (key == "identifiers" || key == "secrets") {
      if (!value.is_object()) return errorResponse(422, "invalid", "field '" + key + "' must be an object");
    } else {
      return errorResponse(422, "invalid", "field '" + key + "' cannot be changed");
    }
  }
  // The device keeps its dialect's rules through a change (oceanconnect: unique nodeId, hex PSK),
  // defaults included.
  if (auto current = platform.device(r.params.at("id"))) {
    auto product = platform.product(current->productId);
    if (const auto* rules = product ? dialects.rules(product->dialect) : nullptr) {
      core::Device changed = *current;
      if (body->contains("identifiers")) changed.identifiers = (*body)["identifiers"];
      if (body->contains("secrets")) changed.secrets = (*body)["secrets"];
      if (auto bad = rules->prepareDevice(platform, changed, core::DeviceChange::Update)) return fail(*bad);
      (*body)["identifiers"] = changed.identifiers;
      (*body)["secrets"] = changed.secrets;
    }
  }
  auto updated = platform.updateDevice(r.params.at("id"), *body);
  return updated ? ok(200, core::toJson(*updated)) : fail(updated.error());
}

// --- commands ---

void postCommand(core::Platform& platform, const core::DialectCatalog& dialects, const ApiRequest& r,
                 const Respond& respond) {
  auto body = objectBody(r);
  if (!body) return respond(body.error());
  core::CommandSpec spec;
  spec.deviceId = r.params.at("id");
  auto name = field<std::string>(*body, "name");
  auto expire = field<std::int64_t>(*body, "expireTime");
  auto retransmit = field<std::int64_t>(*body, "maxRetransmit");
  auto ackTimeout = field<std::int64_t>(*body, "ackTimeoutMs");
  auto callback = field<std::string>(*body, "callbackUrl");
  auto base64 = field<std::string>(*body, "payloadBase64");
  for (const auto* bad : {name ? nullptr : &name.error(), expire ? nullptr : &expire.error(),
                          retransmit ? nullptr : &retransmit.error(), ackTimeout ? nullptr : &ackTimeout.error(),
                          callback ? nullptr : &callback.error(), base64 ? nullptr : &base64.error()})
    if (bad) return respond(*bad);
  spec.name = name->value_or("");
  spec.expireSeconds = expire->value_or(core::kDefaultExpireSeconds);
  if (spec.expireSeconds < 0) return respond(errorResponse(422, "invalid", "expireTime must be 0 or more seconds"));
  const auto maxRetransmit = retransmit->value_or(3);
  if (maxRetransmit < 0 || maxRetransmit > 100) return respond(errorResponse(422, "invalid", "maxRetransmit must be 0..100"));
  spec.maxRetransmit = static_cast<std::uint32_t>(maxRetransmit);
  const auto ackMs = ackTimeout->value_or(30'000);
  if (ackMs < 10 || ackMs > 86'400'000) return respond(errorResponse(422, "invalid", "ackTimeoutMs must be 10..86400000"));
  spec.ackTimeoutMs = static_cast<std::uint32_t>(ackMs);
  spec.callbackUrl = callback->value_or("");
  if (!spec.callbackUrl.empty())
    if (auto url = parseHttpUrl(spec.callbackUrl); !url)
      return respond(errorResponse(422, "invalid", "callbackUrl " + url.error()));
  if (*base64) {
    auto bytes = base64Decode(**base64);
    if (!bytes) return respond(errorResponse(422, "invalid", "payloadBase64 is not valid base64"));
    spec.payload.assign(bytes->begin(), bytes->end());
    spec.binary = true;
  } else if (body->contains("payload")) {
    spec.payload = (*body)["payload"].dump();
  } else {
    return respond(errorResponse(422, "invalid", "a command needs 'payload' (JSON) or 'payloadBase64'"));
  }
  // The device's dialect must be able to put the command on the wire (aliyun: a service name).
  if (auto device = platform.device(spec.deviceId))
    if (auto product = platform.product(device->productId))
      if (const auto* rules = dialects.rules(product->dialect))
        if (auto bad = rules->checkCommand(*product, spec)) return respond(fail(*bad));
  auto created = platform.sendCommand(std::move(spec));
  if (!created) return respond(fail(created.error()));
  // Answer 201 only once the command is committed: it then survives a restart or a SIGKILL.
  platform.whenCommitted([respond, body = core::toJson(*created)] { respond(ok(201, body)); });
}

ApiResponse listCommands(core::Platform& platform, const ApiRequest& r) {
  std::optional<core::CommandStatus> status;
  if (auto s = r.queryParam("status")) {
    status = core::parseCommandStatus(*s);
    if (!status) return errorResponse(400, "bad_request", "unknown status '" + *s + "'");
  }
  auto list = platform.commands(r.params.at("id"), status);
  return list ? page(r, *list) : fail(list.error());
}

// --- shadow ---

void putShadow(core::Platform& platform, const ApiRequest& r, const Respond& respond) {
  auto body = objectBody(r);
  if (!body) return respond(body.error());
  if (!body->contains("desired"))
    return respond(errorResponse(422, "invalid", "field 'desired' (an object, or null to clear) is required"));
  core::ShadowUpdate update;
  const auto& desired = (*body)["desired"];
  if (desired.is_null()) update.clearDesired = true;
  else if (desired.is_object()) update.desired = desired;
  else return respond(errorResponse(422, "invalid", "field 'desired' must be an object or null"));
  auto version = field<std::int64_t>(*body, "version");
  if (!version) return respond(version.error());
  update.version = *version;
  update.source = "api";
  auto shadow = platform.updateShadow(r.params.at("id"), update);
  if (!shadow) return respond(fail(shadow.error()));
  platform.whenCommitted([respond, out = core::toJson(*shadow)] { respond(ok(200, out)); });
}

// --- admin ---

ApiResponse clockState(const core::PlatformClock& clock) {
  const auto now = clock.now();
  return ok(200, {{"now", core::isoTime(now)},
                  {"nowMs", core::toMillis(now)},
                  {"frozen", clock.frozen()},
                  {"offsetMs", std::chrono::duration_cast<std::chrono::milliseconds>(clock.offset()).count()}});
}

ApiResponse postClock(core::Platform& platform, core::PlatformClock& clock, const std::function<void()>& onChanged,
                      const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  auto action = field<std::string>(*body, "action");
  if (!action) return action.error();
  const auto a = action->value_or("");
  if (a == "freeze") {
    clock.freeze();
  } else if (a == "resume") {
    clock.resume();
  } else if (a == "reset") {
    clock.reset();
  } else if (a == "advance") {
    auto seconds = field<double>(*body, "seconds");
    auto ms = field<std::int64_t>(*body, "ms");
    if (!seconds) return seconds.error();
    if (!ms) return ms.error();
    if (!*seconds && !*ms) return errorResponse(422, "invalid", "advance needs 'seconds' or 'ms'");
    const auto by = *ms ? std::chrono::milliseconds(**ms)
                        : std::chrono::milliseconds(static_cast<std::int64_t>(**seconds * 1000));
    clock.advance(by);
  } else if (a == "set") {
    auto ms = field<std::int64_t>(*body, "timeMs");
    if (!ms) return ms.error();
    if (!*ms) return errorResponse(422, "invalid", "set needs 'timeMs' (milliseconds since the Unix epoch)");
    clock.set(core::fromMillis(**ms));
  } else {
    return errorResponse(422, "invalid", "action must be freeze, resume, advance, set or reset");
  }
  platform.tick();  // whatever fell due is handled before the answer, so tests can assert right after it
  if (onChanged) onChanged();
  return clockState(clock);
}

std::string errorMessage(const ApiResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"].value("message", r.body) : r.body;
}

}  // namespace

WebSocketRoute eventStreamRoute(core::Platform& platform) {
  WebSocketRoute route;
  route.path = "/api/v1/events";
  route.check = [&platform](const ApiRequest& r) -> std::optional<ApiResponse> {
    if (auto d = r.queryParam("deviceId"); d && !platform.device(*d))
      return errorResponse(404, "not_found", "no device '" + *d + "'");
    return std::nullopt;
  };
  route.subscribe = [&platform](const ApiRequest& r, std::function<void(std::string)> send) {
    const auto deviceId = r.queryParam("deviceId");
    std::vector<std::string> types;
    if (auto t = r.queryParam("type"))
      for (std::size_t start = 0; start <= t->size();) {
        const auto comma = std::min(t->find(',', start), t->size());
        if (comma > start) types.push_back(t->substr(start, comma - start));
        start = comma + 1;
      }
    const auto id = platform.subscribe([deviceId, types, send = std::move(send)](const core::Event& e) {
      if (deviceId && core::deviceIdOf(e) != *deviceId) return;
      if (!types.empty() && std::none_of(types.begin(), types.end(), [type = eventType(e)](const std::string& t) {
            return type.starts_with(t);
          }))
        return;
      send(toJson(e).dump(-1, ' ', false, json::error_handler_t::replace));
    });
    return std::function<void()>([&platform, id] { platform.unsubscribe(id); });
  };
  return route;
}

FixtureReport loadFixtures(core::Platform& platform, const core::DialectCatalog& dialects,
                           const nlohmann::json& fixtures) {
  FixtureReport report;
  if (!fixtures.is_object()) {
    report.errors.push_back("fixtures must be a JSON object with \"products\" and \"devices\" arrays");
    return report;
  }
  for (const auto& [key, _] : fixtures.items())
    if (key != "products" && key != "devices") report.errors.push_back("unknown key '" + key + "'");
  auto section = [&](const char* name) -> const json* {
    if (!fixtures.contains(name)) return nullptr;
    if (!fixtures[name].is_array()) {
      report.errors.push_back(std::string("'") + name + "' must be an array");
      return nullptr;
    }
    return &fixtures[name];
  };
  if (const json* products = section("products")) {
    for (std::size_t i = 0; i < products->size(); ++i) {
      const auto where = "products[" + std::to_string(i) + "]: ";
      const auto& item = (*products)[i];
      if (!item.is_object()) {
        report.errors.push_back(where + "must be an object");
        continue;
      }
      auto p = productFromJson(platform, dialects, item);
      if (!p) {
        report.errors.push_back(where + errorMessage(p.error()));
      } else if (!p->id.empty() && platform.product(p->id)) {
        ++report.existing;
      } else if (auto created = platform.createProduct(std::move(*p)); created) {
        ++report.products;
      } else {
        report.errors.push_back(where + created.error().message);
      }
    }
  }
  if (const json* devices = section("devices")) {
    for (std::size_t i = 0; i < devices->size(); ++i) {
      const auto where = "devices[" + std::to_string(i) + "]: ";
      const auto& item = (*devices)[i];
      if (!item.is_object()) {
        report.errors.push_back(where + "must be an object");
        continue;
      }
      auto d = deviceFromJson(platform, dialects, item);
      if (!d) {
        report.errors.push_back(where + errorMessage(d.error()));
      } else if (!d->id.empty() && platform.device(d->id)) {
        ++report.existing;
      } else if (auto created = platform.createDevice(std::move(*d)); created) {
        ++report.devices;
      } else {
        report.errors.push_back(where + created.error().message);
      }
    }
  }
  return report;
}

nlohmann::json toJson(const FixtureReport& r) {
  return {{"products", r.products}, {"devices", r.devices}, {"existing", r.existing}, {"errors", r.errors}};
}

void addPlatformRoutes(Router& router, core::Platform& platform, core::PlatformClock& clock,
                       const core::DialectCatalog& dialects, PlatformApiHooks hooks) {
  auto& p = platform;
  const auto* d = &dialects;
  router.add("GET", "/api/v1/products", [&p](const ApiRequest& r) { return page(r, p.products()); });
  router.add("POST", "/api/v1/products", [&p, d](const ApiRequest& r) { return createProduct(p, *d, r); });
  router.add("GET", "/api/v1/products/{id}", [&p](const ApiRequest& r) {
    auto product = p.product(r.params.at("id"));
    return product ? ok(200, core::toJson(*product))
                   : errorResponse(404, "not_found", "no product '" + r.params.at("id") + "'");
  });
  router.add("DELETE", "/api/v1/products/{id}", [&p](const ApiRequest& r) {
    auto removed = p.deleteProduct(r.params.at("id"));
    return removed ? ok(200, core::toJson(*removed)) : fail(removed.error());
  });

  router.add("GET", "/api/v1/devices", [&p](const ApiRequest& r) { return page(r, p.devices(r.queryParam("productId"))); });
  router.add("POST", "/api/v1/devices", [&p, d](const ApiRequest& r) { return createDevice(p, *d, r); });
  router.add("GET", "/api/v1/devices/{id}", [&p](const ApiRequest& r) {
    auto device = p.device(r.params.at("id"));
    return device ? ok(200, core::toJson(*device))
                  : errorResponse(404, "not_found", "no device '" + r.params.at("id") + "'");
  });
  router.add("PATCH", "/api/v1/devices/{id}", [&p, d](const ApiRequest& r) { return patchDevice(p, *d, r); });
  router.add("DELETE", "/api/v1/devices/{id}", [&p](const ApiRequest& r) {
    auto removed = p.deleteDevice(r.params.at("id"));
    return removed ? ok(200, core::toJson(*removed)) : fail(removed.error());
  });
  router.add("GET", "/api/v1/devices/{id}/messages", [&p](const ApiRequest& r) {
    if (!p.device(r.params.at("id"))) return errorResponse(404, "not_found", "no device '" + r.params.at("id") + "'");
    const auto limit = std::min<std::size_t>(sizeParam(r, "limit").value_or(100), 1000);
    std::optional<std::int64_t> before;
    if (auto b = sizeParam(r, "before")) before = static_cast<std::int64_t>(*b);
    json items = json::array();
    for (const auto& m : p.messages(r.params.at("id"), limit, before)) items.push_back(core::toJson(m));
    return ok(200, {{"items", items}, {"limit", limit}});
  });

  router.add("GET", "/api/v1/devices/{id}/journal", [&p](const ApiRequest& r) {
    if (!p.device(r.params.at("id"))) return errorResponse(404, "not_found", "no device '" + r.params.at("id") + "'");
    const auto limit = std::min<std::size_t>(sizeParam(r, "limit").value_or(100), 1000);
    std::optional<std::int64_t> before;
    if (auto b = sizeParam(r, "before")) before = static_cast<std::int64_t>(*b);
    json items = json::array();
    for (const auto& e : p.journalEntries(r.params.at("id"), limit, before)) items.push_back(core::toJson(e));
    return ok(200, {{"items", items}, {"limit", limit}});
  });

  router.add("GET", "/api/v1/devices/{id}/logs", [&p](const ApiRequest& r) {
    if (!p.device(r.params.at("id"))) return errorResponse(404, "not_found", "no device '" + r.params.at("id") + "'");
    const auto limit = std::min<std::size_t>(sizeParam(r, "limit").value_or(100), 1000);
    std::optional<std::int64_t> before;
    if (auto b = sizeParam(r, "before")) before = static_cast<std::int64_t>(*b);
    json items = json::array();
    for (const auto& e : p.deviceLogs(r.params.at("id"), limit, before)) items.push_back(core::toJson(e));
    return ok(200, {{"items", items}, {"limit", limit}});
  });

  router.addAsync("POST", "/api/v1/devices/{id}/commands",
                  [&p, d](ApiRequest r, Respond respond) { postCommand(p, *d, r, respond); });
  router.add("GET", "/api/v1/devices/{id}/commands", [&p](const ApiRequest& r) { return listCommands(p, r); });
  router.add("GET", "/api/v1/commands/{id}", [&p](const ApiRequest& r) {
    auto c = p.command(r.params.at("id"));
    return c ? ok(200, core::toJson(*c)) : errorResponse(404, "not_found", "no command '" + r.params.at("id") + "'");
  });
  router.addAsync("DELETE", "/api/v1/commands/{id}", [&p](ApiRequest r, Respond respond) {
    auto c = p.cancelCommand(r.params.at("id"));
    if (!c) return respond(fail(c.error()));
    p.whenCommitted([respond, body = core::toJson(*c)] { respond(ok(200, body)); });
  });

  router.addAsync("POST", "/api/v1/admin/fixtures", [&p, d](ApiRequest r, Respond respond) {
    auto body = objectBody(r);
    if (!body) return respond(body.error());
    auto report = loadFixtures(p, *d, *body);
    const int status = report.errors.empty() ? 200 : 422;
    p.whenCommitted([respond, status, body = toJson(report)] { respond(ok(status, body)); });
  });

  router.add("POST", "/api/v1/mqtt/publish", [hooks](const ApiRequest& r) {
    auto body = objectBody(r);
    if (!body) return body.error();
    auto topic = field<std::string>(*body, "topic");
    auto qos = field<std::int64_t>(*body, "qos");
    auto retain = field<bool>(*body, "retain");
    auto base64 = field<std::string>(*body, "payloadBase64");
    auto payloadText = field<std::string>(*body, "payloadText");
    for (const auto* bad : {topic ? nullptr : &topic.error(), qos ? nullptr : &qos.error(),
                            retain ? nullptr : &retain.error(), base64 ? nullptr : &base64.error(),
                            payloadText ? nullptr : &payloadText.error()})
      if (bad) return *bad;
    // MQTT 3.1.1 §1.5.3: a topic name carries a two-byte length. Refused here rather than handed
    // to the broker, which would refuse it too but could only log that.
    if (*topic && (*topic)->size() > mqtt::kMaxStringLength)
      return tooLong("topic", mqtt::kMaxStringLength, (*topic)->size(),
                     "an MQTT topic name is at most 65535 bytes (MQTT 3.1.1 §1.5.3)");
    if (!*topic || !mqtt::validTopicName(**topic) || !mqtt::validUtf8(**topic))
      return errorResponse(422, "invalid", "'topic' must be a valid MQTT topic name (no wildcards)");
    const auto q = qos->value_or(0);
    if (q < 0 || q > 2) return errorResponse(422, "invalid", "'qos' must be 0, 1 or 2");
    std::vector<std::uint8_t> payload;
    if (*base64) {
      auto bytes = base64Decode(**base64);
      if (!bytes) return errorResponse(422, "invalid", "payloadBase64 is not valid base64");
      payload = std::move(*bytes);
    } else if (*payloadText) {
      payload.assign((*payloadText)->begin(), (*payloadText)->end());
    } else if (body->contains("payload")) {
      const auto text = (*body)["payload"].dump();
      payload.assign(text.begin(), text.end());
    }
    const auto size = payload.size();
    // §2.2.3: the remaining length (topic, packet id, payload) is at most 268435455 bytes.
    if (mqtt::checkPublish((*topic)->size(), size, static_cast<mqtt::QoS>(q)))
      return tooLong("payload", mqtt::kMaxRemainingLength - 2 - (*topic)->size() - (q > 0 ? 2 : 0), size,
                     "a PUBLISH is at most 268435455 bytes after its fixed header (MQTT 3.1.1 §2.2.3)");
    hooks.publish(**topic, std::move(payload), static_cast<int>(q), retain->value_or(false));
    return ok(202, {{"topic", **topic}, {"bytes", size}, {"qos", q}, {"retain", retain->value_or(false)}});
  });
  router.addAsync("GET", "/api/v1/admin/stats", [&p, hooks](ApiRequest, Respond respond) {
    hooks.brokerStats([respond, platform = p.stats()](json broker) {
      respond(ok(200, {{"platform", platform}, {"mqtt", broker}}));
    });
  });

  router.add("GET", "/api/v1/events", [](const ApiRequest&) {
    auto r = errorResponse(426, "upgrade_required", "/api/v1/events is a WebSocket: connect with Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  });

  router.add("GET", "/api/v1/devices/{id}/shadow", [&p](const ApiRequest& r) {
    auto shadow = p.shadow(r.params.at("id"));
    return shadow ? ok(200, core::toJson(*shadow)) : fail(shadow.error());
  });
  router.addAsync("PUT", "/api/v1/devices/{id}/shadow",
                  [&p](ApiRequest r, Respond respond) { putShadow(p, r, respond); });

  auto* clk = &clock;
  router.add("GET", "/api/v1/admin/clock", [clk](const ApiRequest&) { return clockState(*clk); });
  router.add("POST", "/api/v1/admin/clock",
             [&p, clk, hooks](const ApiRequest& r) { return postClock(p, *clk, hooks.onClockChanged, r); });
  router.addAsync("POST", "/api/v1/admin/reset", [&p, clk, hooks](ApiRequest, Respond respond) {
    p.reset();
    clk->reset();
    if (hooks.onReset) hooks.onReset();
    p.whenCommitted([respond] { respond(ok(200, {{"reset", true}})); });
  });
}

}  // namespace fc::server::http
