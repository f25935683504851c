// MQTT 3.1/3.1.1 wire codec. Section numbers refer to MQTT 3.1.1 (OASIS, 2014) unless noted.
#include "protocols/mqtt/codec.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "protocols/mqtt/topic.hpp"

namespace fc::mqtt {
namespace {

// Fixed-header packet types (§2.2.1); the Packet variant holds them in this order at index type - 1.
enum PacketType : std::uint8_t {
  kConnect = 1,
  kConnack,
  kPublish,
  kPuback,
  kPubrec,
  kPubrel,
  kPubcomp,
  kSubscribe,
  kSuback,
  kUnsubscribe,
  kUnsuback,
  kPingreq,
  kPingresp,
  kDisconnect,
};
static_assert(std::variant_size_v<Packet> == kDisconnect);

constexpr std::size_t kMaxLengthBytes = 4;           // §2.2.3
constexpr std::uint8_t kReservedFlagsOne = 0b0010;   // PUBREL, SUBSCRIBE, UNSUBSCRIBE [MQTT-3.6.1-1] etc.
constexpr std::uint8_t kConnectReserved = 0x01;
constexpr std::uint8_t kConnectCleanSession = 0x02;
constexpr std::uint8_t kConnectWill = 0x04;
constexpr std::uint8_t kConnectWillQosShift = 3;
constexpr std::uint8_t kConnectWillRetain = 0x20;
constexpr std::uint8_t kConnectPassword = 0x40;
constexpr std::uint8_t kConnectUsername = 0x80;
constexpr std::uint8_t kPublishRetain = 0x01;
constexpr std::uint8_t kPublishQosShift = 1;
constexpr std::uint8_t kPublishDup = 0x08;
constexpr std::uint8_t kConnackSessionPresent = 0x01;

// nullopt means "no error"; lets every step read as `if (auto e = step()) return e;`.
using Status = std::optional<DecodeError>;

std::string_view asChars(std::span<const std::uint8_t> s) noexcept {
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

// Bounds-checked cursor over one packet body. Running past the body means a field overran the
// remaining length, so every short read is MalformedLength (the whole body is present by now).
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> body) noexcept : body_(body) {}

  [[nodiscard]] std::size_t left() const noexcept { return body_.size() - pos_; }

  Status u8(std::uint8_t& out) noexcept {
    if (left() < 1) return DecodeError::MalformedLength;
    out = body_[pos_++];
    return {};
  }

  Status u16(std::uint16_t& out) noexcept {
    if (left() < 2) return DecodeError::MalformedLength;
    out = static_cast<std::uint16_t>((body_[pos_] << 8) | body_[pos_ + 1]);
    pos_ += 2;
    return {};
  }

  Status packetId(std::uint16_t& out) noexcept {
    if (auto e = u16(out)) return e;
    if (out == 0) return DecodeError::ZeroPacketId;
    return {};
  }

  // Two-byte length followed by that many bytes (§1.5.3 strings, §3.1.3.5 binary data).
  Status binary(std::span<const std::uint8_t>& out) noexcept {
    std::uint16_t len = 0;
    if (auto e = u16(len)) return e;
    if (left() < len) return DecodeError::MalformedLength;
    out = body_.subspan(pos_, len);
    pos_ += len;
    return {};
  }

  Status utf8(std::string_view& out) noexcept {
    std::span<const std::uint8_t> raw;
    if (auto e = binary(raw)) return e;
    out = asChars(raw);
    if (!validUtf8(out)) return DecodeError::BadUtf8;
    return {};
  }

  std::span<const std::uint8_t> rest() noexcept {
    auto r = body_.subspan(pos_);
    pos_ = body_.size();
    return r;
  }

  [[nodiscard]] Status finish() const noexcept {
    if (left() != 0) return DecodeError::TrailingBytes;
    return {};
  }

