// CoAP message codec. Section numbers refer to RFC 7252 unless noted.
#include "protocols/coap/message.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace fc::coap {
namespace {

// §3.1: option delta and length nibbles 13 and 14 announce one or two extension bytes.
constexpr std::uint8_t kExtend8 = 13;
constexpr std::uint8_t kExtend16 = 14;
constexpr std::uint8_t kReservedNibble = 15;
constexpr std::uint32_t kExtend8Base = 13;
constexpr std::uint32_t kExtend16Base = 269;
constexpr std::uint32_t kMaxOptionNumber = 65535;

constexpr std::array kOptions{
    OptionInfo{option::kIfMatch, "If-Match", OptionFormat::Opaque, 0, 8, true},
    OptionInfo{option::kUriHost, "Uri-Host", OptionFormat::String, 1, 255, false},
    OptionInfo{option::kETag, "ETag", OptionFormat::Opaque, 1, 8, true},
    OptionInfo{option::kIfNoneMatch, "If-None-Match", OptionFormat::Empty, 0, 0, false},
    OptionInfo{option::kObserve, "Observe", OptionFormat::Uint, 0, 3, false},
    OptionInfo{option::kUriPort, "Uri-Port", OptionFormat::Uint, 0, 2, false},
    OptionInfo{option::kLocationPath, "Location-Path", OptionFormat::String, 0, 255, true},
    OptionInfo{option::kUriPath, "Uri-Path", OptionFormat::String, 0, 255, true},
    OptionInfo{option::kContentFormat, "Content-Format", OptionFormat::Uint, 0, 2, false},
    OptionInfo{option::kMaxAge, "Max-Age", OptionFormat::Uint, 0, 4, false},
    OptionInfo{option::kUriQuery, "Uri-Query", OptionFormat::String, 0, 255, true},
    OptionInfo{option::kAccept, "Accept", OptionFormat::Uint, 0, 2, false},
    OptionInfo{option::kLocationQuery, "Location-Query", OptionFormat::String, 0, 255, true},
    OptionInfo{option::kBlock2, "Block2", OptionFormat::Uint, 0, 3, false},
    OptionInfo{option::kBlock1, "Block1", OptionFormat::Uint, 0, 3, false},
    OptionInfo{option::kSize2, "Size2", OptionFormat::Uint, 0, 4, false},
    OptionInfo{option::kProxyUri, "Proxy-Uri", OptionFormat::String, 1, 1034, false},
    OptionInfo{option::kProxyScheme, "Proxy-Scheme", OptionFormat::String, 1, 255, false},
    OptionInfo{option::kSize1, "Size1", OptionFormat::Uint, 0, 4, false},
    OptionInfo{option::kNoResponse, "No-Response", OptionFormat::Uint, 0, 1, false},
};

struct CodeEntry {
  Code code;
  std::string_view name;
};

constexpr std::array kCodeNames{
    CodeEntry{code::kEmpty, "Empty"},
    CodeEntry{code::kGet, "GET"},
    CodeEntry{code::kPost, "POST"},
    CodeEntry{code::kPut, "PUT"},
    CodeEntry{code::kDelete, "DELETE"},
    CodeEntry{code::kFetch, "FETCH"},
    CodeEntry{code::kPatch, "PATCH"},
    CodeEntry{code::kIPatch, "iPATCH"},
    CodeEntry{code::kCreated, "Created"},
    CodeEntry{code::kDeleted, "Deleted"},
    CodeEntry{code::kValid, "Valid"},
    CodeEntry{code::kChanged, "Changed"},
    CodeEntry{code::kContent, "Content"},
    CodeEntry{code::kContinue, "Continue"},
    CodeEntry{code::kBadRequest, "Bad Request"},
    CodeEntry{code::kUnauthorized, "Unauthorized"},
    CodeEntry{code::kBadOption, "Bad Option"},
    CodeEntry{code::kForbidden, "Forbidden"},
    CodeEntry{code::kNotFound, "Not Found"},
    CodeEntry{code::kMethodNotAllowed, "Method Not Allowed"},
    CodeEntry{code::kNotAcceptable, "Not Acceptable"},
    CodeEntry{code::kRequestEntityIncomplete, "Request Entity Incomplete"},
    CodeEntry{code::kPreconditionFailed, "Precondition Failed"},
    CodeEntry{code::kRequestEntityTooLarge, "Request Entity Too Large"},
    CodeEntry{code::kUnsupportedContentFormat, "Unsupported Content-Format"},
    CodeEntry{code::kInternalServerError, "Internal Server Error"},
    CodeEntry{code::kNotImplemented, "Not Implemented"},
    CodeEntry{code::kBadGateway, "Bad Gateway"},
    CodeEntry{code::kServiceUnavailable, "Service Unavailable"},
    CodeEntry{code::kGatewayTimeout, "Gateway Timeout"},
    CodeEntry{code::kProxyingNotSupported, "Proxying Not Supported"},
};

struct FormatEntry {
  std::uint16_t format;
  std::string_view name;
};

constexpr std::array kFormatNames{
    FormatEntry{format::kTextPlain, "text/plain;charset=utf-8"},
    FormatEntry{format::kLinkFormat, "application/link-format"},
    FormatEntry{format::kXml, "application/xml"},
    FormatEntry{format::kOctetStream, "application/octet-stream"},
    FormatEntry{format::kExi, "application/exi"},
    FormatEntry{format::kJson, "application/json"},
    FormatEntry{format::kCbor, "application/cbor"},
    FormatEntry{format::kSenmlJson, "application/senml+json"},
    FormatEntry{format::kSensmlJson, "application/sensml+json"},
    FormatEntry{format::kSenmlCbor, "application/senml+cbor"},
    FormatEntry{format::kOmaTlvOld, "application/vnd.oma.lwm2m+tlv (pre-registration 1542)"},
    FormatEntry{format::kOmaJsonOld, "application/vnd.oma.lwm2m+json (pre-registration 1543)"},
    FormatEntry{format::kLwm2mTlv, "application/vnd.oma.lwm2m+tlv"},
    FormatEntry{format::kLwm2mJson, "application/vnd.oma.lwm2m+json"},
    FormatEntry{format::kLwm2mCbor, "application/vnd.oma.lwm2m+cbor"},
};

std::string_view asText(std::span<const std::uint8_t> s) noexcept {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

std::span<const std::uint8_t> asBytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// §3.1: the nibble that announces `v` and how many extension bytes follow it.
std::uint8_t nibbleFor(std::uint32_t v) noexcept {
  if (v < kExtend8Base) return static_cast<std::uint8_t>(v);
  if (v < kExtend16Base) return kExtend8;
  return kExtend16;
}

void writeExtension(std::uint32_t v, std::vector<std::uint8_t>& out) {
  if (v < kExtend8Base) return;
  if (v < kExtend16Base) {
    out.push_back(static_cast<std::uint8_t>(v - kExtend8Base));
    return;
  }
  const std::uint32_t e = v - kExtend16Base;
  out.push_back(static_cast<std::uint8_t>(e >> 8));
  out.push_back(static_cast<std::uint8_t>(e & 0xFF));
}

// Reads the extension bytes a delta or length nibble announces (§3.1). The caller has already
// rejected nibble 15, whose meaning differs between delta and length.
bool readExtended(std::uint8_t nibble, std::span<const std::uint8_t> in, std::size_t& pos,
                  std::uint32_t& out) noexcept {
  if (nibble < kExtend8) {
    out = nibble;
    return true;
  }
  if (nibble == kExtend8) {
    if (in.size() - pos < 1) return false;
    out = kExtend8Base + in[pos];
    pos += 1;
    return true;
  }
  if (in.size() - pos < 2) return false;
  out = kExtend16Base + ((static_cast<std::uint32_t>(in[pos]) << 8) | in[pos + 1]);
  pos += 2;
  return true;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) return segments;
  for (;;) {
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

std::string joinStrings(const std::vector<std::string_view>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) out.push_back('/');
    out.append(parts[i]);
  }
  return out;
}

class DecodeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coap.decode"; }

