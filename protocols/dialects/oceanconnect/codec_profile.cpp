// OceanConnect codec profiles; the contract is in codec_profile.hpp, the format in
// docs/dialects/oceanconnect.md.
#include "protocols/dialects/oceanconnect/codec_profile.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "protocols/common/base64.hpp"
#include "protocols/common/utf8.hpp"

namespace fc::oceanconnect {

using nlohmann::json;

namespace {

/// Offsets and lengths are bounded so that a profile can never ask for a huge buffer; LiteOS
/// carries at most 1024 bytes per message (oceanconnect.md).
constexpr std::size_t kMaxOffset = 65535;

struct TypeInfo {
  FieldType type;
  std::string_view name;
  std::size_t size;  // 0: variable (string, hex, bytes)
  double lo;
  double hi;
};

constexpr std::array kTypes{
    TypeInfo{FieldType::Uint8, "uint8", 1, 0, 255},
    TypeInfo{FieldType::Uint16, "uint16", 2, 0, 65535},
    TypeInfo{FieldType::Uint32, "uint32", 4, 0, 4294967295.0},
    TypeInfo{FieldType::Int8, "int8", 1, -128, 127},
    TypeInfo{FieldType::Int16, "int16", 2, -32768, 32767},
    TypeInfo{FieldType::Int32, "int32", 4, -2147483648.0, 2147483647.0},
    TypeInfo{FieldType::Float32, "float32", 4, -static_cast<double>(std::numeric_limits<float>::max()),
             static_cast<double>(std::numeric_limits<float>::max())},
    TypeInfo{FieldType::String, "string", 0, 0, 0},
    TypeInfo{FieldType::Hex, "hex", 0, 0, 0},
    TypeInfo{FieldType::Bytes, "bytes", 0, 0, 0},
};

const TypeInfo& info(FieldType t) noexcept { return kTypes[static_cast<std::size_t>(t)]; }
bool isNumeric(FieldType t) noexcept { return info(t).size != 0; }
bool isInteger(FieldType t) noexcept { return isNumeric(t) && t != FieldType::Float32; }

std::size_t fieldSize(const Field& f) noexcept { return isNumeric(f.type) ? info(f.type).size : f.length.value_or(0); }

class ProfileCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "oceanconnect.profile"; }
  std::string message(int ev) const override {
    switch (static_cast<ProfileErrc>(ev)) {
      case ProfileErrc::BadJson:
        return "not JSON";
      case ProfileErrc::WrongType:
        return "wrong JSON type";
      case ProfileErrc::MissingKey:
        return "missing key";
      case ProfileErrc::UnknownKey:
        return "unknown key";
      case ProfileErrc::BadValue:
        return "bad value";
      case ProfileErrc::Duplicate:
        return "duplicate";
      case ProfileErrc::Overlap:
        return "fields overlap";
      case ProfileErrc::VariableNotLast:
        return "up-to-the-end field is not the last";
      case ProfileErrc::MessageIdRequired:
        return "messageIdOffset and messageId required to tell uplink messages apart";
      case ProfileErrc::MessageIdUnused:
        return "messageId without messageIdOffset";
    }
    return "unknown profile error";
  }
};

class CodecCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "oceanconnect.codec"; }
  std::string message(int ev) const override {
    switch (static_cast<CodecErrc>(ev)) {
      case CodecErrc::Truncated:
        return "message too short";
      case CodecErrc::TrailingBytes:
        return "bytes after the last field";
      case CodecErrc::UnknownMessageId:
        return "unknown message id";
      case CodecErrc::NoSuchMessage:
        return "the profile defines no such message";
      case CodecErrc::UnknownCommand:
        return "unknown command";
      case CodecErrc::ParasNotObject:
        return "paras is not a JSON object";
      case CodecErrc::MissingPara:
        return "missing para";
      case CodecErrc::UnknownPara:
        return "unknown para";
      case CodecErrc::WrongParaType:
        return "para of the wrong type";
      case CodecErrc::OutOfRange:
        return "para out of range";
      case CodecErrc::TooLong:
        return "para longer than its field";
      case CodecErrc::BadEncoding:
        return "bad hex, base64 or UTF-8";
    }
    return "unknown codec error";
  }
};

