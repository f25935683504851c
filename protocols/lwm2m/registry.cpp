// LwM2M registration table; the contract is in registry.hpp.
#include "protocols/lwm2m/registry.hpp"

#include <algorithm>

namespace fc::lwm2m {
namespace {

constexpr std::string_view kLocationAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

RegistrationFailure unknown(std::string_view location) {
  return {RegistrationError::UnknownLocation, "rd/" + std::string(location)};
}

}  // namespace

Registry::Registry(RegistryOptions options, std::uint64_t seed) : options_(options), random_(seed) {
  if (options_.locationLength == 0) options_.locationLength = 1;
}

std::string Registry::newLocation() {
  std::uniform_int_distribution<std::size_t> pick(0, kLocationAlphabet.size() - 1);
  for (;;) {
    std::string id;
    for (std::size_t i = 0; i < options_.locationLength; ++i) id.push_back(kLocationAlphabet[pick(random_)]);
    if (!byLocation_.contains(id)) return id;
  }
}

void Registry::index(const Registration& r) {
  locationOf_[r.endpoint] = r.location;
  deadlines_.emplace(r.expiresAt, r.location);
}

void Registry::unindex(const Registration& r) {
  const auto it = locationOf_.find(r.endpoint);
  if (it != locationOf_.end() && it->second == r.location) locationOf_.erase(it);
  deadlines_.erase({r.expiresAt, r.location});
}

Registration* Registry::live(std::string_view location, TimePoint now) {
  const auto it = byLocation_.find(location);
  if (it == byLocation_.end() || it->second.expiresAt <= now) return nullptr;
  return &it->second;
}

Registered Registry::registerClient(RegisterRequest request, TimePoint now) {
  Registered out;
  if (const auto it = locationOf_.find(request.endpoint); it != locationOf_.end()) {
    auto old = byLocation_.extract(it->second);
    unindex(old.mapped());
    out.replaced = std::move(old.mapped());
  }
  Registration r;
  r.location = newLocation();
  r.endpoint = std::move(request.endpoint);
  r.lifetime = request.lifetime;
  r.version = std::move(request.version);
  r.binding = request.binding;
  r.sms = std::move(request.sms);
  r.objects = std::move(request.objects);
  r.registeredAt = r.updatedAt = r.heardAt = now;
  r.expiresAt = now + std::chrono::seconds(r.lifetime) + options_.gracePeriod;
  index(r);
  out.registration = r;
  byLocation_.emplace(r.location, std::move(r));
  return out;
}

Expected<Registration, RegistrationFailure> Registry::update(const UpdateRequest& request, TimePoint now) {
  Registration* r = live(request.location, now);
  if (r == nullptr) return Unexpected(unknown(request.location));
  unindex(*r);
  if (request.lifetime) r->lifetime = *request.lifetime;
  if (request.binding) r->binding = *request.binding;
  if (request.sms) r->sms = *request.sms;
  if (request.objects) r->objects = *request.objects;
  r->updatedAt = r->heardAt = now;
  r->expiresAt = now + std::chrono::seconds(r->lifetime) + options_.gracePeriod;
  index(*r);
  return *r;
}

Expected<Registration, RegistrationFailure> Registry::deregister(std::string_view location, TimePoint now) {
  if (live(location, now) == nullptr) return Unexpected(unknown(location));
  auto node = byLocation_.extract(byLocation_.find(location));
  unindex(node.mapped());
  return std::move(node.mapped());
}

std::vector<Registration> Registry::expire(TimePoint now) {
  std::vector<Registration> out;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const std::string location = deadlines_.begin()->second;
    auto node = byLocation_.extract(location);
    unindex(node.mapped());
    out.push_back(std::move(node.mapped()));
  }
  return out;
}

std::optional<TimePoint> Registry::nextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

bool Registry::heardFrom(std::string_view endpoint, TimePoint now) {
  const auto it = locationOf_.find(endpoint);
  if (it == locationOf_.end()) return false;
  Registration* r = live(it->second, now);
  if (r == nullptr) return false;
  r->heardAt = std::max(r->heardAt, now);
  return true;
}

bool Registry::awake(std::string_view endpoint, TimePoint now) const {
  const Registration* r = byEndpoint(endpoint);
  if (r == nullptr || r->expiresAt <= now) return false;
  return !r->binding.queue || now < r->heardAt + options_.awakeWindow;
}

std::optional<TimePoint> Registry::awakeUntil(std::string_view endpoint) const {
  const Registration* r = byEndpoint(endpoint);
  if (r == nullptr || !r->binding.queue) return std::nullopt;
  return r->heardAt + options_.awakeWindow;
}

const Registration* Registry::byLocation(std::string_view location) const {
  const auto it = byLocation_.find(location);
  return it == byLocation_.end() ? nullptr : &it->second;
}

const Registration* Registry::byEndpoint(std::string_view endpoint) const {
  const auto it = locationOf_.find(endpoint);
  return it == locationOf_.end() ? nullptr : byLocation(it->second);
}

}  // namespace fc::lwm2m
