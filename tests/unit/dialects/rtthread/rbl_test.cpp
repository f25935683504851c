// .rbl packages (protocols/dialects/rtthread/rbl.hpp): the header byte for byte against one computed
// by hand (Python's struct and zlib.crc32, FNV-1a written out), AES-256-CBC against `openssl enc`,
// gzip and encryption round trips, and every kind of damage refused with its reason.
#include "protocols/dialects/rtthread/rbl.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fc::rtthread {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytesOf(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes fromHex(std::string_view hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

const RblKey kKey{"0123456789abcdef0123456789abcdef", "fedcba9876543210"};

// "hello rbl" as partition "app", version "1.0.0", sn "SN01", timestamp 1700000000, no
// compression or encryption.
constexpr std::string_view kHelloHeader =
    "52424c000000000000f1536561707000000000000000000000000000312e302e3000000000000000000000000000000000000000"
    "534e30310000000000000000000000000000000000000000b7a773553714ebf809000000090000004b762c16";

TEST(Rbl, ChecksumsAsZlibAndFnv1a) {
  const auto raw = bytesOf("hello rbl");
  EXPECT_EQ(crc32(raw), 0x5573a7b7u);
  EXPECT_EQ(fnv1a32(raw), 0xf8eb1437u);
  EXPECT_EQ(fnv1a32({}), 0x811C9DC5u) << "the offset basis";
  EXPECT_EQ(crc32(bytesOf("123456789")), 0xCBF43926u) << "the CRC-32 check value";
}

TEST(Rbl, HeaderByteForByte) {
  const auto raw = bytesOf("hello rbl");
  auto package = packRbl(raw, {"app", "1.0.0", "SN01", 1700000000});
  ASSERT_TRUE(package) << toString(package.error());
  ASSERT_EQ(package->size(), kRblHeaderSize + raw.size());
  EXPECT_EQ(Bytes(package->begin(), package->begin() + kRblHeaderSize), fromHex(kHelloHeader));
  EXPECT_EQ(Bytes(package->begin() + kRblHeaderSize, package->end()), raw);

  auto h = decodeRblHeader(*package);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "app");
  EXPECT_EQ(h->version, "1.0.0");
  EXPECT_EQ(h->sn, "SN01");
  EXPECT_EQ(h->timestamp, 1700000000u);
  EXPECT_EQ(h->rawSize, 9u);
  EXPECT_EQ(h->packageSize, 9u);
  EXPECT_EQ(h->encryption, RblEncryption::None);
  EXPECT_EQ(h->compression, RblCompression::None);
  auto out = unpackRbl(*package);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->raw, raw);
}

TEST(Rbl, AlgorithmBitsAndAesBodyAsOpensslEncMakesIt) {
  const auto raw = bytesOf("hello rbl");
  auto package = packRbl(raw, {"app", "1.0.0", "SN01", 1700000000, RblCompression::None, RblEncryption::Aes256, kKey});
  ASSERT_TRUE(package) << toString(package.error());
  // printf 'hello rbl' | openssl enc -aes-256-cbc -K <hex of the key> -iv <hex of the IV>
  EXPECT_EQ(Bytes(package->begin() + kRblHeaderSize, package->end()), fromHex("9fe3f12638ef08259a35a339da923722"));
  EXPECT_EQ((*package)[4], 0x02) << "encryption in the low nibble";
  EXPECT_EQ(decodeRblHeader(*package)->packageSize, 16u);
  EXPECT_EQ(decodeRblHeader(*package)->rawSize, 9u);

  auto gz = packRbl(raw, {"app", "1.0.0", "", 0, RblCompression::Gzip, RblEncryption::Aes256, kKey});
  ASSERT_TRUE(gz);
  EXPECT_EQ((*gz)[4], 0x02);
  EXPECT_EQ((*gz)[5], 0x01) << "gzip is 0x100";
}

TEST(Rbl, RoundTripsOfEveryImplementedForm) {
  Bytes raw(3 * 4096 + 77);
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<std::uint8_t>((i * 7) ^ (i >> 5));
  for (auto c : {RblCompression::None, RblCompression::Gzip})
    for (auto e : {RblEncryption::None, RblEncryption::Aes256}) {
      auto package = packRbl(raw, {"filesystem", "2.1.0", "SN-0002", 42, c, e, kKey});
      ASSERT_TRUE(package) << toString(c) << "/" << toString(e);
      auto out = unpackRbl(*package, kKey);
      ASSERT_TRUE(out) << toString(out.error());
      EXPECT_EQ(out->raw, raw);
      EXPECT_EQ(out->header.compression, c);
      EXPECT_EQ(out->header.encryption, e);
      if (e == RblEncryption::Aes256) {
        EXPECT_EQ(unpackRbl(*package).error(), RblError::KeyRequired);
        EXPECT_TRUE(verifyRblEnvelope(*package)) << "the envelope needs no key";
        auto wrong = unpackRbl(*package, RblKey{"ffffffffffffffffffffffffffffffff", kKey.iv});
        ASSERT_FALSE(wrong);
        EXPECT_TRUE(wrong.error() == RblError::DecryptFailed || wrong.error() == RblError::DecompressFailed ||
                    wrong.error() == RblError::BadRawSize || wrong.error() == RblError::BadRawHash)
            << toString(wrong.error());
      }
    }
}

