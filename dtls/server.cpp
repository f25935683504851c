// DtlsServer: per-peer SSL objects behind a stateless cookie exchange (RFC 6347 §4.2.1).
//
// One spare "listener" SSL runs DTLSv1_listen over each ClientHello from an address without a
// usable session. DTLSv1_listen answers with a HelloVerifyRequest and keeps nothing; only when the
// cookie verifies does the listener, now holding that ClientHello, become the peer's session and a
// fresh listener take its place. Cookies are an HMAC of the peer under a rotating secret, so they
// need no table either.
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_map>

#include "dtls/detail/link.hpp"
#include "dtls/dtls.hpp"
#include "dtls/record.hpp"

namespace fc::dtls {
namespace {

constexpr std::size_t kSecretSize = 32;
using Secret = std::array<std::uint8_t, kSecretSize>;
constexpr std::uint8_t kAlertBadRecordMac = 20;  // RFC 5246 §7.2.2; RFC 6347 §4.1.2.7

struct BioAddrDeleter {
  void operator()(BIO_ADDR* a) const noexcept { BIO_ADDR_free(a); }
};

Secret randomSecret() {
  Secret s{};
  // RAND_bytes only fails without an entropy source; a fixed secret would still bind cookies to the
  // address, so there is nothing better to do than carry on.
  if (RAND_bytes(s.data(), static_cast<int>(s.size())) != 1) ERR_clear_error();
  return s;
}

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

bool hasEncryptedHandshake(std::span<const std::uint8_t> datagram) {
  for (const auto& h : inspectRecords(datagram)) {
    if (h.epoch >= 1 && h.contentType == static_cast<std::uint8_t>(ContentType::Handshake)) return true;
  }
  return false;
}

}  // namespace

struct DtlsServer::Impl {
  enum class State : std::uint8_t { Handshaking, Established };

  struct Session : detail::Link {
    using Link::Link;
    State state = State::Handshaking;
    TimePoint started{};
    TimePoint lastActivity{};
    std::array<std::uint8_t, 32> clientRandom{};
    std::multimap<TimePoint, PeerKey>::iterator timer{};
    bool timed = false;
  };

  ServerConfig config;
  PskLookup lookup;
  detail::SslCtxPtr ctx;
  std::unique_ptr<Session> listener;
  std::unique_ptr<BIO_ADDR, BioAddrDeleter> listenAddr{BIO_ADDR_new()};
  std::unordered_map<PeerKey, std::unique_ptr<Session>> sessions;
  // Sessions ended during the current call: an SSL callback or an input guard may still be on the
  // stack, so they are destroyed when the public call returns.
  std::vector<std::unique_ptr<Session>> graveyard;
  std::multimap<TimePoint, PeerKey> timers;
  Secret secret = randomSecret();
  Secret previousSecret = randomSecret();
  std::optional<TimePoint> secretSince;
  TimePoint lastNow{};
  std::size_t halfOpen = 0;
  std::size_t established = 0;
  ServerStats stats;

  std::unique_ptr<Session> newLink(const PeerKey& peer) {
    auto s = std::make_unique<Session>(ctx.get(), peer, config.mtu, config.retransmitInitial);
    s->owner = this;
    SSL_set_accept_state(s->ssl.get());
    return s;
  }

  // ---- cookies (RFC 6347 §4.2.1) --------------------------------------------------------------

  void rotateSecret(TimePoint now) {
    if (!secretSince) {
      secretSince = now;
      return;
    }
    const auto age = now - *secretSince;
    if (age < config.cookieSecretLifetime) return;
    // After two lifetimes without traffic the current secret is stale too.
    previousSecret = age >= 2 * config.cookieSecretLifetime ? randomSecret() : secret;
    secret = randomSecret();
    secretSince = now;
  }

  static std::array<std::uint8_t, 32> cookieFor(const Secret& key, const detail::Link& link) {
    std::vector<std::uint8_t> data;
    data.push_back(static_cast<std::uint8_t>(std::min<std::size_t>(link.peer.size(), 255)));
    data.insert(data.end(), link.peer.begin(), link.peer.end());
    data.insert(data.end(), link.address.begin(), link.address.end());
    std::array<std::uint8_t, 32> mac{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), mac.data(), &len);
    return mac;
  }

  static int generateCookie(SSL* ssl, unsigned char* cookie, unsigned int* len) {
    const detail::Link* link = detail::linkOf(ssl);
    const auto* self = static_cast<const Impl*>(link->owner);
    const auto mac = cookieFor(self->secret, *link);
    std::memcpy(cookie, mac.data(), mac.size());
    *len = static_cast<unsigned int>(mac.size());
    return 1;
  }

