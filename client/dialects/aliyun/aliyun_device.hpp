// fc::client::AliyunDevice — an Alibaba Cloud IoT device as iotkit-embedded behaves
// (../shared/protocols/aliyun.md, docs/dialects/aliyun.md): triplet sign-in, Alink property and
// event posts, property set and service calls answered through a handler, RRPC answers, and the
// device shadow. Works against fakecloud's aliyun dialect.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "client/mqtt_options.hpp"
#include "client/sync_mqtt_client.hpp"
#include "protocols/common/expected.hpp"
#include "protocols/dialects/aliyun/sign.hpp"

namespace fc::client {

/// The device triplet and how it signs in.
struct AliyunCredentials {
  std::string productKey;
  std::string deviceName;
  std::string deviceSecret;
  aliyun::SignMethod signMethod = aliyun::SignMethod::HmacSha1;
  std::string timestamp = "2524608000000";  ///< iotkit-embedded's fixed value
  /// 3 = TCP direct, 2 = TLS direct; 0 picks by the transport (2 with TLS, else 3).
  int secureMode = 0;
};

class AliyunDevice {
 public:
  /// A cloud request on /sys/{pk}/{dn}/thing/service/{service}.
  struct ServiceCall {
    std::string id;       ///< Alink id, echoed in the reply
    std::string service;  ///< "property.set" or the service identifier
    nlohmann::json params;
  };
  /// What the device answers: `{"id","code","data"}` on the request topic + "_reply".
  struct ServiceResult {
    int code = 200;
    nlohmann::json data = nlohmann::json::object();
  };
  /// The handlers run on the client's I/O thread: do not block in them.
  using ServiceHandler = std::function<ServiceResult(const ServiceCall&)>;
  /// Answers an RRPC request with the bytes for /sys/{pk}/{dn}/rrpc/response/{msgId}.
  using RrpcHandler = std::function<std::vector<std::uint8_t>(const std::string& msgId,
                                                              const std::vector<std::uint8_t>& request)>;
  /// Desired state pushed by the cloud ("control"); afterwards the device clears it with
  /// `"desired":"null"`, as the SDK does.
  using ShadowControlHandler = std::function<void(const nlohmann::json& desired, std::int64_t version)>;

  /// Sets clientId, username and password of `transport` for a direct (signed) login.
  static void signIn(MqttOptions& transport, const AliyunCredentials& credentials);

  /// `transport`: host, port, TLS, keepalive, cleanSession …
  AliyunDevice(MqttOptions transport, AliyunCredentials credentials);
  ~AliyunDevice();
  AliyunDevice(const AliyunDevice&) = delete;
  AliyunDevice& operator=(const AliyunDevice&) = delete;

  /// Set these before connect().
  void onService(ServiceHandler handler);
  void onRrpc(RrpcHandler handler);
  void onShadowControl(ShadowControlHandler handler);

  /// Connects, then subscribes to the device's service, reply, RRPC and shadow topics.
  /// A refusing CONNACK is Error::ConnectionRefused.
  Expected<mqtt::Connack, std::error_code> connect(std::chrono::milliseconds timeout = kDefaultTimeout);
  void disconnect();

  /// thing.event.property.post; the cloud's reply (`{"code":200,…}`), or Error::Timeout.
  Expected<nlohmann::json, std::error_code> postProperties(const nlohmann::json& params,
                                                           std::chrono::milliseconds timeout = kDefaultTimeout);
  /// thing.event.{identifier}.post; the cloud's reply.
  Expected<nlohmann::json, std::error_code> postEvent(const std::string& identifier, const nlohmann::json& params,
                                                      std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Shadow "update" of reported state with the next version; on a version conflict the device
  /// fetches the shadow's version and tries once more. The cloud's reply document.
  Expected<nlohmann::json, std::error_code> updateShadow(const nlohmann::json& reported,
                                                         std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Shadow "get"; the cloud's reply document (state, metadata, version).
  Expected<nlohmann::json, std::error_code> getShadow(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// The shadow version the device will exceed with its next update (it follows the cloud's).
  std::int64_t shadowVersion() const;

  /// Topic prefixes, e.g. "/sys/{pk}/{dn}/".
  std::string sysPrefix() const;
  const AliyunCredentials& credentials() const { return credentials_; }
  /// The MQTT client underneath. Messages reach the handlers above and this class's waits, not
  /// SyncMqttClient::receive().
  SyncMqttClient& mqtt() { return *mqtt_; }

 private:
  struct State;
  Expected<nlohmann::json, std::error_code> request(const std::string& topic, const std::string& replyTopic,
                                                    const std::string& method, const nlohmann::json& params,
                                                    std::chrono::milliseconds timeout);
  Expected<nlohmann::json, std::error_code> shadowRequest(nlohmann::json body, std::chrono::milliseconds timeout);

  AliyunCredentials credentials_;
  std::shared_ptr<State> state_;  // shared with the client's message handler
  std::unique_ptr<SyncMqttClient> mqtt_;
  std::atomic<std::uint64_t> nextId_{1};
};

}  // namespace fc::client
