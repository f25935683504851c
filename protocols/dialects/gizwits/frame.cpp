// Gizwits GAgent v4 frames; the layout is at the top of frame.hpp.
#include "protocols/dialects/gizwits/frame.hpp"

#include <algorithm>
#include <cstdio>

#include "protocols/common/overloaded.hpp"

namespace fc::gizwits {
namespace {

using Bytes = std::span<const std::uint8_t>;

/// Reads fields from a body whose end is known; every read checks the room left.
class Reader {
 public:
  explicit Reader(Bytes in) : in_(in) {}
  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = in_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>(in_[pos_] << 8 | in_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (left() < 4) return false;
    v = std::uint32_t{in_[pos_]} << 24 | std::uint32_t{in_[pos_ + 1]} << 16 | std::uint32_t{in_[pos_ + 2]} << 8 |
        in_[pos_ + 3];
    pos_ += 4;
    return true;
  }
  bool bytes(std::size_t n, std::string& out) {
    if (left() < n) return false;
    out.assign(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return true;
  }
  std::vector<std::uint8_t> rest() {
    std::vector<std::uint8_t> out(in_.begin() + static_cast<std::ptrdiff_t>(pos_), in_.end());
    pos_ = in_.size();
    return out;
  }
  std::size_t left() const { return in_.size() - pos_; }
  std::size_t pos() const { return pos_; }

 private:
  Bytes in_;
  std::size_t pos_ = 0;
};

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void putString(std::vector<std::uint8_t>& out, const std::string& s) {
  put16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

bool hasHeader(Bytes in, DecodeError& error) {
  const std::size_t n = std::min<std::size_t>(in.size(), 4);
  if (!std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), kHeader)) {
    error = DecodeError::BadHeader;
    return false;
  }
  if (in.size() < 4) {
    error = DecodeError::Incomplete;
    return false;
  }
  return true;
}

/// A length-prefixed string of at most `limit` bytes.
bool readString(Reader& r, std::size_t limit, std::string& out, DecodeError& error) {
  std::uint16_t n = 0;
  if (!r.u16(n)) {
    error = DecodeError::TooShort;
    return false;
  }
  if (n > limit) {
    error = DecodeError::Oversized;
    return false;
  }
  if (!r.bytes(n, out)) {
    error = DecodeError::TooShort;
    return false;
  }
  return true;
}

/// The body of a long-form command (what follows the command word, exactly the frame's rest).
Expected<Frame, DecodeError> longBody(std::uint16_t cmd, Bytes body) {
  Reader r(body);
  DecodeError error{};
  const auto exact = [&r](Frame f) -> Expected<Frame, DecodeError> {
    if (r.left() != 0) return Unexpected(DecodeError::TrailingBytes);
    return f;
  };
  switch (static_cast<Cmd>(cmd)) {
    case Cmd::AppToDevice:
    case Cmd::DeviceToApp: {
      if (body.size() > kMaxData) return Unexpected(DecodeError::Oversized);
      return Frame(PassThrough{static_cast<Cmd>(cmd), r.rest()});
    }
    case Cmd::AckedData:
    case Cmd::AckedDataAck: {
      AckedData a{static_cast<Cmd>(cmd), 0, {}};
      if (!r.u32(a.sn)) return Unexpected(DecodeError::TooShort);
      if (r.left() > kMaxData) return Unexpected(DecodeError::Oversized);
      a.data = r.rest();
      return Frame(std::move(a));
    }
    case Cmd::SetLogLevel: {
      SetLogLevel s;
      if (!r.u16(s.bits)) return Unexpected(DecodeError::TooShort);
      return exact(s);
    }
    case Cmd::SetLogLevelAck:
      return exact(SetLogLevelAck{});
    case Cmd::DeviceLog: {
      DeviceLog log;
      if (!r.u8(log.level)) return Unexpected(DecodeError::TooShort);
      if (!readString(r, kMaxTag, log.tag, error) || !readString(r, kMaxSource, log.source, error) ||
          !readString(r, kMaxLogContent, log.content, error))
        return Unexpected(error);
      return exact(std::move(log));
    }
    case Cmd::OtaPushV40:
    case Cmd::OnlineAppsRequest:
    case Cmd::OnlineApps:
    case Cmd::OtaPushV41:
      return Unexpected(DecodeError::WrongForm);
  }
  return Frame(OtherLong{cmd, r.rest()});
}

}  // namespace

std::string_view toString(DecodeError e) noexcept {
  switch (e) {
    case DecodeError::Incomplete:
      return "incomplete frame";
    case DecodeError::BadHeader:
      return "the header is not 00 00 00 03";
    case DecodeError::MalformedLength:
      return "malformed variable length";
    case DecodeError::BadFlag:
      return "the flag is not 00";
    case DecodeError::TooShort:
      return "the frame is too short for its command";
    case DecodeError::Oversized:
      return "a field is over its limit";
    case DecodeError::TrailingBytes:
      return "bytes after the command's fields";
    case DecodeError::UnknownCommand:
      return "unknown short-form command";
    case DecodeError::WrongForm:
      return "the command belongs to the other framing";
  }
  return "unknown error";
}

const std::error_category& decodeCategory() noexcept {
  struct Category final : std::error_category {
    const char* name() const noexcept override { return "gizwits"; }
    std::string message(int c) const override { return std::string(toString(static_cast<DecodeError>(c))); }
  };
  static const Category category;
  return category;
}

bool isShortForm(std::uint16_t cmd) noexcept { return cmd >= 0x020E && cmd <= 0x0211; }

std::uint16_t commandOf(const Frame& f) noexcept {
  return std::visit(Overloaded{
                        [](const PassThrough& p) { return static_cast<std::uint16_t>(p.cmd); },
                        [](const AckedData& a) { return static_cast<std::uint16_t>(a.cmd); },
                        [](const SetLogLevel&) { return std::uint16_t{0x0010}; },
                        [](const SetLogLevelAck&) { return std::uint16_t{0x0011}; },
                        [](const DeviceLog&) { return std::uint16_t{0x0012}; },
                        [](const OtaPushV40&) { return std::uint16_t{0x020E}; },
                        [](const OtaPushV41&) { return std::uint16_t{0x0211}; },
                        [](const OnlineAppsRequest&) { return std::uint16_t{0x020F}; },
                        [](const OnlineApps&) { return std::uint16_t{0x0210}; },
                        [](const OtherLong& o) { return o.cmd; },
                    },
                    f);
}

void appendLength(std::uint32_t value, std::vector<std::uint8_t>& out) {
  do {
    auto digit = static_cast<std::uint8_t>(value % 128);
    value /= 128;
    if (value > 0) digit |= 0x80;
    out.push_back(digit);
  } while (value > 0);
}

Expected<Decoded<std::uint32_t>, DecodeError> readLength(std::span<const std::uint8_t> in) noexcept {
  std::uint32_t value = 0;
  std::uint32_t multiplier = 1;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i >= in.size()) return Unexpected(DecodeError::Incomplete);
    value += (in[i] & 0x7Fu) * multiplier;
    if ((in[i] & 0x80) == 0) return Decoded<std::uint32_t>{value, i + 1};
    multiplier *= 128;
  }
  return Unexpected(DecodeError::MalformedLength);
}

