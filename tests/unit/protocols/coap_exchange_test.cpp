// CoAP message layer (RFC 7252 §4): retransmission schedule, ACK/RST matching, duplicate
// detection with replayed responses, lifetimes, rejections, ids and tokens. Time is simulated:
// every call takes `now`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "protocols/coap/exchange.hpp"

namespace {

namespace coap = fc::coap;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using coap::Action;
using coap::DiscardReason;
using coap::TimePoint;
using coap::Type;

const TimePoint kT0 = TimePoint{} + 1000s;
const coap::PeerKey kDevice = "192.0.2.1:5683";
const coap::PeerKey kOther = "192.0.2.2:5683";

template <class T>
std::vector<T> all(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions) {
    if (const auto* t = std::get_if<T>(&a)) out.push_back(*t);
  }
  return out;
}

template <class T>
T only(const std::vector<Action>& actions) {
  EXPECT_EQ(actions.size(), 1u);
  auto found = all<T>(actions);
  if (found.size() != 1) {
    ADD_FAILURE() << "expected exactly one action of the type, got " << found.size() << " of "
                  << actions.size();
    return T{};
  }
  return found.front();
}

coap::Message request(Type type, std::uint16_t mid, Bytes token = {0xA1, 0xB2}) {
  coap::Message m{.type = type, .code = coap::code::kGet, .messageId = mid, .token = std::move(token)};
  m.setUriPath("19/0/0");
  return m;
}

coap::Message emptyOf(Type type, std::uint16_t mid) {
  return coap::Message{.type = type, .code = coap::code::kEmpty, .messageId = mid};
}

coap::MessageLayer layer(std::uint64_t seed = 42, coap::TransmissionParams params = {}) {
  return coap::MessageLayer(params, std::mt19937_64(seed));
}

// ---- parameters ----

TEST(CoapExchangeParams, DerivedTimesMatchRfc7252Section4_8_2) {
  const coap::TransmissionParams p;
  EXPECT_EQ(p.ackTimeout, 2s);
  EXPECT_DOUBLE_EQ(p.ackRandomFactor, 1.5);
  EXPECT_EQ(p.maxRetransmit, 4u);
  EXPECT_EQ(p.maxTransmitSpan(), 45s);
  EXPECT_EQ(p.maxTransmitWait(), 93s);
  EXPECT_EQ(p.exchangeLifetime(), 247s);
  EXPECT_EQ(p.nonLifetime(), 145s);
}

// ---- retransmission (§4.2) ----

// Issue 13 §3: a message the wire cannot represent (here a 9-byte token) is not sent at all, nor
// retransmitted, rather than sent with a reserved token length.
TEST(CoapExchangeSend, AMessageThatCannotBeEncodedIsNotSent) {
  auto ml = layer();
  auto con = request(Type::Confirmable, 0x0102);
  con.token = Bytes(9, 0x01);
  EXPECT_TRUE(ml.send(kDevice, con, kT0).empty());
  EXPECT_EQ(ml.outstanding(), 0u);
  EXPECT_FALSE(ml.nextDeadline());
}

TEST(CoapExchangeRetransmit, ScheduleDoublesAndGivesUpAfterFourRetransmits) {
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x0101);
  const Bytes wire = coap::encode(con).value();
  const auto sent = only<coap::SendDatagram>(ml.send(kDevice, con, kT0));
  EXPECT_EQ(sent, (coap::SendDatagram{kDevice, wire}));
  ASSERT_TRUE(ml.nextDeadline());
  const auto first = *ml.nextDeadline() - kT0;
  EXPECT_GE(first, 2s);  // ACK_TIMEOUT
  EXPECT_LE(first, 3s);  // ACK_TIMEOUT · ACK_RANDOM_FACTOR

  TimePoint now = kT0;
  auto timeout = first;
  for (int retransmit = 1; retransmit <= 4; ++retransmit) {
    EXPECT_TRUE(ml.poll(now + timeout - 1ns).empty()) << "retransmit " << retransmit;
    now += timeout;
    EXPECT_EQ(ml.nextDeadline(), now);
    const auto again = only<coap::SendDatagram>(ml.poll(now));
    EXPECT_EQ(again.bytes, wire) << "retransmit " << retransmit;
    timeout *= 2;
    ASSERT_TRUE(ml.nextDeadline());
    EXPECT_EQ(*ml.nextDeadline() - now, timeout) << "retransmit " << retransmit;
  }
  // After the 4th retransmission the 16·T timeout runs out: 31·T after the first send.
  EXPECT_TRUE(ml.poll(now + timeout - 1ns).empty());
  now += timeout;
  EXPECT_EQ(now - kT0, 31 * first);
  EXPECT_LE(now - kT0, coap::TransmissionParams{}.maxTransmitWait());
  const auto gaveUp = only<coap::GaveUp>(ml.poll(now));
  EXPECT_EQ(gaveUp, (coap::GaveUp{kDevice, 0x0101, {0xA1, 0xB2}}));
  EXPECT_EQ(ml.outstanding(), 0u);
  EXPECT_EQ(ml.nextDeadline(), std::nullopt);
  EXPECT_TRUE(ml.poll(now + 1h).empty());
}

