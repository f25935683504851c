// CoapServer's coaps socket in-process (server/coap/coap_server.hpp): a device made of a DtlsClient
// and a fc::coap::Endpoint on a plain UDP socket registers over DTLS, a resource handler sees the
// session through dtlsPeer(), and a server-initiated request (as LwM2M sends) reaches the device
// through its DTLS session and comes back.
#include "server/coap/coap_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <future>
#include <mutex>
#include <thread>
#include <variant>

#include "dtls/dtls.hpp"
#include "protocols/coap/message.hpp"

namespace fc::server::coap {
namespace {

using namespace std::chrono_literals;
namespace fcoap = fc::coap;

const std::vector<std::uint8_t> kKey = {1, 2, 3, 4, 5, 6, 7, 8};
const fcoap::PeerKey kServerPeer = "server";

/// The device: one UDP socket, a DTLS client and a CoAP endpoint serving /3/0.
class Device {
 public:
  explicit Device(std::uint16_t port) : endpoint_({}, {}, std::vector<std::uint8_t>(32, 7)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    dtls::ClientConfig config;
    config.peer = kServerPeer;
    config.identity = "id1";
    config.key = kKey;
    config.retransmitInitial = 100ms;
    auto client = dtls::DtlsClient::create(config);
    EXPECT_TRUE(client);
    dtls_.emplace(std::move(*client));
    endpoint_.addResource(
        fcoap::Resource{"3/0", false, {fcoap::code::kGet}, {}, true, [](const fcoap::IncomingRequest&) {
                          fcoap::Message m;
                          m.code = fcoap::code::kContent;
                          m.setPayload("hello");
                          return m;
                        }});
  }
  ~Device() { close(fd_); }

  void start() { run(dtls_->start(dtls::Clock::now())); }
  /// Serves datagrams until `done` holds or 5 s pass.
  bool pumpUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20) > 0) {
        std::vector<std::uint8_t> buf(4096);
        const auto n = recv(fd_, buf.data(), buf.size(), 0);
        if (n > 0) {
          buf.resize(static_cast<std::size_t>(n));
          run(dtls_->receive(buf, dtls::Clock::now()));
        }
      }
      run(dtls_->tick(dtls::Clock::now()));
    }
    return true;
  }
  bool established() const { return dtls_->state() == dtls::DtlsClient::State::Established; }
  fcoap::Endpoint& endpoint() { return endpoint_; }
  /// Encrypts what the endpoint wants to send.
  void flush() {
    for (auto& d : endpoint_.takeDatagrams()) {
      auto sealed = dtls_->send(d.bytes);
      ASSERT_TRUE(sealed);
      run(std::move(*sealed));
    }
  }

 private:
  void run(std::vector<dtls::Action> actions) {
    for (auto& a : actions) {
      if (auto* d = std::get_if<dtls::SendDatagram>(&a)) {
        ASSERT_EQ(send(fd_, d->bytes.data(), d->bytes.size(), 0), static_cast<ssize_t>(d->bytes.size()));
      } else if (auto* r = std::get_if<dtls::Received>(&a)) {
        endpoint_.onDatagram(kServerPeer, r->bytes, fcoap::Clock::now());
        flush();
      }
    }
  }

  int fd_ = -1;
  std::optional<dtls::DtlsClient> dtls_;
  fcoap::Endpoint endpoint_;
};

TEST(CoapServerDtls, RegisterOverDtlsThenTheServerReadsTheDeviceThroughItsSession) {
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);
  std::thread io([&ioc] { ioc.run(); });
  core::PlatformClock clock;
  CoapConfig config;
  {
    CoapServer server(ioc, config, clock);
    std::mutex mutex;
    std::optional<fcoap::PeerKey> registered;
    std::optional<DtlsPeerInfo> session;
    server.addResource(
        fcoap::Resource{"rd", false, {fcoap::code::kPost}, {}, true, [&](const fcoap::IncomingRequest& r) {
                          std::lock_guard lock(mutex);
                          registered = r.peer;
                          session = server.dtlsPeer(r.peer);  // on the strand
                          fcoap::Message m;
                          m.code = fcoap::code::kCreated;
                          return m;
                        }});
    const auto port = server.listenDtls("127.0.0.1", 0, [](std::string_view identity) -> std::optional<PskMatch> {
      if (identity != "id1") return std::nullopt;
      return PskMatch{"dev1", kKey};
    });

    Device device(port);
    device.start();
    ASSERT_TRUE(device.pumpUntil([&] { return device.established(); }));

    std::optional<Expected<fcoap::Message, std::error_code>> registerResult;
    fcoap::Message reg{.type = fcoap::Type::Confirmable, .code = fcoap::code::kPost};
    reg.setUriPath("rd");
    ASSERT_TRUE(device.endpoint().request(
        kServerPeer, reg, [&](auto r) { registerResult = std::move(r); }, fcoap::Clock::now()));
    device.flush();
    ASSERT_TRUE(device.pumpUntil([&] { return registerResult.has_value(); }));
    ASSERT_TRUE(*registerResult);
    EXPECT_EQ((*registerResult)->code, fcoap::code::kCreated);

    fcoap::PeerKey peer;
    {
      std::lock_guard lock(mutex);
      ASSERT_TRUE(registered);
      peer = *registered;
      ASSERT_TRUE(session);
      EXPECT_EQ(session->identity, "id1");
      EXPECT_EQ(session->deviceId, "dev1");
      EXPECT_EQ(session->cipher, dtls::kPskAes128CbcSha256);
    }
    EXPECT_EQ(peer.rfind(kDtlsPeerPrefix, 0), 0u) << peer;
    EXPECT_TRUE(server.dtlsPeer(peer));
    EXPECT_FALSE(server.dtlsPeer("127.0.0.1:5683")) << "a plain UDP peer has no DTLS session";

    // The server's own request to the DTLS peer goes through the session and its answer comes back.
    std::promise<Expected<fcoap::Message, std::error_code>> read;
    auto readResult = read.get_future();
    fcoap::Message get{.type = fcoap::Type::Confirmable, .code = fcoap::code::kGet};
    get.setUriPath("3/0");
    server.request(peer, get, [&read](Expected<fcoap::Message, std::error_code> r) { read.set_value(std::move(r)); });
    ASSERT_TRUE(device.pumpUntil([&] { return readResult.wait_for(0s) == std::future_status::ready; }));
    auto response = readResult.get();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->code, fcoap::code::kContent);
    EXPECT_EQ(response->payloadText(), "hello");
    server.stop();
  }
  guard.reset();
  ioc.stop();
  io.join();
}

}  // namespace
}  // namespace fc::server::coap
