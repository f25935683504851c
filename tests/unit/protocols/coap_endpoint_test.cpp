// CoAP endpoint (sans-I/O, simulated time): routing and the endpoint's own error codes, duplicate
// replay, RST for unexpected responses, Block2 slicing and Block1 reassembly (RFC 7959), requests
// of our own with retransmission, separate responses and timeouts, observation (RFC 7641) and the
// per-peer bounds. Two endpoints wired back to back check the client side of block-wise transfers.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/coap/endpoint.hpp"

namespace {

namespace coap = fc::coap;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;
using coap::Message;
using coap::TimePoint;
using coap::Type;
namespace code = coap::code;
namespace option = coap::option;

const TimePoint kT0 = TimePoint{} + 1000s;
const coap::PeerKey kDevice = "192.0.2.1:5683";
const coap::PeerKey kOther = "192.0.2.2:5683";
const Bytes kSeed{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

coap::TransmissionParams fixedParams() {
  coap::TransmissionParams p;
  p.ackRandomFactor = 1.0;  // deterministic timeouts: exactly ACK_TIMEOUT, doubled each time
  return p;
}

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

Message req(Type type, coap::Code c, std::uint16_t mid, std::string_view path, Bytes token = {0xA1, 0xB2}) {
  Message m{.type = type, .code = c, .messageId = mid, .token = std::move(token)};
  m.setUriPath(path);
  return m;
}

/// A server endpoint with a few resources, fed datagrams as if from devices.
struct ServerFixture : ::testing::Test {
  coap::EndpointLimits limits;
  std::optional<coap::Endpoint> ep;
  int helloCalls = 0;
  std::string big = [] {
    std::string s;
    for (int i = 0; i < 100; ++i) s += static_cast<char>('a' + i % 26);
    return s;
  }();
  std::string lastBody;

  void make() {
    ep.emplace(fixedParams(), limits, kSeed);
    ep->addResource(coap::Resource{"hello", false, {code::kGet}, {{"rt", "test", true}}, true,
                                   [this](const coap::IncomingRequest&) {
                                     ++helloCalls;
                                     Message m;
                                     m.code = code::kContent;
                                     m.setUint(option::kContentFormat, coap::format::kTextPlain);
                                     m.setPayload("world");
                                     return m;
                                   }});
    ep->addResource(coap::Resource{"big", false, {code::kGet}, {}, true, [this](const coap::IncomingRequest&) {
                                     Message m;
                                     m.code = code::kContent;
                                     m.setPayload(big);
                                     return m;
                                   }});
    ep->addResource(coap::Resource{"topic", true, {code::kPost}, {}, true, [](const coap::IncomingRequest& r) {
                                     Message m;
                                     m.code = code::kChanged;
                                     m.setPayload(r.subpath);
                                     return m;
                                   }});
    ep->addResource(coap::Resource{"upload", false, {code::kPost, code::kPut}, {}, false,
                                   [this](const coap::IncomingRequest& r) {
                                     lastBody = text(r.message.payload);
                                     Message m;
                                     m.code = code::kChanged;
                                     return m;
                                   }});
  }
  void SetUp() override { make(); }

  /// Feeds `m` from `peer` and returns the decoded datagrams sent back.
  std::vector<Message> exchange(const Message& m, TimePoint now = kT0, const coap::PeerKey& peer = kDevice) {
    return feed(coap::encode(m).value(), now, peer);
  }
  std::vector<Message> feed(const Bytes& datagram, TimePoint now = kT0, const coap::PeerKey& peer = kDevice) {
    ep->onDatagram(peer, datagram, now);
    return drain();
  }
  std::vector<Message> drain() {
    std::vector<Message> out;
    for (auto& d : ep->takeDatagrams()) {
      auto m = coap::decode(d.bytes);
      EXPECT_TRUE(m) << "the endpoint sent an undecodable datagram";
      if (m) out.push_back(std::move(*m));
    }
    return out;
  }
  Message one(const Message& m, TimePoint now = kT0) {
    auto out = exchange(m, now);
    EXPECT_EQ(out.size(), 1u);
    return out.empty() ? Message{} : out.front();
  }
};

// --- serving ---

TEST_F(ServerFixture, ConGetIsAnsweredPiggybackedWithTheRequestsIdAndToken) {
  auto r = one(req(Type::Confirmable, code::kGet, 0x1234, "hello"));
  EXPECT_EQ(r.type, Type::Acknowledgement);
  EXPECT_EQ(r.messageId, 0x1234);
  EXPECT_EQ(r.token, (Bytes{0xA1, 0xB2}));
  EXPECT_EQ(r.code, code::kContent);
  EXPECT_EQ(r.payloadText(), "world");
  EXPECT_EQ(r.getUint(option::kContentFormat), 0u);
}

TEST_F(ServerFixture, NonRequestGetsANonResponseWithItsOwnMessageId) {
  auto r = one(req(Type::NonConfirmable, code::kGet, 0x2000, "hello"));
  EXPECT_EQ(r.type, Type::NonConfirmable);
  EXPECT_NE(r.messageId, 0x2000);
  EXPECT_EQ(r.token, (Bytes{0xA1, 0xB2}));
  EXPECT_EQ(r.payloadText(), "world");
}

TEST_F(ServerFixture, UnknownPathIs404AndWrongMethodIs405) {
  auto r = one(req(Type::Confirmable, code::kGet, 1, "nothing/here"));
  EXPECT_EQ(r.code, code::kNotFound);
  EXPECT_EQ(r.type, Type::Acknowledgement);
  r = one(req(Type::Confirmable, code::kDelete, 2, "hello"));
  EXPECT_EQ(r.code, code::kMethodNotAllowed);
  auto notes = ep->takeNotes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, coap::Note::Kind::BadRequest);
  EXPECT_NE(notes[1].text.find("4.05"), std::string::npos) << notes[1].text;
  EXPECT_EQ(helloCalls, 0);
}

TEST_F(ServerFixture, SubtreeResourceSeesThePathBelowIt) {
  auto r = one(req(Type::Confirmable, code::kPost, 3, "topic/a1/dev/update"));
  EXPECT_EQ(r.code, code::kChanged);
  EXPECT_EQ(r.payloadText(), "a1/dev/update");
  EXPECT_EQ(one(req(Type::Confirmable, code::kPost, 4, "topical")).code, code::kNotFound);
}

TEST_F(ServerFixture, UnrecognizedCriticalOptionIs402AndElectiveIsIgnored) {
  auto m = req(Type::Confirmable, code::kGet, 5, "hello");
  m.addString(61, "token");  // critical, unknown until recognized
  EXPECT_EQ(one(m).code, code::kBadOption);
  ep->recognizeOption(61);
  m.messageId = 6;
  EXPECT_EQ(one(m).code, code::kContent);

  auto elective = req(Type::Confirmable, code::kGet, 7, "hello");
  elective.addString(2088, "token");  // even: elective
  EXPECT_EQ(one(elective).code, code::kContent);

  auto ifMatch = req(Type::Confirmable, code::kGet, 8, "hello");
  ifMatch.add(option::kIfMatch, Bytes{1});
  EXPECT_EQ(one(ifMatch).code, code::kBadOption);

  auto twoAccepts = req(Type::Confirmable, code::kGet, 9, "hello");
  twoAccepts.addUint(option::kAccept, 0);
  twoAccepts.addUint(option::kAccept, 0);  // §5.4.5: the second of a non-repeatable critical option
  EXPECT_EQ(one(twoAccepts).code, code::kBadOption);

  auto proxy = req(Type::Confirmable, code::kGet, 10, "");
  proxy.setString(option::kProxyUri, "coap://example.com/x");
  EXPECT_EQ(one(proxy).code, code::kProxyingNotSupported);
}

TEST_F(ServerFixture, AcceptOfAnotherFormatIs406) {
  auto m = req(Type::Confirmable, code::kGet, 11, "hello");
  m.setUint(option::kAccept, coap::format::kJson);
  EXPECT_EQ(one(m).code, code::kNotAcceptable);
  m.messageId = 12;
  m.setUint(option::kAccept, coap::format::kTextPlain);
  EXPECT_EQ(one(m).code, code::kContent);
}

TEST_F(ServerFixture, DuplicateConIsAnsweredFromTheCacheWithoutRunningTheHandlerAgain) {
  const auto wire = coap::encode(req(Type::Confirmable, code::kGet, 0x0BAD, "hello")).value();
  ep->onDatagram(kDevice, wire, kT0);
  const auto first = ep->takeDatagrams();
  ep->onDatagram(kDevice, wire, kT0 + 3s);
  const auto second = ep->takeDatagrams();
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(first[0].bytes, second[0].bytes);
  EXPECT_EQ(helloCalls, 1);
  // The same message id from another peer is another message (§4.5: ids are per endpoint).
  exchange(req(Type::Confirmable, code::kGet, 0x0BAD, "hello"), kT0, kOther);
  EXPECT_EQ(helloCalls, 2);
}

TEST_F(ServerFixture, ResponseNobodyAskedForIsRejectedWithRst) {
  Message stray{.type = Type::Confirmable, .code = code::kContent, .messageId = 0x4242, .token = {9, 9, 9}};
  stray.setPayload("surprise");
  auto r = one(stray);
  EXPECT_EQ(r.type, Type::Reset);
  EXPECT_EQ(r.messageId, 0x4242);
  EXPECT_TRUE(r.code.isEmpty());
  auto notes = ep->takeNotes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].kind, coap::Note::Kind::Rejected);
}

