// Record and handshake header parsing (RFC 6347 §4.1, §4.2.2): bounds-checked, no allocation
// beyond the result, nothing decrypted.
#include "dtls/record.hpp"

#include <algorithm>

namespace fc::dtls {
namespace {

std::uint64_t readBe(std::span<const std::uint8_t> in, std::size_t offset, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | in[offset + i];
  return v;
}

constexpr std::size_t kHandshakeHeaderSize = 12;  // msg_type, length(3), message_seq(2), offset(3), frag len(3)

}  // namespace

std::vector<RecordHeader> inspectRecords(std::span<const std::uint8_t> datagram) {
  std::vector<RecordHeader> out;
  std::size_t pos = 0;
  while (datagram.size() - pos >= kRecordHeaderSize) {
    const auto rec = datagram.subspan(pos);
    RecordHeader h;
    h.contentType = rec[0];
    if (h.contentType < 20 || h.contentType > 23) break;
    h.version = static_cast<std::uint16_t>(readBe(rec, 1, 2));
    h.epoch = static_cast<std::uint16_t>(readBe(rec, 3, 2));
    h.sequence = readBe(rec, 5, 6);
    h.length = static_cast<std::uint16_t>(readBe(rec, 11, 2));
    if (rec.size() - kRecordHeaderSize < h.length) break;
    if (h.contentType == static_cast<std::uint8_t>(ContentType::Handshake) && h.epoch == 0 && h.length >= 1)
      h.handshakeType = rec[kRecordHeaderSize];
    out.push_back(h);
    pos += kRecordHeaderSize + h.length;
  }
  return out;
}

std::optional<ClientHello> parseClientHello(std::span<const std::uint8_t> datagram) {
  const auto records = inspectRecords(datagram);
  if (records.empty()) return std::nullopt;
  const RecordHeader& h = records.front();
  if (h.handshakeType != static_cast<std::uint8_t>(HandshakeType::ClientHello)) return std::nullopt;
  const auto body = datagram.subspan(kRecordHeaderSize, h.length);
  if (body.size() < kHandshakeHeaderSize) return std::nullopt;
  const auto length = readBe(body, 1, 3);
  const auto fragmentOffset = readBe(body, 6, 3);
  const auto fragmentLength = readBe(body, 9, 3);
  // Only a whole ClientHello in one record can carry a cookie we can check (§4.2.1 wants the
  // cookie exchange stateless, so there is no reassembly buffer to fall back on).
  if (fragmentOffset != 0 || fragmentLength != length || body.size() - kHandshakeHeaderSize < length)
    return std::nullopt;
  const auto hello = body.subspan(kHandshakeHeaderSize, length);
  std::size_t pos = 2 + 32;  // client_version, random
  if (hello.size() < pos + 1) return std::nullopt;
  ClientHello out;
  std::copy_n(hello.begin() + 2, out.random.size(), out.random.begin());
  pos += 1 + hello[pos];  // session_id<0..32>
  if (hello.size() < pos + 1) return std::nullopt;
  const std::size_t cookieLength = hello[pos];
  if (hello.size() < pos + 1 + cookieLength) return std::nullopt;
  const auto cookie = hello.subspan(pos + 1, cookieLength);
  out.cookie.assign(cookie.begin(), cookie.end());
  return out;
}

std::vector<std::uint8_t> plaintextAlert(std::uint8_t description, std::uint64_t sequence) {
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(ContentType::Alert), 0xFE, 0xFD, 0x00, 0x00};
  for (int shift = 40; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(sequence >> shift));
  out.insert(out.end(), {0x00, 0x02, 0x02 /* fatal */, description});
  return out;
}

}  // namespace fc::dtls
