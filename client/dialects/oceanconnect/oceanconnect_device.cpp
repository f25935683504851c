// OceanConnectDevice: LwM2M registration as a client, and the resources a LiteOS device serves.
#include "client/dialects/oceanconnect/oceanconnect_device.hpp"

#include "protocols/lwm2m/content.hpp"
#include "protocols/lwm2m/path.hpp"
#include "protocols/lwm2m/senml.hpp"
#include "protocols/lwm2m/tlv.hpp"

namespace fc::client {

namespace fcoap = fc::coap;

struct OceanConnectDevice::State {
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::string location;
  std::optional<std::vector<std::uint8_t>> observerToken;  // the server's observation of /19/0/0
  std::uint32_t observeSequence = 2;
  std::deque<std::vector<std::uint8_t>> commands;
  fcoap::Code commandAnswer = fcoap::code::kChanged;
  std::map<std::string, std::string> resources;
  std::map<std::string, std::vector<std::uint8_t>> observers;  // table path → the server's token
  std::vector<std::string> executed;
};

OceanConnectDevice::OceanConnectDevice(OceanConnectDeviceOptions options)
    : options_(std::move(options)), state_(std::make_shared<State>()) {
  coap_ = std::make_unique<SyncCoapClient>(options_.coap);
  // Everything the server asks: one root subtree resource that dispatches by path.
  coap_->async().addResource(fcoap::Resource{
      "", true, {fcoap::code::kGet, fcoap::code::kPut, fcoap::code::kPost, fcoap::code::kDelete}, {}, false,
      [this](const fcoap::IncomingRequest& r) { return serve(r.message, r.path); }});
}

OceanConnectDevice::~OceanConnectDevice() { coap_.reset(); }

fcoap::Message OceanConnectDevice::serve(const fcoap::Message& request, const std::string& path) {
  std::lock_guard lock(state_->mutex);
  if (path == "19/0/0" && request.code == fcoap::code::kGet) {
    const auto observe = request.getUint(fcoap::option::kObserve);
    auto m = fcoap::makeResponse(fcoap::code::kContent);
    m.setUint(fcoap::option::kContentFormat, fcoap::format::kOctetStream);
    if (observe && *observe == 0) {
      state_->observerToken = request.token;
      m.setUint(fcoap::option::kObserve, state_->observeSequence++);
    } else if (observe && *observe == 1 && state_->observerToken == request.token) {
      state_->observerToken.reset();
    }
    state_->changed.notify_all();
    return m;
  }
  if (path == "19/1/0" && request.code == fcoap::code::kPut) {
    state_->commands.push_back(request.payload);
    state_->changed.notify_all();
    return fcoap::makeResponse(state_->commandAnswer);
  }
  if (request.code == fcoap::code::kPost) {
    state_->executed.push_back(path);
    return fcoap::makeResponse(fcoap::code::kChanged);
  }
  const auto accept = request.getUint(fcoap::option::kAccept);
  if (request.code == fcoap::code::kGet && accept == fcoap::format::kLinkFormat) return discover(path);
  if (request.code == fcoap::code::kGet && accept == fcoap::format::kSenmlJson) return readSenml(path);
  if (request.code == fcoap::code::kPut &&
      request.getUint(fcoap::option::kContentFormat) == fcoap::format::kSenmlJson)
    return writeSenml(request);
  if (accept && *accept != fcoap::format::kTextPlain && *accept != fcoap::format::kLwm2mTlv)
    return fcoap::makeResponse(fcoap::code::kNotAcceptable);
  if (request.code == fcoap::code::kGet && (accept == fcoap::format::kLwm2mTlv || !state_->resources.contains(path)))
    return readTlv(path);
  auto it = state_->resources.find(path);
  if (it == state_->resources.end()) return fcoap::makeResponse(fcoap::code::kNotFound);
  if (request.code == fcoap::code::kPut) {
    it->second.assign(request.payload.begin(), request.payload.end());
    return fcoap::makeResponse(fcoap::code::kChanged);
  }
  if (request.code != fcoap::code::kGet) return fcoap::makeResponse(fcoap::code::kMethodNotAllowed);
  auto m = fcoap::makeResponse(fcoap::code::kContent);
  if (const auto observe = request.getUint(fcoap::option::kObserve)) {
    if (*observe == 0) {
      state_->observers[path] = request.token;
      m.setUint(fcoap::option::kObserve, state_->observeSequence++ & 0xFFFFFF);
    } else if (*observe == 1) {
      state_->observers.erase(path);
    }
    state_->changed.notify_all();
  }
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kTextPlain);
  m.setPayload(it->second);
  return m;
}