// --- byte ranges of a message, for overlap checks and lengths ---

struct Range {
  std::size_t start;
  std::size_t end;  // exclusive; == start for an empty fixed field
  bool variable;
  std::string path;  // JSON pointer of what occupies it
};

// The layout of a message: its fixed length, or the offset where its up-to-the-end field starts.
struct Layout {
  std::size_t fixedLength = 0;
  std::optional<std::size_t> variableFrom;
};

}  // namespace

// --- profile parsing ---

class ProfileParser {
 public:
  Expected<CodecProfile, ProfileError> run(const json& root) {
    CodecProfile p;
    if (!object(root, "", {"messageIdOffset", "uplink", "commands", "commandResponse"})) return fail();
    if (root.contains("messageIdOffset")) {
      if (!offset(root["messageIdOffset"], "/messageIdOffset", p.messageIdOffset_.emplace())) return fail();
    }
    messageIdOffset_ = p.messageIdOffset_;

    if (root.contains("uplink")) {
      if (!array(root["uplink"], "/uplink")) return fail();
      for (std::size_t i = 0; i < root["uplink"].size(); ++i) {
        auto& m = p.uplinks_.emplace_back();
        if (!uplink(root["uplink"][i], "/uplink/" + std::to_string(i), m)) return fail();
      }
    }
    if (root.contains("commands")) {
      if (!array(root["commands"], "/commands")) return fail();
      for (std::size_t i = 0; i < root["commands"].size(); ++i) {
        const std::string path = "/commands/" + std::to_string(i);
        auto& c = p.commands_.emplace_back();
        if (!command(root["commands"][i], path, c)) return fail();
        for (std::size_t k = 0; k + 1 < p.commands_.size(); ++k) {
          const auto& other = p.commands_[k];
          if (other.serviceId == c.serviceId && other.method == c.method) {
            return fail(ProfileErrc::Duplicate, path, c.serviceId + "." + c.method);
          }
          if (c.messageId && other.messageId == c.messageId) {
            return fail(ProfileErrc::Duplicate, path + "/messageId", std::to_string(*c.messageId));
          }
        }
      }
    }
    if (root.contains("commandResponse")) {
      if (!response(root["commandResponse"], "/commandResponse", p.response_.emplace())) return fail();
    }

    // Uplink messages (data reports and the command response) share the device → server
    // direction: without a message id the server could not tell them apart.
    const std::size_t uplinkKinds = p.uplinks_.size() + (p.response_ ? 1 : 0);
    if (!p.messageIdOffset_ && uplinkKinds > 1) {
      return fail(ProfileErrc::MessageIdRequired, "", std::to_string(uplinkKinds) + " uplink messages");
    }
    std::set<std::uint8_t> ids;
    if (p.messageIdOffset_) {
      for (std::size_t i = 0; i < p.uplinks_.size(); ++i) {
        const std::uint8_t id = *p.uplinks_[i].messageId;
        if (!ids.insert(id).second) {
          return fail(ProfileErrc::Duplicate, "/uplink/" + std::to_string(i) + "/messageId", std::to_string(id));
        }
      }
    }
    if (p.response_ && p.response_->messageId && ids.contains(*p.response_->messageId)) {
      return fail(ProfileErrc::Duplicate, "/commandResponse/messageId", std::to_string(*p.response_->messageId));
    }
    return p;
  }

 private:
  Unexpected<ProfileError> fail() { return Unexpected(error_); }
  Unexpected<ProfileError> fail(ProfileErrc code, std::string path, std::string detail) {
    error_ = {code, std::move(path), std::move(detail)};
    return fail();
  }
  bool bad(ProfileErrc code, std::string path, std::string detail) {
    error_ = {code, std::move(path), std::move(detail)};
    return false;
  }

