// CoAP message codec (RFC 7252 §3): one whole UDP datagram in, one Message out, or an error
// naming the §3 rule the datagram breaks. The encoder appends the wire form of a Message.
// Message-layer decisions (what to ACK, reject or ignore) live in exchange.hpp, not here: the
// codec decodes every well-formed datagram faithfully, including ones the message layer rejects
// (an ACK carrying a request, a code of a reserved class), so that the layer can see them.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::coap {

/// RFC 7252 §3: the only version this specification defines.
inline constexpr std::uint8_t kVersion = 1;
/// RFC 7252 §3: the fixed header is four bytes.
inline constexpr std::size_t kHeaderSize = 4;
/// RFC 7252 §3: token lengths 0–8; 9–15 are reserved.
inline constexpr std::size_t kMaxTokenLength = 8;
/// RFC 7252 §3: the byte that separates options from the payload.
inline constexpr std::uint8_t kPayloadMarker = 0xFF;
/// RFC 7252 §3.1: largest option value length the 14-nibble extension can express (65535 + 269).
inline constexpr std::size_t kMaxOptionLength = 65535 + 269;

/// RFC 7252 §3: the 2-bit message type.
enum class Type : std::uint8_t {
  Confirmable = 0,      ///< CON, §4.2
  NonConfirmable = 1,   ///< NON, §4.3
  Acknowledgement = 2,  ///< ACK, §4.2
  Reset = 3,            ///< RST, §4.2, §4.3
};

/// "CON", "NON", "ACK", "RST".
const char* typeName(Type t) noexcept;

/// RFC 7252 §3: the code byte, a 3-bit class and a 5-bit detail written "c.dd".
/// Class 0 are requests (0.00 is the Empty message), 2 success, 4 client error, 5 server error;
/// 1, 6 and 7 are reserved (§12.1).
struct Code {
  std::uint8_t raw = 0;

  constexpr Code() = default;
  constexpr Code(std::uint8_t cls, std::uint8_t detail) noexcept
      : raw(static_cast<std::uint8_t>((cls & 0x07) << 5 | (detail & 0x1F))) {}
  static constexpr Code fromRaw(std::uint8_t b) noexcept {
    Code c;
    c.raw = b;
    return c;
  }

  [[nodiscard]] constexpr std::uint8_t codeClass() const noexcept { return static_cast<std::uint8_t>(raw >> 5); }
  [[nodiscard]] constexpr std::uint8_t detail() const noexcept { return static_cast<std::uint8_t>(raw & 0x1F); }
  /// 0.00, RFC 7252 §4.1.
  [[nodiscard]] constexpr bool isEmpty() const noexcept { return raw == 0; }
  /// 0.01–0.31, RFC 7252 §12.1.1.
  [[nodiscard]] constexpr bool isRequest() const noexcept { return codeClass() == 0 && raw != 0; }
  /// Classes 2, 4 and 5, RFC 7252 §12.1.2.
  [[nodiscard]] constexpr bool isResponse() const noexcept {
    return codeClass() == 2 || codeClass() == 4 || codeClass() == 5;
  }
  /// Classes 1, 6 and 7 are reserved, RFC 7252 §12.1; a CON with one is rejected (§4.2).
  [[nodiscard]] constexpr bool isReservedClass() const noexcept {
    return codeClass() == 1 || codeClass() == 6 || codeClass() == 7;
  }

  constexpr auto operator<=>(const Code&) const = default;
};