TEST(CoapExchangeRetransmit, InitialTimeoutsAreRandomWithinTwoToThreeSeconds) {
  auto ml = layer(7);
  std::vector<coap::Duration> timeouts;
  for (std::uint16_t mid = 0; mid < 300; ++mid) {
    (void)ml.send(kDevice, request(Type::Confirmable, mid), kT0);
  }
  // Read each timeout by acknowledging in deadline order.
  while (auto deadline = ml.nextDeadline()) {
    timeouts.push_back(*deadline - kT0);
    const auto retransmit = only<coap::SendDatagram>(ml.poll(*deadline));
    const auto mid = coap::peekHeader(retransmit.bytes)->messageId;
    (void)ml.onDatagram(kDevice, coap::encode(emptyOf(Type::Acknowledgement, mid)).value(), *deadline);
  }
  ASSERT_EQ(timeouts.size(), 300u);
  const auto [lo, hi] = std::minmax_element(timeouts.begin(), timeouts.end());
  EXPECT_GE(*lo, 2s);
  EXPECT_LE(*hi, 3s);
  EXPECT_GT(*hi - *lo, 800ms);  // spread over the interval, not a constant
}

TEST(CoapExchangeRetransmit, ParametersAreConfigurable) {
  coap::TransmissionParams p;
  p.ackTimeout = 1s;
  p.ackRandomFactor = 1.0;  // no randomness: exact schedule
  p.maxRetransmit = 2;
  EXPECT_EQ(p.maxTransmitSpan(), 3s);
  EXPECT_EQ(p.maxTransmitWait(), 7s);
  auto ml = layer(1, p);
  (void)ml.send(kDevice, request(Type::Confirmable, 5), kT0);
  EXPECT_EQ(ml.nextDeadline(), kT0 + 1s);
  EXPECT_EQ(all<coap::SendDatagram>(ml.poll(kT0 + 1s)).size(), 1u);
  EXPECT_EQ(ml.nextDeadline(), kT0 + 3s);
  EXPECT_EQ(all<coap::SendDatagram>(ml.poll(kT0 + 3s)).size(), 1u);
  EXPECT_EQ(ml.nextDeadline(), kT0 + 7s);
  EXPECT_EQ(all<coap::GaveUp>(ml.poll(kT0 + 7s)).size(), 1u);
}

TEST(CoapExchangeRetransmit, SameSeedSameSchedule) {
  auto a = layer(99);
  auto b = layer(99);
  EXPECT_EQ(a.nextMessageId(), b.nextMessageId());
  (void)a.send(kDevice, request(Type::Confirmable, 1), kT0);
  (void)b.send(kDevice, request(Type::Confirmable, 1), kT0);
  EXPECT_EQ(a.nextDeadline(), b.nextDeadline());
  auto c = layer(100);
  (void)c.send(kDevice, request(Type::Confirmable, 1), kT0);
  EXPECT_NE(a.nextDeadline(), c.nextDeadline());
}

TEST(CoapExchangeRetransmit, LatePollCountsTheNextTimeoutFromNow) {
  coap::TransmissionParams p;
  p.ackRandomFactor = 1.0;
  auto ml = layer(1, p);
  (void)ml.send(kDevice, request(Type::Confirmable, 5), kT0);
  const TimePoint late = kT0 + 10s;  // the timer fired 8 s late
  EXPECT_EQ(all<coap::SendDatagram>(ml.poll(late)).size(), 1u);
  EXPECT_EQ(ml.nextDeadline(), late + 4s);
}