 private:
  std::span<const std::uint8_t> body_;
  std::size_t pos_ = 0;
};

// Everything the first byte alone can reject, so a broker drops garbage before buffering a body.
Status checkFixedFlags(std::uint8_t type, std::uint8_t flags) noexcept {
  switch (type) {
    case kPublish: {
      const auto qos = static_cast<std::uint8_t>((flags >> kPublishQosShift) & 0x03);
      if (qos == 3) return DecodeError::BadQos;                              // [MQTT-3.3.1-4]
      if (qos == 0 && (flags & kPublishDup)) return DecodeError::BadFlags;  // [MQTT-3.3.1-2]
      return {};
    }
    case kPubrel:
    case kSubscribe:
    case kUnsubscribe:
      if (flags != kReservedFlagsOne) return DecodeError::BadFlags;  // [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1]
      return {};
    default:
      if (flags != 0) return DecodeError::BadFlags;  // [MQTT-2.2.2-1], [MQTT-2.2.2-2]
      return {};
  }
}

Status decodeConnect(Reader& r, Packet& out) {
  auto& c = out.emplace<Connect>();
  std::span<const std::uint8_t> name;
  if (auto e = r.binary(name)) return e;
  const auto nameView = asChars(name);
  // Compared byte-wise against ASCII, so a matching name is valid UTF-8 by construction.
  if (nameView != kProtocolName311 && nameView != kProtocolName31) return DecodeError::BadProtocolName;
  std::uint8_t level = 0;
  std::uint8_t flags = 0;
  if (auto e = r.u8(level)) return e;
  if (auto e = r.u8(flags)) return e;
  if (auto e = r.u16(c.keepAlive)) return e;
  c.protocolName.assign(nameView);
  c.protocolLevel = level;
  c.cleanSession = (flags & kConnectCleanSession) != 0;

  // The server must answer an unsupported level with CONNACK 0x01 [MQTT-3.1.2-2]. The payload
  // layout is version-specific (MQTT 5 inserts properties), so it is skipped rather than rejected.
  if (level != kLevel31 && level != kLevel311) {
    r.rest();
    return {};
  }

  const bool hasWill = (flags & kConnectWill) != 0;
  const auto willQos = static_cast<std::uint8_t>((flags >> kConnectWillQosShift) & 0x03);
  const bool willRetain = (flags & kConnectWillRetain) != 0;
  const bool hasUsername = (flags & kConnectUsername) != 0;
  const bool hasPassword = (flags & kConnectPassword) != 0;
  if (flags & kConnectReserved) return DecodeError::BadConnectFlags;  // [MQTT-3.1.2-3]
  // [MQTT-3.1.2-13], [MQTT-3.1.2-15]: will QoS and retain are 0 without a will.
  if (!hasWill && (willQos != 0 || willRetain)) return DecodeError::BadConnectFlags;
  if (willQos == 3) return DecodeError::BadQos;  // [MQTT-3.1.2-14]
  // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22]; MQTT 3.1 has no such rule and
  // some 3.1 clients send one, so level 3 reads the password the flags announce.
  if (level == kLevel311 && hasPassword && !hasUsername) return DecodeError::BadConnectFlags;

  std::string_view text;
  if (auto e = r.utf8(text)) return e;  // [MQTT-3.1.3-4]
  c.clientId.assign(text);
  if (hasWill) {
    auto& will = c.will.emplace();
    if (auto e = r.utf8(text)) return e;
    if (!validTopicName(text)) return DecodeError::BadTopicName;  // a will topic is published as-is
    will.topic.assign(text);
    std::span<const std::uint8_t> message;
    if (auto e = r.binary(message)) return e;
    will.payload.assign(message.begin(), message.end());
    will.qos = static_cast<QoS>(willQos);
    will.retain = willRetain;
  }
  if (hasUsername) {
    if (auto e = r.utf8(text)) return e;  // [MQTT-3.1.3-11]
    c.username.emplace(text);
  }
  if (hasPassword) {
    std::span<const std::uint8_t> password;
    if (auto e = r.binary(password)) return e;
    c.password.emplace(password.begin(), password.end());
  }
  return r.finish();
}

Status decodeConnack(Reader& r, Packet& out) {
  auto& c = out.emplace<Connack>();
  std::uint8_t ackFlags = 0;
  std::uint8_t code = 0;
  if (auto e = r.u8(ackFlags)) return e;
  if (auto e = r.u8(code)) return e;
  if (ackFlags & ~kConnackSessionPresent) return DecodeError::BadConnectFlags;  // §3.2.2.1 bits 7-1 reserved
  c.sessionPresent = (ackFlags & kConnackSessionPresent) != 0;
  // Codes 6-255 are reserved but representable; the client decides what an unknown refusal means.
  c.returnCode = static_cast<ConnectReturn>(code);
  return r.finish();
}

Status decodePublish(Reader& r, std::uint8_t flags, Packet& out) {
  auto& p = out.emplace<Publish>();
  p.qos = static_cast<QoS>((flags >> kPublishQosShift) & 0x03);  // 3 already rejected by checkFixedFlags
  p.retain = (flags & kPublishRetain) != 0;
  p.dup = (flags & kPublishDup) != 0;
  std::string_view topic;
  if (auto e = r.utf8(topic)) return e;
  if (!validTopicName(topic)) return DecodeError::BadTopicName;  // [MQTT-3.3.2-1], [MQTT-3.3.2-2]
  p.topic.assign(topic);
  if (p.qos != QoS::AtMostOnce) {
    if (auto e = r.packetId(p.packetId)) return e;
  }
  const auto payload = r.rest();  // may be empty (§3.3.3)
  p.payload.assign(payload.begin(), payload.end());
  return {};
}

template <class Ack>
Status decodeAck(Reader& r, Packet& out) {
  auto& a = out.emplace<Ack>();
  if (auto e = r.packetId(a.packetId)) return e;
  return r.finish();
}

Status decodeSubscribe(Reader& r, Packet& out) {
  auto& s = out.emplace<Subscribe>();
  if (auto e = r.packetId(s.packetId)) return e;
  if (r.left() == 0) return DecodeError::EmptySubscription;  // [MQTT-3.8.3-3]
  while (r.left() != 0) {
    std::string_view filter;
    std::uint8_t qos = 0;
    if (auto e = r.utf8(filter)) return e;
    if (!validTopicFilter(filter)) return DecodeError::BadTopicFilter;
    if (auto e = r.u8(qos)) return e;
    // The whole Requested QoS byte is checked as one value: reserved bits 7-2 set make it > 2,
    // so both "reserved bits non-zero" and "QoS 3" are BadQos [MQTT-3.8.3-4].
    if (qos > 2) return DecodeError::BadQos;
    s.subscriptions.push_back(Subscription{std::string(filter), static_cast<QoS>(qos)});
  }
  return {};
}

Status decodeSuback(Reader& r, Packet& out) {
  auto& s = out.emplace<Suback>();
  if (auto e = r.packetId(s.packetId)) return e;
  // A SUBACK answers a SUBSCRIBE, which has at least one topic, so it has at least one code (§3.9.3).
  if (r.left() == 0) return DecodeError::EmptySubscription;
  const auto codes = r.rest();
  for (const auto code : codes) {
    if (code > 2 && code != kSubackFailure) return DecodeError::BadQos;  // [MQTT-3.9.3-2]
  }
  s.returnCodes.assign(codes.begin(), codes.end());
  return {};
}

Status decodeUnsubscribe(Reader& r, Packet& out) {
  auto& u = out.emplace<Unsubscribe>();
  if (auto e = r.packetId(u.packetId)) return e;
  if (r.left() == 0) return DecodeError::EmptySubscription;  // [MQTT-3.10.3-2]
  while (r.left() != 0) {
    std::string_view filter;
    if (auto e = r.utf8(filter)) return e;
    if (!validTopicFilter(filter)) return DecodeError::BadTopicFilter;
    u.filters.emplace_back(filter);
  }
  return {};
}

template <class Empty>
Status decodeEmpty(Reader& r, Packet& out) {
  out.emplace<Empty>();
  return r.finish();  // PINGREQ, PINGRESP, DISCONNECT have no variable header or payload
}

Status decodeBody(std::uint8_t type, std::uint8_t flags, Reader& r, Packet& out) {
  switch (type) {
    case kConnect: return decodeConnect(r, out);
    case kConnack: return decodeConnack(r, out);
    case kPublish: return decodePublish(r, flags, out);
    case kPuback: return decodeAck<Puback>(r, out);
    case kPubrec: return decodeAck<Pubrec>(r, out);
    case kPubrel: return decodeAck<Pubrel>(r, out);
    case kPubcomp: return decodeAck<Pubcomp>(r, out);
    case kSubscribe: return decodeSubscribe(r, out);
    case kSuback: return decodeSuback(r, out);
    case kUnsubscribe: return decodeUnsubscribe(r, out);
    case kUnsuback: return decodeAck<Unsuback>(r, out);
    case kPingreq: return decodeEmpty<Pingreq>(r, out);
    case kPingresp: return decodeEmpty<Pingresp>(r, out);
    case kDisconnect: return decodeEmpty<Disconnect>(r, out);
    default: return DecodeError::UnknownPacketType;
  }
}

// ---- encoding ----

std::size_t stringSize(std::size_t n) noexcept { return 2 + n; }

std::size_t bodySize(const Connect& c) noexcept {
  std::size_t n = stringSize(c.protocolName.size()) + 1 + 1 + 2 + stringSize(c.clientId.size());
  if (c.will) n += stringSize(c.will->topic.size()) + stringSize(c.will->payload.size());
  if (c.username) n += stringSize(c.username->size());
  if (c.password) n += stringSize(c.password->size());
  return n;
}
std::size_t bodySize(const Connack&) noexcept { return 2; }
std::size_t publishBodySize(std::size_t topic, std::size_t payload, QoS qos) noexcept {
  return stringSize(topic) + (qos != QoS::AtMostOnce ? 2 : 0) + payload;
}
std::size_t bodySize(const Publish& p) noexcept { return publishBodySize(p.topic.size(), p.payload.size(), p.qos); }
std::size_t bodySize(const Puback&) noexcept { return 2; }
std::size_t bodySize(const Pubrec&) noexcept { return 2; }
std::size_t bodySize(const Pubrel&) noexcept { return 2; }
std::size_t bodySize(const Pubcomp&) noexcept { return 2; }
std::size_t bodySize(const Subscribe& s) noexcept {
  std::size_t n = 2;
  for (const auto& sub : s.subscriptions) n += stringSize(sub.filter.size()) + 1;
  return n;
}
std::size_t bodySize(const Suback& s) noexcept { return 2 + s.returnCodes.size(); }
std::size_t bodySize(const Unsubscribe& u) noexcept {
  std::size_t n = 2;
  for (const auto& f : u.filters) n += stringSize(f.size());
  return n;
}
std::size_t bodySize(const Unsuback&) noexcept { return 2; }
std::size_t bodySize(const Pingreq&) noexcept { return 0; }
std::size_t bodySize(const Pingresp&) noexcept { return 0; }
std::size_t bodySize(const Disconnect&) noexcept { return 0; }

// The longest string or binary field of a packet, checked against kMaxStringLength.
std::size_t longestField(const Connect& c) noexcept {
  std::size_t n = std::max(c.protocolName.size(), c.clientId.size());
  if (c.will) n = std::max({n, c.will->topic.size(), c.will->payload.size()});
  if (c.username) n = std::max(n, c.username->size());
  if (c.password) n = std::max(n, c.password->size());
  return n;
}
std::size_t longestField(const Publish& p) noexcept { return p.topic.size(); }
std::size_t longestField(const Subscribe& s) noexcept {
  std::size_t n = 0;
  for (const auto& sub : s.subscriptions) n = std::max(n, sub.filter.size());
  return n;
}
std::size_t longestField(const Unsubscribe& u) noexcept {
  std::size_t n = 0;
  for (const auto& f : u.filters) n = std::max(n, f.size());
  return n;
}
template <class T>
std::size_t longestField(const T&) noexcept {
  return 0;
}

std::optional<EncodeError> unrepresentable(std::size_t longest, std::size_t body) noexcept {
  if (longest > kMaxStringLength) return EncodeError::StringTooLong;
  if (body > kMaxRemainingLength) return EncodeError::PacketTooLarge;
  return std::nullopt;
}

std::uint8_t publishFlags(QoS qos, bool retain, bool dup) noexcept {
  return static_cast<std::uint8_t>((dup ? kPublishDup : 0) | (static_cast<std::uint8_t>(qos) << kPublishQosShift) |
                                   (retain ? kPublishRetain : 0));
}
std::uint8_t fixedFlags(const Publish& p) noexcept { return publishFlags(p.qos, p.retain, p.dup); }
std::uint8_t fixedFlags(const Pubrel&) noexcept { return kReservedFlagsOne; }
std::uint8_t fixedFlags(const Subscribe&) noexcept { return kReservedFlagsOne; }
std::uint8_t fixedFlags(const Unsubscribe&) noexcept { return kReservedFlagsOne; }
template <class T>
std::uint8_t fixedFlags(const T&) noexcept {
  return 0;
}

class Writer {
 public:
  explicit Writer(std::vector<std::uint8_t>& out) noexcept : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    out_.push_back(static_cast<std::uint8_t>(v >> 8));
    out_.push_back(static_cast<std::uint8_t>(v & 0xFF));
  }
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    out_.insert(out_.end(), p, p + n);
  }
  void prefixed(const void* data, std::size_t n) {
    u16(static_cast<std::uint16_t>(n));  // encode() checked n <= kMaxStringLength
    bytes(data, n);
  }
  void string(std::string_view s) { prefixed(s.data(), s.size()); }
  void binary(const std::vector<std::uint8_t>& b) { prefixed(b.data(), b.size()); }
  void remainingLength(std::size_t n) {
    // §2.2.3: seven bits per byte, least significant group first, high bit = "more follows".
    do {
      auto digit = static_cast<std::uint8_t>(n & 0x7F);
      n >>= 7;
      if (n != 0) digit |= 0x80;
      out_.push_back(digit);
    } while (n != 0);
  }

 private:
  std::vector<std::uint8_t>& out_;
};

