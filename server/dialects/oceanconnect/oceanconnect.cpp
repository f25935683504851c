// The oceanconnect dialect; the contract is at the top of oceanconnect.hpp.
#include "server/dialects/oceanconnect/oceanconnect.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "protocols/dialects/oceanconnect/codec_profile.hpp"
#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
namespace fcoap = fc::coap;

constexpr const char* kDataPath = "19/0/0";     // LwM2M object 19 (BinaryAppDataContainer), uplink instance
constexpr const char* kCommandPath = "19/1/0";  // downlink instance
constexpr std::size_t kMaxAwaiting = 256;       // per device; the oldest is forgotten beyond it

std::string failed(const std::string& detail) {
  return json{{"resultCode", "FAILED"}, {"resultDetail", detail}}.dump();
}

}  // namespace

OceanConnectDialect::OceanConnectDialect(core::Platform& platform, coap::Lwm2mServer& lwm2m)
    : platform_(platform), lwm2m_(lwm2m) {
  lwm2m_.setAuthorizer([this](const std::string& endpoint, const fcoap::PeerKey& peer) { return admit(endpoint, peer); });
  lwm2m_.setListener(this);
}

Expected<coap::Lwm2mAdmission, coap::Lwm2mRefusal> OceanConnectDialect::admit(const std::string& endpoint,
                                                                              const fcoap::PeerKey& peer) const {
  auto device = findOceanConnectDevice(platform_, endpoint);
  if (!device) return Unexpected(coap::Lwm2mRefusal{"no oceanconnect device has nodeId '" + endpoint + "'", {}});
  const auto security = peerLookup_ ? peerLookup_(peer) : std::nullopt;
  if (!security) return coap::Lwm2mAdmission{device->id, "coap"};
  if (security->deviceId != device->id)
    return Unexpected(coap::Lwm2mRefusal{"the DTLS session (PSK identity '" + security->identity +
                                             "') belongs to device '" + security->deviceId + "', not to '" +
                                             device->id + "' (nodeId '" + endpoint + "')",
                                         device->id});
  return coap::Lwm2mAdmission{device->id, "coaps"};
}

void OceanConnectDialect::registered(const coap::Lwm2mClient& client) { observeData(client); }

// An Update from a new address (the observation went to the old one, and the device answers its
// notifications there with RST), or after the observation ended: observe /19/0/0 again, or the
// device keeps its data until it next registers.
void OceanConnectDialect::updated(const coap::Lwm2mClient& client, bool moved) {
  std::optional<fcoap::Endpoint::RequestId> previous;
  {
    std::lock_guard lock(mutex_);
    auto it = observations_.find(client.deviceId);
    const bool live = it != observations_.end() && it->second.location == client.registration.location &&
                      !it->second.ended;
    if (live && !moved) return;
    if (it != observations_.end()) previous = it->second.id;
  }
  spdlog::log(moved ? spdlog::level::info : spdlog::level::debug, "oceanconnect {}: observing /19/0/0 again ({})",
              client.deviceId, moved ? "the device's address changed" : "the last observation ended");
  if (previous) lwm2m_.cancel(*previous, false);
  observeData(client);
}

void OceanConnectDialect::observeData(const coap::Lwm2mClient& client) {
  std::uint64_t serial = 0;
  {
    std::lock_guard lock(mutex_);
    serial = nextObservationSerial_++;
    observations_[client.deviceId] = {client.registration.location, serial, std::nullopt, false};
  }
  // LiteOS reports on /19/0/0 once the platform observes it (the manual's "subscribed" state).
  fcoap::Message request;
  request.code = fcoap::code::kGet;
  request.setUriPath(client.path(kDataPath));
  request.setUint(fcoap::option::kAccept, fcoap::format::kOctetStream);
  const auto deviceId = client.deviceId;
  auto ended = [this, deviceId, serial] {
    std::lock_guard lock(mutex_);
    if (auto it = observations_.find(deviceId); it != observations_.end() && it->second.serial == serial)
      it->second.ended = true;
  };
  lwm2m_.observe(
      deviceId, std::move(request),
      [this, client, ended](Expected<fcoap::Message, std::error_code> m, bool last) {
        if (last) ended();
        if (!m) {
          spdlog::info("oceanconnect {}: observation of /19/0/0 ended: {}", client.deviceId, m.error().message());
          return;
        }
        notification(client, *m);
        if (last) spdlog::info("oceanconnect {}: observation of /19/0/0 ended with {}", client.deviceId,
                               fcoap::codeName(m->code));
      },
      [this, deviceId, serial, ended](std::optional<fcoap::Endpoint::RequestId> id) {
        if (!id) return ended();
        bool stale = false;
        {
          std::lock_guard lock(mutex_);
          auto it = observations_.find(deviceId);
          stale = it == observations_.end() || it->second.serial != serial;
          if (!stale) it->second.id = *id;
        }
        if (stale) lwm2m_.cancel(*id);  // the registration ended, or a newer observation replaced this one
      });
}