TEST(Rbl, DamageIsRefusedWithItsReason) {
  const auto raw = bytesOf("hello rbl");
  const auto good = *packRbl(raw, {"app", "1.0.0", "SN01", 1700000000});

  EXPECT_EQ(decodeRblHeader(Bytes(good.begin(), good.begin() + 95)).error(), RblError::TooShort);
  auto magic = good;
  magic[0] = 'X';
  EXPECT_EQ(unpackRbl(magic).error(), RblError::BadMagic);
  auto header = good;
  header[0x20] ^= 1;  // inside the version
  EXPECT_EQ(unpackRbl(header).error(), RblError::BadHeaderCrc);
  auto body = good;
  body.back() ^= 0x80;
  EXPECT_EQ(unpackRbl(body).error(), RblError::BadBodyCrc);
  auto cut = good;
  cut.pop_back();
  EXPECT_EQ(unpackRbl(cut).error(), RblError::BadBodySize);
  auto longer = good;
  longer.push_back(0);
  EXPECT_EQ(verifyRblEnvelope(longer).error(), RblError::BadBodySize);

  // A header that is consistent with itself but lies about the firmware.
  RblHeader lie = *decodeRblHeader(good);
  lie.rawHash ^= 1;
  auto h = *encodeRblHeader(lie);
  Bytes liar(h.begin(), h.end());
  liar.insert(liar.end(), raw.begin(), raw.end());
  EXPECT_EQ(unpackRbl(liar).error(), RblError::BadRawHash);
  lie = *decodeRblHeader(good);
  lie.rawSize = 8;
  h = *encodeRblHeader(lie);
  liar.assign(h.begin(), h.end());
  liar.insert(liar.end(), raw.begin(), raw.end());
  EXPECT_EQ(unpackRbl(liar).error(), RblError::BadRawSize);
  lie = *decodeRblHeader(good);
  lie.compression = RblCompression::Gzip;
  h = *encodeRblHeader(lie);
  liar.assign(h.begin(), h.end());
  liar.insert(liar.end(), raw.begin(), raw.end());
  EXPECT_EQ(unpackRbl(liar).error(), RblError::DecompressFailed) << "not a gzip stream";

  auto algo = good;
  algo[4] = 0x07;
  EXPECT_EQ(decodeRblHeader(algo).error(), RblError::BadHeaderCrc) << "the CRC covers the algorithm";
  RblHeader unknown = *decodeRblHeader(good);
  auto encoded = *encodeRblHeader(unknown);
  encoded[4] = 0x07;
  const auto crc = crc32(std::span(encoded.data(), 0x5C));
  for (int i = 0; i < 4; ++i) encoded[0x5C + i] = static_cast<std::uint8_t>(crc >> (8 * i));
  EXPECT_EQ(decodeRblHeader(encoded).error(), RblError::BadAlgorithm);
  encoded = *encodeRblHeader(unknown);
  for (std::size_t i = 0x0C; i < 0x1C; ++i) encoded[i] = 'a';  // name without its NUL
  const auto crc2 = crc32(std::span(encoded.data(), 0x5C));
  for (int i = 0; i < 4; ++i) encoded[0x5C + i] = static_cast<std::uint8_t>(crc2 >> (8 * i));
  EXPECT_EQ(decodeRblHeader(encoded).error(), RblError::UnterminatedString);
}

TEST(Rbl, WhatCannotBePackedSaysWhy) {
  const auto raw = bytesOf("x");
  EXPECT_EQ(packRbl(raw, {std::string(16, 'n'), "1", ""}).error(), RblError::FieldTooLong);
  EXPECT_EQ(packRbl(raw, {"app", std::string(24, 'v'), ""}).error(), RblError::FieldTooLong);
  EXPECT_TRUE(packRbl(raw, {std::string(15, 'n'), std::string(23, 'v'), std::string(23, 's')}));
  EXPECT_EQ(packRbl(raw, {"app", "1", "", 0, RblCompression::None, RblEncryption::Aes256}).error(), RblError::KeyRequired);
  EXPECT_EQ(packRbl(raw, {"app", "1", "", 0, RblCompression::None, RblEncryption::Aes256, RblKey{"short", "iv"}}).error(),
            RblError::BadKey);
  EXPECT_EQ(packRbl(raw, {"app", "1", "", 0, RblCompression::QuickLz}).error(), RblError::Unsupported);
  EXPECT_EQ(packRbl(raw, {"app", "1", "", 0, RblCompression::FastLz}).error(), RblError::Unsupported);
  EXPECT_EQ(packRbl(raw, {"app", "1", "", 0, RblCompression::None, RblEncryption::Xor}).error(), RblError::Unsupported);
  EXPECT_EQ(parseCompression("quicklz"), RblCompression::QuickLz);
  EXPECT_EQ(parseEncryption("aes256"), RblEncryption::Aes256);
  EXPECT_FALSE(parseCompression("zip"));
}

TEST(Rbl, EveryPrefixOfAPackageIsRefusedNotThrown) {
  Bytes raw(300, 0x5a);
  const auto package = *packRbl(raw, {"app", "1.0", "", 1, RblCompression::Gzip, RblEncryption::Aes256, kKey});
  for (std::size_t n = 0; n < package.size(); ++n) EXPECT_FALSE(unpackRbl(Bytes(package.begin(), package.begin() + n), kKey));
  EXPECT_TRUE(unpackRbl(package, kKey));
}

}  // namespace
}  // namespace fc::rtthread
