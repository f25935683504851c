// The HTTP edge of the platform end to end: command status webhooks (callbackUrl), the HTTPS
// listener, and the bearer token /api requires when fakecloud is bound beyond loopback.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <nlohmann/json.hpp>

#include <regex>
#include <thread>

#include "client/sync_mqtt_client.hpp"
#include "tests/integration/http_receiver.hpp"
#include "tests/integration/server_process.hpp"
#include "tests/integration/websocket_client.hpp"

namespace fc::test {
namespace {

using nlohmann::json;
using client::SyncMqttClient;
using mqtt::QoS;

/// A generic product and device "lamp-1" with secret "s3cret".
void createLamp(const ServerProcess& server) {
  ASSERT_EQ(call(server, "POST", "/api/v1/products", {{"id", "lamp"}, {"dialect", "generic"}}).status, 201);
  ASSERT_EQ(call(server, "POST", "/api/v1/devices", {{"id", "lamp-1"}, {"productId", "lamp"}, {"secrets", {{"secret", "s3cret"}}}})
                .status,
            201);
}

std::vector<std::string> statuses(const std::vector<ReceivedRequest>& posts) {
  std::vector<std::string> out;
  for (const auto& p : posts) out.push_back(json::parse(p.body, nullptr, false)["data"].value("status", "?"));
  return out;
}

TEST(Webhooks, EveryStatusChangeOfACommandIsPostedInOrder) {
  HttpReceiver receiver;
  ServerProcess server;
  createLamp(server);
  auto o = server.mqtt("lamp-1-mqtt");
  o.username = "lamp-1";
  o.password = "s3cret";
  SyncMqttClient device(o);
  ASSERT_TRUE(device.connect());
  ASSERT_TRUE(device.subscribe("devices/lamp-1/commands", QoS::AtLeastOnce));

  auto created = call(server, "POST", "/api/v1/devices/lamp-1/commands",
                      {{"payload", {{"light", 1}}}, {"expireTime", 0}, {"callbackUrl", receiver.url("/hooks/cmd?app=7")}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = created.body["id"].get<std::string>();
  ASSERT_TRUE(device.receive());
  ASSERT_FALSE(device.publish("devices/lamp-1/commands/" + id + "/result", R"({"success":true})", QoS::AtLeastOnce));

  auto posts = receiver.waitFor(3);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(statuses(posts), (std::vector<std::string>{"SENT", "DELIVERED", "SUCCESSFUL"}));
  for (const auto& p : posts) {
    EXPECT_EQ(p.method, "POST");
    EXPECT_EQ(p.target, "/hooks/cmd?app=7");
    EXPECT_EQ(p.headers.at("content-type"), "application/json");
    auto body = json::parse(p.body);
    EXPECT_EQ(body["type"], "command.status");
    EXPECT_EQ(body["deviceId"], "lamp-1");
    EXPECT_EQ(body["data"]["id"], id);
    EXPECT_TRUE(body["time"].is_string());
  }
  EXPECT_EQ(json::parse(posts[2].body)["data"]["result"]["success"], true);
}

TEST(Webhooks, AFailingReceiverIsRetriedAndACommandWithoutCallbackPostsNothing) {
  HttpReceiver receiver;
  receiver.answerWith({500});
  ServerProcess server;
  createLamp(server);
  auto created = call(server, "POST", "/api/v1/devices/lamp-1/commands",
                      {{"payload", 1}, {"expireTime", 0}, {"callbackUrl", receiver.url("/cb")}});
  ASSERT_EQ(created.status, 201);
  EXPECT_EQ(created.body["status"], "FAILED") << "immediate to an offline device";
  auto posts = receiver.waitFor(2);
  ASSERT_EQ(posts.size(), 2u) << "the 500 is followed by a second attempt";
  EXPECT_EQ(posts[0].body, posts[1].body);
  EXPECT_EQ(statuses(posts), (std::vector<std::string>{"FAILED", "FAILED"}));

  ASSERT_EQ(call(server, "POST", "/api/v1/devices/lamp-1/commands", {{"payload", 2}, {"expireTime", 0}}).status, 201);
  // A later command with the same callback: its post comes next, so nothing came for the one without.
  auto marker = call(server, "POST", "/api/v1/devices/lamp-1/commands",
                     {{"payload", 3}, {"expireTime", 0}, {"callbackUrl", receiver.url("/cb")}});
  ASSERT_EQ(marker.status, 201);
  posts = receiver.waitFor(3);
  ASSERT_EQ(posts.size(), 3u);
  EXPECT_EQ(json::parse(posts[2].body)["data"]["id"], marker.body["id"]);
  EXPECT_EQ(receiver.received().size(), 3u);
}

TEST(Webhooks, AnUnusableCallbackUrlIsRefusedWith422) {
  ServerProcess server;
  createLamp(server);
  for (const char* bad : {"ftp://host/x", "not a url", "http://host:99999/", "/relative"}) {
    auto r = call(server, "POST", "/api/v1/devices/lamp-1/commands", {{"payload", 1}, {"callbackUrl", bad}});
    EXPECT_EQ(r.status, 422) << bad;
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find("callbackUrl"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call(server, "GET", "/api/v1/devices/lamp-1/commands").body["items"].size(), 0u);
}

TEST(Webhooks, ADeadReceiverDoesNotHoldUpThePlatform) {
  ServerProcess server;
  createLamp(server);
  // Nothing listens on port 1: every attempt fails fast, and the API keeps answering.
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(call(server, "POST", "/api/v1/devices/lamp-1/commands",
                   {{"payload", i}, {"expireTime", 0}, {"callbackUrl", "http://127.0.0.1:1/cb"}})
                  .status,
              201);
  EXPECT_EQ(call(server, "GET", "/healthz").status, 200);
}

struct HttpsResult {
  int status = 0;
  std::string body;
  std::string error;
};

/// One HTTPS request with certificate verification against `caFile` for host "localhost".
HttpsResult httpsGet(std::uint16_t port, const std::string& caFile, const std::string& target,
                     const std::string& extraHeaders = {}) {
  HttpsResult out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, caFile.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  SSL* ssl = SSL_new(ctx);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    out.error = "connect failed";
  } else {
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, "localhost");
    SSL_set_tlsext_host_name(ssl, "localhost");
    if (SSL_connect(ssl) != 1) {
      out.error = ERR_error_string(ERR_get_error(), nullptr);
    } else {
      const std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extraHeaders + "\r\n";
      SSL_write(ssl, req.data(), static_cast<int>(req.size()));
      std::string data;
      char buf[4096];
      for (int n; (n = SSL_read(ssl, buf, sizeof buf)) > 0;) data.append(buf, static_cast<std::size_t>(n));
      if (data.size() > 12) out.status = std::stoi(data.substr(9, 3));
      if (auto at = data.find("\r\n\r\n"); at != std::string::npos) out.body = data.substr(at + 4);
    }
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

TEST(Https, TheApiIsServedOverTlsWithTheLocalCa) {
  ServerProcess server;
  ASSERT_NE(server.httpsPort(), 0);
  auto health = httpsGet(server.httpsPort(), server.caFile(), "/healthz");
  ASSERT_TRUE(health.error.empty()) << health.error;
  EXPECT_EQ(health.status, 200);
  createLamp(server);
  auto devices = httpsGet(server.httpsPort(), server.caFile(), "/api/v1/devices");
  EXPECT_EQ(devices.status, 200);
  EXPECT_EQ(json::parse(devices.body)["items"][0]["id"], "lamp-1");

  // Plain HTTP on the TLS port is a failed handshake, logged; the listener carries on.
  auto plain = httpRequest(server.httpsPort(), "GET", "/healthz");
  EXPECT_NE(plain.status, 200);
  EXPECT_EQ(httpsGet(server.httpsPort(), server.caFile(), "/readyz").status, 200);
}

std::string tokenFromLog(const ServerProcess& server) {
  std::smatch m;
  const auto log = server.log();
  if (std::regex_search(log, m, std::regex("this run's token: ([A-Za-z0-9]+)"))) return m[1];
  return {};
}

TEST(ApiToken, BoundBeyondLoopbackTheApiNeedsTheGeneratedToken) {
  ServerProcess server({.args = {"--bind", "0.0.0.0"}});
  const auto token = tokenFromLog(server);
  ASSERT_EQ(token.size(), 32u) << server.log();

  auto refused = httpRequest(server.httpPort(), "GET", "/api/v1/products");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(json::parse(refused.body)["error"]["code"], "unauthorized");
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/api/v1/products", {}, {"Authorization: Bearer wrong"}).status, 401);
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/api/v1/products", {}, {"Authorization: Bearer " + token}).status, 200);
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/healthz").status, 200) << "health stays open";
  EXPECT_EQ(httpRequest(server.httpPort(), "POST", "/auth", "{}").status, 200) << "device channels stay open";
  EXPECT_EQ(httpsGet(server.httpsPort(), server.caFile(), "/api/v1/products").status, 401);
  EXPECT_EQ(httpsGet(server.httpsPort(), server.caFile(), "/api/v1/products", "Authorization: Bearer " + token + "\r\n").status,
            200);

  // A browser's WebSocket cannot set headers: the token may come as ?access_token=.
  EXPECT_THROW(WebSocketClient(server.httpPort(), "/api/v1/events"), std::runtime_error);
  EXPECT_NO_THROW(WebSocketClient(server.httpPort(), "/api/v1/events?access_token=" + token));
}

TEST(ApiToken, AConfiguredTokenIsRequiredEvenOnLoopback) {
  ServerProcess server({.args = {"--api-token", "fixed-token"}});
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/api/v1/devices").status, 401);
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/api/v1/devices", {}, {"Authorization: Bearer fixed-token"}).status, 200);
  EXPECT_TRUE(tokenFromLog(server).empty()) << "a configured token is not printed";
}

TEST(ApiToken, OnLoopbackWithoutConfigurationTheApiIsOpen) {
  ServerProcess server;
  EXPECT_EQ(httpRequest(server.httpPort(), "GET", "/api/v1/devices").status, 200);
  EXPECT_TRUE(tokenFromLog(server).empty());
}

}  // namespace
}  // namespace fc::test
