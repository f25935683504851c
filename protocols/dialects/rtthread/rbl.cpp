// .rbl packages; the layout and contract are in rbl.hpp. CRC-32 and gzip through zlib, AES-256-CBC
// (PKCS#7 padding) through OpenSSL's EVP.
#include "protocols/dialects/rtthread/rbl.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <cstring>
#include <memory>

namespace fc::rtthread {
namespace {

constexpr std::uint8_t kMagic[4] = {'R', 'B', 'L', 0};
constexpr std::size_t kNameAt = 0x0C, kNameSize = 16;
constexpr std::size_t kVersionAt = 0x1C, kVersionSize = 24;
constexpr std::size_t kSnAt = 0x34, kSnSize = 24;
constexpr std::size_t kInfoCrcSpan = 0x5C;

void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

bool putString(std::uint8_t* field, std::size_t size, const std::string& s) {
  if (s.size() >= size || s.find('\0') != std::string::npos) return false;
  std::memcpy(field, s.data(), s.size());
  return true;
}
std::optional<std::string> getString(const std::uint8_t* field, std::size_t size) {
  const void* nul = std::memchr(field, 0, size);
  if (!nul) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(field), static_cast<const std::uint8_t*>(nul) - field);
}

using Bytes = std::vector<std::uint8_t>;

struct CipherContextFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

Expected<Bytes, RblError> aes256(std::span<const std::uint8_t> in, const RblKey& key, bool encrypt) {
  if (key.key.size() != 32 || key.iv.size() != 16) return Unexpected(RblError::BadKey);
  std::unique_ptr<EVP_CIPHER_CTX, CipherContextFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return Unexpected(RblError::DecryptFailed);
  const auto* k = reinterpret_cast<const unsigned char*>(key.key.data());
  const auto* iv = reinterpret_cast<const unsigned char*>(key.iv.data());
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_cbc(), nullptr, k, iv, encrypt ? 1 : 0) != 1)
    return Unexpected(RblError::DecryptFailed);
  Bytes out(in.size() + 16);
  int written = 0, last = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &written, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + written, &last) != 1)
    return Unexpected(RblError::DecryptFailed);
  out.resize(static_cast<std::size_t>(written + last));
  return out;
}

Bytes gzip(std::span<const std::uint8_t> in) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&z, static_cast<uLong>(in.size())));
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// One gzip stream that must end exactly at the end of `in` and inflate to at most `limit` bytes.
Expected<Bytes, RblError> gunzip(std::span<const std::uint8_t> in, std::size_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Unexpected(RblError::DecompressFailed);
  Bytes out;
  std::uint8_t piece[16384];
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = piece;
    z.avail_out = sizeof piece;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.insert(out.end(), piece, piece + (sizeof piece - z.avail_out));
    if (out.size() > limit) {
      inflateEnd(&z);
      return Unexpected(RblError::BadRawSize);
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // input ended before the stream did
  }
  const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
  inflateEnd(&z);
  if (!whole) return Unexpected(RblError::DecompressFailed);
  return out;
}

}  // namespace

std::string_view toString(RblEncryption e) noexcept {
  switch (e) {
    case RblEncryption::None: return "none";
    case RblEncryption::Xor: return "xor";
    case RblEncryption::Aes256: return "aes256";
  }
  return "?";
}

std::string_view toString(RblCompression c) noexcept {
  switch (c) {
    case RblCompression::None: return "none";
    case RblCompression::Gzip: return "gzip";
    case RblCompression::QuickLz: return "quicklz";
    case RblCompression::FastLz: return "fastlz";
  }
  return "?";
}

std::optional<RblEncryption> parseEncryption(std::string_view s) noexcept {
  for (auto e : {RblEncryption::None, RblEncryption::Xor, RblEncryption::Aes256})
    if (toString(e) == s) return e;
  return std::nullopt;
}

std::optional<RblCompression> parseCompression(std::string_view s) noexcept {
  for (auto c : {RblCompression::None, RblCompression::Gzip, RblCompression::QuickLz, RblCompression::FastLz})
    if (toString(c) == s) return c;
  return std::nullopt;
}

std::string_view toString(RblError e) noexcept {
  switch (e) {
    case RblError::TooShort: return "shorter than the 96-byte header";
    case RblError::BadMagic: return "not an .rbl package (magic is not \"RBL\\0\")";
    case RblError::BadHeaderCrc: return "header CRC (info_crc32) does not match";
    case RblError::BadAlgorithm: return "unknown encryption or compression algorithm";
    case RblError::UnterminatedString: return "name, version or sn is not NUL-terminated";
    case RblError::FieldTooLong: return "name (15), version (23) or sn (23 characters) too long";
    case RblError::BadBodySize: return "body size is not size_package";
    case RblError::BadBodyCrc: return "body CRC (crc32) does not match";
    case RblError::KeyRequired: return "the body is encrypted and no key was given";
    case RblError::BadKey: return "the AES key must be 32 characters and the IV 16";
    case RblError::DecryptFailed: return "the body does not decrypt with this key";
    case RblError::DecompressFailed: return "the body does not decompress";
    case RblError::BadRawSize: return "the unpacked firmware is not size_raw bytes";
    case RblError::BadRawHash: return "FNV-1a hash of the unpacked firmware does not match";
    case RblError::Unsupported: return "XOR encryption, QuickLZ and FastLZ are not implemented yet";
  }
  return "?";
}

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) noexcept {
  return static_cast<std::uint32_t>(::crc32_z(crc, bytes.data(), bytes.size()));
}