void OceanConnectDialect::deregistered(const coap::Lwm2mClient& client, const std::string& why) {
  std::optional<fcoap::Endpoint::RequestId> observation;
  {
    std::lock_guard lock(mutex_);
    auto it = observations_.find(client.deviceId);
    if (it == observations_.end() || it->second.location != client.registration.location) return;
    observation = it->second.id;
    observations_.erase(it);
  }
  spdlog::debug("oceanconnect {}: registration ended ({})", client.deviceId, why);
  if (observation) lwm2m_.cancel(*observation);
}

void OceanConnectDialect::notification(const coap::Lwm2mClient& client, const fcoap::Message& m) {
  if (m.code.codeClass() != 2 || m.payload.empty()) return;  // the first answer may carry no data
  platform_.recordUplink(client.deviceId, client.transport, "/19/0/0", m.payload, "application/octet-stream");
  auto device = platform_.device(client.deviceId);
  auto product = device ? platform_.product(device->productId) : std::nullopt;
  if (product) commandResponse(client.deviceId, *product, m.payload);
}

void OceanConnectDialect::commandResponse(const std::string& deviceId, const core::Product& product,
                                          std::span<const std::uint8_t> bytes) {
  auto profile = loadCodecProfile(product);
  if (!profile || !*profile) return;  // without a profile every report is raw data
  auto kind = (*profile)->classify(bytes);
  if (!kind || *kind != fc::oceanconnect::UplinkKind::CommandResponse) return;
  auto response = (*profile)->decodeCommandResponse(bytes);
  if (!response) {
    spdlog::info("oceanconnect {}: command response not decoded: {}", deviceId, response.error().message());
    return;
  }
  // Commands that reached a final status (TIMEOUT, EXPIRED, CANCELED …) await nothing any more.
  std::vector<std::string> awaiting;
  {
    std::lock_guard lock(mutex_);
    for (const auto& a : awaiting_[deviceId]) awaiting.push_back(a.commandId);
  }
  std::set<std::string> ended;
  for (const auto& id : awaiting)
    if (auto c = platform_.command(id); !c || core::isFinal(c->status)) ended.insert(id);
  // The response answers the command whose mid it carries; failing that, the oldest one sent as raw
  // bytes (their mid is unknown). A response without a mid answers the oldest command.
  std::optional<Awaiting> match;
  {
    std::lock_guard lock(mutex_);
    auto& queue = awaiting_[deviceId];
    std::erase_if(queue, [&](const Awaiting& a) { return ended.contains(a.commandId); });
    auto it = queue.begin();
    if (response->mid) {
      it = std::find_if(queue.begin(), queue.end(), [&](const Awaiting& a) { return a.mid == response->mid; });
      if (it == queue.end()) it = std::find_if(queue.begin(), queue.end(), [](const Awaiting& a) { return !a.mid; });
    }
    if (it != queue.end()) {
      match = *it;
      queue.erase(it);
    }
  }
  if (!match) {
    spdlog::info("oceanconnect {}: command response (mid {}) matches no command awaiting one", deviceId,
                 response->mid ? std::to_string(*response->mid) : std::string("none"));
    return;
  }
  json result{{"resultCode", response->success ? "SUCCESSFUL" : "FAILED"}, {"result", response->result}};
  result["mid"] = response->mid ? json(*response->mid) : (match->mid ? json(*match->mid) : json(nullptr));
  auto done = platform_.commandCompleted(match->commandId, response->success, result.dump());
  if (!done) spdlog::info("oceanconnect {}: command {} not completed: {}", deviceId, match->commandId, done.error().message);
}

void OceanConnectDialect::fail(const std::string& commandId, const std::string& detail) {
  {
    std::lock_guard lock(mutex_);  // a failed command awaits no response any more
    for (auto& [device, queue] : awaiting_)
      std::erase_if(queue, [&](const Awaiting& a) { return a.commandId == commandId; });
  }
  auto done = platform_.commandCompleted(commandId, false, failed(detail));
  if (!done) spdlog::info("oceanconnect: command {} not failed: {}", commandId, done.error().message);
}

