// The DTLS-PSK key lookup of the coaps endpoint (docs/coap.md, "DTLS"): which device a PSK identity
// names, and its key. Dialect-independent: any product's device may use coaps.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "server/coap/coap_server.hpp"
#include "server/core/platform.hpp"

namespace fc::server::coap {

/// The key of a hex string ("00a1FF"), or nullopt when it is empty, of odd length or not hex.
std::optional<std::vector<std::uint8_t>> pskFromHex(std::string_view hex);

/// The device of any product whose identifiers.pskIdentity equals the identity — else, among devices
/// without a pskIdentity (it defaults to nodeId), whose identifiers.nodeId equals it — and which has
/// secrets.psk as valid hex; the key is that hex decoded. nullopt otherwise (unknown identity).
std::optional<PskMatch> findPsk(const core::Platform& platform, std::string_view identity);

/// findPsk as the lookup CoapServer::listenDtls takes; `platform` must outlive the server.
PskLookup platformPskLookup(core::Platform& platform);

}  // namespace fc::server::coap
