// OMA TLV codec; the contract is in tlv.hpp. Section numbers refer to OMA-TS-LightweightM2M-V1_0.
#include "protocols/lwm2m/tlv.hpp"

#include <bit>
#include <optional>
#include <string>

namespace fc::lwm2m {
namespace {

// §6.4.3 Table 7: the type byte.
constexpr std::uint8_t kIdentifier16 = 0x20;    // bit 5: identifier is 16 bits wide
constexpr std::uint8_t kLengthTypeMask = 0x18;  // bits 4-3: 0 = length in bits 2-0, 1/2/3 = 8/16/24-bit field
constexpr std::uint8_t kLengthTypeShift = 3;
constexpr std::uint8_t kInlineLengthMask = 0x07;
constexpr std::uint8_t kTypeShift = 6;
constexpr std::size_t kMaxInlineLength = 7;

class TlvCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "lwm2m.tlv"; }

  std::string message(int ev) const override {
    switch (static_cast<TlvError>(ev)) {
      case TlvError::Truncated:
        return "TLV payload ends inside an identifier, length or value (LwM2M 1.0 §6.4.3)";
      case TlvError::ChildOverrun:
        return "nested TLV runs past the end of its parent's value (LwM2M 1.0 §6.4.3)";
      case TlvError::BadNesting:
        return "TLV nesting other than Object Instance > Resource / Multiple Resource > Resource Instance "
               "(LwM2M 1.0 §6.4.3)";
      case TlvError::TooLarge:
        return "TLV payload exceeds the configured size limit";
      case TlvError::TooManyEntries:
        return "TLV payload has more entries than the configured limit";
    }
    return "unknown TLV error";
  }
};

// Which entry types may appear inside a parent of type `parent` (nullopt: the top level).
bool allowedIn(std::optional<TlvType> parent, TlvType child) noexcept {
  if (!parent) return true;
  switch (*parent) {
    case TlvType::ObjectInstance:
      return child == TlvType::ResourceValue || child == TlvType::MultipleResource;
    case TlvType::MultipleResource:
      return child == TlvType::ResourceInstance;
    case TlvType::ResourceInstance:
    case TlvType::ResourceValue:
      return false;
  }
  return false;
}

class Decoder {
 public:
  explicit Decoder(const TlvLimits& limits) noexcept : limits_(limits) {}

  // Decodes the sequence `in`. At top level running out of bytes is Truncated (more bytes would
  // help); inside a parent it is ChildOverrun (the parent's own length is wrong).
  Expected<std::vector<TlvEntry>, TlvError> sequence(std::span<const std::uint8_t> in, std::optional<TlvType> parent) {
    const TlvError shortError = parent ? TlvError::ChildOverrun : TlvError::Truncated;
    std::vector<TlvEntry> out;
    std::size_t pos = 0;
    while (pos < in.size()) {
      if (++entries_ > limits_.maxEntries) return Unexpected(TlvError::TooManyEntries);
      const std::uint8_t typeByte = in[pos++];
      TlvEntry e;
      e.type = static_cast<TlvType>(typeByte >> kTypeShift);
      const std::size_t idBytes = (typeByte & kIdentifier16) != 0 ? 2 : 1;
      const std::size_t lengthBytes = (typeByte & kLengthTypeMask) >> kLengthTypeShift;
      if (in.size() - pos < idBytes + lengthBytes) return Unexpected(shortError);
      e.id = idBytes == 2 ? static_cast<std::uint16_t>(in[pos] << 8 | in[pos + 1]) : in[pos];
      pos += idBytes;
      std::size_t length = typeByte & kInlineLengthMask;
      if (lengthBytes != 0) {
        length = 0;
        for (std::size_t k = 0; k < lengthBytes; ++k) length = length << 8 | in[pos + k];
        pos += lengthBytes;
      }
      if (in.size() - pos < length) return Unexpected(shortError);
      // Nesting is judged before the value so that a wrongly nested entry is reported as such
      // even when its own value is malformed.
      if (!allowedIn(parent, e.type)) return Unexpected(TlvError::BadNesting);
      const auto value = in.subspan(pos, length);
      pos += length;
      if (e.isContainer()) {
        auto children = sequence(value, e.type);
        if (!children) return Unexpected(children.error());
        e.children = std::move(*children);
      } else {
        e.value.assign(value.begin(), value.end());
      }
      out.push_back(std::move(e));
    }
    return out;
  }

 private:
  const TlvLimits& limits_;
  std::size_t entries_ = 0;
};

