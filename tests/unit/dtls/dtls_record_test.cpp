#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "dtls/record.hpp"

namespace {

using fc::dtls::inspectRecords;
using fc::dtls::parseClientHello;
using fc::dtls::plaintextAlert;

// A minimal DTLS 1.2 ClientHello in one record, with a 4-byte cookie (RFC 6347 §4.1, §4.2.2, §4.2.1).
std::vector<std::uint8_t> clientHello() {
  std::vector<std::uint8_t> hello{
      0xFE, 0xFD,  // client_version DTLS 1.2
  };
  for (std::uint8_t i = 0; i < 32; ++i) hello.push_back(i);  // random 00 01 … 1F
  hello.insert(hello.end(), {
                                0x00,                    // session_id: empty
                                0x04, 0xC0, 0x0C, 0x1E, 0x55,  // cookie: 4 bytes C0 0C 1E 55
                                0x00, 0x02, 0xC0, 0xA8,  // cipher_suites: TLS_PSK_WITH_AES_128_CCM_8
                                0x01, 0x00,              // compression_methods: null
                            });
  const auto n = static_cast<std::uint8_t>(hello.size());  // 45
  std::vector<std::uint8_t> wire{
      0x16,                                // ContentType handshake
      0xFE, 0xFD,                          // ProtocolVersion DTLS 1.2
      0x00, 0x00,                          // epoch 0
      0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // sequence_number 1
      0x00, static_cast<std::uint8_t>(n + 12),  // length: handshake header + body
      0x01,                                // msg_type client_hello
      0x00, 0x00, n,                       // length
      0x00, 0x01,                          // message_seq 1 (after a HelloVerifyRequest)
      0x00, 0x00, 0x00,                    // fragment_offset 0
      0x00, 0x00, n,                       // fragment_length = length
  };
  for (const auto b : hello) wire.push_back(b);  // not insert(): g++ 12 warns falsely (-Warray-bounds)
  return wire;
}

TEST(DtlsRecord, InspectsClientHelloHeader) {
  const auto wire = clientHello();
  const auto records = inspectRecords(wire);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].contentType, 22);
  EXPECT_EQ(records[0].version, 0xFEFD);
  EXPECT_EQ(records[0].epoch, 0);
  EXPECT_EQ(records[0].sequence, 1u);
  EXPECT_EQ(records[0].length, wire.size() - 13);
  EXPECT_EQ(records[0].handshakeType, std::optional<std::uint8_t>(1));
}

TEST(DtlsRecord, ParsesClientHelloCookieAndRandom) {
  const auto hello = parseClientHello(clientHello());
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->cookie, (std::vector<std::uint8_t>{0xC0, 0x0C, 0x1E, 0x55}));
  for (std::uint8_t i = 0; i < 32; ++i) EXPECT_EQ(hello->random[i], i);
}

TEST(DtlsRecord, EveryStrictPrefixOfClientHelloIsRejected) {
  const auto wire = clientHello();
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_FALSE(parseClientHello(std::span(wire).first(n))) << "prefix " << n;
    EXPECT_TRUE(inspectRecords(std::span(wire).first(n)).empty()) << "prefix " << n;
  }
}

TEST(DtlsRecord, SeveralRecordsInOneDatagram) {
  // ChangeCipherSpec (epoch 0, seq 5) followed by an encrypted handshake record (epoch 1, seq 0).
  const std::vector<std::uint8_t> wire{
      0x14, 0xFE, 0xFD, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x01,  // CCS header, length 1
      0x01,                                                                          // change_cipher_spec
      0x16, 0xFE, 0xFD, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // handshake, epoch 1
      0xAA, 0xBB, 0xCC,                                                              // ciphertext
      0x17, 0xFE,                                                                    // a truncated third record
  };
  const auto records = inspectRecords(wire);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].contentType, 20);
  EXPECT_EQ(records[0].sequence, 5u);
  EXPECT_FALSE(records[0].handshakeType);
  EXPECT_EQ(records[1].epoch, 1);
  EXPECT_FALSE(records[1].handshakeType) << "encrypted handshake type is not readable";
  EXPECT_FALSE(parseClientHello(wire));
}

TEST(DtlsRecord, MalformedInputs) {
  const std::vector<std::vector<std::uint8_t>> cases{
      {},
      {0x16},
      {0x63, 0xFE, 0xFD, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // unknown content type
      {0x16, 0xFE, 0xFD, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x01},  // length past end
  };
  for (const auto& c : cases) {
    EXPECT_TRUE(inspectRecords(c).empty());
    EXPECT_FALSE(parseClientHello(c));
  }
  // A fragmented ClientHello (fragment_length < length) carries no checkable cookie.
  auto fragmented = clientHello();
  fragmented[13 + 11] -= 1;
  EXPECT_FALSE(parseClientHello(fragmented));
  // A cookie length running past the body.
  auto longCookie = clientHello();
  longCookie[13 + 12 + 2 + 32 + 1] = 0x40;
  EXPECT_FALSE(parseClientHello(longCookie));
}

TEST(DtlsRecord, PlaintextAlertGoldenBytes) {
  const std::vector<std::uint8_t> expected{
      0x15,                                // ContentType alert
      0xFE, 0xFD,                          // DTLS 1.2
      0x00, 0x00,                          // epoch 0
      0x00, 0x00, 0x01, 0x02, 0x03, 0x04,  // sequence_number
      0x00, 0x02,                          // length
      0x02,                                // AlertLevel fatal
      0x14,                                // bad_record_mac (20)
  };
  EXPECT_EQ(plaintextAlert(20, 0x01020304), expected);
}

}  // namespace
