// Alibaba Cloud IoT ("aliyun") device sign-in as iotkit-embedded performs it: the MQTT client id
// `{clientId}|k=v,…|`, the username `{deviceName}&{productKey}`, and the password, a hex HMAC of
// the sorted sign-in parameters keyed by the DeviceSecret (../shared/protocols/aliyun.md).
// Pure functions: no I/O, never throws on bad input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"

namespace fc::aliyun {

/// The `signmethod` values iotkit-embedded sends (v2: hmacsha1/hmacmd5, v3: hmacsha256).
enum class SignMethod : std::uint8_t { HmacMd5, HmacSha1, HmacSha256 };

/// "hmacmd5", "hmacsha1", "hmacsha256" (any letter case); nullopt for anything else.
[[nodiscard]] std::optional<SignMethod> parseSignMethod(std::string_view s) noexcept;
[[nodiscard]] std::string_view toString(SignMethod m) noexcept;

/// Lowercase hex of HMAC-<method>(key, message) (OpenSSL's HMAC).
[[nodiscard]] std::string hmacHex(SignMethod method, std::string_view key, std::string_view message);

/// The signed content: `clientId{clientId}deviceName{dn}productKey{pk}timestamp{ts}` — the
/// parameters in alphabetical order, each name followed by its value, nothing between. An empty
/// `timestamp` is left out, as the HTTP channel's /auth does.
[[nodiscard]] std::string signContent(std::string_view clientId, std::string_view deviceName,
                                      std::string_view productKey, std::string_view timestamp);

/// hmacHex(method, deviceSecret, signContent(…)).
[[nodiscard]] std::string sign(SignMethod method, std::string_view deviceSecret, std::string_view clientId,
                               std::string_view deviceName, std::string_view productKey,
                               std::string_view timestamp);

/// Dynamic registration ("one secret per product", iotkit-embedded's dynreg and the Link SDK's
/// aiot_dynreg): the content the device signs with the ProductSecret when it asks for its
/// DeviceSecret, `deviceName{dn}productKey{pk}random{random}`.
[[nodiscard]] std::string registrationSignContent(std::string_view deviceName, std::string_view productKey,
                                                  std::string_view random);

/// Compares a given hex signature with the expected one without regard to letter case (v2 sends
/// lowercase, v3 uppercase), in time independent of where they differ.
[[nodiscard]] bool signatureMatches(std::string_view expectedHex, std::string_view givenHex) noexcept;

enum class ClientIdError : std::uint8_t {
  Empty = 1,          // nothing before the parameter list
  UnclosedParams,     // "a|securemode=3" — the list has no closing '|'
  TrailingBytes,      // bytes after the closing '|'
  MalformedParam,     // an item without '=' or with an empty name
};
[[nodiscard]] std::string_view toString(ClientIdError e) noexcept;

/// An MQTT client id in Alibaba's form: `{id}|securemode=3,signmethod=hmacsha1,timestamp=…|`.
/// The list is optional (`{id}` alone is what the v2 pre-step login sends over TLS); empty items
/// are skipped (the pre-step sends `{id}|,partner_id=X|`); later duplicates win.
struct ClientId {
  std::string id;  ///< the part before '|': `{productKey}.{deviceName}` for the SDKs
  std::map<std::string, std::string> params;
  [[nodiscard]] std::optional<std::string> param(const std::string& name) const;
  bool operator==(const ClientId&) const = default;
};
[[nodiscard]] Expected<ClientId, ClientIdError> parseClientId(std::string_view clientId);

/// `{deviceName}&{productKey}` split at the '&'; nullopt without one or with an empty side.
struct Username {
  std::string deviceName;
  std::string productKey;
  bool operator==(const Username&) const = default;
};
[[nodiscard]] std::optional<Username> parseUsername(std::string_view username);

/// securemode values (aliyun.md): how the device connects, and whether it signs in directly.
inline constexpr int kSecureModeTlsGuider = -1;  ///< TLS, after the HTTPS pre-step (iotId/iotToken)
inline constexpr int kSecureModeTcpGuider = 0;   ///< TCP, after the pre-step
inline constexpr int kSecureModeTlsDirect = 2;   ///< TLS, signed triplet
inline constexpr int kSecureModeTcpDirect = 3;   ///< TCP, signed triplet
/// A securemode parameter as an integer; nullopt when it is not one.
[[nodiscard]] std::optional<int> parseSecureMode(std::string_view s) noexcept;

/// A product key or device name that can be placed in a topic level: non-empty, at most 64 bytes,
/// none of '/', '+', '#', '&', '|' or control characters (Alibaba allows letters, digits and -_@.:).
[[nodiscard]] bool validName(std::string_view s) noexcept;

}  // namespace fc::aliyun
