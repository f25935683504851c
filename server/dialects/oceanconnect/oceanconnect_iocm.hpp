// OceanConnect's northbound "IoCM" application API (docs/dialects/oceanconnect.md, "Northbound
// IoCM"), so that an application server written against Huawei's platform can be pointed at
// fakecloud:
//   POST /iocm/app/sec/v1.1.0/login                 form appId, secret → accessToken (3600 s)
//   POST /iocm/app/sec/v1.1.0/refreshToken          {appId, secret, refreshToken} → new tokens
//   POST /iocm/app/reg/v1.1.0/deviceCredentials     register a device (nodeId, verifyCode, psk)
//   POST /iocm/app/cmd/v1.4.0/deviceCommands        create a command; GET lists them (paged)
//   PUT  /iocm/app/cmd/v1.4.0/deviceCommands/{id}   {"status":"CANCELED"}
//   POST|GET /iocm/app/sub/v1.2.0/subscriptions     subscribe to notifications; GET|DELETE …/{id}
//   GET  /iocm/app/dm/v1.4.0/devices[/{id}]         the app's devices; DELETE …/{id} deletes one
//   GET  /iocm/app/data/v1.1.0/deviceDataHistory    a device's decoded reports, newest first
// An "application" is an oceanconnect product with keys.appSecret (appId: keys.appId, else the
// product id); devices it registers land in that product, and it sees only that product's devices.
// Every route but login needs headers `app_key: <appId>` and `Authorization: Bearer <accessToken>`;
// errors are Huawei's {"error_code","error_desc"}. Tokens, subscriptions and command callbackUrls
// live in memory: a restart forgets them (the application logs in and subscribes again).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/dialects/oceanconnect/iocm.hpp"
#include "server/core/platform.hpp"
#include "server/http/router.hpp"

namespace fc::server::dialects {

// --- the IoCM shapes of the platform's devices and commands (the pure mapping underneath is
// protocols/dialects/oceanconnect/iocm.hpp) ---

using fc::oceanconnect::iocmCommandCallback;
using fc::oceanconnect::IocmPage;
using fc::oceanconnect::iocmTime;
using fc::oceanconnect::kIocmNotifyTypes;
using fc::oceanconnect::pageRange;
using fc::oceanconnect::parseIocmPage;
using fc::oceanconnect::parseIocmTime;

/// IoCM's command status names (the platform's are OceanConnect's already, so they are the same words).
std::string iocmStatus(core::CommandStatus s);
/// A command's `command` object {serviceId, method, paras} (fc::oceanconnect::iocmCommandBody).
nlohmann::json iocmCommandBody(const core::Command& c);
/// The DeviceCommandResp form of a command (create, list, cancel answers).
nlohmann::json iocmCommandJson(const core::Command& c, const std::string& appId);

/// The QueryDeviceDTO form of a device: {deviceId, gatewayId, nodeType, createTime, deviceInfo{nodeId,
/// name, status ONLINE|OFFLINE, manufacturerId, …}}.
nlohmann::json iocmDeviceJson(const core::Device& d);

/// The deviceDataChanged notifications for one uplink on /19/0/0 of `device` (`payload` raw),
/// decoded with the product's keys.codecProfile (fc::oceanconnect::iocmDataChanged); bytes the
/// profile cannot decode are logged and notify nothing.
std::vector<nlohmann::json> iocmDataChanged(const core::Device& device, const core::Product& product,
                                            const std::vector<std::uint8_t>& payload, core::TimePoint time);

// --- the service ---

class IocmService {
 public:
  /// POSTs `json` to `url` (the WebhookSender in the server; a recorder in tests).
  using Post = std::function<void(const std::string& url, const std::string& json)>;

  IocmService(core::Platform& platform, Post post);
  ~IocmService();
  IocmService(const IocmService&) = delete;
  IocmService& operator=(const IocmService&) = delete;

  /// Forgets tokens, subscriptions, callbacks and awaited activations (admin reset).
  void reset();
  /// Deletes devices created by deviceCredentials that did not come online within their timeout
  /// (platform clock); the scheduler calls it, and so does every clock change.
  void tick();
  /// deviceCredentials' `timeout`: the device is deleted unless it comes online before `deadline`.
  void awaitActivation(const std::string& deviceId, core::TimePoint deadline);

  core::Platform& platform() { return platform_; }

  struct App {
    std::string appId;
    std::string secret;
    std::string productId;
  };
  /// The application `appId`: an oceanconnect product with keys.appSecret whose keys.appId (or id) it is.
  std::optional<App> findApp(const std::string& appId) const;

  struct Tokens {
    std::string accessToken;
    std::string refreshToken;
  };
  Tokens issueTokens(const std::string& appId);
  /// The app the access token belongs to, if it is valid and unexpired on the platform clock.
  std::optional<std::string> tokenApp(const std::string& accessToken) const;
  /// New tokens for a valid refresh token of `appId` (the old refresh token is used up).
  std::optional<Tokens> refresh(const std::string& appId, const std::string& refreshToken);

  /// Creates the command; its status changes go to `callbackUrl` (when not empty) as IoCM callbacks,
  /// the first one included.
  Expected<core::Command, core::Failure> createCommand(core::CommandSpec spec, const std::string& callbackUrl);
  /// The callbackUrl the command was created with through IoCM, or "".
  std::string callbackUrl(const std::string& commandId) const;

  struct Subscription {
    std::string id;
    std::string appId;
    std::string productId;
    std::string notifyType;
    std::string callbackUrl;
  };
  /// Subscribes the app; one subscription per app and notifyType (a new one replaces the old).
  Subscription subscribe(const App& app, const std::string& notifyType, const std::string& callbackUrl);
  std::vector<Subscription> subscriptions(const std::string& appId) const;
  bool unsubscribe(const std::string& appId, const std::string& subscriptionId);

 private:
  void onEvent(const core::Event& e);
  void onCommandChanged(const core::Command& c);
  void notify(const std::string& productId, const std::string& notifyType, const std::vector<nlohmann::json>& bodies);
  bool subscribed(const std::string& productId, const std::string& notifyType) const;

  core::Platform& platform_;
  Post post_;
  std::uint64_t listener_ = 0;

  core::TokenStore tokens_;  // kinds "iocm.access" and "iocm.refresh", owned by app ids
  mutable std::mutex mutex_;
  std::map<std::string, std::string> callbacks_;  // command id → callbackUrl (kept to show it in answers)
  std::vector<Subscription> subscriptions_;
  std::uint64_t nextSubscription_ = 1;
  std::map<std::string, core::TimePoint> activations_;  // device id → when it must have come online
};

void addIocmRoutes(http::Router& router, IocmService& iocm);

}  // namespace fc::server::dialects
