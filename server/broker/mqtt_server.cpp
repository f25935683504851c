// MQTT connections and listeners on Asio. Each connection lives on its own strand, owns its
// stream, frames incoming bytes with the codec and forwards packets in batches to the broker strand.
// Writes are coalesced: whatever is queued when a write starts goes out in one gather-write.
#include "server/broker/mqtt_server.hpp"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "protocols/mqtt/codec.hpp"
#include "server/net/acceptor.hpp"
#include "server/net/tls_context.hpp"

namespace fc::server::broker {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;

constexpr std::size_t kInitialReadBuffer = 4096;
constexpr int kMaxBatchesInFlight = 4;        // read no further while the broker has this many batches of ours
constexpr std::size_t kMaxWriteBytes = 256 * 1024;  // per gather-write

std::string describe(const tcp::socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

tcp::socket& lowest(tcp::socket& s) { return s; }
tcp::socket& lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

std::string peerSubject(ssl::stream<tcp::socket>& s) {
  X509* cert = SSL_get1_peer_certificate(s.native_handle());
  if (!cert) return {};
  std::string subject;
  if (BIO* bio = BIO_new(BIO_s_mem())) {
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    subject.assign(data, static_cast<std::size_t>(n));
    BIO_free(bio);
  }
  X509_free(cert);
  return subject;
}

}  // namespace

/// The broker and the strand it runs on, shared by the listeners and every connection.
struct MqttServer::Impl : std::enable_shared_from_this<MqttServer::Impl> {
  net::io_context& ioc;
  MqttConfig config;
  net::strand<net::io_context::executor_type> strand;
  Broker broker;
  std::atomic<ConnectionId> nextId{1};
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<ssl::context>> tlsContexts;
  std::mutex liveMutex;
  std::unordered_map<ConnectionId, std::weak_ptr<ConnectionPort>> live;
  std::atomic<bool> stopping{false};

  Impl(net::io_context& io, const MqttConfig& cfg, AccessPolicy& access, storage::BrokerStore* store,
       BrokerObserver* observer)
      : ioc(io),
        config(cfg),
        strand(net::make_strand(io)),
        broker(BrokerOptions{cfg.maxInflight, cfg.maxQueued, cfg.maxOutboundBytes}, access, store,
               [this](std::function<void()> fn) { net::post(strand, std::move(fn)); }, observer) {}

