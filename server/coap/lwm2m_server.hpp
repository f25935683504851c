// The LwM2M server's Registration interface on the CoAP endpoint (OMA-TS-LightweightM2M-V1_0 §5.3;
// docs/coap.md, "LwM2M"): resource "rd" answers Register (2.01, Location-Path rd/{id}), Update
// (2.04) and De-register (2.02) from a protocols/lwm2m Registry on the platform clock, so the admin
// clock expires registrations. A client is admitted by an authorizer (the dialect: a known device,
// the right DTLS identity), else 4.03. Registration → device online and reachable; De-register or
// lifetime expiry → offline. Every exchange goes to the device's journal.
//
// Downlinks (server-initiated requests and observations) go through here: to a queue-mode client
// (binding UQ) only while it is awake (heard from within the awake window); otherwise they wait
// until it is next heard from (Register, Update, any response or notification); the platform is told
// when such a client falls asleep and wakes (deviceUnreachable / deviceReachable), so commands stay
// PENDING, as OceanConnect's "Waiting", rather than SENT while it sleeps. Each downlink is
// journaled when it goes out, and so is every answer and notification (summary "notification …").
//
// Thread-safety: "rd" runs on the CoAP strand, tick() on the scheduler, request()/observe() from any
// thread. State is under one mutex that is never held while calling the platform, the CoAP server
// or a listener.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/registry.hpp"
#include "server/coap/coap_server.hpp"
#include "server/core/platform.hpp"

namespace fc::server::coap {

/// Who a registering endpoint is: the device and the transport name for presence and the journal.
struct Lwm2mAdmission {
  std::string deviceId;
  std::string transport = "coap";  ///< "coap", or "coaps" for a DTLS peer
};
/// Why a Register is refused (answered 4.03 and logged); `deviceId` names the device the endpoint
/// belongs to when there is one (a wrong DTLS identity), so its journal shows the attempt.
struct Lwm2mRefusal {
  std::string reason;
  std::string deviceId;  ///< empty: an unknown endpoint
};
/// The dialect's decision on a Register: an admission, or why not.
using Lwm2mAuthorizer =
    std::function<Expected<Lwm2mAdmission, Lwm2mRefusal>(const std::string& endpoint, const fc::coap::PeerKey& peer)>;

/// A registered client as the server knows it.
struct Lwm2mClient {
  std::string deviceId;
  std::string transport;
  fc::coap::PeerKey peer;
  lwm2m::Registration registration;
  /// Uri-Path of object/instance/resource below the client's alternate root path ("/19/0/0" → "19/0/0").
  [[nodiscard]] std::string path(std::string_view objectPath) const;
};

/// What happens to registrations; called on the CoAP strand or the scheduler thread, no lock held.
class Lwm2mListener {
 public:
  virtual ~Lwm2mListener() = default;
  virtual void registered(const Lwm2mClient& client) = 0;
  /// De-register, lifetime expiry, a new Register of the same endpoint, or an admin reset.
  virtual void deregistered(const Lwm2mClient& client, const std::string& why) = 0;
  /// An Update; `moved` when it came from another address than the registration's (NAT rebinding):
  /// observations made at the old address no longer reach the device.
  virtual void updated(const Lwm2mClient& /*client*/, bool /*moved*/) {}
};

/// Errors of request()/observe() beyond the CoAP layer's.
enum class Lwm2mError : std::uint8_t {
  NotRegistered = 1,  ///< the device has no registration
  Deregistered,       ///< the registration ended while the downlink waited for a queue-mode client
  TooManyQueued,      ///< kMaxQueuedDownlinks downlinks already wait for the client
};
const std::error_category& lwm2mCategory() noexcept;
std::error_code make_error_code(Lwm2mError e) noexcept;

class Lwm2mServer {
 public:
  static constexpr std::size_t kMaxQueuedDownlinks = 64;
  using Started = std::function<void(std::optional<fc::coap::Endpoint::RequestId>)>;

  Lwm2mServer(core::Platform& platform, CoapServer& coap, lwm2m::RegistryOptions options = {});

  /// The "rd" subtree resource; add it to the CoAP server before listening.
  [[nodiscard]] fc::coap::Resource resource();
  /// Who may register (without one, nobody may); set before listening.
  void setAuthorizer(Lwm2mAuthorizer authorize) { authorize_ = std::move(authorize); }
  void setListener(Lwm2mListener* listener) { listener_ = listener; }

  /// Lifetime expiries due on the platform clock; the app's scheduler calls it.
  void tick();
  /// Forgets every registration (admin reset); pending downlinks fail Deregistered.
  void reset();