TEST_F(ServerFixture, MalformedDatagramsAreDroppedAndNoted) {
  // Three bytes: no header at all. Nothing is sent.
  EXPECT_TRUE(feed(Bytes{0x40, 0x01, 0x00}).empty());
  // A CON whose option runs past the end: the readable header earns an RST (§4.2).
  const Bytes truncated{0x40, 0x01, 0x12, 0x34, 0xB5, 'h', 'e'};  // CON GET mid 0x1234, Uri-Path length 5, 2 bytes
  auto out = feed(truncated);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Reset);
  EXPECT_EQ(out[0].messageId, 0x1234);
  const auto notes = ep->takeNotes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].kind, coap::Note::Kind::Dropped);
  EXPECT_NE(notes[1].text.find("malformed"), std::string::npos) << notes[1].text;
  // And the endpoint still serves.
  EXPECT_EQ(one(req(Type::Confirmable, code::kGet, 0x1235, "hello")).payloadText(), "world");
}

TEST_F(ServerFixture, WellKnownCoreListsTheListedResources) {
  auto m = req(Type::Confirmable, code::kGet, 20, ".well-known/core");
  auto r = one(m);
  EXPECT_EQ(r.code, code::kContent);
  EXPECT_EQ(r.getUint(option::kContentFormat), coap::format::kLinkFormat);
  EXPECT_EQ(r.payloadText(), "</hello>;rt=\"test\",</big>,</topic>");
  EXPECT_EQ(one(req(Type::Confirmable, code::kPost, 21, ".well-known/core")).code, code::kMethodNotAllowed);
}

// --- Block2 ---

