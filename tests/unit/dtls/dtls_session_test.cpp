// DtlsServer and DtlsClient talking to each other in memory: every datagram passes through the test,
// which can drop, corrupt or reorder it.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dtls/dtls.hpp"
#include "dtls/record.hpp"

namespace {

using namespace std::chrono_literals;
using namespace fc::dtls;
using Bytes = std::vector<std::uint8_t>;

const Bytes kKey{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};

Bytes bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes addressOf(const PeerKey& key) { return Bytes(key.begin(), key.end()); }

std::optional<std::uint8_t> firstHandshakeType(const Bytes& d) {
  const auto records = inspectRecords(d);
  return records.empty() ? std::nullopt : records.front().handshakeType;
}

template <class T>
std::vector<T> only(const std::vector<Action>& actions) {
  std::vector<T> out;
  for (const auto& a : actions)
    if (const auto* t = std::get_if<T>(&a)) out.push_back(*t);
  return out;
}

// Handshake retransmission runs on real time: tests that want it use 20 ms timers; the others keep
// 1 s so that a slow, shared build machine does not retransmit behind their back.
constexpr auto kFast = 20ms;

ServerConfig serverConfig(std::chrono::milliseconds retransmit = 1s) {
  ServerConfig c;
  c.retransmitInitial = retransmit;
  return c;
}

ClientConfig clientConfig(std::string identity = "dev1", Bytes key = kKey, std::chrono::milliseconds retransmit = 1s) {
  ClientConfig c;
  c.peer = "server";
  c.identity = std::move(identity);
  c.key = std::move(key);
  c.retransmitInitial = retransmit;
  return c;
}

ClientConfig fastClient() { return clientConfig("dev1", kKey, kFast); }

struct Device {
  PeerKey key;
  DtlsClient client;
  std::vector<Action> events;     // the client's non-datagram actions
  std::deque<Bytes> toServer;     // datagrams the client sent, not yet delivered
  std::deque<Bytes> fromServer;   // datagrams the server sent to it, not yet delivered
};

class World {
 public:
  explicit World(ServerConfig config = serverConfig())
      : server(std::move(*DtlsServer::create(std::move(config), [this](std::string_view id) -> std::optional<Bytes> {
          auto it = keys.find(std::string(id));
          if (it == keys.end()) return std::nullopt;
          return it->second;
        }))) {
    keys["dev1"] = kKey;
  }

  Device& device(const PeerKey& key, ClientConfig config = clientConfig()) {
    auto client = DtlsClient::create(std::move(config));
    EXPECT_TRUE(client) << (client ? "" : client.error());
    devices.erase(key);
    return devices.emplace(key, Device{key, std::move(*client), {}, {}, {}}).first->second;
  }

  void fromServer(std::vector<Action> actions) {
    for (auto& a : actions) {
      if (auto* d = std::get_if<SendDatagram>(&a)) {
        auto it = devices.find(d->peer);
        ASSERT_NE(it, devices.end()) << "datagram to unknown peer " << d->peer;
        it->second.fromServer.push_back(std::move(d->bytes));
      } else {
        events.push_back(std::move(a));
      }
    }
  }

  static void fromClient(Device& dev, std::vector<Action> actions) {
    for (auto& a : actions) {
      if (auto* d = std::get_if<SendDatagram>(&a))
        dev.toServer.push_back(std::move(d->bytes));
      else
        dev.events.push_back(std::move(a));
    }
  }

  void toServer(Device& dev, TimePoint at) {
    while (!dev.toServer.empty()) {
      Bytes d = std::move(dev.toServer.front());
      dev.toServer.pop_front();
      fromServer(server.receive(dev.key, addressOf(dev.key), d, at));
    }
  }
  void toClient(Device& dev, TimePoint at) {
    while (!dev.fromServer.empty()) {
      Bytes d = std::move(dev.fromServer.front());
      dev.fromServer.pop_front();
      fromClient(dev, dev.client.receive(d, at));
    }
  }
  // Delivers both ways until nothing is in flight.
  void run(Device& dev, TimePoint at) {
    for (int round = 0; round < 20 && (!dev.toServer.empty() || !dev.fromServer.empty()); ++round) {
      toServer(dev, at);
      toClient(dev, at);
    }
  }
  void connect(Device& dev, TimePoint at) {
    fromClient(dev, dev.client.start(at));
    run(dev, at);
  }