Expected<Decoded<Frame>, DecodeError> decodeLong(std::span<const std::uint8_t> in) noexcept {
  DecodeError error{};
  if (!hasHeader(in, error)) return Unexpected(error);
  auto length = readLength(in.subspan(4));
  if (!length) return Unexpected(length.error());
  const std::size_t start = 4 + length->consumed;  // the flag
  // The flag and the command are checked as soon as they arrive, so a frame that cannot be
  // valid is refused before the rest of its announced length.
  if (in.size() > start && in[start] != 0x00) return Unexpected(DecodeError::BadFlag);
  if (length->value < 3) {
    if (in.size() < start + length->value) return Unexpected(DecodeError::Incomplete);
    return Unexpected(DecodeError::TooShort);
  }
  const std::size_t end = start + length->value;
  if (in.size() < end) return Unexpected(DecodeError::Incomplete);
  const auto cmd = static_cast<std::uint16_t>(in[start + 1] << 8 | in[start + 2]);
  auto frame = longBody(cmd, in.subspan(start + 3, end - start - 3));
  if (!frame) return Unexpected(frame.error());
  return Decoded<Frame>{std::move(*frame), end};
}

Expected<Decoded<Frame>, DecodeError> decodeShort(std::span<const std::uint8_t> in) noexcept {
  DecodeError error{};
  if (!hasHeader(in, error)) return Unexpected(error);
  if (in.size() < 6) return Unexpected(DecodeError::Incomplete);
  const auto cmd = static_cast<std::uint16_t>(in[4] << 8 | in[5]);
  Reader r(in.subspan(6));
  switch (static_cast<Cmd>(cmd)) {
    case Cmd::OnlineAppsRequest:
      return Decoded<Frame>{OnlineAppsRequest{}, 6};
    case Cmd::OnlineApps: {
      OnlineApps o;
      if (!r.u16(o.count)) return Unexpected(DecodeError::Incomplete);
      return Decoded<Frame>{o, 6 + r.pos()};
    }
    case Cmd::OtaPushV41: {
      OtaPushV41 o;
      if (!r.u8(o.type)) return Unexpected(DecodeError::Incomplete);
      return Decoded<Frame>{o, 6 + r.pos()};
    }
    case Cmd::OtaPushV40: {
      OtaPushV40 o;
      std::uint16_t n = 0;
      if (!r.u8(o.type) || !r.u32(o.targetFid) || !r.u16(n)) return Unexpected(DecodeError::Incomplete);
      if (n > kMaxUrl) return Unexpected(DecodeError::Oversized);
      if (!r.bytes(n, o.url)) return Unexpected(DecodeError::Incomplete);
      return Decoded<Frame>{std::move(o), 6 + r.pos()};
    }
    default:
      break;
  }
  const bool longCommand = (cmd >= 0x0010 && cmd <= 0x0012) || (cmd >= 0x0090 && cmd <= 0x0094);
  return Unexpected(longCommand ? DecodeError::WrongForm : DecodeError::UnknownCommand);
}

