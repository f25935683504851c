// The Gizwits GAgent v4 binary frames carried in MQTT payloads (Gizwits device–cloud protocol
// v4.0.6, ../shared/protocols/gizwits.md), as a sans-I/O codec shared by the server's dialect and
// the client's GizwitsDevice. Big-endian throughout. Two framings:
//
//   long   00 00 00 03 | length (1-4 bytes, MQTT Remaining Length encoding, counting what follows)
//          | flag 00 | command (2) | body            — app2dev/…, dev2app/…: 0x0010-0x0012, 0x0090-0x0094
//   short  00 00 00 03 | command (2) | body          — ser2cli_res/<did>, cli2ser_req: 0x020E-0x0211
//
// Decoders never throw: they return a frame and the bytes it used, or a precise error (Incomplete
// for a prefix of a frame, so every strict prefix of a valid frame is Incomplete).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::gizwits {

/// The fixed header of every frame (protocol version 3).
inline constexpr std::uint8_t kHeader[4] = {0x00, 0x00, 0x00, 0x03};

/// Command words (v4.0.6 §4.4-4.13).
enum class Cmd : std::uint16_t {
  SetLogLevel = 0x0010,         ///< §4.10 cloud → device: log level and LED bits
  SetLogLevelAck = 0x0011,      ///< §4.10 device → cloud: the 0x0010 was applied
  DeviceLog = 0x0012,           ///< §4.13 device → cloud and apps: one log line
  AppToDevice = 0x0090,         ///< §4.8 pass-through, app → device (app2dev/<did>/<appClientId>)
  DeviceToApp = 0x0091,         ///< §4.8 pass-through, device → app (dev2app/<did>[/<appClientId>])
  AckedData = 0x0093,           ///< §4.9 pass-through that asks for an ACK, either direction
  AckedDataAck = 0x0094,        ///< §4.9 the ACK, with the same sn
  OtaPushV40 = 0x020E,          ///< §4.4 short form: firmware type, target fid, download URL
  OnlineAppsRequest = 0x020F,   ///< §4.11 short form: the device asks how many apps are online
  OnlineApps = 0x0210,          ///< §4.12 short form: the number of online apps
  OtaPushV41 = 0x0211,          ///< §4.5 short form: firmware type (the device then checks over HTTP)
};

/// Field limits of v4.0.6.
inline constexpr std::size_t kMaxData = 65535;       ///< pass-through data (§4.8, §4.9)
inline constexpr std::size_t kMaxTag = 256;          ///< log tag (§4.13)
inline constexpr std::size_t kMaxSource = 32;        ///< log source (§4.13)
inline constexpr std::size_t kMaxLogContent = 65535; ///< log content (§4.13)
inline constexpr std::size_t kMaxUrl = 512;          ///< OTA v4.0 download URL (§4.4)
inline constexpr std::uint32_t kMaxLength = 268'435'455;  ///< the largest 4-byte variable length

/// 0x0090 / 0x0091: opaque product data (the device's "P0" protocol).
struct PassThrough {
  Cmd cmd = Cmd::AppToDevice;  ///< AppToDevice or DeviceToApp
  std::vector<std::uint8_t> data;
  bool operator==(const PassThrough&) const = default;
};

/// 0x0093 / 0x0094: pass-through with a sequence number; the receiver answers 0x0094 with the same sn.
struct AckedData {
  Cmd cmd = Cmd::AckedData;  ///< AckedData or AckedDataAck
  std::uint32_t sn = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const AckedData&) const = default;
};

/// 0x0010: bits 0-15 (sent as bits 8-15, then bits 0-7: big-endian).
struct SetLogLevel {
  std::uint16_t bits = 0;
  bool operator==(const SetLogLevel&) const = default;
};

/// 0x0011: no body.
struct SetLogLevelAck {
  bool operator==(const SetLogLevelAck&) const = default;
};

/// 0x0012: level (1 error, 2 warning, 3 info), tag (≤ 256), source (≤ 32), content (UTF-8, ≤ 65535);
/// each string with a 2-byte length before it.
struct DeviceLog {
  std::uint8_t level = 3;
  std::string tag;
  std::string source;
  std::string content;
  bool operator==(const DeviceLog&) const = default;
};

