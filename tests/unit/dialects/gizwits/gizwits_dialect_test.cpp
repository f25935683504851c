// The gizwits dialect without sockets: product and device rules, the topic ACL, sign-in decisions,
// connection rules, what uplinks do, commands on the wire, the app count, and GService's answers
// (exact bodies, single-write responses, Gizwits-style errors) — against an in-memory platform and
// a recording publisher.
#include "server/dialects/gizwits/module.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "protocols/dialects/gizwits/frame.hpp"
#include "server/coap/coap_server.hpp"
#include "server/coap/lwm2m_server.hpp"
#include "server/dialects/registry.hpp"
#include "server/http/platform_api.hpp"

namespace fc::server::dialects {
namespace {

using nlohmann::json;
namespace giz = fc::gizwits;
using Bytes = std::vector<std::uint8_t>;

constexpr const char* kPk = "0123456789abcdef0123456789abcdef";
constexpr const char* kDid = "hQy2hCXdVJ7dxdcGzGUUFf";
constexpr const char* kPasscode = "ABCDEFGHIJ";

class RecordingPublisher final : public MqttPublisher {
 public:
  struct Sent {
    std::string topic;
    Bytes payload;
  };
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS) override {
    sent.push_back({std::move(topic), std::move(payload)});
  }
  std::vector<Sent> sent;
};

class GizwitsTest : public ::testing::Test {
 protected:
  GizwitsTest() {
    GizwitsConfig config;
    auto module = std::make_unique<GizwitsModule>(context_, config, "127.0.0.1");
    module_ = module.get();
    registry_.add(std::move(module));
    http::addPlatformRoutes(router_, platform_, clock_, registry_, {});
    registry_.addRoutes(router_);
    platform_.setCommandSender(module_->commandSender());
    module_->serving({1883, 8883, 8080, 8443, 5683, 5684});
  }

  void SetUp() override {
    ASSERT_EQ(call("POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "gizwits"}, {"keys", {{"productKey", kPk}}}})
                  .status,
              201);
    auto r = call("POST", "/api/v1/devices",
                  {{"productId", "lamp"},
                   {"identifiers", {{"did", kDid}, {"mac", "A0:B1:C2:D3:E4:F5"}}},
                   {"secrets", {{"passcode", kPasscode}}}});
    ASSERT_EQ(r.status, 201) << r.body;
  }

  http::ApiResponse call(const std::string& method, const std::string& path, const json& body = nullptr) {
    http::ApiRequest r;
    r.method = method;
    r.path = path;
    if (!body.is_null()) r.body = body.dump();
    return router_.handle(r);
  }
  http::ApiResponse form(const std::string& method, const std::string& path, const std::string& body,
                         const std::string& host = "") {
    http::ApiRequest r;
    r.method = method;
    r.path = path;
    r.body = body;
    if (!host.empty()) r.headers["host"] = host;
    return router_.handle(r);
  }

  const MqttDialect& dialect() { return *module_->mqtt(); }
  broker::ClientIdentity client(std::string clientId, std::optional<std::string> username) {
    broker::ClientIdentity c;
    c.clientId = std::move(clientId);
    c.username = std::move(username);
    c.remote = "127.0.0.1:5000";
    return c;
  }
  core::Device device() { return *platform_.device(kDid); }
  void uplink(const std::string& topic, const Bytes& payload) {
    mqtt::Publish p;
    p.topic = topic;
    p.payload = payload;
    dialect().uplink(platform_, device(), p, publisher_);
  }
  /// The device online and subscribed to its commands.
  void online() {
    platform_.deviceConnected(kDid, "mqtt", "127.0.0.1:5000");
    platform_.deviceReachable(kDid);
  }

  boost::asio::io_context ioc_;
  core::PlatformClock clock_;
  core::Platform platform_{clock_, nullptr};
  RecordingPublisher publisher_;
  coap::CoapServer coap_{ioc_, CoapConfig{}, clock_};
  coap::Lwm2mServer lwm2m_{platform_, coap_};
  DialectContext context_{platform_, publisher_, coap_, lwm2m_, [](const std::string&, const std::string&) {}};
  DialectRegistry registry_;
  GizwitsModule* module_ = nullptr;
  http::Router router_;
};

// --- products and devices ---

TEST_F(GizwitsTest, ProductKeyIsGeneratedCheckedAndUnique) {
  auto p = json::parse(call("POST", "/api/v1/products", {{"id", "p2"}, {"dialect", "gizwits"}}).body);
  const auto pk = p["keys"]["productKey"].get<std::string>();
  EXPECT_EQ(pk.size(), 32u);
  EXPECT_EQ(pk.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(call("POST", "/api/v1/products", {{"id", "p3"}, {"dialect", "gizwits"}, {"keys", {{"productKey", "xyz"}}}})
                .status,
            422);
  EXPECT_EQ(call("POST", "/api/v1/products",
                 {{"id", "p4"}, {"dialect", "gizwits"}, {"keys", {{"productKey", "0123456789ABCDEF0123456789ABCDEF"}}}})
                .status,
            409)
      << "product keys compare without case";
  EXPECT_EQ(call("POST", "/api/v1/products",
                 {{"id", "p5"}, {"dialect", "gizwits"}, {"keys", {{"productSecret", 5}}}})
                .status,
            422);
}

TEST_F(GizwitsTest, DeviceDidPasscodeAndMac) {
  auto d = device();
  EXPECT_EQ(d.id, kDid) << "a device without an id takes its DID";
  EXPECT_EQ(d.identifiers["mac"], "a0b1c2d3e4f5");
  auto gen = json::parse(call("POST", "/api/v1/devices", {{"productId", "lamp"}}).body);
  EXPECT_EQ(gen["identifiers"]["did"].get<std::string>().size(), 22u);
  EXPECT_EQ(gen["id"], gen["identifiers"]["did"]);
  EXPECT_EQ(gen["secrets"]["passcode"].get<std::string>().size(), 10u);
  auto named = json::parse(call("POST", "/api/v1/devices", {{"id", "kitchen"}, {"productId", "lamp"}}).body);
  EXPECT_EQ(named["id"], "kitchen");
  EXPECT_EQ(named["identifiers"]["did"].get<std::string>().size(), 22u);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"productId", "lamp"}, {"identifiers", {{"did", "short"}}}}).status, 422);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"productId", "lamp"}, {"identifiers", {{"did", kDid}}}}).status, 409);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"productId", "lamp"}, {"identifiers", {{"mac", "a0b1c2d3e4f5"}}}}).status,
            409);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"productId", "lamp"}, {"identifiers", {{"mac", "zz"}}}}).status, 422);
  EXPECT_EQ(call("POST", "/api/v1/devices", {{"productId", "lamp"}, {"secrets", {{"passcode", "a&b"}}}}).status, 422);
}