  std::map<std::string, Bytes> keys;
  DtlsServer server;
  std::vector<Action> events;  // the server's non-datagram actions
  std::map<PeerKey, Device> devices;
  TimePoint t0 = Clock::now();
};

// ---- configuration ---------------------------------------------------------------------------

TEST(DtlsConfig, AcceptsIanaAndOpensslNames) {
  ClientConfig c = clientConfig();
  c.ciphers = {"TLS_PSK_WITH_AES_128_CCM_8", "PSK-AES128-CBC-SHA256"};
  EXPECT_TRUE(DtlsClient::create(c));
  EXPECT_TRUE(DtlsServer::create({}, [](std::string_view) { return std::optional<Bytes>(); }));
}

TEST(DtlsConfig, RejectsBadConfigurationsPrecisely) {
  auto lookup = [](std::string_view) { return std::optional<Bytes>(); };
  ServerConfig s;
  s.ciphers = {"TLS_PSK_WITH_AES_128_CCM_8", "TLS_NO_SUCH_SUITE"};
  auto r = DtlsServer::create(s, lookup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "unknown cipher suite 'TLS_NO_SUCH_SUITE'");

  s.ciphers = {"ECDHE-RSA-AES128-GCM-SHA256"};
  r = DtlsServer::create(s, lookup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "cipher suite 'ECDHE-RSA-AES128-GCM-SHA256' is not a plain PSK suite (RFC 4279 §2)");

  s.ciphers = {};
  EXPECT_FALSE(DtlsServer::create(s, lookup));
  EXPECT_FALSE(DtlsServer::create({}, nullptr));
  ServerConfig tinyMtu;
  tinyMtu.mtu = 100;
  EXPECT_FALSE(DtlsServer::create(tinyMtu, lookup));

  EXPECT_FALSE(DtlsClient::create(clientConfig("", kKey)));
  EXPECT_FALSE(DtlsClient::create(clientConfig("dev1", {})));
  EXPECT_FALSE(DtlsClient::create(clientConfig(std::string("a\0b", 3), kKey)));
}

// ---- handshakes per suite ----------------------------------------------------------------------

class DtlsSuite : public ::testing::TestWithParam<std::string_view> {};

TEST_P(DtlsSuite, NegotiatesTheOnlySuiteOfferedAndCarriesDataBothWays) {
  World w;
  ClientConfig c = clientConfig();
  c.ciphers = {std::string(GetParam())};
  Device& dev = w.device("127.0.0.1:40000", c);
  w.connect(dev, w.t0);

  ASSERT_EQ(dev.client.state(), DtlsClient::State::Established);
  EXPECT_EQ(dev.client.cipher(), GetParam());
  const auto serverUp = only<Established>(w.events);
  ASSERT_EQ(serverUp.size(), 1u);
  EXPECT_EQ(serverUp[0], (Established{"127.0.0.1:40000", "dev1", std::string(GetParam())}));
  EXPECT_EQ(only<Established>(dev.events), (std::vector<Established>{{"server", "dev1", std::string(GetParam())}}));
  EXPECT_TRUE(w.server.isEstablished("127.0.0.1:40000"));
  EXPECT_EQ(w.server.established(), 1u);
  EXPECT_EQ(w.server.halfOpen(), 0u);

  auto up = dev.client.send(bytes("uplink"));
  ASSERT_TRUE(up);
  World::fromClient(dev, std::move(*up));
  w.toServer(dev, w.t0);
  EXPECT_EQ(only<Received>(w.events), (std::vector<Received>{{"127.0.0.1:40000", bytes("uplink")}}));

  auto down = w.server.send("127.0.0.1:40000", bytes("downlink"));
  ASSERT_TRUE(down);
  w.fromServer(std::move(*down));
  w.toClient(dev, w.t0);
  EXPECT_EQ(only<Received>(dev.events), (std::vector<Received>{{"server", bytes("downlink")}}));
}

INSTANTIATE_TEST_SUITE_P(AllDefaultSuites, DtlsSuite,
                         ::testing::Values(kPskAes128CbcSha256, kPskAes256CbcSha, kPskAes128CbcSha, kPskAes128Ccm8),
                         [](const auto& info) {
                           std::string n(info.param);
                           for (auto& ch : n)
                             if (ch == '-') ch = '_';
                           return n;
                         });

TEST(DtlsHandshake, CoapSizedRecordFitsTheMtu) {
  World w;
  Device& dev = w.device("127.0.0.1:40000");
  w.connect(dev, w.t0);
  ASSERT_EQ(dev.client.state(), DtlsClient::State::Established);
  // RFC 7252 §4.6: 1152 bytes is the CoAP message size to plan for; CBC-SHA256 has the largest overhead.
  auto out = w.server.send("127.0.0.1:40000", Bytes(1152, 0x5A));
  ASSERT_TRUE(out);
  const auto datagrams = only<SendDatagram>(*out);
  ASSERT_EQ(datagrams.size(), 1u);
  EXPECT_LE(datagrams[0].bytes.size(), kDefaultMtu);
  // Every datagram of the handshake respected the MTU too (they are small for PSK).
  EXPECT_EQ(w.server.send("127.0.0.1:40000", Bytes(kMaxPlaintext + 1)).error(), SendError::TooLarge);
  EXPECT_EQ(w.server.send("127.0.0.1:9", bytes("x")).error(), SendError::NoSession);
  EXPECT_STREQ(sendErrorName(SendError::NoSession), "no established DTLS session with that peer");
}

// ---- cookies -------------------------------------------------------------------------------------

TEST(DtlsCookie, FirstClientHelloGetsHelloVerifyRequestAndLeavesNoState) {
  World w;
  Device& dev = w.device("127.0.0.1:40000");
  World::fromClient(dev, dev.client.start(w.t0));
  ASSERT_EQ(dev.toServer.size(), 1u);
  const auto hello = parseClientHello(dev.toServer.front());
  ASSERT_TRUE(hello);
  EXPECT_TRUE(hello->cookie.empty());

  w.toServer(dev, w.t0);
  ASSERT_EQ(dev.fromServer.size(), 1u);
  EXPECT_EQ(firstHandshakeType(dev.fromServer.front()), static_cast<std::uint8_t>(HandshakeType::HelloVerifyRequest));
  EXPECT_EQ(w.server.halfOpen(), 0u);
  EXPECT_EQ(w.server.established(), 0u);
  EXPECT_FALSE(w.server.nextDeadline());
  EXPECT_EQ(w.server.stats().helloVerifySent, 1u);
  EXPECT_TRUE(w.events.empty());

  // The cookie-bearing ClientHello creates the session and gets the ServerHello flight.
  w.toClient(dev, w.t0);
  ASSERT_EQ(dev.toServer.size(), 1u);
  const auto second = parseClientHello(dev.toServer.front());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->cookie.size(), 32u);
  w.toServer(dev, w.t0);
  ASSERT_FALSE(dev.fromServer.empty());
  EXPECT_EQ(firstHandshakeType(dev.fromServer.front()), static_cast<std::uint8_t>(HandshakeType::ServerHello));
  EXPECT_EQ(w.server.halfOpen(), 1u);
  EXPECT_TRUE(w.server.nextDeadline());
}