void writeBody(const Connect& c, Writer& w) {
  w.string(c.protocolName);
  w.u8(c.protocolLevel);
  std::uint8_t flags = c.cleanSession ? kConnectCleanSession : 0;
  if (c.will) {
    flags |= kConnectWill;
    flags |= static_cast<std::uint8_t>(static_cast<std::uint8_t>(c.will->qos) << kConnectWillQosShift);
    if (c.will->retain) flags |= kConnectWillRetain;
  }
  if (c.username) flags |= kConnectUsername;
  if (c.password) flags |= kConnectPassword;
  w.u8(flags);
  w.u16(c.keepAlive);
  w.string(c.clientId);
  if (c.will) {
    w.string(c.will->topic);
    w.binary(c.will->payload);
  }
  if (c.username) w.string(*c.username);
  if (c.password) w.binary(*c.password);
}
void writeBody(const Connack& c, Writer& w) {
  w.u8(c.sessionPresent ? kConnackSessionPresent : 0);
  w.u8(static_cast<std::uint8_t>(c.returnCode));
}
void writePublishBody(std::string_view topic, std::span<const std::uint8_t> payload, QoS qos,
                      std::uint16_t packetId, Writer& w) {
  w.string(topic);
  if (qos != QoS::AtMostOnce) w.u16(packetId);  // only QoS 1 and 2 carry a packet id (§3.3.2.2)
  w.bytes(payload.data(), payload.size());
}
void writeBody(const Publish& p, Writer& w) { writePublishBody(p.topic, p.payload, p.qos, p.packetId, w); }

