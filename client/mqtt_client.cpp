// The Asio binding of detail::MqttSession. This is the one translation unit of the MQTT client that
// instantiates Asio's composed operations (async_connect, async_handshake, async_write) — they are
// what costs compile time, so they stay here.
#include "client/mqtt_client.hpp"

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "client/detail/mqtt_session.hpp"

namespace fc::client::detail {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Strand = net::strand<net::io_context::executor_type>;

namespace {

struct Outbound {
  std::vector<std::uint8_t> bytes;
  OpId op = 0;
};

/// One connection attempt's stream. Handlers hold it by shared_ptr, so closing a connection never
/// frees a socket, SSL state or buffer that an aborted operation may still touch.
struct Transport {
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> tls;
  std::array<std::uint8_t, 16 * 1024> readBuffer{};
  Outbound writing;  // the write in progress

  tcp::socket& lowest() { return tls ? tls->next_layer() : *plain; }
};

std::error_code toStd(const boost::system::error_code& ec) { return ec; }

bool isIpAddress(const std::string& s) {
  boost::system::error_code ec;
  (void)net::ip::make_address(s, ec);
  return !ec;
}

}  // namespace

class MqttConnection : public std::enable_shared_from_this<MqttConnection> {
 public:
  MqttConnection(net::io_context& ioc, MqttOptions options)
      : options_(std::move(options)),
        session_(options_),
        strand_(net::make_strand(ioc)),
        resolver_(strand_),
        timer_(strand_),
        // Reads pause above this, and user requests are refused with QueueFull, so a peer that stops
        // reading cannot make the queue grow without bound.
        queueLimit_(std::max<std::size_t>(4 * options_.maxPacket, std::size_t{4} << 20)) {
    if (options_.tls) setUpTls(*options_.tls);
  }

  const MqttOptions& options() const noexcept { return options_; }

  /// Runs `f` on the strand. Always post, never dispatch: a request made from inside a handler must
  /// not re-enter the action loop that is calling that handler.
  template <class F>
  void run(F&& f) {
    net::post(strand_, [self = shared_from_this(), f = std::forward<F>(f)]() mutable {
      if (!self->stopped_) f(*self);
    });
  }

  void shutdown() {
    stopped_ = true;
    net::post(strand_, [self = shared_from_this()] {
      self->clearHandlers();
      self->session_.abort(SteadyClock::now());
      (void)self->session_.takeActions();
      self->closeStream();
      self->timer_.cancel();
      self->resolver_.cancel();
    });
  }

  // ---- requests, called on the strand ----

  void setMessageHandler(MqttClient::MessageHandler h) { messageHandler_ = std::move(h); }
  void setConnectedHandler(MqttClient::ConnectedHandler h) { connectedHandler_ = std::move(h); }
  void setCloseHandler(MqttClient::CloseHandler h) { closeHandler_ = std::move(h); }

  void connect(MqttClient::ConnectHandler h) {
    if (auto ec = session_.connect(SteadyClock::now())) {
      if (h) h(ec, mqtt::Connack{});
      return;
    }
    connectHandler_ = std::move(h);
    pump();
  }

  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain,
               MqttClient::CompletionHandler h) {
    if (queuedBytes_ > queueLimit_) return fail(h, Error::QueueFull);
    auto op = session_.publish(std::move(topic), std::move(payload), qos, retain, SteadyClock::now());
    if (!op) return fail(h, op.error());
    track(*op, std::move(h));
    pump();
  }

  void subscribe(std::vector<mqtt::Subscription> subs, MqttClient::SubscribeHandler h) {
    if (queuedBytes_ > queueLimit_) {
      if (h) h(Error::QueueFull, {});
      return;
    }
    auto op = session_.subscribe(std::move(subs), SteadyClock::now());
    if (!op) {
      if (h) h(op.error(), {});
      return;
    }
    opHandlers_.emplace(*op, std::move(h));
    pump();
  }

  void unsubscribe(std::vector<std::string> filters, MqttClient::CompletionHandler h) {
    if (queuedBytes_ > queueLimit_) return fail(h, Error::QueueFull);
    auto op = session_.unsubscribe(std::move(filters), SteadyClock::now());
    if (!op) return fail(h, op.error());
    track(*op, std::move(h));
    pump();
  }

  void ack(std::uint16_t packetId) {
    (void)session_.ack(packetId, SteadyClock::now());
    pump();
  }

  void sendRaw(std::vector<std::uint8_t> bytes, MqttClient::CompletionHandler h) {
    if (queuedBytes_ > queueLimit_) return fail(h, Error::QueueFull);
    auto op = session_.sendRaw(std::move(bytes), SteadyClock::now());
    if (!op) return fail(h, op.error());
    track(*op, std::move(h));
    pump();
  }

