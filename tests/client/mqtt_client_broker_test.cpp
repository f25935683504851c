// MqttClient and SyncMqttClient against a real broker: Debian's mosquitto, started per test on free
// loopback ports with a plain, a TLS and a mutual-TLS listener.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "client/error.hpp"
#include "client/mqtt_client.hpp"
#include "client/sync_mqtt_client.hpp"
#include "tests/client/mosquitto_broker.hpp"

namespace fc::client {
namespace {

using namespace std::chrono_literals;
using mqtt::ConnectReturn;
using mqtt::QoS;
using test::MosquittoBroker;

std::string text(const Message& m) { return {m.payload.begin(), m.payload.end()}; }

// A listening socket nobody accepts from or reads: the kernel completes the TCP handshake and then
// buffers what the client sends until its buffers fill up.
struct SilentListener {
  int fd = -1;
  std::uint16_t port = 0;
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 4) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd >= 0) ::close(fd);
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
};

class MosquittoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Never skipped: without the broker these tests cannot say anything, so they fail loudly.
    ASSERT_TRUE(std::filesystem::exists(test::kMosquittoPath))
        << test::kMosquittoPath << " is missing: install Debian's mosquitto package to run the client tests";
    const auto& certs = test::testCerts();
    ASSERT_TRUE(certs.error.empty()) << certs.error;
    const auto error = broker_.start(certs);
    ASSERT_TRUE(error.empty()) << error;
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mosquitto log ----\n" << broker_.log() << "-----------------------\n";
  }

  MqttOptions options(std::string clientId) const {
    MqttOptions o;
    o.host = "127.0.0.1";
    o.port = broker_.port();
    o.clientId = std::move(clientId);
    o.connectTimeout = 3s;
    return o;
  }

  MqttOptions tlsOptions(std::string clientId, std::uint16_t port) const {
    auto o = options(std::move(clientId));
    o.port = port;
    TlsOptions tls;
    tls.caFile = test::testCerts().caFile.string();
    o.tls = tls;
    return o;
  }

  static void connectOk(SyncMqttClient& c, bool expectSessionPresent = false) {
    auto r = c.connect();
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(r->returnCode, ConnectReturn::Accepted);
    EXPECT_EQ(r->sessionPresent, expectSessionPresent);
    ASSERT_TRUE(c.connected());
  }

  static void subscribeOk(SyncMqttClient& c, const std::string& filter, QoS qos) {
    auto r = c.subscribe(filter, qos);
    ASSERT_TRUE(r) << r.error().message();
    ASSERT_EQ(*r, std::vector<std::uint8_t>{static_cast<std::uint8_t>(qos)});
  }

  // Publishing to ourselves and getting it back proves the connection carries traffic both ways.
  static void roundTrip(SyncMqttClient& c, const std::string& topic, QoS qos) {
    ASSERT_NO_FATAL_FAILURE(subscribeOk(c, topic, qos));
    ASSERT_FALSE(c.publish(topic, std::string_view("ping"), qos));
    auto m = c.receive();
    ASSERT_TRUE(m) << "own message not received on " << topic;
    EXPECT_EQ(m->topic, topic);
    EXPECT_EQ(text(*m), "ping");
  }

  MosquittoBroker broker_;
};

