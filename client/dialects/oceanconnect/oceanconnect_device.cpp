// OceanConnectDevice: LwM2M registration as a client, and the resources a LiteOS device serves.
#include "client/dialects/oceanconnect/oceanconnect_device.hpp"

#include <algorithm>
#include <set>

#include "protocols/lwm2m/attributes.hpp"
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
  std::string objects;                                                   // the object links registered last
  std::set<std::string> instances;                                       // "19/0": instances made by Create
  std::map<std::string, std::map<std::string, std::string>> attributes;  // path → Write-Attributes
  std::size_t updatesAnswered = 0;                                       // Updates after Create / Delete
};

namespace {

/// How many segments "19/0/0" has; "" is the root (0).
std::size_t depthOf(const std::string& path) {
  return path.empty() ? 0 : static_cast<std::size_t>(std::count(path.begin(), path.end(), '/')) + 1;
}

/// A SenML value as the table keeps it: text, as LwM2M text/plain writes it.
std::string senmlText(const lwm2m::SenmlValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>)
          return v;
        else if constexpr (std::is_same_v<T, std::monostate>)
          return {};
        else if constexpr (std::is_same_v<T, lwm2m::Opaque>)
          return {v.begin(), v.end()};
        else
          return lwm2m::formatText(lwm2m::Value{v});
      },
      value);
}

}  // namespace