  std::string message(int ev) const override {
    switch (static_cast<DecodeError>(ev)) {
      case DecodeError::HeaderTooShort:
        return "datagram shorter than the 4-byte header (RFC 7252 §3)";
      case DecodeError::BadVersion:
        return "unknown CoAP version (RFC 7252 §3)";
      case DecodeError::ReservedTokenLength:
        return "reserved token length 9-15 (RFC 7252 §3)";
      case DecodeError::TokenTruncated:
        return "datagram ends inside the token (RFC 7252 §3)";
      case DecodeError::EmptyMessageNotEmpty:
        return "empty message (0.00) with bytes after the message id (RFC 7252 §4.1)";
      case DecodeError::ReservedOptionDelta:
        return "reserved option delta 15 (RFC 7252 §3.1)";
      case DecodeError::ReservedOptionLength:
        return "reserved option length 15 (RFC 7252 §3.1)";
      case DecodeError::OptionTruncated:
        return "option runs past the end of the datagram (RFC 7252 §3.1)";
      case DecodeError::OptionNumberTooLarge:
        return "option number above 65535 (RFC 7252 §3.1)";
      case DecodeError::EmptyPayload:
        return "payload marker followed by an empty payload (RFC 7252 §3)";
    }
    return "unknown coap decode error";
  }
};

}  // namespace