  bool object(const json& j, const std::string& path, std::initializer_list<std::string_view> keys) {
    if (!j.is_object()) return bad(ProfileErrc::WrongType, path, "expected an object");
    for (const auto& [key, _] : j.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end())
        return bad(ProfileErrc::UnknownKey, path + "/" + key, key);
    }
    return true;
  }
  bool array(const json& j, const std::string& path) {
    if (!j.is_array()) return bad(ProfileErrc::WrongType, path, "expected an array");
    return true;
  }
  bool require(const json& j, const std::string& path, std::string_view key) {
    if (!j.contains(key)) return bad(ProfileErrc::MissingKey, path + "/" + std::string(key), std::string(key));
    return true;
  }
  bool string(const json& j, const std::string& path, std::string& out) {
    if (!j.is_string()) return bad(ProfileErrc::WrongType, path, "expected a string");
    out = j.get<std::string>();
    if (out.empty()) return bad(ProfileErrc::BadValue, path, "empty string");
    return true;
  }
  bool unsignedNumber(const json& j, const std::string& path, std::uint64_t max, std::uint64_t& out) {
    if (!j.is_number_integer()) return bad(ProfileErrc::WrongType, path, "expected an integer");
    if (j.is_number_unsigned()) {
      out = j.get<std::uint64_t>();
    } else {
      const auto v = j.get<std::int64_t>();
      if (v < 0) return bad(ProfileErrc::BadValue, path, std::to_string(v) + " is negative");
      out = static_cast<std::uint64_t>(v);
    }
    if (out > max) return bad(ProfileErrc::BadValue, path, std::to_string(out) + " above " + std::to_string(max));
    return true;
  }
  bool offset(const json& j, const std::string& path, std::size_t& out) {
    std::uint64_t v = 0;
    if (!unsignedNumber(j, path, kMaxOffset, v)) return false;
    out = static_cast<std::size_t>(v);
    return true;
  }
  bool messageId(const json& m, const std::string& path, std::optional<std::uint8_t>& out) {
    if (!m.contains("messageId")) {
      if (messageIdOffset_) return bad(ProfileErrc::MissingKey, path + "/messageId", "messageId");
      return true;
    }
    if (!messageIdOffset_) return bad(ProfileErrc::MessageIdUnused, path + "/messageId", "");
    std::uint64_t v = 0;
    if (!unsignedNumber(m["messageId"], path + "/messageId", 255, v)) return false;
    out = static_cast<std::uint8_t>(v);
    return true;
  }
  bool fieldType(const json& j, const std::string& path, FieldType& out) {
    if (!j.is_string()) return bad(ProfileErrc::WrongType, path, "expected a string");
    const auto name = j.get<std::string>();
    for (const auto& t : kTypes) {
      if (t.name == name) {
        out = t.type;
        return true;
      }
    }
    return bad(ProfileErrc::BadValue, path, "unknown field type \"" + name + "\"");
  }

  bool field(const json& j, const std::string& path, bool bounds, Field& f) {
    if (bounds) {
      if (!object(j, path, {"name", "type", "offset", "length", "min", "max"})) return false;
    } else if (!object(j, path, {"name", "type", "offset", "length"})) {
      return false;
    }
    if (!require(j, path, "name") || !string(j["name"], path + "/name", f.name)) return false;
    if (!require(j, path, "type") || !fieldType(j["type"], path + "/type", f.type)) return false;
    if (!require(j, path, "offset") || !offset(j["offset"], path + "/offset", f.offset)) return false;
    if (j.contains("length")) {
      if (isNumeric(f.type)) return bad(ProfileErrc::BadValue, path + "/length", "a numeric type has its own length");
      std::uint64_t v = 0;
      if (!unsignedNumber(j["length"], path + "/length", kMaxOffset, v)) return false;
      if (v == 0) return bad(ProfileErrc::BadValue, path + "/length", "0");
      f.length = static_cast<std::size_t>(v);
    }
    for (const auto& [key, slot] : {std::pair{"min", &f.min}, std::pair{"max", &f.max}}) {
      if (!j.contains(key)) continue;
      const std::string p = path + "/" + key;
      if (!isNumeric(f.type)) return bad(ProfileErrc::BadValue, p, "bounds apply to numeric types only");
      if (!j[key].is_number()) return bad(ProfileErrc::WrongType, p, "expected a number");
      const double v = j[key].get<double>();
      if (v < info(f.type).lo || v > info(f.type).hi) {
        return bad(ProfileErrc::BadValue, p, "outside the range of " + std::string(info(f.type).name));
      }
      *slot = v;
    }
    if (f.min && f.max && *f.min > *f.max) return bad(ProfileErrc::BadValue, path + "/min", "min above max");
    return true;
  }

  bool fields(const json& m, const std::string& path, std::string_view key, bool bounds, std::vector<Field>& out) {
    if (!m.contains(key)) return true;
    const std::string listPath = path + "/" + std::string(key);
    if (!array(m[key], listPath)) return false;
    for (std::size_t i = 0; i < m[key].size(); ++i) {
      const std::string p = listPath + "/" + std::to_string(i);
      auto& f = out.emplace_back();
      if (!field(m[key][i], p, bounds, f)) return false;
      for (std::size_t k = 0; k + 1 < out.size(); ++k) {
        if (out[k].name == f.name) return bad(ProfileErrc::Duplicate, p + "/name", f.name);
      }
      ranges_.push_back({f.offset, f.offset + fieldSize(f), !isNumeric(f.type) && !f.length, p});
    }
    return true;
  }

  // Checks the byte ranges collected for one message, then forgets them. An up-to-the-end field
  // (a variable range) must start after every other range ends.
  bool layout() {
    const auto ranges = std::move(ranges_);
    ranges_.clear();
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      const auto& a = ranges[i];
      for (std::size_t k = 0; k < ranges.size(); ++k) {
        const auto& b = ranges[k];
        if (k == i) continue;
        if (a.variable) {
          if (b.start >= a.start) return bad(ProfileErrc::VariableNotLast, a.path, "followed by " + b.path);
          if (b.end > a.start) return bad(ProfileErrc::Overlap, b.path, "overlaps " + a.path);
        } else if (!b.variable && k < i && a.start < b.end && b.start < a.end) {
          return bad(ProfileErrc::Overlap, a.path, "overlaps " + b.path);
        }
      }
    }
    return true;
  }

  void addMessageIdRange(const std::string& path) {
    if (messageIdOffset_) ranges_.push_back({*messageIdOffset_, *messageIdOffset_ + 1, false, path + "/messageId"});
  }

  bool uplink(const json& j, const std::string& path, UplinkMessage& m) {
    if (!object(j, path, {"serviceId", "messageId", "properties"})) return false;
    if (!require(j, path, "serviceId") || !string(j["serviceId"], path + "/serviceId", m.serviceId)) return false;
    if (!messageId(j, path, m.messageId)) return false;
    addMessageIdRange(path);
    return fields(j, path, "properties", false, m.properties) && layout();
  }

  bool command(const json& j, const std::string& path, CommandMessage& c) {
    if (!object(j, path, {"serviceId", "method", "messageId", "midOffset", "paras"})) return false;
    if (!require(j, path, "serviceId") || !string(j["serviceId"], path + "/serviceId", c.serviceId)) return false;
    if (!require(j, path, "method") || !string(j["method"], path + "/method", c.method)) return false;
    if (!messageId(j, path, c.messageId)) return false;
    addMessageIdRange(path);
    if (j.contains("midOffset")) {
      if (!offset(j["midOffset"], path + "/midOffset", c.midOffset.emplace())) return false;
      ranges_.push_back({*c.midOffset, *c.midOffset + 2, false, path + "/midOffset"});
    }
    return fields(j, path, "paras", true, c.paras) && layout();
  }

  bool response(const json& j, const std::string& path, ResponseMessage& r) {
    if (!object(j, path, {"messageId", "midOffset", "resultOffset", "resultType", "successResults"})) return false;
    if (!messageId(j, path, r.messageId)) return false;
    addMessageIdRange(path);
    if (j.contains("midOffset")) {
      if (!offset(j["midOffset"], path + "/midOffset", r.midOffset.emplace())) return false;
      ranges_.push_back({*r.midOffset, *r.midOffset + 2, false, path + "/midOffset"});
    }
    if (!require(j, path, "resultOffset") || !offset(j["resultOffset"], path + "/resultOffset", r.resultOffset)) {
      return false;
    }
    if (j.contains("resultType")) {
      if (!fieldType(j["resultType"], path + "/resultType", r.resultType)) return false;
      if (!isInteger(r.resultType)) return bad(ProfileErrc::BadValue, path + "/resultType", "the result is an integer");
    }
    ranges_.push_back({r.resultOffset, r.resultOffset + info(r.resultType).size, false, path + "/resultOffset"});
    if (j.contains("successResults")) {
      const std::string p = path + "/successResults";
      const auto& list = j["successResults"];
      if (!array(list, p)) return false;
      if (list.empty()) return bad(ProfileErrc::BadValue, p, "empty");
      r.successResults.clear();
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_number_integer())
          return bad(ProfileErrc::WrongType, p + "/" + std::to_string(i), "expected an integer");
        const double v = list[i].get<double>();
        if (v < info(r.resultType).lo || v > info(r.resultType).hi) {
          return bad(ProfileErrc::BadValue, p + "/" + std::to_string(i), "outside the range of the result type");
        }
        r.successResults.push_back(list[i].get<std::int64_t>());
      }
    }
    return layout();
  }

  std::optional<std::size_t> messageIdOffset_;
  std::vector<Range> ranges_;
  ProfileError error_;
};

