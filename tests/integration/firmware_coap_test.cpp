// Firmware over CoAP Block2 (RFC 7959) and the download faults, against the real binary: blocks in
// the size the device asks for, ETag and Size2, 4.04 and 4.02, retransmissions answered from the
// same bytes, a transfer counted once and journaled once, coaps on the device's DTLS session; and
// every fault over CoAP (hand-built datagrams) and over HTTP (a raw socket).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <thread>

#include "client/error.hpp"
#include "client/sync_coap_client.hpp"
#include "protocols/coap/block.hpp"
#include "protocols/coap/message.hpp"
#include "server/ota/firmware_repository.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
namespace ccode = coap::code;
namespace option = coap::option;

constexpr const char* kPskHex = "000102030405060708090a0b0c0d0e0f";
const std::vector<std::uint8_t> kPsk = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
constexpr std::size_t kSize = 5000;

std::string image(std::size_t n = kSize, std::uint64_t seed = 9) {
  std::vector<std::uint8_t> b(n);
  server::ota::generatedBytes(seed, 0, b);
  return {b.begin(), b.end()};
}

class FirmwareCoap : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(call(s_, "POST", "/api/v1/products", {{"id", "p1"}, {"dialect", "generic"}}).status, 201);
    ASSERT_EQ(call(s_, "POST", "/api/v1/devices",
                   {{"id", "d1"},
                    {"productId", "p1"},
                    {"identifiers", {{"nodeId", "node-1"}}},
                    {"secrets", {{"psk", kPskHex}}}})
                  .status,
              201);
    auto f =
        call(s_, "POST", "/api/v1/firmware",
             {{"productId", "p1"}, {"version", "2.0"}, {"name", "app"}, {"generate", {{"size", kSize}, {"seed", 9}}}});
    ASSERT_EQ(f.status, 201) << f.body.dump();
    id_ = f.body["id"];
    firmware_ = f.body;
  }

  /// An offer for d1 (with `faults` when given); its coap path.
  std::string offer(const json& faults = nullptr) {
    json body = {{"deviceId", "d1"}, {"jobId", "job-1"}};
    if (!faults.is_null()) body["faults"] = faults;
    auto o = call(s_, "POST", "/api/v1/firmware/" + id_ + "/offers", body);
    EXPECT_EQ(o.status, 201) << o.body.dump();
    offer_ = o.body;
    const std::string url = o.body["urls"]["coap"];
    return url.substr(url.find("/fw/"));
  }

  coap::Message get(const std::string& path, std::uint16_t mid, std::optional<coap::Block> block = std::nullopt) {
    coap::Message m{.type = coap::Type::Confirmable, .code = ccode::kGet, .messageId = mid, .token = {0x0F, 0x01}};
    m.setUriPath(path);
    if (block) m.set(option::kBlock2, coap::encodeBlock(*block));
    return m;
  }

  static coap::Block blockOf(const coap::Message& m) {
    const auto* o = m.find(option::kBlock2);
    EXPECT_TRUE(o);
    return o ? coap::decodeBlock(o->value).value() : coap::Block{};
  }

  /// Every block of `path` from block `first` in SZX `szx` blocks over `udp`; the bytes.
  std::string fetch(RawUdp& udp, const std::string& path, std::uint8_t szx, std::uint32_t first = 0,
                    std::uint16_t mid = 0x100) {
    std::string out;
    for (std::uint32_t num = first;; ++num) {
      const auto r = udp.exchange(get(path, static_cast<std::uint16_t>(mid + num), coap::Block{num, false, szx}));
      EXPECT_EQ(r.code, ccode::kContent);
      if (r.code != ccode::kContent) break;
      out += r.payloadText();
      if (!blockOf(r).more) break;
    }
    return out;
  }

  json downloads() {
    auto d = call(s_, "GET", "/api/v1/firmware/" + id_ + "/downloads");
    for (const auto& item : d.body["items"])
      if (item["deviceId"] == "d1") return item;
    return json::object();
  }

  std::vector<std::string> journalLines() {
    auto j = call(s_, "GET", "/api/v1/devices/d1/journal");
    std::vector<std::string> out;
    for (const auto& e : j.body["items"])
      if (e["summary"].get<std::string>().find("firmware " + id_) != std::string::npos) out.push_back(e["summary"]);
    return out;
  }

  ServerProcess s_;
  std::string id_;
  json firmware_, offer_;
};

