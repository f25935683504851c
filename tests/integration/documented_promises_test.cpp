// What docs/api.md and docs/coap.md promise and no other test checked, end to end against the real
// binary: the HTTP body limit (413), list paging and its cap, ?before= paging of messages and the
// journal, the event stream dropping a client that fell too far behind, admin reset, webhook
// retries (1 s, 4 s, then a logged give-up) and a receiver that never answers, Uri-Host/Uri-Port
// at the CoAP endpoint. Webhook timing is real time by design (the sender's timers are not on the
// platform clock), so those tests wait for real, with generous upper bounds.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "client/sync_mqtt_client.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/raw_udp.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/websocket_client.hpp"

namespace fc::test {
namespace {

using client::SyncMqttClient;
using mqtt::QoS;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

void createLamp(const ServerProcess& server) {
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices",
                 {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s3cret"}}}})
                .status,
            201);
}

std::unique_ptr<SyncMqttClient> lampDevice(const ServerProcess& server) {
  auto o = server.mqtt("lamp-1-mqtt");
  o.username = "lamp-1";
  o.password = "s3cret";
  auto c = std::make_unique<SyncMqttClient>(o);
  auto ack = c->connect();
  EXPECT_TRUE(ack && ack->returnCode == mqtt::ConnectReturn::Accepted);
  return c;
}

json stats(const ServerProcess& server) { return call(server, "GET", "/api/v1/admin/stats").body; }

/// Polls `done` every 20 ms for up to `limit`; true once it holds.
template <typename F>
bool eventually(F done, std::chrono::milliseconds limit = 20s) {
  for (const auto end = Clock::now() + limit; Clock::now() < end; std::this_thread::sleep_for(20ms))
    if (done()) return true;
  return done();
}

// --- HTTP edge ---

TEST(DocumentedPromises, ABodyOverOneMebibyteIs413) {
  ServerProcess server;
  const std::string big = "{\"id\":\"" + std::string(1024 * 1024, 'x') + "\"}";
  auto r = httpRequest(server.httpPort(), "POST", "/api/v1/products", big);
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
  EXPECT_EQ(json::parse(r.body, nullptr, false)["error"]["code"], "payload_too_large") << r.body.substr(0, 200);
  // Just under the limit is parsed (and refused for what it says, not for its size).
  const std::string under = "{\"id\":\"" + std::string(1024 * 1024 - 64, 'x') + "\"}";
  EXPECT_EQ(httpRequest(server.httpPort(), "POST", "/api/v1/products", under).status, 422);
  EXPECT_EQ(call(server, "GET", "/healthz").status, 200);
}

TEST(DocumentedPromises, ListsPageWithOffsetAndLimitAndTheLimitIsCapped) {
  ServerProcess server;
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "d" + std::to_string(i)}, {"productId", "lamp"}}).status,
              201);
  auto all = call(server, "GET", "/api/v1/devices").body;
  EXPECT_EQ(all["total"], 5);
  EXPECT_EQ(all["offset"], 0);
  EXPECT_EQ(all["limit"], 100) << "the default";
  ASSERT_EQ(all["items"].size(), 5u);

  auto page = call(server, "GET", "/api/v1/devices?offset=1&limit=2").body;
  EXPECT_EQ(page["total"], 5);
  EXPECT_EQ(page["offset"], 1);
  EXPECT_EQ(page["limit"], 2);
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["items"][0]["id"], all["items"][1]["id"]);
  EXPECT_EQ(page["items"][1]["id"], all["items"][2]["id"]);

  auto last = call(server, "GET", "/api/v1/devices?offset=4&limit=2").body;
  ASSERT_EQ(last["items"].size(), 1u);
  EXPECT_EQ(last["items"][0]["id"], all["items"][4]["id"]);
  EXPECT_EQ(call(server, "GET", "/api/v1/devices?offset=9").body["items"].size(), 0u);

  auto capped = call(server, "GET", "/api/v1/devices?limit=5000").body;
  EXPECT_EQ(capped["limit"], 1000) << "limit ≤ 1000";
  EXPECT_EQ(capped["items"].size(), 5u);
}