const char* typeName(Type t) noexcept {
  switch (t) {
    case Type::Confirmable:
      return "CON";
    case Type::NonConfirmable:
      return "NON";
    case Type::Acknowledgement:
      return "ACK";
    case Type::Reset:
      return "RST";
  }
  return "???";
}

std::string codeName(Code c) {
  std::string out;
  out.push_back(static_cast<char>('0' + c.codeClass()));
  out.push_back('.');
  out.push_back(static_cast<char>('0' + c.detail() / 10));
  out.push_back(static_cast<char>('0' + c.detail() % 10));
  for (const auto& e : kCodeNames) {
    if (e.code == c) {
      out.push_back(' ');
      out.append(e.name);
      break;
    }
  }
  return out;
}

const OptionInfo* optionInfo(std::uint16_t number) noexcept {
  for (const auto& info : kOptions) {
    if (info.number == number) return &info;
  }
  return nullptr;
}

bool optionLengthValid(std::uint16_t number, std::size_t length) noexcept {
  const auto* info = optionInfo(number);
  return info != nullptr && length >= info->minLength && length <= info->maxLength;
}

std::string_view contentFormatName(std::uint16_t f) noexcept {
  for (const auto& e : kFormatNames) {
    if (e.format == f) return e.name;
  }
  return {};
}

std::vector<std::uint8_t> encodeUint(std::uint32_t value) {
  std::vector<std::uint8_t> out;
  int bytes = 0;
  for (std::uint32_t v = value; v != 0; v >>= 8) ++bytes;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  return out;
}

std::optional<std::uint32_t> decodeUint(std::span<const std::uint8_t> value) noexcept {
  if (value.size() > 4) return std::nullopt;
  std::uint32_t v = 0;
  for (const auto b : value) v = (v << 8) | b;
  return v;
}

// ---- Message helpers ----

const Option* Message::find(std::uint16_t number) const noexcept {
  for (const auto& o : options) {
    if (o.number == number) return &o;
  }
  return nullptr;
}

std::optional<std::uint32_t> Message::getUint(std::uint16_t number) const noexcept {
  const auto* o = find(number);
  if (o == nullptr) return std::nullopt;
  return decodeUint(o->value);
}

std::optional<std::string_view> Message::getString(std::uint16_t number) const noexcept {
  const auto* o = find(number);
  if (o == nullptr) return std::nullopt;
  return asText(o->value);
}

std::vector<std::string_view> Message::getStrings(std::uint16_t number) const {
  std::vector<std::string_view> out;
  for (const auto& o : options) {
    if (o.number == number) out.push_back(asText(o.value));
  }
  return out;
}

std::string Message::uriPath() const { return joinStrings(getStrings(option::kUriPath)); }

std::string Message::locationPath() const { return joinStrings(getStrings(option::kLocationPath)); }