TEST(DtlsCookie, CookieIsBoundToThePeerAddress) {
  World w;
  Device& dev = w.device("127.0.0.1:40000");
  World::fromClient(dev, dev.client.start(w.t0));
  w.toServer(dev, w.t0);
  w.toClient(dev, w.t0);
  ASSERT_EQ(dev.toServer.size(), 1u);
  // The same cookie-bearing ClientHello from another address (a spoofer replaying it) gets only a
  // new HelloVerifyRequest.
  w.device("127.0.0.1:40001");
  w.fromServer(w.server.receive("127.0.0.1:40001", addressOf("127.0.0.1:40001"), dev.toServer.front(), w.t0));
  const auto& other = w.devices.at("127.0.0.1:40001");
  ASSERT_EQ(other.fromServer.size(), 1u);
  EXPECT_EQ(firstHandshakeType(other.fromServer.front()), static_cast<std::uint8_t>(HandshakeType::HelloVerifyRequest));
  EXPECT_EQ(w.server.halfOpen(), 0u);
}

TEST(DtlsCookie, StaleCookieAfterTwoSecretLifetimesIsRefused) {
  ServerConfig config = serverConfig();
  config.cookieSecretLifetime = 10s;
  World w(config);
  Device& dev = w.device("127.0.0.1:40000");
  World::fromClient(dev, dev.client.start(w.t0));
  w.toServer(dev, w.t0);
  w.toClient(dev, w.t0);
  // One rotation later the cookie is still good (previous secret)…
  w.fromServer(w.server.receive(dev.key, addressOf(dev.key), dev.toServer.front(), w.t0 + 15s));
  ASSERT_FALSE(dev.fromServer.empty());
  EXPECT_EQ(firstHandshakeType(dev.fromServer.front()), static_cast<std::uint8_t>(HandshakeType::ServerHello));
  EXPECT_EQ(w.server.halfOpen(), 1u);

  // …two rotations later it is not: a fresh HelloVerifyRequest, no new session.
  World w2(config);
  Device& dev2 = w2.device("127.0.0.1:40000");
  World::fromClient(dev2, dev2.client.start(w2.t0));
  w2.toServer(dev2, w2.t0);
  w2.toClient(dev2, w2.t0);
  w2.fromServer(w2.server.receive(dev2.key, addressOf(dev2.key), dev2.toServer.front(), w2.t0 + 20s));
  ASSERT_EQ(dev2.fromServer.size(), 1u);
  EXPECT_EQ(firstHandshakeType(dev2.fromServer.back()), static_cast<std::uint8_t>(HandshakeType::HelloVerifyRequest));
  EXPECT_EQ(w2.server.halfOpen(), 0u);
  EXPECT_EQ(w2.server.stats().helloVerifySent, 2u);
}

