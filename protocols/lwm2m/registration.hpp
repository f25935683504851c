// The LwM2M 1.0 Registration interface, server side (OMA-TS-LightweightM2M-V1_0 §5.3): parsing
// Register (POST /rd?ep=…), Update (POST /rd/{location}) and De-register (DELETE /rd/{location})
// requests out of decoded CoAP messages. Pure: every failure is a value naming the problem and the
// CoAP response code to answer with.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "protocols/coap/link_format.hpp"
#include "protocols/coap/message.hpp"
#include "protocols/common/expected.hpp"

namespace fc::lwm2m {

/// §5.3.1: Lifetime when the client sends no "lt".
inline constexpr std::uint32_t kDefaultLifetime = 86400;
/// §5.3.1: LwM2M version when the client sends no "lwm2m".
inline constexpr std::string_view kDefaultVersion = "1.0";
/// The Uri-Path of the registration interface (§5.3.1) and the first Location-Path segment.
inline constexpr std::string_view kRegistrationPath = "rd";
/// Longest endpoint name accepted: one Uri-Query option value holds at most 255 bytes, "ep=" included.
inline constexpr std::size_t kMaxEndpointLength = 252;

enum class RegistrationError : std::uint8_t {
  WrongMethod = 1,     ///< not POST (Register, Update) or DELETE (De-register) → 4.05
  WrongPath,           ///< Uri-Path is not "rd" or "rd/{location}" → 4.04
  MissingEndpoint,     ///< Register without "ep" (§5.3.1: mandatory) → 4.00
  BadEndpoint,         ///< empty, too long or not UTF-8 → 4.00
  BadLifetime,         ///< "lt" not a decimal integer in 1..4294967295 → 4.00
  BadVersion,          ///< "lwm2m" not of the form <major>.<minor> → 4.00
  UnsupportedVersion,  ///< a version other than 1.0 and 1.1 → 4.12 (§5.3.1)
  BadBinding,          ///< "b" not one of U, UQ, S, SQ, US, UQS (§5.3.1.1; LwM2M 1.1 adds T, N) → 4.00
  BadSms,              ///< "sms" empty → 4.00
  BadParameter,        ///< a known parameter without "=value", or a query that is not UTF-8 → 4.00
  DuplicateParameter,  ///< the same parameter twice → 4.00
  BadContentFormat,    ///< payload with a Content-Format other than 40 (link-format) → 4.00
  BadLinkFormat,       ///< payload that is not RFC 6690 link-format → 4.00
  BadObjectLink,       ///< a link under the root path that is not </o> or </o/i>, or a bad "ver" → 4.00
  MissingObjects,      ///< Register without a payload (§5.3.1: Objects and Object Instances are mandatory) → 4.00
  // Not produced by the parsers; the server answers with them after its own checks.
  EndpointNotAllowed,  ///< the endpoint may not register (unknown device, wrong credentials) → 4.03 (§5.3.1)
  UnknownLocation,     ///< Update / De-register of a location that is not registered → 4.04 (§5.3.2, §5.3.3)
};

const std::error_category& registrationCategory() noexcept;
std::error_code make_error_code(RegistrationError e) noexcept;

/// The response code §5.3 prescribes for `e` (see the enumerators).
[[nodiscard]] coap::Code responseCode(RegistrationError e) noexcept;

/// A failure and what it was about, e.g. {BadLifetime, "lt=abc"}.
struct RegistrationFailure {
  RegistrationError error = RegistrationError::BadParameter;
  std::string detail;
  bool operator==(const RegistrationFailure&) const = default;

  [[nodiscard]] coap::Code code() const noexcept { return responseCode(error); }
  /// "bad lifetime: lt=abc".
  [[nodiscard]] std::string message() const;
};

/// §5.3.1.1 Binding Mode: U (UDP), S (SMS), Q (queue mode) in the LwM2M 1.0 combinations; with
/// lwm2m=1.1, any set of U, T (TCP), S, N (non-IP) — queue mode then comes from the "Q" parameter.
struct Binding {
  bool udp = true;
  bool sms = false;
  bool tcp = false;
  bool nonIp = false;
  bool queue = false;
  bool operator==(const Binding&) const = default;