  [[nodiscard]] std::optional<Lwm2mClient> client(const std::string& deviceId) const;
  /// Whether a request to the device goes out now (registered, and awake when in queue mode).
  [[nodiscard]] bool awake(const std::string& deviceId) const;
  /// The client sent something (a notification, a response): a queue-mode client is awake again
  /// and its waiting downlinks go out.
  void heardFrom(const std::string& deviceId);

  /// A request to the device's registration (Uri-Path as given: use Lwm2mClient::path), now or
  /// when a queue-mode client is next awake. `done` is called once; `started` gets the request's id
  /// (for cancel) when it goes out, nullopt when it could not start.
  void request(const std::string& deviceId, fc::coap::Message request, fc::coap::ResponseHandler done,
               Started started = {});
  /// An observation likewise; `started` gets its id (nullopt when it could not start: `notify` then
  /// has the error).
  void observe(const std::string& deviceId, fc::coap::Message request, fc::coap::NotificationHandler notify,
               Started started = {});
  /// Ends a downlink. For an observation, `deregister` sends a GET with Observe 1 (RFC 7641 §3.6),
  /// journaled with its answer like every downlink; otherwise the next notification gets RST.
  void cancel(fc::coap::Endpoint::RequestId id, bool deregister = false);

 private:
  struct Downlink {
    fc::coap::Message message;
    fc::coap::ResponseHandler done;        // a request, or
    fc::coap::NotificationHandler notify;  // an observation
    Started started;
  };
  struct Entry {
    Lwm2mClient client;
    std::deque<Downlink> waiting;
    bool reachable = true;  // what the platform was last told (deviceReachable / deviceUnreachable)
  };

  fc::coap::Message handle(const fc::coap::IncomingRequest& r);
  fc::coap::Message registerClient(const fc::coap::IncomingRequest& r);
  fc::coap::Message updateClient(const fc::coap::IncomingRequest& r);
  fc::coap::Message deregisterClient(const fc::coap::IncomingRequest& r);
  [[nodiscard]] std::optional<Lwm2mClient> clientAt(const std::string& location) const;
  /// Why `peer` may not update or end `client`'s registration, or nullopt: a registration made over
  /// DTLS is kept by a DTLS session of the same device (a plain-UDP peer that learnt the location
  /// must not move it to its own address and read the device's commands in clear).
  [[nodiscard]] std::optional<std::string> refusesSender(const Lwm2mClient& client, const fc::coap::PeerKey& peer) const;
  void journalExchange(const std::string& deviceId, const std::string& transport, const fc::coap::IncomingRequest& r,
                       const fc::coap::Message& response);
  /// A refused Register whose endpoint names a device (known to the authorizer) goes to its journal.
  fc::coap::Message refuseRegister(const fc::coap::IncomingRequest& r, fc::coap::Message response);
  /// The downlinks that may go now (under the lock), to be sent by send() after it is released.
  std::vector<std::pair<Lwm2mClient, Downlink>> takeSendable(const std::string& deviceId, core::TimePoint now);
  void send(const Lwm2mClient& client, Downlink d);
  /// Queues a downlink for the device and sends what may go now; a refused one is told why.
  void enqueue(const std::string& deviceId, Downlink d);
  /// Tells a downlink that will never go out why: `started` nullopt, then its handler the error.
  static void refuse(Downlink& d, std::error_code why);
  void ended(const Lwm2mClient& client, std::deque<Downlink> waiting, const std::string& why);
  /// Tells the platform which queue-mode clients fell asleep or woke up since it was last told, so
  /// the command queue holds their commands PENDING while they sleep.
  /// Only `deviceId` when given (it was just heard from), else every client (the scheduler's tick).
  void syncReachability(core::TimePoint now, const std::string* deviceId = nullptr);

  core::Platform& platform_;
  CoapServer& coap_;
  Lwm2mAuthorizer authorize_;
  Lwm2mListener* listener_ = nullptr;

  mutable std::mutex mutex_;
  lwm2m::Registry registry_;
  std::map<std::string, Entry> byDevice_;                // device id → registration
  std::map<std::string, std::string, std::less<>> deviceOfEndpoint_;  // endpoint → device id
  std::map<fc::coap::Endpoint::RequestId, Lwm2mClient> sentTo_;  // downlinks out, until they end (cancel's journal)
};

}  // namespace fc::server::coap

template <>
struct std::is_error_code_enum<fc::server::coap::Lwm2mError> : std::true_type {};
