// The Asio binding of CoapClient: one connected UDP socket, one timer for the endpoint's next
// deadline and, for coaps, a DtlsClient with a timer of its own, everything on one strand. Time is
// the real steady clock (the endpoint's own, and the DTLS library's).
#include "client/coap_client.hpp"

#include <openssl/rand.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <mutex>
#include <optional>
#include <span>
#include <variant>

#include "client/error.hpp"
#include "dtls/dtls.hpp"

namespace fc::client {
namespace detail {

namespace net = boost::asio;
using net::ip::udp;
namespace fcoap = fc::coap;

namespace {

const fcoap::PeerKey kServer = "server";
/// Datagrams held back while a handshake runs; the endpoint's retransmissions refill it.
constexpr std::size_t kMaxWaiting = 256;

std::vector<std::uint8_t> randomSeed() {
  std::vector<std::uint8_t> seed(32);
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    const auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    for (std::size_t i = 0; i < 8; ++i) seed[i] ^= static_cast<std::uint8_t>(t >> (8 * i));
  }
  return seed;
}

}  // namespace

class CoapConnection : public std::enable_shared_from_this<CoapConnection> {
 public:
  CoapConnection(net::io_context& ioc, CoapOptions options)
      : options_(std::move(options)),
        strand_(net::make_strand(ioc)),
        socket_(strand_),
        timer_(strand_),
        endpoint_(options_.transmission, options_.limits, randomSeed()),
        dtlsTimer_(strand_) {}

  const CoapOptions& options() const noexcept { return options_; }

  /// Resolves and connects the socket; called once from the constructor's post.
  void open() {
    boost::system::error_code ec;
    udp::resolver resolver(strand_);
    const auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (!ec && results.empty()) ec = net::error::host_not_found;
    if (!ec) {
      const udp::endpoint remote = *results.begin();
      socket_.open(remote.protocol(), ec);
      if (!ec) socket_.connect(remote, ec);
    }
    if (ec) {
      openError_ = std::error_code(ec.value(), ec.category());
      return;
    }
    receive();
  }

  void request(fcoap::Message m, fcoap::ResponseHandler done, fcoap::RequestOptions options,
               CoapClient::Started started) {
    if (closed_) return;
    if (openError_) {
      if (started) started(Unexpected(fcoap::RequestError::InvalidRequest));
      return done(Unexpected(openError_));
    }
    if (options_.dtls)
      done = [this, done = std::move(done)](Expected<fcoap::Message, std::error_code> r) {
        if (handshakeFailing_ && !r) return done(Unexpected(make_error_code(Error::DtlsHandshakeFailed)));
        done(std::move(r));
      };
    auto id = endpoint_.request(kServer, std::move(m), std::move(done), now(), options);
    after();
    if (started) started(id);
  }

  void observe(fcoap::Message m, fcoap::NotificationHandler notify, CoapClient::Started started) {
    if (closed_) return;
    if (openError_) {
      if (started) started(Unexpected(fcoap::RequestError::InvalidRequest));
      return notify(Unexpected(openError_), true);
    }
    if (options_.dtls)
      notify = [this, notify = std::move(notify)](Expected<fcoap::Message, std::error_code> r, bool last) {
        if (handshakeFailing_ && !r) return notify(Unexpected(make_error_code(Error::DtlsHandshakeFailed)), last);
        notify(std::move(r), last);
      };
    auto id = endpoint_.observe(kServer, std::move(m), std::move(notify), now());
    after();
    if (started) started(id);
  }

  void cancel(CoapClient::RequestId id, bool deregister) {
    if (closed_) return;
    endpoint_.cancel(id, now(), deregister);
    after();
  }

  void addResource(fcoap::Resource resource) { endpoint_.addResource(std::move(resource)); }

  void notify(fcoap::Message m, CoapClient::CompletionHandler done) {
    if (closed_) return;
    const bool sent = !openError_ && endpoint_.sendNotification(kServer, std::move(m), now());
    after();
    if (done) done(openError_ ? openError_ : sent ? std::error_code{} : make_error_code(fcoap::RequestError::InvalidRequest));
  }

  void sendRaw(std::vector<std::uint8_t> datagram, CoapClient::CompletionHandler done) {
    if (closed_) return;
    if (openError_) {
      if (done) done(openError_);
      return;
    }
    transmit(std::move(datagram), std::move(done));
  }

