// The system routes and the OpenAPI document. The document is built from one table, one row per
// route, plus each registered dialect's fragment (its routes and schemas), so that a test can hold
// it against the router's own list (tests/unit/server/openapi_test.cpp).
#include "server/http/system_api.hpp"

#include <nlohmann/json.hpp>

#include <vector>

namespace fc::server::http {

namespace openapi {

using nlohmann::json;

json object(std::initializer_list<std::pair<const char*, json>> properties, std::vector<std::string> required) {
  json props = json::object();
  for (const auto& [name, schema] : properties) props[name] = schema;
  json out = {{"type", "object"}, {"properties", props}};
  if (!required.empty()) out["required"] = required;
  return out;
}

json ref(const char* name) { return {{"$ref", std::string("#/components/schemas/") + name}}; }
json str() { return {{"type", "string"}}; }
json integer() { return {{"type", "integer"}}; }
json boolean() { return {{"type", "boolean"}}; }
json any() { return json::object(); }
json arrayOf(const char* name) { return {{"type", "array"}, {"items", ref(name)}}; }

}  // namespace openapi

namespace {

using nlohmann::json;

using Operation = OpenApiOperation;
using namespace openapi;

const std::vector<Operation>& operations() {
  static const std::vector<Operation> kOperations = {
      {"GET", "/healthz", "Liveness", nullptr, "Status", {200}},
      {"GET", "/readyz", "Readiness: 200 once listening, 503 while starting or stopping", nullptr, "Status", {200, 503}},
      {"GET", "/api/openapi.json", "This document", nullptr, nullptr, {200}},
      {"GET", "/api/v1/ca.pem", "The CA certificate (PEM) devices trust for TLS", nullptr, nullptr, {200}},
      {"GET", "/api/v1/products", "List products", nullptr, "ProductPage", {200}, {"offset", "limit"}},
      {"POST", "/api/v1/products", "Create a product", "ProductInput", "Product", {201, 400, 409, 422}},
      {"GET", "/api/v1/products/{id}", "One product", nullptr, "Product", {200, 404}},
      {"DELETE", "/api/v1/products/{id}", "Delete a product with its devices", nullptr, "Product", {200, 404}},
      {"GET", "/api/v1/devices", "List devices", nullptr, "DevicePage", {200}, {"productId", "offset", "limit"}},
      {"POST", "/api/v1/devices", "Create a device", "DeviceInput", "Device", {201, 400, 409, 422}},
      {"GET", "/api/v1/devices/{id}", "One device, with its online state", nullptr, "Device", {200, 404}},
      {"PATCH", "/api/v1/devices/{id}", "Change name, identifiers, secrets or firmware version", "DevicePatch",
       "Device", {200, 400, 404, 422}},
      {"DELETE", "/api/v1/devices/{id}", "Delete a device with its commands and history", nullptr, "Device",
       {200, 404}},
      {"GET", "/api/v1/devices/{id}/messages", "Uplink history, oldest first", nullptr, "MessageList", {200, 404},
       {"limit", "before"}},
      {"GET", "/api/v1/devices/{id}/journal", "Every exchange with the device, as on the wire", nullptr,
       "JournalList", {200, 404}, {"limit", "before"}},
      {"GET", "/api/v1/devices/{id}/logs", "The device's own log lines (gizwits 0x0012), oldest first; in memory only",
       nullptr, "DeviceLogList", {200, 404}, {"limit", "before"}},
      {"GET", "/api/v1/devices/{id}/shadow", "The device shadow: reported, desired, version", nullptr, "Shadow",
       {200, 404}},
      {"PUT", "/api/v1/devices/{id}/shadow", "Set desired state (pushed to aliyun devices as a control message)",
       "ShadowInput", "Shadow", {200, 400, 404, 409, 422}},
      {"POST", "/api/v1/devices/{id}/commands", "Send a command (201 once committed)", "CommandInput", "Command",
       {201, 400, 404, 422, 429}},
      {"GET", "/api/v1/devices/{id}/commands", "A device's commands in creation order", nullptr, "CommandPage",
       {200, 400, 404}, {"status", "offset", "limit"}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}",
       "LwM2M Read of a registered device's object (?format= asks for a Content-Format)", nullptr, nullptr,
       {200, 404, 409, 422, 502, 504}, {"format"}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}/{instance}",
       "LwM2M Read of an object instance (?format= asks for a Content-Format)", nullptr, nullptr,
       {200, 404, 409, 422, 502, 504}, {"format"}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}",
       "LwM2M Read of a resource: {path, code, contentFormat, value | valueBase64 | tlv | senml}", nullptr, nullptr,
       {200, 404, 409, 422, 502, 504}, {"format"}},
      {"PUT", "/api/v1/devices/{id}/lwm2m/{object}/{instance}",
       "LwM2M Write (Replace) of an object instance: {\"tlvBase64\"} (OMA TLV) or {\"senml\"} (SenML JSON)", nullptr,
       nullptr, {200, 400, 404, 409, 422, 502, 504}},
      {"PUT", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}",
       "LwM2M Write: {\"text\"} (text/plain), {\"tlvBase64\"} (OMA TLV), {\"opaqueBase64\"} (octet-stream) or "
       "{\"senml\"} (SenML JSON records)",
       nullptr, nullptr, {200, 400, 404, 409, 422, 502, 504}},
      {"POST", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}",
       "LwM2M Execute, with optional {\"args\"}", nullptr, nullptr, {200, 400, 404, 409, 422, 502, 504}},
      {"POST", "/api/v1/devices/{id}/lwm2m/{object}/observe",
       "LwM2M Observe of an object (again: replaces): answers the first response; later notifications are "
       "lwm2m.notification events",
       nullptr, nullptr, {200, 404, 409, 422, 502, 504}, {"format"}},
      {"DELETE", "/api/v1/devices/{id}/lwm2m/{object}/observe",
       "Cancel an observation of an object started through the API", nullptr, nullptr, {200, 404, 409, 422}},
      {"POST", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/observe",
       "LwM2M Observe of an object instance (again: replaces): answers the first response; later notifications are "
       "lwm2m.notification events",
       nullptr, nullptr, {200, 404, 409, 422, 502, 504}, {"format"}},
      {"DELETE", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/observe",
       "Cancel an observation of an object instance started through the API", nullptr, nullptr, {200, 404, 409, 422}},
      {"POST", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}/observe",
       "LwM2M Observe of a resource (again: replaces): answers the first response; later notifications are "
       "lwm2m.notification events",
       nullptr, nullptr, {200, 404, 409, 422, 502, 504}, {"format"}},
      {"DELETE", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}/observe",
       "Cancel an observation of a resource started through the API", nullptr, nullptr, {200, 404, 409, 422}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}/discover",
       "LwM2M Discover of an object: {path, code, value (link format), links[{target, params}]}", nullptr, nullptr,
       {200, 404, 409, 422, 502, 504}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/discover", "LwM2M Discover of an object instance",
       nullptr, nullptr, {200, 404, 409, 422, 502, 504}},
      {"GET", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}/discover",
       "LwM2M Discover of a resource (its attributes)", nullptr, nullptr, {200, 404, 409, 422, 502, 504}},
      {"GET", "/api/v1/devices/{id}/lwm2m",
       "The LwM2M registration: endpoint, location, version, binding, queueMode, lifetime, objects, transport", nullptr,
       nullptr, {200, 404, 409}},
      {"POST", "/api/v1/devices/{id}/lwm2m/{object}",
       "LwM2M Create of an object instance: {\"tlvBase64\"} (OMA TLV) or {\"senml\"} (SenML JSON) → 201 with the "
       "device's Location-Path as location",
       nullptr, nullptr, {201, 400, 404, 409, 422, 502, 504}},
      {"DELETE", "/api/v1/devices/{id}/lwm2m/{object}/{instance}", "LwM2M Delete of an object instance", nullptr,
       nullptr, {200, 404, 409, 422, 502, 504}},
      {"PUT", "/api/v1/devices/{id}/lwm2m/{object}/attributes",
       "LwM2M Write-Attributes on an object: ?pmin=&pmax=&epmin=&epmax= (a bare name removes) or a JSON object "
       "(null removes)",
       nullptr, nullptr, {200, 400, 404, 409, 422, 502, 504}},
      {"PUT", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/attributes",
       "LwM2M Write-Attributes on an object instance (pmin, pmax, epmin, epmax)", nullptr, nullptr,
       {200, 400, 404, 409, 422, 502, 504}},
      {"PUT", "/api/v1/devices/{id}/lwm2m/{object}/{instance}/{resource}/attributes",
       "LwM2M Write-Attributes on a resource: pmin, pmax, gt, lt, st, epmin, epmax", nullptr, nullptr,
       {200, 400, 404, 409, 422, 502, 504}},
      {"POST", "/api/v1/devices/{id}/lwm2m/composite/read",
       "LwM2M 1.1 Read-Composite: {\"paths\": [\"/3/0/0\", …]} sent as FETCH with SenML JSON (409 for a 1.0 client)",
       nullptr, nullptr, {200, 404, 409, 422, 502, 504}},
      {"POST", "/api/v1/devices/{id}/lwm2m/composite/write",
       "LwM2M 1.1 Write-Composite: {\"senml\": [records]} sent as iPATCH (409 for a 1.0 client)", nullptr, nullptr,
       {200, 404, 409, 422, 502, 504}},
      {"GET", "/api/v1/commands/{id}", "One command", nullptr, "Command", {200, 404}},
      {"DELETE", "/api/v1/commands/{id}", "Cancel a PENDING command", nullptr, "Command", {200, 404, 409}},
      {"GET", "/api/v1/events",
       "Platform events over WebSocket (device.created, device.updated, device.deleted, device.online, device.offline, uplink, "
       "command.status, journal, shadow.updated), filtered by deviceId and type prefixes; a plain GET answers 426",
       nullptr, nullptr, {101, 404, 426}, {"deviceId", "type"}},
      {"POST", "/api/v1/mqtt/publish", "Publish an MQTT message as the platform", "PublishInput", nullptr,
       {202, 400, 422}},
      {"GET", "/api/v1/admin/clock", "The platform clock", nullptr, "Clock", {200}},
      {"POST", "/api/v1/admin/clock", "Freeze, resume, advance, set or reset the platform clock", "ClockInput",
       "Clock", {200, 400, 422}},
      {"POST", "/api/v1/admin/fixtures", "Load products and devices", "Fixtures", "FixtureReport", {200, 400, 422}},
      {"GET", "/api/v1/admin/stats", "Platform and broker counters", nullptr, nullptr, {200}},
      {"POST", "/api/v1/admin/reset", "Forget everything: products, devices, commands, sessions, retained", nullptr,
       nullptr, {200}},
  };
  return kOperations;
}

