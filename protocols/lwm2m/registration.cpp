// LwM2M Registration interface parsing; the contract is in registration.hpp. Section numbers refer
// to OMA-TS-LightweightM2M-V1_0.
#include "protocols/lwm2m/registration.hpp"

#include <algorithm>
#include <charconv>
#include <map>

#include "protocols/lwm2m/path.hpp"
#include "protocols/lwm2m/value.hpp"

namespace fc::lwm2m {
namespace {

class RegistrationCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m.registration"; }

  std::string message(int ev) const override {
    switch (static_cast<RegistrationError>(ev)) {
      case RegistrationError::WrongMethod:
        return "method not allowed on the registration interface";
      case RegistrationError::WrongPath:
        return "path is not rd or rd/{location}";
      case RegistrationError::MissingEndpoint:
        return "missing endpoint name (ep)";
      case RegistrationError::BadEndpoint:
        return "bad endpoint name";
      case RegistrationError::BadLifetime:
        return "bad lifetime";
      case RegistrationError::BadVersion:
        return "bad LwM2M version";
      case RegistrationError::UnsupportedVersion:
        return "unsupported LwM2M version";
      case RegistrationError::BadBinding:
        return "bad binding mode";
      case RegistrationError::BadSms:
        return "bad SMS number";
      case RegistrationError::BadParameter:
        return "bad query parameter";
      case RegistrationError::DuplicateParameter:
        return "duplicate query parameter";
      case RegistrationError::BadContentFormat:
        return "payload is not application/link-format";
      case RegistrationError::BadLinkFormat:
        return "payload is not valid link-format";
      case RegistrationError::BadObjectLink:
        return "bad object link";
      case RegistrationError::MissingObjects:
        return "missing objects and object instances payload";
      case RegistrationError::EndpointNotAllowed:
        return "endpoint not allowed to register";
      case RegistrationError::UnknownLocation:
        return "unknown registration location";
    }
    return "unknown registration error";
  }
};

RegistrationFailure fail(RegistrationError e, std::string detail) { return {e, std::move(detail)}; }

std::vector<std::string_view> uriPath(const coap::Message& m) { return m.getStrings(coap::option::kUriPath); }

bool isDigits(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "<major>.<minor>" as used by "lwm2m" (§5.3.1) and "ver" (§5.3.1, Object Version).
bool isVersion(std::string_view s) noexcept {
  const auto dot = s.find('.');
  return dot != std::string_view::npos && isDigits(s.substr(0, dot)) && isDigits(s.substr(dot + 1));
}

Expected<std::uint32_t, RegistrationFailure> parseLifetime(std::string_view text) {
  std::uint32_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (!isDigits(text) || ec != std::errc{} || ptr != end || v == 0) {
    return Unexpected(fail(RegistrationError::BadLifetime, "lt=" + std::string(text)));
  }
  return v;
}

// The Uri-Query options as key/value pairs; a bare key has no value. Known keys may appear once.
struct Query {
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> params;

  [[nodiscard]] const std::optional<std::string_view>* find(std::string_view key) const {
    for (const auto& [k, v] : params) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

constexpr std::string_view kKnownKeys[] = {"ep", "lt", "lwm2m", "b", "sms", "Q"};

bool isKnown(std::string_view key) noexcept {
  return std::find(std::begin(kKnownKeys), std::end(kKnownKeys), key) != std::end(kKnownKeys);
}

Expected<Query, RegistrationFailure> readQuery(const coap::Message& m) {
  Query q;
  for (const auto item : m.getStrings(coap::option::kUriQuery)) {
    if (!isUtf8(item)) return Unexpected(fail(RegistrationError::BadParameter, "query is not UTF-8"));
    const auto eq = item.find('=');
    const auto key = item.substr(0, eq);
    const std::optional<std::string_view> value =
        eq == std::string_view::npos ? std::nullopt : std::optional(item.substr(eq + 1));
    if (isKnown(key) && q.find(key) != nullptr) {
      return Unexpected(fail(RegistrationError::DuplicateParameter, std::string(key)));
    }
    // "Q" (LwM2M 1.1 queue mode) is the one bare parameter; the others carry a value.
    if (isKnown(key) && key != "Q" && !value) {
      return Unexpected(fail(RegistrationError::BadParameter, std::string(key) + " without a value"));
    }
    q.params.emplace_back(key, value);
  }
  return q;
}

std::vector<ExtraParameter> extras(const Query& q, std::initializer_list<std::string_view> known) {
  std::vector<ExtraParameter> out;
  for (const auto& [k, v] : q.params) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    out.emplace_back(std::string(k), v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
  }
  return out;
}

// Link-format payload checks shared by Register and Update (§5.3.1, §5.3.2).
Expected<std::optional<ObjectLinks>, RegistrationFailure> readPayload(const coap::Message& m) {
  if (const auto* cf = m.find(coap::option::kContentFormat)) {
    const auto format = coap::decodeUint(cf->value);
    if (format != coap::format::kLinkFormat) {
      return Unexpected(fail(RegistrationError::BadContentFormat,
                             "Content-Format " + (format ? std::to_string(*format) : std::string("(invalid)"))));
    }
  }
  if (m.payload.empty()) return std::optional<ObjectLinks>{};
  auto links = parseObjectLinks(m.payloadText());
  if (!links) return Unexpected(links.error());
  return std::optional<ObjectLinks>(std::move(*links));
}

Expected<std::string, RegistrationFailure> readLocation(const coap::Message& m, coap::Code method) {
  if (m.code != method) return Unexpected(fail(RegistrationError::WrongMethod, coap::codeName(m.code)));
  const auto path = uriPath(m);
  if (path.size() != 2 || path[0] != kRegistrationPath || path[1].empty()) {
    return Unexpected(fail(RegistrationError::WrongPath, "/" + m.uriPath()));
  }
  return std::string(path[1]);
}

bool hasRt(const coap::Link& link, std::string_view rt) {
  for (const auto& p : link.params) {
    if (p.name != "rt" || !p.value) continue;
    // rt is a space-separated list of relation types (RFC 6690 §3.1).
    std::string_view v = *p.value;
    while (!v.empty()) {
      const auto sp = v.find(' ');
      if (v.substr(0, sp) == rt) return true;
      if (sp == std::string_view::npos) break;
      v.remove_prefix(sp + 1);
    }
  }
  return false;
}

std::optional<std::uint16_t> firstContentFormat(const coap::Link& link) {
  const auto ct = link.param("ct");
  if (!ct) return std::nullopt;
  const auto first = ct->substr(0, ct->find(' '));
  std::uint32_t v = 0;
  const auto [ptr, ec] = std::from_chars(first.data(), first.data() + first.size(), v);
  if (!isDigits(first) || ec != std::errc{} || ptr != first.data() + first.size() || v > 0xFFFF) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

const std::error_category& registrationCategory() noexcept {
  static const RegistrationCategory category;
  return category;
}

std::error_code make_error_code(RegistrationError e) noexcept { return {static_cast<int>(e), registrationCategory()}; }

coap::Code responseCode(RegistrationError e) noexcept {
  switch (e) {
    case RegistrationError::WrongMethod:
      return coap::code::kMethodNotAllowed;
    case RegistrationError::WrongPath:
    case RegistrationError::UnknownLocation:
      return coap::code::kNotFound;
    case RegistrationError::UnsupportedVersion:
      return coap::code::kPreconditionFailed;
    case RegistrationError::EndpointNotAllowed:
      return coap::code::kForbidden;
    default:
      return coap::code::kBadRequest;
  }
}

std::string RegistrationFailure::message() const {
  std::string out = make_error_code(error).message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

std::string Binding::toString() const {
  std::string out;
  for (const auto& [set, letter] : {std::pair{udp, 'U'}, {tcp, 'T'}, {sms, 'S'}, {nonIp, 'N'}}) {
    if (!set) continue;
    out.push_back(letter);
    if (queue && out.size() == 1) out.push_back('Q');
  }
  if (out.empty() && queue) out = "Q";
  return out;
}

Expected<Binding, RegistrationFailure> parseBinding(std::string_view text, std::string_view version) {
  const auto bad = [&] { return Unexpected(fail(RegistrationError::BadBinding, "b=" + std::string(text))); };
  Binding b;
  b.udp = false;
  if (version == "1.0") {
    // §5.3.1.1 Table 4 lists exactly these six.
    constexpr std::string_view kModes[] = {"U", "UQ", "S", "SQ", "US", "UQS"};
    if (std::find(std::begin(kModes), std::end(kModes), text) == std::end(kModes)) return bad();
  }
  for (const char c : text) {
    bool* flag = nullptr;
    switch (c) {
      case 'U':
        flag = &b.udp;
        break;
      case 'T':
        flag = &b.tcp;
        break;
      case 'S':
        flag = &b.sms;
        break;
      case 'N':
        flag = &b.nonIp;
        break;
      // LwM2M 1.1 moved queue mode to the "Q" parameter; a 1.0-style "UQ" is still understood.
      case 'Q':
        flag = &b.queue;
        break;
      default:
        return bad();
    }
    if (*flag) return bad();
    *flag = true;
  }
  if (!b.udp && !b.tcp && !b.sms && !b.nonIp) return bad();
  return b;
}

const SupportedObject* ObjectLinks::object(std::uint16_t id) const noexcept {
  for (const auto& o : objects) {
    if (o.id == id) return &o;
  }
  return nullptr;
}

Expected<ObjectLinks, RegistrationFailure> parseObjectLinks(std::string_view payload) {
  auto parsed = coap::parseLinkFormat(payload);
  if (!parsed) return Unexpected(fail(RegistrationError::BadLinkFormat, make_error_code(parsed.error()).message()));
  ObjectLinks out;
  out.links = std::move(*parsed);

  const coap::Link* rootLink = nullptr;
  for (const auto& link : out.links) {
    if (hasRt(link, "oma.lwm2m")) {
      rootLink = &link;
      break;
    }
  }
  if (rootLink != nullptr) {
    std::string root = rootLink->target;
    if (root.size() > 1 && root.back() == '/') root.pop_back();
    if (!rootSegments(root))
      return Unexpected(fail(RegistrationError::BadObjectLink, "root path <" + rootLink->target + ">"));
    out.rootPath = std::move(root);
    out.rootContentFormat = firstContentFormat(*rootLink);
  }
  // Object links live under "<root>/"; with the default root every absolute target does.
  const std::string prefix = out.rootPath == "/" ? "" : out.rootPath;

  std::map<std::uint16_t, SupportedObject> objects;
  for (const auto& link : out.links) {
    if (&link == rootLink) continue;
    std::string_view target = link.target;
    if (target.size() <= prefix.size() || target.substr(0, prefix.size()) != prefix || target[prefix.size()] != '/') {
      continue;
    }
    target.remove_prefix(prefix.size());
    auto path = Path::parse(target);
    if (!path || (!path->isObject() && !path->isObjectInstance())) {
      return Unexpected(fail(RegistrationError::BadObjectLink, "<" + link.target + ">"));
    }
    auto& object = objects[path->objectId()];
    object.id = path->objectId();
    if (const auto ver = link.param("ver")) {
      if (!isVersion(*ver))
        return Unexpected(fail(RegistrationError::BadObjectLink, "<" + link.target + ">;ver=" + std::string(*ver)));
      object.version = std::string(*ver);
    }
    if (path->isObjectInstance()) {
      auto& ids = object.instances;
      const auto it = std::lower_bound(ids.begin(), ids.end(), path->instanceId());
      if (it == ids.end() || *it != path->instanceId()) ids.insert(it, path->instanceId());
    }
  }
  for (auto& [_, o] : objects) out.objects.push_back(std::move(o));
  return out;
}

RegistrationOp classify(const coap::Message& request) {
  const auto path = uriPath(request);
  if (path.empty() || path[0] != kRegistrationPath) return RegistrationOp::None;
  if (path.size() == 1 && request.code == coap::code::kPost) return RegistrationOp::Register;
  if (path.size() == 2 && !path[1].empty()) {
    if (request.code == coap::code::kPost) return RegistrationOp::Update;
    if (request.code == coap::code::kDelete) return RegistrationOp::Deregister;
  }
  return RegistrationOp::Invalid;
}

Expected<RegisterRequest, RegistrationFailure> parseRegister(const coap::Message& request) {
  if (request.code != coap::code::kPost)
    return Unexpected(fail(RegistrationError::WrongMethod, coap::codeName(request.code)));
  const auto path = uriPath(request);
  if (path.size() != 1 || path[0] != kRegistrationPath) {
    return Unexpected(fail(RegistrationError::WrongPath, "/" + request.uriPath()));
  }
  auto query = readQuery(request);
  if (!query) return Unexpected(query.error());

  RegisterRequest r;
  const auto* ep = query->find("ep");
  if (ep == nullptr) return Unexpected(fail(RegistrationError::MissingEndpoint, ""));
  if ((**ep).empty() || (**ep).size() > kMaxEndpointLength) {
    return Unexpected(fail(RegistrationError::BadEndpoint, "ep=" + std::string(**ep)));
  }
  r.endpoint = std::string(**ep);

  if (const auto* v = query->find("lwm2m")) {
    if (!isVersion(**v)) return Unexpected(fail(RegistrationError::BadVersion, "lwm2m=" + std::string(**v)));
    if ((**v) != "1.0" && (**v) != "1.1") {
      return Unexpected(fail(RegistrationError::UnsupportedVersion, "lwm2m=" + std::string(**v)));
    }
    r.version = std::string(**v);
  }
  if (const auto* lt = query->find("lt")) {
    auto lifetime = parseLifetime(**lt);
    if (!lifetime) return Unexpected(lifetime.error());
    r.lifetime = *lifetime;
  }
  if (const auto* b = query->find("b")) {
    auto binding = parseBinding((**b), r.version);
    if (!binding) return Unexpected(binding.error());
    r.binding = *binding;
  }
  if (const auto* q = query->find("Q")) {
    if (r.version == "1.0" || q->has_value()) return Unexpected(fail(RegistrationError::BadParameter, "Q"));
    r.binding.queue = true;
  }
  if (const auto* sms = query->find("sms")) {
    if ((**sms).empty()) return Unexpected(fail(RegistrationError::BadSms, "sms="));
    r.sms = std::string(**sms);
  }
  r.extraParameters = extras(*query, {"ep", "lt", "lwm2m", "b", "sms", "Q"});

  auto payload = readPayload(request);
  if (!payload) return Unexpected(payload.error());
  if (!*payload) return Unexpected(fail(RegistrationError::MissingObjects, ""));
  r.objects = std::move(**payload);
  return r;
}

std::optional<std::string> registerEndpoint(const coap::Message& request) {
  std::optional<std::string> found;
  for (const auto item : request.getStrings(coap::option::kUriQuery)) {
    if (!item.starts_with("ep=")) continue;
    if (found) return std::nullopt;  // which of two names it claims is anybody's guess
    found = std::string(item.substr(3));
  }
  if (!found || found->empty() || found->size() > kMaxEndpointLength || !isUtf8(*found)) return std::nullopt;
  return found;
}

Expected<UpdateRequest, RegistrationFailure> parseUpdate(const coap::Message& request, std::string_view version) {
  auto location = readLocation(request, coap::code::kPost);
  if (!location) return Unexpected(location.error());
  auto query = readQuery(request);
  if (!query) return Unexpected(query.error());

  UpdateRequest u;
  u.location = std::move(*location);
  if (const auto* lt = query->find("lt")) {
    auto lifetime = parseLifetime(**lt);
    if (!lifetime) return Unexpected(lifetime.error());
    u.lifetime = *lifetime;
  }
  if (const auto* b = query->find("b")) {
    auto binding = parseBinding((**b), version);
    if (!binding) return Unexpected(binding.error());
    u.binding = *binding;
  }
  if (const auto* sms = query->find("sms")) {
    if ((**sms).empty()) return Unexpected(fail(RegistrationError::BadSms, "sms="));
    u.sms = std::string(**sms);
  }
  u.extraParameters = extras(*query, {"lt", "b", "sms"});
  auto payload = readPayload(request);
  if (!payload) return Unexpected(payload.error());
  u.objects = std::move(*payload);
  return u;
}

Expected<DeregisterRequest, RegistrationFailure> parseDeregister(const coap::Message& request) {
  auto location = readLocation(request, coap::code::kDelete);
  if (!location) return Unexpected(location.error());
  return DeregisterRequest{std::move(*location)};
}

void setRegistrationLocation(coap::Message& response, std::string_view location) {
  response.remove(coap::option::kLocationPath);
  response.addString(coap::option::kLocationPath, kRegistrationPath);
  response.addString(coap::option::kLocationPath, location);
}

}  // namespace fc::lwm2m