TEST_F(MosquittoTest, Connects311AndDisconnectsCleanly) {
  SyncMqttClient c(options("c311"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  c.disconnect();
  EXPECT_TRUE(c.waitClosed(1s));
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(c.closeReason(), make_error_code(Error::Closed));
}

TEST_F(MosquittoTest, Connects31WithMQIsdp) {
  auto o = options("");  // MQTT 3.1 needs a client id; the client makes one up
  o.protocolLevel = mqtt::kLevel31;
  SyncMqttClient c(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(roundTrip(c, "v31/topic", QoS::AtLeastOnce));
}

TEST_F(MosquittoTest, SecondConnectWhileConnectedIsRefusedLocally) {
  SyncMqttClient c(options("twice"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  auto again = c.connect();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), make_error_code(Error::AlreadyConnected));
  EXPECT_TRUE(c.connected());
}

TEST_F(MosquittoTest, RequestsBeforeConnectFailWithNotConnected) {
  SyncMqttClient c(options("early"));
  EXPECT_EQ(c.publish("t", std::string_view("x"), QoS::AtLeastOnce), make_error_code(Error::NotConnected));
  auto s = c.subscribe("t", QoS::AtMostOnce);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), make_error_code(Error::NotConnected));
}

class MosquittoQosTest : public MosquittoTest, public ::testing::WithParamInterface<QoS> {};

TEST_P(MosquittoQosTest, PublishSubscribeRoundTripToItself) {
  const QoS qos = GetParam();
  SyncMqttClient c(options("rt"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(c, "rt/+", qos));
  for (int i = 0; i < 10; ++i)
    ASSERT_FALSE(c.publish("rt/" + std::to_string(i), std::string_view("m" + std::to_string(i)), qos)) << i;
  auto all = c.receiveAll(500ms);
  ASSERT_EQ(all.size(), 10u) << "each message exactly once";
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(all[i].topic, "rt/" + std::to_string(i)) << "in order [MQTT-4.6.0-5]";
    EXPECT_EQ(text(all[i]), "m" + std::to_string(i));
    EXPECT_EQ(all[i].qos, qos);
    EXPECT_FALSE(all[i].dup);
    EXPECT_FALSE(all[i].retain);
    EXPECT_EQ(all[i].packetId != 0, qos != QoS::AtMostOnce);
  }
}

INSTANTIATE_TEST_SUITE_P(AllQos, MosquittoQosTest,
                         ::testing::Values(QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce),
                         [](const auto& info) { return "Qos" + std::to_string(static_cast<int>(info.param)); });

TEST_F(MosquittoTest, GrantedQosIsTheMinimumOfPublishAndSubscription) {
  SyncMqttClient c(options("minqos"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(c, "min", QoS::AtLeastOnce));
  ASSERT_FALSE(c.publish("min", std::string_view("x"), QoS::ExactlyOnce));
  auto m = c.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->qos, QoS::AtLeastOnce);
}

TEST_F(MosquittoTest, RetainedMessageReachesALaterSubscriber) {
  SyncMqttClient pub(options("ret-pub"));
  ASSERT_NO_FATAL_FAILURE(connectOk(pub));
  ASSERT_FALSE(pub.publish("ret/state", std::string_view("on"), QoS::AtLeastOnce, true));

  SyncMqttClient sub(options("ret-sub"));
  ASSERT_NO_FATAL_FAILURE(connectOk(sub));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(sub, "ret/#", QoS::AtLeastOnce));
  auto m = sub.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "ret/state");
  EXPECT_EQ(text(*m), "on");
  EXPECT_TRUE(m->retain) << "sent because of a new subscription [MQTT-3.3.1-8]";

  // A live publish to an existing subscriber is not flagged retained [MQTT-3.3.1-9].
  ASSERT_FALSE(pub.publish("ret/state", std::string_view("off"), QoS::AtLeastOnce, true));
  m = sub.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(text(*m), "off");
  EXPECT_FALSE(m->retain);
}

TEST_F(MosquittoTest, WillIsPublishedWhenTheClientAborts) {
  SyncMqttClient watcher(options("will-watcher"));
  ASSERT_NO_FATAL_FAILURE(connectOk(watcher));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(watcher, "will/#", QoS::AtLeastOnce));

  auto o = options("will-dev");
  o.will = mqtt::Will{"will/dev", {'g', 'o', 'n', 'e'}, QoS::AtLeastOnce, false};
  SyncMqttClient dev(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(dev));
  dev.abort();
  EXPECT_TRUE(dev.waitClosed(1s));
  EXPECT_EQ(dev.closeReason(), make_error_code(Error::Closed));

  auto m = watcher.receive();
  ASSERT_TRUE(m) << "no will after abort()";
  EXPECT_EQ(m->topic, "will/dev");
  EXPECT_EQ(text(*m), "gone");
}

TEST_F(MosquittoTest, WillIsDiscardedOnDisconnect) {
  SyncMqttClient watcher(options("nowill-watcher"));
  ASSERT_NO_FATAL_FAILURE(connectOk(watcher));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(watcher, "will/#", QoS::AtLeastOnce));

  auto o = options("nowill-dev");
  o.will = mqtt::Will{"will/dev", {'x'}, QoS::AtLeastOnce, false};
  SyncMqttClient dev(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(dev));
  dev.disconnect();
  EXPECT_TRUE(dev.waitClosed(1s));
  // [MQTT-3.14.4-3]: DISCONNECT discards the will. Prove the watcher still works afterwards.
  EXPECT_FALSE(watcher.receive(500ms));
  ASSERT_FALSE(watcher.publish("will/probe", std::string_view("p"), QoS::AtLeastOnce));
  auto m = watcher.receive();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->topic, "will/probe");
}