// --- ACL ---

TEST_F(GizwitsTest, TopicAcl) {
  const auto acl = dialect().topicAcl(device());
  const std::string did = kDid, pk = kPk;
  for (const auto& t : {"ser2cli_noti/" + pk, "ser2cli_res/" + did, "app2dev/" + did + "/#", "app2dev/" + did + "/+",
                        "app2dev/" + did + "/app1"})
    EXPECT_TRUE(acl.maySubscribe(t)) << t;
  for (const std::string& t : std::vector<std::string>{"ser2cli_noti/ffffffffffffffffffffffffffffffff",
                                                       "ser2cli_res/other00000000000000000", "app2dev/#",
                                                       "app2dev/+/app1", "#", "dev2app/" + did})
    EXPECT_FALSE(acl.maySubscribe(t)) << t;
  for (const auto& t : {"dev2app/" + did, "dev2app/" + did + "/app1", std::string("cli2ser_req"), std::string("cli2ser"),
                        std::string("ser2cli_req")})
    EXPECT_TRUE(acl.mayPublish(t)) << t;
  for (const std::string& t : std::vector<std::string>{"dev2app/other00000000000000000", "dev2app/" + did + "/a/b",
                                                       "app2dev/" + did + "/x", "ser2cli_res/" + did, "cli2ser_req/x"})
    EXPECT_FALSE(acl.mayPublish(t)) << t;
}

// --- sign-in ---

TEST_F(GizwitsTest, LoginIsDidDidPasscode) {
  const Bytes right(kPasscode, kPasscode + 10), wrong(10, 'x');
  auto login = dialect().identify(platform_, client(kDid, kDid));
  ASSERT_TRUE(login);
  EXPECT_EQ(login->device.id, kDid);
  EXPECT_TRUE(dialect().verify(*login, client(kDid, kDid), right));
  EXPECT_FALSE(dialect().verify(*login, client(kDid, kDid), wrong));
  EXPECT_FALSE(dialect().verify(*login, client(kDid, kDid), std::nullopt));
  EXPECT_FALSE(dialect().identify(platform_, client(kDid, "someone")));
  auto refusal = dialect().refuse(platform_, client(kDid, "someone"));
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, mqtt::ConnectReturn::BadUsernameOrPassword);
  refusal = dialect().refuse(platform_, client("unknown000000000000000", "unknown000000000000000"));
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->code, mqtt::ConnectReturn::IdentifierRejected);
  EXPECT_FALSE(dialect().refuse(platform_, client("plain-client", "user"))) << "not a gizwits login: the broker's";
  EXPECT_FALSE(dialect().refuse(platform_, client("unknown000000000000000", std::nullopt)));
}