// Grow geometrically: callers append many packets to one buffer.
void reserveFor(std::vector<std::uint8_t>& out, std::size_t body) {
  const std::size_t needed = out.size() + 1 + kMaxLengthBytes + body;
  if (out.capacity() < needed) out.reserve(std::max(needed, 2 * out.capacity()));
}
void writeBody(const Puback& a, Writer& w) { w.u16(a.packetId); }
void writeBody(const Pubrec& a, Writer& w) { w.u16(a.packetId); }
void writeBody(const Pubrel& a, Writer& w) { w.u16(a.packetId); }
void writeBody(const Pubcomp& a, Writer& w) { w.u16(a.packetId); }
void writeBody(const Subscribe& s, Writer& w) {
  w.u16(s.packetId);
  for (const auto& sub : s.subscriptions) {
    w.string(sub.filter);
    w.u8(static_cast<std::uint8_t>(sub.qos));
  }
}
void writeBody(const Suback& s, Writer& w) {
  w.u16(s.packetId);
  w.bytes(s.returnCodes.data(), s.returnCodes.size());
}
void writeBody(const Unsubscribe& u, Writer& w) {
  w.u16(u.packetId);
  for (const auto& f : u.filters) w.string(f);
}
void writeBody(const Unsuback& a, Writer& w) { w.u16(a.packetId); }
void writeBody(const Pingreq&, Writer&) {}
void writeBody(const Pingresp&, Writer&) {}
void writeBody(const Disconnect&, Writer&) {}

class DecodeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mqtt.decode"; }

  std::string message(int ev) const override {
    switch (static_cast<DecodeError>(ev)) {
      case DecodeError::Incomplete: return "incomplete packet";
      case DecodeError::MalformedLength: return "malformed remaining length or field overruns the packet";
      case DecodeError::TooLarge: return "packet exceeds the size limit";
      case DecodeError::UnknownPacketType: return "unknown packet type";
      case DecodeError::BadFlags: return "invalid fixed header flags";
      case DecodeError::BadQos: return "invalid QoS";
      case DecodeError::ZeroPacketId: return "packet identifier is zero";
      case DecodeError::BadUtf8: return "invalid UTF-8 string";
      case DecodeError::BadTopicName: return "invalid topic name";
      case DecodeError::BadTopicFilter: return "invalid topic filter";
      case DecodeError::BadProtocolName: return "unknown protocol name";
      case DecodeError::BadConnectFlags: return "invalid connect flags";
      case DecodeError::EmptySubscription: return "no topic filters";
      case DecodeError::TrailingBytes: return "unexpected bytes after the last field";
    }
    return "unknown mqtt decode error";
  }
};

class EncodeCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mqtt.encode"; }

  std::string message(int ev) const override {
    switch (static_cast<EncodeError>(ev)) {
      case EncodeError::StringTooLong:
        return "a string or binary field is longer than 65535 bytes";
      case EncodeError::PacketTooLarge:
        return "the packet is longer than 268435455 bytes";
    }
    return "unknown mqtt encode error";
  }
};

}  // namespace