TEST_F(FirmwareCoap, UrlsNameTheCoapPathOnTheBoundPorts) {
  EXPECT_EQ(firmware_["urls"]["coap"], "coap://127.0.0.1:" + std::to_string(s_.coapPort()) + "/fw/" + id_);
  EXPECT_EQ(firmware_["urls"]["coaps"], "coaps://127.0.0.1:" + std::to_string(s_.coapsPort()) + "/fw/" + id_);
  const auto path = offer();
  EXPECT_EQ(offer_["urls"]["coaps"],
            "coaps://127.0.0.1:" + std::to_string(s_.coapsPort()) + "/fw/o/" + offer_["token"].get<std::string>());
  EXPECT_EQ(path, "/fw/o/" + offer_["token"].get<std::string>());
}

TEST_F(FirmwareCoap, BlocksComeInTheAskedSizeWithETagAndSize2) {
  RawUdp udp(s_.coapPort());
  const auto path = offer();
  const auto whole = image();
  auto first = udp.exchange(get(path, 0x10, coap::Block{0, false, 2}));  // 64-byte blocks
  ASSERT_EQ(first.code, ccode::kContent) << first.payloadText();
  EXPECT_EQ(blockOf(first), (coap::Block{0, true, 2}));
  EXPECT_EQ(first.payloadText(), whole.substr(0, 64));
  EXPECT_EQ(first.getUint(option::kSize2), kSize);  // RFC 7959 §4: with the first block
  EXPECT_EQ(first.getUint(option::kContentFormat), coap::format::kOctetStream);
  const auto* etag = first.find(option::kETag);
  ASSERT_TRUE(etag);
  EXPECT_EQ(etag->value.size(), 8u);
  const std::string sha = firmware_["sha256"];
  EXPECT_EQ(static_cast<int>(etag->value[0]),
            std::stoi(sha.substr(0, 2), nullptr, 16));  // the image's SHA-256, first 8 bytes

  auto third = udp.exchange(get(path, 0x11, coap::Block{2, false, 2}));
  EXPECT_EQ(third.payloadText(), whole.substr(128, 64));
  EXPECT_FALSE(third.has(option::kSize2));
  auto asked = get(path, 0x12, coap::Block{3, false, 2});
  asked.setUint(option::kSize2, 0);  // asking for the size
  EXPECT_EQ(udp.exchange(asked).getUint(option::kSize2), kSize);
  EXPECT_EQ(udp.exchange(get(path, 0x13, coap::Block{4, false, 2})).find(option::kETag)->value, etag->value);

  // No Block2: the first block at the server's size (1024); a larger ask is served at 1024 too.
  auto plain = udp.exchange(get("/fw/" + id_, 0x14));
  EXPECT_EQ(blockOf(plain), (coap::Block{0, true, 6}));
  EXPECT_EQ(plain.payload.size(), 1024u);
  // The last block is short and has M clear.
  auto last = udp.exchange(get("/fw/" + id_, 0x15, coap::Block{4, false, 6}));
  EXPECT_EQ(blockOf(last), (coap::Block{4, false, 6}));
  EXPECT_EQ(last.payloadText(), whole.substr(4096));
}

TEST_F(FirmwareCoap, UnknownPathsAndTokensAre404AndABlockPastTheEndIs402) {
  RawUdp udp(s_.coapPort());
  EXPECT_EQ(udp.exchange(get("/fw/o/nosuchtoken", 0x20)).code, ccode::kNotFound);
  EXPECT_EQ(udp.exchange(get("/fw/fw-none", 0x21)).code, ccode::kNotFound);
  EXPECT_EQ(udp.exchange(get("/fw/" + id_ + "/x", 0x22)).code, ccode::kNotFound);
  EXPECT_EQ(udp.exchange(get("/fw", 0x23)).code, ccode::kNotFound);
  EXPECT_EQ(udp.exchange(get("/fw/" + id_, 0x24, coap::Block{5, false, 6})).code, ccode::kBadOption);
  auto put = get("/fw/" + id_, 0x25);
  put.code = ccode::kPut;
  EXPECT_EQ(udp.exchange(put).code, ccode::kMethodNotAllowed);
}