void OceanConnectDialect::sendCommand(const core::Device& device, const core::Product& product,
                                      const core::Command& command) {
  std::vector<std::uint8_t> bytes;
  std::optional<std::uint16_t> mid;
  if (command.spec.binary) {
    bytes.assign(command.spec.payload.begin(), command.spec.payload.end());
  } else {
    auto profile = loadCodecProfile(product);
    if (!profile) return fail(command.id, profile.error());
    if (!*profile)
      return fail(command.id, "the product has no codec profile: send the command's bytes as payloadBase64");
    const auto body = json::parse(command.spec.payload, nullptr, false);
    if (!body.is_object() || !body.contains("serviceId") || !body["serviceId"].is_string() ||
        !body.contains("method") || !body["method"].is_string())
      return fail(command.id, "the payload must be {\"serviceId\": \"…\", \"method\": \"…\", \"paras\": {…}}");
    std::uint16_t next = 0;
    {
      std::lock_guard lock(mutex_);
      next = nextMid_++;
      if (nextMid_ == 0) nextMid_ = 1;
    }
    const auto serviceId = body["serviceId"].get<std::string>();
    const auto method = body["method"].get<std::string>();
    auto encoded = (*profile)->encodeCommand(serviceId, method, body.value("paras", json(nullptr)), next);
    if (!encoded) return fail(command.id, encoded.error().message());
    bytes = std::move(*encoded);
    if (const auto* c = (*profile)->findCommand(serviceId, method); c && c->midOffset) mid = next;
  }
  {
    std::lock_guard lock(mutex_);
    auto& queue = awaiting_[device.id];
    bool known = false;
    for (auto& a : queue)
      if (a.commandId == command.id) {
        a.mid = mid;  // a resend: the response now carries the new mid
        known = true;
      }
    if (!known) queue.push_back({command.id, mid});
    while (queue.size() > kMaxAwaiting) queue.pop_front();
  }
  auto client = lwm2m_.client(device.id);
  const auto path = client ? client->path(kCommandPath) : std::string(kCommandPath);
  fcoap::Message put;
  put.code = fcoap::code::kPut;
  put.setUriPath(path);
  put.setUint(fcoap::option::kContentFormat, fcoap::format::kOctetStream);
  put.payload = std::move(bytes);
  // A resend replaces the earlier PUT if CoAP is still retransmitting it.
  std::optional<fcoap::Endpoint::RequestId> superseded;
  std::uint64_t serial = 0;
  {
    std::lock_guard lock(mutex_);
    auto& flight = inFlight_[command.id];
    superseded = flight.id;
    flight = {nextSendSerial_++, std::nullopt};
    serial = flight.serial;
  }
  if (superseded) lwm2m_.cancel(*superseded, false);
  auto landed = [this, commandId = command.id, serial] {  // this PUT's exchange is over
    std::lock_guard lock(mutex_);
    if (auto it = inFlight_.find(commandId); it != inFlight_.end() && it->second.serial == serial) inFlight_.erase(it);
  };
  lwm2m_.request(
      device.id, std::move(put),
      [this, deviceId = device.id, commandId = command.id, landed](Expected<fcoap::Message, std::error_code> r) {
        landed();
        if (!r) {
          // Cancelled: replaced by a resend, or the device's DTLS session ended; the queue carries on.
          if (r.error() == make_error_code(fcoap::RequestError::Cancelled))
            return spdlog::debug("oceanconnect {}: PUT of command {} cancelled", deviceId, commandId);
          if (r.error() == make_error_code(fcoap::RequestError::Reset))
            return fail(commandId, "the device rejected the command (CoAP RST)");
          // Timeouts and an ended registration: the command queue's ack timeout resends the
          // command or times it out.
          spdlog::info("oceanconnect {}: command {} not acknowledged: {}", deviceId, commandId, r.error().message());
          return;
        }
        if (r->code.codeClass() == 2) {
          auto delivered = platform_.commandDelivered(commandId);
          if (!delivered)
            spdlog::debug("oceanconnect {}: command {}: {}", deviceId, commandId, delivered.error().message);
          return;
        }
        fail(commandId, "the device answered " + fcoap::codeName(r->code));
      },
      [this, commandId = command.id, serial](std::optional<fcoap::Endpoint::RequestId> id) {
        if (!id) return;
        bool replaced = false;
        {
          std::lock_guard lock(mutex_);
          auto it = inFlight_.find(commandId);
          replaced = it == inFlight_.end() || it->second.serial != serial;
          if (!replaced) it->second.id = *id;
        }
        if (replaced) lwm2m_.cancel(*id, false);  // a resend overtook it before it went out
      });
}

}  // namespace fc::server::dialects
