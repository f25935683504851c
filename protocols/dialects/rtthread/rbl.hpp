// RT-Thread OTA packages (".rbl"): the 96-byte little-endian header and the body — the raw
// firmware, optionally compressed, then optionally AES-256-CBC encrypted — as
// ../shared/protocols/rtthread.md lays them out and RT-Thread's OTA downloader and bootloader read
// them. Pure functions: no I/O; decoders return a value or a precise error and never throw.
//
//   0x00 magic "RBL\0"        0x04 algo u32: bits 0-3 encryption, bits 8-11 compression
//   0x08 timestamp (unix s)   0x0C name[16] (partition)   0x1C version[24]   0x34 sn[24]
//   0x4C crc32 of the body    0x50 FNV-1a-32 of the raw firmware   0x54 size_raw
//   0x58 size_package (body)  0x5C info_crc32 = CRC-32 of header bytes 0..91
// CRC-32 is zlib's (IEEE 802.3, reflected, init and xor 0xFFFFFFFF). Strings are NUL-padded; a
// field holds at most its size minus one characters, so that it is always terminated.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/expected.hpp"

namespace fc::rtthread {

inline constexpr std::size_t kRblHeaderSize = 96;
/// Compressed bodies are made of chunks of at most this much raw firmware (QuickLZ, FastLZ).
inline constexpr std::size_t kRblChunkSize = 4096;

enum class RblEncryption : std::uint8_t { None = 0, Xor = 1, Aes256 = 2 };
enum class RblCompression : std::uint8_t { None = 0, Gzip = 1, QuickLz = 2, FastLz = 3 };

[[nodiscard]] std::string_view toString(RblEncryption e) noexcept;
[[nodiscard]] std::string_view toString(RblCompression c) noexcept;
/// "none", "xor", "aes256" / "none", "gzip", "quicklz", "fastlz".
[[nodiscard]] std::optional<RblEncryption> parseEncryption(std::string_view s) noexcept;
[[nodiscard]] std::optional<RblCompression> parseCompression(std::string_view s) noexcept;

struct RblHeader {
  RblEncryption encryption = RblEncryption::None;
  RblCompression compression = RblCompression::None;
  std::uint32_t timestamp = 0;
  std::string name;     ///< partition ("app", "filesystem" …), at most 15 characters
  std::string version;  ///< at most 23 characters
  std::string sn;       ///< at most 23 characters
  std::uint32_t bodyCrc32 = 0;
  std::uint32_t rawHash = 0;  ///< FNV-1a-32 of the raw firmware
  std::uint32_t rawSize = 0;
  std::uint32_t packageSize = 0;  ///< size of the body that follows the header
  bool operator==(const RblHeader&) const = default;
};

enum class RblError : std::uint8_t {
  TooShort = 1,        ///< fewer than 96 bytes
  BadMagic,            ///< not "RBL\0"
  BadHeaderCrc,        ///< info_crc32 does not match bytes 0..91
  BadAlgorithm,        ///< an encryption or compression number that does not exist
  UnterminatedString,  ///< name, version or sn without a NUL
  FieldTooLong,        ///< (encoding) a string longer than its field allows
  BadBodySize,         ///< the body is not size_package bytes
  BadBodyCrc,          ///< crc32 does not match the body
  KeyRequired,         ///< an encrypted body and no key given
  BadKey,              ///< the key is not 32 characters or the IV not 16
  DecryptFailed,       ///< wrong key, or not whole AES blocks / bad padding
  DecompressFailed,    ///< the compressed stream is malformed
  BadRawSize,          ///< the unpacked firmware is not size_raw bytes
  BadRawHash,          ///< FNV-1a of the unpacked firmware does not match
  Unsupported,         ///< a format fakecloud does not implement (yet): XOR encryption, QuickLZ, FastLZ
};
[[nodiscard]] std::string_view toString(RblError e) noexcept;

/// zlib's CRC-32 of `bytes`, continuing from `crc` (0 to start).
[[nodiscard]] std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0) noexcept;
/// FNV-1a, 32 bits (offset basis 0x811C9DC5, prime 0x01000193).
[[nodiscard]] std::uint32_t fnv1a32(std::span<const std::uint8_t> bytes) noexcept;

/// The 96 header bytes, info_crc32 computed; FieldTooLong when a string does not fit.
[[nodiscard]] Expected<std::array<std::uint8_t, kRblHeaderSize>, RblError> encodeRblHeader(const RblHeader& h);
/// The header at the start of `package` (the body is not looked at).
[[nodiscard]] Expected<RblHeader, RblError> decodeRblHeader(std::span<const std::uint8_t> package);

/// The product's AES-256-CBC key: 32 ASCII characters of key, 16 of IV.
struct RblKey {
  std::string key;
  std::string iv;
};

struct RblPackOptions {
  std::string name;
  std::string version;
  std::string sn;
  std::uint32_t timestamp = 0;
  RblCompression compression = RblCompression::None;
  RblEncryption encryption = RblEncryption::None;
  std::optional<RblKey> key;  ///< required for Aes256
};

/// Packs a raw firmware image into a whole .rbl (header + body).
[[nodiscard]] Expected<std::vector<std::uint8_t>, RblError> packRbl(std::span<const std::uint8_t> raw,
                                                                    const RblPackOptions& options);

struct RblUnpacked {
  RblHeader header;
  std::vector<std::uint8_t> raw;
};
/// Checks a whole package — header CRC, body size and CRC — and, when the body can be opened
/// (not encrypted, or `key` given), decrypts and decompresses it and checks size_raw and the FNV-1a
/// hash. Without a key for an encrypted body: KeyRequired (use verifyRblEnvelope to check the rest).
[[nodiscard]] Expected<RblUnpacked, RblError> unpackRbl(std::span<const std::uint8_t> package,
                                                        const std::optional<RblKey>& key = std::nullopt);
/// The checks that need no key: header, body size, body CRC.
[[nodiscard]] Expected<RblHeader, RblError> verifyRblEnvelope(std::span<const std::uint8_t> package);

}  // namespace fc::rtthread
