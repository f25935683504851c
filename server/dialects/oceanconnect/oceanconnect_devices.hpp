// The oceanconnect dialect's rules for products and devices (docs/dialects/oceanconnect.md): a
// product's optional codec profile must load, and a device carries the LwM2M endpoint name
// (identifiers.nodeId), its verifyCode and the DTLS pre-shared key. The HTTP API and fixtures call
// these before creating or changing; the LwM2M server and the IoCM API read the same fields.
#pragma once

#include <optional>
#include <string>

#include "protocols/common/expected.hpp"
#include "protocols/dialects/oceanconnect/codec_profile.hpp"
#include "server/core/platform.hpp"

namespace fc::server::dialects {

inline constexpr const char* kOceanConnectDialect = "oceanconnect";

/// The product's codec profile (keys.codecProfile), nullopt when it has none, or why it does not
/// load: "keys.codecProfile: /uplink/0/properties/0/type: bad value: …" (a JSON Pointer into the
/// profile).
Expected<std::optional<fc::oceanconnect::CodecProfile>, std::string> loadCodecProfile(const core::Product& product);

/// A new or changed oceanconnect product: its keys.codecProfile, when present, must load (422).
std::optional<core::Failure> prepareOceanConnectProduct(const core::Product& product);

/// A new or changed device of an oceanconnect product: identifiers.nodeId (the LwM2M endpoint
/// name; default the device id) is 1–252 bytes and unique among oceanconnect devices (409);
/// identifiers.verifyCode defaults to the nodeId; identifiers.pskIdentity, when given, is a
/// non-empty string; secrets.psk is hex (16 random bytes generated when absent). Fills the
/// defaults into `device`. A device is never in conflict with itself (same id), so a change of an
/// existing device passes through here too.
std::optional<core::Failure> prepareOceanConnectDevice(const core::Platform& platform, core::Device& device);

/// The device of an oceanconnect product whose identifiers.nodeId is `nodeId`.
std::optional<core::Device> findOceanConnectDevice(const core::Platform& platform, const std::string& nodeId);

}  // namespace fc::server::dialects
