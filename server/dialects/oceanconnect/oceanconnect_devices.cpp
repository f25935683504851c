// The oceanconnect dialect's product and device rules; see oceanconnect_devices.hpp.
#include "server/dialects/oceanconnect/oceanconnect_devices.hpp"

#include <nlohmann/json.hpp>

#include <cctype>

#include "server/core/random.hpp"

namespace fc::server::dialects {
namespace {

core::Failure invalid(std::string message) { return {core::Errc::Invalid, std::move(message)}; }

bool isHex(const std::string& s) {
  if (s.empty() || s.size() % 2 != 0) return false;
  for (const unsigned char c : s)
    if (!std::isxdigit(c)) return false;
  return true;
}

/// identifiers[key] when it is a string; nullopt when absent; an error message when it is another type.
Expected<std::optional<std::string>, core::Failure> stringField(const nlohmann::json& object, const char* where,
                                                                const char* key) {
  if (!object.contains(key) || object[key].is_null()) return std::optional<std::string>{};
  if (!object[key].is_string()) return Unexpected(invalid(std::string(where) + "." + key + " must be a string"));
  return std::optional<std::string>(object[key].get<std::string>());
}

}  // namespace

Expected<std::optional<fc::oceanconnect::CodecProfile>, std::string> loadCodecProfile(const core::Product& product) {
  if (!product.keys.is_object() || !product.keys.contains("codecProfile") || product.keys["codecProfile"].is_null())
    return std::optional<fc::oceanconnect::CodecProfile>{};
  const auto& text = product.keys["codecProfile"];
  if (!text.is_object()) return Unexpected(std::string("keys.codecProfile must be a JSON object (the codec profile)"));
  auto profile = fc::oceanconnect::CodecProfile::parse(text);
  if (!profile) return Unexpected("keys.codecProfile: " + profile.error().message());
  return std::optional<fc::oceanconnect::CodecProfile>(std::move(*profile));
}

std::optional<core::Failure> prepareOceanConnectProduct(const core::Product& product) {
  auto profile = loadCodecProfile(product);
  if (!profile) return invalid(profile.error());
  return std::nullopt;
}

std::optional<core::Failure> prepareOceanConnectDevice(const core::Platform& platform, core::Device& d) {
  auto nodeId = stringField(d.identifiers, "identifiers", "nodeId");
  if (!nodeId) return nodeId.error();
  if (!*nodeId) {
    if (d.id.empty()) return invalid("an oceanconnect device needs identifiers.nodeId or an id");
    d.identifiers["nodeId"] = d.id;
    *nodeId = d.id;
  }
  // ep travels in one Uri-Query option (at most 255 bytes with "ep="), as protocols/lwm2m checks.
  if ((*nodeId)->empty() || (*nodeId)->size() > 252)
    return invalid("identifiers.nodeId (the LwM2M endpoint name) must be 1-252 bytes");
  if (auto other = findOceanConnectDevice(platform, **nodeId); other && other->id != d.id)
    return core::Failure{core::Errc::Conflict, "nodeId '" + **nodeId + "' is used by device '" + other->id + "'"};

  auto verifyCode = stringField(d.identifiers, "identifiers", "verifyCode");
  if (!verifyCode) return verifyCode.error();
  if (!*verifyCode) d.identifiers["verifyCode"] = **nodeId;
  else if ((*verifyCode)->empty()) return invalid("identifiers.verifyCode must not be empty");

  auto identity = stringField(d.identifiers, "identifiers", "pskIdentity");
  if (!identity) return identity.error();
  if (*identity && (*identity)->empty()) return invalid("identifiers.pskIdentity must not be empty");

  auto psk = stringField(d.secrets, "secrets", "psk");
  if (!psk) return psk.error();
  if (!*psk) d.secrets["psk"] = core::randomHex(16);
  else if (!isHex(**psk)) return invalid("secrets.psk must be the pre-shared key as hex (an even number of hex digits)");
  return std::nullopt;
}

std::optional<core::Device> findOceanConnectDevice(const core::Platform& platform, const std::string& nodeId) {
  for (const auto& product : platform.products())
    if (product.dialect == kOceanConnectDialect)
      if (auto device = platform.findDevice(product.id, "nodeId", nodeId)) return device;
  return std::nullopt;
}

}  // namespace fc::server::dialects
