// Interop: fc::dtls against the openssl command line over real UDP on 127.0.0.1 — DtlsClient
// against `openssl s_server -dtls1_2 -nocert -psk …`, and DtlsServer (driven by a small UDP loop
// here) against `openssl s_client -dtls1_2 -psk …`, once per default cipher suite.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "dtls/dtls.hpp"

namespace {

using namespace std::chrono_literals;
using namespace fc::dtls;
using Bytes = std::vector<std::uint8_t>;

const Bytes kKey{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF};
constexpr const char* kKeyHex = "00112233445566778899aabbccddeeff";

std::string opensslName(std::string_view iana) {
  if (iana == kPskAes128CbcSha256) return "PSK-AES128-CBC-SHA256";
  if (iana == kPskAes256CbcSha) return "PSK-AES256-CBC-SHA";
  if (iana == kPskAes128CbcSha) return "PSK-AES128-CBC-SHA";
  return "PSK-AES128-CCM8";
}

/// A UDP socket on 127.0.0.1, port 0 unless told.
class UdpSocket {
 public:
  explicit UdpSocket(std::uint16_t port = 0) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "bind failed";
  }
  ~UdpSocket() { ::close(fd_); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  std::uint16_t port() const {
    sockaddr_in a{};
    socklen_t n = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &n);
    return ntohs(a.sin_port);
  }
  void sendTo(const sockaddr_in& to, const Bytes& b) const {
    // Errors (e.g. ECONNREFUSED while the peer starts) are a lost datagram; DTLS retransmits.
    (void)::sendto(fd_, b.data(), b.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
  /// One datagram within `wait`, or nullopt.
  std::optional<std::pair<sockaddr_in, Bytes>> receive(std::chrono::milliseconds wait) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    Bytes buf(65536);
    sockaddr_in from{};
    socklen_t n = sizeof from;
    const auto r = ::recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &n);
    if (r < 0) return std::nullopt;
    buf.resize(static_cast<std::size_t>(r));
    return std::make_pair(from, std::move(buf));
  }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

std::string keyOf(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

/// `openssl …` with a pipe to its stdin and its stdout+stderr in a file; killed at destruction.
class OpensslProcess {
 public:
  explicit OpensslProcess(std::vector<std::string> args) {
    char path[] = "/tmp/fc-dtls-interop-XXXXXX";
    const int out = ::mkstemp(path);
    outPath_ = path;
    int in[2];
    if (::pipe(in) != 0) throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::close(in[1]);
      std::vector<char*> argv;
      static std::string openssl = "openssl";
      argv.push_back(openssl.data());
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execvp("openssl", argv.data());
      std::_Exit(127);
    }
    ::close(in[0]);
    ::close(out);
    stdin_ = in[1];
  }
  ~OpensslProcess() {
    closeStdin();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::remove(outPath_.c_str());
  }
  OpensslProcess(const OpensslProcess&) = delete;
  OpensslProcess& operator=(const OpensslProcess&) = delete;

  void write(const std::string& s) const { (void)::write(stdin_, s.data(), s.size()); }
  void closeStdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }
  std::string output() const {
    std::ifstream f(outPath_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  /// Waits for the process to exit; false on timeout.
  bool waitExit(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      ::usleep(10'000);
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  std::string outPath_;
};

/// Polls `until` every 20 ms, up to `timeout`, running `step` between polls.
bool eventually(const std::function<bool()>& until, std::chrono::milliseconds timeout,
                const std::function<void()>& step = [] {}) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    step();
    if (until()) return true;
  }
  return until();
}

class DtlsOpenssl : public ::testing::TestWithParam<std::string_view> {};

TEST_P(DtlsOpenssl, ClientAgainstOpensslServer) {
  const std::uint16_t port = UdpSocket().port();  // a free port for s_server
  OpensslProcess server({"s_server", "-dtls1_2", "-nocert", "-psk", kKeyHex, "-psk_identity", "dev1", "-cipher",
                         opensslName(GetParam()), "-accept", "127.0.0.1:" + std::to_string(port), "-naccept", "1"});
  UdpSocket sock;
  const sockaddr_in to = loopback(port);

  ClientConfig c;
  c.peer = "127.0.0.1:" + std::to_string(port);
  c.identity = "dev1";
  c.key = kKey;
  c.ciphers = {std::string(GetParam())};
  c.retransmitInitial = 200ms;  // s_server may not be listening yet
  auto client = std::move(*DtlsClient::create(c));
  std::vector<Action> events;
  auto handle = [&](std::vector<Action> actions) {
    for (auto& a : actions) {
      if (auto* d = std::get_if<SendDatagram>(&a))
        sock.sendTo(to, d->bytes);
      else
        events.push_back(std::move(a));
    }
  };
  auto pump = [&] {
    if (auto d = sock.receive(20ms)) handle(client.receive(d->second, Clock::now()));
    handle(client.tick(Clock::now()));
  };
  handle(client.start(Clock::now()));
  ASSERT_TRUE(eventually([&] { return client.state() != DtlsClient::State::Handshaking; }, 10s, pump))
      << server.output();
  ASSERT_EQ(client.state(), DtlsClient::State::Established) << server.output();
  EXPECT_EQ(client.cipher(), GetParam());

  const std::string up = "uplink from fc::dtls";
  handle(*client.send(Bytes(up.begin(), up.end())));
  EXPECT_TRUE(eventually([&] { return server.output().find(up) != std::string::npos; }, 5s, pump))
      << server.output();
  EXPECT_NE(server.output().find("CIPHER is " + opensslName(GetParam())), std::string::npos) << server.output();

  server.write("downlink from openssl\n");
  auto received = [&] {
    for (const auto& e : events)
      if (const auto* r = std::get_if<Received>(&e))
        if (std::string(r->bytes.begin(), r->bytes.end()) == "downlink from openssl\n") return true;
    return false;
  };
  EXPECT_TRUE(eventually(received, 5s, pump)) << server.output();
  handle(client.close());
  EXPECT_EQ(client.state(), DtlsClient::State::Closed);
}

struct ServerLoop {
  explicit ServerLoop(std::function<std::optional<Bytes>(std::string_view)> lookup) {
    ServerConfig config;
    config.retransmitInitial = 200ms;
    server.emplace(std::move(*DtlsServer::create(config, std::move(lookup))));
  }
  void handle(std::vector<Action> actions) {
    for (auto& a : actions) {
      if (auto* d = std::get_if<SendDatagram>(&a))
        sock.sendTo(peers.at(d->peer), d->bytes);
      else
        events.push_back(std::move(a));
    }
  }
  void pump() {
    if (auto d = sock.receive(20ms)) {
      const auto key = keyOf(d->first);
      peers[key] = d->first;
      const auto* raw = reinterpret_cast<const std::uint8_t*>(&d->first);
      handle(server->receive(key, std::span(raw, sizeof(sockaddr_in)), d->second, Clock::now()));
    }
    handle(server->tick(Clock::now()));
  }
  template <class T>
  const T* find() const {
    for (const auto& e : events)
      if (const auto* t = std::get_if<T>(&e)) return t;
    return nullptr;
  }

  UdpSocket sock;
  std::optional<DtlsServer> server;
  std::map<PeerKey, sockaddr_in> peers;
  std::vector<Action> events;
};

TEST_P(DtlsOpenssl, ServerAgainstOpensslClient) {
  ServerLoop loop([](std::string_view id) -> std::optional<Bytes> {
    if (id == "dev1") return kKey;
    return std::nullopt;
  });
  OpensslProcess client({"s_client", "-dtls1_2", "-psk", kKeyHex, "-psk_identity", "dev1", "-cipher",
                         opensslName(GetParam()), "-connect", "127.0.0.1:" + std::to_string(loop.sock.port())});
  auto pump = [&] { loop.pump(); };
  ASSERT_TRUE(eventually([&] { return loop.find<Established>() != nullptr || loop.find<Failed>() != nullptr; }, 10s,
                         pump))
      << client.output();
  const auto* up = loop.find<Established>();
  ASSERT_NE(up, nullptr) << loop.find<Failed>()->why << "\n" << client.output();
  EXPECT_EQ(up->identity, "dev1");
  EXPECT_EQ(up->cipher, GetParam());
  const PeerKey peer = up->peer;
  EXPECT_TRUE(eventually([&] { return client.output().find("Cipher is " + opensslName(GetParam())) != std::string::npos; },
                         5s, pump))
      << client.output();

  client.write("uplink from openssl\n");
  ASSERT_TRUE(eventually([&] { return loop.find<Received>() != nullptr; }, 5s, pump)) << client.output();
  const auto* r = loop.find<Received>();
  EXPECT_EQ(std::string(r->bytes.begin(), r->bytes.end()), "uplink from openssl\n");

  const std::string down = "downlink from fc::dtls\n";
  loop.handle(*loop.server->send(peer, Bytes(down.begin(), down.end())));
  EXPECT_TRUE(eventually([&] { return client.output().find(down) != std::string::npos; }, 5s, pump))
      << client.output();

  // End of input: s_client sends close_notify and exits.
  client.closeStdin();
  EXPECT_TRUE(eventually([&] { return loop.find<Closed>() != nullptr; }, 5s, pump)) << client.output();
  if (const auto* closed = loop.find<Closed>()) {
    EXPECT_EQ(closed->why, "peer sent close_notify");
  }
  EXPECT_EQ(loop.server->established(), 0u);
}

TEST_P(DtlsOpenssl, ServerRejectsOpensslClientWithWrongKey) {
  ServerLoop loop([](std::string_view) -> std::optional<Bytes> { return kKey; });
  OpensslProcess client({"s_client", "-dtls1_2", "-psk", "ffeeddccbbaa99887766554433221100", "-psk_identity", "dev1",
                         "-cipher", opensslName(GetParam()), "-connect",
                         "127.0.0.1:" + std::to_string(loop.sock.port())});
  auto pump = [&] { loop.pump(); };
  ASSERT_TRUE(eventually([&] { return loop.find<Failed>() != nullptr; }, 10s, pump)) << client.output();
  EXPECT_EQ(loop.find<Failed>()->why, "the client's Finished did not decrypt: wrong PSK for identity 'dev1'");
  EXPECT_TRUE(client.waitExit(5s)) << "s_client gives up at once on the fatal alert\n" << client.output();
  EXPECT_NE(client.output().find("bad record mac"), std::string::npos) << client.output();
  EXPECT_EQ(loop.server->halfOpen(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllDefaultSuites, DtlsOpenssl,
                         ::testing::Values(kPskAes128CbcSha256, kPskAes256CbcSha, kPskAes128CbcSha, kPskAes128Ccm8),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