json nullableTime() { return {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}; }
json page(const char* item) {
  return object({{"items", arrayOf(item)}, {"total", integer()}, {"offset", integer()}, {"limit", integer()}});
}

json schemas(const std::vector<std::string>& dialects) {
  return {
      {"Error", object({{"error", object({{"code", str()}, {"message", str()}}, {"code", "message"})}}, {"error"})},
      {"Status", object({{"status", str()}})},
      {"ProductInput", object({{"id", str()},
                               {"name", str()},
                               {"dialect", {{"type", "string"},
                                            {"enum", dialects}}},
                               {"keys", {{"type", "object"}}}})},
      {"Product", object({{"id", str()}, {"name", str()}, {"dialect", str()}, {"keys", {{"type", "object"}}},
                          {"createdAt", str()}})},
      {"ProductPage", page("Product")},
      {"DeviceInput", object({{"id", str()}, {"productId", str()}, {"name", str()}, {"identifiers", {{"type", "object"}}},
                              {"secrets", {{"type", "object"}}}, {"firmwareVersion", str()}},
                             {"productId"})},
      {"DevicePatch", object({{"name", str()}, {"identifiers", {{"type", "object"}}}, {"secrets", {{"type", "object"}}},
                              {"firmwareVersion", str()}})},
      {"Device", object({{"id", str()}, {"productId", str()}, {"name", str()}, {"identifiers", {{"type", "object"}}},
                         {"secrets", {{"type", "object"}}}, {"firmwareVersion", str()}, {"online", boolean()},
                         {"transport", {{"type", "string"}, {"nullable", true}}},
                         {"remoteAddress", {{"type", "string"}, {"nullable", true}}}, {"lastSeen", nullableTime()},
                         {"createdAt", str()}})},
      {"DevicePage", page("Device")},
      {"CommandInput", object({{"payload", any()}, {"payloadBase64", str()}, {"name", str()},
                               {"expireTime", {{"type", "integer"}, {"minimum", 0}, {"default", 172800}}},
                               {"maxRetransmit", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}, {"default", 3}}},
                               {"ackTimeoutMs", {{"type", "integer"}, {"minimum", 10}, {"default", 30000}}},
                               {"callbackUrl", str()}})},
      {"Command", object({{"id", str()}, {"deviceId", str()}, {"name", str()}, {"payload", any()}, {"binary", boolean()},
                          {"expireTime", integer()}, {"maxRetransmit", integer()}, {"ackTimeoutMs", integer()},
                          {"callbackUrl", {{"type", "string"}, {"nullable", true}}},
                          {"status", {{"type", "string"},
                                      {"enum", {"PENDING", "SENT", "DELIVERED", "SUCCESSFUL", "FAILED", "TIMEOUT",
                                                "EXPIRED", "CANCELED"}}}},
                          {"createdAt", str()}, {"expiresAt", nullableTime()}, {"sentAt", nullableTime()},
                          {"deliveredAt", nullableTime()}, {"completedAt", nullableTime()}, {"sends", integer()},
                          {"result", any()}, {"reason", {{"type", "string"}, {"nullable", true}}}})},
      {"CommandPage", page("Command")},
      {"Message", object({{"id", integer()}, {"deviceId", str()}, {"time", str()}, {"transport", str()},
                          {"topic", str()}, {"contentType", str()}, {"payload", any()}, {"payloadBase64", str()}})},
      {"MessageList", object({{"items", arrayOf("Message")}, {"limit", integer()}})},
      {"JournalEntry", object({{"id", integer()}, {"deviceId", str()}, {"time", str()},
                               {"direction", {{"type", "string"}, {"enum", {"in", "out"}}}}, {"transport", str()},
                               {"topic", str()}, {"summary", str()}, {"rawBase64", str()}})},
      {"JournalList", object({{"items", arrayOf("JournalEntry")}, {"limit", integer()}})},
      {"DeviceLogEntry", object({{"id", integer()}, {"deviceId", str()}, {"time", str()}, {"level", integer()},
                                 {"tag", str()}, {"source", str()}, {"content", str()}, {"transport", str()}})},
      {"DeviceLogList", object({{"items", arrayOf("DeviceLogEntry")}, {"limit", integer()}})},
      {"PublishInput", object({{"topic", str()}, {"payload", any()}, {"payloadText", str()}, {"payloadBase64", str()},
                               {"qos", {{"type", "integer"}, {"enum", {0, 1, 2}}}}, {"retain", boolean()}},
                              {"topic"})},
      {"Shadow", object({{"deviceId", str()}, {"reported", {{"type", "object"}}}, {"desired", {{"type", "object"}}},
                         {"version", integer()}, {"updatedAt", nullableTime()}})},
      {"ShadowInput", object({{"desired", {{"type", "object"}}}, {"version", integer()}})},
      {"Clock", object({{"now", str()}, {"nowMs", integer()}, {"frozen", boolean()}, {"offsetMs", integer()}})},
      {"ClockInput", object({{"action", {{"type", "string"}, {"enum", {"freeze", "resume", "advance", "set", "reset"}}}},
                             {"seconds", {{"type", "number"}}}, {"ms", integer()}, {"timeMs", integer()}},
                            {"action"})},
      {"Fixtures", object({{"products", arrayOf("ProductInput")}, {"devices", arrayOf("DeviceInput")}})},
      {"FixtureReport", object({{"products", integer()}, {"devices", integer()}, {"existing", integer()},
                                {"errors", {{"type", "array"}, {"items", str()}}}})},
  };
}