// --- coding ---

namespace {

CodecError codecError(CodecErrc code, std::string detail) { return {code, std::move(detail)}; }

std::uint64_t readBigEndian(std::span<const std::uint8_t> bytes) noexcept {
  std::uint64_t v = 0;
  for (const auto b : bytes) v = v << 8 | b;
  return v;
}

void writeBigEndian(std::uint64_t v, std::span<std::uint8_t> out) noexcept {
  for (std::size_t i = out.size(); i-- > 0;) {
    out[i] = static_cast<std::uint8_t>(v & 0xFF);
    v >>= 8;
  }
}

// The layout of a message given its fields and the extra fixed ranges (message id, mid, result).
Layout layoutOf(const std::vector<Field>& fields,
                std::initializer_list<std::pair<std::optional<std::size_t>, std::size_t>> extra) {
  Layout l;
  for (const auto& [at, size] : extra) {
    if (at) l.fixedLength = std::max(l.fixedLength, *at + size);
  }
  for (const auto& f : fields) {
    if (!isNumeric(f.type) && !f.length) {
      l.variableFrom = f.offset;
    } else {
      l.fixedLength = std::max(l.fixedLength, f.offset + fieldSize(f));
    }
  }
  return l;
}

Expected<std::int64_t, CodecError> readInteger(FieldType type, std::span<const std::uint8_t> bytes) {
  const std::uint64_t raw = readBigEndian(bytes);
  switch (type) {
    case FieldType::Int8:
      return static_cast<std::int64_t>(static_cast<std::int8_t>(raw));
    case FieldType::Int16:
      return static_cast<std::int64_t>(static_cast<std::int16_t>(raw));
    case FieldType::Int32:
      return static_cast<std::int64_t>(static_cast<std::int32_t>(raw));
    default:
      return static_cast<std::int64_t>(raw);
  }
}

// The shortest decimal that reads back as the same binary32, as a double: 0.1f shows as 0.1.
double widen(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  double d = static_cast<double>(f);
  std::from_chars(buf, r.ptr, d);
  return d;
}

std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const auto b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  return out;
}