  static int verifyCookie(SSL* ssl, const unsigned char* cookie, unsigned int len) {
    const detail::Link* link = detail::linkOf(ssl);
    const auto* self = static_cast<const Impl*>(link->owner);
    if (len != 32) return 0;
    for (const Secret* key : {&self->secret, &self->previousSecret}) {
      const auto mac = cookieFor(*key, *link);
      if (CRYPTO_memcmp(mac.data(), cookie, mac.size()) == 0) return 1;
    }
    return 0;
  }

  // ---- PSK (RFC 4279 §2) ---------------------------------------------------------------------

  static unsigned int pskCallback(SSL* ssl, const char* identity, unsigned char* psk, unsigned int maxLen) {
    detail::Link* link = detail::linkOf(ssl);
    const auto* self = static_cast<const Impl*>(link->owner);
    const std::string id = identity != nullptr ? identity : "";
    std::optional<std::vector<std::uint8_t>> key;
    try {
      key = self->lookup(id);
    } catch (const std::exception& e) {
      link->cause = "PSK lookup for identity '" + id + "' failed: " + e.what();
      return 0;
    } catch (...) {
      link->cause = "PSK lookup for identity '" + id + "' failed";
      return 0;
    }
    if (!key) {
      link->cause = "unknown PSK identity '" + id + "'";
      return 0;
    }
    if (key->empty() || key->size() > maxLen) {
      link->cause = "the PSK of identity '" + id + "' has an unusable length (" + std::to_string(key->size()) + ")";
      return 0;
    }
    std::memcpy(psk, key->data(), key->size());
    return static_cast<unsigned int>(key->size());
  }

  // ---- session bookkeeping -------------------------------------------------------------------

  void schedule(Session& s) {
    if (s.timed) timers.erase(s.timer);
    TimePoint at;
    if (s.state == State::Established) {
      at = s.lastActivity + config.idleTimeout;
    } else {
      at = s.started + config.handshakeTimeout;
      if (auto in = s.retransmitIn()) at = std::min(at, lastNow + *in);
    }
    s.timer = timers.emplace(at, s.peer);
    s.timed = true;
  }

  void erase(const PeerKey& peer) {
    auto it = sessions.find(peer);
    if (it == sessions.end()) return;
    Session& s = *it->second;
    if (s.timed) timers.erase(s.timer);
    s.timed = false;
    (s.state == State::Established ? established : halfOpen)--;
    graveyard.push_back(std::move(it->second));
    sessions.erase(it);
  }

  struct Sweep {
    Impl& m;
    ~Sweep() { m.graveyard.clear(); }
  };

  void fail(Session& s, std::string why, std::vector<Action>& out) {
    s.drainTo(out);
    ++stats.failed;
    out.push_back(Failed{s.peer, std::move(why)});
    erase(s.peer);
  }

  void closeSession(Session& s, std::string why, bool sendCloseNotify, std::vector<Action>& out) {
    if (sendCloseNotify) {
      ERR_clear_error();
      SSL_shutdown(s.ssl.get());
      ERR_clear_error();
    }
    s.drainTo(out);
    ++stats.closed;
    out.push_back(Closed{s.peer, std::move(why)});
    erase(s.peer);
  }

  // Drives the SSL object after new input (a datagram, a timer): handshake progress, then records.
  void advance(Session& s, std::span<const std::uint8_t> datagram, std::vector<Action>& out) {
    if (s.state == State::Handshaking) {
      ERR_clear_error();
      const int r = SSL_do_handshake(s.ssl.get());
      if (r != 1) {
        const int err = SSL_get_error(s.ssl.get(), r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          fail(s, s.reason("handshake failed"), out);
          return;
        }
        if (s.peerChangeCipherSpec && hasEncryptedHandshake(datagram)) {
          // The peer's Finished arrived in the new epoch and OpenSSL dropped it, as DTLS drops
          // records that fail to decrypt (RFC 6347 §4.1.2.7): the client derived other keys, so it
          // holds another PSK. Say so at once, with the fatal bad_record_mac that section asks for,
          // sent in epoch 0 because our own ChangeCipherSpec has not gone out.
          const char* id = SSL_get_psk_identity(s.ssl.get());
          s.cause = std::string("the client's Finished did not decrypt: wrong PSK for identity '") +
                    (id != nullptr ? id : "") + "'";
          s.drainTo(out);
          out.push_back(SendDatagram{s.peer, plaintextAlert(kAlertBadRecordMac, s.lastPlainSequence.value_or(0) + 1)});
          fail(s, s.reason("wrong PSK"), out);
          return;
        }
        s.drainTo(out);
        schedule(s);
        return;
      }
      s.state = State::Established;
      --halfOpen;
      ++established;
      ++stats.established;
      s.drainTo(out);
      const char* id = SSL_get_psk_identity(s.ssl.get());
      out.push_back(Established{s.peer, id != nullptr ? id : "", s.cipherName()});
    }
    const int r = s.readAll(out);
    if (r > 0) {
      s.drainTo(out);
      schedule(s);
    } else if (r == 0) {
      closeSession(s, "peer sent close_notify", true, out);
    } else {
      s.drainTo(out);
      closeSession(s, s.reason("record layer error"), false, out);
    }
  }