// ---- failures --------------------------------------------------------------------------------------

TEST(DtlsFailure, WrongKeyFailsBothSidesWithAReason) {
  for (const auto& suite : defaultCiphers()) {
    SCOPED_TRACE(suite);
    World w;
    Bytes wrong = kKey;
    wrong[0] ^= 1;
    ClientConfig c = clientConfig("dev1", wrong);
    c.ciphers = {suite};
    Device& dev = w.device("127.0.0.1:40000", c);
    w.connect(dev, w.t0);

    const auto serverFailed = only<Failed>(w.events);
    ASSERT_EQ(serverFailed.size(), 1u);
    EXPECT_EQ(serverFailed[0].why, "the client's Finished did not decrypt: wrong PSK for identity 'dev1'");
    EXPECT_EQ(w.server.halfOpen(), 0u);
    EXPECT_EQ(dev.client.state(), DtlsClient::State::Failed);
    const auto clientFailed = only<Failed>(dev.events);
    ASSERT_EQ(clientFailed.size(), 1u);
    EXPECT_EQ(clientFailed[0].why, "peer sent fatal alert 'bad record mac'");
    EXPECT_EQ(w.server.stats().failed, 1u);
  }
}

TEST(DtlsFailure, UnknownIdentityFails) {
  World w;
  Device& dev = w.device("127.0.0.1:40000", clientConfig("nobody"));
  w.connect(dev, w.t0);
  const auto serverFailed = only<Failed>(w.events);
  ASSERT_EQ(serverFailed.size(), 1u);
  EXPECT_EQ(serverFailed[0].why, "unknown PSK identity 'nobody'");
  const auto clientFailed = only<Failed>(dev.events);
  ASSERT_EQ(clientFailed.size(), 1u);
  EXPECT_EQ(clientFailed[0].why, "peer sent fatal alert 'unknown PSK identity'");
  EXPECT_EQ(w.server.halfOpen(), 0u);
  EXPECT_FALSE(w.server.nextDeadline());
}