std::optional<std::vector<std::uint8_t>> fromHex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    std::uint8_t v = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + i, text.data() + i + 2, v, 16);
    if (ec != std::errc{} || ptr != text.data() + i + 2) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

Expected<json, CodecError> readField(const Field& f, std::span<const std::uint8_t> bytes) {
  const std::string where = f.name;
  if (f.offset > bytes.size()) return Unexpected(codecError(CodecErrc::Truncated, where));
  const std::size_t size = isNumeric(f.type) || f.length ? fieldSize(f) : bytes.size() - f.offset;
  if (bytes.size() - f.offset < size) return Unexpected(codecError(CodecErrc::Truncated, where));
  const auto raw = bytes.subspan(f.offset, size);
  switch (f.type) {
    case FieldType::Float32:
      return json(widen(std::bit_cast<float>(static_cast<std::uint32_t>(readBigEndian(raw)))));
    case FieldType::String: {
      std::string_view s(reinterpret_cast<const char*>(raw.data()), raw.size());
      // A fixed-length string is NUL-padded; the text ends at the first NUL.
      s = s.substr(0, s.find('\0'));
      if (!isUtf8(s)) return Unexpected(codecError(CodecErrc::BadEncoding, where + ": not UTF-8"));
      return json(std::string(s));
    }
    case FieldType::Hex:
      return json(toHex(raw));
    case FieldType::Bytes:
      return json(base64Encode(raw));
    default: {
      auto v = readInteger(f.type, raw);
      if (!v) return Unexpected(v.error());
      return json(*v);
    }
  }
}

