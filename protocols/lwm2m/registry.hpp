// The LwM2M server's registration table (OMA-TS-LightweightM2M-V1_0 §5.3) as a pure state machine:
// Register / Update / De-register, lifetime expiry and queue-mode reachability (§5.3.1.1, §8.3 of
// LwM2M 1.1: "Queue Mode"). It owns no clock and no timer: every call takes `now`, and the caller
// arms one timer for nextDeadline() and calls expire() when it fires.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/lwm2m/registration.hpp"

namespace fc::lwm2m {

/// The registry runs on whatever time line the caller chooses; the server uses platform time (a
/// system_clock reading the admin API can freeze and advance), so a 24-hour lifetime test runs fast.
using RegistryClock = std::chrono::system_clock;
using TimePoint = RegistryClock::time_point;

struct RegistryOptions {
  /// How long a queue-mode client listens after it was last heard from. LwM2M recommends
  /// MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2, 93 s), which is Leshan's default too.
  std::chrono::seconds awakeWindow{93};
  /// Extra time after the lifetime before a registration expires. §5.3.1 removes the registration
  /// once the lifetime has passed, so the default is none; a server may allow for retransmissions.
  std::chrono::seconds gracePeriod{0};
  /// Length of generated location ids (letters and digits).
  std::size_t locationLength = 10;
};

/// One registered client.
struct Registration {
  std::string location;  ///< the {location} of rd/{location}
  std::string endpoint;
  std::uint32_t lifetime = kDefaultLifetime;
  std::string version{kDefaultVersion};
  Binding binding;
  std::optional<std::string> sms;
  ObjectLinks objects;
  TimePoint registeredAt{};
  TimePoint updatedAt{};  ///< last Register or Update: the lifetime runs from here (§5.3.2)
  TimePoint heardAt{};    ///< last message of any kind from the client (queue mode, §5.3.1.1)
  TimePoint expiresAt{};  ///< updatedAt + lifetime + grace period
  bool operator==(const Registration&) const = default;
};

/// What register() did.
struct Registered {
  Registration registration;
  /// An older registration of the same endpoint that this one replaced (§5.3.1: a client that
  /// registers again gets a new registration; the old one is gone).
  std::optional<Registration> replaced;
};

class Registry {
 public:
  /// `seed` drives location id generation, so tests are reproducible; the server passes a random one.
  explicit Registry(RegistryOptions options = {}, std::uint64_t seed = 0);

  /// §5.3.1 Register: a new registration with a fresh location id; replaces any registration of
  /// the same endpoint.
  Registered registerClient(RegisterRequest request, TimePoint now);

  /// §5.3.2 Update: refreshes the lifetime and applies what the request carries. A location that is
  /// unknown, or whose registration has expired (even if expire() has not yet been called), gives
  /// UnknownLocation (4.04) — the client then registers again.
  Expected<Registration, RegistrationFailure> update(const UpdateRequest& request, TimePoint now);

  /// §5.3.3 De-register: removes and returns the registration; UnknownLocation as for update().
  Expected<Registration, RegistrationFailure> deregister(std::string_view location, TimePoint now);

  /// Removes and returns every registration whose expiresAt is at or before `now`, oldest first.
  std::vector<Registration> expire(TimePoint now);
  /// The earliest expiresAt, or nullopt when the table is empty.
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;

  /// Records that the client sent something (a notification, a response): queue mode lets the
  /// server talk to it again for awakeWindow. False when the endpoint is not registered.
  bool heardFrom(std::string_view endpoint, TimePoint now);
  /// Whether a downlink may be sent to `endpoint` now: it is registered and not expired, and —
  /// with a queue-mode binding — it was heard from less than awakeWindow ago (§5.3.1.1).
  [[nodiscard]] bool awake(std::string_view endpoint, TimePoint now) const;
  /// The end of the current awake window of a queue-mode client; nullopt when not registered or
  /// not in queue mode (then it is reachable until it expires).
  [[nodiscard]] std::optional<TimePoint> awakeUntil(std::string_view endpoint) const;

  [[nodiscard]] const Registration* byLocation(std::string_view location) const;
  [[nodiscard]] const Registration* byEndpoint(std::string_view endpoint) const;
  [[nodiscard]] std::size_t size() const noexcept { return byLocation_.size(); }
  [[nodiscard]] const RegistryOptions& options() const noexcept { return options_; }

 private:
  std::string newLocation();
  void index(const Registration& r);
  void unindex(const Registration& r);
  Registration* live(std::string_view location, TimePoint now);

  RegistryOptions options_;
  std::mt19937_64 random_;
  std::map<std::string, Registration, std::less<>> byLocation_;
  std::map<std::string, std::string, std::less<>> locationOf_;  ///< endpoint → location
  std::set<std::pair<TimePoint, std::string>> deadlines_;       ///< (expiresAt, location)
};

}  // namespace fc::lwm2m
