// The LwM2M Registration interface and downlink gate; the contract is at the top of lwm2m_server.hpp.
#include "server/coap/lwm2m_server.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace fc::server::coap {
namespace {

namespace fcoap = fc::coap;

std::string summary(const fcoap::Message& m, std::string_view path) {
  std::string s = std::string(fcoap::typeName(m.type)) + " " + fcoap::codeName(m.code);
  if (!path.empty()) s += " /" + std::string(path);
  if (auto q = m.getStrings(fcoap::option::kUriQuery); !q.empty()) {
    s += "?";
    for (std::size_t i = 0; i < q.size(); ++i) s += (i ? "&" : "") + std::string(q[i]);
  }
  if (auto observe = m.getUint(fcoap::option::kObserve)) s += " Observe " + std::to_string(*observe);
  if (auto accept = m.getUint(fcoap::option::kAccept)) s += " Accept " + std::to_string(*accept);
  if (!m.payload.empty()) s += " (" + std::to_string(m.payload.size()) + " bytes)";
  return s;
}

std::uint64_t randomSeed() {
  std::uint64_t seed = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1)
    seed = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return seed;
}

class Lwm2mCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m"; }
  std::string message(int e) const override {
    switch (static_cast<Lwm2mError>(e)) {
      case Lwm2mError::NotRegistered:
        return "the device is not registered";
      case Lwm2mError::Deregistered:
        return "the registration ended before the device was reachable";
      case Lwm2mError::TooManyQueued:
        return "too many downlinks wait for the device";
    }
    return "lwm2m error";
  }
};

}  // namespace

const std::error_category& lwm2mCategory() noexcept {
  static const Lwm2mCategory category;
  return category;
}

std::error_code make_error_code(Lwm2mError e) noexcept { return {static_cast<int>(e), lwm2mCategory()}; }

std::string Lwm2mClient::path(std::string_view objectPath) const {
  std::string root = registration.objects.rootPath;
  while (!root.empty() && root.back() == '/') root.pop_back();
  while (!objectPath.empty() && objectPath.front() == '/') objectPath.remove_prefix(1);
  if (!root.empty() && root.front() == '/') root.erase(0, 1);
  return root.empty() ? std::string(objectPath) : root + "/" + std::string(objectPath);
}

Lwm2mServer::Lwm2mServer(core::Platform& platform, CoapServer& coap, lwm2m::RegistryOptions options)
    : platform_(platform), coap_(coap), registry_(options, randomSeed()) {}

fcoap::Resource Lwm2mServer::resource() {
  return fcoap::Resource{std::string(lwm2m::kRegistrationPath), true, {fcoap::code::kPost, fcoap::code::kDelete},
                         {{"rt", "core.rd", true}}, true,
                         [this](const fcoap::IncomingRequest& r) { return handle(r); }};
}

fcoap::Message Lwm2mServer::handle(const fcoap::IncomingRequest& r) {
  switch (lwm2m::classify(r.message)) {
    case lwm2m::RegistrationOp::Register:
      return registerClient(r);
    case lwm2m::RegistrationOp::Update:
      return updateClient(r);
    case lwm2m::RegistrationOp::Deregister:
      return deregisterClient(r);
    default: {
      auto parsed = r.message.code == fcoap::code::kDelete ? lwm2m::parseDeregister(r.message).error()
                                                            : lwm2m::parseUpdate(r.message).error();
      spdlog::info("lwm2m {}: {} /{}: {}", r.peer, fcoap::codeName(r.message.code), r.path, parsed.message());
      return fcoap::makeResponse(parsed.code(), parsed.message());
    }
  }
}