// Checks the length of `bytes` against the message layout.
std::optional<CodecError> checkLength(const Layout& l, std::size_t size, const std::string& message) {
  const std::size_t need = l.variableFrom ? std::max(l.fixedLength, *l.variableFrom) : l.fixedLength;
  if (size < need)
    return codecError(CodecErrc::Truncated,
                      message + ": " + std::to_string(size) + " of " + std::to_string(need) + " bytes");
  if (!l.variableFrom && size > need) {
    return codecError(CodecErrc::TrailingBytes,
                      message + ": " + std::to_string(size) + " bytes, " + std::to_string(need) + " expected");
  }
  return std::nullopt;
}

Expected<std::vector<std::uint8_t>, CodecError> fieldBytes(const Field& f, const json& v) {
  const std::string& where = f.name;
  if (isNumeric(f.type)) {
    if (!v.is_number()) return Unexpected(codecError(CodecErrc::WrongParaType, where + ": expected a number"));
    const TypeInfo& t = info(f.type);
    double d = v.get<double>();
    const double lo = f.min.value_or(t.lo);
    const double hi = f.max.value_or(t.hi);
    std::uint64_t raw = 0;
    if (f.type == FieldType::Float32) {
      if (!(d >= lo && d <= hi)) return Unexpected(codecError(CodecErrc::OutOfRange, where));
      raw = std::bit_cast<std::uint32_t>(static_cast<float>(d));
    } else {
      std::int64_t i = 0;
      if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return Unexpected(codecError(CodecErrc::OutOfRange, where));
        }
        i = static_cast<std::int64_t>(u);
      } else if (v.is_number_integer()) {
        i = v.get<std::int64_t>();
      } else {
        if (std::trunc(d) != d)
          return Unexpected(codecError(CodecErrc::WrongParaType, where + ": expected an integer"));
        if (!(d >= lo && d <= hi)) return Unexpected(codecError(CodecErrc::OutOfRange, where));
        i = static_cast<std::int64_t>(d);
      }
      d = static_cast<double>(i);
      if (d < lo || d > hi) return Unexpected(codecError(CodecErrc::OutOfRange, where));
      raw = static_cast<std::uint64_t>(i);
    }
    std::vector<std::uint8_t> out(t.size);
    writeBigEndian(raw, out);
    return out;
  }
  if (!v.is_string()) return Unexpected(codecError(CodecErrc::WrongParaType, where + ": expected a string"));
  const auto& s = v.get_ref<const std::string&>();
  std::vector<std::uint8_t> out;
  switch (f.type) {
    case FieldType::String:
      if (!isUtf8(s)) return Unexpected(codecError(CodecErrc::BadEncoding, where + ": not UTF-8"));
      out.assign(s.begin(), s.end());
      break;
    case FieldType::Hex: {
      auto bytes = fromHex(s);
      if (!bytes) return Unexpected(codecError(CodecErrc::BadEncoding, where + ": not hex"));
      out = std::move(*bytes);
      break;
    }
    default: {
      auto bytes = base64Decode(s);
      if (!bytes) return Unexpected(codecError(CodecErrc::BadEncoding, where + ": not base64"));
      out = std::move(*bytes);
      break;
    }
  }
  if (f.length) {
    if (out.size() > *f.length) return Unexpected(codecError(CodecErrc::TooLong, where));
    out.resize(*f.length, 0);  // NUL padding
  }
  return out;
}

}  // namespace