  void listen(const PeerKey& peer, std::span<const std::uint8_t> address, std::span<const std::uint8_t> datagram,
              const ClientHello& hello, TimePoint now, std::vector<Action>& out) {
    Session& l = *listener;
    l.resetObservations();
    l.peer = peer;
    l.address.assign(address.begin(), address.end());
    const int r = l.withInput(datagram, [&] {
      ERR_clear_error();
      return DTLSv1_listen(l.ssl.get(), listenAddr.get());
    });
    if (r <= 0) {
      if (!l.pipe.out.empty()) ++stats.helloVerifySent;
      else ++stats.dropped;
      l.drainTo(out);
      ERR_clear_error();
      if (r < 0) listener = newLink({});
      return;
    }

    // A ClientHello with a valid cookie: the peer owns its address (RFC 6347 §4.2.1).
    auto existing = sessions.find(peer);
    const bool replacing = existing != sessions.end();
    const bool replacingHalfOpen = replacing && existing->second->state == State::Handshaking;
    std::string refusal;
    if (halfOpen >= config.maxHalfOpen && !replacingHalfOpen)
      refusal = "too many half-open handshakes (maxHalfOpen " + std::to_string(config.maxHalfOpen) + ")";
    else if (!replacing && sessions.size() >= config.maxPeers)
      refusal = "too many peers (maxPeers " + std::to_string(config.maxPeers) + ")";
    if (!refusal.empty()) {
      // Nothing is sent: the client retransmits its ClientHello and may find room then.
      ++stats.refused;
      listener = newLink({});
      out.push_back(Failed{peer, "handshake refused: " + refusal});
      return;
    }
    if (replacing) {
      // RFC 6347 §4.2.8: a new handshake from the address of an association, with a valid cookie,
      // means the client lost its state (a reboot); the old association goes now.
      Session& old = *existing->second;
      const std::string why = "replaced by a new handshake from the same address (RFC 6347 §4.2.8)";
      if (old.state == State::Established) {
        ++stats.closed;
        out.push_back(Closed{peer, why});
      } else {
        ++stats.failed;
        out.push_back(Failed{peer, why});
      }
      erase(peer);
    }

    std::unique_ptr<Session> s = std::move(listener);
    listener = newLink({});
    s->lastPlainSequence.reset();  // the HelloVerifyRequest's sequence number is not ours to continue
    s->started = now;
    s->lastActivity = now;
    s->clientRandom = hello.random;
    Session& session = *s;
    sessions.emplace(peer, std::move(s));
    ++halfOpen;
    advance(session, datagram, out);
  }
};

std::vector<std::string> defaultCiphers() {
  return {std::string(kPskAes128CbcSha256), std::string(kPskAes256CbcSha), std::string(kPskAes128CbcSha),
          std::string(kPskAes128Ccm8)};
}

const char* sendErrorName(SendError e) noexcept {
  switch (e) {
    case SendError::NoSession:
      return "no established DTLS session with that peer";
    case SendError::TooLarge:
      return "plaintext larger than a DTLS record (16384 bytes)";
  }
  return "unknown";
}

Expected<DtlsServer, std::string> DtlsServer::create(ServerConfig config, PskLookup lookup) {
  if (!lookup) return Unexpected(std::string("no PSK lookup given"));
  if (config.maxHalfOpen == 0 || config.maxPeers == 0) return Unexpected(std::string("maxHalfOpen and maxPeers must be > 0"));
  if (config.cookieSecretLifetime.count() <= 0) return Unexpected(std::string("cookieSecretLifetime must be > 0"));
  auto ctx = detail::makeContext(true, config.ciphers, config.mtu);
  if (!ctx) return Unexpected(ctx.error());
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->lookup = std::move(lookup);
  impl->ctx = std::move(*ctx);
  SSL_CTX_set_psk_server_callback(impl->ctx.get(), &Impl::pskCallback);
  SSL_CTX_set_cookie_generate_cb(impl->ctx.get(), &Impl::generateCookie);
  SSL_CTX_set_cookie_verify_cb(impl->ctx.get(), &Impl::verifyCookie);
  impl->listener = impl->newLink({});
  return DtlsServer(std::move(impl));
}