TEST_F(GizwitsTest, ConnectionRulesForGizwitsDevicesOnly) {
  auto rules = dialect().connectionRules(platform_, client(kDid, kDid));
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->maxKeepAlive, 600);
  EXPECT_EQ(rules->maxPings, 60u);
  EXPECT_EQ(rules->pingWindow, std::chrono::seconds(180));
  EXPECT_FALSE(dialect().connectionRules(platform_, client("plain-client", "user")));
}

// --- uplinks ---

TEST_F(GizwitsTest, PassThroughGoesToTheUplinkHistoryWithItsTopic) {
  uplink(std::string("dev2app/") + kDid + "/app7", giz::encode(giz::PassThrough{giz::Cmd::DeviceToApp, {1, 2, 3}}));
  auto messages = platform_.messages(kDid, 10);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].payload, (Bytes{1, 2, 3}));
  EXPECT_EQ(messages[0].topic, std::string("dev2app/") + kDid + "/app7") << "the app client id it was addressed to";
  EXPECT_EQ(messages[0].contentType, "application/octet-stream");
  EXPECT_TRUE(publisher_.sent.empty()) << "M2M answers nothing";
}

TEST_F(GizwitsTest, DeviceLogIsKeptAndAnnounced) {
  std::vector<core::DeviceLogEntry> seen;
  platform_.subscribe([&](const core::Event& e) {
    if (auto* l = std::get_if<core::DeviceLogged>(&e)) seen.push_back(l->entry);
  });
  uplink(std::string("dev2app/") + kDid, giz::encode(giz::DeviceLog{1, "wifi", "gagent", "disconnected"}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].level, 1);
  EXPECT_EQ(seen[0].tag, "wifi");
  EXPECT_EQ(seen[0].source, "gagent");
  EXPECT_EQ(seen[0].content, "disconnected");
  auto r = call("GET", std::string("/api/v1/devices/") + kDid + "/logs");
  ASSERT_EQ(r.status, 200);
  const auto items = json::parse(r.body)["items"];
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["content"], "disconnected");
  EXPECT_EQ(items[0]["level"], 1);
  EXPECT_EQ(call("GET", "/api/v1/devices/nobody/logs").status, 404);
}

TEST_F(GizwitsTest, AppCountRequestIsAnsweredOnSer2cliRes) {
  uplink("cli2ser_req", Bytes{0, 0, 0, 3, 0x02, 0x0F});
  ASSERT_EQ(publisher_.sent.size(), 1u);
  EXPECT_EQ(publisher_.sent[0].topic, std::string("ser2cli_res/") + kDid);
  EXPECT_EQ(publisher_.sent[0].payload, (Bytes{0, 0, 0, 3, 0x02, 0x10, 0x00, 0x00}));
  // Set through the API: an online device is told at once, and asks get the new count.
  online();
  auto r = call("PUT", std::string("/api/v1/devices/") + kDid + "/gizwits/apps", {{"count", 3}});
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(publisher_.sent.size(), 2u);
  EXPECT_EQ(publisher_.sent[1].payload, (Bytes{0, 0, 0, 3, 0x02, 0x10, 0x00, 0x03}));
  call("PUT", std::string("/api/v1/devices/") + kDid + "/gizwits/apps", {{"count", 3}});
  EXPECT_EQ(publisher_.sent.size(), 2u) << "no change, no push";
  uplink("ser2cli_req", Bytes{0, 0, 0, 3, 0x02, 0x0F});
  EXPECT_EQ(publisher_.sent.back().payload, (Bytes{0, 0, 0, 3, 0x02, 0x10, 0x00, 0x03}));
  EXPECT_EQ(json::parse(call("GET", std::string("/api/v1/devices/") + kDid + "/gizwits/apps").body)["count"], 3);
  EXPECT_EQ(call("PUT", std::string("/api/v1/devices/") + kDid + "/gizwits/apps", {{"count", 70000}}).status, 422);
  EXPECT_EQ(call("PUT", std::string("/api/v1/devices/") + kDid + "/gizwits/apps", {{"count", -1}}).status, 422);
  EXPECT_EQ(call("PUT", "/api/v1/devices/nobody/gizwits/apps", {{"count", 1}}).status, 404);
}

