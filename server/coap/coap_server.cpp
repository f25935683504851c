// The UDP side of the CoAP endpoint, plain and DTLS. Every touch of the sans-I/O Endpoint and
// DtlsServer happens on one strand: the receive handlers, the scheduler's tick and requests posted
// from other threads. A DTLS peer's key is "coaps:" + its address; the DtlsServer and the Endpoint
// both know it by that key, so the DTLS actions' peers are the endpoint's peers.
#include "server/coap/coap_server.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <variant>

#include "dtls/dtls.hpp"

namespace fc::server::coap {
namespace {

namespace net = boost::asio;
using net::ip::udp;
namespace fcoap = fc::coap;

/// "192.0.2.1:5683" or "[2001:db8::1]:5683": the peer key of plain UDP, and back.
std::string peerKey(const udp::endpoint& e) {
  const auto address = e.address();
  return (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" + std::to_string(e.port());
}

bool isDtlsPeer(std::string_view key) { return key.starts_with(kDtlsPeerPrefix); }

std::optional<udp::endpoint> endpointOf(std::string key) {
  if (isDtlsPeer(key)) key.erase(0, kDtlsPeerPrefix.size());
  const auto colon = key.rfind(':');
  if (colon == std::string::npos || colon + 1 >= key.size()) return std::nullopt;
  std::string host = key.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  if (ec) return std::nullopt;
  unsigned port = 0;
  for (char ch : key.substr(colon + 1)) {
    if (ch < '0' || ch > '9' || port > 65535) return std::nullopt;
    port = port * 10 + static_cast<unsigned>(ch - '0');
  }
  if (port == 0 || port > 65535) return std::nullopt;
  return udp::endpoint(address, static_cast<unsigned short>(port));
}

fcoap::TransmissionParams transmission(const CoapConfig& c) {
  fcoap::TransmissionParams p;
  p.ackTimeout = std::chrono::milliseconds(c.ackTimeoutMs);
  p.ackRandomFactor = c.ackRandomFactor;
  p.maxRetransmit = c.maxRetransmit;
  return p;
}

fc::dtls::ServerConfig dtlsConfig(const CoapConfig& c) {
  fc::dtls::ServerConfig d;
  if (!c.dtlsCiphers.empty()) d.ciphers = c.dtlsCiphers;
  d.handshakeTimeout = std::chrono::milliseconds(c.dtlsHandshakeTimeoutMs);
  d.idleTimeout = std::chrono::milliseconds(c.dtlsIdleTimeoutMs);
  d.maxHalfOpen = c.dtlsMaxHalfOpen;
  d.maxPeers = c.maxPeers;
  return d;
}

fcoap::EndpointLimits limits(const CoapConfig& c) {
  fcoap::EndpointLimits l;
  l.maxPeers = c.maxPeers;
  l.maxBodySize = c.maxBodySize;
  return l;
}

std::vector<std::uint8_t> randomSeed() {
  std::vector<std::uint8_t> seed(32);
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    // Tokens then only need to be unpredictable enough for a test cloud: mix in the time.
    const auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (std::size_t i = 0; i < 8; ++i) seed[i] ^= static_cast<std::uint8_t>(t >> (8 * i));
  }
  return seed;
}

/// One log line per peer per interval; what was held back is counted into the next line.
class LogLimiter {
 public:
  static constexpr auto kInterval = std::chrono::seconds(10);
  static constexpr std::size_t kMaxPeers = 4096;

  /// The number of lines suppressed since the last one, or nullopt when this one is suppressed too.
  std::optional<std::uint64_t> allow(const std::string& peer) {
    const auto now = std::chrono::steady_clock::now();
    if (peers_.size() >= kMaxPeers && !peers_.contains(peer)) peers_.clear();  // a flood of addresses
    auto& p = peers_[peer];
    if (p.last && now - *p.last < kInterval) {
      ++p.suppressed;
      return std::nullopt;
    }
    p.last = now;
    return std::exchange(p.suppressed, 0);
  }

