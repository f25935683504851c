// The aliyun dialect; the contract is at the top of aliyun.hpp, the wire facts in
// ../shared/protocols/aliyun.md.
#include "server/dialects/aliyun/aliyun.hpp"
#include "server/dialects/aliyun/aliyun_ota.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <charconv>

#include "protocols/common/base64.hpp"
#include "protocols/dialects/aliyun/alink.hpp"
#include "protocols/dialects/aliyun/sign.hpp"
#include "protocols/mqtt/topic.hpp"
#include "server/core/random.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
namespace ali = fc::aliyun;

std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }
std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::string stringField(const json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                                               : std::string{};
}

std::int64_t seconds(core::TimePoint t) { return core::toMillis(t) / 1000; }

// The device's own topic patterns (aliyun.md "Topics and ACL"); pk and dn are valid names, so the
// patterns are valid filters.
std::vector<std::string> ownPatterns(std::string_view pk, std::string_view dn) {
  const std::string k(pk), d(dn);
  return {"/sys/" + k + "/" + d + "/thing/#",   "/sys/" + k + "/" + d + "/rrpc/#",
          "/ota/device/inform/" + k + "/" + d,  "/ota/device/upgrade/" + k + "/" + d,
          "/ota/device/progress/" + k + "/" + d, "/ota/device/request/" + k + "/" + d,
          "/shadow/update/" + k + "/" + d,      "/shadow/get/" + k + "/" + d,
          "/ext/ntp/" + k + "/" + d + "/#",     "/ext/error/" + k + "/" + d,
          "/ext/session/" + k + "/" + d + "/#"};
}

bool isJson(const std::vector<std::uint8_t>& payload) {
  return !json::parse(payload.begin(), payload.end(), nullptr, false).is_discarded();
}

}  // namespace

broker::TopicAcl aliyunTopicAcl(std::string_view pk, std::string_view dn) {
  using enum broker::TopicAcl::Direction;
  broker::TopicAcl acl;
  if (!ali::validName(pk) || !ali::validName(dn)) return acl;
  const std::string user = "/" + std::string(pk) + "/" + std::string(dn) + "/";
  acl.deny(Publish, user)                  // a user topic needs a name
      .deny(Publish, user + "get")         // `get` is the cloud's, the device only subscribes to it
      .deny(Subscribe, user + "update")    // the device's outbox
      .deny(Subscribe, user + "update/error")
      .allow(Publish, user + "+/#")
      .allow(Subscribe, user + "#");
  for (const auto& pattern : ownPatterns(pk, dn)) acl.allow(Both, pattern);
  // /broadcast/{pk}/# is the cloud's: a device publishing there would reach its siblings
  acl.allow(Subscribe, "/broadcast/" + std::string(pk) + "/#");
  return acl;
}

bool aliyunMayPublish(std::string_view pk, std::string_view dn, std::string_view topic) {
  return aliyunTopicAcl(pk, dn).mayPublish(topic);
}

bool aliyunMaySubscribe(std::string_view pk, std::string_view dn, std::string_view filter) {
  return aliyunTopicAcl(pk, dn).maySubscribe(filter);
}

// --- login ---

struct AliyunDialect::Login {
  enum class Kind { NotMine, Device, Refused } kind = Kind::NotMine;
  std::optional<Triplet> triplet;
  bool preStep = false;  // username is an iotId
  MqttRefusal refusal;
};

AliyunDialect::AliyunDialect(core::Platform& platform, MqttPublisher& publisher)
    : platform_(platform),
      publisher_(publisher),
      // Numeric ids that do not repeat across restarts: milliseconds at start-up, counting up.
      nextMessageId_(static_cast<std::uint64_t>(core::toMillis(platform.clock().now())) * 1000),
      nextRrpc_(static_cast<std::uint64_t>(core::toMillis(platform.clock().now())) * 1000) {
  subscription_ = platform_.subscribe([this](const core::Event& e) { onEvent(e); });
}

AliyunDialect::~AliyunDialect() { platform_.unsubscribe(subscription_); }

std::optional<AliyunDialect::Triplet> AliyunDialect::triplet(const core::Device& device) const {
  auto product = platform_.product(device.productId);
  if (!product || product->dialect != name()) return std::nullopt;
  Triplet t{device, *product, stringField(product->keys, "productKey"), stringField(device.identifiers, "deviceName"),
            stringField(device.secrets, "deviceSecret")};
  if (!ali::validName(t.productKey) || !ali::validName(t.deviceName)) return std::nullopt;
  return t;
}