TEST(DocumentedPromises, MessagesAndJournalPageBackWithBefore) {
  ServerProcess server;
  createLamp(server);
  auto dev = lampDevice(server);
  for (int i = 0; i < 5; ++i)
    ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", std::to_string(i), QoS::AtLeastOnce));

  for (const std::string list : {"messages", "journal"}) {
    SCOPED_TRACE(list);
    const std::string base = "/api/v1/devices/lamp-1/" + list;
    json all;
    ASSERT_TRUE(eventually([&] {
      all = call(server, "GET", base).body["items"];
      return list == "journal" || all.size() == 5;
    }));
    ASSERT_GE(all.size(), 5u);
    const auto n = all.size();
    for (std::size_t i = 1; i < n; ++i) EXPECT_LT(all[i - 1]["id"], all[i]["id"]) << "oldest first";

    // The newest two, then the two before the first of those, and so on back.
    auto newest = call(server, "GET", base + "?limit=2").body;
    EXPECT_EQ(newest["limit"], 2);
    ASSERT_EQ(newest["items"].size(), 2u);
    EXPECT_EQ(newest["items"][0]["id"], all[n - 2]["id"]);
    EXPECT_EQ(newest["items"][1]["id"], all[n - 1]["id"]);
    const auto before = newest["items"][0]["id"].get<std::int64_t>();
    auto older = call(server, "GET", base + "?limit=2&before=" + std::to_string(before)).body["items"];
    ASSERT_EQ(older.size(), 2u);
    EXPECT_EQ(older[0]["id"], all[n - 4]["id"]);
    EXPECT_EQ(older[1]["id"], all[n - 3]["id"]);
    auto first = call(server, "GET", base + "?before=" + all[0]["id"].dump()).body["items"];
    EXPECT_EQ(first.size(), 0u) << "nothing before the oldest";
    EXPECT_EQ(call(server, "GET", base + "?limit=5000").body["limit"], 1000);
  }
  auto messages = call(server, "GET", "/api/v1/devices/lamp-1/messages?limit=5").body["items"];
  ASSERT_EQ(messages.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(messages[i]["payload"], i);
}

// --- event stream ---

/// A WebSocket upgrade by hand on a socket with a tiny receive buffer, after which nothing is read.
class StalledWebSocket {
 public:
  StalledWebSocket(std::uint16_t port, const std::string& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int small = 4096;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ADD_FAILURE() << "connect";
    const std::string upgrade = "GET " + target +
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    EXPECT_EQ(::send(fd_, upgrade.data(), upgrade.size(), 0), static_cast<ssize_t>(upgrade.size()));
    // Read the 101 byte by byte up to the blank line, so no frame is consumed.
    std::string head;
    char c = 0;
    while (head.find("\r\n\r\n") == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0 || ::recv(fd_, &c, 1, 0) != 1) break;
      head += c;
    }
    status_ = head.rfind("HTTP/1.1 101", 0) == 0 ? 101 : 0;
  }
  ~StalledWebSocket() { ::close(fd_); }
  int status() const { return status_; }

 private:
  int fd_ = -1;
  int status_ = 0;
};