void appendBigEndian(std::uint64_t v, std::size_t bytes, std::vector<std::uint8_t>& out) {
  for (std::size_t i = bytes; i-- > 0;) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void encodeEntry(const TlvEntry& e, std::vector<std::uint8_t>& out) {
  std::vector<std::uint8_t> nested;
  if (e.isContainer()) encodeTlv(e.children, nested);
  const std::vector<std::uint8_t>& value = e.isContainer() ? nested : e.value;
  const std::size_t length = value.size();

  std::uint8_t typeByte = static_cast<std::uint8_t>(static_cast<std::uint8_t>(e.type) << kTypeShift);
  const bool wideId = e.id > 0xFF;
  if (wideId) typeByte |= kIdentifier16;
  std::size_t lengthBytes = 0;
  if (length <= kMaxInlineLength) {
    typeByte |= static_cast<std::uint8_t>(length);
  } else {
    lengthBytes = length <= 0xFF ? 1 : length <= 0xFFFF ? 2 : 3;
    typeByte |= static_cast<std::uint8_t>(lengthBytes << kLengthTypeShift);
  }
  out.push_back(typeByte);
  appendBigEndian(e.id, wideId ? 2 : 1, out);
  appendBigEndian(length, lengthBytes, out);
  out.insert(out.end(), value.begin(), value.end());
}

std::uint64_t readBigEndian(std::span<const std::uint8_t> bytes) noexcept {
  std::uint64_t v = 0;
  for (const auto b : bytes) v = v << 8 | b;
  return v;
}

}  // namespace

std::string_view tlvTypeName(TlvType t) noexcept {
  switch (t) {
    case TlvType::ObjectInstance:
      return "Object Instance";
    case TlvType::ResourceInstance:
      return "Resource Instance";
    case TlvType::MultipleResource:
      return "Multiple Resource";
    case TlvType::ResourceValue:
      return "Resource";
  }
  return "?";
}

const TlvEntry* TlvEntry::child(std::uint16_t childId) const noexcept {
  for (const auto& c : children) {
    if (c.id == childId) return &c;
  }
  return nullptr;
}

TlvEntry TlvEntry::resource(std::uint16_t id, std::vector<std::uint8_t> value) {
  return TlvEntry{TlvType::ResourceValue, id, std::move(value), {}};
}

TlvEntry TlvEntry::resourceInstance(std::uint16_t id, std::vector<std::uint8_t> value) {
  return TlvEntry{TlvType::ResourceInstance, id, std::move(value), {}};
}

TlvEntry TlvEntry::multipleResource(std::uint16_t id, std::vector<TlvEntry> instances) {
  return TlvEntry{TlvType::MultipleResource, id, {}, std::move(instances)};
}

TlvEntry TlvEntry::objectInstance(std::uint16_t id, std::vector<TlvEntry> resources) {
  return TlvEntry{TlvType::ObjectInstance, id, {}, std::move(resources)};
}

const std::error_category& tlvCategory() noexcept {
  static const TlvCategory category;
  return category;
}

std::error_code make_error_code(TlvError e) noexcept { return {static_cast<int>(e), tlvCategory()}; }

Expected<std::vector<TlvEntry>, TlvError> decodeTlv(std::span<const std::uint8_t> payload,
                                                    const TlvLimits& limits) noexcept {
  if (payload.size() > limits.maxPayload) return Unexpected(TlvError::TooLarge);
  // Allocation failure is the one way the decoder could throw; with maxPayload bounding the input
  // it would mean the process is out of memory anyway, where terminating is the honest outcome.
  return Decoder(limits).sequence(payload, std::nullopt);
}

void encodeTlv(std::span<const TlvEntry> entries, std::vector<std::uint8_t>& out) {
  for (const auto& e : entries) encodeEntry(e, out);
}

std::vector<std::uint8_t> encodeTlv(std::span<const TlvEntry> entries) {
  std::vector<std::uint8_t> out;
  encodeTlv(entries, out);
  return out;
}

std::vector<std::uint8_t> encodeTlvInteger(std::int64_t v) {
  std::size_t bytes = 8;
  if (v >= INT8_MIN && v <= INT8_MAX) {
    bytes = 1;
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    bytes = 2;
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    bytes = 4;
  }
  std::vector<std::uint8_t> out;
  appendBigEndian(static_cast<std::uint64_t>(v), bytes, out);
  return out;
}