std::optional<core::Product> AliyunDialect::findProduct(const std::string& productKey) const {
  if (!ali::validName(productKey)) return std::nullopt;
  for (auto& product : platform_.products())
    if (product.dialect == name() && stringField(product.keys, "productKey") == productKey) return std::move(product);
  return std::nullopt;
}

std::optional<AliyunDialect::Triplet> AliyunDialect::findDevice(const std::string& productKey,
                                                                const std::string& deviceName) const {
  if (!ali::validName(deviceName)) return std::nullopt;
  auto product = findProduct(productKey);
  if (!product) return std::nullopt;
  auto device = platform_.findDevice(product->id, "deviceName", deviceName);
  return device ? triplet(*device) : std::nullopt;
}

AliyunDialect::Login AliyunDialect::read(const core::Platform& platform, const broker::ClientIdentity& client) const {
  Login login;
  if (!client.username) return login;
  const auto refuse = [&login](mqtt::ConnectReturn code, std::string reason) {
    login.kind = Login::Kind::Refused;
    login.refusal = {code, std::move(reason)};
    return login;
  };

  // Pre-step login: username = an iotId handed out by POST /auth/devicename.
  if (auto preStep = platform.deviceToken(kIotTokenKind, *client.username, /*evenExpired=*/true)) {
    auto device = platform.device(preStep->owner);
    auto t = device ? triplet(*device) : std::nullopt;
    if (!t) return refuse(mqtt::ConnectReturn::BadUsernameOrPassword, "the iotId's device no longer exists");
    login.kind = Login::Kind::Device;
    login.triplet = std::move(t);
    login.preStep = true;
    return login;
  }

  // Direct login: username = {deviceName}&{productKey} of an aliyun product.
  auto user = ali::parseUsername(*client.username);
  if (!user) return login;
  bool known = false;
  for (const auto& p : platform.products())
    known = known || (p.dialect == name() && stringField(p.keys, "productKey") == user->productKey);
  if (!known) return login;

  auto id = ali::parseClientId(client.clientId);
  if (!id)
    return refuse(mqtt::ConnectReturn::IdentifierRejected,
                  "client id '" + client.clientId + "': " + std::string(ali::toString(id.error())));
  const auto modeText = id->param("securemode");
  if (!modeText)
    return refuse(mqtt::ConnectReturn::NotAuthorized, "the client id has no securemode (expected 2 or 3)");
  const auto mode = ali::parseSecureMode(*modeText);
  if (!mode) return refuse(mqtt::ConnectReturn::NotAuthorized, "securemode '" + *modeText + "' is not a number");
  if (*mode == ali::kSecureModeTlsGuider || *mode == ali::kSecureModeTcpGuider)
    return refuse(mqtt::ConnectReturn::NotAuthorized,
                  "securemode " + *modeText +
                      " signs in with the iotId/iotToken of POST /auth/devicename, not with {dn}&{pk}");
  if (*mode != ali::kSecureModeTlsDirect && *mode != ali::kSecureModeTcpDirect)
    return refuse(mqtt::ConnectReturn::NotAuthorized,
                  "securemode " + *modeText + " (ID2) is not supported; use 2 (TLS) or 3 (TCP)");
  auto t = findDevice(user->productKey, user->deviceName);
  if (!t)
    return refuse(mqtt::ConnectReturn::BadUsernameOrPassword,
                  "no device '" + user->deviceName + "' in product key '" + user->productKey + "'");
  login.kind = Login::Kind::Device;
  login.triplet = std::move(t);
  return login;
}

std::optional<MqttLogin> AliyunDialect::identify(const core::Platform& platform,
                                                 const broker::ClientIdentity& client) const {
  auto login = read(platform, client);
  if (login.kind != Login::Kind::Device) return std::nullopt;
  return MqttLogin{login.triplet->device, login.triplet->product};
}

std::optional<MqttRefusal> AliyunDialect::refuse(const core::Platform& platform,
                                                 const broker::ClientIdentity& client) const {
  auto login = read(platform, client);
  if (login.kind != Login::Kind::Refused) return std::nullopt;
  return login.refusal;
}