std::optional<std::string_view> Message::query(std::string_view key) const {
  for (const auto& o : options) {
    if (o.number != option::kUriQuery) continue;
    const auto text = asText(o.value);
    const auto eq = text.find('=');
    if (text.substr(0, eq) != key) continue;
    return eq == std::string_view::npos ? std::string_view{} : text.substr(eq + 1);
  }
  return std::nullopt;
}

void Message::add(std::uint16_t number, std::span<const std::uint8_t> value) {
  // After the last instance with a number <= `number`: sorted, repeated options in insertion order.
  const auto at = std::upper_bound(options.begin(), options.end(), number,
                                   [](std::uint16_t n, const Option& o) { return n < o.number; });
  options.insert(at, Option{number, std::vector<std::uint8_t>(value.begin(), value.end())});
}

void Message::addString(std::uint16_t number, std::string_view value) { add(number, asBytes(value)); }

void Message::addUint(std::uint16_t number, std::uint32_t value) { add(number, encodeUint(value)); }

void Message::set(std::uint16_t number, std::span<const std::uint8_t> value) {
  remove(number);
  add(number, value);
}

void Message::setString(std::uint16_t number, std::string_view value) { set(number, asBytes(value)); }

void Message::setUint(std::uint16_t number, std::uint32_t value) { set(number, encodeUint(value)); }

std::size_t Message::remove(std::uint16_t number) {
  return std::erase_if(options, [number](const Option& o) { return o.number == number; });
}

void Message::setUriPath(std::string_view path) {
  remove(option::kUriPath);
  for (const auto segment : splitPath(path)) addString(option::kUriPath, segment);
}

void Message::setLocationPath(std::string_view path) {
  remove(option::kLocationPath);
  for (const auto segment : splitPath(path)) addString(option::kLocationPath, segment);
}

void Message::setPayload(std::string_view text) { payload.assign(text.begin(), text.end()); }

std::string_view Message::payloadText() const noexcept { return asText(payload); }

Message makeResponse(Code code, std::string_view diagnostic) {
  Message m;
  m.code = code;
  m.setPayload(diagnostic);
  return m;
}

// ---- codec ----

const std::error_category& decodeCategory() noexcept {
  static const DecodeCategory category;
  return category;
}

std::error_code make_error_code(DecodeError e) noexcept { return {static_cast<int>(e), decodeCategory()}; }

std::optional<Header> peekHeader(std::span<const std::uint8_t> d) noexcept {
  if (d.size() < kHeaderSize || (d[0] >> 6) != kVersion) return std::nullopt;
  return Header{.type = static_cast<Type>((d[0] >> 4) & 0x03),
                .tokenLength = static_cast<std::uint8_t>(d[0] & 0x0F),
                .code = Code::fromRaw(d[1]),
                .messageId = static_cast<std::uint16_t>((d[2] << 8) | d[3])};
}