TEST(DtlsFailure, NoSharedSuiteFailsWithOpensslsReason) {
  ServerConfig config = serverConfig();
  config.ciphers = {std::string(kPskAes128Ccm8)};
  World w(config);
  ClientConfig c = clientConfig();
  c.ciphers = {std::string(kPskAes128CbcSha)};
  Device& dev = w.device("127.0.0.1:40000", c);
  w.connect(dev, w.t0);
  EXPECT_EQ(only<Failed>(w.events),
            (std::vector<Failed>{{"127.0.0.1:40000", "sent fatal alert 'handshake failure' (no shared cipher)"}}));
  EXPECT_EQ(only<Failed>(dev.events), (std::vector<Failed>{{"server", "peer sent fatal alert 'handshake failure'"}}));
}

TEST(DtlsFailure, ThrowingLookupFailsTheHandshake) {
  auto server = DtlsServer::create(serverConfig(), [](std::string_view) -> std::optional<Bytes> {
    throw std::runtime_error("database is locked");
  });
  ASSERT_TRUE(server);
  World w;
  w.server = std::move(*server);
  Device& dev = w.device("127.0.0.1:40000");
  w.connect(dev, w.t0);
  const auto failed = only<Failed>(w.events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].why, "PSK lookup for identity 'dev1' failed: database is locked");
}

TEST(DtlsFailure, GarbageAndTruncatedDatagramsLeaveNoState) {
  World w;
  const PeerKey peer = "127.0.0.1:40000";
  Device& dev = w.device(peer);
  World::fromClient(dev, dev.client.start(w.t0));
  const Bytes hello = dev.toServer.front();

  std::vector<Bytes> junk{{}, {0x00}, bytes("GET /hello HTTP/1.1\r\n"), Bytes(2000, 0x16)};
  for (std::size_t n = 1; n < hello.size(); n += 7) junk.emplace_back(hello.begin(), hello.begin() + static_cast<long>(n));
  Bytes badLength = hello;
  badLength[12] = 0xFF;  // record length past the end
  junk.push_back(badLength);
  for (const auto& j : junk) {
    EXPECT_TRUE(w.server.receive(peer, addressOf(peer), j, w.t0).empty());
  }
  EXPECT_EQ(w.server.halfOpen(), 0u);
  EXPECT_FALSE(w.server.nextDeadline());
  EXPECT_EQ(w.server.stats().dropped, junk.size());
  EXPECT_EQ(w.server.stats().helloVerifySent, 0u);

  // An established session ignores garbage too (RFC 6347 §4.1.2.7) and keeps working.
  w.run(dev, w.t0);
  ASSERT_TRUE(w.server.isEstablished(peer));
  w.events.clear();
  for (const auto& j : junk) EXPECT_TRUE(w.server.receive(peer, addressOf(peer), j, w.t0).empty());
  Bytes forged{0x17, 0xFE, 0xFD, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63, 0x00, 0x20};
  forged.resize(forged.size() + 0x20, 0xAB);  // application data that fails to decrypt
  EXPECT_TRUE(w.server.receive(peer, addressOf(peer), forged, w.t0).empty());
  EXPECT_TRUE(w.server.isEstablished(peer));
  auto up = dev.client.send(bytes("still here"));
  World::fromClient(dev, std::move(*up));
  w.toServer(dev, w.t0);
  EXPECT_EQ(only<Received>(w.events), (std::vector<Received>{{peer, bytes("still here")}}));
}

// ---- timers ---------------------------------------------------------------------------------------