// LwM2M Discover (§5.4.2): the path itself, then every table resource below it; 4.04 when none is.
fcoap::Message OceanConnectDevice::discover(const std::string& path) const {
  std::string links = "</" + path + ">";
  bool known = false;
  for (const auto& [resource, value] : state_->resources) {
    if (resource == path) known = true;
    else if (resource.rfind(path + "/", 0) == 0) links += ",</" + resource + ">", known = true;
  }
  if (!known) return fcoap::makeResponse(fcoap::code::kNotFound);
  auto m = fcoap::makeResponse(fcoap::code::kContent);
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kLinkFormat);
  m.setPayload(links);
  return m;
}

// The table's resources at and below `path` (string values), as SenML JSON records "vs".
fcoap::Message OceanConnectDevice::readSenml(const std::string& path) const {
  std::vector<lwm2m::SenmlRecord> records;
  for (const auto& [resource, value] : state_->resources)
    if (resource == path || resource.rfind(path + "/", 0) == 0)
      records.push_back({"/" + resource, std::nullopt, "", value});
  if (records.empty()) return fcoap::makeResponse(fcoap::code::kNotFound);
  auto m = fcoap::makeResponse(fcoap::code::kContent);
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
  m.setPayload(lwm2m::encodeSenmlJson(records));
  return m;
}

// A SenML JSON write: every record names a table resource ("/3/0/14"); its value is stored as text.
fcoap::Message OceanConnectDevice::writeSenml(const fcoap::Message& request) {
  const auto records = lwm2m::decodeSenmlJson(request.payloadText());
  if (!records) return fcoap::makeResponse(fcoap::code::kBadRequest);
  auto key = [](const lwm2m::SenmlRecord& r) { return r.name.substr(r.name.starts_with('/') ? 1 : 0); };  // table key
  for (const auto& r : *records)
    if (!state_->resources.contains(key(r))) return fcoap::makeResponse(fcoap::code::kNotFound);
  for (const auto& r : *records) {
    auto& stored = state_->resources[key(r)];
    std::visit(
        [&stored](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) stored = v;
          else if constexpr (std::is_same_v<T, std::monostate>) stored.clear();
          else if constexpr (std::is_same_v<T, lwm2m::Opaque>) stored.assign(v.begin(), v.end());
          else if constexpr (std::is_same_v<T, lwm2m::Objlnk> || std::is_same_v<T, double> ||
                             std::is_same_v<T, std::int64_t> || std::is_same_v<T, bool>)
            stored = lwm2m::formatText(lwm2m::Value{v});
        },
        r.value);
  }
  return fcoap::makeResponse(fcoap::code::kChanged);
}

// OMA TLV (§6.4.3) of an object instance ("3/0": its resources) or a resource; values as strings.
fcoap::Message OceanConnectDevice::readTlv(const std::string& path) const {
  const auto target = lwm2m::Path::parse("/" + path);
  std::vector<lwm2m::TlvEntry> entries;
  for (const auto& [resource, value] : state_->resources) {
    const auto p = lwm2m::Path::parse("/" + resource);
    if (!target || !p || !p->isResource()) continue;
    if (*p == *target || p->parent() == *target)  // the resource itself, or one of the instance's
      entries.push_back(lwm2m::TlvEntry::resource(p->resourceId(), {value.begin(), value.end()}));
  }
  if (entries.empty()) return fcoap::makeResponse(fcoap::code::kNotFound);
  auto m = fcoap::makeResponse(fcoap::code::kContent);
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kLwm2mTlv);
  m.payload = lwm2m::encodeTlv(entries);
  return m;
}