  void close() {
    closed_ = true;
    boost::system::error_code ignored;
    timer_.cancel();
    dtlsTimer_.cancel();
    if (dtls_ && dtls_->state() == fc::dtls::DtlsClient::State::Established)
      for (auto& a : dtls_->close())  // close_notify, so the server forgets the session at once
        if (auto* d = std::get_if<fc::dtls::SendDatagram>(&a)) socket_.send(net::buffer(d->bytes), 0, ignored);
    socket_.close(ignored);
  }

  net::strand<net::io_context::executor_type>& strand() { return strand_; }

  CoapDtlsStatus dtlsStatus() const {
    std::lock_guard lock(statusMutex_);
    return status_;
  }

 private:
  static fcoap::TimePoint now() { return fcoap::Clock::now(); }

  void receive() {
    socket_.async_receive(
        net::buffer(buffer_),
        net::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->onReceive(ec, n);
        }));
  }

  // Inbound: with coaps the DTLS session decrypts before the endpoint sees the bytes.
  void onReceive(const boost::system::error_code& ec, std::size_t n) {
    if (closed_ || ec == net::error::operation_aborted) return;
    if (!ec) {
      const std::span<const std::uint8_t> datagram(buffer_.data(), n);
      if (options_.dtls) {
        if (dtls_) runDtls(dtls_->receive(datagram, now()));  // without a session: a stray datagram
      } else {
        endpoint_.onDatagram(kServer, datagram, now());
        after();
      }
    }
    // Other errors (an ICMP port unreachable for an earlier send) leave the requests to time out.
    receive();
  }

  // Outbound: with coaps the DTLS session encrypts; before it is established the datagram waits.
  void transmit(std::vector<std::uint8_t> bytes, CoapClient::CompletionHandler done = {}) {
    if (!options_.dtls) return sendDatagram(std::move(bytes), std::move(done));
    if (dtls_ && dtls_->state() == fc::dtls::DtlsClient::State::Established)
      return seal(std::move(bytes), std::move(done));
    if (waiting_.size() >= kMaxWaiting) {
      if (done) done(make_error_code(Error::QueueFull));
      return;
    }
    waiting_.push_back({std::move(bytes), std::move(done)});
    if (!dtls_ || dtls_->state() != fc::dtls::DtlsClient::State::Handshaking) startHandshake();
  }

  void seal(std::vector<std::uint8_t> bytes, CoapClient::CompletionHandler done) {
    auto sealed = dtls_->send(bytes);
    if (!sealed) {
      if (done) done(std::make_error_code(std::errc::message_size));  // SendError::TooLarge
      return;
    }
    // The record is the one SendDatagram; the caller's completion follows its send.
    for (auto& a : *sealed)
      if (auto* d = std::get_if<fc::dtls::SendDatagram>(&a)) {
        sendDatagram(std::move(d->bytes), std::move(done));
        done = {};
      }
    if (done) done({});
  }

  void startHandshake() {
    const auto& o = *options_.dtls;
    fc::dtls::ClientConfig config;
    config.peer = options_.host + ":" + std::to_string(options_.port);
    config.identity = o.identity;
    config.key = o.key;
    if (!o.ciphers.empty()) config.ciphers = o.ciphers;
    config.handshakeTimeout = o.handshakeTimeout;
    config.retransmitInitial = o.retransmitInitial;
    auto client = fc::dtls::DtlsClient::create(std::move(config));
    if (!client) return handshakeFailed("DTLS setup: " + client.error());
    dtls_.emplace(std::move(*client));
    runDtls(dtls_->start(now()));
  }

  /// Carries out what the DTLS session asked for, then re-arms its timer.
  void runDtls(std::vector<fc::dtls::Action> actions) {
    for (auto& action : actions) {
      if (auto* d = std::get_if<fc::dtls::SendDatagram>(&action)) {
        sendDatagram(std::move(d->bytes));
      } else if (auto* r = std::get_if<fc::dtls::Received>(&action)) {
        endpoint_.onDatagram(kServer, r->bytes, now());
        after();
      } else if (auto* e = std::get_if<fc::dtls::Established>(&action)) {
        {
          std::lock_guard lock(statusMutex_);
          status_.established = true;
          status_.cipher = e->cipher;
          ++status_.handshakes;
        }
        auto waiting = std::exchange(waiting_, {});
        for (auto& w : waiting) seal(std::move(w.bytes), std::move(w.done));
      } else if (auto* f = std::get_if<fc::dtls::Failed>(&action)) {
        handshakeFailed(f->why);
      } else if (auto* c = std::get_if<fc::dtls::Closed>(&action)) {
        // Pending requests stay: their retransmissions start a new handshake.
        std::lock_guard lock(statusMutex_);
        status_.established = false;
        status_.lastFailure = "session closed: " + c->why;
      }
    }
    armDtlsTimer();
  }

  /// The handshake failed: what waits and every pending request fail with DtlsHandshakeFailed.
  void handshakeFailed(const std::string& why) {
    {
      std::lock_guard lock(statusMutex_);
      status_.established = false;
      status_.lastFailure = why;
    }
    const auto code = make_error_code(Error::DtlsHandshakeFailed);
    auto waiting = std::exchange(waiting_, {});
    for (auto& w : waiting)
      if (w.done) w.done(code);
    handshakeFailing_ = true;
    endpoint_.forgetPeer(kServer, now());
    handshakeFailing_ = false;
    after();
  }

  void armDtlsTimer() {
    const auto next = dtls_ ? dtls_->nextDeadline() : std::nullopt;
    if (!next) {
      dtlsTimer_.cancel();
      return;
    }
    dtlsTimer_.expires_at(*next);
    dtlsTimer_.async_wait(net::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_ || !self->dtls_) return;
      self->runDtls(self->dtls_->tick(now()));
    }));
  }

  void sendDatagram(std::vector<std::uint8_t> bytes, CoapClient::CompletionHandler done = {}) {
    auto shared = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
    socket_.async_send(
        net::buffer(*shared),
        net::bind_executor(strand_, [shared, done = std::move(done)](const boost::system::error_code& ec, std::size_t) {
          if (done) done(ec ? std::error_code(ec.value(), ec.category()) : std::error_code{});
        }));
  }

  /// Sends what the endpoint produced and re-arms the timer for its next deadline.
  void after() {
    for (auto& d : endpoint_.takeDatagrams()) transmit(std::move(d.bytes));
    (void)endpoint_.takeNotes();  // a client has no log; what matters reaches the handlers
    const auto next = endpoint_.nextDeadline();
    if (!next) {
      timer_.cancel();
      armed_.reset();
      return;
    }
    if (armed_ && *armed_ == *next) return;
    armed_ = *next;
    timer_.expires_at(*next);
    timer_.async_wait(net::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      self->armed_.reset();
      self->endpoint_.poll(now());
      self->after();
    }));
  }

  CoapOptions options_;
  net::strand<net::io_context::executor_type> strand_;
  udp::socket socket_;
  net::steady_timer timer_;
  fcoap::Endpoint endpoint_;
  std::array<std::uint8_t, 65536> buffer_{};
  std::optional<fcoap::TimePoint> armed_;
  std::error_code openError_;
  bool closed_ = false;
  // --- coaps ---
  struct Waiting {
    std::vector<std::uint8_t> bytes;
    CoapClient::CompletionHandler done;
  };
  net::steady_timer dtlsTimer_;
  std::optional<fc::dtls::DtlsClient> dtls_;
  std::vector<Waiting> waiting_;
  bool handshakeFailing_ = false;  // forgetPeer() runs: Cancelled means the handshake failed
  mutable std::mutex statusMutex_;
  CoapDtlsStatus status_;
};

}  // namespace detail