  template <class Stream>
  void accept(std::shared_ptr<tcp::acceptor> acceptor, std::shared_ptr<ssl::context> tls);
};

namespace {

/// One client connection. `Stream` is tcp::socket or ssl::stream<tcp::socket>.
template <class Stream>
class Connection final : public ConnectionPort, public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(std::shared_ptr<MqttServer::Impl> server, ConnectionId id, Stream stream, bool tls)
      : server_(std::move(server)),
        id_(id),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        tls_(tls),
        remote_(describe(lowest(stream_))) {
    readBuf_.resize(kInitialReadBuffer);
    limits_.maxPacket = server_->config.maxPacketSize;
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  // --- ConnectionPort (called on the broker strand) ---

  void send(Bytes bytes) override {
    pending_.fetch_add(bytes->size(), std::memory_order_relaxed);
    net::post(stream_.get_executor(), [self = this->shared_from_this(), bytes = std::move(bytes)]() mutable {
      self->enqueue(std::move(bytes));
    });
  }

  void close(std::string reason) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), reason = std::move(reason)]() mutable {
      self->closeAfterWrites(std::move(reason));
    });
  }

  std::size_t pendingBytes() const noexcept override { return pending_.load(std::memory_order_relaxed); }

 private:
  void begin() {
    armTimer(Clock::now() + std::chrono::milliseconds(server_->config.connectTimeoutMs));
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      doRead();
    } else {
      stream_.async_handshake(ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
        if (ec) return self->closeNow("TLS handshake failed: " + ec.message(), spdlog::level::info);
        self->certSubject_ = peerSubject(self->stream_);
        self->doRead();
      });
    }
  }

  // --- reading and framing ---

  void doRead() {
    if (closing_ || closed_ || reading_) return;
    if (batchesInFlight_ >= kMaxBatchesInFlight) return;  // resumed by onBatchDone
    if (readLen_ == readBuf_.size()) {
      // A packet bigger than the buffer is still arriving; the decoder's maxPacket check bounds this.
      readBuf_.resize(std::max(readLen_ + 1, std::min<std::size_t>(readBuf_.size() * 2, limits_.maxPacket + 8)));
    }
    reading_ = true;
    stream_.async_read_some(net::buffer(readBuf_.data() + readLen_, readBuf_.size() - readLen_),
                            [self = this->shared_from_this()](error_code ec, std::size_t n) { self->onRead(ec, n); });
  }

  void onRead(error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      const bool quiet = ec == net::error::eof || ec == net::error::connection_reset || ec == net::error::operation_aborted ||
                         ec == ssl::error::stream_truncated;
      return closeNow(quiet ? "connection closed by client" : "read failed: " + ec.message(),
                      quiet ? spdlog::level::debug : spdlog::level::info);
    }
    readLen_ += n;
    lastReceived_ = Clock::now();

    std::optional<mqtt::Connect> connect;
    std::vector<mqtt::Packet> packets;
    std::size_t offset = 0;
    while (!closing_) {
      auto r = mqtt::decode(std::span<const std::uint8_t>(readBuf_.data() + offset, readLen_ - offset), limits_);
      if (!r) {
        if (r.error() == mqtt::DecodeError::Incomplete) break;
        forward(std::move(connect), std::move(packets));
        return closeNow(std::string("malformed packet: ") + mqtt::make_error_code(r.error()).message(),
                        spdlog::level::warn);
      }
      offset += r->consumed;
      mqtt::Packet& p = r->value;
      if (!connected_) {
        if (!std::holds_alternative<mqtt::Connect>(p))
          return closeNow(std::string("first packet was ") + mqtt::packetName(p) + ", not CONNECT",
                          spdlog::level::warn);
        connected_ = true;
        auto& c = std::get<mqtt::Connect>(p);
        clientId_ = c.clientId;
        keepAlive_ = c.keepAlive;
        rearmKeepAlive();
        connect = std::move(c);
      } else if (std::holds_alternative<mqtt::Pingreq>(p)) {
        pending_.fetch_add(2, std::memory_order_relaxed);
        enqueue(pingresp());
      } else {
        const bool disconnect = std::holds_alternative<mqtt::Disconnect>(p);
        packets.push_back(std::move(p));
        if (disconnect) {
          closing_ = true;  // nothing after DISCONNECT is read [MQTT-3.14.4-1]
          disconnected_ = true;
        }
      }
    }
    if (offset > 0) {
      std::memmove(readBuf_.data(), readBuf_.data() + offset, readLen_ - offset);
      readLen_ -= offset;
    }
    forward(std::move(connect), std::move(packets));
    doRead();
  }

  static Bytes pingresp() {
    static const Bytes kPingresp = std::make_shared<const std::vector<std::uint8_t>>(mqtt::encode(mqtt::Pingresp{}));
    return kPingresp;
  }

  /// Hands a batch to the broker strand; reading pauses while too many batches wait there.
  void forward(std::optional<mqtt::Connect> connect, std::vector<mqtt::Packet> packets) {
    if (!connect && packets.empty()) return;
    ++batchesInFlight_;
    auto self = this->shared_from_this();
    net::post(server_->strand, [self, connect = std::move(connect), packets = std::move(packets)]() mutable {
      auto& broker = self->server_->broker;
      if (connect)
        broker.onConnect(self->id_, self, std::move(*connect),
                         ConnectionInfo{self->remote_, self->tls_, self->certSubject_});
      for (auto& p : packets) broker.onPacket(self->id_, std::move(p));
      net::post(self->stream_.get_executor(), [self] { self->onBatchDone(); });
    });
  }

  void onBatchDone() {
    --batchesInFlight_;
    doRead();
  }

  // --- timers ---

  void armTimer(Clock::time_point deadline) {
    timer_.expires_at(deadline);
    timer_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (ec == net::error::operation_aborted || self->closed_) return;
      self->onTimer();
    });
  }

  void rearmKeepAlive() {
    if (keepAlive_ == 0) {
      timer_.cancel();
      return;
    }
    // [MQTT-3.1.2-24]: one and a half keepalive periods without a packet ends the connection.
    armTimer(lastReceived_ + std::chrono::milliseconds(keepAlive_ * 1500));
  }

  void onTimer() {
    if (!connected_) return closeNow("no CONNECT within the connect timeout", spdlog::level::info);
    const auto deadline = lastReceived_ + std::chrono::milliseconds(keepAlive_ * 1500);
    if (Clock::now() >= deadline) return closeNow("keepalive timeout", spdlog::level::info);
    armTimer(deadline);
  }

  // --- writing ---

  void enqueue(Bytes bytes) {
    if (closed_) {
      pending_.fetch_sub(bytes->size(), std::memory_order_relaxed);
      return;
    }
    outbox_.push_back(std::move(bytes));
    if (!writing_) doWrite();
  }

  void doWrite() {
    writeBuffers_.clear();
    inWrite_.clear();
    std::size_t total = 0;
    while (!outbox_.empty() && (total == 0 || total + outbox_.front()->size() <= kMaxWriteBytes)) {
      total += outbox_.front()->size();
      writeBuffers_.emplace_back(outbox_.front()->data(), outbox_.front()->size());
      inWrite_.push_back(std::move(outbox_.front()));
      outbox_.pop_front();
    }
    writing_ = true;
    net::async_write(stream_, writeBuffers_, [self = this->shared_from_this(), total](error_code ec, std::size_t) {
      self->onWrite(ec, total);
    });
  }

  void onWrite(error_code ec, std::size_t bytes) {
    writing_ = false;
    pending_.fetch_sub(bytes, std::memory_order_relaxed);
    inWrite_.clear();
    if (closed_) return;
    if (ec) return closeNow("write failed: " + ec.message(), spdlog::level::info);
    if (!outbox_.empty()) return doWrite();
    if (closing_) finish();
  }

  // --- closing ---

  void closeAfterWrites(std::string reason) {
    if (closed_) return;
    if (reason_.empty()) reason_ = std::move(reason);
    closing_ = true;
    if (!writing_ && outbox_.empty()) finish();
  }

  void closeNow(std::string reason, spdlog::level::level_enum level) {
    if (closed_) return;
    if (reason_.empty()) reason_ = std::move(reason);
    logLevel_ = level;
    finish();
  }

  void finish() {
    if (closed_) return;
    closed_ = true;
    // Logged before the socket closes, so whoever sees the close can already read why.
    const std::string who = clientId_.empty() ? remote_ : "'" + clientId_ + "' (" + remote_ + ")";
    const auto level = disconnected_ && logLevel_ == spdlog::level::info ? spdlog::level::debug : logLevel_;
    spdlog::log(level, "mqtt: closed {}: {}", who, reason_);
    timer_.cancel();
    error_code ignored;
    lowest(stream_).shutdown(tcp::socket::shutdown_both, ignored);
    lowest(stream_).close(ignored);
    for (auto& b : outbox_) pending_.fetch_sub(b->size(), std::memory_order_relaxed);
    outbox_.clear();
    {
      std::lock_guard lock(server_->liveMutex);
      server_->live.erase(id_);
    }
    net::post(server_->strand, [self = this->shared_from_this()] {
      self->server_->broker.onClosed(self->id_, self->reason_);
    });
  }

  std::shared_ptr<MqttServer::Impl> server_;
  ConnectionId id_;
  Stream stream_;
  net::steady_timer timer_;
  bool tls_;
  std::string remote_;
  std::string certSubject_;
  std::string clientId_;
  mqtt::Limits limits_;

  std::vector<std::uint8_t> readBuf_;
  std::size_t readLen_ = 0;
  bool reading_ = false;
  int batchesInFlight_ = 0;
  bool connected_ = false;
  std::uint16_t keepAlive_ = 0;
  Clock::time_point lastReceived_ = Clock::now();

  std::deque<Bytes> outbox_;
  std::vector<Bytes> inWrite_;
  std::vector<net::const_buffer> writeBuffers_;
  bool writing_ = false;
  std::atomic<std::size_t> pending_{0};

  bool closing_ = false;
  bool closed_ = false;
  bool disconnected_ = false;
  std::string reason_;
  spdlog::level::level_enum logLevel_ = spdlog::level::info;
};

}  // namespace