  /// The 1.0 spelling ("U", "UQ", "UQS", …) when one exists, else the letters in U T S N order
  /// with Q after the first transport.
  [[nodiscard]] std::string toString() const;
};

/// Parses a "b" value for LwM2M `version` ("1.0" or "1.1").
[[nodiscard]] Expected<Binding, RegistrationFailure> parseBinding(std::string_view text,
                                                                  std::string_view version = "1.0");

/// One Object the client supports, with the instances it announced (§5.3.1: "</3/0>" or "</5>").
struct SupportedObject {
  std::uint16_t id = 0;
  std::string version;                   ///< "ver" when given (LwM2M 1.0 §5.3.1: "1.0" is the default), else ""
  std::vector<std::uint16_t> instances;  ///< ascending, without duplicates; empty for "</5>"
  bool operator==(const SupportedObject&) const = default;
};

/// A Register/Update payload read as LwM2M links (§5.3.1).
struct ObjectLinks {
  /// The alternate root path: the target of the link with rt="oma.lwm2m" ("/lwm2m"), else "/".
  std::string rootPath = "/";
  /// "ct" on the root link: the Content-Format the client prefers (e.g. 11543), when given.
  std::optional<std::uint16_t> rootContentFormat;
  std::vector<SupportedObject> objects;  ///< ascending by id
  std::vector<coap::Link> links;         ///< every link as written, including ones outside the root
  bool operator==(const ObjectLinks&) const = default;

  [[nodiscard]] const SupportedObject* object(std::uint16_t id) const noexcept;
};

/// Reads a link-format payload (§5.3.1). Links outside the root path are kept in `links` only;
/// links under it must be "<root>/o" or "<root>/o/i" with ids 0..65535 and an optional "ver" of the
/// form <major>.<minor>. A trailing '/' on the root target is ignored ("</lwm2m/>").
[[nodiscard]] Expected<ObjectLinks, RegistrationFailure> parseObjectLinks(std::string_view payload);

/// A query parameter this parser does not know, kept for the journal (value nullopt when bare).
using ExtraParameter = std::pair<std::string, std::optional<std::string>>;

/// §5.3.1 Register.
struct RegisterRequest {
  std::string endpoint;                       ///< "ep"; OceanConnect's nodeId
  std::uint32_t lifetime = kDefaultLifetime;  ///< "lt", seconds
  std::string version{kDefaultVersion};       ///< "lwm2m"
  Binding binding;                            ///< "b" (default U), plus "Q" with lwm2m=1.1
  std::optional<std::string> sms;             ///< "sms": MSISDN
  ObjectLinks objects;
  std::vector<ExtraParameter> extraParameters;
  bool operator==(const RegisterRequest&) const = default;
};

/// §5.3.2 Update: only what the client sent.
struct UpdateRequest {
  std::string location;  ///< the {location} of rd/{location}
  std::optional<std::uint32_t> lifetime;
  std::optional<Binding> binding;
  std::optional<std::string> sms;
  std::optional<ObjectLinks> objects;  ///< present when the payload is not empty
  std::vector<ExtraParameter> extraParameters;
  bool operator==(const UpdateRequest&) const = default;
};

/// §5.3.3 De-register.
struct DeregisterRequest {
  std::string location;
  bool operator==(const DeregisterRequest&) const = default;
};

/// Which Registration-interface operation a request is, judged by method and Uri-Path alone.
enum class RegistrationOp : std::uint8_t {
  None,        ///< Uri-Path does not start with "rd": not for the registration interface
  Register,    ///< POST rd
  Update,      ///< POST rd/{location}
  Deregister,  ///< DELETE rd/{location}
  Invalid,     ///< under "rd" but another method or a deeper path: parse it to get the error
};
[[nodiscard]] RegistrationOp classify(const coap::Message& request);

/// Parses a Register request: POST, Uri-Path "rd", Uri-Query ep (required), lt, lwm2m, b, sms
/// (and Q with lwm2m=1.1), link-format payload (Content-Format 40 or none).
[[nodiscard]] Expected<RegisterRequest, RegistrationFailure> parseRegister(const coap::Message& request);
/// The endpoint name a Register names even when the Register is refused for something else (a
/// 4.12 version, a bad lifetime …), so the server can tell which device tried: the value of the
/// one "ep=" Uri-Query, non-empty, at most kMaxEndpointLength bytes and UTF-8; nullopt otherwise
/// (none, several, or a bad one).
[[nodiscard]] std::optional<std::string> registerEndpoint(const coap::Message& request);
/// Parses an Update request: POST rd/{location}, optional lt, b, sms (binding letters judged for
/// `version`, the registration's LwM2M version), optional link-format payload. Other parameters
/// ("ep", "Q", unknown ones) land in extraParameters.
[[nodiscard]] Expected<UpdateRequest, RegistrationFailure> parseUpdate(const coap::Message& request,
                                                                       std::string_view version = "1.0");
/// Parses a De-register request: DELETE rd/{location}; query and payload are ignored.
[[nodiscard]] Expected<DeregisterRequest, RegistrationFailure> parseDeregister(const coap::Message& request);

/// Sets the Location-Path of a 2.01 Created answer to "rd/{location}" (§5.3.1).
void setRegistrationLocation(coap::Message& response, std::string_view location);

}  // namespace fc::lwm2m

template <>
struct std::is_error_code_enum<fc::lwm2m::RegistrationError> : std::true_type {};