TEST_F(MosquittoTest, UnsubscribeStopsDelivery) {
  SyncMqttClient c(options("unsub"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(c, "u/a", QoS::AtLeastOnce));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(c, "u/b", QoS::AtLeastOnce));
  ASSERT_FALSE(c.unsubscribe({"u/a"}));
  ASSERT_FALSE(c.publish("u/a", std::string_view("1"), QoS::AtLeastOnce));
  ASSERT_FALSE(c.publish("u/b", std::string_view("2"), QoS::AtLeastOnce));
  auto all = c.receiveAll(500ms);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].topic, "u/b");
}

TEST_F(MosquittoTest, KeepalivePingKeepsTheConnectionWhileASilentClientIsDropped) {
  // Both say keepalive 1 s; the broker must drop a client silent for 1.5 x that [MQTT-3.1.2-24].
  auto o = options("ka-ping");
  o.keepAlive = 1;
  auto quiet = options("ka-silent");
  quiet.keepAlive = 1;
  quiet.sendPingreq = false;
  SyncMqttClient pinging(o);
  SyncMqttClient silent(quiet);
  ASSERT_NO_FATAL_FAILURE(connectOk(pinging));
  ASSERT_NO_FATAL_FAILURE(connectOk(silent));

  // Mosquitto 2.0 checks keepalives only every 5 s, so the silent one goes after ~5-7 s.
  ASSERT_TRUE(silent.waitClosed(12s)) << "the broker did not enforce the keepalive";
  EXPECT_TRUE(silent.closeReason());
  EXPECT_NE(silent.closeReason(), make_error_code(Error::Closed)) << "closed by the server, not by us";

  EXPECT_TRUE(pinging.connected()) << "closed despite PINGREQ: " << pinging.closeReason().message();
  EXPECT_FALSE(pinging.waitClosed(1500ms));
  ASSERT_NO_FATAL_FAILURE(roundTrip(pinging, "ka/t", QoS::AtLeastOnce));
}

TEST_F(MosquittoTest, PersistentSessionReceivesWhatWasPublishedWhileOffline) {
  auto o = options("persist-sub");
  o.cleanSession = false;
  {
    // Start from a clean slate for this client id, then create the persistent session.
    auto clean = o;
    clean.cleanSession = true;
    SyncMqttClient c(clean);
    ASSERT_NO_FATAL_FAILURE(connectOk(c));
    c.disconnect();
  }
  {
    SyncMqttClient sub(o);
    ASSERT_NO_FATAL_FAILURE(connectOk(sub, false));
    ASSERT_NO_FATAL_FAILURE(subscribeOk(sub, "persist/#", QoS::AtLeastOnce));
    sub.disconnect();
  }
  {
    SyncMqttClient pub(options("persist-pub"));
    ASSERT_NO_FATAL_FAILURE(connectOk(pub));
    ASSERT_FALSE(pub.publish("persist/offline", std::string_view("queued"), QoS::AtLeastOnce));
    ASSERT_FALSE(pub.publish("persist/offline0", std::string_view("dropped"), QoS::AtMostOnce));
  }
  SyncMqttClient sub(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(sub, true));
  auto all = sub.receiveAll(500ms);
  ASSERT_EQ(all.size(), 1u) << "only the QoS 1 message is queued for an offline client";
  EXPECT_EQ(all[0].topic, "persist/offline");
  EXPECT_EQ(text(all[0]), "queued");
  EXPECT_EQ(all[0].qos, QoS::AtLeastOnce);
}

TEST_F(MosquittoTest, UnacknowledgedMessageIsRedeliveredWithDupAfterReconnect) {
  auto o = options("noack");
  o.cleanSession = false;
  o.autoAck = false;
  SyncMqttClient sub(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(sub));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(sub, "noack/t", QoS::AtLeastOnce));

  SyncMqttClient pub(options("noack-pub"));
  ASSERT_NO_FATAL_FAILURE(connectOk(pub));
  ASSERT_FALSE(pub.publish("noack/t", std::string_view("again"), QoS::AtLeastOnce));

  auto first = sub.receive();
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->dup);
  sub.abort();  // never acknowledged

  ASSERT_NO_FATAL_FAILURE(connectOk(sub, true));
  auto again = sub.receive();
  ASSERT_TRUE(again) << "not redelivered";
  EXPECT_EQ(text(*again), "again");
  EXPECT_TRUE(again->dup) << "[MQTT-3.3.1-1]";
  EXPECT_EQ(again->packetId, first->packetId);
  sub.ack(again->packetId);
  sub.disconnect();

  // Acknowledged now, so a third session gets nothing.
  ASSERT_NO_FATAL_FAILURE(connectOk(sub, true));
  EXPECT_FALSE(sub.receive(500ms));
}

