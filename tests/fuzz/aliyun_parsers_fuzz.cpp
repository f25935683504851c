// libFuzzer target for the aliyun dialect's hand-written parsers of network input: the MQTT client
// id (parseClientId), the MQTT username (parseUsername), the device shadow request
// (parseShadowRequest), the Alink id / NTP fields and the OTA / remote-config messages (ota.hpp).
// Besides "no crash, no UB" (ASan/UBSan) it
// checks on every input:
//   - a parsed client id re-serialises to a client id that parses to the same value, its id has
//     no '|', and an input without '|' is the id itself;
//   - a parsed username joins back to the input with its one '&';
//   - a parsed shadow request holds JSON objects where it promises them, a "get" carries no state,
//     and every reply built from it (and from a parse error's clientToken) is JSON;
//   - a parsed OTA progress step is in -4..100 and only negative steps have a meaning; a parsed
//     version is 1-32 characters; the replies built from a parsed config request are JSON.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocols/dialects/aliyun/alink.hpp"
#include "protocols/dialects/aliyun/ota.hpp"
#include "protocols/dialects/aliyun/sign.hpp"

namespace {

namespace ali = fc::aliyun;
using nlohmann::json;

[[noreturn]] void fail() { std::abort(); }

bool isJson(const std::string& s) { return !json::parse(s, nullptr, false).is_discarded(); }

void clientId(std::string_view in) {
  const auto id = ali::parseClientId(in);
  if (!id) return;
  if (id->id.empty() || id->id.find('|') != std::string::npos) fail();
  if (in.find('|') == std::string_view::npos) {
    if (id->id != in || !id->params.empty()) fail();
    return;
  }
  if (in.back() != '|') fail();
  std::string again = id->id + "|";
  bool first = true;
  for (const auto& [name, value] : id->params) {
    if (name.empty() || name.find_first_of("=,|") != std::string::npos) fail();
    if (value.find_first_of(",|") != std::string::npos) fail();
    if (!first) again += ',';
    again += name + "=" + value;
    first = false;
  }
  again += '|';
  const auto reparsed = ali::parseClientId(again);
  if (!reparsed || !(*reparsed == *id)) fail();
  for (const auto& [name, value] : id->params)
    if (id->param(name) != value) fail();
}

void username(std::string_view in) {
  const auto u = ali::parseUsername(in);
  if (!u) return;
  if (u->deviceName.empty() || u->productKey.empty()) fail();
  if (u->deviceName.find('&') != std::string::npos) fail();
  if (u->deviceName + "&" + u->productKey != in) fail();
}

void shadow(std::string_view in) {
  const auto r = ali::parseShadowRequest(in);
  if (!r) {
    if (!isJson(ali::shadowErrorReply(r.error().clientToken, r.error().error, 0))) fail();
    return;
  }
  using Method = ali::ShadowRequest::Method;
  if (r->method == Method::Get && (!r->reported.empty() || !r->desired.empty() || r->clearReported || r->clearDesired))
    fail();
  if (!r->reported.empty()) {
    const auto reported = json::parse(r->reported, nullptr, false);
    if (!reported.is_object() || reported.empty() || r->clearReported) fail();
    if (r->method == Method::Delete)
      for (const auto& [_, v] : reported.items())
        if (!v.is_null()) fail();
  }
  if (!r->desired.empty()) {
    if (r->method != Method::Update || r->clearDesired || !json::parse(r->desired, nullptr, false).is_object()) fail();
  }
  if (!isJson(ali::shadowUpdateReply(r->clientToken, r->version.value_or(0), 0))) fail();
}

void alink(std::string_view in) {
  const auto doc = json::parse(in, nullptr, false);
  if (doc.is_discarded()) return;
  if (const auto id = ali::alinkId(doc)) {
    if (!isJson(ali::alinkReply(*id, 200, json::object(), "success"))) fail();
  }
  if (const auto sent = ali::ntpDeviceSendTime(doc)) {
    if (!isJson(ali::ntpResponse(*sent, 0, 0))) fail();
  }
}

void ota(std::string_view in) {
  if (const auto p = ali::parseOtaProgress(in)) {
    if (p->step < -4 || p->step > 100) fail();
    if (p->failed() == ali::otaStepMeaning(p->step).empty()) fail();
  }
  if (const auto v = ali::parseOtaVersionReport(in)) {
    if (v->version.empty() || v->version.size() > 32) fail();
  }
  if (const auto c = ali::parseConfigGet(in)) {
    if (!isJson(ali::configGetReply(c->id, ali::ConfigFile{c->id, 1, "00", "Sha256", "http://x/" + c->configScope, c->getType})))
      fail();
    if (!isJson(ali::configGetNothing(c->id))) fail();
  }
  (void)ali::parseConfigPushReply(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  clientId(in);
  username(in);
  shadow(in);
  alink(in);
  ota(in);
  return 0;
}