TEST(CoapExchangeRetransmit, DueActionsComeInDeadlineOrder) {
  coap::TransmissionParams p;
  p.ackRandomFactor = 1.0;
  auto ml = layer(1, p);
  (void)ml.send(kOther, request(Type::Confirmable, 2), kT0 + 500ms);
  (void)ml.send(kDevice, request(Type::Confirmable, 1), kT0);
  const auto due = all<coap::SendDatagram>(ml.poll(kT0 + 5s));
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].peer, kDevice);
  EXPECT_EQ(due[1].peer, kOther);
}

TEST(CoapExchangeRetransmit, ResendingTheSameIdReplacesTheOutstandingCon) {
  auto ml = layer();
  (void)ml.send(kDevice, request(Type::Confirmable, 9, {1}), kT0);
  (void)ml.send(kDevice, request(Type::Confirmable, 9, {2}), kT0 + 1s);
  EXPECT_EQ(ml.outstanding(), 1u);
  const auto ack = only<coap::Acknowledged>(
      ml.onDatagram(kDevice, coap::encode(emptyOf(Type::Acknowledgement, 9)).value(), kT0 + 1500ms));
  EXPECT_EQ(ack.token, Bytes{2});
}

TEST(CoapExchangeRetransmit, CancelStopsSilently) {
  auto ml = layer();
  (void)ml.send(kDevice, request(Type::Confirmable, 3), kT0);
  EXPECT_EQ(ml.outstanding(kDevice), 1u);
  EXPECT_EQ(ml.outstanding(kOther), 0u);
  EXPECT_TRUE(ml.cancel(kDevice, 3));
  EXPECT_FALSE(ml.cancel(kDevice, 3));
  EXPECT_EQ(ml.outstanding(), 0u);
  EXPECT_TRUE(ml.poll(kT0 + 1h).empty());
}

// ---- ACK and RST matching (§4.2, §4.3) ----

TEST(CoapExchangeMatch, PiggybackedAckStopsRetransmission) {
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x1234);
  (void)ml.send(kDevice, con, kT0);
  coap::Message ack{.type = Type::Acknowledgement, .code = coap::code::kContent, .messageId = 0x1234,
                    .token = con.token};
  ack.setPayload("21.5");
  const auto acked = only<coap::Acknowledged>(ml.onDatagram(kDevice, coap::encode(ack).value(), kT0 + 1s));
  EXPECT_EQ(acked, (coap::Acknowledged{kDevice, 0x1234, con.token, ack}));
  EXPECT_EQ(ml.outstanding(), 0u);
  EXPECT_EQ(ml.nextDeadline(), std::nullopt);
  EXPECT_TRUE(ml.poll(kT0 + 1h).empty());
  // A second copy of the ACK matches nothing any more.
  const auto late = only<coap::Discarded>(ml.onDatagram(kDevice, coap::encode(ack).value(), kT0 + 2s));
  EXPECT_EQ(late.reason, DiscardReason::Unmatched);
}

TEST(CoapExchangeMatch, EmptyAckThenSeparateResponse) {
  // Client side of §5.2.2: Empty ACK, then the response as a CON that the client acknowledges.
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x0200, {0x77});
  (void)ml.send(kDevice, con, kT0);
  const auto acked = only<coap::Acknowledged>(
      ml.onDatagram(kDevice, coap::encode(emptyOf(Type::Acknowledgement, 0x0200)).value(), kT0));
  EXPECT_TRUE(acked.ack.code.isEmpty());
  EXPECT_EQ(acked.token, Bytes{0x77});

  coap::Message separate{.type = Type::Confirmable, .code = coap::code::kContent, .messageId = 0x9000, .token = {0x77}};
  const Bytes separateWire = coap::encode(separate).value();
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, separateWire, kT0 + 1s));
  EXPECT_EQ(delivered.message, separate);
  const auto ackSent = only<coap::SendDatagram>(ml.acknowledge(kDevice, delivered.message, kT0 + 1s));
  EXPECT_EQ(ackSent.bytes, (Bytes{0x60, 0x00, 0x90, 0x00}));  // ACK, Empty, message id 0x9000
  // The server did not get the ACK and retransmits: the same ACK is replayed.
  const auto dup = ml.onDatagram(kDevice, separateWire, kT0 + 3s);
  ASSERT_EQ(dup.size(), 2u);
  EXPECT_EQ(std::get<coap::SendDatagram>(dup[0]).bytes, ackSent.bytes);
  EXPECT_EQ(std::get<coap::Discarded>(dup[1]).reason, DiscardReason::Duplicate);
}