CoapClient::CoapClient(boost::asio::io_context& ioc, CoapOptions options)
    : impl_(std::make_shared<detail::CoapConnection>(ioc, std::move(options))) {
  boost::asio::post(impl_->strand(), [impl = impl_] { impl->open(); });
}

CoapClient::~CoapClient() {
  boost::asio::post(impl_->strand(), [impl = impl_] { impl->close(); });
}

void CoapClient::request(fc::coap::Message request, fc::coap::ResponseHandler done, fc::coap::RequestOptions options,
                         Started started) {
  boost::asio::post(impl_->strand(), [impl = impl_, request = std::move(request), done = std::move(done), options,
                                      started = std::move(started)]() mutable {
    impl->request(std::move(request), std::move(done), options, std::move(started));
  });
}

namespace {

namespace fcoap = fc::coap;

struct Download {
  fcoap::Message request;
  BlockHandler onBlock;
  std::function<void(BlockDownloadResult)> done;
  BlockDownloadResult result;
  bool haveEtag = false;
};

void finishDownload(Download& d, std::error_code e = {}) {
  d.result.error = e;
  d.result.nextBlock = static_cast<std::uint32_t>(d.result.offset / fcoap::blockSize(d.result.szx));
  if (d.done) d.done(std::move(d.result));
  d.done = nullptr;
}

/// Asks for the block at d.result.offset; on the strand.
void fetchBlock(const std::shared_ptr<detail::CoapConnection>& impl, const std::shared_ptr<Download>& d) {
  auto m = d->request;
  const auto num = static_cast<std::uint32_t>(d->result.offset / fcoap::blockSize(d->result.szx));
  m.set(fcoap::option::kBlock2, fcoap::encodeBlock(fcoap::Block{num, false, d->result.szx}));
  fcoap::RequestOptions options;
  options.singleBlock = true;
  impl->request(
      std::move(m),
      [impl, d](Expected<fcoap::Message, std::error_code> r) {
        if (!r) return finishDownload(*d, r.error());
        if (r->code.codeClass() != 2) {
          d->result.code = r->code;
          return finishDownload(*d, make_error_code(Error::ErrorResponse));
        }
        const auto mismatch = make_error_code(fcoap::RequestError::BlockMismatch);
        const auto* b2opt = r->find(fcoap::option::kBlock2);
        std::optional<fcoap::Block> block;
        if (b2opt) {
          auto b = fcoap::decodeBlock(b2opt->value);
          if (!b) return finishDownload(*d, mismatch);
          block = *b;
        } else if (d->result.offset == 0) {
          block = fcoap::Block{0, false, d->result.szx};  // the whole representation in one response
        } else {
          return finishDownload(*d, mismatch);
        }
        // RFC 7959 §2.4: the block must be the one asked for (at the server's size, maybe smaller).
        if (block->offset() != d->result.offset) return finishDownload(*d, mismatch);
        const auto* tag = r->find(fcoap::option::kETag);
        std::vector<std::uint8_t> etag = tag ? tag->value : std::vector<std::uint8_t>{};
        if (d->haveEtag && etag != d->result.etag) return finishDownload(*d, mismatch);
        d->result.etag = std::move(etag);
        d->haveEtag = true;
        if (const auto size2 = r->getUint(fcoap::option::kSize2)) d->result.size = *size2;
        if (block->more && r->payload.size() != block->size()) return finishDownload(*d, mismatch);
        if (d->onBlock) d->onBlock(d->result.offset, r->payload);
        d->result.offset += r->payload.size();
        d->result.szx = block->szx;
        ++d->result.blocks;
        if (!block->more) return finishDownload(*d);
        fetchBlock(impl, d);
      },
      options, {});
}

}  // namespace

