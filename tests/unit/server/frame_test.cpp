// Frame: small packets inline, shared encodings with a packet id spliced over a placeholder.
#include "server/broker/frame.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "protocols/mqtt/codec.hpp"

namespace fc::server::broker {
namespace {

using Wire = std::vector<std::uint8_t>;

std::vector<Wire> piecesOf(const Frame& f) {
  std::vector<Wire> out;
  f.pieces([&out](std::span<const std::uint8_t> p) { out.emplace_back(p.begin(), p.end()); });
  return out;
}

TEST(Frame, AcknowledgementIsOneInlinePiece) {
  const Frame f = Frame::of(mqtt::Puback{0x1234});
  const Wire wire{0x40, 0x02, 0x12, 0x34};  // PUBACK, remaining 2, packet id 0x1234
  EXPECT_EQ(f.size(), 4u);
  EXPECT_EQ(f.bytes(), wire);
  EXPECT_EQ(piecesOf(f), std::vector<Wire>{wire});
}

TEST(Frame, PingrespAndConnackAreInline) {
  EXPECT_EQ(Frame::of(mqtt::Pingresp{}).bytes(), (Wire{0xd0, 0x00}));  // PINGRESP, remaining 0
  EXPECT_EQ(Frame::of(mqtt::Connack{true, mqtt::ConnectReturn::Accepted}).bytes(),
            (Wire{0x20, 0x02, 0x01, 0x00}));  // CONNACK, remaining 2, session present, accepted
}

TEST(Frame, PacketLongerThanTheInlineSpaceIsSharedWhole) {
  const mqtt::Suback suback{7, {0, 1, 2, 0x80, 1, 0, 2}};
  const Frame f = Frame::of(suback);
  EXPECT_EQ(f.bytes(), mqtt::encode(suback).value());
  EXPECT_EQ(f.size(), 11u);
  EXPECT_EQ(piecesOf(f).size(), 1u);
}

TEST(Frame, EmptyFrameHasNoPieces) {
  const Frame f;
  EXPECT_EQ(f.size(), 0u);
  EXPECT_TRUE(piecesOf(f).empty());
}

TEST(Frame, PacketIdIsSplicedOverThePlaceholderInThreePieces) {
  const std::vector<std::uint8_t> payload{'h', 'i'};
  auto shared = std::make_shared<Wire>();
  ASSERT_TRUE(mqtt::encodePublish("a/b", payload, mqtt::QoS::AtLeastOnce, false, false, 0, *shared));
  // 0x32 (PUBLISH, QoS 1), remaining 9, topic length 3, "a/b", packet id 0 (placeholder), "hi"
  ASSERT_EQ(*shared, (Wire{0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x00, 'h', 'i'}));
  const Frame f = Frame::withPacketId(shared, 7, 0xbeef);
  EXPECT_EQ(f.size(), shared->size());
  EXPECT_EQ(f.bytes(), (Wire{0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0xbe, 0xef, 'h', 'i'}));
  EXPECT_EQ(piecesOf(f), (std::vector<Wire>{{0x32, 0x09, 0x00, 0x03, 'a', '/', 'b'}, {0xbe, 0xef}, {'h', 'i'}}));
  // The shared encoding is untouched, so other subscribers' frames splice their own ids.
  EXPECT_EQ((*shared)[7], 0x00);
  EXPECT_EQ(Frame::withPacketId(shared, 7, 1).bytes(),
            mqtt::encode(mqtt::Publish{"a/b", payload, mqtt::QoS::AtLeastOnce, false, false, 1}).value());
}

TEST(Frame, PacketIdAtTheEndLeavesNoEmptyPiece) {
  auto shared = std::make_shared<Wire>();
  ASSERT_TRUE(mqtt::encodePublish("t", {}, mqtt::QoS::ExactlyOnce, false, false, 0, *shared));
  const Frame f = Frame::withPacketId(shared, shared->size() - 2, 9);
  EXPECT_EQ(f.bytes(), mqtt::encode(mqtt::Publish{"t", {}, mqtt::QoS::ExactlyOnce, false, false, 9}).value());
  EXPECT_EQ(piecesOf(f).size(), 2u);
}

}  // namespace
}  // namespace fc::server::broker