TEST(CoapExchangeMatch, ResetIsReported) {
  auto ml = layer();
  (void)ml.send(kDevice, request(Type::Confirmable, 0x0300, {0x01, 0x02}), kT0);
  const auto rst = only<coap::ResetReceived>(ml.onDatagram(kDevice, Bytes{0x70, 0x00, 0x03, 0x00}, kT0 + 1s));
  EXPECT_EQ(rst, (coap::ResetReceived{kDevice, 0x0300, {0x01, 0x02}}));
  EXPECT_EQ(ml.outstanding(), 0u);
  EXPECT_TRUE(ml.poll(kT0 + 1h).empty());
}

TEST(CoapExchangeMatch, ResetToANonIsReportedWithinNonLifetime) {
  // RFC 7641 §3.6: a client rejects an unwanted NON notification with RST.
  auto ml = layer();
  coap::Message note{.type = Type::NonConfirmable, .code = coap::code::kContent, .messageId = 0x0400,
                     .token = {0x7A}};
  note.setUint(coap::option::kObserve, 12);
  (void)ml.send(kDevice, note, kT0);
  EXPECT_EQ(ml.outstanding(), 0u);  // NONs are not retransmitted
  EXPECT_EQ(ml.nextDeadline(), std::nullopt);
  const auto rst = only<coap::ResetReceived>(ml.onDatagram(kDevice, Bytes{0x70, 0x00, 0x04, 0x00}, kT0 + 1s));
  EXPECT_EQ(rst.token, Bytes{0x7A});

  (void)ml.send(kDevice, coap::Message{.type = Type::NonConfirmable, .code = coap::code::kContent,
                                       .messageId = 0x0401, .token = {0x7A}},
                kT0);
  const auto lifetime = coap::TransmissionParams{}.nonLifetime();
  const auto late = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x70, 0x00, 0x04, 0x01}, kT0 + lifetime));
  EXPECT_EQ(late.reason, DiscardReason::Unmatched);
}

TEST(CoapExchangeMatch, AckFromAnotherPeerDoesNotMatch) {
  auto ml = layer();
  (void)ml.send(kDevice, request(Type::Confirmable, 0x0500), kT0);
  const auto d = only<coap::Discarded>(ml.onDatagram(kOther, Bytes{0x60, 0x00, 0x05, 0x00}, kT0));
  EXPECT_EQ(d.reason, DiscardReason::Unmatched);
  EXPECT_EQ(d.peer, kOther);
  EXPECT_EQ(ml.outstanding(), 1u);
}

TEST(CoapExchangeMatch, AckCarryingARequestAndNonEmptyResetAreIgnored) {
  auto ml = layer();
  (void)ml.send(kDevice, request(Type::Confirmable, 0x0600), kT0);
  // §4.2: ACK with a request code (0.01 GET) — silently ignored; the CON stays outstanding.
  const auto ack = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x60, 0x01, 0x06, 0x00}, kT0));
  EXPECT_EQ(ack.reason, DiscardReason::RejectedAck);
  // ACK with a reserved class (7.00).
  const auto reserved = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x60, 0xE0, 0x06, 0x00}, kT0));
  EXPECT_EQ(reserved.reason, DiscardReason::RejectedAck);
  // §4.2: an RST that is not Empty (2.05) — silently ignored.
  const auto rst = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x70, 0x45, 0x06, 0x00}, kT0));
  EXPECT_EQ(rst.reason, DiscardReason::RejectedReset);
  EXPECT_EQ(ml.outstanding(), 1u);
  // Nothing is ever sent back for an ACK or RST.
  EXPECT_TRUE(all<coap::SendDatagram>(ml.onDatagram(kDevice, Bytes{0x60, 0x01, 0x06, 0x00}, kT0)).empty());
}