  void disconnect(MqttClient::CompletionHandler done) {
    session_.disconnect(SteadyClock::now());
    if (done) closeWaiters_.push_back(std::move(done));
    pump();
  }

  void abort(MqttClient::CompletionHandler done) {
    session_.abort(SteadyClock::now());
    if (done) closeWaiters_.push_back(std::move(done));
    pump();
  }

 private:
  using OpHandler = std::function<void(std::error_code, std::vector<std::uint8_t>)>;

  static void fail(const MqttClient::CompletionHandler& h, std::error_code ec) {
    if (h) h(ec);
  }

  void track(OpId op, MqttClient::CompletionHandler h) {
    if (!h) {
      opHandlers_.emplace(op, OpHandler{});
      return;
    }
    opHandlers_.emplace(op, [h = std::move(h)](std::error_code ec, std::vector<std::uint8_t>) { h(ec); });
  }

  void clearHandlers() {
    messageHandler_ = nullptr;
    connectedHandler_ = nullptr;
    closeHandler_ = nullptr;
    connectHandler_ = nullptr;
    opHandlers_.clear();
    closeWaiters_.clear();
  }

  void setUpTls(const TlsOptions& tls) {
    sslContext_.emplace(ssl::context::tls_client);
    auto& ctx = *sslContext_;
    boost::system::error_code ec;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3, ec);
    if (!ec) {
      if (tls.caFile.empty())
        ctx.set_default_verify_paths(ec);
      else
        ctx.load_verify_file(tls.caFile, ec);
    }
    if (!ec && !tls.certFile.empty()) ctx.use_certificate_chain_file(tls.certFile, ec);
    if (!ec && !tls.keyFile.empty()) ctx.use_private_key_file(tls.keyFile, ssl::context::pem, ec);
    // Reported when connect() is called, the first place an error can go.
    if (ec) tlsError_ = Error::TlsSetup;
  }

  // ---- the action loop ----

  /// Carries out what the session asked for until it asks for nothing more, then re-arms the timer.
  void pump() {
    for (;;) {
      auto actions = session_.takeActions();
      if (actions.empty()) break;
      for (auto& a : actions) std::visit([this](auto& act) { perform(act); }, a);
    }
    armTimer();
    if (session_.state() == MqttSession::State::Idle && !closeWaiters_.empty()) {
      auto waiters = std::exchange(closeWaiters_, {});
      for (auto& w : waiters) w({});
    }
  }

  void perform(OpenTransport&) { open(); }

  void perform(SendBytes& s) {
    queuedBytes_ += s.bytes.size();
    queue_.push_back(Outbound{std::move(s.bytes), s.writtenOp});
    doWrite();
  }

  void perform(CloseTransport& c) {
    if (!c.flushFirst) {
      closeStream();
      return;
    }
    closing_ = true;
    if (!writing_ && queue_.empty()) {
      closeStream();
      session_.onTransportClosed({}, SteadyClock::now());
    }
  }

  void perform(DeliverMessage& d) {
    if (messageHandler_ && !stopped_) messageHandler_(std::move(d.message));
  }

  void perform(ConnectDone& d) {
    if (auto h = std::exchange(connectHandler_, nullptr); h && !stopped_) h(d.ec, d.connack);
  }

  void perform(ConnectionUp& u) {
    if (connectedHandler_ && !stopped_) connectedHandler_(u.connack);
  }

  void perform(ConnectionDown& d) {
    if (closeHandler_ && !stopped_) closeHandler_(d.reason);
  }

  void perform(OperationDone& d) {
    auto it = opHandlers_.find(d.op);
    if (it == opHandlers_.end()) return;
    auto h = std::move(it->second);
    opHandlers_.erase(it);
    if (h && !stopped_) h(d.ec, std::move(d.returnCodes));
  }

  void armTimer() {
    const auto deadline = session_.nextDeadline();
    if (deadline == timerAt_) return;
    timerAt_ = deadline;
    if (!deadline) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(*deadline);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      // A cancelled wait was replaced by a newer one (or the client is shutting down).
      if (ec == net::error::operation_aborted || self->stopped_) return;
      self->timerAt_.reset();
      // A stale expiry is harmless: the session compares the time with its own deadlines.
      self->session_.onTimer(SteadyClock::now());
      self->pump();
    });
  }

  // ---- transport ----

  void open() {
    closeStream();
    const auto generation = generation_;
    if (tlsError_) {
      // Reported from a fresh handler so connect()'s caller sees the same ordering as any other failure.
      net::post(strand_, [self = shared_from_this(), generation] {
        if (generation != self->generation_ || self->stopped_) return;
        self->session_.onTransportClosed(self->tlsError_, SteadyClock::now());
        self->pump();
      });
      return;
    }
    auto t = std::make_shared<Transport>();
    if (sslContext_) {
      t->tls.emplace(strand_, *sslContext_);
      const auto& tls = *options_.tls;
      const std::string& name = tls.serverName.empty() ? options_.host : tls.serverName;
      // SNI carries host names only (RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted").
      if (!isIpAddress(name)) SSL_set_tlsext_host_name(t->tls->native_handle(), name.c_str());
      boost::system::error_code ec;
      if (tls.verifyPeer) {
        t->tls->set_verify_mode(ssl::verify_peer, ec);
        if (!ec) t->tls->set_verify_callback(ssl::host_name_verification(name), ec);
      } else {
        t->tls->set_verify_mode(ssl::verify_none, ec);
      }
    } else {
      t->plain.emplace(strand_);
    }
    transport_ = t;
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [self = shared_from_this(), t, generation](const boost::system::error_code& ec,
                                                   const tcp::resolver::results_type& results) {
          if (generation != self->generation_ || self->stopped_) return;
          if (ec) return self->transportFailed(ec);
          net::async_connect(t->lowest(), results,
                             [self, t, generation](const boost::system::error_code& ec, const tcp::endpoint&) {
                               self->onTcpConnected(t, generation, ec);
                             });
        });
  }

  void onTcpConnected(const std::shared_ptr<Transport>& t, std::uint64_t generation,
                      const boost::system::error_code& ec) {
    if (generation != generation_ || stopped_) return;
    if (ec) return transportFailed(ec);
    boost::system::error_code ignored;
    // MQTT packets are small and latency matters more than segment count.
    t->lowest().set_option(tcp::no_delay(true), ignored);
    if (!t->tls) return transportOpen();
    t->tls->async_handshake(ssl::stream_base::client,
                            [self = shared_from_this(), t, generation](const boost::system::error_code& ec) {
                              if (generation != self->generation_ || self->stopped_) return;
                              if (ec) return self->transportFailed(ec);
                              self->transportOpen();
                            });
  }

  void transportOpen() {
    ready_ = true;
    session_.onTransportOpen(SteadyClock::now());
    pump();
    doRead();
  }

  void transportFailed(const boost::system::error_code& ec) {
    session_.onTransportClosed(toStd(ec), SteadyClock::now());
    pump();
  }

  void doRead() {
    if (!ready_ || reading_ || !transport_) return;
    if (queuedBytes_ > queueLimit_) {
      readPaused_ = true;
      return;
    }
    reading_ = true;
    auto t = transport_;
    auto handler = [self = shared_from_this(), t, generation = generation_](const boost::system::error_code& ec,
                                                                          std::size_t n) {
      if (generation != self->generation_ || self->stopped_) return;
      self->reading_ = false;
      if (ec) return self->transportFailed(ec);
      self->session_.onBytes(std::span<const std::uint8_t>(t->readBuffer.data(), n), SteadyClock::now());
      self->pump();
      self->doRead();
    };
    if (t->tls)
      t->tls->async_read_some(net::buffer(t->readBuffer), std::move(handler));
    else
      t->plain->async_read_some(net::buffer(t->readBuffer), std::move(handler));
  }

  void doWrite() {
    if (!ready_ || writing_ || queue_.empty() || !transport_) return;
    writing_ = true;
    auto t = transport_;
    t->writing = std::move(queue_.front());
    queue_.pop_front();
    auto handler = [self = shared_from_this(), t, generation = generation_](const boost::system::error_code& ec,
                                                                          std::size_t) {
      if (generation != self->generation_ || self->stopped_) return;
      self->onWrite(*t, ec);
    };
    if (t->tls)
      net::async_write(*t->tls, net::buffer(t->writing.bytes), std::move(handler));
    else
      net::async_write(*t->plain, net::buffer(t->writing.bytes), std::move(handler));
  }

  void onWrite(Transport& t, const boost::system::error_code& ec) {
    writing_ = false;
    queuedBytes_ -= t.writing.bytes.size();
    if (ec) return transportFailed(ec);
    if (t.writing.op != 0) session_.onWritten(t.writing.op);
    if (closing_ && queue_.empty()) {
      closeStream();
      session_.onTransportClosed({}, SteadyClock::now());
    } else {
      doWrite();
      if (readPaused_ && queuedBytes_ <= queueLimit_) {
        readPaused_ = false;
        doRead();
      }
    }
    pump();
  }

  /// Closes the current stream, if any. Bumping the generation turns every handler still queued for
  /// it into a no-op; what was queued and not written is dropped (the session fails its operations).
  void closeStream() {
    ++generation_;
    resolver_.cancel();
    if (transport_) {
      boost::system::error_code ignored;
      auto& s = transport_->lowest();
      s.shutdown(tcp::socket::shutdown_both, ignored);
      s.close(ignored);
      transport_.reset();
    }
    queue_.clear();
    queuedBytes_ = 0;
    ready_ = reading_ = writing_ = closing_ = readPaused_ = false;
  }

  MqttOptions options_;
  MqttSession session_;
  Strand strand_;
  tcp::resolver resolver_;
  net::steady_timer timer_;
  std::optional<ssl::context> sslContext_;
  std::error_code tlsError_;
  const std::size_t queueLimit_;

  std::shared_ptr<Transport> transport_;
  std::uint64_t generation_ = 0;
  std::deque<Outbound> queue_;
  std::size_t queuedBytes_ = 0;  // queued plus the write in progress
  bool ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool readPaused_ = false;
  std::optional<TimePoint> timerAt_;
  std::atomic<bool> stopped_{false};

  MqttClient::MessageHandler messageHandler_;
  MqttClient::ConnectedHandler connectedHandler_;
  MqttClient::CloseHandler closeHandler_;
  MqttClient::ConnectHandler connectHandler_;
  std::unordered_map<OpId, OpHandler> opHandlers_;
  std::vector<MqttClient::CompletionHandler> closeWaiters_;
};

}  // namespace fc::client::detail