json operationJson(const Operation& op) {
  json out = {{"summary", op.summary}};
  json parameters = json::array();
  const std::string path = op.path;
  for (std::size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
    const auto close = path.find('}', open);
    parameters.push_back({{"name", path.substr(open + 1, close - open - 1)},
                          {"in", "path"},
                          {"required", true},
                          {"schema", str()}});
  }
  for (const char* q : op.query) parameters.push_back({{"name", q}, {"in", "query"}, {"schema", str()}});
  if (!parameters.empty()) out["parameters"] = parameters;
  if (op.requestSchema)
    out["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", ref(op.requestSchema)}}}}}};
  json responses = json::object();
  for (std::size_t i = 0; i < op.statuses.size(); ++i) {
    const int status = op.statuses[i];
    const bool success = status < 400 && !(status == 503);
    json schema = success ? (op.responseSchema ? ref(op.responseSchema) : json({{"type", "object"}})) : ref(op.errorSchema);
    responses[std::to_string(status)] = {{"description", success ? "OK" : "Error"},
                                         {"content", {{"application/json", {{"schema", schema}}}}}};
  }
  if (path.rfind("/api/", 0) == 0) {
    // Required only when the server is bound beyond loopback or api.token is set (docs/api.md#access).
    out["security"] = json::array({json::object(), {{"bearerAuth", json::array()}}});
    responses["401"] = {{"description", "Bearer token missing or wrong (when one is required)"},
                        {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
  }
  out["responses"] = responses;
  return out;
}

}  // namespace

