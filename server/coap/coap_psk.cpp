// The PSK lookup over the platform's devices: products() and findDevice(), no index of its own, so
// a device created, changed or deleted through the API counts from the next handshake on.
#include "server/coap/coap_psk.hpp"

#include <string>

namespace fc::server::coap {
namespace {

int hexValue(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

std::optional<PskMatch> matchOf(const core::Device& device) {
  const auto psk = device.secrets.find("psk");
  if (psk == device.secrets.end() || !psk->is_string()) return std::nullopt;
  auto key = pskFromHex(psk->get<std::string>());
  if (!key) return std::nullopt;
  return PskMatch{device.id, std::move(*key)};
}

bool hasPskIdentity(const core::Device& device) {
  const auto it = device.identifiers.find("pskIdentity");
  return it != device.identifiers.end() && it->is_string();
}

}  // namespace

std::optional<std::vector<std::uint8_t>> pskFromHex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> key;
  key.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = hexValue(hex[i]);
    const int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return key;
}

std::optional<PskMatch> findPsk(const core::Platform& platform, std::string_view identity) {
  if (identity.empty()) return std::nullopt;
  const std::string id(identity);
  const auto products = platform.products();
  for (const auto& product : products)
    if (const auto device = platform.findDevice(product.id, "pskIdentity", id))
      if (auto match = matchOf(*device)) return match;
  for (const auto& product : products)
    if (const auto device = platform.findDevice(product.id, "nodeId", id); device && !hasPskIdentity(*device))
      if (auto match = matchOf(*device)) return match;
  return std::nullopt;
}

PskLookup platformPskLookup(core::Platform& platform) {
  return [&platform](std::string_view identity) { return findPsk(platform, identity); };
}

}  // namespace fc::server::coap