template <class Stream>
void MqttServer::Impl::accept(std::shared_ptr<tcp::acceptor> acceptor, std::shared_ptr<ssl::context> tls) {
  acceptor->async_accept(net::make_strand(ioc), [self = shared_from_this(), acceptor, tls](error_code ec,
                                                                                          tcp::socket socket) {
    if (ec == net::error::operation_aborted || self->stopping) return;
    if (ec) {
      spdlog::warn("mqtt: accept failed: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      const auto id = self->nextId++;
      std::shared_ptr<ConnectionPort> conn;
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        auto c = std::make_shared<Connection<tcp::socket>>(self, id, std::move(socket), false);
        c->start();
        conn = c;
      } else {
        auto c = std::make_shared<Connection<Stream>>(self, id, Stream(std::move(socket), *tls), true);
        c->start();
        conn = c;
      }
      std::lock_guard lock(self->liveMutex);
      self->live.emplace(id, conn);
    }
    self->accept<Stream>(acceptor, tls);
  });
}

MqttServer::MqttServer(net::io_context& ioc, const MqttConfig& config, AccessPolicy& access,
                       storage::BrokerStore* store, BrokerObserver* observer)
    : impl_(std::make_shared<Impl>(ioc, config, access, store, observer)) {}

MqttServer::~MqttServer() { stop(); }