TEST(DocumentedPromises, AnEventStreamClientTooFarBehindIsDisconnected) {
  ServerProcess server;
  createLamp(server);
  StalledWebSocket stalled(server.httpPort(), "/api/v1/events?deviceId=lamp-1");
  ASSERT_EQ(stalled.status(), 101);
  auto dev = lampDevice(server);
  // Every telemetry message is two events (uplink, journal); the kernel's buffers take some before
  // the server's outbox starts to grow, so publish until the server gives up on the client.
  const auto dropped = [&] { return server.log().find("events behind; closing it") != std::string::npos; };
  int published = 0;
  for (int round = 0; round < 40 && !dropped(); ++round)
    for (int i = 0; i < 2500; ++i, ++published)
      ASSERT_FALSE(
          dev->publish("devices/lamp-1/telemetry", "{\"n\":" + std::to_string(published) + "}", QoS::AtMostOnce));
  ASSERT_TRUE(eventually(dropped)) << "after " << published << " messages";
  const auto log = server.log();
  const auto at = log.find("WebSocket client fell ");
  ASSERT_NE(at, std::string::npos);
  // Logged with the backlog it had when one more frame would have gone beyond 10000.
  EXPECT_EQ(std::stoul(log.substr(at + 22)), 10000u) << log.substr(at, 80);

  // Everyone else carries on: a new follower gets the next event.
  WebSocketClient follower(server.httpPort(), "/api/v1/events?deviceId=lamp-1&type=uplink");
  ASSERT_FALSE(dev->publish("devices/lamp-1/telemetry", "\"after\"", QoS::AtLeastOnce));
  std::optional<std::string> frame;
  while ((frame = follower.next(10s)) && frame->find("\"after\"") == std::string::npos) {
  }
  EXPECT_TRUE(frame) << "the stream still serves other clients";
}

// --- admin reset ---

TEST(DocumentedPromises, AdminResetClosesConnectionsAndForgetsSessionsRetainedAndTheClock) {
  ServerProcess server;
  createLamp(server);
  auto durable = std::make_unique<SyncMqttClient>(server.mqtt("durable", /*cleanSession=*/false));
  ASSERT_TRUE(durable->connect());
  ASSERT_TRUE(durable->subscribe("keep/#", QoS::AtLeastOnce));
  ASSERT_FALSE(durable->publish("keep/retained", "kept", QoS::AtLeastOnce, /*retain=*/true));
  auto device = lampDevice(server);
  ASSERT_EQ(call(server, "POST", "/api/v1/admin/clock", {{"action", "advance"}, {"seconds", 3600}}).status, 200);
  ASSERT_EQ(call(server, "POST", "/api/v1/admin/clock", {{"action", "freeze"}}).status, 200);
  auto before = stats(server)["mqtt"];
  ASSERT_EQ(before["connections"], 2);
  ASSERT_EQ(before["persistentSessions"], 1);
  ASSERT_EQ(before["retained"], 1);

  ASSERT_EQ(call(server, "POST", "/api/v1/admin/reset").status, 200);
  EXPECT_TRUE(durable->waitClosed(10s)) << "reset closes every MQTT connection";
  EXPECT_TRUE(device->waitClosed(10s));
  json after;
  EXPECT_TRUE(eventually([&] {
    after = stats(server)["mqtt"];
    return after["connections"] == 0;
  }));
  EXPECT_EQ(after["sessions"], 0) << after;
  EXPECT_EQ(after["persistentSessions"], 0) << after;
  EXPECT_EQ(after["subscriptions"], 0) << after;
  EXPECT_EQ(after["retained"], 0) << after;
  auto clock = call(server, "GET", "/api/v1/admin/clock").body;
  EXPECT_EQ(clock["offsetMs"], 0) << clock;
  EXPECT_EQ(clock["frozen"], false) << clock;

  // The persistent session is gone: the same client id comes back to a fresh one, and no retained
  // message waits on its old filter.
  SyncMqttClient again(server.mqtt("durable", /*cleanSession=*/false));
  auto ack = again.connect();
  ASSERT_TRUE(ack);
  EXPECT_FALSE(ack->sessionPresent);
  ASSERT_TRUE(again.subscribe("keep/#", QoS::AtLeastOnce));
  EXPECT_FALSE(again.receive(300ms)) << "the retained message was forgotten";
  again.disconnect();
}

// --- webhooks (real time by design) ---

