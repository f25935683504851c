// The IoCM northbound routes and notifications; the list is at the top of oceanconnect_iocm.hpp.
// Field names and error codes follow Huawei's OceanConnect (IoCM) application API reference.
#include "server/dialects/oceanconnect/oceanconnect_iocm.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <limits>

#include "protocols/common/base64.hpp"
#include "protocols/dialects/oceanconnect/codec_profile.hpp"
#include "server/core/random.hpp"
#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"
#include "server/http/webhooks.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
using http::ApiRequest;
using http::ApiResponse;

constexpr auto kAccessTokenLifetime = std::chrono::seconds(3600);
constexpr auto kRefreshTokenLifetime = std::chrono::hours(24 * 30);
const std::string kAccessKind = "iocm.access";
const std::string kRefreshKind = "iocm.refresh";
constexpr std::int64_t kDefaultVerifyTimeout = 180;  // seconds, Huawei's default for deviceCredentials
constexpr std::size_t kMaxPageSize = 1000;
constexpr std::int64_t kMaxExpireSeconds = 2'592'000;  // 30 days
const std::string kUplinkPath = "/19/0/0";

// Huawei's error codes (IoCM API reference, "Error Codes").
const char* const kInputInvalid = "100022";         // The input is invalid.
const char* const kAppOrSecretWrong = "100208";     // AppId or secret is not right.
const char* const kCallbackIllegal = "100222";      // The request callbackurl is illegal.
const char* const kDeviceNotExist = "100403";       // The device is not existed.
const char* const kDeviceBound = "100416";          // The device has already been bounded.
const char* const kServiceNotExist = "100431";      // The serviceType is not exist.
const char* const kCommandNotExist = "100434";      // The device command is not existed.
const char* const kCommandNotCancelable = "100435"; // The device command already canceled, expired or executed.
const char* const kSubscriptionNotExist = "100225"; // The resource is not found (subscription).
const char* const kTokenInvalid = "1010005";        // App_key or access_token is invalid.
const char* const kInternal = "50252";              // Internal server error.

ApiResponse iocmError(int status, const char* code, const std::string& desc) {
  return http::jsonResponse(status, json{{"error_code", code}, {"error_desc", desc}}.dump(
                                        -1, ' ', false, json::error_handler_t::replace));
}