namespace fc::client {

MqttClient::MqttClient(boost::asio::io_context& ioc, MqttOptions options)
    : impl_(std::make_shared<detail::MqttConnection>(ioc, std::move(options))) {}

MqttClient::~MqttClient() { impl_->shutdown(); }

const MqttOptions& MqttClient::options() const noexcept { return impl_->options(); }

void MqttClient::onMessage(MessageHandler handler) {
  impl_->run([h = std::move(handler)](detail::MqttConnection& c) mutable { c.setMessageHandler(std::move(h)); });
}

void MqttClient::onConnected(ConnectedHandler handler) {
  impl_->run([h = std::move(handler)](detail::MqttConnection& c) mutable { c.setConnectedHandler(std::move(h)); });
}

void MqttClient::onClose(CloseHandler handler) {
  impl_->run([h = std::move(handler)](detail::MqttConnection& c) mutable { c.setCloseHandler(std::move(h)); });
}

void MqttClient::connect(ConnectHandler handler) {
  impl_->run([h = std::move(handler)](detail::MqttConnection& c) mutable { c.connect(std::move(h)); });
}

void MqttClient::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain,
                         CompletionHandler handler) {
  impl_->run([topic = std::move(topic), payload = std::move(payload), qos, retain,
              h = std::move(handler)](detail::MqttConnection& c) mutable {
    c.publish(std::move(topic), std::move(payload), qos, retain, std::move(h));
  });
}