TEST(CoapExchangeMatch, UnmatchedAckAndReset) {
  auto ml = layer();
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x60, 0x00, 0x00, 0x01}, kT0)).reason,
            DiscardReason::Unmatched);
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x70, 0x00, 0x00, 0x01}, kT0)).reason,
            DiscardReason::Unmatched);
}

// ---- server side: delivery, responses, duplicates (§4.5, §5.2) ----

TEST(CoapExchangeServer, PiggybackedResponseIsTheGoldenAck) {
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x1234, {0xA1, 0xB2});
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, coap::encode(con).value(), kT0));
  EXPECT_EQ(delivered, (coap::DeliverMessage{kDevice, con}));
  coap::Message response{.code = coap::code::kContent};
  response.setUint(coap::option::kContentFormat, coap::format::kJson);
  response.setPayload(R"({"token":"T1"})");
  const auto sent = only<coap::SendDatagram>(ml.respond(kDevice, delivered.message, response, kT0));
  const Bytes expected{
      0x62,                                         // ACK, TKL 2
      0x45,                                         // 2.05 Content
      0x12, 0x34,                                   // the request's message id
      0xA1, 0xB2,                                   // the request's token
      0xC1, 0x32,                                   // Content-Format 50
      0xFF,                                         // payload marker
      '{', '"', 't', 'o', 'k', 'e', 'n', '"', ':',  // {"token":
      '"', 'T', '1', '"', '}',                      // "T1"}
  };
  EXPECT_EQ(sent.bytes, expected);
  EXPECT_EQ(ml.outstanding(), 0u);  // an ACK is never retransmitted
}

TEST(CoapExchangeServer, DuplicateConReplaysTheCachedResponse) {
  auto ml = layer();
  const Bytes wire = coap::encode(request(Type::Confirmable, 0x0042)).value();
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0));
  const auto response = only<coap::SendDatagram>(
      ml.respond(kDevice, delivered.message, coap::Message{.code = coap::code::kChanged}, kT0));
  for (int copy = 1; copy <= 4; ++copy) {  // the device retransmits because our ACK was lost
    const auto actions = ml.onDatagram(kDevice, wire, kT0 + copy * 2s);
    ASSERT_EQ(actions.size(), 2u) << copy;
    EXPECT_EQ(std::get<coap::SendDatagram>(actions[0]), response) << copy;
    const auto& d = std::get<coap::Discarded>(actions[1]);
    EXPECT_EQ(d.reason, DiscardReason::Duplicate);
    ASSERT_TRUE(d.header);
    EXPECT_EQ(d.header->messageId, 0x0042);
    EXPECT_TRUE(all<coap::DeliverMessage>(actions).empty());
  }
}

TEST(CoapExchangeServer, DuplicateBeforeTheResponseIsDroppedQuietly) {
  auto ml = layer();
  const Bytes wire = coap::encode(request(Type::Confirmable, 0x0043)).value();
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0));
  const auto dup = only<coap::Discarded>(ml.onDatagram(kDevice, wire, kT0 + 2s));
  EXPECT_EQ(dup.reason, DiscardReason::Duplicate);
  const auto response = only<coap::SendDatagram>(
      ml.respond(kDevice, delivered.message, coap::Message{.code = coap::code::kContent}, kT0 + 3s));
  const auto replay = ml.onDatagram(kDevice, wire, kT0 + 6s);
  ASSERT_EQ(all<coap::SendDatagram>(replay).size(), 1u);
  EXPECT_EQ(all<coap::SendDatagram>(replay)[0], response);
}

TEST(CoapExchangeServer, MessageIdsAreScopedPerPeer) {
  auto ml = layer();
  const Bytes wire = coap::encode(request(Type::Confirmable, 0x0044)).value();
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0)).size(), 1u);
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kOther, wire, kT0)).size(), 1u);
  EXPECT_EQ(ml.remembered(), 2u);
}

