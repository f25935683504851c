// fc::client::GizwitsDevice; see gizwits_device.hpp. Only gizwitsHttp instantiates Asio's
// composed operations here; the MQTT side is MqttClient's.
#include "client/dialects/gizwits/gizwits_device.hpp"

#include <array>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "client/error.hpp"
#include "protocols/common/overloaded.hpp"

namespace fc::client {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
namespace giz = fc::gizwits;

struct HttpExchange : std::enable_shared_from_this<HttpExchange> {
  HttpExchange(net::io_context& ioc, HttpHandler h) : resolver(ioc), socket(ioc), handler(std::move(h)) {}
  tcp::resolver resolver;
  tcp::socket socket;
  std::string request;
  std::string response;
  std::array<char, 1024> buffer{};
  HttpHandler handler;

  void fail(std::error_code ec) {  // boost::system::error_code converts
    if (auto h = std::exchange(handler, nullptr)) h(ec, {});
  }
  void read() {
    socket.async_read_some(net::buffer(buffer), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->response.append(self->buffer.data(), n);
      if (!ec && self->response.size() < (1u << 20)) return self->read();
      if (ec && ec != net::error::eof) return self->fail(ec);
      self->finish();
    });
  }
  void finish() {
    HttpAnswer a;
    const auto end = response.find("\r\n\r\n");
    a.head = response.substr(0, end);
    a.body = end == std::string::npos ? std::string{} : response.substr(end + 4);
    // The status is what stands between the first two spaces (GAgent reads it so).
    const auto first = response.find(' ');
    const auto second = first == std::string::npos ? first : response.find(' ', first + 1);
    if (second == std::string::npos) return fail(make_error_code(Error::ProtocolError));
    a.status = std::atoi(response.substr(first + 1, second - first - 1).c_str());
    if (auto h = std::exchange(handler, nullptr)) h({}, std::move(a));
  }
};

}  // namespace

void gizwitsHttp(net::io_context& ioc, const std::string& host, std::uint16_t port, const std::string& method,
                 const std::string& target, const std::string& body, HttpHandler handler) {
  auto x = std::make_shared<HttpExchange>(ioc, std::move(handler));
  x->request = method + " " + target + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
               "\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "DELETE")
    x->request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + std::to_string(body.size()) +
                  "\r\n";
  x->request += "\r\n" + body;
  x->resolver.async_resolve(host, std::to_string(port), [x](boost::system::error_code ec, tcp::resolver::results_type r) {
    if (ec) return x->fail(ec);
    net::async_connect(x->socket, r, [x](boost::system::error_code ec, const tcp::endpoint&) {
      if (ec) return x->fail(ec);
      net::async_write(x->socket, net::buffer(x->request), [x](boost::system::error_code ec, std::size_t) {
        if (ec) return x->fail(ec);
        x->read();
      });
    });
  });
}

struct GizwitsDevice::State {
  net::io_context& ioc;
  std::string httpHost;
  std::uint16_t httpPort;
  std::mutex mutex;
  GizwitsIdentity identity;
  std::unique_ptr<MqttClient> mqtt;
  std::atomic<std::uint32_t> nextSn{1};
  std::map<std::uint32_t, std::function<void(std::vector<std::uint8_t>)>> waitingAcks;
  std::function<void(const std::string&, const std::vector<std::uint8_t>&)> onPassThrough;
  std::function<std::vector<std::uint8_t>(const std::string&, const std::vector<std::uint8_t>&)> onAcked;
  std::function<void(std::uint16_t)> onLogLevel;
  std::function<void(std::uint16_t)> onAppCount;
  std::function<void(const giz::Frame&)> onOtaPush;

  State(net::io_context& io, GizwitsIdentity id, std::string host, std::uint16_t port)
      : ioc(io), httpHost(std::move(host)), httpPort(port), identity(std::move(id)) {}

  std::string did() {
    std::lock_guard lock(mutex);
    return identity.did;
  }

  void publish(std::string topic, const giz::Frame& frame, Completion done) {
    auto bytes = giz::encode(frame);
    MqttClient* client = nullptr;
    {
      std::lock_guard lock(mutex);
      client = mqtt.get();
    }
    if (!client || bytes.empty()) {
      if (done) done(make_error_code(client ? Error::InvalidArgument : Error::NotConnected));
      return;
    }
    // GAgent publishes at QoS 0 (PubMsg(…, 0)).
    client->publish(std::move(topic), std::move(bytes), mqtt::QoS::AtMostOnce, false,
                    [done = std::move(done)](std::error_code ec) {
                      if (done) done(ec);
                    });
  }

