#include "client/dialects/aliyun/aliyun_device.hpp"

#include <mutex>

#include "client/detail/inbox.hpp"

namespace fc::client {

using nlohmann::json;

struct AliyunDevice::State {
  std::mutex mutex;
  ServiceHandler onService;
  RrpcHandler onRrpc;
  ShadowControlHandler onShadowControl;
  detail::Inbox inbox;  // replies the blocking calls wait for
  std::atomic<std::int64_t> shadowVersion{0};
  std::atomic<std::uint64_t> nextToken{1};

  /// The SDK's rule: the version only ever grows, to what the cloud says.
  void seeVersion(std::int64_t v) {
    auto cur = shadowVersion.load();
    while (v > cur && !shadowVersion.compare_exchange_weak(cur, v)) {
    }
  }
};

namespace {

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
json parse(const Message& m) { return json::parse(m.payload.begin(), m.payload.end(), nullptr, false); }

}  // namespace

void AliyunDevice::signIn(MqttOptions& transport, const AliyunCredentials& c) {
  const int mode = c.secureMode != 0 ? c.secureMode : (transport.tls ? 2 : 3);
  const std::string id = c.productKey + "." + c.deviceName;
  transport.clientId = id + "|securemode=" + std::to_string(mode) + ",timestamp=" + c.timestamp +
                       ",signmethod=" + std::string(aliyun::toString(c.signMethod)) + ",gw=0,ext=0|";
  transport.username = c.deviceName + "&" + c.productKey;
  transport.password = aliyun::sign(c.signMethod, c.deviceSecret, id, c.deviceName, c.productKey, c.timestamp);
}

AliyunDevice::AliyunDevice(MqttOptions transport, AliyunCredentials credentials)
    : credentials_(std::move(credentials)), state_(std::make_shared<State>()) {
  signIn(transport, credentials_);
  mqtt_ = std::make_unique<SyncMqttClient>(std::move(transport));
  MqttClient* client = &mqtt_->async();
  const std::string sys = sysPrefix();
  const std::string service = sys + "thing/service/";
  const std::string rrpc = sys + "rrpc/request/";
  const std::string shadowGet = "/shadow/get/" + credentials_.productKey + "/" + credentials_.deviceName;
  const std::string shadowUpdate = "/shadow/update/" + credentials_.productKey + "/" + credentials_.deviceName;
  // Runs on the client's strand: handlers answer with the asynchronous publish, never a blocking call.
  client->onMessage([s = state_, client, service, rrpc, shadowGet, shadowUpdate](Message m) {
    std::unique_lock lock(s->mutex);
    if (m.topic.starts_with(service) && !m.topic.ends_with("_reply")) {
      auto handler = s->onService;
      lock.unlock();
      const auto request = parse(m);
      if (!handler || !request.is_object()) return;
      std::string name = m.topic.substr(service.size());
      if (name == "property/set") name = "property.set";
      const auto id = request.contains("id") && request["id"].is_string() ? request["id"].get<std::string>() : "";
      const auto result = handler(ServiceCall{id, name, request.value("params", json::object())});
      const json reply = {{"id", id}, {"code", result.code}, {"data", result.data}};
      client->publish(m.topic + "_reply", bytes(reply.dump()), mqtt::QoS::AtMostOnce, false);
      return;
    }
    if (m.topic.starts_with(rrpc)) {
      auto handler = s->onRrpc;
      lock.unlock();
      if (!handler) return;
      const auto msgId = m.topic.substr(rrpc.size());
      auto answer = handler(msgId, m.payload);
      client->publish(rrpc.substr(0, rrpc.size() - 8) + "response/" + msgId, std::move(answer),
                      mqtt::QoS::AtMostOnce, false);
      return;
    }
    if (m.topic == shadowGet) {
      const auto doc = parse(m);
      if (doc.is_object() && doc.contains("version") && doc["version"].is_number_integer())
        s->seeVersion(doc["version"].get<std::int64_t>());
      if (doc.is_object() && doc.value("method", "") == "control") {
        auto handler = s->onShadowControl;
        lock.unlock();
        const auto version = doc.value("version", std::int64_t{0});
        json desired = json::object();
        if (doc.contains("payload") && doc["payload"].contains("state") && doc["payload"]["state"].contains("desired"))
          desired = doc["payload"]["state"]["desired"];
        if (handler) handler(desired, version);
        // Like iotkit-embedded: acknowledge by clearing desired with the next version.
        const json ack = {{"method", "update"},
                          {"state", {{"desired", "null"}}},
                          {"clientToken", "control-" + std::to_string(s->nextToken++)},
                          {"version", ++s->shadowVersion}};
        client->publish(shadowUpdate, bytes(ack.dump()), mqtt::QoS::AtLeastOnce, false);
        return;
      }
    }
    lock.unlock();
    s->inbox.push(std::move(m));
  });
}

AliyunDevice::~AliyunDevice() = default;

std::string AliyunDevice::sysPrefix() const {
  return "/sys/" + credentials_.productKey + "/" + credentials_.deviceName + "/";
}

std::int64_t AliyunDevice::shadowVersion() const { return state_->shadowVersion; }

void AliyunDevice::onService(ServiceHandler handler) {
  std::lock_guard lock(state_->mutex);
  state_->onService = std::move(handler);
}

void AliyunDevice::onRrpc(RrpcHandler handler) {
  std::lock_guard lock(state_->mutex);
  state_->onRrpc = std::move(handler);
}

void AliyunDevice::onShadowControl(ShadowControlHandler handler) {
  std::lock_guard lock(state_->mutex);
  state_->onShadowControl = std::move(handler);
}

Expected<mqtt::Connack, std::error_code> AliyunDevice::connect(std::chrono::milliseconds timeout) {
  auto ack = mqtt_->connect(timeout);
  if (!ack) return ack;
  if (ack->returnCode != mqtt::ConnectReturn::Accepted) return Unexpected(make_error_code(Error::ConnectionRefused));
  const auto sys = sysPrefix();
  const auto shadowGet = "/shadow/get/" + credentials_.productKey + "/" + credentials_.deviceName;
  // What iotkit-embedded subscribes to: the property set (which also tells fakecloud the device can
  // take commands), service calls, replies to its posts, RRPC requests, the shadow.
  auto sub = mqtt_->subscribe({{sys + "thing/service/property/set", mqtt::QoS::AtLeastOnce},
                               {sys + "thing/service/+", mqtt::QoS::AtLeastOnce},
                               {sys + "thing/event/+/post_reply", mqtt::QoS::AtMostOnce},
                               {sys + "rrpc/request/+", mqtt::QoS::AtMostOnce},
                               {shadowGet, mqtt::QoS::AtLeastOnce}},
                              timeout);
  if (!sub) return Unexpected(sub.error());
  for (auto code : *sub)
    if (code == mqtt::kSubackFailure) return Unexpected(make_error_code(Error::SubscriptionRefused));
  return ack;
}

void AliyunDevice::disconnect() { mqtt_->disconnect(); }

Expected<json, std::error_code> AliyunDevice::request(const std::string& topic, const std::string& replyTopic,
                                                      const std::string& method, const json& params,
                                                      std::chrono::milliseconds timeout) {
  const auto id = std::to_string(nextId_++);
  const json body = {{"id", id}, {"version", "1.0"}, {"params", params}, {"method", method}};
  if (auto ec = mqtt_->publish(topic, body.dump(), mqtt::QoS::AtLeastOnce, false, timeout)) return Unexpected(ec);
  auto reply = state_->inbox.take(
      [&](const Message& m) {
        if (m.topic != replyTopic) return false;
        const auto doc = parse(m);
        return doc.is_object() && doc.contains("id") && doc["id"] == id;
      },
      timeout);
  if (!reply) return Unexpected(make_error_code(Error::Timeout));
  return parse(*reply);
}

Expected<json, std::error_code> AliyunDevice::postProperties(const json& params, std::chrono::milliseconds timeout) {
  const auto topic = sysPrefix() + "thing/event/property/post";
  return request(topic, topic + "_reply", "thing.event.property.post", params, timeout);
}

Expected<json, std::error_code> AliyunDevice::postEvent(const std::string& identifier, const json& params,
                                                        std::chrono::milliseconds timeout) {
  const auto topic = sysPrefix() + "thing/event/" + identifier + "/post";
  return request(topic, topic + "_reply", "thing.event." + identifier + ".post", params, timeout);
}

Expected<json, std::error_code> AliyunDevice::shadowRequest(json body, std::chrono::milliseconds timeout) {
  const auto token = credentials_.productKey + "." + credentials_.deviceName + "-" + std::to_string(state_->nextToken++);
  body["clientToken"] = token;
  const auto topic = "/shadow/update/" + credentials_.productKey + "/" + credentials_.deviceName;
  const auto replyTopic = "/shadow/get/" + credentials_.productKey + "/" + credentials_.deviceName;
  if (auto ec = mqtt_->publish(topic, body.dump(), mqtt::QoS::AtLeastOnce, false, timeout)) return Unexpected(ec);
  auto reply = state_->inbox.take(
      [&](const Message& m) {
        if (m.topic != replyTopic) return false;
        const auto doc = parse(m);
        return doc.is_object() && doc.value("clientToken", "") == token;
      },
      timeout);
  if (!reply) return Unexpected(make_error_code(Error::Timeout));
  auto doc = parse(*reply);
  if (doc.contains("payload") && doc["payload"].contains("version") && doc["payload"]["version"].is_number_integer())
    state_->seeVersion(doc["payload"]["version"].get<std::int64_t>());
  return doc;
}

Expected<json, std::error_code> AliyunDevice::updateShadow(const json& reported, std::chrono::milliseconds timeout) {
  const auto update = [&] {
    return shadowRequest({{"method", "update"}, {"state", {{"reported", reported}}}, {"version", ++state_->shadowVersion}},
                         timeout);
  };
  auto reply = update();
  const auto conflict = [](const json& doc) {
    return doc.contains("payload") && doc["payload"].value("status", "") == "error" &&
           doc["payload"].contains("content") && doc["payload"]["content"].value("errorcode", "") == "409";
  };
  if (reply && conflict(*reply)) {
    if (auto got = getShadow(timeout); !got) return got;
    reply = update();
  }
  return reply;
}

Expected<json, std::error_code> AliyunDevice::getShadow(std::chrono::milliseconds timeout) {
  return shadowRequest({{"method", "get"}, {"version", state_->shadowVersion.load()}}, timeout);
}

}  // namespace fc::client