TEST(CoapExchangeServer, ConRecordsExpireAfterExchangeLifetime) {
  auto ml = layer();
  const Bytes wire = coap::encode(request(Type::Confirmable, 0x0045)).value();
  (void)ml.onDatagram(kDevice, wire, kT0);
  const auto lifetime = coap::TransmissionParams{}.exchangeLifetime();  // 247 s
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, wire, kT0 + lifetime - 1ns)).reason,
            DiscardReason::Duplicate);
  EXPECT_EQ(ml.remembered(), 1u);
  EXPECT_TRUE(ml.poll(kT0 + lifetime).empty());
  EXPECT_EQ(ml.remembered(), 0u);
  // The id may now be reused by the peer for a new message (§4.4).
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0 + lifetime)).size(), 1u);
}

TEST(CoapExchangeServer, NonRecordsExpireAfterNonLifetime) {
  auto ml = layer();
  const Bytes non = coap::encode(request(Type::NonConfirmable, 0x0046)).value();
  const Bytes con = coap::encode(request(Type::Confirmable, 0x0047)).value();
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kDevice, non, kT0)).size(), 1u);
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kDevice, con, kT0)).size(), 1u);
  // §4.5: a duplicate NON is silently ignored — nothing is sent.
  const auto dup = ml.onDatagram(kDevice, non, kT0 + 1s);
  EXPECT_EQ(only<coap::Discarded>(dup).reason, DiscardReason::Duplicate);
  const auto nonLifetime = coap::TransmissionParams{}.nonLifetime();  // 145 s
  EXPECT_EQ(all<coap::DeliverMessage>(ml.onDatagram(kDevice, non, kT0 + nonLifetime)).size(), 1u);
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, con, kT0 + nonLifetime)).reason,
            DiscardReason::Duplicate);
}

TEST(CoapExchangeServer, NonRequestGetsANonResponse) {
  // §5.2.3: new message id, same token; an RST to it is reported.
  auto ml = layer(5);
  const auto non = request(Type::NonConfirmable, 0x0050, {0x0F});
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, coap::encode(non).value(), kT0));
  const auto sent = only<coap::SendDatagram>(
      ml.respond(kDevice, delivered.message, coap::Message{.code = coap::code::kContent}, kT0));
  auto response = coap::decode(sent.bytes);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->type, Type::NonConfirmable);
  EXPECT_EQ(response->token, Bytes{0x0F});
  EXPECT_EQ(ml.outstanding(), 0u);
  const Bytes rst{0x70, 0x00, static_cast<std::uint8_t>(response->messageId >> 8),
                  static_cast<std::uint8_t>(response->messageId & 0xFF)};
  EXPECT_EQ(only<coap::ResetReceived>(ml.onDatagram(kDevice, rst, kT0 + 1s)).token, Bytes{0x0F});
}

TEST(CoapExchangeServer, SeparateResponseAfterEmptyAck) {
  // §5.2.2: Empty ACK now, the response later as a CON that is retransmitted until ACKed.
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x0060, {0x44});
  const Bytes wire = coap::encode(con).value();
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0));
  const auto emptyAck = only<coap::SendDatagram>(ml.acknowledge(kDevice, delivered.message, kT0));
  EXPECT_EQ(emptyAck.bytes, (Bytes{0x60, 0x00, 0x00, 0x60}));
  EXPECT_TRUE(ml.acknowledge(kDevice, delivered.message, kT0).empty());  // only once
  // A retransmitted request gets the Empty ACK again.
  EXPECT_EQ(all<coap::SendDatagram>(ml.onDatagram(kDevice, wire, kT0 + 2s))[0], emptyAck);

  coap::Message response{.code = coap::code::kContent};
  response.setPayload("late");
  const auto sent = only<coap::SendDatagram>(ml.respond(kDevice, delivered.message, response, kT0 + 5s));
  auto separate = coap::decode(sent.bytes);
  ASSERT_TRUE(separate);
  EXPECT_EQ(separate->type, Type::Confirmable);
  EXPECT_NE(separate->messageId, 0x0060);
  EXPECT_EQ(separate->token, Bytes{0x44});
  EXPECT_EQ(separate->payloadText(), "late");
  EXPECT_EQ(ml.outstanding(kDevice), 1u);
  const Bytes ack{0x60, 0x00, static_cast<std::uint8_t>(separate->messageId >> 8),
                  static_cast<std::uint8_t>(separate->messageId & 0xFF)};
  const auto acked = only<coap::Acknowledged>(ml.onDatagram(kDevice, ack, kT0 + 6s));
  EXPECT_EQ(acked.token, Bytes{0x44});
  EXPECT_EQ(ml.outstanding(), 0u);
}