TEST_F(GizwitsTest, MalformedUplinksAreKeptRawAndNothingBreaks) {
  uplink(std::string("dev2app/") + kDid, Bytes{0, 0, 0, 4, 1});
  uplink(std::string("dev2app/") + kDid, Bytes{});
  uplink("cli2ser_req", Bytes{0, 0, 0, 3});
  EXPECT_EQ(platform_.messages(kDid, 10).size(), 2u);
  EXPECT_TRUE(publisher_.sent.empty());
}

// --- commands ---

TEST_F(GizwitsTest, CommandNames) {
  EXPECT_EQ(parseGizwitsCommandName("")->kind, GizwitsCommandName::Kind::PassThrough);
  EXPECT_EQ(parseGizwitsCommandName("")->appClientId, "fakecloud");
  EXPECT_EQ(parseGizwitsCommandName("ack@app1")->kind, GizwitsCommandName::Kind::Acked);
  EXPECT_EQ(parseGizwitsCommandName("ack@app1")->appClientId, "app1");
  EXPECT_EQ(parseGizwitsCommandName("@app2")->appClientId, "app2");
  EXPECT_EQ(parseGizwitsCommandName("logLevel")->kind, GizwitsCommandName::Kind::LogLevel);
  for (const char* bad : {"reboot", "ack@", "ack@a/b", "ack@+", "passthrough@a b"})
    EXPECT_FALSE(parseGizwitsCommandName(bad)) << bad;
  const auto post = [&](const json& body) {
    return call("POST", std::string("/api/v1/devices/") + kDid + "/commands", body).status;
  };
  EXPECT_EQ(post({{"name", "reboot"}, {"payloadBase64", "AQI="}}), 422);
  EXPECT_EQ(post({{"name", "logLevel"}, {"payload", "x"}}), 422);
  EXPECT_EQ(post({{"name", "logLevel"}, {"payload", 70000}}), 422);
}

TEST_F(GizwitsTest, PassThroughCommandIsPublishedAndDone) {
  online();
  auto sent = platform_.sendCommand(core::CommandSpec{kDid, "@app9", "\x01\x02", true});
  ASSERT_TRUE(sent);
  ASSERT_EQ(publisher_.sent.size(), 1u);
  EXPECT_EQ(publisher_.sent[0].topic, std::string("app2dev/") + kDid + "/app9");
  EXPECT_EQ(publisher_.sent[0].payload, (Bytes{0, 0, 0, 3, 0x05, 0x00, 0x00, 0x90, 0x01, 0x02}));
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Successful);
}

TEST_F(GizwitsTest, AckedCommandWaitsForItsSn) {
  online();
  auto sent = platform_.sendCommand(core::CommandSpec{kDid, "ack", "\xAB", true});
  ASSERT_TRUE(sent);
  ASSERT_EQ(publisher_.sent.size(), 1u);
  auto frame = giz::decode(publisher_.sent[0].payload);
  ASSERT_TRUE(frame);
  const auto& acked = std::get<giz::AckedData>(frame->value);
  EXPECT_EQ(acked.sn, static_cast<std::uint32_t>(sent->seq));
  EXPECT_EQ(acked.data, Bytes{0xAB});
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Sent);
  uplink(std::string("dev2app/") + kDid + "/fakecloud", giz::encode(giz::AckedData{giz::Cmd::AckedDataAck, acked.sn + 1, {}}));
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Sent) << "another sn";
  uplink(std::string("dev2app/") + kDid + "/fakecloud", giz::encode(giz::AckedData{giz::Cmd::AckedDataAck, acked.sn, {7}}));
  auto done = platform_.command(sent->id);
  EXPECT_EQ(done->status, core::CommandStatus::Successful);
  EXPECT_EQ(json::parse(done->result)["dataHex"], "07");
}

TEST_F(GizwitsTest, LogLevelCommandIsAnsweredBy0011) {
  online();
  auto sent = platform_.sendCommand(core::CommandSpec{kDid, "logLevel", "263"});
  ASSERT_TRUE(sent);
  ASSERT_EQ(publisher_.sent.size(), 1u);
  EXPECT_EQ(publisher_.sent[0].payload, (Bytes{0, 0, 0, 3, 0x05, 0x00, 0x00, 0x10, 0x01, 0x07}));
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Sent);
  uplink(std::string("dev2app/") + kDid + "/fakecloud", giz::encode(giz::SetLogLevelAck{}));
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Successful);
}