 private:
  struct Peer {
    std::optional<std::chrono::steady_clock::time_point> last;
    std::uint64_t suppressed = 0;
  };
  std::map<std::string, Peer> peers_;
};

const char* kindName(fcoap::Note::Kind k) {
  switch (k) {
    case fcoap::Note::Kind::Dropped:
      return "dropped";
    case fcoap::Note::Kind::Rejected:
      return "rejected";
    case fcoap::Note::Kind::BadRequest:
      return "refused";
    case fcoap::Note::Kind::PeerLimit:
      return "peer limit";
  }
  return "note";
}

}  // namespace

fcoap::TimePoint coapTime(core::TimePoint t) {
  return fcoap::TimePoint{} + std::chrono::duration_cast<fcoap::Duration>(t.time_since_epoch());
}

struct CoapServer::Impl : std::enable_shared_from_this<Impl> {
  static constexpr std::size_t kMaxSendsInFlight = 4096;

  Impl(net::io_context& ioc, const CoapConfig& config, const core::Clock& clock)
      : strand(net::make_strand(ioc)),
        socket(strand),
        dtlsSocket(strand),
        clock(clock),
        config(config),
        endpoint(transmission(config), limits(config), randomSeed()) {}

  net::strand<net::io_context::executor_type> strand;
  udp::socket socket;
  udp::socket dtlsSocket;
  const core::Clock& clock;
  CoapConfig config;
  fcoap::Endpoint endpoint;
  std::array<std::uint8_t, 65536> buffer{};
  udp::endpoint sender;
  // --- coaps ---
  std::optional<fc::dtls::DtlsServer> dtls;
  PskLookup pskLookup;
  std::map<fcoap::PeerKey, std::string> handshakeDevice;  // the device a handshake's identity named
  mutable std::mutex dtlsPeersMutex;                      // dtlsPeer() may be called off the strand
  std::map<fcoap::PeerKey, DtlsPeerInfo> dtlsPeers;       // established sessions
  std::array<std::uint8_t, 65536> dtlsBuffer{};
  udp::endpoint dtlsSender;
  LogLimiter limiter;
  std::size_t sendsInFlight = 0;
  bool stopped = false;
  CoapStats counters;

  fcoap::TimePoint now() const { return coapTime(clock.now()); }
  /// The DTLS library's steady time point, on the platform clock like the endpoint's.
  fc::dtls::TimePoint dtlsNow() const {
    return fc::dtls::TimePoint{} + std::chrono::duration_cast<fc::dtls::Duration>(clock.now().time_since_epoch());
  }

  void receiveDtls() {
    dtlsSocket.async_receive_from(
        net::buffer(dtlsBuffer), dtlsSender,
        net::bind_executor(strand, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->onDtlsReceive(ec, n);
        }));
  }

  void onDtlsReceive(const boost::system::error_code& ec, std::size_t n) {
    if (ec == net::error::operation_aborted || stopped) return;
    if (ec) {
      spdlog::debug("coaps: receive: {}", ec.message());
    } else {
      const auto peer = std::string(kDtlsPeerPrefix) + peerKey(dtlsSender);
      const std::span<const std::uint8_t> address(reinterpret_cast<const std::uint8_t*>(dtlsSender.data()),
                                                  dtlsSender.size());
      run(dtls->receive(peer, address, std::span<const std::uint8_t>(dtlsBuffer.data(), n), dtlsNow()));
    }
    receiveDtls();
  }

  /// The lookup the DtlsServer calls from receive(): remembers whose key it handed out.
  std::optional<std::vector<std::uint8_t>> lookupPsk(const fcoap::PeerKey& peer, std::string_view identity) {
    auto match = pskLookup(identity);
    if (!match) return std::nullopt;
    handshakeDevice[peer] = match->deviceId;
    return std::move(match->key);
  }