TEST(DtlsTimers, LostServerFlightIsRecoveredByRetransmission) {
  World w(serverConfig(kFast));
  Device& dev = w.device("127.0.0.1:40000", fastClient());
  World::fromClient(dev, dev.client.start(Clock::now()));
  w.toServer(dev, Clock::now());
  w.toClient(dev, Clock::now());  // HelloVerifyRequest → ClientHello with cookie
  w.toServer(dev, Clock::now());  // → ServerHello, ServerHelloDone
  ASSERT_FALSE(dev.fromServer.empty());
  dev.fromServer.clear();  // lost
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Handshaking);

  // Both timers (20 ms here, 1 s by default) run on real time.
  const auto deadline = dev.client.nextDeadline();
  ASSERT_TRUE(deadline);
  EXPECT_LE(*deadline - Clock::now(), 25ms);
  std::this_thread::sleep_for(30ms);
  World::fromClient(dev, dev.client.tick(Clock::now()));
  ASSERT_EQ(dev.toServer.size(), 1u) << "the client retransmits its ClientHello";
  ASSERT_TRUE(parseClientHello(dev.toServer.front()));
  w.fromServer(w.server.tick(Clock::now()));
  EXPECT_FALSE(dev.fromServer.empty()) << "the server retransmits its flight";
  w.run(dev, Clock::now());
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Established);
  EXPECT_EQ(w.server.established(), 1u);
}

TEST(DtlsTimers, LostFinalFlightIsResentWhenTheClientRetransmits) {
  World w;
  Device& dev = w.device("127.0.0.1:40000", fastClient());
  World::fromClient(dev, dev.client.start(Clock::now()));
  for (int i = 0; i < 2; ++i) {
    w.toServer(dev, Clock::now());
    w.toClient(dev, Clock::now());
  }
  w.toServer(dev, Clock::now());  // the client's Finished: the server is done
  ASSERT_TRUE(w.server.isEstablished("127.0.0.1:40000"));
  dev.fromServer.clear();          // its ChangeCipherSpec and Finished are lost
  std::this_thread::sleep_for(30ms);
  World::fromClient(dev, dev.client.tick(Clock::now()));
  ASSERT_FALSE(dev.toServer.empty()) << "the client retransmits its last flight";
  w.run(dev, Clock::now());
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Established);
  EXPECT_EQ(only<Established>(w.events).size(), 1u);
}

TEST(DtlsTimers, ServerRetransmitsItsFlightOnItsOwnTimer) {
  World w(serverConfig(kFast));
  Device& dev = w.device("127.0.0.1:40000");
  World::fromClient(dev, dev.client.start(Clock::now()));
  w.toServer(dev, Clock::now());
  w.toClient(dev, Clock::now());
  w.toServer(dev, Clock::now());
  auto handshakeTypes = [](const std::deque<Bytes>& datagrams) {
    std::vector<std::uint8_t> types;
    for (const auto& d : datagrams)
      for (const auto& h : inspectRecords(d)) types.push_back(h.handshakeType.value_or(0));
    return types;
  };
  const auto first = handshakeTypes(dev.fromServer);
  EXPECT_EQ(first, (std::vector<std::uint8_t>{2, 14}));  // ServerHello, ServerHelloDone
  dev.fromServer.clear();
  std::this_thread::sleep_for(30ms);
  const auto due = w.server.nextDeadline();
  ASSERT_TRUE(due);
  EXPECT_LE(*due, Clock::now());
  w.fromServer(w.server.tick(Clock::now()));
  EXPECT_EQ(handshakeTypes(dev.fromServer), first) << "the ServerHello flight goes out again";
  w.run(dev, Clock::now());
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Established);
}

TEST(DtlsTimers, HandshakeTimesOut) {
  World w;
  Device& dev = w.device("127.0.0.1:40000");
  World::fromClient(dev, dev.client.start(w.t0));
  w.toServer(dev, w.t0);
  w.toClient(dev, w.t0);
  w.toServer(dev, w.t0);  // the server is half-open now; the client never hears back
  dev.fromServer.clear();
  ASSERT_EQ(w.server.halfOpen(), 1u);
  w.fromServer(w.server.tick(w.t0 + 29s));
  EXPECT_TRUE(only<Failed>(w.events).empty());
  w.fromServer(w.server.tick(w.t0 + 30s));
  const auto failed = only<Failed>(w.events);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].why, "handshake timed out after 30000 ms");
  EXPECT_EQ(w.server.halfOpen(), 0u);
  EXPECT_FALSE(w.server.nextDeadline());

  World::fromClient(dev, dev.client.tick(w.t0 + 30s));
  const auto clientFailed = only<Failed>(dev.events);
  ASSERT_EQ(clientFailed.size(), 1u);
  EXPECT_EQ(clientFailed[0].why, "handshake timed out after 30000 ms");
}