std::vector<Message> fetchBlocks(ServerFixture& f, std::string_view path, std::uint8_t szx, std::uint16_t mid) {
  std::vector<Message> blocks;
  for (std::uint32_t num = 0; num < 100; ++num) {
    auto m = req(Type::Confirmable, code::kGet, static_cast<std::uint16_t>(mid + num), path);
    m.set(option::kBlock2, coap::encodeBlock(coap::Block{num, false, szx}));
    auto r = f.one(m);
    blocks.push_back(r);
    auto b = coap::decodeBlock(r.find(option::kBlock2) ? r.find(option::kBlock2)->value : Bytes{});
    if (!r.has(option::kBlock2) || !b || !b->more) break;
  }
  return blocks;
}

TEST_F(ServerFixture, Block2SlicesStatelesslyAtTheRequestedSizeWithOneETag) {
  for (std::uint8_t szx : {0, 1, 2, 6}) {
    SCOPED_TRACE("szx " + std::to_string(szx));
    const auto blocks = fetchBlocks(*this, "big", szx, static_cast<std::uint16_t>(100 * (szx + 1)));
    const std::size_t size = coap::blockSize(szx);
    ASSERT_EQ(blocks.size(), (big.size() + size - 1) / size);
    std::string body;
    const auto* tag0 = blocks[0].find(option::kETag);
    ASSERT_NE(tag0, nullptr);
    EXPECT_EQ(tag0->value.size(), 8u);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const auto& b = blocks[i];
      EXPECT_EQ(b.code, code::kContent);
      auto block = coap::decodeBlock(b.find(option::kBlock2)->value);
      ASSERT_TRUE(block);
      EXPECT_EQ(block->num, i);
      EXPECT_EQ(block->szx, szx);
      EXPECT_EQ(block->more, i + 1 < blocks.size());
      ASSERT_NE(b.find(option::kETag), nullptr);
      EXPECT_EQ(b.find(option::kETag)->value, tag0->value) << "block " << i;
      // Size2 with the first block only (RFC 7959 §4).
      EXPECT_EQ(b.getUint(option::kSize2), i == 0 ? std::optional<std::uint32_t>(100) : std::nullopt);
      body += b.payloadText();
    }
    EXPECT_EQ(body, big);
  }
}

TEST_F(ServerFixture, Block2BeyondTheEndIs402AndAChangedRepresentationChangesTheETag) {
  auto m = req(Type::Confirmable, code::kGet, 300, "big");
  m.set(option::kBlock2, coap::encodeBlock(coap::Block{7, false, 0}));  // offset 112 > 100
  EXPECT_EQ(one(m).code, code::kBadOption);

  m = req(Type::Confirmable, code::kGet, 301, "big");
  m.set(option::kBlock2, coap::encodeBlock(coap::Block{0, false, 0}));
  const auto before = one(m).find(option::kETag)->value;
  big[0] = 'Z';
  m.messageId = 302;
  EXPECT_NE(one(m).find(option::kETag)->value, before);
}

TEST_F(ServerFixture, LargeResponseIsSlicedAtTheServersLimitWhenTheClientDidNotAsk) {
  limits.maxSzx = 2;  // 64-byte blocks
  make();
  auto r = one(req(Type::Confirmable, code::kGet, 400, "big"));
  auto b = coap::decodeBlock(r.find(option::kBlock2)->value);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, (coap::Block{0, true, 2}));
  EXPECT_EQ(r.payload.size(), 64u);
  EXPECT_EQ(r.getUint(option::kSize2), 100u);

  // Late negotiation (RFC 7959 §2.4): 128-byte blocks are asked for; the server answers with 64.
  auto m = req(Type::Confirmable, code::kGet, 401, "big");
  m.set(option::kBlock2, coap::encodeBlock(coap::Block{0, false, 3}));
  b = coap::decodeBlock(one(m).find(option::kBlock2)->value);
  EXPECT_EQ(b->szx, 2);
}

TEST_F(ServerFixture, AHandlerThatCutsItsOwnBlockIsSentAsItIs) {
  // A representation too large to hold is served one block at a time by its handler (firmware).
  ep->addResource(coap::Resource{"piece", false, {code::kGet}, {}, false, [](const coap::IncomingRequest&) {
                                   Message m;
                                   m.code = code::kContent;
                                   m.set(option::kBlock2, coap::encodeBlock({3, true, 0}));  // block 3 of 16-byte blocks
                                   m.setPayload("0123456789abcdef");
                                   return m;
                                 }});
  auto get = req(Type::Confirmable, code::kGet, 0x0501, "piece");
  get.set(option::kBlock2, coap::encodeBlock({3, false, 0}));
  const auto r = one(get);
  EXPECT_EQ(r.code, code::kContent);
  EXPECT_EQ(r.payloadText(), "0123456789abcdef");
  EXPECT_EQ(coap::decodeBlock(r.find(option::kBlock2)->value).value(), (coap::Block{3, true, 0}));
  EXPECT_FALSE(r.has(option::kETag));  // nothing added: the handler's message as it was
}

TEST_F(ServerFixture, ADeferredResponseIsAnEmptyAckThenASeparateConWithTheToken) {
  std::optional<Message> held;
  ep->addResource(coap::Resource{"slow", false, {code::kGet}, {}, false, [&held](const coap::IncomingRequest& r) {
                                   held = r.message;
                                   return coap::deferredResponse();
                                 }});
  const auto get = req(Type::Confirmable, code::kGet, 0x0601, "slow");
  auto out = exchange(get);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Acknowledgement);  // RFC 7252 §5.2.2: the Empty ACK
  EXPECT_EQ(out[0].code, code::kEmpty);
  EXPECT_EQ(out[0].messageId, 0x0601);
  EXPECT_TRUE(exchange(get, kT0 + 1s).size() == 1u);  // a retransmission gets the Empty ACK again
  ASSERT_TRUE(held);
  Message later;
  later.code = code::kContent;
  later.setPayload("late");
  ep->respondLater(kDevice, *held, later, kT0 + 2s);
  out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Confirmable);
  EXPECT_NE(out[0].messageId, 0x0601);
  EXPECT_EQ(out[0].token, get.token);
  EXPECT_EQ(out[0].payloadText(), "late");
}