TEST_F(FirmwareCoap, ARetransmissionIsAnsweredWithTheSameBytesAndCountedOnce) {
  RawUdp udp(s_.coapPort());
  const auto path = offer();
  const auto wire = coap::encode(get(path, 0x30, coap::Block{0, false, 4})).value();
  udp.send(wire);
  const auto a = udp.receiveBytes();
  udp.send(wire);  // the same message id: a retransmission (RFC 7252 §4.5)
  const auto b = udp.receiveBytes();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  // The rest of the transfer; one download, one journal line.
  EXPECT_EQ(fetch(udp, path, 4, 1), image().substr(256));
  auto d = downloads();
  EXPECT_EQ(d["requests"], 1);
  EXPECT_EQ(d["completed"], 1);
  EXPECT_EQ(d["resumed"], 0);
  EXPECT_EQ(d["bytesServed"], kSize);
  const auto lines = journalLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("20 blocks, 5000 bytes sent, complete"), std::string::npos) << lines[0];
}

TEST_F(FirmwareCoap, AResumeFromALaterBlockCountsAsResumedAndAnIdleTransferIsCutOnThePlatformClock) {
  RawUdp udp(s_.coapPort());
  const auto path = offer();
  const auto whole = image();
  EXPECT_EQ(udp.exchange(get(path, 0x40, coap::Block{0, false, 5})).payloadText(), whole.substr(0, 512));
  // The device goes quiet; a minute of platform time later the transfer is over, cut.
  ASSERT_EQ(call(s_, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 61}}).status, 200);
  for (int i = 0; i < 100 && journalLines().empty(); ++i) std::this_thread::sleep_for(20ms);
  auto lines = journalLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("1 blocks, 512 bytes sent, cut: no block asked for"), std::string::npos) << lines[0];
  EXPECT_EQ(fetch(udp, path, 5, 1, 0x50), whole.substr(512));
  auto d = downloads();
  EXPECT_EQ(d["requests"], 2);
  EXPECT_EQ(d["resumed"], 1);
  EXPECT_EQ(d["completed"], 1);
  EXPECT_EQ(d["bytesServed"], kSize);
}

TEST_F(FirmwareCoap, TheClientLibraryDownloadsOverCoapAndOverTheDevicesDtlsSession) {
  const auto path = offer();
  client::SyncCoapClient plain(s_.coap());
  auto r = plain.get(path, coap::RequestOptions{.block2Szx = 3});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->payloadText(), image());

  client::CoapDtlsOptions dtls;
  dtls.identity = "node-1";
  dtls.key = kPsk;
  client::SyncCoapClient secure(s_.coaps(dtls));
  auto s = secure.get(path);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->payloadText(), image());
  for (int i = 0; i < 100 && journalLines().size() < 2; ++i) std::this_thread::sleep_for(20ms);
  const auto lines = journalLines();
  ASSERT_EQ(lines.size(), 2u);
  auto j = call(s_, "GET", "/api/v1/devices/d1/journal");
  std::vector<std::string> transports;
  for (const auto& e : j.body["items"])
    if (e["summary"].get<std::string>().find("firmware " + id_) != std::string::npos)
      transports.push_back(e["transport"]);
  EXPECT_EQ(transports, (std::vector<std::string>{"coap", "coaps"}));
  EXPECT_EQ(downloads()["completed"], 2);
}

// --- the client library's block-wise download ---