  /// Carries out what the DtlsServer asked for.
  void run(std::vector<fc::dtls::Action> actions) {
    for (auto& action : actions) {
      if (auto* d = std::get_if<fc::dtls::SendDatagram>(&action)) {
        sendOn(dtlsSocket, d->peer, std::move(d->bytes));
      } else if (auto* r = std::get_if<fc::dtls::Received>(&action)) {
        input(r->peer, r->bytes);
      } else if (auto* e = std::get_if<fc::dtls::Established>(&action)) {
        DtlsPeerInfo info{e->identity, {}, e->cipher};
        if (auto it = handshakeDevice.find(e->peer); it != handshakeDevice.end()) {
          info.deviceId = std::move(it->second);
          handshakeDevice.erase(it);
        }
        spdlog::info("coap {}: DTLS session established: identity '{}', device {}, {}", e->peer, info.identity,
                     info.deviceId, info.cipher);
        std::lock_guard lock(dtlsPeersMutex);
        dtlsPeers[e->peer] = std::move(info);
      } else if (auto* f = std::get_if<fc::dtls::Failed>(&action)) {
        handshakeDevice.erase(f->peer);
        log(fcoap::Note{f->peer, fcoap::Note::Kind::Rejected, "DTLS handshake failed: " + f->why});
      } else if (auto* c = std::get_if<fc::dtls::Closed>(&action)) {
        {
          std::lock_guard lock(dtlsPeersMutex);
          dtlsPeers.erase(c->peer);
        }
        spdlog::info("coap {}: DTLS session closed: {}", c->peer, c->why);
        endpoint.forgetPeer(c->peer, now());  // its requests fail; the device re-handshakes
        flush();
      }
    }
  }

  void tickDtls() {
    if (!dtls) return;
    const auto t = dtlsNow();
    const auto next = dtls->nextDeadline();
    // Handshake retransmission runs on real time inside OpenSSL (docs/dtls.md, "Time"), so while
    // handshakes are open it is asked every tick even when the platform clock stands still.
    if (dtls->halfOpen() > 0 || (next && *next <= t)) run(dtls->tick(t));
  }

  void receive() {
    socket.async_receive_from(
        net::buffer(buffer), sender,
        net::bind_executor(strand, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->onReceive(ec, n);
        }));
  }

  void onReceive(const boost::system::error_code& ec, std::size_t n) {
    if (ec == net::error::operation_aborted || stopped) return;
    if (ec) {
      // An ICMP error for an earlier send (e.g. port unreachable) surfaces here; keep serving.
      spdlog::debug("coap: receive: {}", ec.message());
    } else {
      input(peerKey(sender), std::span<const std::uint8_t>(buffer.data(), n));
    }
    receive();
  }

  void input(const fcoap::PeerKey& peer, std::span<const std::uint8_t> datagram) {
    ++counters.datagramsIn;
    endpoint.onDatagram(peer, datagram, now());
    flush();
  }

  /// What a RequestStarted callback is told of the request `id` that start returned.
  Expected<StartedRequest, fcoap::RequestError> started(const Expected<fcoap::Endpoint::RequestId, fcoap::RequestError>& id) {
    if (!id) return Unexpected(id.error());
    return StartedRequest{*id, endpoint.lastSent(*id).value_or(fcoap::Message{})};
  }

  void flush() {
    for (auto& d : endpoint.takeDatagrams()) send(std::move(d));
    for (auto& n : endpoint.takeNotes()) log(n);
  }

  void send(fcoap::SendDatagram d) {
    if (!isDtlsPeer(d.peer)) return sendOn(socket, d.peer, std::move(d.bytes));
    if (!dtls) return;
    auto sealed = dtls->send(d.peer, d.bytes);
    if (!sealed) {
      log(fcoap::Note{d.peer, fcoap::Note::Kind::Dropped,
                      std::string("outgoing datagram dropped: ") + fc::dtls::sendErrorName(sealed.error())});
      return;
    }
    run(std::move(*sealed));
  }

  void sendOn(udp::socket& out, const fcoap::PeerKey& peer, std::vector<std::uint8_t> bytes) {
    const auto to = endpointOf(peer);
    if (!to || !out.is_open()) return;
    if (sendsInFlight >= kMaxSendsInFlight) {
      log(fcoap::Note{peer, fcoap::Note::Kind::Dropped, "outgoing datagram dropped: send queue full"});
      return;
    }
    ++sendsInFlight;
    ++counters.datagramsOut;
    auto shared = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
    out.async_send_to(net::buffer(*shared), *to,
                      net::bind_executor(strand, [self = shared_from_this(), shared, peer](
                                                     const boost::system::error_code& ec, std::size_t) {
                        --self->sendsInFlight;
                        if (ec && ec != net::error::operation_aborted)
                          self->log(fcoap::Note{peer, fcoap::Note::Kind::Dropped, "send failed: " + ec.message()});
                      }));
  }

  void log(const fcoap::Note& n) {
    ++counters.notes;
    const auto suppressed = limiter.allow(n.peer);
    if (!suppressed) return;
    if (*suppressed > 0)
      spdlog::info("coap {}: {}: {} ({} more notes from this peer held back)", n.peer, kindName(n.kind), n.text,
                   *suppressed);
    else
      spdlog::info("coap {}: {}: {}", n.peer, kindName(n.kind), n.text);
  }
};

