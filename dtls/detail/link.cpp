// The OpenSSL plumbing shared by both sides: a datagram BIO over a Pipe (OpenSSL never sees a
// socket, so it never blocks, never queries a path MTU, and every write is captured as a datagram),
// the context set-up, and the callbacks that turn OpenSSL's state into reasons for the log.
#include "dtls/detail/link.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "dtls/record.hpp"

namespace fc::dtls::detail {
namespace {

Pipe& pipeOf(BIO* bio) { return *static_cast<Pipe*>(BIO_get_data(bio)); }

int bioWrite(BIO* bio, const char* data, int len) {
  if (len <= 0) return 0;
  // One write is one datagram, as with OpenSSL's own socket BIO: OpenSSL decides what shares a
  // datagram. Packing further writes together would be legal (RFC 6347 §4.1.1) but would put a
  // retransmitted record of the previous flight in front of the next flight, and a server reading
  // that datagram acts on the stale first record only (DTLSv1_listen looks at nothing else).
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
  pipeOf(bio).out.emplace_back(bytes, bytes + len);
  return len;
}

int bioRead(BIO* bio, char* buf, int len) {
  BIO_clear_retry_flags(bio);
  Pipe& p = pipeOf(bio);
  if (p.in.empty()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  // Datagram semantics: one read takes the whole datagram; what does not fit is lost, as with recv().
  const std::size_t n = std::min(p.in.size(), static_cast<std::size_t>(std::max(len, 0)));
  std::memcpy(buf, p.in.data(), n);
  p.in = {};
  return static_cast<int>(n);
}

long bioCtrl(BIO* bio, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return static_cast<long>(pipeOf(bio).in.size());
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
      return static_cast<long>(pipeOf(bio).mtu);
    default:
      // Peer address, MTU queries and the "next timeout" hint have no meaning without a socket.
      return 0;
  }
}

int bioCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

BIO_METHOD* pipeMethod() {
  // Created once and kept for the life of the process, like OpenSSL's own BIO methods.
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "fc::dtls datagram pipe");
    BIO_meth_set_write(m, bioWrite);
    BIO_meth_set_read(m, bioRead);
    BIO_meth_set_ctrl(m, bioCtrl);
    BIO_meth_set_create(m, bioCreate);
    return m;
  }();
  return method;
}

unsigned int timerCallback(SSL* ssl, unsigned int previousUs) {
  // RFC 6347 §4.2.4.1: double on each retransmission, at most 60 s.
  constexpr unsigned kMaxUs = 60'000'000;
  if (previousUs == 0) {
    const auto initial = linkOf(ssl)->retransmitInitial;
    return static_cast<unsigned>(std::clamp<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(initial).count(), 1000, kMaxUs));
  }
  return previousUs >= kMaxUs / 2 ? kMaxUs : previousUs * 2;
}

void infoCallback(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) == 0) return;
  Link* link = linkOf(ssl);
  if (link == nullptr) return;
  std::string alert = std::string(SSL_alert_type_string_long(ret)) + " alert '" + SSL_alert_desc_string_long(ret) + "'";
  ((where & SSL_CB_READ) != 0 ? link->alertReceived : link->alertSent) = std::move(alert);
}

void messageCallback(int writeP, int, int contentType, const void*, size_t, SSL* ssl, void*) {
  // Called when the state machine accepts the peer's ChangeCipherSpec: from here the peer's
  // records are read in the new epoch, so a Finished that does not verify means a wrong key.
  if (writeP == 0 && contentType == SSL3_RT_CHANGE_CIPHER_SPEC) {
    if (Link* link = linkOf(ssl)) link->peerChangeCipherSpec = true;
  }
}

std::string opensslName(const std::string& name) {
  if (name.rfind("TLS_", 0) != 0) return name;
  const char* mapped = OPENSSL_cipher_name(name.c_str());
  return mapped == nullptr || std::strcmp(mapped, "(NONE)") == 0 ? std::string() : std::string(mapped);
}

}  // namespace