/// Method and response codes, RFC 7252 §12.1.1 and §12.1.2 (plus 2.31 Continue, RFC 7959 §2.9.1,
/// 4.08 Request Entity Incomplete, RFC 7959 §2.9.2, and FETCH/PATCH/iPATCH, RFC 8132).
namespace code {
inline constexpr Code kEmpty{0, 0};
inline constexpr Code kGet{0, 1};
inline constexpr Code kPost{0, 2};
inline constexpr Code kPut{0, 3};
inline constexpr Code kDelete{0, 4};
inline constexpr Code kFetch{0, 5};
inline constexpr Code kPatch{0, 6};
inline constexpr Code kIPatch{0, 7};
inline constexpr Code kCreated{2, 1};
inline constexpr Code kDeleted{2, 2};
inline constexpr Code kValid{2, 3};
inline constexpr Code kChanged{2, 4};
inline constexpr Code kContent{2, 5};
inline constexpr Code kContinue{2, 31};
inline constexpr Code kBadRequest{4, 0};
inline constexpr Code kUnauthorized{4, 1};
inline constexpr Code kBadOption{4, 2};
inline constexpr Code kForbidden{4, 3};
inline constexpr Code kNotFound{4, 4};
inline constexpr Code kMethodNotAllowed{4, 5};
inline constexpr Code kNotAcceptable{4, 6};
inline constexpr Code kRequestEntityIncomplete{4, 8};
inline constexpr Code kPreconditionFailed{4, 12};
inline constexpr Code kRequestEntityTooLarge{4, 13};
inline constexpr Code kUnsupportedContentFormat{4, 15};
inline constexpr Code kInternalServerError{5, 0};
inline constexpr Code kNotImplemented{5, 1};
inline constexpr Code kBadGateway{5, 2};
inline constexpr Code kServiceUnavailable{5, 3};
inline constexpr Code kGatewayTimeout{5, 4};
inline constexpr Code kProxyingNotSupported{5, 5};
}  // namespace code

/// "2.05 Content", "0.01 GET", "0.00 Empty"; codes without a registered name are just "c.dd".
std::string codeName(Code c);

/// Option numbers, RFC 7252 §5.10 and §12.2, plus Observe (RFC 7641 §2), Block1/Block2/Size2
/// (RFC 7959 §2.1, §4) and No-Response (RFC 7967).
namespace option {
inline constexpr std::uint16_t kIfMatch = 1;
inline constexpr std::uint16_t kUriHost = 3;
inline constexpr std::uint16_t kETag = 4;
inline constexpr std::uint16_t kIfNoneMatch = 5;
inline constexpr std::uint16_t kObserve = 6;
inline constexpr std::uint16_t kUriPort = 7;
inline constexpr std::uint16_t kLocationPath = 8;
inline constexpr std::uint16_t kUriPath = 11;
inline constexpr std::uint16_t kContentFormat = 12;
inline constexpr std::uint16_t kMaxAge = 14;
inline constexpr std::uint16_t kUriQuery = 15;
inline constexpr std::uint16_t kAccept = 17;
inline constexpr std::uint16_t kLocationQuery = 20;
inline constexpr std::uint16_t kBlock2 = 23;
inline constexpr std::uint16_t kBlock1 = 27;
inline constexpr std::uint16_t kSize2 = 28;
inline constexpr std::uint16_t kProxyUri = 35;
inline constexpr std::uint16_t kProxyScheme = 39;
inline constexpr std::uint16_t kSize1 = 60;
inline constexpr std::uint16_t kNoResponse = 258;
}  // namespace option

/// RFC 7252 §5.4.1: odd option numbers are critical — an unrecognized critical option in a CON
/// request makes the server answer 4.02 Bad Option; an elective one is silently ignored.
constexpr bool isCritical(std::uint16_t number) noexcept { return (number & 0x01) != 0; }
/// RFC 7252 §5.4.2, §5.4.6: bit 1 marks an option a proxy must understand to forward the message.
constexpr bool isUnsafe(std::uint16_t number) noexcept { return (number & 0x02) != 0; }
/// RFC 7252 §5.4.6: bits 2–4 all set mark a safe option that is not part of the cache key.
constexpr bool isNoCacheKey(std::uint16_t number) noexcept { return (number & 0x1E) == 0x1C; }

/// RFC 7252 §3.2 option value formats.
enum class OptionFormat : std::uint8_t { Empty, Opaque, Uint, String };

/// What RFC 7252 §5.10 (and the RFCs that registered later options) say about one option.
struct OptionInfo {
  std::uint16_t number = 0;
  std::string_view name;
  OptionFormat format = OptionFormat::Opaque;
  std::uint16_t minLength = 0;  ///< RFC 7252 §5.4.3: a value outside [min, max] is treated
  std::uint16_t maxLength = 0;  ///< like an unrecognized option
  bool repeatable = false;      ///< RFC 7252 §5.4.5
};

/// The registered options this codebase knows about, or nullptr.
const OptionInfo* optionInfo(std::uint16_t number) noexcept;

/// RFC 7252 §5.4.3: true when `number` is known and `length` is within its range (unknown options
/// are not judged here: the caller decides whether it recognizes them).
bool optionLengthValid(std::uint16_t number, std::size_t length) noexcept;

