// The aliyun dialect: Alibaba Cloud IoT as iotkit-embedded sees it (docs/dialects/aliyun.md,
// ../shared/protocols/aliyun.md).
//   product      keys.productKey (keys.productSecret, keys.dynamicRegistration, keys.tsl optional);
//                device identifiers.deviceName, secrets.deviceSecret
//   login        triplet: clientId `{id}|securemode=2|3,signmethod=…,timestamp=…|`, username `{dn}&{pk}`,
//                password hex HMAC(deviceSecret, clientId{id}deviceName{dn}productKey{pk}timestamp{ts});
//                pre-step (securemode -1/0): POST /auth/devicename → iotId/iotToken, then username=iotId,
//                password=iotToken. Wrong credentials or an unknown device: CONNACK 0x04; a securemode
//                fakecloud does not support (ID2, or a direct login with -1/0): CONNACK 0x05.
//   ACL          the device's own topics only (aliyunTopicAcl)
//   Alink        property/event posts and deviceinfo → uplink history + `_reply`; NTP; OTA inform,
//                request and progress → the OTA part (aliyun_ota.hpp); shadow update/get/delete → reply on /shadow/get, desired → control;
//                thing.dynamicTsl.get → keys.tsl; thing/model/up_raw → uplink history
//   commands     name "" or "property.set" → thing/service/property/set, other N → thing/service/N;
//                Alink id = the command's sequence number; the `_reply` code 200 → SUCCESSFUL, else FAILED;
//                binary → thing/model/down_raw, whose down_raw_reply completes the oldest delivered one
//   broadcast    broadcast() publishes /broadcast/{pk}/{suffix} at QoS 0 to the product's subscribers
//   RRPC         rrpc() publishes /sys/{pk}/{dn}/rrpc/request/{msgId} and waits (real time) for the response
//   HTTP channel tokens for POST /auth and /topic/… (aliyun_http.cpp holds the routes) and the CoAP
//                channel's (aliyun_coap.cpp), kept and persisted by the platform
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "server/dialects/mqtt_dialect.hpp"

namespace fc::server::dialects {

class AliyunOta;

/// The topics of device {pk}/{dn} (aliyun.md "Topics and ACL"), refusing everything when either
/// name is not a valid one. It may publish to its user topics except `get`, /sys/{pk}/{dn}/thing/#
/// and rrpc/#, its OTA, shadow, ntp, error and session topics; it may subscribe to a filter whose
/// every topic is one of its own (user topics except `update` and `update/error`, the /sys, OTA,
/// shadow, ext topics) or the product's /broadcast/{pk}/#.
broker::TopicAcl aliyunTopicAcl(std::string_view productKey, std::string_view deviceName);
/// aliyunTopicAcl(productKey, deviceName).mayPublish(topic), for the connectionless channels.
bool aliyunMayPublish(std::string_view productKey, std::string_view deviceName, std::string_view topic);
/// aliyunTopicAcl(productKey, deviceName).maySubscribe(filter).
bool aliyunMaySubscribe(std::string_view productKey, std::string_view deviceName, std::string_view filter);

class AliyunDialect final : public MqttDialect {
 public:
  /// Tokens (HTTP channel, pre-step) live this long on the platform clock; the platform keeps
  /// and persists them, so devices stay signed in across a restart.
  static constexpr std::chrono::hours kTokenLifetime{48};
  static constexpr const char* kHttpTokenKind = "aliyun.http";
  static constexpr const char* kIotTokenKind = "aliyun.iot";
  static constexpr const char* kCoapTokenKind = "aliyun.coap";

  /// `publisher` carries pushes that no uplink prompted (RRPC requests, shadow control).
  AliyunDialect(core::Platform& platform, MqttPublisher& publisher);
  ~AliyunDialect() override;
  AliyunDialect(const AliyunDialect&) = delete;
  AliyunDialect& operator=(const AliyunDialect&) = delete;

  // --- MqttDialect ---
  std::string_view name() const override { return "aliyun"; }
  std::optional<MqttLogin> identify(const core::Platform& platform, const broker::ClientIdentity& client) const override;
  std::optional<MqttRefusal> refuse(const core::Platform& platform, const broker::ClientIdentity& client) const override;
  bool verify(const MqttLogin& login, const broker::ClientIdentity& client,
              const std::optional<std::vector<std::uint8_t>>& password) const override;
  broker::TopicAcl topicAcl(const core::Device& device) const override;
  void uplink(core::Platform& platform, const core::Device& device, const mqtt::Publish& publish,
              MqttPublisher& out) const override;
  bool receivesCommands(const core::Device& device, std::string_view filter) const override;
  MqttDownlink encodeCommand(const core::Device& device, const core::Command& command) const override;