CoapServer::CoapServer(net::io_context& ioc, const CoapConfig& config, const core::Clock& clock)
    : impl_(std::make_shared<Impl>(ioc, config, clock)) {}

CoapServer::~CoapServer() { stop(); }

void CoapServer::addResource(fcoap::Resource resource) { impl_->endpoint.addResource(std::move(resource)); }

void CoapServer::recognizeOption(std::uint16_t number) { impl_->endpoint.recognizeOption(number); }

std::uint16_t CoapServer::listenUdp(const std::string& address, std::uint16_t port) {
  boost::system::error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("invalid bind address '" + address + "'");
  const udp::endpoint local(ip, port);
  auto& socket = impl_->socket;
  socket.open(local.protocol(), ec);
  if (!ec) socket.bind(local, ec);
  if (ec) throw std::runtime_error("cannot bind UDP " + address + ":" + std::to_string(port) + ": " + ec.message());
  const auto bound = socket.local_endpoint().port();
  net::dispatch(impl_->strand, [impl = impl_] { impl->receive(); });
  return bound;
}

std::uint16_t CoapServer::listenDtls(const std::string& address, std::uint16_t port, PskLookup lookup) {
  if (!lookup) throw std::runtime_error("coaps needs a PSK lookup");
  boost::system::error_code ec;
  const auto ip = net::ip::make_address(address, ec);
  if (ec) throw std::runtime_error("invalid bind address '" + address + "'");
  auto server =
      fc::dtls::DtlsServer::create(dtlsConfig(impl_->config),
                                   [weak = std::weak_ptr<Impl>(impl_), current = &impl_->dtlsSender](
                                       std::string_view identity) -> std::optional<std::vector<std::uint8_t>> {
                                     const auto impl = weak.lock();
                                     if (!impl) return std::nullopt;
                                     return impl->lookupPsk(std::string(kDtlsPeerPrefix) + peerKey(*current), identity);
                                   });
  if (!server) throw std::runtime_error("coaps: " + server.error());
  const udp::endpoint local(ip, port);
  auto& socket = impl_->dtlsSocket;
  socket.open(local.protocol(), ec);
  if (!ec) socket.bind(local, ec);
  if (ec) throw std::runtime_error("cannot bind UDP " + address + ":" + std::to_string(port) + ": " + ec.message());
  const auto bound = socket.local_endpoint().port();
  impl_->pskLookup = std::move(lookup);
  impl_->dtls.emplace(std::move(*server));
  net::dispatch(impl_->strand, [impl = impl_] { impl->receiveDtls(); });
  return bound;
}

