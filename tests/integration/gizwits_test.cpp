// The gizwits dialect end to end: the real binary driven by GizwitsDevice (register, provision,
// MQTT 3.1 login, frames both ways, commands, logs, app count) on one io_context thread; hand-built
// MQTT for the PINGREQ rule; and GService answers read with a single recv(1024) as GAgent reads them.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "client/dialects/gizwits/gizwits_device.hpp"
#include "protocols/dialects/gizwits/frame.hpp"
#include "protocols/mqtt/codec.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
namespace giz = fc::gizwits;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kPk = "6f3074fe43894547a4f1314bd7e3ae0b";

/// Waits for a callback's value.
template <class T>
struct Waiter {
  std::shared_ptr<std::promise<T>> promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  auto setter() {
    return [p = promise](T v) { p->set_value(std::move(v)); };
  }
  std::optional<T> get(std::chrono::milliseconds timeout = 5s) {
    if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return future.get();
  }
};

class Gizwits : public ::testing::Test {
 protected:
  Gizwits() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  ~Gizwits() override {
    device_.reset();
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  void SetUp() override {
    auto p = call(server_, "POST", "/api/v1/products",
                  {{"id", "plug"}, {"dialect", "gizwits"}, {"keys", {{"productKey", kPk}}}});
    ASSERT_EQ(p.status, 201) << p.body;
  }

  /// A registered, provisioned device signed in to M2M.
  void online(const std::string& mac = "a0b1c2d3e4f5") {
    device_ = std::make_unique<client::GizwitsDevice>(ioc_, client::GizwitsIdentity{kPk, mac, "PASSCODE01", ""},
                                                      "127.0.0.1", server_.httpPort());
    Waiter<std::pair<std::error_code, client::HttpAnswer>> reg;
    device_->registerDevice([s = reg.setter()](std::error_code ec, client::HttpAnswer a) { s({ec, a}); });
    auto r = reg.get();
    ASSERT_TRUE(r);
    ASSERT_FALSE(r->first) << r->first.message() << " " << r->second.body;
    did_ = device_->identity().did;
    ASSERT_EQ(did_.size(), 22u);
    Waiter<std::pair<std::error_code, giz::Provision>> prov;
    device_->provision([s = prov.setter()](std::error_code ec, giz::Provision p, client::HttpAnswer) { s({ec, p}); });
    auto p = prov.get();
    ASSERT_TRUE(p);
    ASSERT_FALSE(p->first) << p->first.message();
    EXPECT_EQ(p->second.host, "127.0.0.1");
    EXPECT_EQ(p->second.port, server_.mqttPort());
    device_->onAppCount([this](std::uint16_t n) {
      std::lock_guard lock(mutex_);
      appCounts_.push_back(n);
    });
    client::MqttOptions o = server_.mqtt("");
    o.host = p->second.host;
    o.port = p->second.port;
    o.keepAlive = 120;
    Waiter<std::pair<std::error_code, mqtt::Connack>> conn;
    device_->connect(o, [s = conn.setter()](std::error_code ec, mqtt::Connack a) { s({ec, a}); });
    auto c = conn.get();
    ASSERT_TRUE(c);
    ASSERT_FALSE(c->first) << c->first.message();
    ASSERT_TRUE(waitFor([&] { return call(server_, "GET", "/api/v1/devices/" + did_).body.value("online", false); }));
  }

  template <class F>
  bool waitFor(F done) {
    for (int i = 0; i < 150; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  std::string status(const std::string& commandId) {
    return call(server_, "GET", "/api/v1/commands/" + commandId).body.value("status", "?");
  }
  std::vector<std::uint16_t> appCounts() {
    std::lock_guard lock(mutex_);
    return appCounts_;
  }

  ServerProcess server_;
  boost::asio::io_context ioc_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
  std::unique_ptr<client::GizwitsDevice> device_;
  std::string did_;
  std::mutex mutex_;
  std::vector<std::uint16_t> appCounts_;
};

TEST_F(Gizwits, RegisterProvisionLoginAndUplinks) {
  ASSERT_NO_FATAL_FAILURE(online());
  // The app count asked right after login is answered (0 until the API sets one).
  ASSERT_TRUE(waitFor([&] { return !appCounts().empty(); }));
  EXPECT_EQ(appCounts().front(), 0);
  // 0x0091 → uplink history, with the app client id in its topic
  device_->sendToApp({0x01, 0x02, 0x03}, "app42");
  json items;
  ASSERT_TRUE(waitFor([&] {
    items = call(server_, "GET", "/api/v1/devices/" + did_ + "/messages").body["items"];
    return items.size() == 1;
  }));
  EXPECT_EQ(items[0]["topic"], "dev2app/" + did_ + "/app42");
  EXPECT_EQ(items[0]["payloadBase64"], "AQID");
  // 0x0012 → the device's log
  device_->sendLog(2, "wifi", "gagent", "rssi low");
  ASSERT_TRUE(waitFor([&] {
    items = call(server_, "GET", "/api/v1/devices/" + did_ + "/logs").body["items"];
    return items.size() == 1;
  }));
  EXPECT_EQ(items[0]["level"], 2);
  EXPECT_EQ(items[0]["tag"], "wifi");
  EXPECT_EQ(items[0]["source"], "gagent");
  EXPECT_EQ(items[0]["content"], "rssi low");
  // The app count set through the API is pushed at once.
  ASSERT_EQ(call(server_, "PUT", "/api/v1/devices/" + did_ + "/gizwits/apps", {{"count", 2}}).status, 200);
  ASSERT_TRUE(waitFor([&] { return appCounts().size() >= 2 && appCounts().back() == 2; }));
  // The journal has the exchanges (HTTP and MQTT).
  const auto journal = call(server_, "GET", "/api/v1/devices/" + did_ + "/journal?limit=1000").body["items"];
  bool sawProvision = false, sawConnect = false;
  for (const auto& e : journal) {
    sawProvision = sawProvision || (e["transport"] == "http" && e["summary"] == "GET /dev/devices/" + did_ + " (0 bytes)");
    sawConnect = sawConnect || e["summary"].get<std::string>().find("CONNECT") == 0;
  }
  EXPECT_TRUE(sawProvision) << journal.dump();
  EXPECT_TRUE(sawConnect) << journal.dump();
}

TEST_F(Gizwits, RegisteringAgainGivesTheSameDid) {
  ASSERT_NO_FATAL_FAILURE(online());
  client::GizwitsDevice again(ioc_, {kPk, "A0:B1:C2:D3:E4:F5", "PASSCODE01", ""}, "127.0.0.1", server_.httpPort());
  Waiter<std::error_code> reg;
  again.registerDevice([s = reg.setter()](std::error_code ec, client::HttpAnswer) { s(ec); });
  ASSERT_EQ(reg.get(), std::error_code{});
  EXPECT_EQ(again.identity().did, did_);
}

TEST_F(Gizwits, CommandsBothKinds) {
  ASSERT_NO_FATAL_FAILURE(online());
  Waiter<std::pair<std::string, Bytes>> passThrough;
  device_->onPassThrough([s = passThrough.setter()](const std::string& app, const Bytes& data) { s({app, data}); });
  device_->onAcked([](const std::string&, const Bytes& data) { return Bytes{static_cast<std::uint8_t>(data.size())}; });
  Waiter<std::uint16_t> level;
  device_->onLogLevel(level.setter());

  auto c = call(server_, "POST", "/api/v1/devices/" + did_ + "/commands", {{"name", "@app7"}, {"payloadBase64", "qrs="}});
  ASSERT_EQ(c.status, 201) << c.body;
  auto got = passThrough.get();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, "app7");
  EXPECT_EQ(got->second, (Bytes{0xAA, 0xBB}));
  EXPECT_TRUE(waitFor([&] { return status(c.body["id"]) == "SUCCESSFUL"; }));

  auto acked = call(server_, "POST", "/api/v1/devices/" + did_ + "/commands", {{"name", "ack"}, {"payloadBase64", "AQID"}});
  ASSERT_EQ(acked.status, 201) << acked.body;
  ASSERT_TRUE(waitFor([&] { return status(acked.body["id"]) == "SUCCESSFUL"; })) << status(acked.body["id"]);
  const auto result = call(server_, "GET", "/api/v1/commands/" + acked.body["id"].get<std::string>()).body["result"];
  EXPECT_EQ(result["dataHex"], "03") << "the device's 0x0094 data";
  EXPECT_TRUE(result["sn"].is_number_unsigned());

  auto ll = call(server_, "POST", "/api/v1/devices/" + did_ + "/commands", {{"name", "logLevel"}, {"payload", 5}});
  ASSERT_EQ(ll.status, 201) << ll.body;
  EXPECT_EQ(level.get(), 5);
  EXPECT_TRUE(waitFor([&] { return status(ll.body["id"]) == "SUCCESSFUL"; }));
}

TEST_F(Gizwits, DeviceAckedDataReachesTheHistory) {
  ASSERT_NO_FATAL_FAILURE(online());
  device_->sendAcked({9}, "app1", [](Bytes) {});
  json items;
  ASSERT_TRUE(waitFor([&] {
    items = call(server_, "GET", "/api/v1/devices/" + did_ + "/messages").body["items"];
    return items.size() == 1;
  }));
  EXPECT_EQ(items[0]["payloadBase64"], "CQ==");
}

TEST_F(Gizwits, CommandWaitsPendingWhileOffline) {
  auto d = call(server_, "POST", "/api/v1/devices",
                {{"productId", "plug"}, {"identifiers", {{"mac", "a0b1c2d3e4f5"}}}, {"secrets", {{"passcode", "PASSCODE01"}}}});
  ASSERT_EQ(d.status, 201) << d.body;
  const std::string did = d.body["id"];
  auto c = call(server_, "POST", "/api/v1/devices/" + did + "/commands", {{"payloadBase64", "AQ=="}, {"expireTime", 600}});
  ASSERT_EQ(c.status, 201);
  EXPECT_EQ(c.body["status"], "PENDING");
  Waiter<Bytes> got;
  ASSERT_NO_FATAL_FAILURE(online());  // registers the same MAC: the device created above
  EXPECT_EQ(did_, did);
  device_->onPassThrough([](const std::string&, const Bytes&) {});
  EXPECT_TRUE(waitFor([&] { return status(c.body["id"]) == "SUCCESSFUL"; })) << status(c.body["id"]);
}

TEST_F(Gizwits, RefusedLogins) {
  auto d = call(server_, "POST", "/api/v1/devices",
                {{"productId", "plug"}, {"secrets", {{"passcode", "PASSCODE01"}}}});
  const std::string did = d.body["id"];
  const auto refused = [&](const std::string& clientId, const std::string& user, const std::string& password) {
    client::GizwitsDevice dev(ioc_, {kPk, "", password, clientId}, "127.0.0.1", server_.httpPort());
    Waiter<std::pair<std::error_code, mqtt::Connack>> conn;
    dev.connect(server_.mqtt(""), [s = conn.setter()](std::error_code ec, mqtt::Connack a) { s({ec, a}); });
    auto c = conn.get();
    (void)user;
    return c ? c->second.returnCode : mqtt::ConnectReturn::Accepted;
  };
  EXPECT_EQ(refused(did, did, "WRONGPASS1"), mqtt::ConnectReturn::BadUsernameOrPassword);
  EXPECT_EQ(refused("unknownDid000000000000", "", "PASSCODE01"), mqtt::ConnectReturn::IdentifierRejected);
}

TEST(GizwitsPings, TooManyPingreqsDisconnectAndAreJournaled) {
  ServerProcess server({.args = {"--gizwits-max-pings", "3", "--gizwits-ping-window-seconds", "60"}});
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "plug"}, {"dialect", "gizwits"}}).status, 201);
  auto d = call(server, "POST", "/api/v1/devices", {{"productId", "plug"}, {"secrets", {{"passcode", "PASSCODE01"}}}});
  const std::string did = d.body["id"];
  RawConnection raw(server.mqttPort());
  mqtt::Connect connect;
  connect.protocolName = mqtt::kProtocolName31;
  connect.protocolLevel = mqtt::kLevel31;
  connect.clientId = did;
  connect.username = did;
  connect.password = bytes("PASSCODE01");
  connect.keepAlive = 1200;
  ASSERT_TRUE(raw.send(mqtt::encode(connect).value()));
  EXPECT_EQ(raw.receiveExactly(4), (Bytes{0x20, 0x02, 0x00, 0x00})) << "CONNACK accepted";
  const Bytes ping{0xC0, 0x00};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(raw.send(ping));
    EXPECT_EQ(raw.receiveExactly(2), (Bytes{0xD0, 0x00})) << "PINGRESP " << i;
  }
  ASSERT_TRUE(raw.send(ping));
  EXPECT_TRUE(raw.closedByPeer()) << "the fourth PINGREQ within 60 s";
  bool journaled = false;
  for (int i = 0; i < 100 && !journaled; ++i) {
    const auto items = call(server, "GET", "/api/v1/devices/" + did + "/journal").body["items"];
    for (const auto& e : items) journaled = journaled || e["summary"] == "connection closed: more than 3 PINGREQ within 60 s";
    if (!journaled) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(journaled) << call(server, "GET", "/api/v1/devices/" + did + "/journal").body.dump();
}