TEST_F(MosquittoTest, ReconnectsAutomaticallyAfterTheBrokerRestarts) {
  auto o = options("auto");
  o.autoReconnect = true;
  o.reconnectMin = 50ms;
  o.reconnectMax = 400ms;
  SyncMqttClient c(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(subscribeOk(c, "auto/#", QoS::AtLeastOnce));

  broker_.stop();
  ASSERT_TRUE(c.waitClosed(3s));
  EXPECT_TRUE(c.closeReason());
  std::this_thread::sleep_for(300ms);  // let a few attempts fail against the closed port
  const auto error = broker_.start(test::testCerts());
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(c.waitConnected(5s)) << "no automatic reconnect";

  // The restarted broker (no persistence) has no session, so the client re-subscribed by itself.
  SyncMqttClient pub(options("auto-pub"));
  ASSERT_NO_FATAL_FAILURE(connectOk(pub));
  // The resubscribe races with this publish; retry until it lands.
  std::optional<Message> m;
  for (int i = 0; i < 20 && !m; ++i) {
    ASSERT_FALSE(pub.publish("auto/after", std::string_view("back"), QoS::AtLeastOnce));
    m = c.receive(200ms);
  }
  ASSERT_TRUE(m) << "no message after reconnect: subscriptions not restored";
  EXPECT_EQ(m->topic, "auto/after");
}

TEST_F(MosquittoTest, TlsWithCaVerification) {
  SyncMqttClient c(tlsOptions("tls", broker_.tlsPort()));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(roundTrip(c, "tls/t", QoS::ExactlyOnce));
}

TEST_F(MosquittoTest, TlsByHostNameUsesSniAndChecksTheName) {
  auto o = tlsOptions("tls-name", broker_.tlsPort());
  o.tls->serverName = "localhost";
  SyncMqttClient c(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
}

TEST_F(MosquittoTest, TlsRefusesAServerSignedByAnotherCa) {
  auto o = tlsOptions("tls-rogue", broker_.tlsPort());
  o.tls->caFile = test::testCerts().rogueCaFile.string();
  SyncMqttClient c(o);
  auto r = c.connect();
  ASSERT_FALSE(r) << "connected to a server our CA did not sign";
  EXPECT_NE(r.error(), make_error_code(Error::Timeout)) << r.error().message();
}

TEST_F(MosquittoTest, TlsRefusesAServerWhoseNameDoesNotMatch) {
  auto o = tlsOptions("tls-wrongname", broker_.tlsPort());
  o.tls->serverName = "not-the-broker.example";
  SyncMqttClient c(o);
  auto r = c.connect();
  ASSERT_FALSE(r) << "host name not checked";
  EXPECT_NE(r.error(), make_error_code(Error::Timeout)) << r.error().message();

  o.tls->verifyPeer = false;  // and it is the check that failed, nothing else
  SyncMqttClient unchecked(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(unchecked));
}

TEST_F(MosquittoTest, MissingCaFileIsATlsSetupError) {
  auto o = tlsOptions("tls-nofile", broker_.tlsPort());
  o.tls->caFile = "/nonexistent/ca.pem";
  SyncMqttClient c(o);
  auto r = c.connect();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Error::TlsSetup));
}

TEST_F(MosquittoTest, MutualTlsAcceptsAValidClientCertificate) {
  auto o = tlsOptions("mtls", broker_.mtlsPort());
  o.tls->certFile = test::testCerts().clientCert.string();
  o.tls->keyFile = test::testCerts().clientKey.string();
  SyncMqttClient c(o);
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  ASSERT_NO_FATAL_FAILURE(roundTrip(c, "mtls/t", QoS::AtLeastOnce));
}

TEST_F(MosquittoTest, MutualTlsRefusesAClientWithoutCertificate) {
  SyncMqttClient c(tlsOptions("mtls-none", broker_.mtlsPort()));
  auto r = c.connect();
  ASSERT_FALSE(r) << "the broker requires a client certificate";
  EXPECT_NE(r.error(), make_error_code(Error::Timeout)) << "should fail, not hang: " << r.error().message();
  EXPECT_FALSE(c.connected());
}