/// Content-Format numbers, RFC 7252 §12.3 and the CoAP Content-Formats registry.
namespace format {
inline constexpr std::uint16_t kTextPlain = 0;      ///< text/plain;charset=utf-8
inline constexpr std::uint16_t kLinkFormat = 40;    ///< application/link-format (RFC 6690)
inline constexpr std::uint16_t kXml = 41;           ///< application/xml
inline constexpr std::uint16_t kOctetStream = 42;   ///< application/octet-stream
inline constexpr std::uint16_t kExi = 47;           ///< application/exi
inline constexpr std::uint16_t kJson = 50;          ///< application/json
inline constexpr std::uint16_t kCbor = 60;          ///< application/cbor (RFC 8949)
inline constexpr std::uint16_t kSenmlJson = 110;    ///< application/senml+json (RFC 8428)
inline constexpr std::uint16_t kSensmlJson = 111;   ///< application/sensml+json (RFC 8428)
inline constexpr std::uint16_t kSenmlCbor = 112;    ///< application/senml+cbor (RFC 8428)
inline constexpr std::uint16_t kOmaTlvOld = 1542;   ///< LwM2M 1.0 pre-registration TLV
inline constexpr std::uint16_t kOmaJsonOld = 1543;  ///< LwM2M 1.0 pre-registration JSON
inline constexpr std::uint16_t kLwm2mTlv = 11542;   ///< application/vnd.oma.lwm2m+tlv
inline constexpr std::uint16_t kLwm2mJson = 11543;  ///< application/vnd.oma.lwm2m+json
inline constexpr std::uint16_t kLwm2mCbor = 11544;  ///< application/vnd.oma.lwm2m+cbor (LwM2M 1.2)
}  // namespace format

/// Media type of a Content-Format number ("application/json"), or "" when unknown.
std::string_view contentFormatName(std::uint16_t format) noexcept;

/// RFC 7252 §3.2: the uint option format — big-endian, as few bytes as possible (0 is empty).
std::vector<std::uint8_t> encodeUint(std::uint32_t value);
/// RFC 7252 §3.2: reads a uint option value. Leading zero bytes are accepted (the minimal length
/// is a SHOULD for senders); values longer than 4 bytes give nullopt.
std::optional<std::uint32_t> decodeUint(std::span<const std::uint8_t> value) noexcept;

/// One option instance. Order within Message::options is the wire order (RFC 7252 §3.1).
struct Option {
  std::uint16_t number = 0;
  std::vector<std::uint8_t> value;
  bool operator==(const Option&) const = default;
};

/// A CoAP message (RFC 7252 §3). `options` is kept sorted by number by the helpers below, with
/// repeated options (§5.4.5) in the order they were added; decode() produces the same shape.
struct Message {
  Type type = Type::Confirmable;
  Code code;
  std::uint16_t messageId = 0;
  std::vector<std::uint8_t> token;  ///< 0–8 bytes (§5.3.1)
  std::vector<Option> options;
  std::vector<std::uint8_t> payload;

  bool operator==(const Message&) const = default;

  /// First instance of option `number`, or nullptr.
  [[nodiscard]] const Option* find(std::uint16_t number) const noexcept;
  [[nodiscard]] bool has(std::uint16_t number) const noexcept { return find(number) != nullptr; }
  /// First instance as a uint (§3.2); nullopt when absent or longer than 4 bytes.
  [[nodiscard]] std::optional<std::uint32_t> getUint(std::uint16_t number) const noexcept;
  /// First instance as a string view into the value (§3.2 string format), or nullopt when absent.
  [[nodiscard]] std::optional<std::string_view> getString(std::uint16_t number) const noexcept;
  /// Every instance of a repeatable option (Uri-Path, Uri-Query, Location-Path, …), in order.
  [[nodiscard]] std::vector<std::string_view> getStrings(std::uint16_t number) const;
  /// Uri-Path segments joined with '/' ("rd/5a3f"), without a leading slash (§6.5 step 8).
  [[nodiscard]] std::string uriPath() const;
  /// Location-Path segments joined with '/' (§5.10.7).
  [[nodiscard]] std::string locationPath() const;
  /// The value of the first Uri-Query "key=value" whose key matches; "" for a bare "key".
  [[nodiscard]] std::optional<std::string_view> query(std::string_view key) const;

