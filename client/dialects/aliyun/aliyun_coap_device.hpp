// fc::client::AliyunCoapDevice — an Alibaba Cloud IoT device on the CoAP channel as iotkit-embedded's
// IOT_CoAP_DeviceNameAuth / IOT_CoAP_SendMessage use it (../shared/protocols/aliyun.md "CoAP",
// docs/dialects/aliyun.md): CON POST /auth with the signed triplet, then CON POST /topic/{pk}/{dn}/…
// carrying the token in option 2088 (or 61, as SDKs up to v2.10 do).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "client/dialects/aliyun/aliyun_device.hpp"
#include "client/sync_coap_client.hpp"
#include "protocols/coap/message.hpp"
#include "protocols/common/expected.hpp"

namespace fc::client {

class AliyunCoapDevice {
 public:
  /// The SDK's token options: 2088 (COAP_OPTION_AUTH_TOKEN), 61 before v2.10.
  static constexpr std::uint16_t kTokenOption = 2088;
  static constexpr std::uint16_t kOldTokenOption = 61;

  /// `credentials`: the triplet; the SDK signs with hmacmd5 and sends no signmethod, which is what
  /// happens for SignMethod::HmacMd5 — another method is signed with and named in "signmethod".
  AliyunCoapDevice(CoapOptions transport, AliyunCredentials credentials);

  /// The /auth payload: {"productKey","deviceName","clientId":"{pk}.{dn}","sign"[,"signmethod"]}.
  [[nodiscard]] std::string authPayload() const;

  /// CON POST /auth; on 2.05 the token is taken from the JSON answer and kept for publish().
  /// Returns the response whatever its code (4.01 for a bad sign), or the transport's error.
  Expected<coap::Message, std::error_code> authenticate(std::chrono::milliseconds timeout = kCoapTimeout);
  /// CON POST /topic{topic} (topic starts with '/') with CF 50, Accept 42 and the token; the response.
  Expected<coap::Message, std::error_code> publish(std::string_view topic, std::string_view payload,
                                                   std::uint16_t tokenOption = kTokenOption,
                                                   std::chrono::milliseconds timeout = kCoapTimeout);

  [[nodiscard]] const std::string& token() const noexcept { return token_; }
  /// Replaces the token (tests of stale or forged tokens).
  void setToken(std::string token) { token_ = std::move(token); }
  [[nodiscard]] SyncCoapClient& coap() noexcept { return client_; }

 private:
  AliyunCredentials credentials_;
  SyncCoapClient client_;
  std::string token_;
};

}  // namespace fc::client