TEST_F(ServerFixture, AnIgnoredRequestGetsNoAnswerNorDoItsRetransmissions) {
  int calls = 0;
  ep->addResource(coap::Resource{"void", false, {code::kGet}, {}, false, [&calls](const coap::IncomingRequest&) {
                                   ++calls;
                                   return coap::ignoredRequest();
                                 }});
  const auto get = req(Type::Confirmable, code::kGet, 0x0701, "void");
  EXPECT_TRUE(exchange(get).empty());
  EXPECT_TRUE(exchange(get, kT0 + 2s).empty());  // the same message id: a duplicate, dropped
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(exchange(req(Type::Confirmable, code::kGet, 0x0702, "void"), kT0 + 3s).empty());
  EXPECT_EQ(calls, 2);  // a new message id is a new request
}

TEST_F(ServerFixture, Block2WithTheReservedSzxIs400) {
  auto m = req(Type::Confirmable, code::kGet, 450, "big");
  m.set(option::kBlock2, Bytes{0x07});
  EXPECT_EQ(one(m).code, code::kBadRequest);
}

// --- Block1 ---

Message block1(std::uint16_t mid, std::uint32_t num, bool more, std::uint8_t szx, std::string_view payload,
               std::string_view path = "upload") {
  auto m = req(Type::Confirmable, code::kPost, mid, path);
  m.set(option::kBlock1, coap::encodeBlock(coap::Block{num, more, szx}));
  m.setPayload(payload);
  return m;
}

TEST_F(ServerFixture, Block1IsReassembledWithContinueAndTheLastBlockEchoed) {
  auto r = one(block1(500, 0, true, 0, "0123456789abcdef"));
  EXPECT_EQ(r.code, code::kContinue);
  EXPECT_EQ(*coap::decodeBlock(r.find(option::kBlock1)->value), (coap::Block{0, true, 0}));
  EXPECT_EQ(ep->transfers(), 1u);
  r = one(block1(501, 1, true, 0, "ghijklmnopqrstuv"));
  EXPECT_EQ(r.code, code::kContinue);
  EXPECT_EQ(*coap::decodeBlock(r.find(option::kBlock1)->value), (coap::Block{1, true, 0}));
  r = one(block1(502, 2, false, 0, "wxyz"));
  EXPECT_EQ(r.code, code::kChanged);
  EXPECT_EQ(*coap::decodeBlock(r.find(option::kBlock1)->value), (coap::Block{2, false, 0}));
  EXPECT_EQ(lastBody, "0123456789abcdefghijklmnopqrstuvwxyz");
  EXPECT_EQ(ep->transfers(), 0u);
}

TEST_F(ServerFixture, Block1ServerAsksForSmallerBlocks) {
  limits.maxSzx = 0;
  make();
  const std::string first(32, 'x');
  auto r = one(block1(510, 0, true, 1, first));
  EXPECT_EQ(r.code, code::kContinue);
  EXPECT_EQ(coap::decodeBlock(r.find(option::kBlock1)->value)->szx, 0);  // 16 bytes from now on
  r = one(block1(511, 2, false, 0, "tail"));                               // offset 32 in 16-byte blocks
  EXPECT_EQ(r.code, code::kChanged);
  EXPECT_EQ(lastBody, first + "tail");
}

TEST_F(ServerFixture, Block1MissingOrOutOfOrderBlocksAre408) {
  auto r = one(block1(520, 1, true, 0, "0123456789abcdef"));
  EXPECT_EQ(r.code, code::kRequestEntityIncomplete);
  one(block1(521, 0, true, 0, "0123456789abcdef"));
  r = one(block1(522, 2, false, 0, "late"));  // block 1 never came
  EXPECT_EQ(r.code, code::kRequestEntityIncomplete);
  EXPECT_EQ(ep->transfers(), 0u);
}

TEST_F(ServerFixture, Block1TooLargeIs413WithSize1) {
  limits.maxBodySize = 40;
  make();
  one(block1(530, 0, true, 0, "0123456789abcdef"));
  one(block1(531, 1, true, 0, "0123456789abcdef"));
  auto r = one(block1(532, 2, true, 0, "0123456789abcdef"));
  EXPECT_EQ(r.code, code::kRequestEntityTooLarge);
  EXPECT_EQ(r.getUint(option::kSize1), 40u);
  EXPECT_EQ(ep->transfers(), 0u);

  // Announced with Size1 up front: refused before any data is kept.
  auto m = block1(533, 0, true, 0, "0123456789abcdef");
  m.setUint(option::kSize1, 1000);
  r = one(m);
  EXPECT_EQ(r.code, code::kRequestEntityTooLarge);
  EXPECT_EQ(r.getUint(option::kSize1), 40u);
}

TEST_F(ServerFixture, Block1WithAShortNonFinalBlockIs400) {
  EXPECT_EQ(one(block1(540, 0, true, 0, "short")).code, code::kBadRequest);
}

TEST_F(ServerFixture, Block1TransferExpiresAndLaterBlocksAre408) {
  limits.transferTimeout = 10s;
  make();
  one(block1(550, 0, true, 0, "0123456789abcdef"));
  EXPECT_EQ(ep->nextDeadline(), kT0 + 10s);
  ep->poll(kT0 + 11s);
  EXPECT_EQ(ep->transfers(), 0u);
  EXPECT_EQ(one(block1(551, 1, false, 0, "x"), kT0 + 12s).code, code::kRequestEntityIncomplete);
}