bool AliyunDialect::verify(const MqttLogin& mqttLogin, const broker::ClientIdentity& client,
                           const std::optional<std::vector<std::uint8_t>>& password) const {
  const auto t = triplet(mqttLogin.device);
  if (!t) return false;
  const std::string given = password ? text(*password) : std::string{};
  const auto reject = [&](const std::string& why) {
    spdlog::info("aliyun: device {} ({}/{}): {}", t->device.id, t->productKey, t->deviceName, why);
    return false;
  };
  auto id = ali::parseClientId(client.clientId);

  // username = an iotId of the pre-step
  if (auto preStep = client.username ? platform_.deviceToken(kIotTokenKind, *client.username, /*evenExpired=*/true)
                                     : std::nullopt) {
    if (preStep->owner != t->device.id) return reject("the iotId belongs to another device");
    if (preStep->expiresAt <= platform_.clock().now()) return reject("the iotToken has expired");
    if (preStep->secret != given) return reject("wrong iotToken");
    if (!id || id->id != t->productKey + "." + t->deviceName)
      return reject("a pre-step login's client id must start with '" + t->productKey + "." + t->deviceName + "'");
    if (auto mode = id->param("securemode");
        mode && *mode != "0" && *mode != "-1")
      return reject("securemode " + *mode + " with an iotToken login");
    return true;
  }

  if (!id) return reject("malformed client id");
  const auto methodText = id->param("signmethod").value_or("");
  const auto method = ali::parseSignMethod(methodText);
  if (!method) return reject("signmethod '" + methodText + "' is not hmacmd5, hmacsha1 or hmacsha256");
  if (t->deviceSecret.empty()) return reject("the device has no secrets.deviceSecret");
  const auto expected =
      ali::sign(*method, t->deviceSecret, id->id, t->deviceName, t->productKey, id->param("timestamp").value_or(""));
  if (!ali::signatureMatches(expected, given))
    return reject("wrong signature (" + std::string(ali::toString(*method)) + " over '" +
                  ali::signContent(id->id, t->deviceName, t->productKey, id->param("timestamp").value_or("")) + "')");
  return true;
}

// --- topics ---

broker::TopicAcl AliyunDialect::topicAcl(const core::Device& device) const {
  auto t = triplet(device);
  return t ? aliyunTopicAcl(t->productKey, t->deviceName) : broker::TopicAcl{};
}

bool AliyunDialect::receivesCommands(const core::Device& device, std::string_view filter) const {
  auto t = triplet(device);
  return t && mqtt::topicMatches(filter, "/sys/" + t->productKey + "/" + t->deviceName + "/thing/service/property/set");
}

MqttDownlink AliyunDialect::encodeCommand(const core::Device& device, const core::Command& command) const {
  auto t = triplet(device);
  const std::string pk = t ? t->productKey : "", dn = t ? t->deviceName : "";
  // Raw bytes are the pass-through ("透传") model: the device's own format, on thing/model/down_raw.
  if (command.spec.binary)
    return {"/sys/" + pk + "/" + dn + "/thing/model/down_raw", bytes(command.spec.payload), mqtt::QoS::AtLeastOnce};
  const std::string service =
      command.spec.name.empty() || command.spec.name == "property.set" ? "property/set" : command.spec.name;
  const std::string method =
      "thing.service." + (command.spec.name.empty() ? std::string("property.set") : command.spec.name);
  json params = json::parse(command.spec.payload, nullptr, false);
  if (params.is_discarded()) params = command.spec.payload;
  // The Alink id is the command's sequence number: numeric, unique, stable across resends and restarts.
  const auto body = ali::alinkRequest(std::to_string(command.seq), method, params);
  return {"/sys/" + pk + "/" + dn + "/thing/service/" + service, bytes(body), mqtt::QoS::AtLeastOnce};
}

// --- uplink ---

void AliyunDialect::uplink(core::Platform&, const core::Device& device, const mqtt::Publish& p,
                           MqttPublisher& out) const {
  auto t = triplet(device);
  if (!t) return;
  handleUplink(*t, p.topic, p.payload, "mqtt", out);
}