Expected<std::int64_t, ValueError> decodeTlvInteger(std::span<const std::uint8_t> bytes) noexcept {
  switch (bytes.size()) {
    case 1:
      return static_cast<std::int64_t>(static_cast<std::int8_t>(bytes[0]));
    case 2:
      return static_cast<std::int64_t>(static_cast<std::int16_t>(readBigEndian(bytes)));
    case 4:
      return static_cast<std::int64_t>(static_cast<std::int32_t>(readBigEndian(bytes)));
    case 8:
      return static_cast<std::int64_t>(readBigEndian(bytes));
    default:
      return Unexpected(ValueError::BadLength);
  }
}

std::vector<std::uint8_t> encodeTlvFloat(double v) {
  std::vector<std::uint8_t> out;
  const auto f = static_cast<float>(v);
  // NaN never compares equal to itself; a binary32 NaN is as good as a binary64 one.
  if (static_cast<double>(f) == v || v != v) {
    appendBigEndian(std::bit_cast<std::uint32_t>(f), 4, out);
  } else {
    appendBigEndian(std::bit_cast<std::uint64_t>(v), 8, out);
  }
  return out;
}

Expected<double, ValueError> decodeTlvFloat(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() == 4)
    return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(readBigEndian(bytes))));
  if (bytes.size() == 8) return std::bit_cast<double>(readBigEndian(bytes));
  return Unexpected(ValueError::BadLength);
}

std::vector<std::uint8_t> encodeTlvBoolean(bool v) { return {static_cast<std::uint8_t>(v ? 1 : 0)}; }

Expected<bool, ValueError> decodeTlvBoolean(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() != 1) return Unexpected(ValueError::BadLength);
  if (bytes[0] > 1) return Unexpected(ValueError::BadBoolean);
  return bytes[0] == 1;
}

std::vector<std::uint8_t> encodeTlvObjlnk(Objlnk v) {
  std::vector<std::uint8_t> out;
  appendBigEndian(v.objectId, 2, out);
  appendBigEndian(v.instanceId, 2, out);
  return out;
}

Expected<Objlnk, ValueError> decodeTlvObjlnk(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.size() != 4) return Unexpected(ValueError::BadLength);
  return Objlnk{static_cast<std::uint16_t>(bytes[0] << 8 | bytes[1]),
                static_cast<std::uint16_t>(bytes[2] << 8 | bytes[3])};
}

std::vector<std::uint8_t> encodeTlvValue(const Value& v) {
  struct Visitor {
    std::vector<std::uint8_t> operator()(const std::string& s) const { return {s.begin(), s.end()}; }
    std::vector<std::uint8_t> operator()(std::int64_t i) const { return encodeTlvInteger(i); }
    std::vector<std::uint8_t> operator()(double d) const { return encodeTlvFloat(d); }
    std::vector<std::uint8_t> operator()(bool b) const { return encodeTlvBoolean(b); }
    std::vector<std::uint8_t> operator()(const Opaque& o) const { return o; }
    std::vector<std::uint8_t> operator()(Time t) const { return encodeTlvInteger(t.seconds); }
    std::vector<std::uint8_t> operator()(Objlnk o) const { return encodeTlvObjlnk(o); }
  };
  return std::visit(Visitor{}, v);
}

Expected<Value, ValueError> decodeTlvValue(ResourceType type, std::span<const std::uint8_t> bytes) {
  // One Value filled in place and returned once: returning variant temporaries from each case
  // trips g++ 12's -Wfree-nonheap-object false positive.
  Value out;
  std::optional<ValueError> error;
  const auto take = [&](auto r, auto wrap) {
    if (r) {
      out = wrap(*r);
    } else {
      error = r.error();
    }
  };
  const auto same = [](auto v) { return v; };
  switch (type) {
    case ResourceType::String:
      out.emplace<std::string>(bytes.begin(), bytes.end());
      if (!isUtf8(std::get<std::string>(out))) error = ValueError::BadUtf8;
      break;
    case ResourceType::Integer:
      take(decodeTlvInteger(bytes), same);
      break;
    case ResourceType::Float:
      take(decodeTlvFloat(bytes), same);
      break;
    case ResourceType::Boolean:
      take(decodeTlvBoolean(bytes), same);
      break;
    case ResourceType::Opaque:
      out.emplace<Opaque>(bytes.begin(), bytes.end());
      break;
    case ResourceType::Time:
      take(decodeTlvInteger(bytes), [](std::int64_t s) { return Time{s}; });
      break;
    case ResourceType::Objlnk:
      take(decodeTlvObjlnk(bytes), same);
      break;
  }
  if (error) return Unexpected(*error);
  return out;
}

}  // namespace fc::lwm2m