  // --- devices by triplet ---
  struct Triplet {
    core::Device device;
    core::Product product;
    std::string productKey;
    std::string deviceName;
    std::string deviceSecret;
  };
  /// The aliyun product whose keys.productKey is `productKey`, if there is one.
  std::optional<core::Product> findProduct(const std::string& productKey) const;
  /// The aliyun device {productKey}/{deviceName}, if there is one.
  std::optional<Triplet> findDevice(const std::string& productKey, const std::string& deviceName) const;
  std::optional<Triplet> triplet(const core::Device& device) const;

  /// A message from the device on any transport ("mqtt", "http"): history, then what it asks for.
  void handleUplink(const Triplet& t, const std::string& topic, const std::vector<std::uint8_t>& payload,
                    const std::string& transport, MqttPublisher& out) const;
  /// The same for a message that came over the HTTP channel (replies go out over MQTT).
  void httpUplink(const Triplet& t, const std::string& topic, const std::vector<std::uint8_t>& payload) const {
    handleUplink(t, topic, payload, "http", publisher_);
  }
  /// The same for a message that came over the CoAP channel (aliyun_coap.cpp): "coap" or "coaps".
  void coapUplink(const Triplet& t, const std::string& topic, const std::vector<std::uint8_t>& payload,
                  const std::string& transport) const {
    handleUplink(t, topic, payload, transport, publisher_);
  }

  // --- tokens for the HTTP channel and the MQTT pre-step ---
  std::string issueHttpToken(const std::string& deviceId);
  /// The device the token belongs to, if it is known and not expired (or, with `evenExpired`, has).
  std::optional<std::string> httpTokenDevice(const std::string& token, bool evenExpired = false) const;
  /// The CoAP channel's tokens: apart from the HTTP channel's, so signing in on one channel does
  /// not sign the device out of the other.
  std::string issueCoapToken(const std::string& deviceId);
  std::optional<std::string> coapTokenDevice(const std::string& token, bool evenExpired = false) const;
  struct IotToken {
    std::string iotId;
    std::string iotToken;
  };
  /// A new iotId/iotToken pair for the device (replacing its previous one).
  IotToken issueIotToken(const std::string& deviceId);
  /// Where the pre-step sends devices: the host is taken from the request, the port is this one.
  void setMqttPort(std::uint16_t port) { mqttPort_ = port; }
  std::uint16_t mqttPort() const { return mqttPort_; }
  /// A new HTTP-channel message id.
  std::uint64_t nextMessageId() { return nextMessageId_++; }

  // --- RRPC ---
  struct RrpcResult {
    bool answered = false;  // false: timed out
    std::string msgId;
    std::vector<std::uint8_t> payload;
  };
  using RrpcDone = std::function<void(RrpcResult)>;
  /// Publishes the request and calls `done` once with the device's answer or, after `timeout`
  /// (real time), without one. 404 unknown device, 409 not online over MQTT, 422 not an aliyun device.
  Expected<std::string, core::Failure> rrpc(const std::string& deviceId, std::vector<std::uint8_t> payload,
                                            std::chrono::milliseconds timeout, RrpcDone done);
  /// Publishes `payload` to /broadcast/{pk}/{suffix} of an aliyun product; the topic, or 404
  /// unknown product, 422 another dialect's or a suffix that is no topic name.
  Expected<std::string, core::Failure> broadcast(const std::string& productId, const std::string& suffix,
                                                 std::vector<std::uint8_t> payload);

  /// Where the device's OTA messages go (inform, request, progress); set once by the module.
  void setOta(AliyunOta* ota) { ota_ = ota; }

  /// Times out RRPC calls; the app calls it every 50 ms.
  void tick();

 private:
  struct Login;  // a CONNECT read in this dialect's form
  Login read(const core::Platform& platform, const broker::ClientIdentity& client) const;
  void onEvent(const core::Event& event);
  void answerRrpc(const std::string& deviceId, const std::string& msgId, const std::vector<std::uint8_t>& payload) const;
  void handleShadow(const Triplet& t, const std::vector<std::uint8_t>& payload, MqttPublisher& out) const;
  void handleCommandReply(const Triplet& t, const std::vector<std::uint8_t>& payload) const;
  void handleRawReply(const Triplet& t, const std::vector<std::uint8_t>& payload) const;
  void answerTslRequest(const Triplet& t, const std::string& topic, const std::vector<std::uint8_t>& payload,
                        MqttPublisher& out) const;
  static nlohmann::json productTsl(const Triplet& t);

  core::Platform& platform_;
  MqttPublisher& publisher_;
  AliyunOta* ota_ = nullptr;
  std::uint64_t subscription_ = 0;
  std::atomic<std::uint16_t> mqttPort_{1883};
  std::atomic<std::uint64_t> nextMessageId_;

  struct PendingRrpc {
    std::string deviceId;
    std::chrono::steady_clock::time_point deadline;
    RrpcDone done;
  };
  mutable std::mutex mutex_;
  std::uint64_t nextRrpc_;
  mutable std::map<std::string, PendingRrpc> rrpcs_;           // msgId → call
};

}  // namespace fc::server::dialects