TEST(CoapExchangeServer, AnsweredOnlyOnce) {
  auto ml = layer();
  const auto con = request(Type::Confirmable, 0x0070);
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, coap::encode(con).value(), kT0));
  EXPECT_EQ(ml.respond(kDevice, delivered.message, coap::Message{.code = coap::code::kContent}, kT0).size(), 1u);
  EXPECT_TRUE(ml.respond(kDevice, delivered.message, coap::Message{.code = coap::code::kContent}, kT0).empty());
  EXPECT_TRUE(ml.reject(kDevice, delivered.message, kT0).empty());
  EXPECT_TRUE(ml.acknowledge(kDevice, delivered.message, kT0).empty());
  // Answering an ACK or RST makes no sense and sends nothing.
  EXPECT_TRUE(ml.respond(kDevice, emptyOf(Type::Acknowledgement, 1), coap::Message{}, kT0).empty());
  EXPECT_TRUE(ml.reject(kDevice, emptyOf(Type::Reset, 1), kT0).empty());
}

TEST(CoapExchangeServer, RejectSendsRstAndReplaysIt) {
  auto ml = layer();
  const Bytes wire = coap::encode(request(Type::Confirmable, 0x0080)).value();
  const auto delivered = only<coap::DeliverMessage>(ml.onDatagram(kDevice, wire, kT0));
  const auto rst = only<coap::SendDatagram>(ml.reject(kDevice, delivered.message, kT0));
  EXPECT_EQ(rst.bytes, (Bytes{0x70, 0x00, 0x00, 0x80}));
  EXPECT_EQ(all<coap::SendDatagram>(ml.onDatagram(kDevice, wire, kT0 + 2s))[0], rst);
  // A NON may be rejected too (§4.3), e.g. an unwanted notification.
  const auto non = request(Type::NonConfirmable, 0x0081);
  (void)ml.onDatagram(kDevice, coap::encode(non).value(), kT0);
  EXPECT_EQ(only<coap::SendDatagram>(ml.reject(kDevice, non, kT0)).bytes, (Bytes{0x70, 0x00, 0x00, 0x81}));
}

// ---- rejections (§3, §4.2, §4.3) ----

TEST(CoapExchangeReject, EmptyConIsAPingAnsweredWithRst) {
  auto ml = layer();
  const Bytes ping{0x40, 0x00, 0x12, 0x34};
  const auto actions = ml.onDatagram(kDevice, ping, kT0);
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(std::get<coap::SendDatagram>(actions[0]).bytes, (Bytes{0x70, 0x00, 0x12, 0x34}));
  EXPECT_EQ(std::get<coap::Discarded>(actions[1]).reason, DiscardReason::EmptyMessage);
  // A repeated ping gets the same RST.
  EXPECT_EQ(all<coap::SendDatagram>(ml.onDatagram(kDevice, ping, kT0 + 1s))[0].bytes, (Bytes{0x70, 0x00, 0x12, 0x34}));
  // An Empty NON is just ignored (§4.3).
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x50, 0x00, 0x00, 0x01}, kT0)).reason,
            DiscardReason::EmptyMessage);
}

TEST(CoapExchangeReject, ReservedClassConGetsRstNonIsIgnored) {
  auto ml = layer();
  const auto con = ml.onDatagram(kDevice, Bytes{0x40, 0xC1, 0x00, 0x02}, kT0);  // CON 6.01
  ASSERT_EQ(con.size(), 2u);
  EXPECT_EQ(std::get<coap::SendDatagram>(con[0]).bytes, (Bytes{0x70, 0x00, 0x00, 0x02}));
  EXPECT_EQ(std::get<coap::Discarded>(con[1]).reason, DiscardReason::ReservedClass);
  EXPECT_EQ(only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x50, 0x20, 0x00, 0x03}, kT0)).reason,
            DiscardReason::ReservedClass);  // NON 1.00
}

