// Upgrade job routes: JSON in and out, validation of shapes here (400 for a body that is no JSON
// object, 422 for a field of the wrong type or value), of meaning in the jobs service (422, 404,
// 409 as core::Failure).
#include "server/http/ota_jobs_api.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "server/core/model.hpp"
#include "server/ota/job_service.hpp"

namespace fc::server::http {
namespace {

using nlohmann::json;

ApiResponse ok(int status, const json& body) {
  return jsonResponse(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}
ApiResponse invalid(const std::string& message) { return errorResponse(422, "invalid", message); }

/// "2026-12-08T01:02:03Z" or with milliseconds ("….123Z"), UTC only.
std::optional<core::TimePoint> parseIsoTime(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  char zone = 0;
  int n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &n) != 6)
    return std::nullopt;
  std::string rest = s.substr(static_cast<std::size_t>(n));
  if (rest.size() == 5 && rest[0] == '.' && std::sscanf(rest.c_str(), ".%3d%c", &ms, &zone) == 2 && zone == 'Z') {
  } else if (rest != "Z") {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = ::timegm(&tm);
  if (t == static_cast<std::time_t>(-1)) return std::nullopt;
  return core::TimePoint(std::chrono::seconds(t)) + std::chrono::milliseconds(ms);
}

std::optional<std::vector<std::string>> stringList(const json& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& x : v) {
    if (!x.is_string() || x.get<std::string>().empty()) return std::nullopt;
    out.push_back(x.get<std::string>());
  }
  return out;
}

/// A non-negative integer field within `max`, or the 422 naming it.
Expected<std::int64_t, ApiResponse> count(const json& body, const char* name, std::int64_t max) {
  if (!body.contains(name) || body[name].is_null()) return std::int64_t{0};
  const auto& v = body[name];
  if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max)
    return Unexpected(invalid(std::string("'") + name + "' must be an integer from 0 to " + std::to_string(max)));
  return v.get<std::int64_t>();
}

Expected<ota::JobRequest, ApiResponse> requestOf(const json& body) {
  static const std::set<std::string> kKnown = {"firmwareIds",         "targets",        "mode",    "startAt",
                                               "upgradeDelaySeconds", "timeoutSeconds", "retries", "maxConcurrent",
                                               "perSecond",           "faults"};
  for (const auto& [key, value] : body.items())
    if (!kKnown.contains(key)) return Unexpected(invalid("unknown field '" + key + "'"));
  ota::JobRequest req;
  if (body.contains("faults") && !body["faults"].is_null()) {
    auto faults = ota::parseFaults(body["faults"]);
    if (!faults) return Unexpected(invalid("'faults': " + faults.error()));
    req.faults = *faults;
  }
  if (!body.contains("firmwareIds"))
    return Unexpected(invalid("'firmwareIds' (the firmware to install, in order) is required"));
  auto firmware = stringList(body["firmwareIds"]);
  if (!firmware || firmware->empty())
    return Unexpected(invalid("'firmwareIds' must be a non-empty array of firmware ids"));
  req.firmwareIds = std::move(*firmware);

  if (!body.contains("targets") || !body["targets"].is_object())
    return Unexpected(invalid("'targets' is required: {\"deviceIds\": [...]} or {\"productId\": ...}"));
  const auto& targets = body["targets"];
  for (const auto& [key, value] : targets.items())
    if (key != "deviceIds" && key != "productId" && key != "versions")
      return Unexpected(invalid("unknown field 'targets." + key + "'"));
  const bool byDevice = targets.contains("deviceIds"), byProduct = targets.contains("productId");
  if (byDevice == byProduct) return Unexpected(invalid("'targets' needs exactly one of 'deviceIds' and 'productId'"));
  if (byDevice) {
    auto ids = stringList(targets["deviceIds"]);
    if (!ids || ids->empty()) return Unexpected(invalid("'targets.deviceIds' must be a non-empty array of device ids"));
    req.deviceIds = std::move(*ids);
  } else {
    if (!targets["productId"].is_string() || targets["productId"].get<std::string>().empty())
      return Unexpected(invalid("'targets.productId' must be a product id"));
    req.productId = targets["productId"].get<std::string>();
  }
  if (targets.contains("versions")) {
    auto versions = stringList(targets["versions"]);
    if (!versions || versions->empty())
      return Unexpected(invalid("'targets.versions' must be a non-empty array of versions"));
    req.versions = std::move(*versions);
  }

  if (body.contains("mode")) {
    const auto mode = body["mode"].is_string() ? ota::parseOtaMode(body["mode"].get<std::string>()) : std::nullopt;
    if (!mode) return Unexpected(invalid("'mode' must be forced, optional or silent"));
    req.mode = *mode;
  }
  if (body.contains("startAt") && !body["startAt"].is_null()) {
    const auto& s = body["startAt"];
    if (s.is_number_integer())
      req.startAt = core::fromMillis(s.get<std::int64_t>());
    else if (s.is_string())
      req.startAt = parseIsoTime(s.get<std::string>());
    if (!req.startAt)
      return Unexpected(
          invalid("'startAt' must be milliseconds since the Unix epoch or a UTC time like 2026-01-02T03:04:05Z"));
  }
  constexpr std::int64_t kYear = 366LL * 86400;
  auto delay = count(body, "upgradeDelaySeconds", kYear);
  if (!delay) return Unexpected(delay.error());
  req.upgradeDelaySeconds = *delay;
  auto timeout = count(body, "timeoutSeconds", kYear);
  if (!timeout) return Unexpected(timeout.error());
  req.timeoutSeconds = *timeout;
  auto retries = count(body, "retries", 100);
  if (!retries) return Unexpected(retries.error());
  req.retries = static_cast<std::uint32_t>(*retries);
  auto concurrent = count(body, "maxConcurrent", 1'000'000);
  if (!concurrent) return Unexpected(concurrent.error());
  req.maxConcurrent = static_cast<std::uint32_t>(*concurrent);
  if (body.contains("perSecond") && !body["perSecond"].is_null()) {
    const auto& v = body["perSecond"];
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0 || v.get<double>() > 1e6)
      return Unexpected(invalid("'perSecond' must be a number from 0 (no limit) to 1000000"));
    req.perSecond = v.get<double>();
  }
  return req;
}