OceanConnectDevice::OceanConnectDevice(OceanConnectDeviceOptions options)
    : options_(std::move(options)), state_(std::make_shared<State>()) {
  state_->objects = options_.objects;
  coap_ = std::make_unique<SyncCoapClient>(options_.coap);
  // Everything the server asks: one root subtree resource that dispatches by path.
  coap_->async().addResource(
      fcoap::Resource{"",
                      true,
                      {fcoap::code::kGet, fcoap::code::kPut, fcoap::code::kPost, fcoap::code::kDelete,
                       fcoap::code::kFetch, fcoap::code::kIPatch},
                      {},
                      false,
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
  const auto format = request.getUint(fcoap::option::kContentFormat);
  if (request.code == fcoap::code::kFetch || request.code == fcoap::code::kIPatch) {
    if (!path.empty()) return fcoap::makeResponse(fcoap::code::kMethodNotAllowed);  // composite: the root only
    if (format != fcoap::format::kSenmlJson) return fcoap::makeResponse(fcoap::code::kUnsupportedContentFormat);
    return request.code == fcoap::code::kFetch ? readComposite(request) : writeSenml(request);
  }
  if (request.code == fcoap::code::kPost && depthOf(path) == 1) return create(request, path);
  if (request.code == fcoap::code::kDelete)
    return depthOf(path) == 2 ? deleteInstance(path) : fcoap::makeResponse(fcoap::code::kMethodNotAllowed);
  if (request.code == fcoap::code::kPut && !format && request.payload.empty() &&
      !request.getStrings(fcoap::option::kUriQuery).empty())
    return writeAttributes(request, path);
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

// LwM2M Discover (§5.4.2): the path itself, then every table resource below it, each with the
// attributes written on it; 4.04 when none is.
fcoap::Message OceanConnectDevice::discover(const std::string& path) const {
  const auto link = [this](const std::string& p) {
    std::string out = "</" + p + ">";
    if (auto it = state_->attributes.find(p); it != state_->attributes.end())
      for (const auto& [name, value] : it->second) out += ";" + name + "=" + value;
    return out;
  };
  std::string links = link(path);
  bool known = false;
  for (const auto& [resource, value] : state_->resources) {
    if (resource == path)
      known = true;
    else if (resource.rfind(path + "/", 0) == 0)
      links += "," + link(resource), known = true;
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
  for (const auto& r : *records) state_->resources[key(r)] = senmlText(r.value);
  return fcoap::makeResponse(fcoap::code::kChanged);
}

bool OceanConnectDevice::exists(const std::string& path) const {
  if (path.empty() || state_->resources.contains(path) || state_->instances.contains(path)) return true;
  const auto below = [&path](const std::string& key) { return key.rfind(path + "/", 0) == 0; };
  return std::any_of(state_->resources.begin(), state_->resources.end(),
                     [&](const auto& r) { return below(r.first); }) ||
         std::any_of(state_->instances.begin(), state_->instances.end(), below);
}

// Create (OMA-TS-LightweightM2M-V1_0 §5.4.6, LwM2M 1.1 §5.4.6): one new instance of object `path`,
// named in the payload or the lowest free id; its resources go into the table as text.
fcoap::Message OceanConnectDevice::create(const fcoap::Message& request, const std::string& path) {
  const auto format = request.getUint(fcoap::option::kContentFormat);
  std::optional<std::uint16_t> instance;
  std::vector<std::pair<std::string, std::string>> values;  // "r" or "r/ri" below the instance → text
  if (format && lwm2m::isTlv(static_cast<std::uint16_t>(*format))) {
    auto tlv = lwm2m::decodeTlv(request.payload);
    if (!tlv) return fcoap::makeResponse(fcoap::code::kBadRequest);
    std::vector<lwm2m::TlvEntry> resources;
    for (auto& e : *tlv) {
      if (e.type != lwm2m::TlvType::ObjectInstance) {
        resources.push_back(std::move(e));
        continue;
      }
      if (instance) return fcoap::makeResponse(fcoap::code::kBadRequest);  // one instance per Create here
      instance = e.id;
      for (auto& child : e.children) resources.push_back(std::move(child));
    }
    for (const auto& r : resources) {
      if (r.type == lwm2m::TlvType::ResourceValue)
        values.emplace_back(std::to_string(r.id), std::string(r.value.begin(), r.value.end()));
      else if (r.type == lwm2m::TlvType::MultipleResource)
        for (const auto& ri : r.children)
          values.emplace_back(std::to_string(r.id) + "/" + std::to_string(ri.id),
                              std::string(ri.value.begin(), ri.value.end()));
      else
        return fcoap::makeResponse(fcoap::code::kBadRequest);
    }
  } else if (format == fcoap::format::kSenmlJson) {
    const auto records = lwm2m::decodeSenmlJson(request.payloadText());
    if (!records) return fcoap::makeResponse(fcoap::code::kBadRequest);
    for (const auto& r : *records) {
      const auto p = lwm2m::Path::parse(r.name);
      if (!p || p->depth() < 3 || std::to_string(p->objectId()) != path || (instance && *instance != p->instanceId()))
        return fcoap::makeResponse(fcoap::code::kBadRequest);
      instance = p->instanceId();
      auto key = std::to_string(p->resourceId());
      if (p->isResourceInstance()) key += "/" + std::to_string(p->resourceInstanceId());
      values.emplace_back(std::move(key), senmlText(r.value));
    }
  } else {
    return fcoap::makeResponse(fcoap::code::kUnsupportedContentFormat);
  }
  if (!instance)
    for (std::uint16_t id = 0; id < lwm2m::kReservedInstanceId && !instance; ++id)
      if (!exists(path + "/" + std::to_string(id))) instance = id;
  const auto created = path + "/" + std::to_string(instance.value_or(lwm2m::kReservedInstanceId));
  if (!instance || *instance == lwm2m::kReservedInstanceId || exists(created))
    return fcoap::makeResponse(fcoap::code::kBadRequest);  // §5.4.6: the instance exists already
  for (auto& [key, text] : values) state_->resources[created + "/" + key] = std::move(text);
  state_->instances.insert(created);
  state_->objects += ",</" + created + ">";
  sendObjectsUpdate();
  auto m = fcoap::makeResponse(fcoap::code::kCreated);
  m.addString(fcoap::option::kLocationPath, path);
  m.addString(fcoap::option::kLocationPath, std::to_string(*instance));
  return m;
}

// Delete (§5.4.7): the instance and everything below it.
fcoap::Message OceanConnectDevice::deleteInstance(const std::string& path) {
  if (!exists(path)) return fcoap::makeResponse(fcoap::code::kNotFound);
  std::erase_if(state_->resources, [&path](const auto& r) { return r.first.rfind(path + "/", 0) == 0; });
  std::erase_if(state_->attributes,
                [&path](const auto& a) { return a.first == path || a.first.rfind(path + "/", 0) == 0; });
  state_->instances.erase(path);
  // The links without this instance's "</o/i>".
  std::string links;
  std::string_view rest = state_->objects;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const auto item = rest.substr(0, comma);
    if (item != "</" + path + ">") links += (links.empty() ? "" : ",") + std::string(item);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  state_->objects = std::move(links);
  sendObjectsUpdate();
  return fcoap::makeResponse(fcoap::code::kDeleted);
}

// Write-Attributes (§5.4.4): each Uri-Query sets an attribute ("pmin=10") or removes it ("pmin").
fcoap::Message OceanConnectDevice::writeAttributes(const fcoap::Message& request, const std::string& path) {
  const auto query = request.getStrings(fcoap::option::kUriQuery);
  const auto settings = lwm2m::parseAttributes(query);
  if (!settings) return fcoap::makeResponse(fcoap::code::kBadRequest, settings.error().message());
  if (!exists(path)) return fcoap::makeResponse(fcoap::code::kNotFound);
  // The client checks the orders against what it keeps (§5.1.2), as a server cannot.
  auto& stored = state_->attributes[path];
  auto merged = stored;
  for (const auto& item : query) {
    const auto eq = item.find('=');
    if (eq == std::string_view::npos)
      merged.erase(std::string(item));
    else
      merged[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
  }
  std::vector<std::string> all;
  for (const auto& [name, value] : merged) all.push_back(name + "=" + value);
  std::vector<std::string_view> views(all.begin(), all.end());
  const auto whole = lwm2m::parseAttributes(views);
  const auto target = lwm2m::Path::parse("/" + path);
  if (!whole || !target) return fcoap::makeResponse(fcoap::code::kBadRequest);
  if (auto bad = lwm2m::checkAttributes(*whole, *target, options_.version);
      bad && bad->error != lwm2m::AttributeError::Empty)
    return fcoap::makeResponse(fcoap::code::kBadRequest, bad->message());
  stored = std::move(merged);
  if (stored.empty()) state_->attributes.erase(path);
  return fcoap::makeResponse(fcoap::code::kChanged);
}

// Read-Composite (LwM2M 1.1 §5.4.7): the table values at and below each requested name.
fcoap::Message OceanConnectDevice::readComposite(const fcoap::Message& request) const {
  const auto wanted = lwm2m::decodeSenmlJson(request.payloadText());
  if (!wanted) return fcoap::makeResponse(fcoap::code::kBadRequest);
  std::vector<lwm2m::SenmlRecord> records;
  for (const auto& w : *wanted) {
    const auto key = w.name.substr(w.name.starts_with('/') ? 1 : 0);
    bool found = false;
    for (const auto& [resource, value] : state_->resources)
      if (resource == key || resource.rfind(key + "/", 0) == 0) {
        records.push_back({"/" + resource, std::nullopt, "", value});
        found = true;
      }
    if (!found) return fcoap::makeResponse(fcoap::code::kNotFound);
  }
  auto m = fcoap::makeResponse(fcoap::code::kContent);
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kSenmlJson);
  m.setPayload(lwm2m::encodeSenmlJson(records));
  return m;
}

void OceanConnectDevice::sendObjectsUpdate() {
  if (state_->location.empty()) return;
  auto m = SyncCoapClient::makeRequest(fcoap::code::kPost, state_->location);
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kLinkFormat);
  m.setPayload(state_->objects);
  // From the client's strand (a resource handler): asynchronous, so nothing waits for itself.
  coap_->async().request(std::move(m), [state = state_](Expected<fcoap::Message, std::error_code>) {
    std::lock_guard lock(state->mutex);
    ++state->updatesAnswered;
    state->changed.notify_all();
  });
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
  m.addString(fcoap::option::kUriQuery, "lwm2m=" + options_.version);
  m.addString(fcoap::option::kUriQuery, "ep=" + options_.endpoint);
  m.addString(fcoap::option::kUriQuery, "b=" + options_.binding);
  m.addString(fcoap::option::kUriQuery, "lt=" + std::to_string(options_.lifetime));
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kLinkFormat);
  m.setPayload(objectLinks());
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

std::map<std::string, std::string> OceanConnectDevice::attributes(const std::string& path) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->attributes.find(path);
  return it == state_->attributes.end() ? std::map<std::string, std::string>{} : it->second;
}

std::string OceanConnectDevice::objectLinks() const {
  std::lock_guard lock(state_->mutex);
  return state_->objects;
}

bool OceanConnectDevice::waitUpdated(std::size_t updates, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, timeout, [&] { return state_->updatesAnswered >= updates; });
}

}  // namespace fc::client