void CoapClient::download(fc::coap::Message request, BlockDownloadOptions options, BlockHandler onBlock,
                          std::function<void(BlockDownloadResult)> done) {
  auto d = std::make_shared<Download>();
  request.remove(fcoap::option::kBlock2);
  d->request = std::move(request);
  d->onBlock = std::move(onBlock);
  d->done = std::move(done);
  d->result.szx = std::min(options.szx, fcoap::kMaxSzx);
  d->result.offset = std::uint64_t{options.fromBlock} * fcoap::blockSize(d->result.szx);
  if (options.etag) {
    d->result.etag = *options.etag;
    d->haveEtag = true;
  }
  boost::asio::post(impl_->strand(), [impl = impl_, d] { fetchBlock(impl, d); });
}

void CoapClient::observe(fc::coap::Message request, fc::coap::NotificationHandler notify, Started started) {
  boost::asio::post(impl_->strand(), [impl = impl_, request = std::move(request), notify = std::move(notify),
                                      started = std::move(started)]() mutable {
    impl->observe(std::move(request), std::move(notify), std::move(started));
  });
}

void CoapClient::cancel(RequestId id, bool deregister) {
  boost::asio::post(impl_->strand(), [impl = impl_, id, deregister] { impl->cancel(id, deregister); });
}

void CoapClient::addResource(fc::coap::Resource resource) {
  boost::asio::post(impl_->strand(), [impl = impl_, resource = std::move(resource)]() mutable {
    impl->addResource(std::move(resource));
  });
}

void CoapClient::notify(fc::coap::Message notification, CompletionHandler done) {
  boost::asio::post(impl_->strand(), [impl = impl_, notification = std::move(notification), done = std::move(done)]() mutable {
    impl->notify(std::move(notification), std::move(done));
  });
}

void CoapClient::sendRaw(std::vector<std::uint8_t> datagram, CompletionHandler done) {
  boost::asio::post(impl_->strand(), [impl = impl_, datagram = std::move(datagram), done = std::move(done)]() mutable {
    impl->sendRaw(std::move(datagram), std::move(done));
  });
}

const CoapOptions& CoapClient::options() const noexcept { return impl_->options(); }

CoapDtlsStatus CoapClient::dtlsStatus() const { return impl_->dtlsStatus(); }

}  // namespace fc::client