Expected<json, ApiResponse> objectBody(const ApiRequest& r) {
  if (r.body.empty()) return Unexpected(errorResponse(400, "bad_request", "a JSON object body is required"));
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded()) return Unexpected(errorResponse(400, "bad_json", "malformed JSON"));
  if (!j.is_object()) return Unexpected(errorResponse(400, "bad_request", "the body must be a JSON object"));
  return j;
}

/// The job as it is now (a reset may have removed it meanwhile: 404).
ApiResponse current(const ota::JobService& jobs, const std::string& id, int status) {
  const auto j = jobs.job(id);
  if (!j) return errorResponse(404, "not_found", "no job '" + id + "'");
  return ok(status, jobs.toJson(*j));
}

}  // namespace

void addOtaJobRoutes(Router& router, ota::JobService* service) {
  router.addAsync("POST", "/api/v1/ota/jobs", [service](ApiRequest r, Respond respond) {
    auto& jobs = *service;
    auto body = objectBody(r);
    if (!body) return respond(body.error());
    auto req = requestOf(*body);
    if (!req) return respond(req.error());
    auto created = jobs.create(*req);
    if (!created) return respond(failureResponse(created.error()));
    // Answered once the job is stored, as it is by then (its first offers may have moved it on).
    jobs.whenCommitted([respond, service, id = created->id] { respond(current(*service, id, 201)); });
  });
  router.add("GET", "/api/v1/ota/jobs", [service](const ApiRequest&) {
    const auto& jobs = *service;
    json items = json::array();
    for (const auto& j : jobs.jobs()) items.push_back(jobs.toJson(j));
    const auto total = items.size();
    return ok(200, {{"items", std::move(items)}, {"total", total}});
  });
  router.add("GET", "/api/v1/ota/jobs/{id}", [service](const ApiRequest& r) {
    const auto& jobs = *service;
    const auto j = jobs.job(r.params.at("id"));
    if (!j) return errorResponse(404, "not_found", "no job '" + r.params.at("id") + "'");
    return ok(200, jobs.toJson(*j));
  });
  router.add("GET", "/api/v1/ota/jobs/{id}/devices", [service](const ApiRequest& r) {
    const auto& jobs = *service;
    const auto j = jobs.job(r.params.at("id"));
    const auto runs = jobs.runs(r.params.at("id"));
    if (!j || !runs) return errorResponse(404, "not_found", "no job '" + r.params.at("id") + "'");
    json items = json::array();
    for (const auto& run : *runs) items.push_back(jobs.toJson(*j, run));
    const auto total = items.size();
    return ok(200, {{"jobId", j->id}, {"items", std::move(items)}, {"total", total}});
  });
  router.addAsync("POST", "/api/v1/ota/jobs/{id}/cancel", [service](ApiRequest r, Respond respond) {
    auto& jobs = *service;
    const auto id = r.params.at("id");
    auto canceled = jobs.cancel(id);
    if (!canceled) return respond(failureResponse(canceled.error()));
    jobs.whenCommitted([respond, service, id] { respond(current(*service, id, 200)); });
  });
}

