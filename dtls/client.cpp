// DtlsClient: one SSL object in connect mode over the datagram pipe.
#include <openssl/err.h>

#include <cstring>

#include "dtls/detail/link.hpp"
#include "dtls/dtls.hpp"

namespace fc::dtls {
namespace {

std::string millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

}  // namespace

struct DtlsClient::Impl {
  ClientConfig config;
  detail::SslCtxPtr ctx;
  std::unique_ptr<detail::Link> link;
  State state = State::Idle;
  TimePoint started{};
  TimePoint lastNow{};

  static unsigned int pskCallback(SSL* ssl, const char*, char* identity, unsigned int maxIdentity,
                                  unsigned char* psk, unsigned int maxPsk) {
    const auto* self = static_cast<const Impl*>(detail::linkOf(ssl)->owner);
    const auto& c = self->config;
    // Lengths were checked in create() against OpenSSL's limits; re-check against what it offers now.
    if (c.identity.size() + 1 > maxIdentity || c.key.size() > maxPsk) return 0;
    std::memcpy(identity, c.identity.c_str(), c.identity.size() + 1);
    std::memcpy(psk, c.key.data(), c.key.size());
    return static_cast<unsigned int>(c.key.size());
  }

  void fail(std::string why, std::vector<Action>& out) {
    link->drainTo(out);
    state = State::Failed;
    out.push_back(Failed{config.peer, std::move(why)});
  }

  void closeWith(std::string why, bool sendCloseNotify, std::vector<Action>& out) {
    if (sendCloseNotify) {
      ERR_clear_error();
      SSL_shutdown(link->ssl.get());
      ERR_clear_error();
    }
    link->drainTo(out);
    state = State::Closed;
    out.push_back(Closed{config.peer, std::move(why)});
  }

  void advance(std::vector<Action>& out) {
    if (state == State::Handshaking) {
      ERR_clear_error();
      const int r = SSL_do_handshake(link->ssl.get());
      if (r != 1) {
        const int err = SSL_get_error(link->ssl.get(), r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
          link->drainTo(out);
        else
          fail(link->reason("handshake failed"), out);
        return;
      }
      state = State::Established;
      link->drainTo(out);
      out.push_back(Established{config.peer, config.identity, link->cipherName()});
    }
    const int r = link->readAll(out);
    if (r > 0)
      link->drainTo(out);
    else if (r == 0)
      closeWith("peer sent close_notify", true, out);
    else
      closeWith(link->reason("record layer error"), false, out);
  }
};

Expected<DtlsClient, std::string> DtlsClient::create(ClientConfig config) {
  if (config.identity.empty() || config.identity.size() > PSK_MAX_IDENTITY_LEN)
    return Unexpected("the PSK identity must have 1.." + std::to_string(PSK_MAX_IDENTITY_LEN) + " bytes");
  if (config.identity.find('\0') != std::string::npos)
    return Unexpected(std::string("the PSK identity must not contain NUL bytes"));
  if (config.key.empty() || config.key.size() > PSK_MAX_PSK_LEN)
    return Unexpected("the PSK must have 1.." + std::to_string(PSK_MAX_PSK_LEN) + " bytes");
  auto ctx = detail::makeContext(false, config.ciphers, config.mtu);
  if (!ctx) return Unexpected(ctx.error());
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->ctx = std::move(*ctx);
  SSL_CTX_set_psk_client_callback(impl->ctx.get(), &Impl::pskCallback);
  return DtlsClient(std::move(impl));
}

DtlsClient::DtlsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DtlsClient::DtlsClient(DtlsClient&&) noexcept = default;
DtlsClient& DtlsClient::operator=(DtlsClient&&) noexcept = default;
DtlsClient::~DtlsClient() = default;

std::vector<Action> DtlsClient::start(TimePoint now) {
  Impl& m = *impl_;
  std::vector<Action> out;
  if (m.state != State::Idle) return out;
  m.link = std::make_unique<detail::Link>(m.ctx.get(), m.config.peer, m.config.mtu, m.config.retransmitInitial);
  m.link->owner = &m;
  SSL_set_connect_state(m.link->ssl.get());
  m.state = State::Handshaking;
  m.started = now;
  m.lastNow = now;
  m.advance(out);
  return out;
}

std::vector<Action> DtlsClient::receive(std::span<const std::uint8_t> datagram, TimePoint now) {
  Impl& m = *impl_;
  std::vector<Action> out;
  m.lastNow = now;
  if (m.state != State::Handshaking && m.state != State::Established) return out;
  m.link->withInput(datagram, [&] { m.advance(out); });
  return out;
}

Expected<std::vector<Action>, SendError> DtlsClient::send(std::span<const std::uint8_t> plaintext) {
  Impl& m = *impl_;
  if (m.state != State::Established) return Unexpected(SendError::NoSession);
  if (plaintext.size() > kMaxPlaintext) return Unexpected(SendError::TooLarge);
  std::vector<Action> out;
  if (plaintext.empty()) return out;
  ERR_clear_error();
  if (SSL_write(m.link->ssl.get(), plaintext.data(), static_cast<int>(plaintext.size())) <= 0) {
    m.closeWith(m.link->reason("write failed"), false, out);
    return out;
  }
  m.link->drainTo(out);
  return out;
}

std::vector<Action> DtlsClient::close() {
  Impl& m = *impl_;
  std::vector<Action> out;
  if (m.state == State::Established)
    m.closeWith("closed locally", true, out);
  else if (m.state == State::Handshaking)
    m.fail("handshake abandoned locally", out);
  return out;
}

std::vector<Action> DtlsClient::tick(TimePoint now) {
  Impl& m = *impl_;
  std::vector<Action> out;
  m.lastNow = now;
  if (m.state != State::Handshaking) return out;
  if (now - m.started >= m.config.handshakeTimeout) {
    std::string why = "handshake timed out after " + millis(now - m.started);
    if (!m.link->cause.empty())
      why += ": " + m.link->cause;
    else if (m.link->sentEncrypted)
      why += ": no Finished from the server after ours (does it hold another PSK for this identity?)";
    m.fail(std::move(why), out);
    return out;
  }
  ERR_clear_error();
  if (DTLSv1_handle_timeout(m.link->ssl.get()) < 0) {
    m.fail(m.link->reason("too many retransmissions"), out);
    return out;
  }
  m.link->drainTo(out);
  return out;
}

std::optional<TimePoint> DtlsClient::nextDeadline() const {
  const Impl& m = *impl_;
  if (m.state != State::Handshaking) return std::nullopt;
  TimePoint at = m.started + m.config.handshakeTimeout;
  if (auto in = m.link->retransmitIn()) at = std::min(at, m.lastNow + *in);
  return at;
}

DtlsClient::State DtlsClient::state() const noexcept { return impl_->state; }

std::string DtlsClient::cipher() const {
  return impl_->state == State::Established || impl_->state == State::Closed ? impl_->link->cipherName() : "";
}

}  // namespace fc::dtls