const std::error_category& encodeCategory() noexcept {
  static const EncodeCategory category;
  return category;
}

std::error_code make_error_code(EncodeError e) noexcept { return {static_cast<int>(e), encodeCategory()}; }

const std::error_category& decodeCategory() noexcept {
  static const DecodeCategory category;
  return category;
}

std::error_code make_error_code(DecodeError e) noexcept { return {static_cast<int>(e), decodeCategory()}; }

const char* packetName(const Packet& p) noexcept {
  static constexpr std::array<const char*, std::variant_size_v<Packet>> kNames{
      "CONNECT", "CONNACK",  "PUBLISH",     "PUBACK",   "PUBREC",  "PUBREL",   "PUBCOMP",
      "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT"};
  if (p.valueless_by_exception()) return "INVALID";
  return kNames[p.index()];
}

Expected<Decoded<Packet>, DecodeError> decode(std::span<const std::uint8_t> in, const Limits& limits) noexcept {
  if (in.empty()) return Unexpected(DecodeError::Incomplete);
  const auto type = static_cast<std::uint8_t>(in[0] >> 4);
  const auto flags = static_cast<std::uint8_t>(in[0] & 0x0F);
  if (type == 0 || type > kDisconnect) return Unexpected(DecodeError::UnknownPacketType);  // §2.2.1
  if (auto e = checkFixedFlags(type, flags)) return Unexpected(*e);

  // Remaining length (§2.2.3). A fourth byte that still says "more follows" is malformed at once;
  // there is no point waiting for a fifth. Non-minimal encodings (0x80 0x00) are accepted: 3.1.1
  // does not forbid them.
  std::size_t remaining = 0;
  std::size_t header = 0;
  for (std::size_t i = 0; i < kMaxLengthBytes && header == 0; ++i) {
    if (1 + i >= in.size()) return Unexpected(DecodeError::Incomplete);
    const std::uint8_t digit = in[1 + i];
    remaining |= static_cast<std::size_t>(digit & 0x7F) << (7 * i);
    if ((digit & 0x80) == 0) header = 2 + i;
  }
  if (header == 0) return Unexpected(DecodeError::MalformedLength);

  // Checked before the body arrives so that a peer cannot make us buffer an oversized packet.
  const std::size_t total = header + remaining;
  if (total > limits.maxPacket) return Unexpected(DecodeError::TooLarge);
  if (in.size() < total) return Unexpected(DecodeError::Incomplete);

  Reader reader(in.subspan(header, remaining));
  Decoded<Packet> result{Packet{std::in_place_type<Pingreq>}, total};
  if (auto e = decodeBody(type, flags, reader, result.value)) return Unexpected(*e);
  return result;
}