TEST_F(GizwitsTest, CommandsWaitWhileOffline) {
  auto sent = platform_.sendCommand(core::CommandSpec{kDid, "", "\x01", true});
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->status, core::CommandStatus::Pending);
  EXPECT_TRUE(publisher_.sent.empty());
  online();
  EXPECT_EQ(publisher_.sent.size(), 1u);
  EXPECT_EQ(platform_.command(sent->id)->status, core::CommandStatus::Successful);
}

TEST_F(GizwitsTest, ReceivesCommandsOnItsApp2devFilters) {
  EXPECT_TRUE(dialect().receivesCommands(device(), std::string("app2dev/") + kDid + "/#"));
  EXPECT_TRUE(dialect().receivesCommands(device(), std::string("app2dev/") + kDid + "/+"));
  EXPECT_FALSE(dialect().receivesCommands(device(), std::string("ser2cli_res/") + kDid));
}

// --- GService ---

TEST_F(GizwitsTest, RegisterAnswers201WithTheDidAndAgainTheSame) {
  const std::string body = std::string("passcode=KLMNOPQRST&mac=112233445566&product_key=") + kPk;
  auto r = form("POST", "/dev/devices", body);
  EXPECT_EQ(r.status, 201);
  EXPECT_TRUE(r.singleWrite);
  ASSERT_EQ(r.body.size(), 4u + 22u);
  ASSERT_EQ(r.body.substr(0, 4), "did=");
  const auto did = r.body.substr(4);
  auto d = platform_.device(did);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->identifiers["mac"], "112233445566");
  EXPECT_EQ(d->secrets["passcode"], "KLMNOPQRST");
  EXPECT_EQ(form("POST", "/dev/devices", body).body, "did=" + did) << "the same device again";
  EXPECT_EQ(platform_.devices().size(), 2u);
  // journaled: request and answer
  auto journal = platform_.journalEntries(did, 10);
  ASSERT_GE(journal.size(), 2u);
  EXPECT_EQ(journal[0].direction, "in");
  EXPECT_EQ(journal[1].summary, "201 did=" + did);
}

TEST_F(GizwitsTest, RegisterErrorsAreGizwitsStyleAndSingleWrite) {
  const std::vector<std::pair<std::string, int>> cases = {
      {std::string("passcode=KLMNOPQRST&mac=1122334455&product_key=") + kPk, 9015},
      {std::string("passcode=SHORT&mac=112233445566&product_key=") + kPk, 9015},
      {"passcode=KLMNOPQRST&mac=112233445566&product_key=ffffffffffffffffffffffffffffffff", 9002},
      {"passcode=KLMNOPQRST&mac=112233445566&product_key=nothex", 9002},
      {"", 9015},
      {"\xff\xfe=&&&==", 9015},
  };
  for (const auto& [body, code] : cases) {
    auto r = form("POST", "/dev/devices", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(r.singleWrite);
    const auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error_code"], code) << body;
    EXPECT_LE(http::wireBytes(r).size(), kGizwitsMaxAnswer);
  }
  EXPECT_EQ(platform_.devices().size(), 1u);
}

TEST_F(GizwitsTest, ProvisionTellsTheMqttHostAndPort) {
  auto r = form("GET", std::string("/dev/devices/") + kDid, "", "api.gizwits.com");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.singleWrite);
  const auto now = core::toMillis(clock_.now()) / 1000;
  EXPECT_EQ(r.body, "host=api.gizwits.com&port=1883&server_ts=" + std::to_string(now) +
                        "&log_host=api.gizwits.com&log_port=1883&biz_log=0&sys_log=0");
  EXPECT_EQ(form("GET", std::string("/dev/devices/") + kDid, "", "10.0.0.5:8080").body.substr(0, 21),
            "host=10.0.0.5&port=18");
  EXPECT_EQ(form("GET", std::string("/dev/devices/") + kDid, "").body.substr(0, 15), "host=127.0.0.1&");
  auto unknown = form("GET", "/dev/devices/unknown000000000000000", "");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(json::parse(unknown.body)["error_code"], 9005);
}

TEST_F(GizwitsTest, DeregisterNeedsThePasscode) {
  auto wrong = form("DELETE", "/dev/devices", std::string("did=") + kDid + "&passcode=XXXXXXXXXX");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_TRUE(platform_.device(kDid));
  EXPECT_EQ(form("DELETE", "/dev/devices", "did=unknown000000000000000&passcode=XXXXXXXXXX").status, 404);
  auto ok = form("DELETE", "/dev/devices", std::string("did=") + kDid + "&passcode=" + kPasscode);
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(ok.singleWrite);
  EXPECT_FALSE(platform_.device(kDid));
}

}  // namespace
}  // namespace fc::server::dialects