ApiResponse ok(int status, const json& body) {
  return http::jsonResponse(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string stringKey(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                                               : std::string{};
}

/// The product's codec profile, if it has one that parses (a bad one is logged and ignored).
std::optional<oceanconnect::CodecProfile> productProfile(const core::Product& product) {
  if (!product.keys.contains("codecProfile") || product.keys["codecProfile"].is_null()) return std::nullopt;
  const auto& raw = product.keys["codecProfile"];
  auto parsed = raw.is_string() ? oceanconnect::CodecProfile::parse(std::string_view(raw.get_ref<const std::string&>()))
                                : oceanconnect::CodecProfile::parse(raw);
  if (!parsed) {
    spdlog::warn("iocm: product {} has an invalid keys.codecProfile: {}", product.id, parsed.error().message());
    return std::nullopt;
  }
  return std::move(*parsed);
}

json timeOrNull(const std::optional<core::TimePoint>& t) { return t ? json(iocmTime(*t)) : json(nullptr); }

json parsedOr(const std::string& text) {
  if (text.empty()) return nullptr;
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(text) : j;
}

/// A JSON body as an object, or the IoCM error that says why not.
Expected<json, ApiResponse> objectBody(const ApiRequest& r) {
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Unexpected(iocmError(400, kInputInvalid, "the body must be a JSON object"));
  return j;
}

}  // namespace

// --- pure mapping ---

std::string iocmStatus(core::CommandStatus s) { return std::string(core::toString(s)); }

json iocmCommandBody(const core::Command& c) {
  return oceanconnect::iocmCommandBody(c.spec.name, c.spec.payload, c.spec.binary);
}

json iocmCommandJson(const core::Command& c, const std::string& appId) {
  return {{"commandId", c.id},
          {"appId", appId},
          {"deviceId", c.spec.deviceId},
          {"command", iocmCommandBody(c)},
          {"callbackUrl", nullptr},
          {"expireTime", c.spec.expireSeconds},
          {"status", iocmStatus(c.status)},
          {"result", parsedOr(c.result)},
          {"creationTime", iocmTime(c.createdAt)},
          {"executeTime", timeOrNull(c.completedAt)},
          {"platformIssuedTime", timeOrNull(c.sentAt)},
          {"deliveredTime", timeOrNull(c.deliveredAt)},
          {"issuedTimes", c.sends},
          {"maxRetransmit", c.spec.maxRetransmit}};
}

json iocmDeviceJson(const core::Device& d) {
  json info = {{"nodeId", stringKey(d.identifiers, "nodeId")},
               {"name", d.name},
               {"status", d.online ? "ONLINE" : "OFFLINE"},
               {"statusDetail", "NONE"},
               {"protocolType", "CoAP"}};
  for (const char* key : {"manufacturerId", "manufacturerName", "deviceType", "model"})
    info[key] = d.identifiers.contains(key) ? d.identifiers[key] : json(nullptr);
  return {{"deviceId", d.id},
          {"gatewayId", d.id},
          {"nodeType", "GATEWAY"},
          {"createTime", iocmTime(d.createdAt)},
          {"lastModifiedTime", iocmTime(d.lastSeen.value_or(d.createdAt))},
          {"deviceInfo", info}};
}

std::vector<json> iocmDataChanged(const core::Device& device, const core::Product& product,
                                  const std::vector<std::uint8_t>& payload, core::TimePoint time) {
  const auto profile = productProfile(product);
  auto out = oceanconnect::iocmDataChanged(device.id, profile ? &*profile : nullptr, payload, time);
  if (!out) {
    spdlog::info("iocm: device {}: uplink not decodable with the codec profile: {}", device.id, out.error());
    return {};
  }
  return std::move(*out);
}

// --- the service ---

IocmService::IocmService(core::Platform& platform, Post post)
    : platform_(platform), post_(std::move(post)), tokens_(platform.clock()) {
  listener_ = platform_.subscribe([this](const core::Event& e) { onEvent(e); });
}

IocmService::~IocmService() { platform_.unsubscribe(listener_); }

void IocmService::reset() {
  tokens_.clear();
  std::lock_guard lock(mutex_);
  callbacks_.clear();
  subscriptions_.clear();
  activations_.clear();
}

void IocmService::awaitActivation(const std::string& deviceId, core::TimePoint deadline) {
  std::lock_guard lock(mutex_);
  activations_[deviceId] = deadline;
}

void IocmService::tick() {
  const auto now = platform_.clock().now();
  std::vector<std::string> due;
  {
    std::lock_guard lock(mutex_);
    for (auto it = activations_.begin(); it != activations_.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      due.push_back(it->first);
      it = activations_.erase(it);
    }
  }
  for (const auto& id : due) {
    auto device = platform_.device(id);
    if (!device || device->online || device->lastSeen) continue;  // gone already, or it did come online
    spdlog::info("iocm: device {} (nodeId {}) did not come online within its deviceCredentials timeout: deleted", id,
                 stringKey(device->identifiers, "nodeId"));
    (void)platform_.deleteDevice(id);
  }
}

std::optional<IocmService::App> IocmService::findApp(const std::string& appId) const {
  if (appId.empty()) return std::nullopt;
  for (const auto& p : platform_.products()) {
    if (p.dialect != "oceanconnect") continue;
    const auto id = stringKey(p.keys, "appId").empty() ? p.id : stringKey(p.keys, "appId");
    const auto secret = stringKey(p.keys, "appSecret");
    if (id == appId && !secret.empty()) return App{id, secret, p.id};
  }
  return std::nullopt;
}

IocmService::Tokens IocmService::issueTokens(const std::string& appId) {
  // An app may hold several live tokens (several servers log in as one app); expired ones are
  // dropped as new ones are issued, so a test suite that logs in before every test stays small.
  using Earlier = core::TokenStore::Earlier;
  return Tokens{tokens_.issue(kAccessKind, appId, kAccessTokenLifetime, {}, Earlier::Keep).token,
                tokens_.issue(kRefreshKind, appId, kRefreshTokenLifetime, {}, Earlier::Keep).token};
}

std::optional<std::string> IocmService::tokenApp(const std::string& accessToken) const {
  auto t = tokens_.find(kAccessKind, accessToken);
  if (!t) return std::nullopt;
  return t->owner;
}

std::optional<IocmService::Tokens> IocmService::refresh(const std::string& appId, const std::string& refreshToken) {
  if (!tokens_.take(kRefreshKind, refreshToken, appId)) return std::nullopt;
  return issueTokens(appId);
}

Expected<core::Command, core::Failure> IocmService::createCommand(core::CommandSpec spec,
                                                                  const std::string& callbackUrl) {
  if (callbackUrl.empty()) return platform_.sendCommand(std::move(spec));
  // Remembered before the command's first status change is published, so that one is posted too.
  return platform_.sendCommand(std::move(spec), [this, &callbackUrl](const core::Command& c) {
    std::lock_guard lock(mutex_);
    callbacks_[c.id] = callbackUrl;
  });
}

std::string IocmService::callbackUrl(const std::string& commandId) const {
  std::lock_guard lock(mutex_);
  auto it = callbacks_.find(commandId);
  return it == callbacks_.end() ? std::string{} : it->second;
}

IocmService::Subscription IocmService::subscribe(const App& app, const std::string& notifyType,
                                                 const std::string& callbackUrl) {
  std::lock_guard lock(mutex_);
  std::erase_if(subscriptions_,
                [&](const Subscription& s) { return s.appId == app.appId && s.notifyType == notifyType; });
  Subscription s{"sub-" + std::to_string(nextSubscription_++) + "-" + core::randomHex(4), app.appId, app.productId,
                 notifyType, callbackUrl};
  subscriptions_.push_back(s);
  return s;
}

std::vector<IocmService::Subscription> IocmService::subscriptions(const std::string& appId) const {
  std::lock_guard lock(mutex_);
  std::vector<Subscription> out;
  for (const auto& s : subscriptions_)
    if (s.appId == appId) out.push_back(s);
  return out;
}

bool IocmService::unsubscribe(const std::string& appId, const std::string& subscriptionId) {
  std::lock_guard lock(mutex_);
  return std::erase_if(subscriptions_,
                       [&](const Subscription& s) { return s.appId == appId && s.id == subscriptionId; }) > 0;
}

bool IocmService::subscribed(const std::string& productId, const std::string& notifyType) const {
  std::lock_guard lock(mutex_);
  return std::any_of(subscriptions_.begin(), subscriptions_.end(), [&](const Subscription& s) {
    return s.productId == productId && s.notifyType == notifyType;
  });
}

void IocmService::notify(const std::string& productId, const std::string& notifyType,
                         const std::vector<json>& bodies) {
  std::vector<std::string> urls;
  {
    std::lock_guard lock(mutex_);
    for (const auto& s : subscriptions_)
      if (s.productId == productId && s.notifyType == notifyType) urls.push_back(s.callbackUrl);
  }
  for (const auto& url : urls)
    for (const auto& body : bodies) post_(url, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void IocmService::onEvent(const core::Event& e) {
  if (const auto* changed = std::get_if<core::CommandChanged>(&e)) return onCommandChanged(changed->command);
  if (const auto* uplink = std::get_if<core::UplinkReceived>(&e)) {
    const auto& m = uplink->message;
    if (m.topic != kUplinkPath) return;
    auto device = platform_.device(m.deviceId);
    if (!device || !subscribed(device->productId, "deviceDataChanged")) return;
    auto product = platform_.product(device->productId);
    if (!product) return;
    notify(product->id, "deviceDataChanged", iocmDataChanged(*device, *product, m.payload, m.time));
    return;
  }
  const core::Device* device = nullptr;
  const char* notifyType = "deviceInfoChanged";
  if (const auto* created = std::get_if<core::DeviceCreated>(&e)) {
    device = &created->device;
    notifyType = "deviceAdded";
  } else if (const auto* deleted = std::get_if<core::DeviceDeleted>(&e)) {
    device = &deleted->device;
    notifyType = "deviceDeleted";
  } else if (const auto* presence = std::get_if<core::PresenceChanged>(&e)) {
    device = &presence->device;
  } else {
    return;
  }
  const auto& d = *device;
  if (std::holds_alternative<core::DeviceDeleted>(e) || (std::holds_alternative<core::PresenceChanged>(e) && d.online)) {
    std::lock_guard lock(mutex_);
    activations_.erase(d.id);
  }
  const auto nodeId = stringKey(d.identifiers, "nodeId");
  const json nodeIdJson = nodeId.empty() ? json(nullptr) : json(nodeId);
  if (std::holds_alternative<core::DeviceCreated>(e))
    notify(d.productId, notifyType,
           {json{{"notifyType", notifyType},
                 {"deviceId", d.id},
                 {"gatewayId", d.id},
                 {"nodeType", "GATEWAY"},
                 {"deviceInfo", {{"nodeId", nodeIdJson}, {"name", d.name}, {"status", d.online ? "ONLINE" : "OFFLINE"}}}}});
  else if (std::holds_alternative<core::DeviceDeleted>(e))
    notify(d.productId, notifyType, {json{{"notifyType", notifyType}, {"deviceId", d.id}, {"gatewayId", d.id}}});
  else
    notify(d.productId, notifyType,
           {json{{"notifyType", notifyType},
                 {"deviceId", d.id},
                 {"gatewayId", d.id},
                 {"deviceInfo", {{"nodeId", nodeIdJson}, {"name", d.name}, {"status", d.online ? "ONLINE" : "OFFLINE"}}}}});
}

void IocmService::onCommandChanged(const core::Command& c) {
  std::string url;
  {
    std::lock_guard lock(mutex_);
    if (auto it = callbacks_.find(c.id); it != callbacks_.end()) url = it->second;
  }
  if (!url.empty()) post_(url, iocmCommandCallback(core::toJson(c)).dump(-1, ' ', false, json::error_handler_t::replace));
  if (c.status != core::CommandStatus::Successful && c.status != core::CommandStatus::Failed) return;
  // A commandRsp is the device's own answer, which the dialect reports with a "result" value.
  const auto result = parsedOr(c.result);
  if (!result.is_object() || !result.contains("result")) return;
  auto command = platform_.command(c.id);
  if (!command) return;
  auto device = platform_.device(c.spec.deviceId);
  if (!device || !subscribed(device->productId, "commandRsp")) return;
  const auto body = iocmCommandBody(*command);
  const auto serviceId = body["serviceId"].is_string() ? body["serviceId"].get<std::string>() : std::string{};
  notify(device->productId, "commandRsp",
         {json{{"notifyType", "commandRsp"},
               {"header",
                {{"requestId", command->id},
                 {"from", "/devices/" + device->id + "/services/" + serviceId},
                 {"to", "/applications/" + device->productId},
                 {"deviceId", device->id},
                 {"serviceType", serviceId},
                 {"method", body["method"]}}},
               {"body", result}}});
}

// --- routes ---

namespace {

using AppHandler = std::function<ApiResponse(IocmService&, const IocmService::App&, const ApiRequest&)>;
using AsyncAppHandler =
    std::function<void(IocmService&, const IocmService::App&, const ApiRequest&, const http::Respond&)>;

/// The app the request authenticates as (headers app_key and Authorization: Bearer), or the 401.
Expected<IocmService::App, ApiResponse> authenticate(IocmService& iocm, const ApiRequest& r) {
  const auto header = [&r](const char* name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string{} : it->second;
  };
  const auto appKey = header("app_key");
  auto auth = header("authorization");
  std::string token;
  if (auth.size() > 7 && (auth.compare(0, 7, "Bearer ") == 0 || auth.compare(0, 7, "bearer ") == 0))
    token = auth.substr(7);
  const auto refuse = [&](const std::string& why) {
    spdlog::info("iocm: {} {} refused: {}", r.method, r.path, why);
    return Unexpected(iocmError(401, kTokenInvalid, "App_key or access_token is invalid."));
  };
  if (appKey.empty() || token.empty()) return refuse("no app_key or no 'Authorization: Bearer' header");
  const auto owner = iocm.tokenApp(token);
  if (!owner) return refuse("unknown or expired access token");
  if (*owner != appKey) return refuse("the access token belongs to app '" + *owner + "', not '" + appKey + "'");
  auto app = iocm.findApp(appKey);
  if (!app) return refuse("app '" + appKey + "' no longer exists");
  return *app;
}

http::Handler withApp(IocmService& iocm, AppHandler handler) {
  return [&iocm, handler = std::move(handler)](const ApiRequest& r) -> ApiResponse {
    auto app = authenticate(iocm, r);
    if (!app) return app.error();
    return handler(iocm, *app, r);
  };
}

http::AsyncHandler withAppAsync(IocmService& iocm, AsyncAppHandler handler) {
  return [&iocm, handler = std::move(handler)](ApiRequest r, http::Respond respond) {
    auto app = authenticate(iocm, r);
    if (!app) return respond(app.error());
    handler(iocm, *app, r, respond);
  };
}

json tokensJson(const IocmService::Tokens& t) {
  return {{"scope", "default"},
          {"tokenType", "Bearer"},
          {"expiresIn", std::chrono::duration_cast<std::chrono::seconds>(kAccessTokenLifetime).count()},
          {"accessToken", t.accessToken},
          {"refreshToken", t.refreshToken}};
}

// POST /iocm/app/sec/v1.1.0/login — form appId, secret (a JSON object is accepted too)
ApiResponse login(IocmService& iocm, const ApiRequest& r) {
  std::string appId, secret;
  if (auto j = json::parse(r.body, nullptr, false); j.is_object()) {
    appId = stringKey(j, "appId");
    secret = stringKey(j, "secret");
  } else {
    ApiRequest form;
    form.query = r.body;  // application/x-www-form-urlencoded is a query string
    appId = form.queryParam("appId").value_or("");
    secret = form.queryParam("secret").value_or("");
  }
  if (appId.empty() || secret.empty()) return iocmError(400, kInputInvalid, "appId and secret are required");
  auto app = iocm.findApp(appId);
  if (!app || app->secret != secret) {
    spdlog::info("iocm: login of app '{}' refused: {}", appId, app ? "wrong secret" : "no such app");
    return iocmError(400, kAppOrSecretWrong, "AppId or secret is not right.");
  }
  return ok(200, tokensJson(iocm.issueTokens(app->appId)));
}

// POST /iocm/app/sec/v1.1.0/refreshToken — {appId, secret, refreshToken}
ApiResponse refreshToken(IocmService& iocm, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  const auto appId = stringKey(*body, "appId"), secret = stringKey(*body, "secret"),
             token = stringKey(*body, "refreshToken");
  if (appId.empty() || secret.empty() || token.empty())
    return iocmError(400, kInputInvalid, "appId, secret and refreshToken are required");
  auto app = iocm.findApp(appId);
  if (!app || app->secret != secret) return iocmError(400, kAppOrSecretWrong, "AppId or secret is not right.");
  auto tokens = iocm.refresh(appId, token);
  if (!tokens) return iocmError(401, kTokenInvalid, "refreshToken is invalid or expired.");
  return ok(200, tokensJson(*tokens));
}

// POST /iocm/app/reg/v1.1.0/deviceCredentials — {nodeId, verifyCode?, timeout?, psk?, deviceInfo?{name, …}}
void deviceCredentials(IocmService& iocm, const IocmService::App& app, const ApiRequest& r,
                       const http::Respond& respond) {
  auto body = objectBody(r);
  if (!body) return respond(body.error());
  const auto nodeId = stringKey(*body, "nodeId");
  if (nodeId.empty()) return respond(iocmError(400, kInputInvalid, "nodeId is required (a string)"));
  for (const char* key : {"verifyCode", "psk", "endUserId"})
    if (body->contains(key) && !(*body)[key].is_string() && !(*body)[key].is_null())
      return respond(iocmError(400, kInputInvalid, std::string(key) + " must be a string"));
  std::int64_t timeout = kDefaultVerifyTimeout;
  if (body->contains("timeout") && !(*body)["timeout"].is_null()) {
    if (!(*body)["timeout"].is_number_integer() || (*body)["timeout"].get<std::int64_t>() < 0)
      return respond(iocmError(400, kInputInvalid, "timeout must be an integer of 0 or more seconds"));
    timeout = (*body)["timeout"].get<std::int64_t>();
  }
  json info = body->value("deviceInfo", json::object());
  if (!info.is_object()) return respond(iocmError(400, kInputInvalid, "deviceInfo must be an object"));
  core::Device d;
  d.productId = app.productId;
  d.name = stringKey(info, "name");
  d.identifiers["nodeId"] = nodeId;
  if (const auto verifyCode = stringKey(*body, "verifyCode"); !verifyCode.empty()) d.identifiers["verifyCode"] = verifyCode;
  if (const auto psk = stringKey(*body, "psk"); !psk.empty()) d.secrets["psk"] = psk;
  for (const char* key : {"manufacturerId", "manufacturerName", "deviceType", "model", "protocolType"})
    if (const auto v = stringKey(info, key); !v.empty()) d.identifiers[key] = v;
  auto& platform = iocm.platform();
  const auto refused = [&](const core::Failure& f) {
    spdlog::info("iocm: deviceCredentials for nodeId '{}' refused: {}", nodeId, f.message);
    return respond(f.code == core::Errc::Conflict ? iocmError(400, kDeviceBound, "The device has already been bounded. " + f.message)
                                   : iocmError(400, kInputInvalid, f.message));
  };
  if (auto bad = prepareOceanConnectDevice(platform, d)) return refused(*bad);
  auto created = platform.createDevice(std::move(d));
  if (!created) return refused(created.error());
  if (timeout > 0) iocm.awaitActivation(created->id, platform.clock().now() + std::chrono::seconds(timeout));
  json out = {{"deviceId", created->id},
              {"verifyCode", stringKey(created->identifiers, "verifyCode")},
              {"timeout", timeout},
              {"psk", stringKey(created->secrets, "psk")}};
  // Answered once committed, so the device exists after a restart as the app was told.
  platform.whenCommitted([respond, out = std::move(out)] { respond(ok(200, out)); });
}

/// The device if it exists and belongs to the app.
std::optional<core::Device> appDevice(IocmService& iocm, const IocmService::App& app, const std::string& id) {
  auto d = iocm.platform().device(id);
  if (!d || d->productId != app.productId) return std::nullopt;
  return d;
}

// POST /iocm/app/cmd/v1.4.0/deviceCommands — {deviceId, command{serviceId, method, paras}, callbackUrl?,
// expireTime?, maxRetransmit?}
void createCommand(IocmService& iocm, const IocmService::App& app, const ApiRequest& r,
                   const http::Respond& respond) {
  auto body = objectBody(r);
  if (!body) return respond(body.error());
  const auto deviceId = stringKey(*body, "deviceId");
  if (deviceId.empty()) return respond(iocmError(400, kInputInvalid, "deviceId is required (a string)"));
  auto device = appDevice(iocm, app, deviceId);
  if (!device) return respond(iocmError(400, kDeviceNotExist, "The device is not existed."));
  const auto command = body->value("command", json());
  if (!command.is_object()) return respond(iocmError(400, kInputInvalid, "command must be an object"));
  const auto serviceId = stringKey(command, "serviceId"), method = stringKey(command, "method");
  if (serviceId.empty() || method.empty())
    return respond(iocmError(400, kInputInvalid, "command.serviceId and command.method are required (strings)"));
  const json paras = command.value("paras", json::object());
  if (!paras.is_object()) return respond(iocmError(400, kInputInvalid, "command.paras must be an object"));

  core::CommandSpec spec;
  spec.deviceId = deviceId;
  spec.name = method;
  if (body->contains("expireTime") && !(*body)["expireTime"].is_null()) {
    const auto& e = (*body)["expireTime"];
    if (!e.is_number_integer() || e.get<std::int64_t>() < 0 || e.get<std::int64_t>() > kMaxExpireSeconds)
      return respond(iocmError(400, kInputInvalid,
                               "expireTime must be an integer 0.." + std::to_string(kMaxExpireSeconds) + " seconds"));
    spec.expireSeconds = e.get<std::int64_t>();
  }
  if (body->contains("maxRetransmit") && !(*body)["maxRetransmit"].is_null()) {
    const auto& m = (*body)["maxRetransmit"];
    if (!m.is_number_integer() || m.get<std::int64_t>() < 0 || m.get<std::int64_t>() > 3)
      return respond(iocmError(400, kInputInvalid, "maxRetransmit must be an integer 0..3"));
    spec.maxRetransmit = static_cast<std::uint32_t>(m.get<std::int64_t>());
  }
  std::string callbackUrl;
  if (body->contains("callbackUrl") && !(*body)["callbackUrl"].is_null()) {
    callbackUrl = stringKey(*body, "callbackUrl");
    if (auto url = http::parseHttpUrl(callbackUrl); !url)
      return respond(iocmError(400, kCallbackIllegal, "The request callbackurl is illegal: " +
                                                          (callbackUrl.empty() ? std::string("not a string") : url.error())));
  }

  auto product = iocm.platform().product(device->productId);
  const auto profile = product ? productProfile(*product) : std::nullopt;
  if (serviceId == "RawData" && method == "RawData" && !(profile && profile->findCommand(serviceId, method))) {
    // Without a codec profile the bytes go as they are (OceanConnect's transparent transmission).
    auto raw = base64Decode(stringKey(paras, "rawData"));
    if (!paras.contains("rawData") || !paras["rawData"].is_string() || !raw)
      return respond(iocmError(400, kInputInvalid, "a RawData command needs paras.rawData (base64)"));
    spec.payload.assign(raw->begin(), raw->end());
    spec.binary = true;
  } else {
    if (!profile)
      return respond(iocmError(400, kServiceNotExist,
                               "The serviceType is not exist: the product has no codec profile; send "
                               "serviceId/method RawData with paras.rawData (base64)"));
    if (!profile->findCommand(serviceId, method))
      return respond(iocmError(400, kServiceNotExist,
                               "The serviceType is not exist: the codec profile has no command " + serviceId + "." + method));
    if (auto encoded = profile->encodeCommand(serviceId, method, paras, 0); !encoded)
      return respond(iocmError(400, kInputInvalid, "command.paras: " + encoded.error().message()));
    spec.payload = json{{"serviceId", serviceId}, {"method", method}, {"paras", paras}}.dump();
  }
  auto created = iocm.createCommand(std::move(spec), callbackUrl);
  if (!created) {
    const auto& f = created.error();
    return respond(f.code == core::Errc::NotFound ? iocmError(400, kDeviceNotExist, "The device is not existed.")
                   : iocmError(f.code == core::Errc::Limit ? 429 : 400, kInputInvalid, f.message));
  }
  auto out = iocmCommandJson(*created, app.appId);
  out["callbackUrl"] = callbackUrl.empty() ? json(nullptr) : json(callbackUrl);
  iocm.platform().whenCommitted([respond, out = std::move(out)] { respond(ok(201, out)); });
}

/// The command's IoCM callbackUrl filled in (iocmCommandJson leaves it null).
json withCallback(const IocmService& iocm, json command) {
  const auto url = iocm.callbackUrl(command["commandId"].get<std::string>());
  if (!url.empty()) command["callbackUrl"] = url;
  return command;
}

// GET /iocm/app/cmd/v1.4.0/deviceCommands?pageNo&pageSize&deviceId&startTime&endTime
ApiResponse listCommands(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto page = parseIocmPage(r.queryParam("pageNo"), r.queryParam("pageSize"), kMaxPageSize, kMaxPageSize);
  if (!page) return iocmError(400, kInputInvalid, page.error());
  std::optional<core::TimePoint> start, end;
  for (auto [name, target] : {std::pair{"startTime", &start}, std::pair{"endTime", &end}}) {
    auto v = r.queryParam(name);
    if (!v || v->empty()) continue;
    *target = parseIocmTime(*v);
    if (!*target) return iocmError(400, kInputInvalid, std::string(name) + " must be yyyyMMdd'T'HHmmss'Z', not '" + *v + "'");
  }
  std::vector<core::Device> devices;
  if (auto id = r.queryParam("deviceId"); id && !id->empty()) {
    auto d = appDevice(iocm, app, *id);
    if (!d) return iocmError(400, kDeviceNotExist, "The device is not existed.");
    devices.push_back(std::move(*d));
  } else {
    devices = iocm.platform().devices(app.productId);
  }
  std::vector<core::Command> all;
  for (const auto& d : devices)
    if (auto list = iocm.platform().commands(d.id))
      for (auto& c : *list)
        if ((!start || c.createdAt >= *start) && (!end || c.createdAt <= *end)) all.push_back(std::move(c));
  std::sort(all.begin(), all.end(), [](const core::Command& a, const core::Command& b) { return a.seq < b.seq; });
  const auto [first, last] = pageRange(*page, all.size());
  json data = json::array();
  for (auto i = first; i < last; ++i) data.push_back(withCallback(iocm, iocmCommandJson(all[i], app.appId)));
  return ok(200, {{"pagination", {{"pageNo", page->pageNo}, {"pageSize", page->pageSize}, {"totalSize", all.size()}}},
                  {"data", data}});
}

// PUT /iocm/app/cmd/v1.4.0/deviceCommands/{id} — {"status":"CANCELED"}
ApiResponse updateCommand(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  if (stringKey(*body, "status") != "CANCELED")
    return iocmError(400, kInputInvalid, "status must be \"CANCELED\" (the only change a command allows)");
  const auto& id = r.params.at("id");
  auto c = iocm.platform().command(id);
  if (!c || !appDevice(iocm, app, c->spec.deviceId)) return iocmError(404, kCommandNotExist, "The device command is not existed.");
  auto canceled = iocm.platform().cancelCommand(id);
  if (!canceled) {
    if (canceled.error().code == core::Errc::NotFound) return iocmError(404, kCommandNotExist, "The device command is not existed.");
    return iocmError(400, kCommandNotCancelable,
                     "The device command already canceled, expired or executed, cannot cancel (status " +
                         iocmStatus(iocm.platform().command(id).value_or(*c).status) + ").");
  }
  return ok(200, withCallback(iocm, iocmCommandJson(*canceled, app.appId)));
}

// GET /iocm/app/dm/v1.4.0/devices?pageNo&pageSize — the app's devices, oldest first
ApiResponse listDevices(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto page = parseIocmPage(r.queryParam("pageNo"), r.queryParam("pageSize"), 25, kMaxPageSize);
  if (!page) return iocmError(400, kInputInvalid, page.error());
  auto all = iocm.platform().devices(app.productId);
  std::stable_sort(all.begin(), all.end(),
                   [](const core::Device& a, const core::Device& b) { return a.createdAt < b.createdAt; });
  const auto [first, last] = pageRange(*page, all.size());
  json devices = json::array();
  for (auto i = first; i < last; ++i) devices.push_back(iocmDeviceJson(all[i]));
  return ok(200, {{"totalCount", all.size()}, {"pageNo", page->pageNo}, {"pageSize", page->pageSize},
                  {"devices", devices}});
}

// GET /iocm/app/dm/v1.4.0/devices/{id}
ApiResponse getDevice(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto d = appDevice(iocm, app, r.params.at("id"));
  if (!d) return iocmError(404, kDeviceNotExist, "The device is not existed.");
  return ok(200, iocmDeviceJson(*d));
}

// DELETE /iocm/app/dm/v1.4.0/devices/{id} — with its commands and history, as /api/v1 does
ApiResponse deleteDevice(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  const auto& id = r.params.at("id");
  if (!appDevice(iocm, app, id) || !iocm.platform().deleteDevice(id))
    return iocmError(404, kDeviceNotExist, "The device is not existed.");
  return ApiResponse{204, "application/json", ""};
}

// GET /iocm/app/data/v1.1.0/deviceDataHistory?deviceId&gatewayId&serviceId&pageNo&pageSize&startTime&endTime
ApiResponse dataHistory(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto page = parseIocmPage(r.queryParam("pageNo"), r.queryParam("pageSize"), 20, kMaxPageSize);
  if (!page) return iocmError(400, kInputInvalid, page.error());
  const auto deviceId = r.queryParam("deviceId").value_or("");
  if (deviceId.empty()) return iocmError(400, kInputInvalid, "deviceId is required");
  auto device = appDevice(iocm, app, deviceId);
  auto product = device ? iocm.platform().product(device->productId) : std::nullopt;
  if (!device || !product) return iocmError(400, kDeviceNotExist, "The device is not existed.");
  std::optional<core::TimePoint> start, end;
  for (auto [name, target] : {std::pair{"startTime", &start}, std::pair{"endTime", &end}}) {
    auto v = r.queryParam(name);
    if (!v || v->empty()) continue;
    *target = parseIocmTime(*v);
    if (!*target) return iocmError(400, kInputInvalid, std::string(name) + " must be yyyyMMdd'T'HHmmss'Z', not '" + *v + "'");
  }
  const auto serviceId = r.queryParam("serviceId").value_or("");
  std::vector<json> all;
  auto messages = iocm.platform().messages(deviceId, std::numeric_limits<std::size_t>::max());
  for (auto m = messages.rbegin(); m != messages.rend(); ++m) {  // newest first
    if (m->topic != kUplinkPath || (start && m->time < *start) || (end && m->time > *end)) continue;
    for (auto& n : iocmDataChanged(*device, *product, m->payload, m->time)) {
      auto& service = n["service"];
      if (!serviceId.empty() && service["serviceId"] != serviceId) continue;
      all.push_back({{"deviceId", deviceId},
                     {"gatewayId", deviceId},
                     {"appId", app.appId},
                     {"serviceId", service["serviceId"]},
                     {"data", service["data"]},
                     {"timestamp", service["eventTime"]}});
    }
  }
  const auto [first, last] = pageRange(*page, all.size());
  json list = json::array();
  for (auto i = first; i < last; ++i) list.push_back(all[i]);
  return ok(200, {{"totalCount", all.size()}, {"pageNo", page->pageNo}, {"pageSize", page->pageSize},
                  {"deviceDataHistoryDTOs", list}});
}

json subscriptionJson(const IocmService::Subscription& s) {
  return {{"subscriptionId", s.id}, {"notifyType", s.notifyType}, {"callbackUrl", s.callbackUrl}};
}

// POST /iocm/app/sub/v1.2.0/subscriptions — {notifyType, callbackUrl}
ApiResponse subscribe(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto body = objectBody(r);
  if (!body) return body.error();
  const auto notifyType = stringKey(*body, "notifyType");
  if (std::find(kIocmNotifyTypes.begin(), kIocmNotifyTypes.end(), notifyType) == kIocmNotifyTypes.end()) {
    std::string known;
    for (const auto& t : kIocmNotifyTypes) known += (known.empty() ? "" : ", ") + t;
    return iocmError(400, kInputInvalid, "notifyType must be one of " + known);
  }
  const auto callbackUrl = stringKey(*body, "callbackUrl");
  if (auto url = http::parseHttpUrl(callbackUrl); !url)
    return iocmError(400, kCallbackIllegal, "The request callbackurl is illegal: " +
                                                (callbackUrl.empty() ? std::string("missing") : url.error()));
  return ok(201, subscriptionJson(iocm.subscribe(app, notifyType, callbackUrl)));
}

// GET /iocm/app/sub/v1.2.0/subscriptions?notifyType&pageNo&pageSize
ApiResponse listSubscriptions(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  auto page = parseIocmPage(r.queryParam("pageNo"), r.queryParam("pageSize"), 10, kMaxPageSize);
  if (!page) return iocmError(400, kInputInvalid, page.error());
  const auto type = r.queryParam("notifyType").value_or("");
  std::vector<IocmService::Subscription> all;
  for (auto& s : iocm.subscriptions(app.appId))
    if (type.empty() || s.notifyType == type) all.push_back(std::move(s));
  const auto [first, last] = pageRange(*page, all.size());
  json list = json::array();
  for (auto i = first; i < last; ++i) list.push_back(subscriptionJson(all[i]));
  return ok(200, {{"totalCount", all.size()}, {"pageNo", page->pageNo}, {"pageSize", page->pageSize},
                  {"subscriptions", list}});
}

ApiResponse getSubscription(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  for (const auto& s : iocm.subscriptions(app.appId))
    if (s.id == r.params.at("id")) return ok(200, subscriptionJson(s));
  return iocmError(404, kSubscriptionNotExist, "The subscription is not existed.");
}

ApiResponse deleteSubscription(IocmService& iocm, const IocmService::App& app, const ApiRequest& r) {
  if (!iocm.unsubscribe(app.appId, r.params.at("id")))
    return iocmError(404, kSubscriptionNotExist, "The subscription is not existed.");
  return ApiResponse{204, "application/json", ""};
}

/// Whatever a handler throws becomes IoCM's internal error rather than the router's generic one.
http::Handler guarded(http::Handler h) {
  return [h = std::move(h)](const ApiRequest& r) -> ApiResponse {
    try {
      return h(r);
    } catch (const std::exception& e) {
      spdlog::error("iocm: {} {}: {}", r.method, r.path, e.what());
      return iocmError(500, kInternal, "Internal server error.");
    }
  };
}

}  // namespace

void addIocmRoutes(http::Router& router, IocmService& iocm) {
  auto* s = &iocm;
  router.add("POST", "/iocm/app/sec/v1.1.0/login", guarded([s](const ApiRequest& r) { return login(*s, r); }));
  router.add("POST", "/iocm/app/sec/v1.1.0/refreshToken",
             guarded([s](const ApiRequest& r) { return refreshToken(*s, r); }));
  router.addAsync("POST", "/iocm/app/reg/v1.1.0/deviceCredentials", withAppAsync(iocm, deviceCredentials));
  router.addAsync("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", withAppAsync(iocm, createCommand));
  router.add("GET", "/iocm/app/cmd/v1.4.0/deviceCommands", guarded(withApp(iocm, listCommands)));
  router.add("PUT", "/iocm/app/cmd/v1.4.0/deviceCommands/{id}", guarded(withApp(iocm, updateCommand)));
  router.add("POST", "/iocm/app/sub/v1.2.0/subscriptions", guarded(withApp(iocm, subscribe)));
  router.add("GET", "/iocm/app/sub/v1.2.0/subscriptions", guarded(withApp(iocm, listSubscriptions)));
  router.add("GET", "/iocm/app/sub/v1.2.0/subscriptions/{id}", guarded(withApp(iocm, getSubscription)));
  router.add("DELETE", "/iocm/app/sub/v1.2.0/subscriptions/{id}", guarded(withApp(iocm, deleteSubscription)));
  router.add("GET", "/iocm/app/dm/v1.4.0/devices", guarded(withApp(iocm, listDevices)));
  router.add("GET", "/iocm/app/dm/v1.4.0/devices/{id}", guarded(withApp(iocm, getDevice)));
  router.add("DELETE", "/iocm/app/dm/v1.4.0/devices/{id}", guarded(withApp(iocm, deleteDevice)));
  router.add("GET", "/iocm/app/data/v1.1.0/deviceDataHistory", guarded(withApp(iocm, dataHistory)));
}

}  // namespace fc::server::dialects