void Lwm2mServer::journalExchange(const std::string& deviceId, const std::string& transport,
                                  const fcoap::IncomingRequest& r, const fcoap::Message& response) {
  if (auto in = fcoap::encode(r.message))  // decoded, so it encodes
    platform_.journal(deviceId, "in", transport, "/" + r.path, std::move(*in), summary(r.message, r.path));
  fcoap::Message wire = response;
  wire.type = r.message.type == fcoap::Type::Confirmable ? fcoap::Type::Acknowledgement : fcoap::Type::NonConfirmable;
  wire.messageId = r.message.messageId;
  wire.token = r.message.token;
  if (auto out = fcoap::encode(wire))  // one that cannot be encoded is replaced by a 5.00 on the wire
    platform_.journal(deviceId, "out", transport, "/" + r.path, std::move(*out), summary(wire, {}));
}

fcoap::Message Lwm2mServer::refuseRegister(const fcoap::IncomingRequest& r, fcoap::Message response) {
  const auto endpoint = lwm2m::registerEndpoint(r.message);
  if (!endpoint || !authorize_) return response;
  // The authorizer only looks the endpoint up: asking it about a malformed Register changes nothing.
  const auto who = authorize_(*endpoint, r.peer);
  const auto deviceId = who ? who->deviceId : who.error().deviceId;
  if (!deviceId.empty()) journalExchange(deviceId, transportOf(r.peer), r, response);
  return response;
}

fcoap::Message Lwm2mServer::registerClient(const fcoap::IncomingRequest& r) {
  auto request = lwm2m::parseRegister(r.message);
  if (!request) {
    spdlog::info("lwm2m {}: Register refused: {}", r.peer, request.error().message());
    return refuseRegister(r, fcoap::makeResponse(request.error().code(), request.error().message()));
  }
  auto admission = authorize_ ? authorize_(request->endpoint, r.peer)
                              : Expected<Lwm2mAdmission, Lwm2mRefusal>(Unexpected(Lwm2mRefusal{"no authorizer", {}}));
  if (!admission) {
    spdlog::info("lwm2m {}: Register of ep={} refused (4.03): {}", r.peer, request->endpoint, admission.error().reason);
    auto refused = fcoap::makeResponse(fcoap::code::kForbidden, admission.error().reason);
    if (!admission.error().deviceId.empty())
      journalExchange(admission.error().deviceId, transportOf(r.peer), r, refused);
    return refused;
  }
  const auto now = platform_.clock().now();
  Lwm2mClient client;
  std::optional<Lwm2mClient> previous;
  std::deque<Downlink> carried;
  {
    std::lock_guard lock(mutex_);
    if (auto it = byDevice_.find(admission->deviceId); it != byDevice_.end()) {
      // The same device again (a reboot, a new address): its old registration ends, what waited
      // for it now waits for the new one.
      previous = it->second.client;
      carried = std::move(it->second.waiting);
      (void)registry_.deregister(it->second.client.registration.location, now);
      deviceOfEndpoint_.erase(it->second.client.registration.endpoint);
      byDevice_.erase(it);
    }
    auto registered = registry_.registerClient(std::move(*request), now);
    if (registered.replaced) {
      // Another device registered under this endpoint name before (a nodeId was changed).
      if (auto other = deviceOfEndpoint_.find(registered.replaced->endpoint); other != deviceOfEndpoint_.end()) {
        byDevice_.erase(other->second);
        deviceOfEndpoint_.erase(other);
      }
    }
    client = Lwm2mClient{admission->deviceId, admission->transport, r.peer, registered.registration};
    byDevice_[client.deviceId] = Entry{client, std::move(carried)};
    deviceOfEndpoint_[client.registration.endpoint] = client.deviceId;
  }
  auto response = fcoap::makeResponse(fcoap::code::kCreated);
  lwm2m::setRegistrationLocation(response, client.registration.location);
  spdlog::info("lwm2m {}: device {} registered as ep={} lt={} b={} at rd/{}", r.peer, client.deviceId,
               client.registration.endpoint, client.registration.lifetime, client.registration.binding.toString(),
               client.registration.location);
  if (previous && listener_) listener_->deregistered(*previous, "registered again");
  journalExchange(client.deviceId, client.transport, r, response);
  platform_.deviceConnected(client.deviceId, client.transport, r.peer);
  platform_.deviceReachable(client.deviceId);
  if (listener_) listener_->registered(client);
  for (auto& [c, d] : takeSendable(client.deviceId, now)) send(c, std::move(d));
  return response;
}