std::string_view fieldTypeName(FieldType t) noexcept { return info(t).name; }

std::string ProfileError::message() const {
  std::string out = path.empty() ? std::string("profile") : path;
  out += ": " + make_error_code(code).message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

std::string CodecError::message() const {
  std::string out = make_error_code(code).message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

const std::error_category& profileCategory() noexcept {
  static const ProfileCategory category;
  return category;
}

const std::error_category& codecCategory() noexcept {
  static const CodecCategory category;
  return category;
}

std::error_code make_error_code(ProfileErrc e) noexcept { return {static_cast<int>(e), profileCategory()}; }
std::error_code make_error_code(CodecErrc e) noexcept { return {static_cast<int>(e), codecCategory()}; }

Expected<CodecProfile, ProfileError> CodecProfile::parse(const json& profile) { return ProfileParser().run(profile); }

Expected<CodecProfile, ProfileError> CodecProfile::parse(std::string_view jsonText) {
  json j = json::parse(jsonText.begin(), jsonText.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Unexpected(ProfileError{ProfileErrc::BadJson, "", ""});
  return parse(j);
}

const CommandMessage* CodecProfile::findCommand(std::string_view serviceId, std::string_view method) const noexcept {
  for (const auto& c : commands_) {
    if (c.serviceId == serviceId && c.method == method) return &c;
  }
  return nullptr;
}

Expected<UplinkKind, CodecError> CodecProfile::classify(std::span<const std::uint8_t> bytes) const {
  if (!messageIdOffset_) {
    if (response_) return UplinkKind::CommandResponse;
    if (!uplinks_.empty()) return UplinkKind::Data;
    return Unexpected(codecError(CodecErrc::NoSuchMessage, "no uplink message"));
  }
  if (bytes.size() <= *messageIdOffset_) return Unexpected(codecError(CodecErrc::Truncated, "messageId"));
  const std::uint8_t id = bytes[*messageIdOffset_];
  if (response_ && response_->messageId == id) return UplinkKind::CommandResponse;
  for (const auto& m : uplinks_) {
    if (m.messageId == id) return UplinkKind::Data;
  }
  return Unexpected(codecError(CodecErrc::UnknownMessageId, std::to_string(id)));
}

Expected<json, CodecError> CodecProfile::decodeUplink(std::span<const std::uint8_t> bytes) const {
  const UplinkMessage* m = nullptr;
  if (!messageIdOffset_) {
    if (!uplinks_.empty()) m = &uplinks_.front();
  } else {
    if (bytes.size() <= *messageIdOffset_) return Unexpected(codecError(CodecErrc::Truncated, "messageId"));
    const std::uint8_t id = bytes[*messageIdOffset_];
    for (const auto& u : uplinks_) {
      if (u.messageId == id) m = &u;
    }
    if (m == nullptr) return Unexpected(codecError(CodecErrc::UnknownMessageId, std::to_string(id)));
  }
  if (m == nullptr) return Unexpected(codecError(CodecErrc::NoSuchMessage, "no uplink message"));

  const Layout layout = layoutOf(m->properties, {{messageIdOffset_, 1}});
  if (auto e = checkLength(layout, bytes.size(), m->serviceId)) return Unexpected(*e);
  json properties = json::object();
  for (const auto& f : m->properties) {
    auto v = readField(f, bytes);
    if (!v) return Unexpected(v.error());
    properties[f.name] = std::move(*v);
  }
  json out = json::object();
  out[m->serviceId] = std::move(properties);
  return out;
}

Expected<std::vector<std::uint8_t>, CodecError> CodecProfile::encodeCommand(std::string_view serviceId,
                                                                            std::string_view method, const json& paras,
                                                                            std::uint16_t mid) const {
  const CommandMessage* c = findCommand(serviceId, method);
  if (c == nullptr) {
    return Unexpected(codecError(CodecErrc::UnknownCommand, std::string(serviceId) + "." + std::string(method)));
  }
  if (!paras.is_object() && !(paras.is_null() && c->paras.empty())) {
    return Unexpected(codecError(CodecErrc::ParasNotObject, ""));
  }
  if (paras.is_object()) {
    for (const auto& item : paras.items()) {
      const std::string& key = item.key();
      const bool known = std::any_of(c->paras.begin(), c->paras.end(), [&](const Field& f) { return f.name == key; });
      if (!known) return Unexpected(codecError(CodecErrc::UnknownPara, key));
    }
  }
  const Layout layout = layoutOf(c->paras, {{messageIdOffset_, 1}, {c->midOffset, 2}});
  std::vector<std::uint8_t> out(
      layout.variableFrom ? std::max(layout.fixedLength, *layout.variableFrom) : layout.fixedLength, 0);
  for (const auto& f : c->paras) {
    if (!paras.is_object() || !paras.contains(f.name)) return Unexpected(codecError(CodecErrc::MissingPara, f.name));
    auto bytes = fieldBytes(f, paras[f.name]);
    if (!bytes) return Unexpected(bytes.error());
    if (out.size() < f.offset + bytes->size()) out.resize(f.offset + bytes->size(), 0);
    std::copy(bytes->begin(), bytes->end(), out.begin() + static_cast<std::ptrdiff_t>(f.offset));
  }
  if (messageIdOffset_) out[*messageIdOffset_] = c->messageId.value_or(0);
  if (c->midOffset) writeBigEndian(mid, std::span(out).subspan(*c->midOffset, 2));
  return out;
}

Expected<CommandResponse, CodecError> CodecProfile::decodeCommandResponse(std::span<const std::uint8_t> bytes) const {
  if (!response_) return Unexpected(codecError(CodecErrc::NoSuchMessage, "no commandResponse message"));
  const ResponseMessage& r = *response_;
  if (messageIdOffset_) {
    if (bytes.size() <= *messageIdOffset_) return Unexpected(codecError(CodecErrc::Truncated, "messageId"));
    if (bytes[*messageIdOffset_] != r.messageId) {
      return Unexpected(codecError(CodecErrc::UnknownMessageId, std::to_string(bytes[*messageIdOffset_])));
    }
  }
  const Layout layout =
      layoutOf({}, {{messageIdOffset_, 1}, {r.midOffset, 2}, {r.resultOffset, info(r.resultType).size}});
  if (auto e = checkLength(layout, bytes.size(), "commandResponse")) return Unexpected(*e);
  CommandResponse out;
  if (r.midOffset) out.mid = static_cast<std::uint16_t>(readBigEndian(bytes.subspan(*r.midOffset, 2)));
  auto result = readInteger(r.resultType, bytes.subspan(r.resultOffset, info(r.resultType).size));
  if (!result) return Unexpected(result.error());
  out.result = *result;
  out.success = std::find(r.successResults.begin(), r.successResults.end(), out.result) != r.successResults.end();
  return out;
}

}  // namespace fc::oceanconnect
