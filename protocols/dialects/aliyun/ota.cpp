// aliyun OTA and COTA messages; the contract is in ota.hpp. nlohmann::json keeps object keys
// sorted, which is the key order of Alibaba's own messages.
#include "protocols/dialects/aliyun/ota.hpp"

#include <nlohmann/json.hpp>

#include <charconv>

namespace fc::aliyun {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string idOf(const json& j) {
  if (!j.contains("id")) return {};
  if (j["id"].is_string()) return j["id"].get<std::string>();
  if (j["id"].is_number_integer()) return j["id"].dump();
  return {};
}

std::string stringIn(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                                                : std::string{};
}

/// The request's `params` object, or why not.
Expected<json, std::string> paramsOf(std::string_view payload) {
  auto j = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (!j.is_object()) return Unexpected(std::string("not a JSON object"));
  if (!j.contains("params") || !j["params"].is_object()) return Unexpected(std::string("no params object"));
  return j;
}

/// An integer from a JSON string ("33", the SDK's form) or number.
std::optional<int> integerOf(const json& v) {
  if (v.is_number_integer()) {
    const auto n = v.get<std::int64_t>();
    if (n < -1000 || n > 1000) return std::nullopt;
    return static_cast<int>(n);
  }
  if (!v.is_string()) return std::nullopt;
  const auto& s = v.get_ref<const std::string&>();
  int n = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, n);
  if (ec != std::errc{} || ptr != end || s.empty()) return std::nullopt;
  return n;
}

json configFields(const ConfigFile& f) {
  return {{"configId", f.configId}, {"configSize", f.size}, {"getType", f.getType},
          {"sign", f.sign},         {"signMethod", f.signMethod}, {"url", f.url}};
}

}  // namespace

std::string otaUpgradeMessage(const FirmwareOffer& offer) {
  const bool sha256 = !offer.sha256.empty();
  json data = {{"md5", offer.md5},
               {"sign", sha256 ? offer.sha256 : offer.md5},
               {"signMethod", sha256 ? "SHA256" : "Md5"},
               {"size", offer.size},
               {"url", offer.url},
               {"version", offer.version}};
  if (!offer.module.empty()) data["module"] = offer.module;
  return dump({{"code", "1000"}, {"data", data}, {"id", offer.id}, {"message", "success"}});
}

Expected<OtaVersionReport, std::string> parseOtaVersionReport(std::string_view payload) {
  auto j = paramsOf(payload);
  if (!j) return Unexpected(j.error());
  const auto& params = (*j)["params"];
  OtaVersionReport r{idOf(*j), stringIn(params, "version"), stringIn(params, "module")};
  if (r.version.empty() || r.version.size() > 32) return Unexpected(std::string("params.version must be 1-32 characters"));
  return r;
}

Expected<OtaProgress, std::string> parseOtaProgress(std::string_view payload) {
  auto j = paramsOf(payload);
  if (!j) return Unexpected(j.error());
  const auto& params = (*j)["params"];
  if (!params.contains("step")) return Unexpected(std::string("no params.step"));
  const auto step = integerOf(params["step"]);
  if (!step || *step < -4 || *step > 100)
    return Unexpected(std::string("params.step must be -4..100 (a string of digits, as the SDK sends it)"));
  return OtaProgress{idOf(*j), *step, stringIn(params, "desc"), stringIn(params, "module")};
}

std::string_view otaStepMeaning(int step) noexcept {
  switch (step) {
    case -1: return "upgrade failed";
    case -2: return "download failed";
    case -3: return "verify failed";
    case -4: return "flash write failed";
    default: return "";
  }
}

Expected<ConfigGetRequest, std::string> parseConfigGet(std::string_view payload) {
  auto j = paramsOf(payload);
  if (!j) return Unexpected(j.error());
  const auto& params = (*j)["params"];
  ConfigGetRequest r{idOf(*j), stringIn(params, "configScope"), stringIn(params, "getType")};
  if (r.id.empty()) return Unexpected(std::string("no id"));
  return r;
}

std::string configGetReply(std::string_view id, const ConfigFile& file) {
  return dump({{"code", 200},
               {"data", configFields(file)},
               {"id", std::string(id)},
               {"message", "success"},
               {"version", "1.0"}});
}

std::string configGetNothing(std::string_view id) {
  return dump({{"code", 404}, {"data", json::object()}, {"id", std::string(id)}, {"message", "config not found"},
               {"version", "1.0"}});
}

std::string configPush(std::string_view id, const ConfigFile& file) {
  return dump({{"id", std::string(id)}, {"method", "thing.config.push"}, {"params", configFields(file)}, {"version", "1.0"}});
}

Expected<int, std::string> parseConfigPushReply(std::string_view payload) {
  auto j = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (!j.is_object()) {
    // The SDK's refusal is `"id":N,"code":"400","data":{}` — an object without its braces.
    std::string wrapped = "{";
    wrapped.append(payload).append("}");
    j = json::parse(wrapped, nullptr, false);
  }
  if (!j.is_object() || !j.contains("code")) return Unexpected(std::string("no code"));
  const auto code = integerOf(j["code"]);
  if (!code) return Unexpected(std::string("code is not an integer"));
  return *code;
}

}  // namespace fc::aliyun