TEST_F(FirmwareCoap, TheClientDownloadsBlockWiseAndResumesAfterADropWithTheSameETag) {
  const auto path = offer({{"dropConnectionAt", 2100}});
  auto options = s_.coap();
  options.transmission.maxRetransmit = 1;  // give up on the dropped block after 1.5 s
  client::SyncCoapClient c(options);
  auto first = c.download(path, {.szx = 5});  // 512-byte blocks: [2048, 2560) crosses 2100
  EXPECT_EQ(first.result.error, coap::RequestError::Timeout) << first.result.error.message();
  EXPECT_EQ(first.result.offset, 2048u);
  EXPECT_EQ(first.result.nextBlock, 4u);
  EXPECT_EQ(first.result.size, kSize);
  EXPECT_EQ(first.result.etag.size(), 8u);
  const auto whole = image();
  EXPECT_EQ(first.bytes, std::vector<std::uint8_t>(whole.begin(), whole.begin() + 2048));

  auto rest = c.download(path, {.szx = 5, .fromBlock = first.result.nextBlock, .etag = first.result.etag});
  EXPECT_FALSE(rest.result.error) << rest.result.error.message();
  EXPECT_EQ(rest.result.offset, kSize);
  std::string all(first.bytes.begin(), first.bytes.end());
  all.append(rest.bytes.begin(), rest.bytes.end());
  EXPECT_EQ(all, whole);
  auto d = downloads();
  EXPECT_EQ(d["requests"], 2);
  EXPECT_EQ(d["resumed"], 1);
  EXPECT_EQ(d["completed"], 1);
}

TEST_F(FirmwareCoap, TheClientRefusesAnotherETagAndReportsAnErrorCode) {
  client::SyncCoapClient c(s_.coap());
  auto changed = c.download("/fw/" + id_, {.szx = 6, .fromBlock = 2, .etag = std::vector<std::uint8_t>{1, 2, 3}});
  EXPECT_EQ(changed.result.error, coap::RequestError::BlockMismatch);
  EXPECT_TRUE(changed.bytes.empty());
  EXPECT_EQ(changed.result.nextBlock, 2u);  // nothing taken: resume from the same block … or start again

  auto missing = c.download("/fw/o/nosuchtoken");
  EXPECT_EQ(missing.result.error, client::Error::ErrorResponse);
  EXPECT_EQ(missing.result.code, ccode::kNotFound);

  // A server that shrinks the blocks: 1024 asked, 1024 the most it sends; the whole image at 16 too.
  auto tiny = c.download("/fw/" + id_, {.szx = 0});
  EXPECT_FALSE(tiny.result.error);
  EXPECT_EQ(std::string(tiny.bytes.begin(), tiny.bytes.end()), image());
  EXPECT_EQ(tiny.result.blocks, (kSize + 15) / 16);
}

// --- faults over CoAP ---

TEST_F(FirmwareCoap, CorruptionFlipsOneByteOfItsBlock) {
  RawUdp udp(s_.coapPort());
  const auto path = offer({{"corruptAt", 1000}});
  auto got = fetch(udp, path, 6);
  auto want = image();
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(static_cast<unsigned char>(got[1000]), static_cast<unsigned char>(want[1000] ^ 0xFF));
  got[1000] = want[1000];
  EXPECT_EQ(got, want);
  const auto lines = journalLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("[faults: corruptAt=1000]"), std::string::npos) << lines[0];
}

TEST_F(FirmwareCoap, TruncationEndsTheTransferEarlyWithTheFullSizeAnnounced) {
  RawUdp udp(s_.coapPort());
  const auto path = offer({{"truncateAt", 1100}});
  auto first = udp.exchange(get(path, 0x60, coap::Block{0, false, 6}));
  EXPECT_EQ(first.getUint(option::kSize2), kSize);
  auto second = udp.exchange(get(path, 0x61, coap::Block{1, false, 6}));
  EXPECT_EQ(blockOf(second), (coap::Block{1, false, 6}));  // M clear: the image "ends" here
  EXPECT_EQ(second.payload.size(), 76u);
  EXPECT_EQ(downloads()["completed"], 0);
  ASSERT_EQ(journalLines().size(), 1u);
  EXPECT_NE(journalLines()[0].find("truncated at offset 1100"), std::string::npos) << journalLines()[0];
}

TEST_F(FirmwareCoap, FailWithAnswersTheCodeAndHttpGetsItsNearestStatus) {
  RawUdp udp(s_.coapPort());
  ASSERT_EQ(call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"failWith", "4.04"}}).status, 200);
  EXPECT_EQ(udp.exchange(get("/fw/" + id_, 0x70)).code, ccode::kNotFound);
  auto http = httpRequest(s_.httpPort(), "GET", "/ota/firmware/" + id_);
  EXPECT_EQ(http.status, 404);
  EXPECT_EQ(json::parse(http.body, nullptr, false)["error"]["code"], "download_fault");
  ASSERT_EQ(call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"failWith", 503}}).status, 200);
  EXPECT_EQ(udp.exchange(get("/fw/" + id_, 0x71)).code, ccode::kServiceUnavailable);
  // An offer's faults win over the firmware's; {} on the offer means "none of its own".
  const auto path = offer({{"corruptAt", 5}});
  EXPECT_EQ(udp.exchange(get(path, 0x72)).code, ccode::kContent);
  ASSERT_EQ(call(s_, "DELETE", "/api/v1/firmware/" + id_ + "/faults").status, 200);
  EXPECT_EQ(call(s_, "GET", "/api/v1/firmware/" + id_ + "/faults").body, json::object());
  EXPECT_EQ(udp.exchange(get("/fw/" + id_, 0x73)).code, ccode::kContent);
}