void AliyunDialect::handleUplink(const Triplet& t, const std::string& topic, const std::vector<std::uint8_t>& payload,
                                 const std::string& transport, MqttPublisher& out) const {
  const std::string sys = "/sys/" + t.productKey + "/" + t.deviceName + "/";
  const std::string suffix = t.productKey + "/" + t.deviceName;
  const auto record = [&] {
    platform_.recordUplink(t.device.id, transport, topic, payload,
                           isJson(payload) ? "application/json" : "application/octet-stream");
  };

  if (topic.starts_with(sys + "rrpc/response/")) {
    answerRrpc(t.device.id, topic.substr(sys.size() + 14), payload);
    return;
  }
  if (topic.starts_with(sys + "thing/")) {
    const std::string_view rest = std::string_view(topic).substr(sys.size() + 6);
    if (rest.starts_with("service/") && rest.ends_with("_reply")) {
      handleCommandReply(t, payload);
      return;
    }
    if (rest == "model/down_raw_reply") {
      handleRawReply(t, payload);
      return;
    }
    record();
    if (rest == "dynamicTsl/get") {
      answerTslRequest(t, topic, payload, out);
      return;
    }
    // Device requests that the cloud answers on topic + "_reply".
    const bool eventPost = rest.starts_with("event/") && rest.ends_with("/post") && rest.size() > 11;
    if (!eventPost && rest != "deviceinfo/update" && rest != "deviceinfo/delete") return;
    const auto request = json::parse(payload.begin(), payload.end(), nullptr, false);
    const auto id = ali::alinkId(request);
    std::string reply;
    if (!request.is_object() || !id) {
      spdlog::info("aliyun: device {} sent a malformed Alink request on {}: {}", t.device.id, topic, text(payload));
      reply = ali::alinkReply(id.value_or(""), ali::kAlinkBadRequest, json::object(), "request parameter error");
    } else {
      reply = ali::alinkReply(*id, ali::kAlinkSuccess, json::object(), "success");
    }
    out.publish(topic + "_reply", bytes(reply), mqtt::QoS::AtMostOnce);
    return;
  }
  record();
  if (topic == "/ext/ntp/" + suffix + "/request") {
    const auto received = core::toMillis(platform_.clock().now());
    const auto request = json::parse(payload.begin(), payload.end(), nullptr, false);
    const auto sent = ali::ntpDeviceSendTime(request);
    if (!sent) {
      spdlog::info("aliyun: device {} sent an NTP request without deviceSendTime: {}", t.device.id, text(payload));
      return;
    }
    const auto response = ali::ntpResponse(*sent, received, core::toMillis(platform_.clock().now()));
    out.publish("/ext/ntp/" + suffix + "/response", bytes(response), mqtt::QoS::AtMostOnce);
  } else if (topic.starts_with("/ota/device/") && topic.ends_with("/" + suffix)) {
    const auto kind = std::string_view(topic).substr(12, topic.size() - 12 - suffix.size() - 1);
    if (ota_ && (kind == "inform" || kind == "request" || kind == "progress")) ota_->uplink(t, kind, payload);
  } else if (topic == "/shadow/update/" + suffix) {
    handleShadow(t, payload, out);
  }
}

void AliyunDialect::handleCommandReply(const Triplet& t, const std::vector<std::uint8_t>& payload) const {
  const auto reply = json::parse(payload.begin(), payload.end(), nullptr, false);
  const auto id = ali::alinkId(reply);
  std::int64_t seq = 0;
  if (!id || std::from_chars(id->data(), id->data() + id->size(), seq).ec != std::errc{}) {
    spdlog::info("aliyun: device {} answered a service call without a numeric id: {}", t.device.id, text(payload));
    return;
  }
  auto commands = platform_.commands(t.device.id);
  if (!commands) return;
  for (const auto& c : *commands) {
    if (c.seq != seq) continue;
    const bool success = reply.contains("code") && reply["code"].is_number_integer() && reply["code"] == ali::kAlinkSuccess;
    auto done = platform_.commandCompleted(c.id, success, text(payload));
    if (!done) spdlog::info("aliyun: reply to command {} ignored: {}", c.id, done.error().message);
    return;
  }
  spdlog::info("aliyun: device {} answered unknown service call id {}", t.device.id, *id);
}

void AliyunDialect::handleRawReply(const Triplet& t, const std::vector<std::uint8_t>& payload) const {
  // Raw replies carry no id: the device answers its pass-through commands in the order it got them.
  auto delivered = platform_.commands(t.device.id, core::CommandStatus::Delivered);
  if (delivered)
    for (const auto& c : *delivered) {
      if (!c.spec.binary) continue;
      const json result = {{"payloadBase64", base64Encode(payload)}};
      auto done = platform_.commandCompleted(c.id, true, result.dump());
      if (!done) spdlog::info("aliyun: raw reply to command {} ignored: {}", c.id, done.error().message);
      return;
    }
  spdlog::info("aliyun: device {} sent a down_raw_reply but no pass-through command of it awaits one", t.device.id);
}

