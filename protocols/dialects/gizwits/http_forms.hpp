// The bodies of Gizwits' GService HTTP API for devices (../shared/protocols/gizwits.md "HTTP"):
// form-encoded requests and `key=value&…` answers, as pure functions shared by the server's routes
// and the client's GizwitsDevice. GAgent parses answers with strstr, so the byte layout matters:
// the provision answer has an `&` right after the port value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fc::gizwits {

/// `a=1&b=x%20y` → {a: 1, b: "x y"} ('+' is a space); a pair without '=' has an empty value; a
/// repeated key keeps its first value.
std::map<std::string, std::string> parseForm(std::string_view body);
/// Percent-encodes what a form value may not hold as it is (RFC 3986 unreserved kept).
std::string formEncode(std::string_view value);

/// A DID: exactly 22 characters, letters and digits (what Gizwits hands out).
bool validDid(std::string_view did) noexcept;
/// A passcode: exactly 10 printable ASCII characters, none of `&`, `=`, `%`, `+` or space.
bool validPasscode(std::string_view passcode) noexcept;
/// A product key: 32 hexadecimal digits.
bool validProductKey(std::string_view productKey) noexcept;
/// A MAC: 12 hexadecimal digits, optionally in six pairs separated by ':' or '-'; returned as 12
/// lower-case hex digits, nullopt when malformed.
std::optional<std::string> normalizeMac(std::string_view mac);

/// POST /dev/devices: `passcode=…&mac=…&product_key=…`.
std::string registerForm(std::string_view passcode, std::string_view mac, std::string_view productKey);
/// Its 201 answer: `did=<did>`.
std::string registerAnswer(std::string_view did);
/// DELETE /dev/devices: `did=…&passcode=…`.
std::string deregisterForm(std::string_view did, std::string_view passcode);

/// GET /dev/devices/<did>'s 200 answer:
/// `host=<host>&port=<port>&server_ts=<unix s>&log_host=<host>&log_port=<port>&biz_log=0&sys_log=0`.
struct Provision {
  std::string host;
  std::uint16_t port = 0;
  std::int64_t serverTs = 0;
  std::string logHost;
  std::uint16_t logPort = 0;
  bool operator==(const Provision&) const = default;
};
std::string provisionAnswer(const Provision& p);
/// Reads a provision answer as the device does (the fields it needs: host, port, server_ts; the
/// values as they are, nothing percent-decoded); nullopt without a host or a valid port.
std::optional<Provision> parseProvision(std::string_view body);

/// The DID in a register answer (`did=` then exactly 22 characters), nullopt otherwise.
std::optional<std::string> parseRegisterAnswer(std::string_view body);

}  // namespace fc::gizwits