TEST(DtlsTimers, IdleSessionExpiresWithCloseNotify) {
  ServerConfig config = serverConfig();
  config.idleTimeout = 60s;
  World w(config);
  Device& dev = w.device("127.0.0.1:40000");
  w.connect(dev, w.t0);
  ASSERT_TRUE(w.server.isEstablished("127.0.0.1:40000"));
  EXPECT_EQ(w.server.nextDeadline(), w.t0 + 60s);

  // Traffic at +40 s pushes expiry to +100 s.
  auto up = dev.client.send(bytes("ping"));
  World::fromClient(dev, std::move(*up));
  w.toServer(dev, w.t0 + 40s);
  EXPECT_EQ(w.server.nextDeadline(), w.t0 + 100s);
  w.fromServer(w.server.tick(w.t0 + 99s));
  EXPECT_TRUE(w.server.isEstablished("127.0.0.1:40000"));
  w.fromServer(w.server.tick(w.t0 + 100s));
  EXPECT_FALSE(w.server.isEstablished("127.0.0.1:40000"));
  EXPECT_EQ(only<Closed>(w.events), (std::vector<Closed>{{"127.0.0.1:40000", "idle for 60000 ms"}}));
  EXPECT_FALSE(w.server.nextDeadline());
  w.toClient(dev, w.t0 + 100s);  // the close_notify
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Closed);
}

// ---- bounds --------------------------------------------------------------------------------------

TEST(DtlsBounds, HalfOpenHandshakesAreBounded) {
  ServerConfig config = serverConfig();
  config.maxHalfOpen = 2;
  World w(config);
  for (int i = 0; i < 3; ++i) {
    Device& dev = w.device("127.0.0.1:" + std::to_string(40000 + i), fastClient());
    World::fromClient(dev, dev.client.start(w.t0));
    w.toServer(dev, w.t0);
    w.toClient(dev, w.t0);
    w.toServer(dev, w.t0);  // cookie-bearing ClientHello; the flight back is never delivered
  }
  EXPECT_EQ(w.server.halfOpen(), 2u);
  EXPECT_EQ(w.server.stats().refused, 1u);
  EXPECT_EQ(only<Failed>(w.events),
            (std::vector<Failed>{{"127.0.0.1:40002", "handshake refused: too many half-open handshakes (maxHalfOpen 2)"}}));
  EXPECT_TRUE(w.devices.at("127.0.0.1:40002").fromServer.empty());
  // The refused one gets in once a slot frees up: its retransmitted ClientHello is admitted.
  w.run(w.devices.at("127.0.0.1:40000"), w.t0);
  EXPECT_EQ(w.server.halfOpen(), 1u);
  Device& third = w.devices.at("127.0.0.1:40002");
  std::this_thread::sleep_for(30ms);
  World::fromClient(third, third.client.tick(Clock::now()));
  w.run(third, w.t0);
  EXPECT_EQ(third.client.state(), DtlsClient::State::Established);
}

TEST(DtlsBounds, PeersAreBounded) {
  ServerConfig config = serverConfig();
  config.maxPeers = 2;
  World w(config);
  for (int i = 0; i < 3; ++i) w.connect(w.device("127.0.0.1:" + std::to_string(40000 + i)), w.t0);
  EXPECT_EQ(w.server.established(), 2u);
  EXPECT_EQ(only<Failed>(w.events),
            (std::vector<Failed>{{"127.0.0.1:40002", "handshake refused: too many peers (maxPeers 2)"}}));
  // A known peer re-handshaking is not a new peer.
  Device& again = w.device("127.0.0.1:40000");
  w.connect(again, w.t0);
  EXPECT_EQ(again.client.state(), DtlsClient::State::Established);
  EXPECT_EQ(w.server.established(), 2u);
}

