// fc::client::OceanConnectDevice — a device as Huawei LiteOS Agent Tiny talks to OceanConnect
// (LwM2M 1.0 over CoAP/UDP; ../shared/protocols/oceanconnect.md), for tests and demos. Blocking:
// it owns a SyncCoapClient (its io_context and thread) and serves the server's requests:
//   GET /19/0/0 Observe 0 → 2.05 (Observe, Content-Format 42, empty); report() then sends the raw
//                           bytes as CON notifications on that observation
//   PUT /19/1/0          → the command bytes queue up for nextCommand(); answered 2.04 (or the
//                           code set with answerCommandsWith())
//   GET with Accept 40    → LwM2M Discover: the path and the table resources below it (link format)
//   GET with Accept 110   → the table resources at and below the path as SenML JSON ("vs")
//   PUT as SenML JSON     → every record's value (as text) into the table; an unknown name 4.04
//   other paths          → a small resource table: GET reads a value (text/plain; with Observe 0
//                           it is observed and notifyResource() sends the value; an instance, or
//                           Accept 11542, as OMA TLV; another Accept 4.06), PUT writes it,
//                           POST executes (recorded); unknown paths 4.04
//   POST /{o} (TLV or SenML JSON) → Create (OMA-TS-LightweightM2M-V1_0 §5.4.6): the resources go into
//                           the table; 2.01 with Location-Path o/i; an instance that exists 4.00;
//                           then an Update with the new object links, as a client must (§5.3.2)
//   DELETE /{o}/{i}       → Delete (§5.4.7): the instance's resources leave the table; 2.02; then an Update
//   PUT with Uri-Query, no payload → Write-Attributes (§5.4.4): kept per path (attributes()), shown by
//                           Discover; an unknown attribute or bad value 4.00, an unknown path 4.04
//   FETCH / (SenML JSON names) → Read-Composite (LwM2M 1.1 §5.4.7): the values as SenML JSON
//   iPATCH / (SenML JSON)  → Write-Composite (LwM2M 1.1 §5.4.8): like a SenML PUT
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "client/sync_coap_client.hpp"
#include "protocols/coap/message.hpp"
#include "protocols/common/expected.hpp"

namespace fc::client {

/// The LiteOS demo's Register payload: the root, Security, Server, Device, Firmware, and object 19.
inline constexpr const char* kLiteOsObjects =
    "</>;rt=\"oma.lwm2m\",</1/0>,</2>,</3/0>,</4/0>,</5/0>,</6/0>,</19/0>,</19/1>";

struct OceanConnectDeviceOptions {
  CoapOptions coap;
  std::string endpoint;                   ///< "ep": OceanConnect's nodeId
  std::uint32_t lifetime = 86400;         ///< "lt", seconds
  std::string binding = "U";              ///< "b": U, or UQ for queue mode
  std::string objects = kLiteOsObjects;   ///< the link-format payload
  std::string version = "1.0";            ///< "lwm2m": 1.0 (LiteOS), or 1.1
};

class OceanConnectDevice {
 public:
  using Reply = Expected<fc::coap::Message, std::error_code>;

  explicit OceanConnectDevice(OceanConnectDeviceOptions options);
  ~OceanConnectDevice();
  OceanConnectDevice(const OceanConnectDevice&) = delete;
  OceanConnectDevice& operator=(const OceanConnectDevice&) = delete;

  /// CON POST /rd?lwm2m=1.0&ep=…&b=…&lt=…; on 2.01 the Location-Path is kept for update/deregister.
  Reply registerDevice();
  /// CON POST /rd/{location} (with lt when given).
  Reply update(std::optional<std::uint32_t> lifetime = {});
  /// CON DELETE /rd/{location}.
  Reply deregister();
  /// "rd/abc123", or "" before a successful Register.
  [[nodiscard]] std::string location() const;

  /// Waits until the server observes /19/0/0.
  bool waitObserved(std::chrono::milliseconds timeout = kCoapTimeout);
  /// Sends `data` as a CON notification of /19/0/0; false when nobody observes it.
  bool report(std::vector<std::uint8_t> data);
  /// The next command the server PUT to /19/1/0, in arrival order.
  std::optional<std::vector<std::uint8_t>> nextCommand(std::chrono::milliseconds timeout = kCoapTimeout);
  /// How PUT /19/1/0 is answered from now on (default 2.04 Changed).
  void answerCommandsWith(fc::coap::Code code);

  /// A readable and writable resource of the table ("3/0/0" → "Huawei").
  void setResource(const std::string& path, std::string value);
  [[nodiscard]] std::optional<std::string> resource(const std::string& path) const;
  /// Sends the resource's value as a CON notification to its observer; false when not observed.
  bool notifyResource(const std::string& path);
  /// Whether the server observes the table resource `path` (waits up to `timeout` for `want`).
  bool waitResourceObserved(const std::string& path, bool want, std::chrono::milliseconds timeout = kCoapTimeout);
  /// Paths the server executed (POST), in order.
  [[nodiscard]] std::vector<std::string> executed() const;
  /// The attributes the server wrote on `path` ("3/0/0" → {"pmin": "10", "gt": "20.5"}).
  [[nodiscard]] std::map<std::string, std::string> attributes(const std::string& path) const;
  /// The object links the device registered last (Register, or the Update after a Create or Delete).
  [[nodiscard]] std::string objectLinks() const;
  /// Waits until the server has answered `updates` Updates that followed a Create or Delete.
  bool waitUpdated(std::size_t updates, std::chrono::milliseconds timeout = kCoapTimeout);

  [[nodiscard]] SyncCoapClient& coap() noexcept { return *coap_; }

 private:
  struct State;
  fc::coap::Message serve(const fc::coap::Message& request, const std::string& path);
  // Under state_->mutex:
  fc::coap::Message discover(const std::string& path) const;
  fc::coap::Message readSenml(const std::string& path) const;
  fc::coap::Message writeSenml(const fc::coap::Message& request);
  fc::coap::Message readTlv(const std::string& path) const;
  fc::coap::Message create(const fc::coap::Message& request, const std::string& path);
  fc::coap::Message deleteInstance(const std::string& path);
  fc::coap::Message writeAttributes(const fc::coap::Message& request, const std::string& path);
  fc::coap::Message readComposite(const fc::coap::Message& request) const;
  [[nodiscard]] bool exists(const std::string& path) const;
  /// Sends an Update with the current object links; called under the mutex, sends asynchronously.
  void sendObjectsUpdate();

  OceanConnectDeviceOptions options_;
  std::shared_ptr<State> state_;
  std::unique_ptr<SyncCoapClient> coap_;
};

}  // namespace fc::client