Expected<std::size_t, EncodeError> encode(const Packet& p, std::vector<std::uint8_t>& out) {
  return std::visit(
      [&out,
       type = static_cast<std::uint8_t>(p.index() + 1)](const auto& packet) -> Expected<std::size_t, EncodeError> {
        const std::size_t body = bodySize(packet);
        if (auto e = unrepresentable(longestField(packet), body)) return Unexpected(*e);
        const std::size_t before = out.size();
        reserveFor(out, body);
        Writer w(out);
        w.u8(static_cast<std::uint8_t>((type << 4) | fixedFlags(packet)));
        w.remainingLength(body);
        writeBody(packet, w);
        return out.size() - before;
      },
      p);
}

std::optional<EncodeError> checkPublish(std::size_t topicSize, std::size_t payloadSize, QoS qos) noexcept {
  if (topicSize > kMaxStringLength) return EncodeError::StringTooLong;
  // Checked before adding so that a huge payloadSize cannot wrap the sum.
  if (payloadSize > kMaxRemainingLength) return EncodeError::PacketTooLarge;
  return unrepresentable(topicSize, publishBodySize(topicSize, payloadSize, qos));
}

Expected<std::size_t, EncodeError> encodePublish(std::string_view topic, std::span<const std::uint8_t> payload, QoS qos,
                                                 bool retain, bool dup, std::uint16_t packetId,
                                                 std::vector<std::uint8_t>& out) {
  if (auto e = checkPublish(topic.size(), payload.size(), qos)) return Unexpected(*e);
  const std::size_t body = publishBodySize(topic.size(), payload.size(), qos);
  const std::size_t before = out.size();
  reserveFor(out, body);
  Writer w(out);
  w.u8(static_cast<std::uint8_t>((kPublish << 4) | publishFlags(qos, retain, dup)));
  w.remainingLength(body);
  writePublishBody(topic, payload, qos, packetId, w);
  return out.size() - before;
}

Expected<std::vector<std::uint8_t>, EncodeError> encode(const Packet& p) {
  std::vector<std::uint8_t> out;
  if (auto r = encode(p, out); !r) return Unexpected(r.error());
  return out;
}

}  // namespace fc::mqtt