std::optional<DtlsPeerInfo> CoapServer::dtlsPeer(const fcoap::PeerKey& peer) const {
  if (!isDtlsPeer(peer)) return std::nullopt;
  std::lock_guard lock(impl_->dtlsPeersMutex);
  const auto it = impl_->dtlsPeers.find(peer);
  if (it == impl_->dtlsPeers.end()) return std::nullopt;
  return it->second;
}

void CoapServer::stop() {
  net::post(impl_->strand, [impl = impl_] {
    impl->stopped = true;
    boost::system::error_code ignored;
    impl->socket.close(ignored);
    impl->dtlsSocket.close(ignored);
  });
}

void CoapServer::tick() {
  net::post(impl_->strand, [impl = impl_] {
    if (impl->stopped) return;
    impl->endpoint.poll(impl->now());
    impl->flush();
    impl->tickDtls();
  });
}

void CoapServer::deliver(fcoap::PeerKey peer, std::vector<std::uint8_t> datagram) {
  net::post(impl_->strand, [impl = impl_, peer = std::move(peer), datagram = std::move(datagram)] {
    if (!impl->stopped) impl->input(peer, datagram);
  });
}

void CoapServer::request(fcoap::PeerKey peer, fcoap::Message request, fcoap::ResponseHandler done,
                         fcoap::RequestOptions options, RequestStarted started) {
  net::post(impl_->strand, [impl = impl_, peer = std::move(peer), request = std::move(request), done = std::move(done),
                            options, started = std::move(started)]() mutable {
    auto id = impl->endpoint.request(peer, std::move(request), std::move(done), impl->now(), options);
    impl->flush();
    if (started) started(impl->started(id));
  });
}

void CoapServer::observe(fcoap::PeerKey peer, fcoap::Message request, fcoap::NotificationHandler notify,
                         RequestStarted started) {
  net::post(impl_->strand, [impl = impl_, peer = std::move(peer), request = std::move(request),
                            notify = std::move(notify), started = std::move(started)]() mutable {
    auto id = impl->endpoint.observe(peer, std::move(request), std::move(notify), impl->now());
    impl->flush();
    if (started) started(impl->started(id));
  });
}

void CoapServer::cancel(fcoap::Endpoint::RequestId id, bool deregister, std::function<void(const fcoap::Message&)> sent,
                        fcoap::ResponseHandler answered) {
  net::post(impl_->strand,
            [impl = impl_, id, deregister, sent = std::move(sent), answered = std::move(answered)]() mutable {
              impl->endpoint.cancel(id, impl->now(), deregister, std::move(answered));
              // The GET with Observe 1 keeps the observation's id while it is out; otherwise the id is gone.
              if (auto get = impl->endpoint.lastSent(id); get && sent) sent(*get);
              impl->flush();
            });
}

void CoapServer::respondLater(fcoap::PeerKey peer, fcoap::Message request, fcoap::Message response,
                              std::chrono::milliseconds delay) {
  auto timer = std::make_shared<net::steady_timer>(impl_->strand, delay);
  timer->async_wait([impl = impl_, timer, peer = std::move(peer), request = std::move(request),
                     response = std::move(response)](const boost::system::error_code& ec) mutable {
    if (ec || impl->stopped) return;
    impl->endpoint.respondLater(peer, request, std::move(response), impl->now());
    impl->flush();
  });
}

void CoapServer::stats(std::function<void(CoapStats)> done) {
  net::post(impl_->strand, [impl = impl_, done = std::move(done)] {
    CoapStats s = impl->counters;
    s.peers = impl->endpoint.peers();
    s.pendingRequests = impl->endpoint.pendingRequests();
    if (impl->dtls) {
      s.dtlsSessions = impl->dtls->established();
      s.dtlsHalfOpen = impl->dtls->halfOpen();
    }
    done(s);
  });
}

}  // namespace fc::server::coap
