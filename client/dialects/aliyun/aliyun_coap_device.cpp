#include "client/dialects/aliyun/aliyun_coap_device.hpp"

#include <nlohmann/json.hpp>

namespace fc::client {

AliyunCoapDevice::AliyunCoapDevice(CoapOptions transport, AliyunCredentials credentials)
    : credentials_(std::move(credentials)), client_(std::move(transport)) {}

std::string AliyunCoapDevice::authPayload() const {
  const auto clientId = credentials_.productKey + "." + credentials_.deviceName;
  // iotkit-embedded: hmac-md5 over clientId{id}deviceName{dn}productKey{pk}, no timestamp.
  nlohmann::json body = {{"productKey", credentials_.productKey},
                         {"deviceName", credentials_.deviceName},
                         {"clientId", clientId},
                         {"sign", aliyun::sign(credentials_.signMethod, credentials_.deviceSecret, clientId,
                                               credentials_.deviceName, credentials_.productKey, "")}};
  if (credentials_.signMethod != aliyun::SignMethod::HmacMd5)
    body["signmethod"] = std::string(aliyun::toString(credentials_.signMethod));
  return body.dump();
}

Expected<coap::Message, std::error_code> AliyunCoapDevice::authenticate(std::chrono::milliseconds timeout) {
  auto m = SyncCoapClient::makeRequest(coap::code::kPost, "auth");
  m.setUint(coap::option::kContentFormat, coap::format::kJson);
  m.setUint(coap::option::kAccept, coap::format::kJson);
  m.setPayload(authPayload());
  auto r = client_.request(std::move(m), {}, timeout);
  if (r && r->code == coap::code::kContent) {
    const auto body = nlohmann::json::parse(r->payload.begin(), r->payload.end(), nullptr, false);
    if (body.is_object() && body.contains("token") && body["token"].is_string())
      token_ = body["token"].get<std::string>();
  }
  return r;
}

Expected<coap::Message, std::error_code> AliyunCoapDevice::publish(std::string_view topic, std::string_view payload,
                                                                   std::uint16_t tokenOption,
                                                                   std::chrono::milliseconds timeout) {
  auto m = SyncCoapClient::makeRequest(coap::code::kPost, "topic" + std::string(topic));
  m.setUint(coap::option::kContentFormat, coap::format::kJson);
  m.setUint(coap::option::kAccept, coap::format::kOctetStream);
  m.setString(tokenOption, token_);
  m.setPayload(payload);
  return client_.request(std::move(m), {}, timeout);
}

}  // namespace fc::client