TEST_F(ServerFixture, Block1TransfersPerPeerAreBounded) {
  limits.maxTransfersPerPeer = 2;
  make();
  EXPECT_EQ(one(block1(560, 0, true, 0, "0123456789abcdef", "upload")).code, code::kContinue);
  auto m = block1(561, 0, true, 0, "0123456789abcdef", "upload");
  m.addString(option::kUriQuery, "a=1");  // another URI: another transfer
  EXPECT_EQ(one(m).code, code::kContinue);
  m = block1(562, 0, true, 0, "0123456789abcdef", "upload");
  m.addString(option::kUriQuery, "a=2");
  EXPECT_EQ(one(m).code, code::kServiceUnavailable);
}

// --- per-peer bounds ---

TEST_F(ServerFixture, PeersBeyondTheLimitAreDroppedUntilIdleOnesExpire) {
  limits.maxPeers = 2;
  limits.peerIdleTimeout = 300s;
  make();
  exchange(req(Type::Confirmable, code::kGet, 600, "hello"), kT0, "10.0.0.1:1");
  exchange(req(Type::Confirmable, code::kGet, 600, "hello"), kT0, "10.0.0.2:1");
  EXPECT_TRUE(exchange(req(Type::Confirmable, code::kGet, 600, "hello"), kT0 + 1s, "10.0.0.3:1").empty());
  auto notes = ep->takeNotes();
  ASSERT_FALSE(notes.empty());
  EXPECT_EQ(notes.back().kind, coap::Note::Kind::PeerLimit);
  EXPECT_EQ(ep->peers(), 2u);
  // Once the others have been idle long enough, the newcomer is served.
  EXPECT_EQ(exchange(req(Type::Confirmable, code::kGet, 600, "hello"), kT0 + 301s, "10.0.0.3:1").size(), 1u);
  EXPECT_EQ(ep->peers(), 1u);
}

// --- own requests ---

struct ClientFixture : ServerFixture {
  std::vector<fc::Expected<Message, std::error_code>> results;
  coap::ResponseHandler collect() {
    return [this](fc::Expected<Message, std::error_code> r) { results.push_back(std::move(r)); };
  }
  coap::Endpoint::RequestId get(std::string_view path, Type type = Type::Confirmable) {
    Message m;
    m.type = type;
    m.code = code::kGet;
    m.setUriPath(path);
    auto id = ep->request(kDevice, m, collect(), kT0);
    EXPECT_TRUE(id);
    return id ? *id : 0;
  }
};

TEST_F(ClientFixture, ConRequestIsRetransmittedWithBackoffThenTimesOut) {
  get("3/0/0");
  auto sent = drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type, Type::Confirmable);
  EXPECT_EQ(sent[0].token.size(), 8u);
  EXPECT_EQ(sent[0].uriPath(), "3/0/0");
  // ACK_TIMEOUT 2 s, factor 1: retransmissions at 2, 6, 14, 30 s; give-up at 62 s.
  TimePoint at = kT0;
  for (auto gap : {2s, 4s, 8s, 16s}) {
    at += gap;
    EXPECT_EQ(ep->nextDeadline(), at);
    ep->poll(at);
    auto again = drain();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].messageId, sent[0].messageId);
  }
  EXPECT_TRUE(results.empty());
  ep->poll(at + 32s);
  ASSERT_EQ(results.size(), 1u);
  ASSERT_FALSE(results[0]);
  EXPECT_EQ(results[0].error(), coap::RequestError::Timeout);
  EXPECT_EQ(ep->pendingRequests(), 0u);
}

TEST_F(ClientFixture, PiggybackedResponseCompletesTheRequest) {
  get("3/0/0");
  auto sent = drain()[0];
  Message ack{.type = Type::Acknowledgement, .code = code::kContent, .messageId = sent.messageId, .token = sent.token};
  ack.setPayload("ok");
  EXPECT_TRUE(exchange(ack).empty());
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0]);
  EXPECT_EQ(results[0]->payloadText(), "ok");
  ep->poll(kT0 + 100s);  // nothing is retransmitted after the ACK
  EXPECT_TRUE(drain().empty());
}

TEST_F(ClientFixture, LastSentIsTheMessageOnTheWireUntilTheRequestEnds) {
  const auto id = get("3/0/0");
  auto sent = drain()[0];
  auto recorded = ep->lastSent(id);
  ASSERT_TRUE(recorded);
  EXPECT_EQ(coap::encode(*recorded).value(), coap::encode(sent).value()) << "message id and token as sent";
  EXPECT_NE(recorded->token, Bytes{});
  Message ack{.type = Type::Acknowledgement, .code = code::kContent, .messageId = sent.messageId, .token = sent.token};
  EXPECT_TRUE(exchange(ack).empty());
  EXPECT_FALSE(ep->lastSent(id)) << "the request is over";
  EXPECT_FALSE(ep->lastSent(id + 1000));
}

TEST_F(ClientFixture, SeparateResponseIsAcknowledgedAndDelivered) {
  get("3/0/0");
  auto sent = drain()[0];
  EXPECT_TRUE(exchange(Message{.type = Type::Acknowledgement, .messageId = sent.messageId}).empty());
  EXPECT_TRUE(results.empty());
  Message separate{.type = Type::Confirmable, .code = code::kContent, .messageId = 0x7777, .token = sent.token};
  separate.setPayload("later");
  auto out = exchange(separate, kT0 + 1s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Acknowledgement);
  EXPECT_EQ(out[0].messageId, 0x7777);
  EXPECT_TRUE(out[0].code.isEmpty());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]->payloadText(), "later");
}

TEST_F(ClientFixture, SeparateResponseThatNeverComesTimesOut) {
  limits.responseTimeout = 20s;
  make();
  get("3/0/0");
  auto sent = drain()[0];
  exchange(Message{.type = Type::Acknowledgement, .messageId = sent.messageId}, kT0 + 1s);
  EXPECT_EQ(ep->nextDeadline(), kT0 + 21s);
  ep->poll(kT0 + 21s);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error(), coap::RequestError::Timeout);
}