OpenApiFragment otaJobsOpenApi() {
  using namespace openapi;
  OpenApiFragment out;
  out.operations = {
      {"POST",
       "/api/v1/ota/jobs",
       "Create an upgrade job: firmwareIds in install order, targets {deviceIds} or {productId} (optionally "
       "versions), mode, startAt / upgradeDelaySeconds, timeoutSeconds, retries, maxConcurrent, perSecond; 201 once "
       "stored",
       "OtaJobInput",
       "OtaJob",
       {201, 400, 422}},
      {"GET",
       "/api/v1/ota/jobs",
       "Every upgrade job, oldest first, with counts per state",
       nullptr,
       "OtaJobList",
       {200}},
      {"GET", "/api/v1/ota/jobs/{id}", "One upgrade job: counts per state, progress", nullptr, "OtaJob", {200, 404}},
      {"GET",
       "/api/v1/ota/jobs/{id}/devices",
       "Each target device's run: state, firmware step, progress, bytes served, attempts, last error, times",
       nullptr,
       "OtaJobDeviceList",
       {200, 404}},
      {"POST",
       "/api/v1/ota/jobs/{id}/cancel",
       "Cancel a job: its open runs end CANCELED and active devices are told to stop (409 once ended)",
       nullptr,
       "OtaJob",
       {200, 404, 409}},
  };
  const json strings = {{"type", "array"}, {"items", str()}};
  const json number = {{"type", "number"}};
  const json nullableStr = {{"type", "string"}, {"nullable", true}};
  out.schemas = {
      {"OtaJobInput",
       object({{"firmwareIds", strings},
               {"targets", object({{"deviceIds", strings}, {"productId", str()}, {"versions", strings}})},
               {"mode", {{"type", "string"}, {"enum", {"forced", "optional", "silent"}}}},
               {"startAt", any()},
               {"upgradeDelaySeconds", integer()},
               {"timeoutSeconds", integer()},
               {"retries", integer()},
               {"maxConcurrent", integer()},
               {"perSecond", number},
               {"faults", ref("DownloadFaults")}},
              {"firmwareIds", "targets"})},
      {"OtaJob", object({{"id", str()},
                         {"state", str()},
                         {"productId", str()},
                         {"firmwareIds", strings},
                         {"targets", any()},
                         {"deviceIds", strings},
                         {"mode", str()},
                         {"startAt", str()},
                         {"timeoutSeconds", integer()},
                         {"retries", integer()},
                         {"maxConcurrent", integer()},
                         {"perSecond", number},
                         {"faults", ref("DownloadFaults")},
                         {"createdAt", str()},
                         {"finishedAt", nullableStr},
                         {"counts", any()},
                         {"total", integer()},
                         {"progress", integer()}})},
      {"OtaJobList", object({{"items", arrayOf("OtaJob")}, {"total", integer()}})},
      {"OtaJobDevice", object({{"jobId", str()},
                               {"deviceId", str()},
                               {"state", str()},
                               {"step", integer()},
                               {"firmwareId", str()},
                               {"version", str()},
                               {"progress", {{"type", "integer"}, {"nullable", true}}},
                               {"bytesServed", integer()},
                               {"attempts", integer()},
                               {"errorCode", nullableStr},
                               {"lastError", nullableStr},
                               {"reportedVersion", nullableStr},
                               {"offeredAt", nullableStr},
                               {"deadline", nullableStr},
                               {"finishedAt", nullableStr},
                               {"updatedAt", str()}})},
      {"OtaJobDeviceList", object({{"jobId", str()}, {"items", arrayOf("OtaJobDevice")}, {"total", integer()}})},
  };
  return out;
}

}  // namespace fc::server::http