/// One request on a fresh socket, then a single recv(1024) — as GAgent reads GService answers.
std::string singleRecv(std::uint16_t port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return {};
  }
  (void)!::send(fd, request.data(), request.size(), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[1024];
  const auto n = ::recv(fd, buf, sizeof buf, 0);
  ::close(fd);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
}

/// The answer is whole: its head ends, and the body holds Content-Length bytes.
void expectWhole(const std::string& answer, const std::string& status) {
  ASSERT_FALSE(answer.empty());
  const auto first = answer.find(' ');
  EXPECT_EQ(answer.substr(first + 1, answer.find(' ', first + 1) - first - 1), status) << answer;
  const auto end = answer.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << answer;
  const auto cl = answer.find("Content-Length: ");
  ASSERT_NE(cl, std::string::npos) << answer;
  const auto length = std::stoul(answer.substr(cl + 16));
  EXPECT_EQ(answer.size() - end - 4, length) << answer;
}

TEST(GizwitsHttp, EveryDeviceAnswerArrivesWithOneRecv) {
  ServerProcess server;
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "plug"}, {"dialect", "gizwits"}, {"keys", {{"productKey", kPk}}}})
                .status,
            201);
  const auto post = [&](const std::string& method, const std::string& target, const std::string& body) {
    return singleRecv(server.httpPort(), method + " " + target +
                                             " HTTP/1.1\r\nHost: api.gizwits.com\r\nContent-Type: "
                                             "application/x-www-form-urlencoded\r\nContent-Length: " +
                                             std::to_string(body.size()) + "\r\n\r\n" + body);
  };
  const std::string form = std::string("passcode=PASSCODE01&mac=a0b1c2d3e4f5&product_key=") + kPk;
  auto reg = post("POST", "/dev/devices", form);
  expectWhole(reg, "201");
  const auto did = reg.substr(reg.find("did=") + 4, 22);
  expectWhole(post("POST", "/dev/devices", form), "201");
  auto prov = singleRecv(server.httpPort(), "GET /dev/devices/" + did + " HTTP/1.1\r\nHost: api.gizwits.com\r\n\r\n");
  expectWhole(prov, "200");
  EXPECT_NE(prov.find("host=api.gizwits.com&port=" + std::to_string(server.mqttPort()) + "&server_ts="),
            std::string::npos)
      << prov;
  expectWhole(singleRecv(server.httpPort(), "GET /dev/devices/unknown000000000000000 HTTP/1.1\r\nHost: x\r\n\r\n"), "404");
  expectWhole(post("POST", "/dev/devices", "passcode=x&mac=y&product_key=z"), "400");
  expectWhole(post("DELETE", "/dev/devices", "did=" + did + "&passcode=WRONGWRONG"), "403");
  expectWhole(post("DELETE", "/dev/devices", "did=" + did + "&passcode=PASSCODE01"), "200");
  EXPECT_EQ(call(server, "GET", "/api/v1/devices/" + did).status, 404) << "deregistered";
}

}  // namespace
}  // namespace fc::test