TEST_F(MosquittoTest, ConnectToAClosedPortFailsFast) {
  auto o = options("closed");
  o.port = test::freePort();
  SyncMqttClient c(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = c.connect();
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error() == std::errc::connection_refused) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(MosquittoTest, ConnectToASilentServerTimesOut) {
  SilentListener silent;
  ASSERT_NE(silent.port, 0);
  auto o = options("silent");
  o.port = silent.port;
  o.connectTimeout = 300ms;
  SyncMqttClient c(o);
  const auto start = std::chrono::steady_clock::now();
  auto r = c.connect();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), make_error_code(Error::Timeout));
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
}

TEST_F(MosquittoTest, OutboundQueueIsBoundedWhenThePeerStopsReading) {
  SilentListener silent;
  ASSERT_NE(silent.port, 0);
  auto o = options("flood");
  o.port = silent.port;
  o.connectTimeout = 30s;  // CONNECT is sent, CONNACK never comes; sendRaw works meanwhile
  boost::asio::io_context ioc;
  MqttClient c(ioc, o);
  int ok = 0, full = 0, closed = 0, other = 0;
  constexpr int kChunks = 64;  // 64 MiB: far more than loopback socket buffers plus the queue limit
  c.connect([](std::error_code, const mqtt::Connack&) {});
  ioc.run_for(200ms);
  for (int i = 0; i < kChunks; ++i) {
    c.sendRaw(std::vector<std::uint8_t>(1 << 20, 0x00), [&](std::error_code ec) {
      if (!ec)
        ++ok;
      else if (ec == make_error_code(Error::QueueFull))
        ++full;
      else if (ec == make_error_code(Error::Closed))
        ++closed;
      else
        ++other;
    });
    ioc.run_for(20ms);
  }
  EXPECT_GT(full, 0) << "the queue grew without bound";
  EXPECT_LT(ok, kChunks);
  c.abort();
  ioc.run_for(500ms);
  EXPECT_EQ(ok + full + closed + other, kChunks) << "every handler runs exactly once";
  EXPECT_EQ(other, 0);
  EXPECT_GT(closed, 0) << "what was still queued fails with Closed on abort()";
}

TEST_F(MosquittoTest, BrokerClosesTheConnectionOnARawMalformedPacket) {
  SyncMqttClient c(options("raw"));
  ASSERT_NO_FATAL_FAILURE(connectOk(c));
  // Packet type 15 is reserved in MQTT 3.1.1 (§2.2.1).
  ASSERT_FALSE(c.sendRaw({0xF0, 0x00}));
  ASSERT_TRUE(c.waitClosed(3s));
  EXPECT_NE(c.closeReason(), make_error_code(Error::Closed));
}

TEST_F(MosquittoTest, AsyncClientOnTheCallersIoContext) {
  boost::asio::io_context ioc;
  std::vector<std::string> log;
  std::error_code closeReason;
  {
    MqttClient c(ioc, options("async"));
    int pending = 2;  // the message to ourselves and PUBCOMP, in either order
    const auto oneDone = [&] {
      if (--pending == 0)
        c.disconnect([&](std::error_code ec) { log.push_back("disconnected " + std::to_string(ec.value())); });
    };
    c.onMessage([&](Message m) {
      log.push_back("message " + m.topic + " " + text(m));
      oneDone();
    });
    c.onClose([&](std::error_code ec) { closeReason = ec; });
    c.connect([&](std::error_code ec, const mqtt::Connack& ack) {
      log.push_back("connack " + std::to_string(ec.value()) + " " + std::to_string(static_cast<int>(ack.returnCode)));
      c.subscribe({{"async/t", QoS::ExactlyOnce}}, [&](std::error_code ec, std::vector<std::uint8_t> codes) {
        log.push_back("suback " + std::to_string(ec.value()) + " " + std::to_string(codes.at(0)));
        c.publish("async/t", {'h', 'i'}, QoS::ExactlyOnce, false, [&](std::error_code ec) {
          log.push_back("pubcomp " + std::to_string(ec.value()));
          oneDone();
        });
      });
    });
    // Returns only once nothing is left to do: the client leaves no timer or read behind after disconnect.
    ioc.run_for(5s);
    EXPECT_TRUE(ioc.stopped()) << "work left behind after disconnect";
  }
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0], "connack 0 0");
  EXPECT_EQ(log[1], "suback 0 2");
  EXPECT_TRUE((log[2] == "pubcomp 0" && log[3] == "message async/t hi") ||
              (log[3] == "pubcomp 0" && log[2] == "message async/t hi"))
      << log[2] << " / " << log[3];
  EXPECT_EQ(log[4], "disconnected 0");
  EXPECT_EQ(closeReason, make_error_code(Error::Closed));
}

}  // namespace
}  // namespace fc::client