Expected<SslCtxPtr, std::string> makeContext(bool server, const std::vector<std::string>& ciphers, std::size_t mtu) {
  if (ciphers.empty()) return Unexpected(std::string("no cipher suites configured"));
  SslCtxPtr ctx(SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method()));
  if (!ctx) return Unexpected(std::string("OpenSSL cannot create a DTLS context"));
  SSL_CTX_set_min_proto_version(ctx.get(), DTLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), DTLS1_2_VERSION);
  // No encrypt-then-MAC (RFC 7366): OpenSSL 3.0 treats a record failing the EtM MAC as fatal, so one
  // forged datagram with a peer's address would end its session, where RFC 6347 §4.1.2.7 wants
  // invalid records dropped. With MAC-then-encrypt OpenSSL drops them.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_QUERY_MTU |
                                     SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_NO_ENCRYPT_THEN_MAC);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_info_callback(ctx.get(), infoCallback);
  SSL_CTX_set_msg_callback(ctx.get(), messageCallback);

  std::string list;
  std::vector<std::string> wanted;
  for (const auto& name : ciphers) {
    std::string mapped = opensslName(name);
    if (mapped.empty()) return Unexpected("unknown cipher suite '" + name + "'");
    if (!list.empty()) list += ':';
    list += mapped;
    wanted.push_back(std::move(mapped));
  }
  if (SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) != 1) {
    ERR_clear_error();
    return Unexpected("OpenSSL accepts none of the cipher suites '" + list + "'");
  }
  // set_cipher_list ignores names it does not know as long as one matches: check each one.
  const STACK_OF(SSL_CIPHER)* have = SSL_CTX_get_ciphers(ctx.get());
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const SSL_CIPHER* found = nullptr;
    for (int j = 0; j < sk_SSL_CIPHER_num(have); ++j) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(have, j);
      if (wanted[i] == SSL_CIPHER_get_name(c)) found = c;
    }
    if (found == nullptr) return Unexpected("cipher suite '" + ciphers[i] + "' is not available in this OpenSSL");
    if (SSL_CIPHER_get_kx_nid(found) != NID_kx_psk || SSL_CIPHER_get_auth_nid(found) != NID_auth_psk)
      return Unexpected("cipher suite '" + ciphers[i] + "' is not a plain PSK suite (RFC 4279 §2)");
  }
  // The smallest MTU OpenSSL takes for DTLS 1.2 with these suites is a few hundred bytes; refuse
  // what would make it fall back to its own guess.
  if (mtu < 256 || mtu > 65'507) return Unexpected("mtu " + std::to_string(mtu) + " is outside 256..65507");
  return ctx;
}

Link::Link(SSL_CTX* ctx, PeerKey p, std::size_t mtu, std::chrono::milliseconds initial)
    : peer(std::move(p)), ssl(SSL_new(ctx)), retransmitInitial(initial) {
  pipe.mtu = mtu;
  BIO* bio = BIO_new(pipeMethod());
  BIO_set_data(bio, &pipe);
  // One BIO for both directions: given the same BIO twice, SSL_set_bio takes a single reference.
  SSL_set_bio(ssl.get(), bio, bio);
  SSL_set_app_data(ssl.get(), this);
  SSL_set_mtu(ssl.get(), static_cast<long>(mtu));
  DTLS_set_timer_cb(ssl.get(), timerCallback);
}

Link* linkOf(const SSL* ssl) noexcept { return static_cast<Link*>(SSL_get_app_data(ssl)); }

void Link::resetObservations() {
  peerChangeCipherSpec = false;
  lastPlainSequence.reset();
  sentEncrypted = false;
  cause.clear();
  alertReceived.clear();
  alertSent.clear();
}

void Link::drainTo(std::vector<Action>& out) {
  for (auto& d : pipe.out) {
    for (const auto& h : inspectRecords(d)) {
      if (h.epoch == 0)
        lastPlainSequence = std::max(lastPlainSequence.value_or(0), h.sequence);
      else
        sentEncrypted = true;
    }
    out.push_back(SendDatagram{peer, std::move(d)});
  }
  pipe.out.clear();
}

std::string Link::reason(std::string_view fallback) {
  std::string why;
  if (!cause.empty()) {
    why = cause;
  } else if (!alertReceived.empty()) {
    why = "peer sent " + alertReceived;
  } else {
    const unsigned long e = ERR_peek_last_error();
    const char* r = e != 0 ? ERR_reason_error_string(e) : nullptr;
    if (r != nullptr) why = r;
    if (!alertSent.empty()) why = "sent " + alertSent + (why.empty() ? "" : " (" + why + ")");
  }
  ERR_clear_error();
  return why.empty() ? std::string(fallback) : why;
}

int Link::readAll(std::vector<Action>& out) {
  static thread_local std::array<std::uint8_t, kMaxPlaintext> buffer;
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl.get(), buffer.data(), static_cast<int>(buffer.size()));
    if (n > 0) {
      out.push_back(Received{peer, std::vector<std::uint8_t>(buffer.begin(), buffer.begin() + n)});
      continue;
    }
    switch (SSL_get_error(ssl.get(), n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return 1;
      case SSL_ERROR_ZERO_RETURN:
        return 0;
      default:
        return -1;
    }
  }
}

std::optional<Duration> Link::retransmitIn() const {
  timeval tv{};
  if (DTLSv1_get_timeout(ssl.get(), &tv) != 1) return std::nullopt;
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

std::string Link::cipherName() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl.get());
  const char* name = c != nullptr ? SSL_CIPHER_standard_name(c) : nullptr;
  return name != nullptr ? name : "";
}

}  // namespace fc::dtls::detail