std::optional<Lwm2mClient> Lwm2mServer::clientAt(const std::string& location) const {
  std::lock_guard lock(mutex_);
  const auto* reg = registry_.byLocation(location);
  if (!reg) return std::nullopt;
  auto d = deviceOfEndpoint_.find(reg->endpoint);
  if (d == deviceOfEndpoint_.end()) return std::nullopt;
  return byDevice_.at(d->second).client;
}

std::optional<std::string> Lwm2mServer::refusesSender(const Lwm2mClient& client, const fcoap::PeerKey& peer) const {
  if (client.transport != "coaps") return std::nullopt;  // NoSec: NAT may move a device to any address
  const auto session = coap_.dtlsPeer(peer);
  if (!session) return std::string("the registration was made over DTLS, the request came over plain UDP");
  if (session->deviceId != client.deviceId)
    return "the DTLS session (PSK identity '" + session->identity + "') belongs to device '" + session->deviceId + "'";
  return std::nullopt;
}

fcoap::Message Lwm2mServer::updateClient(const fcoap::IncomingRequest& r) {
  const auto now = platform_.clock().now();
  std::string version{lwm2m::kDefaultVersion};
  std::optional<Lwm2mClient> client;
  const auto location = r.path.substr(lwm2m::kRegistrationPath.size() + 1);
  const auto current = clientAt(location);
  if (current) {
    version = current->registration.version;
    if (auto why = refusesSender(*current, r.peer)) {
      spdlog::info("lwm2m {}: Update of /{} refused (4.03): {}", r.peer, r.path, *why);
      auto refused = fcoap::makeResponse(fcoap::code::kForbidden, *why);
      journalExchange(current->deviceId, transportOf(r.peer), r, refused);
      return refused;
    }
  }
  auto request = lwm2m::parseUpdate(r.message, version);
  if (!request) {
    spdlog::info("lwm2m {}: Update refused: {}", r.peer, request.error().message());
    auto refused = fcoap::makeResponse(request.error().code(), request.error().message());
    if (current) journalExchange(current->deviceId, transportOf(r.peer), r, refused);
    return refused;
  }
  bool moved = false;
  {
    std::lock_guard lock(mutex_);
    auto updated = registry_.update(*request, now);
    if (updated) {
      if (auto d = deviceOfEndpoint_.find(updated->endpoint); d != deviceOfEndpoint_.end()) {
        auto& entry = byDevice_.at(d->second);
        moved = entry.client.peer != r.peer;
        entry.client.peer = r.peer;
        entry.client.registration = *updated;
        client = entry.client;
      }
    }
  }
  if (!client) {
    spdlog::info("lwm2m {}: Update of unknown registration /{} (4.04)", r.peer, r.path);
    return fcoap::makeResponse(fcoap::code::kNotFound, "no such registration: register again");
  }
  auto response = fcoap::makeResponse(fcoap::code::kChanged);
  journalExchange(client->deviceId, client->transport, r, response);
  if (moved) platform_.deviceConnected(client->deviceId, client->transport, r.peer);
  if (listener_) listener_->updated(*client, moved);
  syncReachability(now, &client->deviceId);
  for (auto& [c, d] : takeSendable(client->deviceId, now)) send(c, std::move(d));
  return response;
}