TEST_F(ClientFixture, ResetFailsTheRequest) {
  get("3/0/0");
  auto sent = drain()[0];
  exchange(Message{.type = Type::Reset, .messageId = sent.messageId});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error(), coap::RequestError::Reset);
}

TEST_F(ClientFixture, NonRequestIsAnsweredByTokenOrTimesOut) {
  limits.responseTimeout = 5s;
  make();
  get("a", Type::NonConfirmable);
  auto sent = drain()[0];
  EXPECT_EQ(sent.type, Type::NonConfirmable);
  Message answer{.type = Type::NonConfirmable, .code = code::kContent, .messageId = 9, .token = sent.token};
  EXPECT_TRUE(exchange(answer).empty());  // a NON response is not acknowledged
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0]);

  get("b", Type::NonConfirmable);
  drain();
  ep->poll(kT0 + 5s);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].error(), coap::RequestError::Timeout);
}

TEST_F(ClientFixture, PendingRequestsPerPeerAreBounded) {
  limits.maxPendingPerPeer = 2;
  make();
  get("a");
  get("b");
  Message m;
  m.code = code::kGet;
  auto third = ep->request(kDevice, m, collect(), kT0);
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error(), coap::RequestError::TooManyPending);
  EXPECT_TRUE(ep->request(kOther, m, collect(), kT0));  // another peer has its own budget
}

TEST_F(ClientFixture, CancelStopsRetransmission) {
  auto id = get("a");
  drain();
  EXPECT_TRUE(ep->cancel(id, kT0));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].error(), coap::RequestError::Cancelled);
  ep->poll(kT0 + 100s);
  EXPECT_TRUE(drain().empty());
  EXPECT_FALSE(ep->cancel(id, kT0));
}

// --- observe (RFC 7641, observing side) ---

struct ObserveFixture : ClientFixture {
  struct Seen {
    std::optional<std::string> payload;
    std::error_code error;
    bool last = false;
  };
  std::vector<Seen> seen;
  coap::Endpoint::RequestId id = 0;
  Message registration;

  void observe() {
    Message m;
    m.code = code::kGet;
    m.setUriPath("3303/0/5700");
    auto r = ep->observe(kDevice, m,
                         [this](fc::Expected<Message, std::error_code> n, bool last) {
                           if (n) seen.push_back({std::string(n->payloadText()), {}, last});
                           else seen.push_back({std::nullopt, n.error(), last});
                         },
                         kT0);
    ASSERT_TRUE(r);
    id = *r;
    auto sent = drain();
    ASSERT_EQ(sent.size(), 1u);
    registration = sent[0];
  }
  Message notification(Type type, std::uint16_t mid, std::optional<std::uint32_t> seq, std::string_view payload,
                       coap::Code c = code::kContent) {
    Message m{.type = type, .code = c, .messageId = mid, .token = registration.token};
    if (seq) m.setUint(option::kObserve, *seq);
    m.setPayload(payload);
    return m;
  }
  void establish() {
    observe();
    auto ack = notification(Type::Acknowledgement, registration.messageId, 5, "20.5");
    EXPECT_TRUE(exchange(ack).empty());
  }
};

TEST_F(ObserveFixture, RegistrationCarriesObserveZero) {
  observe();
  EXPECT_EQ(registration.getUint(option::kObserve), 0u);
  EXPECT_EQ(registration.code, code::kGet);
}

TEST_F(ObserveFixture, NotificationsAreAcknowledgedAndDeliveredInOrder) {
  establish();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload, "20.5");
  EXPECT_FALSE(seen[0].last);

  auto out = exchange(notification(Type::Confirmable, 0x100, 6, "21.0"), kT0 + 1s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Acknowledgement);  // §4.2: the CON notification is ACKed
  EXPECT_EQ(out[0].messageId, 0x100);
  EXPECT_TRUE(exchange(notification(Type::NonConfirmable, 0x101, 7, "21.5"), kT0 + 2s).empty());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].payload, "21.0");
  EXPECT_EQ(seen[2].payload, "21.5");
}

TEST_F(ObserveFixture, StaleNotificationsAreAcknowledgedButNotDelivered) {
  establish();
  exchange(notification(Type::NonConfirmable, 0x200, 10, "new"), kT0 + 1s);
  auto out = exchange(notification(Type::Confirmable, 0x201, 8, "reordered old"), kT0 + 2s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Acknowledgement);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen.back().payload, "new");
  // After 128 s any sequence number counts as newer (§3.4).
  exchange(notification(Type::NonConfirmable, 0x202, 3, "after a reboot"), kT0 + 200s);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen.back().payload, "after a reboot");
}

TEST_F(ObserveFixture, ResponseWithoutObserveOrAnErrorEndsTheObservation) {
  observe();
  exchange(notification(Type::Acknowledgement, registration.messageId, std::nullopt, "no observe"));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].last);
  EXPECT_EQ(ep->pendingRequests(), 0u);

  seen.clear();
  establish();
  exchange(notification(Type::NonConfirmable, 0x300, 6, "gone", code::kNotFound), kT0 + 1s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].last);
  EXPECT_EQ(ep->pendingRequests(), 0u);
}

TEST_F(ObserveFixture, ReactiveCancelAnswersTheNextNotificationWithRst) {
  establish();
  EXPECT_TRUE(ep->cancel(id, kT0 + 1s, /*deregister=*/false));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].error, coap::RequestError::Cancelled);
  EXPECT_TRUE(drain().empty());
  auto out = exchange(notification(Type::Confirmable, 0x400, 6, "unwanted"), kT0 + 2s);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, Type::Reset);
  EXPECT_EQ(out[0].messageId, 0x400);
}