TEST(CoapExchangeReject, MalformedConGetsRstEchoingItsId) {
  auto ml = layer();
  const auto actions = ml.onDatagram(kDevice, Bytes{0x40, 0x01, 0xBE, 0xEF, 0xF0}, kT0);  // delta 15
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(std::get<coap::SendDatagram>(actions[0]).bytes, (Bytes{0x70, 0x00, 0xBE, 0xEF}));
  const auto& d = std::get<coap::Discarded>(actions[1]);
  EXPECT_EQ(d.reason, DiscardReason::Malformed);
  EXPECT_EQ(d.error, coap::DecodeError::ReservedOptionDelta);
  ASSERT_TRUE(d.header);
  EXPECT_EQ(d.header->messageId, 0xBEEF);
}

TEST(CoapExchangeReject, OtherMalformedDatagramsAreOnlyReported) {
  auto ml = layer();
  const auto non = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x50, 0x01, 0x00, 0x01, 0xFF}, kT0));
  EXPECT_EQ(non.reason, DiscardReason::Malformed);
  EXPECT_EQ(non.error, coap::DecodeError::EmptyPayload);
  const auto ack = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x61, 0x45, 0x00, 0x01}, kT0));
  EXPECT_EQ(ack.error, coap::DecodeError::TokenTruncated);
  const auto shortOne = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x40, 0x01}, kT0));
  EXPECT_EQ(shortOne.error, coap::DecodeError::HeaderTooShort);
  EXPECT_EQ(shortOne.header, std::nullopt);
  // §3: unknown versions are silently ignored, even when they look like a CON.
  const auto v2 = only<coap::Discarded>(ml.onDatagram(kDevice, Bytes{0x80, 0x01, 0x00, 0x01}, kT0));
  EXPECT_EQ(v2.reason, DiscardReason::BadVersion);
  EXPECT_EQ(ml.remembered(), 0u);
}

TEST(CoapExchangeReject, DiscardReasonsHaveNames) {
  std::set<std::string> names;
  for (int r = 0; r <= static_cast<int>(DiscardReason::Unmatched); ++r) {
    names.insert(coap::discardReasonName(static_cast<DiscardReason>(r)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(DiscardReason::Unmatched) + 1);
}

// ---- message ids and tokens (§4.4, §5.3.1) ----

TEST(CoapExchangeIds, MessageIdsAreSequentialAndWrap) {
  auto ml = layer(3);
  const std::uint16_t first = ml.nextMessageId();
  std::uint16_t previous = first;
  for (int i = 0; i < 70000; ++i) {
    const std::uint16_t id = ml.nextMessageId();
    EXPECT_EQ(id, static_cast<std::uint16_t>(previous + 1));
    previous = id;
  }
  // Different seeds start at different places (§4.4: the initial value should be randomized).
  std::set<std::uint16_t> starts;
  for (std::uint64_t seed = 0; seed < 20; ++seed) starts.insert(layer(seed).nextMessageId());
  EXPECT_GT(starts.size(), 15u);
}

TEST(CoapExchangeTokens, DistinctAndReproducible) {
  const Bytes seed{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  coap::TokenGenerator a(seed);
  coap::TokenGenerator b(seed);
  std::set<Bytes> seen;
  for (int i = 0; i < 20000; ++i) {
    const auto t = a.next();
    ASSERT_EQ(t.size(), 8u);
    EXPECT_EQ(t, b.next());
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 20000u);
  coap::TokenGenerator c(Bytes{16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
  EXPECT_NE(coap::TokenGenerator(seed).next(), c.next());
}

TEST(CoapExchangeTokens, LengthIsClampedToOneToEight) {
  coap::TokenGenerator g(Bytes{0xAB});
  EXPECT_EQ(g.next(4).size(), 4u);
  EXPECT_EQ(g.next(0).size(), 1u);
  EXPECT_EQ(g.next(20).size(), 8u);
  // Shorter tokens are prefixes of what the 8-byte token would have been.
  coap::TokenGenerator x(Bytes{0xAB});
  coap::TokenGenerator y(Bytes{0xAB});
  const auto four = x.next(4);
  const auto eight = y.next(8);
  EXPECT_TRUE(std::equal(four.begin(), four.end(), eight.begin()));
}

}  // namespace