std::uint32_t fnv1a32(std::span<const std::uint8_t> bytes) noexcept {
  std::uint32_t h = 0x811C9DC5u;
  for (auto b : bytes) h = (h ^ b) * 0x01000193u;
  return h;
}

Expected<std::array<std::uint8_t, kRblHeaderSize>, RblError> encodeRblHeader(const RblHeader& h) {
  std::array<std::uint8_t, kRblHeaderSize> out{};
  std::memcpy(out.data(), kMagic, 4);
  put32(out.data() + 0x04, static_cast<std::uint32_t>(h.encryption) | static_cast<std::uint32_t>(h.compression) << 8);
  put32(out.data() + 0x08, h.timestamp);
  if (!putString(out.data() + kNameAt, kNameSize, h.name) || !putString(out.data() + kVersionAt, kVersionSize, h.version) ||
      !putString(out.data() + kSnAt, kSnSize, h.sn))
    return Unexpected(RblError::FieldTooLong);
  put32(out.data() + 0x4C, h.bodyCrc32);
  put32(out.data() + 0x50, h.rawHash);
  put32(out.data() + 0x54, h.rawSize);
  put32(out.data() + 0x58, h.packageSize);
  put32(out.data() + 0x5C, crc32(std::span(out.data(), kInfoCrcSpan)));
  return out;
}

Expected<RblHeader, RblError> decodeRblHeader(std::span<const std::uint8_t> package) {
  if (package.size() < kRblHeaderSize) return Unexpected(RblError::TooShort);
  const std::uint8_t* p = package.data();
  if (std::memcmp(p, kMagic, 4) != 0) return Unexpected(RblError::BadMagic);
  if (get32(p + 0x5C) != crc32(package.first(kInfoCrcSpan))) return Unexpected(RblError::BadHeaderCrc);
  const auto algo = get32(p + 0x04);
  const auto encryption = algo & 0xF, compression = (algo >> 8) & 0xF;
  if ((algo & ~0xF0Fu) != 0 || encryption > 2 || compression > 3) return Unexpected(RblError::BadAlgorithm);
  auto name = getString(p + kNameAt, kNameSize), version = getString(p + kVersionAt, kVersionSize),
       sn = getString(p + kSnAt, kSnSize);
  if (!name || !version || !sn) return Unexpected(RblError::UnterminatedString);
  return RblHeader{static_cast<RblEncryption>(encryption), static_cast<RblCompression>(compression), get32(p + 0x08),
                   std::move(*name), std::move(*version), std::move(*sn), get32(p + 0x4C), get32(p + 0x50),
                   get32(p + 0x54), get32(p + 0x58)};
}

Expected<std::vector<std::uint8_t>, RblError> packRbl(std::span<const std::uint8_t> raw, const RblPackOptions& o) {
  if (o.encryption == RblEncryption::Xor || o.compression == RblCompression::QuickLz ||
      o.compression == RblCompression::FastLz)
    return Unexpected(RblError::Unsupported);
  if (raw.size() > 0xFFFFFFFFu) return Unexpected(RblError::BadRawSize);
  Bytes body = o.compression == RblCompression::Gzip ? gzip(raw) : Bytes(raw.begin(), raw.end());
  if (o.encryption == RblEncryption::Aes256) {
    if (!o.key) return Unexpected(RblError::KeyRequired);
    auto encrypted = aes256(body, *o.key, /*encrypt=*/true);
    if (!encrypted) return Unexpected(encrypted.error());
    body = std::move(*encrypted);
  }
  RblHeader h{o.encryption, o.compression, o.timestamp, o.name, o.version, o.sn, crc32(body), fnv1a32(raw),
              static_cast<std::uint32_t>(raw.size()), static_cast<std::uint32_t>(body.size())};
  auto header = encodeRblHeader(h);
  if (!header) return Unexpected(header.error());
  Bytes out(header->begin(), header->end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Expected<RblHeader, RblError> verifyRblEnvelope(std::span<const std::uint8_t> package) {
  auto h = decodeRblHeader(package);
  if (!h) return h;
  const auto body = package.subspan(kRblHeaderSize);
  if (body.size() != h->packageSize) return Unexpected(RblError::BadBodySize);
  if (crc32(body) != h->bodyCrc32) return Unexpected(RblError::BadBodyCrc);
  return h;
}

Expected<RblUnpacked, RblError> unpackRbl(std::span<const std::uint8_t> package, const std::optional<RblKey>& key) {
  auto h = verifyRblEnvelope(package);
  if (!h) return Unexpected(h.error());
  if (h->encryption == RblEncryption::Xor || h->compression == RblCompression::QuickLz ||
      h->compression == RblCompression::FastLz)
    return Unexpected(RblError::Unsupported);
  auto body = package.subspan(kRblHeaderSize);
  Bytes decrypted;
  if (h->encryption == RblEncryption::Aes256) {
    if (!key) return Unexpected(RblError::KeyRequired);
    auto plain = aes256(body, *key, /*encrypt=*/false);
    if (!plain) return Unexpected(plain.error());
    decrypted = std::move(*plain);
    body = decrypted;
  }
  Bytes raw;
  if (h->compression == RblCompression::Gzip) {
    auto inflated = gunzip(body, h->rawSize);
    if (!inflated) return Unexpected(inflated.error());
    raw = std::move(*inflated);
  } else {
    raw.assign(body.begin(), body.end());
  }
  if (raw.size() != h->rawSize) return Unexpected(RblError::BadRawSize);
  if (fnv1a32(raw) != h->rawHash) return Unexpected(RblError::BadRawHash);
  return RblUnpacked{std::move(*h), std::move(raw)};
}

}  // namespace fc::rtthread
