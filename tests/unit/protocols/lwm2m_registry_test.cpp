// LwM2M registration table: every transition with explicit time points — register, re-register,
// update, de-register, lifetime expiry and deadlines, queue-mode awake windows.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "protocols/lwm2m/registry.hpp"

namespace {

namespace lwm2m = fc::lwm2m;
using namespace std::chrono_literals;
using lwm2m::RegistrationError;
using lwm2m::TimePoint;

const TimePoint kT0 = TimePoint{} + 1'000'000s;

lwm2m::RegisterRequest client(std::string endpoint, std::uint32_t lifetime = 20, bool queue = false) {
  lwm2m::RegisterRequest r;
  r.endpoint = std::move(endpoint);
  r.lifetime = lifetime;
  r.binding.queue = queue;
  r.objects.objects = {{19, "", {0, 1}}};
  return r;
}

lwm2m::UpdateRequest update(std::string location) {
  lwm2m::UpdateRequest u;
  u.location = std::move(location);
  return u;
}

TEST(Lwm2mRegistry, RegisterAssignsAShortUniqueLocation) {
  lwm2m::Registry registry({}, 42);
  std::set<std::string> locations;
  for (int i = 0; i < 200; ++i) {
    const auto r = registry.registerClient(client("dev" + std::to_string(i)), kT0);
    EXPECT_EQ(r.registration.location.size(), 10u);
    EXPECT_FALSE(r.replaced);
    locations.insert(r.registration.location);
  }
  EXPECT_EQ(locations.size(), 200u);
  EXPECT_EQ(registry.size(), 200u);

  const auto* r = registry.byEndpoint("dev7");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(registry.byLocation(r->location), r);
  EXPECT_EQ(r->registeredAt, kT0);
  EXPECT_EQ(r->updatedAt, kT0);
  EXPECT_EQ(r->heardAt, kT0);
  EXPECT_EQ(r->expiresAt, kT0 + 20s);
  EXPECT_EQ(r->objects.objects.size(), 1u);
  EXPECT_EQ(registry.byEndpoint("nobody"), nullptr);
  EXPECT_EQ(registry.byLocation("nowhere"), nullptr);
}

TEST(Lwm2mRegistry, SameSeedSameLocations) {
  lwm2m::Registry a({.locationLength = 4}, 7);
  lwm2m::Registry b({.locationLength = 4}, 7);
  EXPECT_EQ(a.registerClient(client("x"), kT0).registration.location,
            b.registerClient(client("x"), kT0).registration.location);
}

TEST(Lwm2mRegistry, ReRegisterReplacesTheOlderRegistration) {
  lwm2m::Registry registry;
  const auto first = registry.registerClient(client("dev", 20), kT0).registration;
  const auto second = registry.registerClient(client("dev", 30), kT0 + 5s);
  ASSERT_TRUE(second.replaced);
  EXPECT_EQ(second.replaced->location, first.location);
  EXPECT_NE(second.registration.location, first.location);
  EXPECT_EQ(registry.size(), 1u);
  EXPECT_EQ(registry.byLocation(first.location), nullptr);
  EXPECT_EQ(registry.byEndpoint("dev")->location, second.registration.location);
  EXPECT_EQ(registry.nextDeadline(), kT0 + 35s);
  // The old location is gone: an Update to it is 4.04 and the device re-registers (oceanconnect.md).
  const auto stale = registry.update(update(first.location), kT0 + 6s);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().error, RegistrationError::UnknownLocation);
  EXPECT_EQ(stale.error().code(), fc::coap::code::kNotFound);
  EXPECT_EQ(stale.error().detail, "rd/" + first.location);
}

TEST(Lwm2mRegistry, UpdateRefreshesTheLifetimeAndAppliesChanges) {
  lwm2m::Registry registry;
  const auto location = registry.registerClient(client("dev", 20), kT0).registration.location;

  auto u = registry.update(update(location), kT0 + 10s);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->updatedAt, kT0 + 10s);
  EXPECT_EQ(u->expiresAt, kT0 + 30s);
  EXPECT_EQ(u->registeredAt, kT0);
  EXPECT_EQ(registry.nextDeadline(), kT0 + 30s);

  auto change = update(location);
  change.lifetime = 100;
  change.binding = lwm2m::parseBinding("UQ").value();
  change.sms = "123";
  change.objects = lwm2m::parseObjectLinks("</3/0>").value();
  u = registry.update(change, kT0 + 20s);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->lifetime, 100u);
  EXPECT_TRUE(u->binding.queue);
  EXPECT_EQ(u->sms, "123");
  EXPECT_EQ(u->objects.objects.front().id, 3);
  EXPECT_EQ(u->expiresAt, kT0 + 120s);
  EXPECT_EQ(*registry.byLocation(location), *u);
  EXPECT_EQ(registry.update(update("nope"), kT0).error().error, RegistrationError::UnknownLocation);
}

