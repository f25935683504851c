// Alink JSON shapes; the contract is in alink.hpp. nlohmann::json keeps object keys sorted, which
// gives exactly the key order of Alibaba's replies ("code","data","id","message").
#include "protocols/dialects/aliyun/alink.hpp"

#include <nlohmann/json.hpp>

namespace fc::aliyun {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<std::string> stringOrInteger(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  return std::nullopt;
}

/// {"a":{"timestamp":T},…} for every key of `state`.
json metadataOf(const json& state, std::int64_t timestamp) {
  json m = json::object();
  if (state.is_object())
    for (const auto& [key, _] : state.items()) m[key] = {{"timestamp", timestamp}};
  return m;
}

/// "null" (the SDK's spelling) or a JSON null.
bool isNullMarker(const json& v) { return v.is_null() || (v.is_string() && v.get<std::string>() == "null"); }

}  // namespace

std::optional<std::string> alinkId(const json& request) {
  if (!request.is_object() || !request.contains("id")) return std::nullopt;
  return stringOrInteger(request["id"]);
}

std::string alinkReply(std::string_view id, int code, const json& data, std::string_view message) {
  return dump({{"code", code}, {"data", data}, {"id", std::string(id)}, {"message", std::string(message)}});
}

std::string alinkRequest(std::string_view id, std::string_view method, const json& params) {
  return dump({{"id", std::string(id)}, {"method", std::string(method)}, {"params", params}, {"version", "1.0.0"}});
}

bool validServiceName(std::string_view name) noexcept {
  if (name == "property.set") return true;
  if (name.empty() || name.size() > 64) return false;
  for (unsigned char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

std::string ntpResponse(std::string_view deviceSendTime, std::int64_t serverRecvMs, std::int64_t serverSendMs) {
  return dump({{"deviceSendTime", std::string(deviceSendTime)},
               {"serverRecvTime", std::to_string(serverRecvMs)},
               {"serverSendTime", std::to_string(serverSendMs)}});
}

std::optional<std::string> ntpDeviceSendTime(const json& request) {
  if (!request.is_object() || !request.contains("deviceSendTime")) return std::nullopt;
  return stringOrInteger(request["deviceSendTime"]);
}

std::string_view message(ShadowError e) noexcept {
  switch (e) {
    case ShadowError::BadJson: return "invalid JSON format";
    case ShadowError::NoMethod: return "method is missing";
    case ShadowError::NoState: return "state is missing";
    case ShadowError::BadVersion: return "version is not a number";
    case ShadowError::NoReported: return "reported is missing";
    case ShadowError::EmptyReported: return "reported is empty or not an object";
    case ShadowError::BadMethod: return "method is invalid";
    case ShadowError::DocumentEmpty: return "shadow document is empty";
    case ShadowError::VersionConflict: return "version conflict";
    case ShadowError::ServerError: return "server error";
  }
  return "error";
}

Expected<ShadowRequest, ShadowParseError> parseShadowRequest(std::string_view payload) {
  const auto doc = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Unexpected(ShadowParseError{ShadowError::BadJson, {}});
  ShadowRequest r;
  if (doc.contains("clientToken")) {
    const auto& t = doc["clientToken"];
    r.clientToken = t.is_string() ? t.get<std::string>() : dump(t);
  }
  const auto fail = [&r](ShadowError e) { return Unexpected(ShadowParseError{e, r.clientToken}); };
  if (!doc.contains("method") || !doc["method"].is_string()) return fail(ShadowError::NoMethod);
  const auto method = doc["method"].get<std::string>();
  if (method == "update") r.method = ShadowRequest::Method::Update;
  else if (method == "get") r.method = ShadowRequest::Method::Get;
  else if (method == "delete") r.method = ShadowRequest::Method::Delete;
  else return fail(ShadowError::BadMethod);
  if (doc.contains("version")) {
    if (!doc["version"].is_number_integer()) return fail(ShadowError::BadVersion);
    r.version = doc["version"].get<std::int64_t>();
  }
  if (r.method == ShadowRequest::Method::Get) return r;

  if (!doc.contains("state") || !doc["state"].is_object()) return fail(ShadowError::NoState);
  const auto& state = doc["state"];
  if (!state.contains("reported") && !state.contains("desired")) return fail(ShadowError::NoReported);
  if (state.contains("reported")) {
    const auto& rep = state["reported"];
    if (isNullMarker(rep)) {
      r.clearReported = true;
    } else if (rep.is_object() && !rep.empty()) {
      if (r.method == ShadowRequest::Method::Update) {
        r.reported = dump(rep);
      } else {
        json removed = json::object();  // delete: every named attribute goes, whatever its value
        for (const auto& [key, _] : rep.items()) removed[key] = nullptr;
        r.reported = dump(removed);
      }
    } else {
      return fail(ShadowError::EmptyReported);
    }
  }
  if (state.contains("desired")) {
    const auto& des = state["desired"];
    if (isNullMarker(des)) r.clearDesired = true;
    else if (des.is_object() && r.method == ShadowRequest::Method::Update) r.desired = dump(des);
    else return fail(ShadowError::EmptyReported);
  }
  return r;
}

std::string shadowUpdateReply(std::string_view clientToken, std::int64_t version, std::int64_t timestampSeconds) {
  return dump({{"method", "reply"},
               {"clientToken", std::string(clientToken)},
               {"payload", {{"status", "success"}, {"version", version}}},
               {"timestamp", timestampSeconds}});
}

std::string shadowErrorReply(std::string_view clientToken, ShadowError error, std::int64_t timestampSeconds) {
  const json content = {{"errorcode", std::to_string(static_cast<int>(error))},
                        {"errormessage", std::string(message(error))}};
  return dump({{"method", "reply"},
               {"clientToken", std::string(clientToken)},
               {"payload", {{"status", "error"}, {"content", content}}},
               {"timestamp", timestampSeconds}});
}

std::string shadowGetReply(std::string_view clientToken, const json& reported, const json& desired,
                           std::int64_t version, std::int64_t attributeTimestampSeconds,
                           std::int64_t timestampSeconds) {
  json state = {{"reported", reported.is_object() ? reported : json::object()}};
  json metadata = {{"reported", metadataOf(reported, attributeTimestampSeconds)}};
  if (desired.is_object() && !desired.empty()) {
    state["desired"] = desired;
    metadata["desired"] = metadataOf(desired, attributeTimestampSeconds);
  }
  return dump({{"method", "reply"},
               {"clientToken", std::string(clientToken)},
               {"payload", {{"status", "success"}, {"state", state}, {"metadata", metadata}}},
               {"version", version},
               {"timestamp", timestampSeconds}});
}

std::string shadowControl(const json& desired, std::int64_t version, std::int64_t attributeTimestampSeconds,
                          std::int64_t timestampSeconds) {
  const json d = desired.is_object() ? desired : json::object();
  return dump({{"method", "control"},
               {"payload", {{"state", {{"desired", d}}}, {"metadata", {{"desired", metadataOf(d, attributeTimestampSeconds)}}}}},
               {"version", version},
               {"timestamp", timestampSeconds}});
}

}  // namespace fc::aliyun