TEST_F(ObserveFixture, ProactiveCancelSendsObserveOneWithTheSameToken) {
  establish();
  EXPECT_TRUE(ep->cancel(id, kT0 + 1s));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].code, code::kGet);
  EXPECT_EQ(out[0].getUint(option::kObserve), 1u);
  EXPECT_EQ(out[0].token, registration.token);
  EXPECT_EQ(out[0].uriPath(), "3303/0/5700");
  // Its answer ends the exchange silently.
  exchange(notification(Type::Acknowledgement, out[0].messageId, std::nullopt, "bye"), kT0 + 2s);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(ep->pendingRequests(), 0u);
}

TEST_F(ObserveFixture, ReregistrationUsesTheSameToken) {
  establish();
  EXPECT_TRUE(ep->reregister(id, kT0 + 60s));
  auto out = drain();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].token, registration.token);
  EXPECT_EQ(out[0].getUint(option::kObserve), 0u);
  EXPECT_NE(out[0].messageId, registration.messageId);
  exchange(notification(Type::Acknowledgement, out[0].messageId, 9, "fresh"), kT0 + 61s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].payload, "fresh");
}

TEST_F(ObserveFixture, UnansweredRegistrationTimesOut) {
  observe();
  for (int i = 1; i <= 10; ++i) ep->poll(kT0 + i * 100s);  // each poll retransmits once, then it gives up
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].error, coap::RequestError::Timeout);
  EXPECT_TRUE(seen[0].last);
}

TEST(CoapObserveFreshness, Rfc7641Section34) {
  const TimePoint t = kT0;
  EXPECT_TRUE(coap::notificationIsFresh(5, t, 6, t));
  EXPECT_FALSE(coap::notificationIsFresh(6, t, 5, t));
  EXPECT_FALSE(coap::notificationIsFresh(6, t, 6, t));
  EXPECT_TRUE(coap::notificationIsFresh(0xFFFFFF, t, 1, t));           // wrapped around
  EXPECT_FALSE(coap::notificationIsFresh(1, t, 0xFFFFFF, t));          // that is older
  EXPECT_FALSE(coap::notificationIsFresh(0, t, 1u << 23, t));          // exactly half-way: not newer
  EXPECT_TRUE(coap::notificationIsFresh(6, t, 5, t + 129s));           // 128-second escape
  EXPECT_FALSE(coap::notificationIsFresh(6, t, 5, t + 128s));
}

// --- two endpoints back to back: the client side of block-wise transfers ---

struct Pair : ::testing::Test {
  coap::EndpointLimits serverLimits;
  std::optional<coap::Endpoint> server, client;
  std::string representation;
  std::string received;
  std::vector<std::uint32_t> block2Requests;

  void make() {
    server.emplace(fixedParams(), serverLimits, kSeed);
    client.emplace(fixedParams(), coap::EndpointLimits{}, Bytes{42});
    server->addResource(coap::Resource{"doc", false, {code::kGet, code::kPost}, {}, true,
                                       [this](const coap::IncomingRequest& r) {
                                         if (const auto* b = r.message.find(option::kBlock2))
                                           block2Requests.push_back(coap::decodeBlock(b->value)->num);
                                         Message m;
                                         m.code = r.message.code == code::kPost ? code::kChanged : code::kContent;
                                         if (r.message.code == code::kPost) received = text(r.message.payload);
                                         m.setPayload(representation);
                                         if (r.message.getUint(option::kObserve) == 0u) {
                                           m.setUint(option::kObserve, 1);
                                           observerToken = r.message.token;
                                         }
                                         return m;
                                       }});
  }
  Bytes observerToken;
  void SetUp() override {
    for (int i = 0; i < 3000; ++i) representation += static_cast<char>('A' + i % 23);
    make();
  }
  /// Shuttles datagrams both ways until neither side has anything to send.
  void pump(TimePoint now = kT0) {
    for (int round = 0; round < 1000; ++round) {
      auto toServer = client->takeDatagrams();
      auto toClient = server->takeDatagrams();
      if (toServer.empty() && toClient.empty()) return;
      for (auto& d : toServer) server->onDatagram("client", d.bytes, now);
      for (auto& d : toClient) client->onDatagram("server", d.bytes, now);
    }
    FAIL() << "the endpoints never went quiet";
  }
  fc::Expected<Message, std::error_code> call(Message m, coap::RequestOptions options = {}) {
    std::optional<fc::Expected<Message, std::error_code>> result;
    auto id = client->request("server", std::move(m), [&](auto r) { result = std::move(r); }, kT0, options);
    EXPECT_TRUE(id);
    pump();
    if (!result) return fc::Unexpected(make_error_code(coap::RequestError::Timeout));
    return std::move(*result);
  }
};

TEST_F(Pair, Block2DownloadIsReassembledAtTheServersSize) {
  Message m;
  m.code = code::kGet;
  m.setUriPath("doc");
  auto r = call(m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, code::kContent);
  EXPECT_EQ(text(r->payload), representation);
  EXPECT_FALSE(r->has(option::kBlock2));
  EXPECT_EQ(block2Requests, (std::vector<std::uint32_t>{1, 2}));  // 3000 bytes in 1024-byte blocks
}

TEST_F(Pair, Block2DownloadWithEarlyNegotiationOfSmallBlocks) {
  representation.resize(100);
  Message m;
  m.code = code::kGet;
  m.setUriPath("doc");
  auto r = call(m, coap::RequestOptions{.block2Szx = 0});
  ASSERT_TRUE(r);
  EXPECT_EQ(text(r->payload), representation);
  EXPECT_EQ(block2Requests.size(), 7u);  // blocks 0–6 of 16 bytes
}

