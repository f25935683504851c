// The gizwits dialect's registration and its product, device and command rules; see module.hpp.
#include "server/dialects/gizwits/module.hpp"

#include <cctype>

#include "protocols/dialects/gizwits/http_forms.hpp"
#include "server/core/random.hpp"

namespace fc::server::dialects {
namespace {

namespace giz = fc::gizwits;

core::Failure invalid(std::string message) { return {core::Errc::Invalid, std::move(message)}; }

bool isString(const nlohmann::json& object, const char* key) {
  return object.contains(key) && object[key].is_string();
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

GizwitsModule::GizwitsModule(const DialectContext& context, GizwitsConfig config, const std::string& bind)
    : platform_(context.platform), gizwits_(context.platform, context.mqtt, std::move(config)) {
  endpoints_.bindHost = bind == "0.0.0.0" || bind == "::" ? std::string("127.0.0.1") : bind;
}

std::optional<core::Failure> GizwitsModule::prepareProduct(const core::Platform& platform, core::Product& p) const {
  if (!p.keys.contains("productKey")) p.keys["productKey"] = core::randomHex(16);
  if (!isString(p.keys, "productKey") || !giz::validProductKey(p.keys["productKey"].get<std::string>()))
    return invalid("keys.productKey must be 32 hexadecimal digits");
  if (p.keys.contains("productSecret") && !p.keys["productSecret"].is_string())
    return invalid("keys.productSecret must be a string");
  const auto pk = lower(p.keys["productKey"].get<std::string>());
  for (const auto& other : platform.products())
    if (other.dialect == name() && other.id != p.id && lower(GizwitsDialect::productKey(other)) == pk)
      return core::Failure{core::Errc::Conflict, "productKey '" + pk + "' is used by product '" + other.id + "'"};
  return std::nullopt;
}

std::optional<core::Failure> GizwitsModule::prepareDevice(const core::Platform& platform, core::Device& d,
                                                          core::DeviceChange change) const {
  if (change == core::DeviceChange::Create && !d.identifiers.contains("did")) {
    std::string did = giz::validDid(d.id) ? d.id : std::string{};
    while (did.empty() || gizwits_.findByDid(did)) did = core::randomAlnum(22);
    d.identifiers["did"] = did;
  }
  if (!isString(d.identifiers, "did") || !giz::validDid(d.identifiers["did"].get<std::string>()))
    return invalid("identifiers.did must be 22 letters and digits");
  const auto did = d.identifiers["did"].get<std::string>();
  if (change == core::DeviceChange::Create && d.id.empty()) d.id = did;  // a device without an id is its DID
  if (auto other = gizwits_.findByDid(did); other && other->device.id != d.id)
    return core::Failure{core::Errc::Conflict, "did '" + did + "' is used by device '" + other->device.id + "'"};
  if (d.identifiers.contains("mac")) {
    const auto mac = isString(d.identifiers, "mac") ? giz::normalizeMac(d.identifiers["mac"].get<std::string>())
                                                    : std::nullopt;
    if (!mac) return invalid("identifiers.mac must be 12 hexadecimal digits");
    d.identifiers["mac"] = *mac;
    if (auto other = platform.findDevice(d.productId, "mac", *mac); other && other->id != d.id)
      return core::Failure{core::Errc::Conflict, "mac '" + *mac + "' is used by device '" + other->id + "'"};
  }
  if (change == core::DeviceChange::Create && !d.secrets.contains("passcode"))
    d.secrets["passcode"] = core::randomAlnum(10);
  if (!isString(d.secrets, "passcode") || !giz::validPasscode(d.secrets["passcode"].get<std::string>()))
    return invalid("secrets.passcode must be 10 printable characters without & = % + or space");
  return std::nullopt;
}

std::optional<core::Failure> GizwitsModule::checkCommand(const core::Product&, const core::CommandSpec& spec) const {
  const auto parsed = parseGizwitsCommandName(spec.name);
  if (!parsed)
    return invalid("a gizwits command name is [kind][@appClientId]: kind passthrough (or empty), ack or logLevel; "
                   "appClientId 1-64 characters without / + #");
  if (parsed->kind == GizwitsCommandName::Kind::LogLevel) {
    if (spec.binary) {
      if (spec.payload.size() != 2) return invalid("a logLevel command's payloadBase64 must be 2 bytes");
    } else {
      const auto j = nlohmann::json::parse(spec.payload, nullptr, false);
      if (!j.is_number_unsigned() || j.get<std::uint64_t>() > 0xFFFF)
        return invalid("a logLevel command's payload is an integer 0..65535 (bits 0-15)");
    }
  }
  return std::nullopt;
}

void GizwitsModule::addRoutes(http::Router& router) { addGizwitsRoutes(router, platform_, gizwits_, endpoints_); }

}  // namespace fc::server::dialects