Expected<Message, DecodeError> decode(std::span<const std::uint8_t> d) noexcept {
  if (d.size() < kHeaderSize) return Unexpected(DecodeError::HeaderTooShort);
  const auto header = peekHeader(d);
  if (!header) return Unexpected(DecodeError::BadVersion);  // §3: silently ignored by the caller
  if (header->tokenLength > kMaxTokenLength) return Unexpected(DecodeError::ReservedTokenLength);

  Message m;
  m.type = header->type;
  m.code = header->code;
  m.messageId = header->messageId;
  // §4.1: an Empty message is the header alone; any further byte is a format error.
  if (m.code.isEmpty()) {
    if (header->tokenLength != 0 || d.size() != kHeaderSize) return Unexpected(DecodeError::EmptyMessageNotEmpty);
    return m;
  }

  std::size_t pos = kHeaderSize;
  if (d.size() - pos < header->tokenLength) return Unexpected(DecodeError::TokenTruncated);
  m.token.assign(d.begin() + static_cast<std::ptrdiff_t>(pos),
                 d.begin() + static_cast<std::ptrdiff_t>(pos + header->tokenLength));
  pos += header->tokenLength;

  std::uint32_t number = 0;
  while (pos < d.size()) {
    const std::uint8_t first = d[pos++];
    if (first == kPayloadMarker) {
      if (pos == d.size()) return Unexpected(DecodeError::EmptyPayload);  // §3
      m.payload.assign(d.begin() + static_cast<std::ptrdiff_t>(pos), d.end());
      return m;
    }
    const auto deltaNibble = static_cast<std::uint8_t>(first >> 4);
    const auto lengthNibble = static_cast<std::uint8_t>(first & 0x0F);
    if (deltaNibble == kReservedNibble) return Unexpected(DecodeError::ReservedOptionDelta);    // §3.1
    if (lengthNibble == kReservedNibble) return Unexpected(DecodeError::ReservedOptionLength);  // §3.1
    std::uint32_t delta = 0;
    std::uint32_t length = 0;
    // §3.1: the delta's extension bytes come before the length's.
    if (!readExtended(deltaNibble, d, pos, delta)) return Unexpected(DecodeError::OptionTruncated);
    if (!readExtended(lengthNibble, d, pos, length)) return Unexpected(DecodeError::OptionTruncated);
    number += delta;
    if (number > kMaxOptionNumber) return Unexpected(DecodeError::OptionNumberTooLarge);
    if (d.size() - pos < length) return Unexpected(DecodeError::OptionTruncated);
    m.options.push_back(Option{static_cast<std::uint16_t>(number),
                               std::vector<std::uint8_t>(d.begin() + static_cast<std::ptrdiff_t>(pos),
                                                         d.begin() + static_cast<std::ptrdiff_t>(pos + length))});
    pos += length;
  }
  return m;
}

std::optional<DecodeError> validate(const Message& m) noexcept {
  if (m.token.size() > kMaxTokenLength) return DecodeError::ReservedTokenLength;
  if (m.code.isEmpty() && (!m.token.empty() || !m.options.empty() || !m.payload.empty())) {
    return DecodeError::EmptyMessageNotEmpty;
  }
  for (const auto& o : m.options) {
    if (o.value.size() > kMaxOptionLength) return DecodeError::ReservedOptionLength;
  }
  return std::nullopt;
}

Expected<std::size_t, DecodeError> encode(const Message& m, std::vector<std::uint8_t>& out) {
  if (auto e = validate(m)) return Unexpected(*e);
  const std::size_t before = out.size();
  std::size_t size = kHeaderSize + m.token.size() + (m.payload.empty() ? 0 : 1 + m.payload.size());
  for (const auto& o : m.options) size += 5 + o.value.size();
  out.reserve(out.size() + size);

  out.push_back(
      static_cast<std::uint8_t>(kVersion << 6 | static_cast<std::uint8_t>(m.type) << 4 | (m.token.size() & 0x0F)));
  out.push_back(m.code.raw);
  out.push_back(static_cast<std::uint8_t>(m.messageId >> 8));
  out.push_back(static_cast<std::uint8_t>(m.messageId & 0xFF));
  out.insert(out.end(), m.token.begin(), m.token.end());

  // §3.1: deltas cannot be negative, so options go out in ascending order. The helpers keep the
  // list sorted; only a hand-built list needs the (stable) sort.
  std::vector<const Option*> order;
  order.reserve(m.options.size());
  for (const auto& o : m.options) order.push_back(&o);
  std::stable_sort(order.begin(), order.end(), [](const Option* a, const Option* b) { return a->number < b->number; });

  std::uint32_t previous = 0;
  for (const Option* o : order) {
    const std::uint32_t delta = o->number - previous;
    const auto length = static_cast<std::uint32_t>(o->value.size());
    out.push_back(static_cast<std::uint8_t>(nibbleFor(delta) << 4 | nibbleFor(length)));
    writeExtension(delta, out);
    writeExtension(length, out);
    out.insert(out.end(), o->value.begin(), o->value.end());
    previous = o->number;
  }
  if (!m.payload.empty()) {
    out.push_back(kPayloadMarker);
    out.insert(out.end(), m.payload.begin(), m.payload.end());
  }
  return out.size() - before;
}

Expected<std::vector<std::uint8_t>, DecodeError> encode(const Message& m) {
  std::vector<std::uint8_t> out;
  if (auto r = encode(m, out); !r) return Unexpected(r.error());
  return out;
}

}  // namespace fc::coap