TEST_F(FirmwareCoap, AStallIsAnEmptyAckAndNoResponse) {
  RawUdp udp(s_.coapPort());
  const auto path = offer({{"stallAfter", 2048}});
  EXPECT_EQ(udp.exchange(get(path, 0x80, coap::Block{0, false, 6})).code, ccode::kContent);
  EXPECT_EQ(udp.exchange(get(path, 0x81, coap::Block{1, false, 6})).code, ccode::kContent);
  auto ack = udp.exchange(get(path, 0x82, coap::Block{2, false, 6}));
  EXPECT_EQ(ack.type, coap::Type::Acknowledgement);  // the promise of a separate response (RFC 7252 §5.2.2) …
  EXPECT_EQ(ack.code, ccode::kEmpty);
  EXPECT_FALSE(udp.receive(1500ms));  // … never kept
  const auto lines = journalLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("2 blocks, 2048 bytes sent, stalled at offset 2048"), std::string::npos) << lines[0];
}

TEST_F(FirmwareCoap, ADropStopsAnsweringAndAResumeFromThereIsServed) {
  RawUdp udp(s_.coapPort());
  const auto path = offer({{"dropConnectionAt", 1500}});
  EXPECT_EQ(udp.exchange(get(path, 0x90, coap::Block{0, false, 6})).code, ccode::kContent);
  const auto cut = get(path, 0x91, coap::Block{1, false, 6});  // [1024, 2048) crosses 1500
  udp.send(cut);
  EXPECT_FALSE(udp.receive(1s));
  udp.send(cut);  // its retransmission is not answered either
  EXPECT_FALSE(udp.receive(1s));
  // The device gives up on that exchange and asks again: a new transfer from block 1, served.
  EXPECT_EQ(fetch(udp, path, 6, 1, 0xA0), image().substr(1024));
  auto d = downloads();
  EXPECT_EQ(d["requests"], 2);
  EXPECT_EQ(d["resumed"], 1);
  EXPECT_EQ(d["completed"], 1);
  const auto lines = journalLines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("dropped at offset 1024"), std::string::npos) << lines[0];
}

TEST_F(FirmwareCoap, AThrottledBlockComesAsASeparateResponse) {
  RawUdp udp(s_.coapPort());
  const auto path = offer({{"throttleBytesPerSec", 2048}});
  auto ack = udp.exchange(get(path, 0xB0, coap::Block{0, false, 6}));
  EXPECT_EQ(ack.type, coap::Type::Acknowledgement);
  EXPECT_EQ(ack.code, ccode::kEmpty);
  auto later = udp.receive(3s);  // 1024 bytes at 2048 B/s
  ASSERT_TRUE(later);
  EXPECT_EQ(later->type, coap::Type::Confirmable);
  EXPECT_EQ(later->token, (std::vector<std::uint8_t>{0x0F, 0x01}));
  EXPECT_EQ(later->payloadText(), image().substr(0, 1024));
  udp.send(coap::Message{.type = coap::Type::Acknowledgement, .code = ccode::kEmpty, .messageId = later->messageId});
}