  /// Appends an instance after any existing instances of `number` (keeps options sorted).
  void add(std::uint16_t number, std::span<const std::uint8_t> value);
  void addString(std::uint16_t number, std::string_view value);
  void addUint(std::uint16_t number, std::uint32_t value);
  /// Replaces all instances of `number` with one.
  void set(std::uint16_t number, std::span<const std::uint8_t> value);
  void setString(std::uint16_t number, std::string_view value);
  void setUint(std::uint16_t number, std::uint32_t value);
  /// Removes every instance of `number`; returns how many were removed.
  std::size_t remove(std::uint16_t number);
  /// Replaces Uri-Path with the '/'-separated segments of `path` (a leading '/' is ignored; "" and
  /// "/" give no segments, §6.4 step 8).
  void setUriPath(std::string_view path);
  /// Replaces Location-Path likewise (§5.10.7).
  void setLocationPath(std::string_view path);

  void setPayload(std::string_view text);
  [[nodiscard]] std::string_view payloadText() const noexcept;
};

/// A response with `code` and, when given, a diagnostic payload (§5.5.2: for errors, UTF-8 text);
/// the endpoint that sends it sets type, message id and token.
[[nodiscard]] Message makeResponse(Code code, std::string_view diagnostic = {});

/// One error per RFC 7252 §3 rule. Values start at 1 so that 0 means success as an error_code.
enum class DecodeError : std::uint8_t {
  HeaderTooShort = 1,    ///< fewer than the 4 header bytes (§3)
  BadVersion,            ///< version other than 1; the datagram must be silently ignored (§3)
  ReservedTokenLength,   ///< TKL 9–15 (§3)
  TokenTruncated,        ///< the datagram ends inside the token (§3)
  EmptyMessageNotEmpty,  ///< code 0.00 with a token or any byte after the message id (§4.1)
  ReservedOptionDelta,   ///< delta nibble 15 in a byte that is not the payload marker (§3.1)
  ReservedOptionLength,  ///< length nibble 15 (§3.1)
  OptionTruncated,       ///< extended delta/length bytes or the value run past the end (§3.1)
  OptionNumberTooLarge,  ///< the running option number exceeds 65535 (§3.1, §12.2)
  EmptyPayload,          ///< payload marker followed by a zero-length payload (§3)
};

const std::error_category& decodeCategory() noexcept;
std::error_code make_error_code(DecodeError e) noexcept;

/// The fixed header alone (RFC 7252 §3), readable even when the rest of the datagram is malformed,
/// so that a malformed CON can be rejected with an RST echoing its message id (§4.2).
struct Header {
  Type type = Type::Confirmable;
  std::uint8_t tokenLength = 0;
  Code code;
  std::uint16_t messageId = 0;
  bool operator==(const Header&) const = default;
};

/// The header of `datagram` if it has at least 4 bytes and version 1, else nullopt.
[[nodiscard]] std::optional<Header> peekHeader(std::span<const std::uint8_t> datagram) noexcept;

/// Decodes one whole datagram (RFC 7252 §3). Never throws on any input; a trailing byte that is not
/// a well-formed option or payload is an error, there is no "incomplete".
[[nodiscard]] Expected<Message, DecodeError> decode(std::span<const std::uint8_t> datagram) noexcept;

/// The error decode(encode(m)) would report, or nullopt when `m` encodes to a valid datagram:
/// a token longer than 8 bytes → ReservedTokenLength (its TKL would be reserved), an Empty message
/// with a token, options or payload → EmptyMessageNotEmpty, an option value longer than
/// kMaxOptionLength → ReservedOptionLength (its length would need the reserved nibble 15).
[[nodiscard]] std::optional<DecodeError> validate(const Message& m) noexcept;

/// Appends the wire form of `m` to `out` (RFC 7252 §3) and returns how many bytes it appended.
/// Options are written in ascending number order (a stable sort, so repeated options keep their
/// relative order) whatever their order in `m.options`. A message the wire cannot represent
/// (validate(m) is not nullopt) leaves `out` as it was and returns validate's error.
[[nodiscard]] Expected<std::size_t, DecodeError> encode(const Message& m, std::vector<std::uint8_t>& out);

/// Convenience: the wire form of `m` in a fresh vector, or validate's error.
[[nodiscard]] Expected<std::vector<std::uint8_t>, DecodeError> encode(const Message& m);

}  // namespace fc::coap

template <>
struct std::is_error_code_enum<fc::coap::DecodeError> : std::true_type {};