void MqttServer::restore(const storage::BrokerSnapshot& snapshot) { impl_->broker.restore(snapshot); }

std::uint16_t MqttServer::listenTcp(const std::string& address, std::uint16_t port) {
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->accept<tcp::socket>(acceptor, nullptr);
  return acceptor->local_endpoint().port();
}

std::uint16_t MqttServer::listenTls(const std::string& address, std::uint16_t port, const TlsFiles& tls) {
  auto ctx = makeServerTlsContext(tls);
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->tlsContexts.push_back(ctx);
  impl_->accept<ssl::stream<tcp::socket>>(acceptor, ctx);
  return acceptor->local_endpoint().port();
}

void MqttServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  for (auto& a : impl_->acceptors) {
    net::post(a->get_executor(), [a] {
      error_code ignored;
      a->close(ignored);
    });
  }
  std::vector<std::shared_ptr<ConnectionPort>> conns;
  {
    std::lock_guard lock(impl_->liveMutex);
    for (auto& [_, weak] : impl_->live)
      if (auto c = weak.lock()) conns.push_back(std::move(c));
  }
  for (auto& c : conns) c->close("server shutting down");
}

void MqttServer::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain) {
  net::post(impl_->strand, [impl = impl_, topic = std::move(topic), payload = std::move(payload), qos, retain]() mutable {
    impl->broker.publish(std::move(topic), std::move(payload), qos, retain);
  });
}

void MqttServer::stats(std::function<void(BrokerStats)> done) {
  net::post(impl_->strand, [impl = impl_, done = std::move(done)] { done(impl->broker.stats()); });
}

void MqttServer::reset() {
  net::post(impl_->strand, [impl = impl_] { impl->broker.reset(); });
}

void MqttServer::publishTagged(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos,
                               std::string targetClientId, std::uint64_t tag) {
  net::post(impl_->strand, [impl = impl_, topic = std::move(topic), payload = std::move(payload), qos,
                            target = std::move(targetClientId), tag]() mutable {
    impl->broker.publishTagged(std::move(topic), std::move(payload), qos, std::move(target), tag);
  });
}

}  // namespace fc::server::broker