fcoap::Message Lwm2mServer::deregisterClient(const fcoap::IncomingRequest& r) {
  auto request = lwm2m::parseDeregister(r.message);
  if (!request) return fcoap::makeResponse(request.error().code(), request.error().message());
  if (const auto current = clientAt(request->location))
    if (auto why = refusesSender(*current, r.peer)) {
      spdlog::info("lwm2m {}: De-register of /{} refused (4.03): {}", r.peer, r.path, *why);
      auto refused = fcoap::makeResponse(fcoap::code::kForbidden, *why);
      journalExchange(current->deviceId, transportOf(r.peer), r, refused);
      return refused;
    }
  const auto now = platform_.clock().now();
  std::optional<Lwm2mClient> client;
  std::deque<Downlink> waiting;
  {
    std::lock_guard lock(mutex_);
    auto removed = registry_.deregister(request->location, now);
    if (removed) {
      if (auto d = deviceOfEndpoint_.find(removed->endpoint); d != deviceOfEndpoint_.end()) {
        auto it = byDevice_.find(d->second);
        client = it->second.client;
        waiting = std::move(it->second.waiting);
        byDevice_.erase(it);
        deviceOfEndpoint_.erase(d);
      }
    }
  }
  if (!client) {
    spdlog::info("lwm2m {}: De-register of unknown registration /{} (4.04)", r.peer, r.path);
    return fcoap::makeResponse(fcoap::code::kNotFound, "no such registration");
  }
  auto response = fcoap::makeResponse(fcoap::code::kDeleted);
  spdlog::info("lwm2m {}: device {} deregistered", r.peer, client->deviceId);
  journalExchange(client->deviceId, client->transport, r, response);
  ended(*client, std::move(waiting), "deregistered");
  return response;
}

void Lwm2mServer::ended(const Lwm2mClient& client, std::deque<Downlink> waiting, const std::string& why) {
  platform_.deviceDisconnected(client.deviceId);
  if (listener_) listener_->deregistered(client, why);
  for (auto& d : waiting) refuse(d, make_error_code(Lwm2mError::Deregistered));
}

void Lwm2mServer::syncReachability(core::TimePoint now, const std::string* deviceId) {
  std::vector<std::pair<std::string, bool>> changed;
  {
    std::lock_guard lock(mutex_);
    auto check = [&](const std::string& id, Entry& entry) {
      if (!entry.client.registration.binding.queue) return;
      const bool awake = registry_.awake(entry.client.registration.endpoint, now);
      if (awake != entry.reachable) changed.emplace_back(id, entry.reachable = awake);
    };
    if (deviceId == nullptr) {
      for (auto& [id, entry] : byDevice_) check(id, entry);
    } else if (auto it = byDevice_.find(*deviceId); it != byDevice_.end()) {
      check(it->first, it->second);
    }
  }
  for (const auto& [deviceId, awake] : changed) {
    spdlog::debug("lwm2m: queue-mode device {} is {}", deviceId, awake ? "awake" : "asleep");
    if (awake) platform_.deviceReachable(deviceId);
    else platform_.deviceUnreachable(deviceId);
  }
}

void Lwm2mServer::tick() {
  const auto now = platform_.clock().now();
  syncReachability(now);
  std::vector<std::pair<Lwm2mClient, std::deque<Downlink>>> expired;
  {
    std::lock_guard lock(mutex_);
    if (auto next = registry_.nextDeadline(); !next || *next > now) return;
    for (auto& reg : registry_.expire(now)) {
      auto d = deviceOfEndpoint_.find(reg.endpoint);
      if (d == deviceOfEndpoint_.end()) continue;
      auto it = byDevice_.find(d->second);
      expired.emplace_back(it->second.client, std::move(it->second.waiting));
      byDevice_.erase(it);
      deviceOfEndpoint_.erase(d);
    }
  }
  for (auto& [client, waiting] : expired) {
    spdlog::info("lwm2m {}: registration of device {} (ep={}) expired after lt={} s", client.peer, client.deviceId,
                 client.registration.endpoint, client.registration.lifetime);
    ended(client, std::move(waiting), "lifetime expired");
  }
}

void Lwm2mServer::reset() {
  std::vector<std::pair<Lwm2mClient, std::deque<Downlink>>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, entry] : byDevice_) {
      (void)registry_.deregister(entry.client.registration.location, platform_.clock().now());
      all.emplace_back(entry.client, std::move(entry.waiting));
    }
    byDevice_.clear();
    deviceOfEndpoint_.clear();
  }
  // The platform forgot the devices already: only the listener and the waiting downlinks are told.
  for (auto& [client, waiting] : all) {
    if (listener_) listener_->deregistered(client, "reset");
    for (auto& d : waiting) {
      if (d.done) d.done(Unexpected(make_error_code(Lwm2mError::Deregistered)));
      if (d.notify) d.notify(Unexpected(make_error_code(Lwm2mError::Deregistered)), true);
    }
  }
}