TEST(DocumentedPromises, AWebhookIsRetriedAfterOneAndFourSecondsThenGivenUpWithAWarning) {
  HttpReceiver receiver;
  receiver.answerWith({500, 503, 500});
  ServerProcess server;
  createLamp(server);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices/lamp-1/commands",
                 {{"payload", 1}, {"expireTime", 0}, {"callbackUrl", receiver.url("/cb")}})
                .status,
            201);
  std::vector<Clock::time_point> at;
  for (std::size_t n = 1; n <= 3; ++n) {
    ASSERT_EQ(receiver.waitFor(n, 30s).size(), n) << "attempt " << n;
    at.push_back(Clock::now());
  }
  const auto gap1 = at[1] - at[0], gap2 = at[2] - at[1];
  EXPECT_GE(gap1, 900ms) << "the first retry comes after 1 s";
  EXPECT_LT(gap1, 4s);
  EXPECT_GE(gap2, 3900ms) << "the second after 4 s";
  EXPECT_LT(gap2, 12s);
  ASSERT_TRUE(eventually([&] {
    return server.log().find("webhooks: POST " + receiver.url("/cb") + " failed after 3") != std::string::npos;
  })) << server.log();
  EXPECT_NE(server.log().find(" warning webhooks: POST " + receiver.url("/cb") + " failed after 3"), std::string::npos)
      << "the give-up is a warning: " << server.log();
  std::this_thread::sleep_for(1500ms);  // real time: a fourth attempt would have come by now
  EXPECT_EQ(receiver.received().size(), 3u) << "given up after three attempts";
}

/// Accepts TCP connections and never answers: a webhook receiver that hangs.
class SilentReceiver {
 public:
  SilentReceiver() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        std::lock_guard lock(mutex_);
        accepted_.push_back(c);
        times_.push_back(Clock::now());
      }
    });
  }
  ~SilentReceiver() {
    stop_ = true;
    thread_.join();
    for (int c : accepted_) ::close(c);
    ::close(fd_);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/cb"; }
  std::vector<Clock::time_point> times() const {
    std::lock_guard lock(mutex_);
    return times_;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_ = false;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<int> accepted_;
  std::vector<Clock::time_point> times_;
};

TEST(DocumentedPromises, AWebhookReceiverThatNeverAnswersTimesOutAfterFiveSecondsAndIsRetried) {
  SilentReceiver receiver;
  ServerProcess server;
  createLamp(server);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices/lamp-1/commands",
                 {{"payload", 1}, {"expireTime", 0}, {"callbackUrl", receiver.url()}})
                .status,
            201);
  ASSERT_TRUE(eventually([&] { return receiver.times().size() >= 1; }));
  EXPECT_EQ(call(server, "GET", "/healthz").status, 200) << "the API answers while the post hangs";
  ASSERT_TRUE(eventually([&] { return receiver.times().size() >= 2; }, 30s)) << "a retry after the time-out";
  const auto t = receiver.times();
  EXPECT_GE(t[1] - t[0], 5900ms) << "5 s without an answer, then 1 s before the retry";
  EXPECT_LT(t[1] - t[0], 20s);
  EXPECT_TRUE(eventually([&] { return server.log().find("attempt 2 of 3 follows") != std::string::npos; }));
}

// --- CoAP ---

TEST(DocumentedPromises, UriHostAndUriPortAreAcceptedAndIgnoredAtTheCoapEndpoint) {
  ServerProcess server;
  RawUdp raw(server.coapPort());
  coap::Message plain{.type = coap::Type::Confirmable, .code = coap::code::kGet, .messageId = 0x51, .token = {5}};
  plain.setUriPath(".well-known/core");
  const auto expected = raw.exchange(plain);
  ASSERT_EQ(expected.code, coap::code::kContent);

  coap::Message hosted{.type = coap::Type::Confirmable, .code = coap::code::kGet, .messageId = 0x52, .token = {6}};
  hosted.setString(coap::option::kUriHost, "some.other.host.example");
  hosted.setUint(coap::option::kUriPort, 61616);
  hosted.setUriPath(".well-known/core");
  const auto answer = raw.exchange(hosted);
  EXPECT_EQ(answer.code, coap::code::kContent);
  EXPECT_EQ(answer.payloadText(), expected.payloadText());
  EXPECT_EQ(answer.messageId, 0x52);
}

}  // namespace
}  // namespace fc::test