TEST_F(FirmwareCoap, BadFaultsAre400WithTheJsonErrorShape) {
  for (const auto& bad : {json{{"corruptAt", -5}}, json{{"failWith", 200}}, json{{"stall", 1}}, json::array()}) {
    auto r = call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", bad);
    EXPECT_EQ(r.status, 400) << bad.dump();
    EXPECT_EQ(r.body["error"]["code"], "invalid") << r.body.dump();
    auto o = call(s_, "POST", "/api/v1/firmware/" + id_ + "/offers", {{"deviceId", "d1"}, {"faults", bad}});
    EXPECT_EQ(o.status, 400) << bad.dump();
  }
  EXPECT_EQ(call(s_, "PUT", "/api/v1/firmware/fw-none/faults", json::object()).status, 404);
  auto ok = call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"truncateAt", 10}, {"failWith", "5.03"}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(call(s_, "GET", "/api/v1/firmware/" + id_ + "/faults").body,
            (json{{"truncateAt", 10}, {"failWith", "5.03"}}));
}

// --- faults over HTTP ---

struct Raw {
  int status = 0;
  std::string body;
  bool closed = false;  // the server closed the connection
};

/// GET `path` on a raw connection; reads until the server closes or `quiet` passes without bytes.
Raw httpGet(std::uint16_t port, const std::string& path, const std::string& extra = "",
            std::chrono::milliseconds quiet = 3s) {
  RawConnection c(port);
  c.send(bytes("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n"));
  std::string all;
  Raw r;
  while (true) {
    auto chunk = c.receive(quiet);
    if (chunk.empty()) break;
    all += text(chunk);
  }
  r.closed = c.closedByPeer(100ms);
  const auto sep = all.find("\r\n\r\n");
  if (all.size() < 12 || sep == std::string::npos) return r;
  r.status = std::atoi(all.substr(9, 3).c_str());
  r.body = all.substr(sep + 4);
  return r;
}

TEST_F(FirmwareCoap, HttpCorruptionTruncationAndDrop) {
  const auto whole = image();
  const std::string path = "/ota/firmware/" + id_;
  ASSERT_EQ(call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"corruptAt", 4999}}).status, 200);
  auto corrupt = httpGet(s_.httpPort(), path, "Connection: close\r\n");
  ASSERT_EQ(corrupt.body.size(), kSize);
  EXPECT_EQ(static_cast<unsigned char>(corrupt.body[4999]), static_cast<unsigned char>(whole[4999] ^ 0xFF));
  EXPECT_EQ(corrupt.body.substr(0, 4999), whole.substr(0, 4999));

  ASSERT_EQ(call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"truncateAt", 3000}}).status, 200);
  auto truncated = httpGet(s_.httpPort(), path);
  EXPECT_EQ(truncated.status, 200);
  EXPECT_EQ(truncated.body, whole.substr(0, 3000));  // Content-Length said 5000
  EXPECT_TRUE(truncated.closed);

  ASSERT_EQ(call(s_, "PUT", "/api/v1/firmware/" + id_ + "/faults", {{"dropConnectionAt", 2000}}).status, 200);
  auto dropped = httpGet(s_.httpPort(), path);
  EXPECT_EQ(dropped.body, whole.substr(0, 2000));
  EXPECT_TRUE(dropped.closed);
  auto resumed = httpGet(s_.httpPort(), path, "Range: bytes=2000-\r\nConnection: close\r\n");
  EXPECT_EQ(resumed.status, 206);
  EXPECT_EQ(resumed.body, whole.substr(2000));
}

TEST_F(FirmwareCoap, HttpStallKeepsTheConnectionOpenAndThrottleDeliversEverything) {
  const auto whole = image();
  const std::string path = "/ota/o/" + offer({{"stallAfter", 1000}}).substr(6);
  {
    RawConnection c(s_.httpPort());
    c.send(bytes("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string all;
    while (true) {
      auto chunk = c.receive(1500ms);
      if (chunk.empty()) break;
      all += text(chunk);
    }
    EXPECT_EQ(all.substr(all.find("\r\n\r\n") + 4), whole.substr(0, 1000));
    EXPECT_FALSE(c.closedByPeer(500ms));  // stalled, not closed
  }
  const std::string throttled = "/ota/o/" + offer({{"throttleBytesPerSec", 10000}}).substr(6);
  auto r = httpGet(s_.httpPort(), throttled, "Connection: close\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, whole);
  for (int i = 0; i < 100 && journalLines().size() < 2; ++i) std::this_thread::sleep_for(20ms);
  const auto lines = journalLines();
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("[faults: throttleBytesPerSec=10000]"), std::string::npos) << lines.back();
}

}  // namespace
}  // namespace fc::test