Expected<Decoded<Frame>, DecodeError> decode(std::span<const std::uint8_t> in) noexcept {
  DecodeError error{};
  if (!hasHeader(in, error)) return Unexpected(error);
  if (in.size() == 4) return Unexpected(DecodeError::Incomplete);
  if (in[4] == 0x02) {
    if (in.size() == 5) return Unexpected(DecodeError::Incomplete);
    if (isShortForm(static_cast<std::uint16_t>(0x0200 | in[5]))) return decodeShort(in);
  }
  return decodeLong(in);
}

bool encode(const Frame& frame, std::vector<std::uint8_t>& out) {
  const std::uint16_t cmd = commandOf(frame);
  std::vector<std::uint8_t> body;
  bool fits = true;
  std::visit(Overloaded{
                 [&](const PassThrough& p) {
                   fits = p.data.size() <= kMaxData;
                   body = p.data;
                 },
                 [&](const AckedData& a) {
                   fits = a.data.size() <= kMaxData;
                   put32(body, a.sn);
                   body.insert(body.end(), a.data.begin(), a.data.end());
                 },
                 [&](const SetLogLevel& s) { put16(body, s.bits); },
                 [&](const SetLogLevelAck&) {},
                 [&](const DeviceLog& l) {
                   fits = l.tag.size() <= kMaxTag && l.source.size() <= kMaxSource &&
                          l.content.size() <= kMaxLogContent;
                   body.push_back(l.level);
                   putString(body, l.tag);
                   putString(body, l.source);
                   putString(body, l.content);
                 },
                 [&](const OtaPushV40& o) {
                   fits = o.url.size() <= kMaxUrl;
                   body.push_back(o.type);
                   put32(body, o.targetFid);
                   putString(body, o.url);
                 },
                 [&](const OtaPushV41& o) { body.push_back(o.type); },
                 [&](const OnlineAppsRequest&) {},
                 [&](const OnlineApps& o) { put16(body, o.count); },
                 [&](const OtherLong& o) {
                   fits = !isShortForm(o.cmd) && o.body.size() <= kMaxLength - 3;
                   body = o.body;
                 },
             },
             frame);
  if (!fits) return false;
  out.insert(out.end(), std::begin(kHeader), std::end(kHeader));
  if (!isShortForm(cmd)) {
    appendLength(static_cast<std::uint32_t>(body.size() + 3), out);
    out.push_back(0x00);  // flag
  }
  put16(out, cmd);
  out.insert(out.end(), body.begin(), body.end());
  return true;
}

std::vector<std::uint8_t> encode(const Frame& frame) {
  std::vector<std::uint8_t> out;
  if (!encode(frame, out)) out.clear();
  return out;
}

std::string describe(const Frame& frame) {
  char cmd[8];
  std::snprintf(cmd, sizeof cmd, "0x%04X", commandOf(frame));
  const auto level = [](std::uint8_t l) -> std::string {
    switch (l) {
      case 1:
        return "error";
      case 2:
        return "warning";
      case 3:
        return "info";
    }
    return "level " + std::to_string(l);
  };
  return std::string(cmd) + " " +
         std::visit(Overloaded{
                        [](const PassThrough& p) { return "pass-through " + std::to_string(p.data.size()) + " bytes"; },
                        [](const AckedData& a) {
                          return std::string(a.cmd == Cmd::AckedData ? "pass-through with ack" : "ack") +
                                 " sn=" + std::to_string(a.sn) + " " + std::to_string(a.data.size()) + " bytes";
                        },
                        [](const SetLogLevel& s) { return "set log level/LED bits=" + std::to_string(s.bits); },
                        [](const SetLogLevelAck&) { return std::string("log level/LED set"); },
                        [&](const DeviceLog& l) {
                          return "log " + level(l.level) + " [" + l.tag + "] " + l.source + ": " +
                                 l.content.substr(0, 200);
                        },
                        [](const OtaPushV40& o) {
                          return "OTA v4.0 push type=" + std::to_string(o.type) +
                                 " target_fid=" + std::to_string(o.targetFid) + " " + o.url;
                        },
                        [](const OtaPushV41& o) { return "OTA v4.1 push type=" + std::to_string(o.type); },
                        [](const OnlineAppsRequest&) { return std::string("online app count request"); },
                        [](const OnlineApps& o) { return "online apps " + std::to_string(o.count); },
                        [](const OtherLong& o) { return "unknown command, " + std::to_string(o.body.size()) + " bytes"; },
                    },
                    frame);
}

}  // namespace fc::gizwits