std::string openApiDocument(const OpenApiParts& parts) {
  json paths = json::object();
  auto schemasOf = schemas(parts.dialects);
  const auto add = [&paths](const Operation& op) {
    std::string method = op.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[op.path][method] = operationJson(op);
  };
  for (const auto& op : operations()) add(op);
  for (const auto& fragment : parts.fragments) {
    for (const auto& op : fragment.operations) add(op);
    for (const auto& [name, schema] : fragment.schemas.items()) schemasOf[name] = schema;
  }
  json doc = {{"openapi", "3.0.3"},
              {"info",
               {{"title", "fakecloud"},
                {"version", "0.1.0"},
                {"description", "A mock IoT cloud for device integration tests: northbound and admin API."}}},
              {"paths", paths},
              {"components",
               {{"schemas", schemasOf},
                {"securitySchemes", {{"bearerAuth", {{"type", "http"}, {"scheme", "bearer"}}}}}}}};
  return doc.dump(2);
}

void addSystemRoutes(Router& router, std::function<bool()> ready, std::string caPem, const OpenApiParts& parts) {
  router.add("GET", "/healthz", [](const ApiRequest&) { return jsonResponse(200, R"({"status":"ok"})"); });
  router.add("GET", "/readyz", [ready = std::move(ready)](const ApiRequest&) {
    return ready() ? jsonResponse(200, R"({"status":"ready"})")
                   : errorResponse(503, "not_ready", "fakecloud is starting or stopping");
  });
  router.add("GET", "/api/v1/ca.pem", [caPem = std::move(caPem)](const ApiRequest&) {
    return ApiResponse{200, "application/x-pem-file", caPem};
  });
  router.add("GET", "/api/openapi.json", [document = openApiDocument(parts)](const ApiRequest&) {
    return jsonResponse(200, document);
  });
}

}  // namespace fc::server::http