DtlsServer::DtlsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DtlsServer::DtlsServer(DtlsServer&&) noexcept = default;
DtlsServer& DtlsServer::operator=(DtlsServer&&) noexcept = default;
DtlsServer::~DtlsServer() = default;

std::vector<Action> DtlsServer::receive(const PeerKey& peer, std::span<const std::uint8_t> address,
                                        std::span<const std::uint8_t> datagram, TimePoint now) {
  Impl& m = *impl_;
  const Impl::Sweep sweep{m};
  std::vector<Action> out;
  m.lastNow = now;
  m.rotateSecret(now);
  const auto hello = parseClientHello(datagram);
  auto it = m.sessions.find(peer);
  if (it != m.sessions.end()) {
    Impl::Session& s = *it->second;
    const bool sameHandshake = hello && hello->random == s.clientRandom;
    if (!hello || (sameHandshake && s.state == Impl::State::Handshaking)) {
      s.lastActivity = now;
      s.withInput(datagram, [&] { m.advance(s, datagram, out); });
      return out;
    }
    if (sameHandshake) return out;  // a late copy of the ClientHello that made this session
  } else if (!hello) {
    ++m.stats.dropped;
    return out;
  }
  m.listen(peer, address, datagram, *hello, now, out);
  return out;
}

Expected<std::vector<Action>, SendError> DtlsServer::send(const PeerKey& peer, std::span<const std::uint8_t> plaintext) {
  Impl& m = *impl_;
  const Impl::Sweep sweep{m};
  auto it = m.sessions.find(peer);
  if (it == m.sessions.end() || it->second->state != Impl::State::Established) return Unexpected(SendError::NoSession);
  if (plaintext.size() > kMaxPlaintext) return Unexpected(SendError::TooLarge);
  std::vector<Action> out;
  if (plaintext.empty()) return out;
  Impl::Session& s = *it->second;
  ERR_clear_error();
  if (SSL_write(s.ssl.get(), plaintext.data(), static_cast<int>(plaintext.size())) <= 0) {
    m.closeSession(s, s.reason("write failed"), false, out);
    return out;
  }
  s.drainTo(out);
  return out;
}

std::vector<Action> DtlsServer::close(const PeerKey& peer) {
  Impl& m = *impl_;
  const Impl::Sweep sweep{m};
  std::vector<Action> out;
  auto it = m.sessions.find(peer);
  if (it == m.sessions.end()) return out;
  Impl::Session& s = *it->second;
  if (s.state == Impl::State::Established)
    m.closeSession(s, "closed locally", true, out);
  else
    m.fail(s, "handshake abandoned locally", out);
  return out;
}

std::vector<Action> DtlsServer::tick(TimePoint now) {
  Impl& m = *impl_;
  const Impl::Sweep sweep{m};
  std::vector<Action> out;
  m.lastNow = now;
  // Collect first: handling a session reschedules it, possibly at or before `now` again when
  // OpenSSL's real-time timer is close to expiry; each session is looked at once per tick.
  std::vector<PeerKey> due;
  for (auto it = m.timers.begin(); it != m.timers.end() && it->first <= now; ++it) due.push_back(it->second);
  for (const auto& peer : due) {
    auto it = m.sessions.find(peer);
    if (it == m.sessions.end()) continue;
    Impl::Session& s = *it->second;
    if (s.state == Impl::State::Established) {
      if (now - s.lastActivity >= m.config.idleTimeout)
        m.closeSession(s, "idle for " + millis(now - s.lastActivity), true, out);
      else
        m.schedule(s);
      continue;
    }
    if (now - s.started >= m.config.handshakeTimeout) {
      std::string why = "handshake timed out after " + millis(now - s.started);
      if (!s.cause.empty()) why += ": " + s.cause;
      m.fail(s, std::move(why), out);
      continue;
    }
    ERR_clear_error();
    if (DTLSv1_handle_timeout(s.ssl.get()) < 0) {
      m.fail(s, s.reason("too many retransmissions"), out);
      continue;
    }
    s.drainTo(out);
    m.schedule(s);
  }
  return out;
}

std::optional<TimePoint> DtlsServer::nextDeadline() const {
  if (impl_->timers.empty()) return std::nullopt;
  return impl_->timers.begin()->first;
}

std::size_t DtlsServer::established() const noexcept { return impl_->established; }
std::size_t DtlsServer::halfOpen() const noexcept { return impl_->halfOpen; }
bool DtlsServer::isEstablished(const PeerKey& peer) const {
  auto it = impl_->sessions.find(peer);
  return it != impl_->sessions.end() && it->second->state == Impl::State::Established;
}
const ServerStats& DtlsServer::stats() const noexcept { return impl_->stats; }

}  // namespace fc::dtls