TEST_F(Pair, ObservationFetchesTheRestOfAMultiBlockRepresentation) {
  // RFC 7959 §2.6: the registration's answer and each notification carry block 0; the observer
  // GETs blocks 1 and 2 without Observe and delivers the whole representation each time.
  std::vector<std::string> seen;
  Message m;
  m.code = code::kGet;
  m.setUriPath("doc");
  auto id = client->observe("server", m, [&](fc::Expected<Message, std::error_code> n, bool last) {
    ASSERT_TRUE(n) << n.error().message();
    EXPECT_FALSE(last);
    EXPECT_FALSE(n->has(option::kBlock2));
    EXPECT_TRUE(n->has(option::kObserve));
    seen.emplace_back(text(n->payload));
  }, kT0);
  ASSERT_TRUE(id);
  pump();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], representation);
  EXPECT_EQ(block2Requests, (std::vector<std::uint32_t>{1, 2}));

  // A later notification, block 0 of the changed representation (the ETag the server's GETs give).
  representation[0] = 'Z';
  Message whole{.code = code::kContent};
  whole.setPayload(representation);
  Message n{.type = Type::Confirmable, .code = code::kContent, .token = observerToken};
  n.setUint(option::kObserve, 2);
  n.set(option::kETag, coap::entityTag(whole));
  n.set(option::kBlock2, coap::encodeBlock(coap::Block{0, true, 6}));
  n.payload.assign(representation.begin(), representation.begin() + 1024);
  ASSERT_TRUE(server->sendNotification("client", n, kT0 + 1s));
  pump(kT0 + 1s);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], representation);
  EXPECT_EQ(client->pendingRequests(), 1u) << "only the observation is left";
}

TEST_F(Pair, AResponseDecliningObserveIsStillFetchedWhole) {
  // A resource that is not observable: its answer has no Observe option.
  server->addResource(coap::Resource{"plain", false, {code::kGet}, {}, true, [this](const coap::IncomingRequest&) {
                                       Message r;
                                       r.code = code::kContent;
                                       r.setPayload(representation);
                                       return r;
                                     }});
  Message m;
  m.code = code::kGet;
  m.setUriPath("plain");
  std::optional<fc::Expected<Message, std::error_code>> result;
  bool ended = false;
  auto id = client->observe("server", m, [&](fc::Expected<Message, std::error_code> n, bool last) {
    result = std::move(n);
    ended = last;
  }, kT0);
  ASSERT_TRUE(id);
  pump();
  ASSERT_TRUE(result && *result);
  EXPECT_TRUE(ended) << "no Observe in the answer: the observation ends";
  EXPECT_EQ(text((*result)->payload), representation);
  EXPECT_EQ(client->pendingRequests(), 0u);
}

TEST_F(Pair, Block1UploadFollowsTheServersSmallerBlockSize) {
  serverLimits.maxSzx = 1;  // 32-byte blocks
  make();
  representation = "done";
  std::string body;
  for (int i = 0; i < 300; ++i) body += static_cast<char>('a' + i % 26);
  Message m;
  m.code = code::kPost;
  m.setUriPath("doc");
  m.setPayload(body);
  auto r = call(m, coap::RequestOptions{.block1Szx = 2});  // starts with 64, the server wants 32
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->code, code::kChanged);
  EXPECT_EQ(received, body);
  EXPECT_EQ(text(r->payload), "done");
}

TEST_F(Pair, Block1UploadTooLargeEndsWith413) {
  serverLimits.maxBodySize = 100;
  make();
  Message m;
  m.code = code::kPost;
  m.setUriPath("doc");
  m.setPayload(std::string(500, 'x'));
  auto r = call(m, coap::RequestOptions{.block1Szx = 0});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, code::kRequestEntityTooLarge);
  EXPECT_EQ(r->getUint(option::kSize1), 100u);
}

}  // namespace

// --- observe (RFC 7641, observed side: sendNotification) ---

TEST_F(ServerFixture, NotificationIsSentConWithAFreshIdAndRetransmittedUntilAcknowledged) {
  Message n{.type = Type::Confirmable, .code = code::kContent, .messageId = 0, .token = {0x0B, 0x5E}};
  n.setUint(option::kObserve, 7);
  n.setPayload("report");
  ASSERT_TRUE(ep->sendNotification(kDevice, n, kT0));
  auto sent = drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].type, Type::Confirmable);
  EXPECT_EQ(sent[0].code, code::kContent);
  EXPECT_EQ(sent[0].token, n.token);
  EXPECT_EQ(sent[0].getUint(option::kObserve), 7u);
  EXPECT_EQ(sent[0].payloadText(), "report");

  // No ACK within ACK_TIMEOUT (2 s with the fixed random factor): the same message again.
  ep->poll(kT0 + 2s);
  auto again = drain();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].messageId, sent[0].messageId);

  // The observer's ACK ends the retransmissions; nothing else is reported or sent.
  Message ack{.type = Type::Acknowledgement, .code = code::kEmpty, .messageId = sent[0].messageId};
  EXPECT_TRUE(exchange(ack, kT0 + 3s).empty());
  ep->poll(kT0 + 60s);
  EXPECT_TRUE(drain().empty());

  // A second notification gets a message id of its own; a NON stays NON.
  n.type = Type::NonConfirmable;
  ASSERT_TRUE(ep->sendNotification(kDevice, n, kT0 + 61s));
  auto non = drain();
  ASSERT_EQ(non.size(), 1u);
  EXPECT_EQ(non[0].type, Type::NonConfirmable);
  EXPECT_NE(non[0].messageId, sent[0].messageId);

  // One that cannot be encoded (a 9-byte token) is refused.
  Message bad{.type = Type::Confirmable, .code = code::kContent, .messageId = 0, .token = Bytes(9, 1)};
  EXPECT_FALSE(ep->sendNotification(kDevice, bad, kT0 + 62s));
  EXPECT_TRUE(drain().empty());
}