  void onMessage(const Message& m) {
    const std::string d = did();
    const auto decoded = giz::decode(m.payload);
    if (!decoded) return;
    const std::string app2dev = "app2dev/" + d + "/";
    if (m.topic.starts_with(app2dev)) {
      const std::string app = m.topic.substr(app2dev.size());
      const std::string reply = "dev2app/" + d + "/" + app;
      std::visit(Overloaded{
                     [&](const giz::PassThrough& f) {
                       if (f.cmd != giz::Cmd::AppToDevice) return;
                       auto h = handler(&State::onPassThrough);
                       if (h) h(app, f.data);
                     },
                     [&](const giz::AckedData& f) {
                       if (f.cmd == giz::Cmd::AckedDataAck) return ackArrived(f);
                       auto h = handler(&State::onAcked);
                       auto answer = h ? h(app, f.data) : std::vector<std::uint8_t>{};
                       publish(reply, giz::AckedData{giz::Cmd::AckedDataAck, f.sn, std::move(answer)}, {});
                     },
                     [&](const giz::SetLogLevel& f) {
                       auto h = handler(&State::onLogLevel);
                       if (h) h(f.bits);
                       publish(reply, giz::SetLogLevelAck{}, {});
                     },
                     [](const auto&) {},
                 },
                 decoded->value);
    } else if (m.topic == "ser2cli_res/" + d || m.topic.starts_with("ser2cli_noti/")) {
      std::visit(Overloaded{
                     [&](const giz::OnlineApps& f) {
                       auto h = handler(&State::onAppCount);
                       if (h) h(f.count);
                     },
                     [&](const giz::OtaPushV40& f) {
                       auto h = handler(&State::onOtaPush);
                       if (h) h(f);
                     },
                     [&](const giz::OtaPushV41& f) {
                       auto h = handler(&State::onOtaPush);
                       if (h) h(f);
                     },
                     [](const auto&) {},
                 },
                 decoded->value);
    }
  }

  void ackArrived(const giz::AckedData& f) {
    std::function<void(std::vector<std::uint8_t>)> done;
    {
      std::lock_guard lock(mutex);
      auto it = waitingAcks.find(f.sn);
      if (it == waitingAcks.end()) return;
      done = std::move(it->second);
      waitingAcks.erase(it);
    }
    if (done) done(f.data);
  }

  template <class F>
  F handler(F State::*member) {
    std::lock_guard lock(mutex);
    return this->*member;
  }
};

GizwitsDevice::GizwitsDevice(net::io_context& ioc, GizwitsIdentity identity, std::string httpHost,
                             std::uint16_t httpPort)
    : state_(std::make_shared<State>(ioc, std::move(identity), std::move(httpHost), httpPort)) {}

GizwitsDevice::~GizwitsDevice() {
  std::unique_ptr<MqttClient> client;
  {
    std::lock_guard lock(state_->mutex);
    client = std::move(state_->mqtt);
  }
}

const GizwitsIdentity& GizwitsDevice::identity() const { return state_->identity; }

MqttClient* GizwitsDevice::mqtt() {
  std::lock_guard lock(state_->mutex);
  return state_->mqtt.get();
}

void GizwitsDevice::registerDevice(std::function<void(std::error_code, HttpAnswer)> done) {
  GizwitsIdentity id;
  {
    std::lock_guard lock(state_->mutex);
    id = state_->identity;
  }
  gizwitsHttp(state_->ioc, state_->httpHost, state_->httpPort, "POST", "/dev/devices",
              giz::registerForm(id.passcode, id.mac, id.productKey),
              [s = state_, done = std::move(done)](std::error_code ec, HttpAnswer a) {
                if (ec) return done(ec, std::move(a));
                auto did = a.status == 201 ? giz::parseRegisterAnswer(a.body) : std::nullopt;
                if (!did) return done(make_error_code(Error::ProtocolError), std::move(a));
                {
                  std::lock_guard lock(s->mutex);
                  s->identity.did = *did;
                }
                done({}, std::move(a));
              });
}

void GizwitsDevice::deregister(std::function<void(std::error_code, HttpAnswer)> done) {
  GizwitsIdentity id;
  {
    std::lock_guard lock(state_->mutex);
    id = state_->identity;
  }
  gizwitsHttp(state_->ioc, state_->httpHost, state_->httpPort, "DELETE", "/dev/devices",
              giz::deregisterForm(id.did, id.passcode), [done = std::move(done)](std::error_code ec, HttpAnswer a) {
                if (!ec && a.status != 200) ec = make_error_code(Error::ProtocolError);
                done(ec, std::move(a));
              });
}

void GizwitsDevice::provision(std::function<void(std::error_code, gizwits::Provision, HttpAnswer)> done) {
  gizwitsHttp(state_->ioc, state_->httpHost, state_->httpPort, "GET", "/dev/devices/" + state_->did(), "",
              [done = std::move(done)](std::error_code ec, HttpAnswer a) {
                auto p = !ec && a.status == 200 ? giz::parseProvision(a.body) : std::nullopt;
                if (!ec && !p) ec = make_error_code(Error::ProtocolError);
                done(ec, p.value_or(giz::Provision{}), std::move(a));
              });
}