std::optional<Lwm2mClient> Lwm2mServer::client(const std::string& deviceId) const {
  std::lock_guard lock(mutex_);
  auto it = byDevice_.find(deviceId);
  return it == byDevice_.end() ? std::nullopt : std::optional<Lwm2mClient>(it->second.client);
}

bool Lwm2mServer::awake(const std::string& deviceId) const {
  std::lock_guard lock(mutex_);
  auto it = byDevice_.find(deviceId);
  return it != byDevice_.end() && registry_.awake(it->second.client.registration.endpoint, platform_.clock().now());
}

void Lwm2mServer::heardFrom(const std::string& deviceId) {
  const auto now = platform_.clock().now();
  {
    std::lock_guard lock(mutex_);
    auto it = byDevice_.find(deviceId);
    if (it == byDevice_.end()) return;
    registry_.heardFrom(it->second.client.registration.endpoint, now);
  }
  syncReachability(now, &deviceId);
  for (auto& [c, d] : takeSendable(deviceId, now)) send(c, std::move(d));
}

std::vector<std::pair<Lwm2mClient, Lwm2mServer::Downlink>> Lwm2mServer::takeSendable(const std::string& deviceId,
                                                                                    core::TimePoint now) {
  std::vector<std::pair<Lwm2mClient, Downlink>> out;
  std::lock_guard lock(mutex_);
  auto it = byDevice_.find(deviceId);
  if (it == byDevice_.end() || !registry_.awake(it->second.client.registration.endpoint, now)) return out;
  while (!it->second.waiting.empty()) {
    out.emplace_back(it->second.client, std::move(it->second.waiting.front()));
    it->second.waiting.pop_front();
  }
  return out;
}

void Lwm2mServer::send(const Lwm2mClient& client, Downlink d) {
  const auto uri = d.message.uriPath();
  const auto topic = "/" + uri;
  // Journaled as it went on the wire (message id, token, first block), once the endpoint sent it: a
  // queue-mode device's downlink may have waited, and one that could not start never went out.
  auto sent = [this, client, topic, uri](const fcoap::Message& m) {
    if (auto bytes = fcoap::encode(m))  // it went on the wire, so it encodes
      platform_.journal(client.deviceId, "out", client.transport, topic, std::move(*bytes), summary(m, uri));
  };
  // Any answer from the device is "heard from" (queue mode) and goes to the journal.
  auto heard = [this, client, topic](const fcoap::Message& m, bool notification) {
    heardFrom(client.deviceId);
    if (auto bytes = fcoap::encode(m))  // decoded, so it encodes
      platform_.journal(client.deviceId, "in", client.transport, topic, std::move(*bytes),
                        (notification ? "notification " : "") + summary(m, {}));
  };
  // Which device a downlink went to, while it runs: cancel() journals the GET with Observe 1 there.
  // The id is known once the request went out; the handlers below run later on the same strand.
  auto id = std::make_shared<std::optional<fcoap::Endpoint::RequestId>>();
  auto track = [this, client, id](const Expected<CoapServer::StartedRequest, fcoap::RequestError>& s) {
    if (!s) return;
    *id = s->id;
    std::lock_guard lock(mutex_);
    sentTo_[s->id] = client;
  };
  auto untrack = [this, id] {
    if (!*id) return;
    std::lock_guard lock(mutex_);
    sentTo_.erase(**id);
  };
  if (d.done) {
    // The endpoint drops `done` when it cannot start the request: keep a handle to report that.
    auto done = std::make_shared<fcoap::ResponseHandler>(std::move(d.done));
    coap_.request(
        client.peer, std::move(d.message),
        [done, heard, untrack](Expected<fcoap::Message, std::error_code> r) {
          untrack();
          if (r) heard(*r, false);
          (*done)(std::move(r));
        },
        {},
        [done, sent, track,
         started = std::move(d.started)](Expected<CoapServer::StartedRequest, fcoap::RequestError> s) {
          track(s);
          if (started) started(s ? std::optional<fcoap::Endpoint::RequestId>(s->id) : std::nullopt);
          if (!s) return (*done)(Unexpected(make_error_code(s.error())));
          sent(s->sent);
        });
  } else {
    auto notify = std::make_shared<fcoap::NotificationHandler>(std::move(d.notify));
    auto first = std::make_shared<bool>(true);
    coap_.observe(
        client.peer, std::move(d.message),
        [notify, heard, first, untrack](Expected<fcoap::Message, std::error_code> r, bool last) {
          if (last) untrack();
          if (r) heard(*r, !std::exchange(*first, false));
          (*notify)(std::move(r), last);
        },
        [notify, sent, track,
         started = std::move(d.started)](Expected<CoapServer::StartedRequest, fcoap::RequestError> s) {
          track(s);
          if (s)
            sent(s->sent);
          else
            (*notify)(Unexpected(make_error_code(s.error())), true);
          if (started) started(s ? std::optional<fcoap::Endpoint::RequestId>(s->id) : std::nullopt);
        });
  }
}