void AliyunDialect::answerTslRequest(const Triplet& t, const std::string& topic,
                                     const std::vector<std::uint8_t>& payload, MqttPublisher& out) const {
  const auto request = json::parse(payload.begin(), payload.end(), nullptr, false);
  const auto id = ali::alinkId(request);
  std::string reply;
  if (!request.is_object() || !id) {
    spdlog::info("aliyun: device {} sent a malformed thing.dynamicTsl.get: {}", t.device.id, text(payload));
    reply = ali::alinkReply(id.value_or(""), ali::kAlinkBadRequest, json::object(), "request parameter error");
  } else {
    reply = ali::alinkReply(*id, ali::kAlinkSuccess, productTsl(t), "success");
  }
  out.publish(topic + "_reply", bytes(reply), mqtt::QoS::AtMostOnce);
}

json AliyunDialect::productTsl(const Triplet& t) {
  // The product's thing model as the API stored it in keys.tsl, else an empty one that names it.
  if (t.product.keys.contains("tsl") && t.product.keys["tsl"].is_object()) return t.product.keys["tsl"];
  return {{"schema", "https://iotx-tsl.oss-ap-southeast-1.aliyuncs.com/schema.json"},
          {"profile", {{"productKey", t.productKey}}},
          {"properties", json::array()},
          {"events", json::array()},
          {"services", json::array()}};
}

Expected<std::string, core::Failure> AliyunDialect::broadcast(const std::string& productId, const std::string& suffix,
                                                              std::vector<std::uint8_t> payload) {
  auto product = platform_.product(productId);
  if (!product) return Unexpected(core::Failure{core::Errc::NotFound, "no product '" + productId + "'"});
  if (product->dialect != name())
    return Unexpected(core::Failure{core::Errc::Invalid, "product '" + productId + "' is not an aliyun product"});
  const auto pk = stringField(product->keys, "productKey");
  const std::string topic = "/broadcast/" + pk + "/" + suffix;
  if (suffix.empty() || !mqtt::validTopicName(topic))
    return Unexpected(core::Failure{core::Errc::Invalid, "'" + suffix + "' cannot end a topic name (no + or #)"});
  // Alibaba delivers broadcasts at QoS 0, to the devices subscribed at that moment.
  publisher_.publish(topic, std::move(payload), mqtt::QoS::AtMostOnce);
  return topic;
}

void AliyunDialect::handleShadow(const Triplet& t, const std::vector<std::uint8_t>& payload, MqttPublisher& out) const {
  const std::string replyTopic = "/shadow/get/" + t.productKey + "/" + t.deviceName;
  const auto now = seconds(platform_.clock().now());
  const auto send = [&](const std::string& body) { out.publish(replyTopic, bytes(body), mqtt::QoS::AtLeastOnce); };
  auto request = ali::parseShadowRequest(text(payload));
  if (!request) {
    spdlog::info("aliyun: device {} sent a bad shadow request ({}): {}", t.device.id,
                 ali::message(request.error().error), text(payload));
    return send(ali::shadowErrorReply(request.error().clientToken, request.error().error, now));
  }
  if (request->method == ali::ShadowRequest::Method::Get) {
    auto shadow = platform_.shadow(t.device.id);
    if (!shadow) return send(ali::shadowErrorReply(request->clientToken, ali::ShadowError::ServerError, now));
    if (shadow->empty())  // the SDK treats 407 as "nothing to sync"
      return send(ali::shadowErrorReply(request->clientToken, ali::ShadowError::DocumentEmpty, now));
    const auto at = shadow->updatedAt ? seconds(*shadow->updatedAt) : now;
    return send(ali::shadowGetReply(request->clientToken, shadow->reported, shadow->desired, shadow->version, at, now));
  }
  core::ShadowUpdate update;
  if (!request->reported.empty()) update.reported = json::parse(request->reported);
  if (!request->desired.empty()) update.desired = json::parse(request->desired);
  update.clearReported = request->clearReported;
  update.clearDesired = request->clearDesired;
  update.version = request->version;
  update.source = "device";
  auto result = platform_.updateShadow(t.device.id, update);
  if (!result) {
    const auto error = result.error().code == core::Errc::Conflict ? ali::ShadowError::VersionConflict : ali::ShadowError::ServerError;
    spdlog::info("aliyun: shadow update of device {} refused: {}", t.device.id, result.error().message);
    return send(ali::shadowErrorReply(request->clientToken, error, now));
  }
  send(ali::shadowUpdateReply(request->clientToken, result->version, now));
}