OceanConnectDevice::Reply OceanConnectDevice::registerDevice() {
  auto m = SyncCoapClient::makeRequest(fcoap::code::kPost, "rd");
  m.addString(fcoap::option::kUriQuery, "lwm2m=1.0");
  m.addString(fcoap::option::kUriQuery, "ep=" + options_.endpoint);
  m.addString(fcoap::option::kUriQuery, "b=" + options_.binding);
  m.addString(fcoap::option::kUriQuery, "lt=" + std::to_string(options_.lifetime));
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kLinkFormat);
  m.setPayload(options_.objects);
  auto r = coap_->request(std::move(m));
  if (r && r->code == fcoap::code::kCreated) {
    std::lock_guard lock(state_->mutex);
    state_->location = r->locationPath();
  }
  return r;
}

OceanConnectDevice::Reply OceanConnectDevice::update(std::optional<std::uint32_t> lifetime) {
  auto m = SyncCoapClient::makeRequest(fcoap::code::kPost, location());
  if (lifetime) m.addString(fcoap::option::kUriQuery, "lt=" + std::to_string(*lifetime));
  return coap_->request(std::move(m));
}

OceanConnectDevice::Reply OceanConnectDevice::deregister() {
  auto r = coap_->request(SyncCoapClient::makeRequest(fcoap::code::kDelete, location()));
  if (r && r->code == fcoap::code::kDeleted) {
    std::lock_guard lock(state_->mutex);
    state_->location.clear();
    state_->observerToken.reset();
  }
  return r;
}

std::string OceanConnectDevice::location() const {
  std::lock_guard lock(state_->mutex);
  return state_->location;
}

bool OceanConnectDevice::waitObserved(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->observerToken.has_value(); });
}

bool OceanConnectDevice::report(std::vector<std::uint8_t> data) {
  fcoap::Message m;
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->observerToken) return false;
    m.type = fcoap::Type::Confirmable;
    m.code = fcoap::code::kContent;
    m.token = *state_->observerToken;
    m.setUint(fcoap::option::kObserve, state_->observeSequence++ & 0xFFFFFF);
  }
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kOctetStream);
  m.payload = std::move(data);
  coap_->async().notify(std::move(m));
  return true;
}

std::optional<std::vector<std::uint8_t>> OceanConnectDevice::nextCommand(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  if (!state_->changed.wait_for(lock, timeout, [&] { return !state_->commands.empty(); })) return std::nullopt;
  auto c = std::move(state_->commands.front());
  state_->commands.pop_front();
  return c;
}

void OceanConnectDevice::answerCommandsWith(fcoap::Code code) {
  std::lock_guard lock(state_->mutex);
  state_->commandAnswer = code;
}

void OceanConnectDevice::setResource(const std::string& path, std::string value) {
  std::lock_guard lock(state_->mutex);
  state_->resources[path] = std::move(value);
}

std::optional<std::string> OceanConnectDevice::resource(const std::string& path) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->resources.find(path);
  return it == state_->resources.end() ? std::nullopt : std::optional<std::string>(it->second);
}

bool OceanConnectDevice::notifyResource(const std::string& path) {
  fcoap::Message m;
  {
    std::lock_guard lock(state_->mutex);
    auto observer = state_->observers.find(path);
    auto value = state_->resources.find(path);
    if (observer == state_->observers.end() || value == state_->resources.end()) return false;
    m.type = fcoap::Type::Confirmable;
    m.code = fcoap::code::kContent;
    m.token = observer->second;
    m.setUint(fcoap::option::kObserve, state_->observeSequence++ & 0xFFFFFF);
    m.setUint(fcoap::option::kContentFormat, fcoap::format::kTextPlain);
    m.setPayload(value->second);
  }
  coap_->async().notify(std::move(m));
  return true;
}

bool OceanConnectDevice::waitResourceObserved(const std::string& path, bool want, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->observers.contains(path) == want; });
}

std::vector<std::string> OceanConnectDevice::executed() const {
  std::lock_guard lock(state_->mutex);
  return state_->executed;
}

}  // namespace fc::client