void Lwm2mServer::cancel(fcoap::Endpoint::RequestId id, bool deregister) {
  std::optional<Lwm2mClient> client;
  {
    std::lock_guard lock(mutex_);
    if (auto it = sentTo_.find(id); it != sentTo_.end()) client = it->second;
  }
  if (!client || !deregister) return coap_.cancel(id, deregister);
  // RFC 7641 §3.6: the GET with Observe 1 and its answer are exchanges with the device like any other.
  auto topic = std::make_shared<std::string>();  // set when the GET goes out, before any answer (one strand)
  coap_.cancel(
      id, true,
      [this, client = *client, topic](const fcoap::Message& m) {
        *topic = "/" + m.uriPath();
        if (auto bytes = fcoap::encode(m))  // it goes on the wire, so it encodes
          platform_.journal(client.deviceId, "out", client.transport, *topic, std::move(*bytes), summary(m, m.uriPath()));
      },
      [this, client = *client, topic](Expected<fcoap::Message, std::error_code> r) {
        if (!r) return;
        heardFrom(client.deviceId);
        if (auto bytes = fcoap::encode(*r))  // decoded, so it encodes
          platform_.journal(client.deviceId, "in", client.transport, *topic, std::move(*bytes), summary(*r, {}));
      });
}

void Lwm2mServer::request(const std::string& deviceId, fcoap::Message request, fcoap::ResponseHandler done,
                          Started started) {
  enqueue(deviceId, Downlink{std::move(request), std::move(done), {}, std::move(started)});
}

void Lwm2mServer::observe(const std::string& deviceId, fcoap::Message request, fcoap::NotificationHandler notify,
                          Started started) {
  enqueue(deviceId, Downlink{std::move(request), {}, std::move(notify), std::move(started)});
}

void Lwm2mServer::enqueue(const std::string& deviceId, Downlink d) {
  std::optional<Lwm2mError> refused;
  {
    std::lock_guard lock(mutex_);
    auto it = byDevice_.find(deviceId);
    if (it == byDevice_.end()) refused = Lwm2mError::NotRegistered;
    else if (it->second.waiting.size() >= kMaxQueuedDownlinks) refused = Lwm2mError::TooManyQueued;
    else it->second.waiting.push_back(std::move(d));
  }
  if (refused) return refuse(d, make_error_code(*refused));
  for (auto& [c, downlink] : takeSendable(deviceId, platform_.clock().now())) send(c, std::move(downlink));
}

void Lwm2mServer::refuse(Downlink& d, std::error_code why) {
  if (d.started) d.started(std::nullopt);
  if (d.done) d.done(Unexpected(why));
  if (d.notify) d.notify(Unexpected(why), true);
}

}  // namespace fc::server::coap