void MqttClient::subscribe(std::vector<mqtt::Subscription> subscriptions, SubscribeHandler handler) {
  impl_->run([s = std::move(subscriptions), h = std::move(handler)](detail::MqttConnection& c) mutable {
    c.subscribe(std::move(s), std::move(h));
  });
}

void MqttClient::unsubscribe(std::vector<std::string> filters, CompletionHandler handler) {
  impl_->run([f = std::move(filters), h = std::move(handler)](detail::MqttConnection& c) mutable {
    c.unsubscribe(std::move(f), std::move(h));
  });
}

void MqttClient::ack(std::uint16_t packetId) {
  impl_->run([packetId](detail::MqttConnection& c) { c.ack(packetId); });
}

void MqttClient::sendRaw(std::vector<std::uint8_t> bytes, CompletionHandler handler) {
  impl_->run([b = std::move(bytes), h = std::move(handler)](detail::MqttConnection& c) mutable {
    c.sendRaw(std::move(b), std::move(h));
  });
}

void MqttClient::disconnect(CompletionHandler done) {
  impl_->run([h = std::move(done)](detail::MqttConnection& c) mutable { c.disconnect(std::move(h)); });
}

void MqttClient::abort(CompletionHandler done) {
  impl_->run([h = std::move(done)](detail::MqttConnection& c) mutable { c.abort(std::move(h)); });
}

}  // namespace fc::client