TEST(Lwm2mRegistry, LifetimeExpiry) {
  lwm2m::Registry registry;
  EXPECT_FALSE(registry.nextDeadline());
  const auto a = registry.registerClient(client("a", 20), kT0).registration.location;
  const auto b = registry.registerClient(client("b", 60), kT0).registration.location;
  const auto c = registry.registerClient(client("c", 20), kT0 + 1s).registration.location;
  EXPECT_EQ(registry.nextDeadline(), kT0 + 20s);

  EXPECT_TRUE(registry.expire(kT0 + 19s).empty());
  // Exactly at the lifetime the registration is gone (§5.3.1).
  auto expired = registry.expire(kT0 + 20s);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].endpoint, "a");
  EXPECT_EQ(registry.nextDeadline(), kT0 + 21s);

  // An Update that arrives after the lifetime but before expire() ran is already too late.
  EXPECT_EQ(registry.update(update(c), kT0 + 21s).error().error, RegistrationError::UnknownLocation);
  EXPECT_EQ(registry.deregister(c, kT0 + 21s).error().error, RegistrationError::UnknownLocation);
  EXPECT_FALSE(registry.awake("c", kT0 + 21s));
  EXPECT_FALSE(registry.heardFrom("c", kT0 + 21s));
  expired = registry.expire(kT0 + 100s);
  ASSERT_EQ(expired.size(), 2u);
  EXPECT_EQ(expired[0].endpoint, "c");  // earliest deadline first
  EXPECT_EQ(expired[1].endpoint, "b");
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.nextDeadline());
  (void)a;
  (void)b;
}

TEST(Lwm2mRegistry, GracePeriodDelaysExpiry) {
  lwm2m::Registry registry({.gracePeriod = 5s});
  registry.registerClient(client("a", 20), kT0);
  EXPECT_EQ(registry.nextDeadline(), kT0 + 25s);
  EXPECT_TRUE(registry.expire(kT0 + 24s).empty());
  EXPECT_EQ(registry.expire(kT0 + 25s).size(), 1u);
}

TEST(Lwm2mRegistry, Deregister) {
  lwm2m::Registry registry;
  const auto location = registry.registerClient(client("dev"), kT0).registration.location;
  auto d = registry.deregister(location, kT0 + 1s);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->endpoint, "dev");
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_FALSE(registry.nextDeadline());
  EXPECT_EQ(registry.byEndpoint("dev"), nullptr);
  EXPECT_EQ(registry.deregister(location, kT0 + 1s).error().error, RegistrationError::UnknownLocation);
  EXPECT_TRUE(registry.expire(kT0 + 1000s).empty());
}

TEST(Lwm2mRegistry, NonQueueClientIsReachableUntilItExpires) {
  lwm2m::Registry registry({.awakeWindow = 5s});
  registry.registerClient(client("dev", 20, false), kT0);
  EXPECT_TRUE(registry.awake("dev", kT0));
  EXPECT_TRUE(registry.awake("dev", kT0 + 19s));
  EXPECT_FALSE(registry.awake("dev", kT0 + 20s));
  EXPECT_FALSE(registry.awakeUntil("dev"));
  EXPECT_FALSE(registry.awake("unknown", kT0));
}

TEST(Lwm2mRegistry, QueueModeAwakeWindow) {
  lwm2m::Registry registry({.awakeWindow = 5s});
  const auto location = registry.registerClient(client("dev", 300, true), kT0).registration.location;
  // Registering counts as being heard from.
  EXPECT_TRUE(registry.awake("dev", kT0));
  EXPECT_TRUE(registry.awake("dev", kT0 + 4s));
  EXPECT_FALSE(registry.awake("dev", kT0 + 5s));
  EXPECT_EQ(registry.awakeUntil("dev"), kT0 + 5s);

  // A notification wakes it again…
  EXPECT_TRUE(registry.heardFrom("dev", kT0 + 60s));
  EXPECT_TRUE(registry.awake("dev", kT0 + 64s));
  EXPECT_FALSE(registry.awake("dev", kT0 + 65s));
  // …an older timestamp does not move the window back…
  EXPECT_TRUE(registry.heardFrom("dev", kT0 + 30s));
  EXPECT_EQ(registry.awakeUntil("dev"), kT0 + 65s);
  // …and so does an Update, which also refreshes the lifetime.
  ASSERT_TRUE(registry.update(update(location), kT0 + 100s));
  EXPECT_TRUE(registry.awake("dev", kT0 + 101s));
  EXPECT_FALSE(registry.awake("dev", kT0 + 106s));
  EXPECT_EQ(registry.byEndpoint("dev")->expiresAt, kT0 + 400s);
  EXPECT_FALSE(registry.heardFrom("other", kT0));
}

TEST(Lwm2mRegistry, DefaultAwakeWindowIsMaxTransmitWait) {
  EXPECT_EQ(lwm2m::RegistryOptions{}.awakeWindow, 93s);
  EXPECT_EQ(lwm2m::RegistryOptions{}.gracePeriod, 0s);
}

}  // namespace