/// 0x020E (short form): firmware type (1 Wi-Fi, 2 MCU), target firmware id, download URL (≤ 512).
struct OtaPushV40 {
  std::uint8_t type = 1;
  std::uint32_t targetFid = 0;
  std::string url;
  bool operator==(const OtaPushV40&) const = default;
};

/// 0x0211 (short form): firmware type.
struct OtaPushV41 {
  std::uint8_t type = 1;
  bool operator==(const OtaPushV41&) const = default;
};

/// 0x020F (short form): no body.
struct OnlineAppsRequest {
  bool operator==(const OnlineAppsRequest&) const = default;
};

/// 0x0210 (short form): the count, u16.
struct OnlineApps {
  std::uint16_t count = 0;
  bool operator==(const OnlineApps&) const = default;
};

/// A well-framed long-form frame whose command this codec does not know: kept whole so the
/// server can log it.
struct OtherLong {
  std::uint16_t cmd = 0;
  std::vector<std::uint8_t> body;
  bool operator==(const OtherLong&) const = default;
};

using Frame = std::variant<PassThrough, AckedData, SetLogLevel, SetLogLevelAck, DeviceLog, OtaPushV40, OtaPushV41,
                           OnlineAppsRequest, OnlineApps, OtherLong>;

enum class DecodeError : std::uint8_t {
  Incomplete = 1,   ///< a prefix of a frame: more bytes are needed
  BadHeader,        ///< the first four bytes are not 00 00 00 03
  MalformedLength,  ///< a variable length with a fifth continuation byte
  BadFlag,          ///< the flag byte is not 00
  TooShort,         ///< the length leaves no room for the command or the command's fixed fields
  Oversized,        ///< a field beyond its v4.0.6 limit (data, tag, source, content, URL)
  TrailingBytes,    ///< the body is longer than the command's fields (a fixed-size command)
  UnknownCommand,   ///< a short-form command this codec does not know
  WrongForm,        ///< a command of the other framing (e.g. 0x0210 with a length and flag)
};

std::string_view toString(DecodeError e) noexcept;
const std::error_category& decodeCategory() noexcept;
inline std::error_code make_error_code(DecodeError e) noexcept { return {static_cast<int>(e), decodeCategory()}; }

template <class T>
struct Decoded {
  T value;
  std::size_t consumed = 0;
};

/// Whether the command is sent in the short form (no length, no flag).
bool isShortForm(std::uint16_t cmd) noexcept;
/// The command word of a frame.
std::uint16_t commandOf(const Frame& f) noexcept;

/// Decodes one long-form frame at the front of `in` (the length says where it ends).
[[nodiscard]] Expected<Decoded<Frame>, DecodeError> decodeLong(std::span<const std::uint8_t> in) noexcept;
/// Decodes one short-form frame at the front of `in` (its command says how long it is).
[[nodiscard]] Expected<Decoded<Frame>, DecodeError> decodeShort(std::span<const std::uint8_t> in) noexcept;
/// Either form, told apart by the bytes after the header: a short-form command word (02 0E-02 11)
/// cannot start a long frame whose flag must be 00 — `02 0E` would be length 2, flag 0E.
[[nodiscard]] Expected<Decoded<Frame>, DecodeError> decode(std::span<const std::uint8_t> in) noexcept;

/// Appends the frame in its form; false (nothing appended) when a field is over its limit.
[[nodiscard]] bool encode(const Frame& frame, std::vector<std::uint8_t>& out);
/// The frame's bytes; empty when a field is over its limit.
std::vector<std::uint8_t> encode(const Frame& frame);

/// The variable length (MQTT Remaining Length encoding, 1-4 bytes) of `value` ≤ kMaxLength.
void appendLength(std::uint32_t value, std::vector<std::uint8_t>& out);
/// Reads a variable length: its value and size, Incomplete, or MalformedLength.
[[nodiscard]] Expected<Decoded<std::uint32_t>, DecodeError> readLength(std::span<const std::uint8_t> in) noexcept;

/// A one-line description for the journal ("0x0091 pass-through 5 bytes", "0x0012 log info [tag] …").
std::string describe(const Frame& frame);

}  // namespace fc::gizwits

template <>
struct std::is_error_code_enum<fc::gizwits::DecodeError> : std::true_type {};