void GizwitsDevice::connect(MqttOptions transport, std::function<void(std::error_code, mqtt::Connack)> done) {
  GizwitsIdentity id;
  {
    std::lock_guard lock(state_->mutex);
    id = state_->identity;
  }
  transport.clientId = id.did;
  transport.username = id.did;
  transport.password = id.passcode;
  transport.protocolLevel = mqtt::kLevel31;  // MQIsdp, as GAgent
  auto client = std::make_unique<MqttClient>(state_->ioc, std::move(transport));
  MqttClient* c = client.get();
  std::weak_ptr<State> weak = state_;
  c->onMessage([weak](Message m) {
    if (auto s = weak.lock()) s->onMessage(m);
  });
  {
    std::lock_guard lock(state_->mutex);
    state_->mqtt = std::move(client);
  }
  c->connect([weak, c, id, done = std::move(done)](std::error_code ec, const mqtt::Connack& ack) {
    if (ec) return done(ec, ack);
    std::vector<mqtt::Subscription> subs = {{"ser2cli_noti/" + id.productKey, mqtt::QoS::AtMostOnce},
                                            {"ser2cli_res/" + id.did, mqtt::QoS::AtMostOnce},
                                            {"app2dev/" + id.did + "/#", mqtt::QoS::AtMostOnce}};
    c->subscribe(std::move(subs), [weak, ack, done](std::error_code ec, std::vector<std::uint8_t> codes) {
      for (auto code : codes)
        if (code == 0x80 && !ec) ec = make_error_code(Error::SubscriptionRefused);
      if (auto s = weak.lock(); s && !ec) s->publish("cli2ser_req", giz::OnlineAppsRequest{}, {});
      done(ec, ack);
    });
  });
}

void GizwitsDevice::disconnect(Completion done) {
  MqttClient* c = mqtt();
  if (!c) {
    if (done) done(make_error_code(Error::NotConnected));
    return;
  }
  c->disconnect(std::move(done));
}

void GizwitsDevice::sendToApp(std::vector<std::uint8_t> data, const std::string& appClientId, Completion done) {
  const auto topic = "dev2app/" + state_->did() + (appClientId.empty() ? "" : "/" + appClientId);
  state_->publish(topic, giz::PassThrough{giz::Cmd::DeviceToApp, std::move(data)}, std::move(done));
}

void GizwitsDevice::sendAcked(std::vector<std::uint8_t> data, const std::string& appClientId,
                              std::function<void(std::vector<std::uint8_t>)> acked, Completion sent) {
  const auto sn = state_->nextSn++;
  {
    std::lock_guard lock(state_->mutex);
    state_->waitingAcks[sn] = std::move(acked);
  }
  const auto topic = "dev2app/" + state_->did() + (appClientId.empty() ? "" : "/" + appClientId);
  state_->publish(topic, giz::AckedData{giz::Cmd::AckedData, sn, std::move(data)}, std::move(sent));
}

void GizwitsDevice::sendLog(std::uint8_t level, std::string tag, std::string source, std::string content,
                            Completion done) {
  state_->publish("dev2app/" + state_->did(),
                  giz::DeviceLog{level, std::move(tag), std::move(source), std::move(content)}, std::move(done));
}

void GizwitsDevice::requestAppCount(Completion done) {
  state_->publish("cli2ser_req", giz::OnlineAppsRequest{}, std::move(done));
}

void GizwitsDevice::onPassThrough(
    std::function<void(const std::string&, const std::vector<std::uint8_t>&)> handler) {
  std::lock_guard lock(state_->mutex);
  state_->onPassThrough = std::move(handler);
}

void GizwitsDevice::onAcked(
    std::function<std::vector<std::uint8_t>(const std::string&, const std::vector<std::uint8_t>&)> handler) {
  std::lock_guard lock(state_->mutex);
  state_->onAcked = std::move(handler);
}

void GizwitsDevice::onLogLevel(std::function<void(std::uint16_t)> handler) {
  std::lock_guard lock(state_->mutex);
  state_->onLogLevel = std::move(handler);
}

void GizwitsDevice::onAppCount(std::function<void(std::uint16_t)> handler) {
  std::lock_guard lock(state_->mutex);
  state_->onAppCount = std::move(handler);
}

void GizwitsDevice::onOtaPush(std::function<void(const gizwits::Frame&)> handler) {
  std::lock_guard lock(state_->mutex);
  state_->onOtaPush = std::move(handler);
}

}  // namespace fc::client