// ---- session lifecycle ---------------------------------------------------------------------------

TEST(DtlsLifecycle, NewHandshakeFromKnownAddressReplacesTheSession) {
  World w;
  const PeerKey peer = "127.0.0.1:40000";
  w.connect(w.device(peer), w.t0);
  ASSERT_TRUE(w.server.isEstablished(peer));
  w.events.clear();

  // The device reboots: a new client on the same address, same identity.
  Device& rebooted = w.device(peer);
  World::fromClient(rebooted, rebooted.client.start(w.t0 + 1s));
  w.toServer(rebooted, w.t0 + 1s);
  EXPECT_TRUE(w.server.isEstablished(peer)) << "a cookie-less ClientHello alone does not end the session";
  w.run(rebooted, w.t0 + 1s);
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_EQ(std::get<Closed>(w.events[0]),
            (Closed{peer, "replaced by a new handshake from the same address (RFC 6347 §4.2.8)"}));
  EXPECT_EQ(std::get<Established>(w.events[1]).peer, peer);
  EXPECT_EQ(w.server.established(), 1u);
  EXPECT_EQ(rebooted.client.state(), DtlsClient::State::Established);

  auto up = rebooted.client.send(bytes("after reboot"));
  World::fromClient(rebooted, std::move(*up));
  w.toServer(rebooted, w.t0 + 2s);
  EXPECT_EQ(std::get<Received>(w.events.back()).bytes, bytes("after reboot"));
}

TEST(DtlsLifecycle, ClientCloseNotifyEndsTheServerSession) {
  World w;
  const PeerKey peer = "127.0.0.1:40000";
  Device& dev = w.device(peer);
  w.connect(dev, w.t0);
  World::fromClient(dev, dev.client.close());
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Closed);
  EXPECT_EQ(only<Closed>(dev.events), (std::vector<Closed>{{"server", "closed locally"}}));
  w.toServer(dev, w.t0);
  EXPECT_EQ(only<Closed>(w.events), (std::vector<Closed>{{peer, "peer sent close_notify"}}));
  EXPECT_FALSE(w.server.isEstablished(peer));
  EXPECT_EQ(w.server.established(), 0u);
  EXPECT_FALSE(dev.client.send(bytes("x")));
}

TEST(DtlsLifecycle, ServerCloseNotifyEndsTheClientSession) {
  World w;
  const PeerKey peer = "127.0.0.1:40000";
  Device& dev = w.device(peer);
  w.connect(dev, w.t0);
  w.fromServer(w.server.close(peer));
  EXPECT_EQ(only<Closed>(w.events), (std::vector<Closed>{{peer, "closed locally"}}));
  ASSERT_EQ(dev.fromServer.size(), 1u);
  EXPECT_EQ(inspectRecords(dev.fromServer.front()).front().contentType, static_cast<std::uint8_t>(ContentType::Alert));
  w.toClient(dev, w.t0);
  EXPECT_EQ(dev.client.state(), DtlsClient::State::Closed);
  EXPECT_EQ(only<Closed>(dev.events), (std::vector<Closed>{{"server", "peer sent close_notify"}}));
  EXPECT_TRUE(w.server.close(peer).empty());
}

TEST(DtlsLifecycle, LateCopyOfTheClientHelloDoesNotDisturbTheSession) {
  World w;
  const PeerKey peer = "127.0.0.1:40000";
  Device& dev = w.device(peer);
  World::fromClient(dev, dev.client.start(w.t0));
  w.toServer(dev, w.t0);
  w.toClient(dev, w.t0);
  const Bytes withCookie = dev.toServer.front();
  w.run(dev, w.t0);
  ASSERT_TRUE(w.server.isEstablished(peer));
  EXPECT_TRUE(w.server.receive(peer, addressOf(peer), withCookie, w.t0).empty());
  EXPECT_TRUE(w.server.isEstablished(peer));
  EXPECT_TRUE(only<Closed>(w.events).empty());
}

}  // namespace