void AliyunDialect::onEvent(const core::Event& event) {
  // Desired state set through the API goes to the device at once as a "control" push.
  const auto* updated = std::get_if<core::ShadowUpdated>(&event);
  if (!updated || updated->source == "device" || !updated->desiredChanged) return;
  const auto& deviceId = updated->shadow.deviceId;
  auto device = platform_.device(deviceId);
  auto t = device ? triplet(*device) : std::nullopt;
  if (!t) return;
  auto shadow = platform_.shadow(deviceId);
  if (!shadow) return;
  const auto now = seconds(platform_.clock().now());
  const auto at = shadow->updatedAt ? seconds(*shadow->updatedAt) : now;
  publisher_.publish("/shadow/get/" + t->productKey + "/" + t->deviceName,
                     bytes(ali::shadowControl(shadow->desired, shadow->version, at, now)), mqtt::QoS::AtLeastOnce);
}

// --- tokens ---

std::string AliyunDialect::issueHttpToken(const std::string& deviceId) {
  return platform_.issueDeviceToken(kHttpTokenKind, deviceId, kTokenLifetime).token;
}

std::optional<std::string> AliyunDialect::httpTokenDevice(const std::string& token, bool evenExpired) const {
  auto t = platform_.deviceToken(kHttpTokenKind, token, evenExpired);
  if (!t) return std::nullopt;
  return t->owner;
}

std::string AliyunDialect::issueCoapToken(const std::string& deviceId) {
  return platform_.issueDeviceToken(kCoapTokenKind, deviceId, kTokenLifetime).token;
}

std::optional<std::string> AliyunDialect::coapTokenDevice(const std::string& token, bool evenExpired) const {
  auto t = platform_.deviceToken(kCoapTokenKind, token, evenExpired);
  if (!t) return std::nullopt;
  return t->owner;
}

AliyunDialect::IotToken AliyunDialect::issueIotToken(const std::string& deviceId) {
  // The iotId is the looked-up token, the iotToken its secret half.
  auto t = platform_.issueDeviceToken(kIotTokenKind, deviceId, kTokenLifetime, core::randomAlnum(32));
  return IotToken{t.token, t.secret};
}

// --- RRPC ---

Expected<std::string, core::Failure> AliyunDialect::rrpc(const std::string& deviceId, std::vector<std::uint8_t> payload,
                                                         std::chrono::milliseconds timeout, RrpcDone done) {
  auto device = platform_.device(deviceId);
  if (!device) return Unexpected(core::Failure{core::Errc::NotFound, "no device '" + deviceId + "'"});
  auto t = triplet(*device);
  if (!t) return Unexpected(core::Failure{core::Errc::Invalid, "device '" + deviceId + "' is not an aliyun device"});
  if (!device->online || device->transport.rfind("mqtt", 0) != 0)
    return Unexpected(core::Failure{core::Errc::Conflict, "device '" + deviceId + "' is not online over MQTT"});
  std::string msgId;
  {
    std::lock_guard lock(mutex_);
    msgId = std::to_string(nextRrpc_++);
    rrpcs_[msgId] = PendingRrpc{deviceId, std::chrono::steady_clock::now() + timeout, std::move(done)};
  }
  // Alibaba sends RRPC requests at QoS 0; the device subscribes to /sys/{pk}/{dn}/rrpc/request/+.
  publisher_.publish("/sys/" + t->productKey + "/" + t->deviceName + "/rrpc/request/" + msgId, std::move(payload),
                     mqtt::QoS::AtMostOnce);
  return msgId;
}

void AliyunDialect::answerRrpc(const std::string& deviceId, const std::string& msgId,
                               const std::vector<std::uint8_t>& payload) const {
  RrpcDone done;
  {
    std::lock_guard lock(mutex_);
    auto it = rrpcs_.find(msgId);
    if (it == rrpcs_.end() || it->second.deviceId != deviceId) {
      spdlog::info("aliyun: device {} answered RRPC {}, which nobody waits for", deviceId, msgId);
      return;
    }
    done = std::move(it->second.done);
    rrpcs_.erase(it);
  }
  done(RrpcResult{true, msgId, payload});
}

void AliyunDialect::tick() {
  std::vector<std::pair<std::string, RrpcDone>> expired;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    for (auto it = rrpcs_.begin(); it != rrpcs_.end();) {
      if (it->second.deadline <= now) {
        expired.emplace_back(it->first, std::move(it->second.done));
        it = rrpcs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& [msgId, done] : expired) done(RrpcResult{false, msgId, {}});
}

}  // namespace fc::server::dialects
