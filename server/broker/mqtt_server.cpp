// MQTT connections and listeners on Asio. Each connection lives on its own strand, owns its
// stream and feeds what it reads to its mqtt::ServerSession (protocols/mqtt/server_session.hpp),
// which frames it and applies the connection's rules (CONNECT first, PINGREQ, DISCONNECT,
// connect timeout, keepalive); this file does the I/O those rules ask for.
//
// Memory per idle connection is what limits how many a test fleet can hold, so nothing is
// allocated per connection until it is needed: a plain TCP connection waits for readability and
// reads into a per-thread buffer, keeping only the bytes of an incomplete packet; its write queue
// is empty until the broker sends. (TLS connections keep a read buffer that starts at 256 bytes,
// besides OpenSSL's own.) Connect timeouts and keepalives are enforced by one sweep over all
// connections every kSweepInterval rather than by a timer per connection, whose pending wait
// cost about 200 bytes of handler memory per connection.
//
// CPU per message is the other limit, and thread hand-offs dominate it, so a message crosses as
// few as it can: a connection calls the broker directly under the broker's mutex when it is free
// (and through the broker strand, in order, when it is not); the broker's sends to a connection
// are appended to its queue under a small mutex; when that connection is idle, a plain TCP one is
// written to by the thread that ran the broker, with a non-blocking sendmsg once the broker is
// released (no post, no thread hand-off), and a TLS one is handed to its strand with one post.
// Whatever the socket does not take at once goes to the connection's strand and async_write.
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
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>

#include "protocols/mqtt/codec.hpp"
#include "protocols/mqtt/server_session.hpp"
#include "server/net/acceptor.hpp"
#include "server/net/tls_context.hpp"

namespace fc::server::broker {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using error_code = boost::system::error_code;
using Strand = net::strand<net::io_context::executor_type>;
// A socket bound to its connection's strand type rather than to any_io_executor: 32 bytes less in
// the socket and in every pending operation's handler, per connection.
using Socket = net::basic_stream_socket<tcp, Strand>;

constexpr std::size_t kReadChunk = 64 * 1024;  // the per-thread read buffer of plain TCP connections
constexpr std::size_t kInitialTlsBuffer = 256;  // a TLS connection's read buffer doubles from here
constexpr int kMaxBatchesInFlight = 4;          // read no further while the broker strand holds this many of ours
constexpr std::size_t kKeptQueueCapacity = 16;  // frames a connection's queue keeps room for between writes
constexpr std::size_t kMaxDirectFrames = 64;    // frames per sendmsg from another thread (≤ 3 iovecs each)
constexpr std::chrono::milliseconds kSweepInterval{100};  // how often connect and keepalive deadlines are checked

std::string describe(const Socket& s) {
  error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

Socket& lowest(Socket& s) { return s; }
Socket& lowest(ssl::stream<Socket>& s) { return s.next_layer(); }

std::string peerSubject(ssl::stream<Socket>& s) {
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

/// The connection whose input this thread is handling right now: the broker's sends to it need no
/// post, the connection writes them itself when it has handled the input.
thread_local const ConnectionPort* tHandling = nullptr;

class HandlingScope {
 public:
  explicit HandlingScope(const ConnectionPort* c) : previous_(tHandling) { tHandling = c; }
  ~HandlingScope() { tHandling = previous_; }
  HandlingScope(const HandlingScope&) = delete;
  HandlingScope& operator=(const HandlingScope&) = delete;

 private:
  const ConnectionPort* previous_;
};

/// A decoded packet and the bytes it arrived as (a view into the connection's input, or into the
/// batch's own copy once the batch leaves the reading thread).
struct Inbound {
  mqtt::Packet packet;
  std::span<const std::uint8_t> bytes;
};

/// Per-thread scratch space, reused by whichever connection this thread is serving.
struct ThreadScratch {
  std::vector<std::uint8_t> read = std::vector<std::uint8_t>(kReadChunk);
  std::vector<Inbound> packets;
  std::vector<Frame> frames;
  std::vector<net::const_buffer> buffers;
};

ThreadScratch& scratch() {
  thread_local ThreadScratch s;
  return s;
}

class SweptConnection;

/// Plain TCP connections that the broker, running on this thread, queued something for while they
/// were idle: written from here once the broker is released (DirectWrites).
struct DirectWriteList {
  bool active = false;
  std::vector<std::shared_ptr<SweptConnection>> pending;
};
thread_local DirectWriteList tDirect;

/// What the deadline sweep and stop() see of a connection. Live connections are linked into a list
/// (under MqttServer::Impl::liveMutex) through the pointers here rather than held in a map: a map
/// node and its bucket cost 56 bytes per connection.
class SweptConnection : public ConnectionPort, public std::enable_shared_from_this<SweptConnection> {
 public:
  /// Steady-clock ticks after which the connection must have sent something (CONNECT, or any
  /// packet within 1.5 keepalive periods); 0 when there is no deadline. Written by the connection,
  /// read and cleared by the sweep.
  std::atomic<Clock::rep> deadline{0};
  /// The deadline passed: the connection re-checks it on its strand and closes if it still holds.
  virtual void expire() = 0;
  /// Writes what is queued from the calling thread (see DirectWrites); the rest goes to the strand.
  virtual void writeDirect() = 0;

  SweptConnection* prevLive = nullptr;
  SweptConnection* nextLive = nullptr;
  bool linked = false;
};

/// While one exists on a thread, the broker's sends to idle plain TCP connections are collected
/// rather than posted, and written when it is destroyed — declare it before the broker's lock so
/// that the writes happen after the lock is released. Nests: only the outermost one writes.
class DirectWrites {
 public:
  DirectWrites() : outer_(!tDirect.active) { tDirect.active = true; }
  ~DirectWrites() {
    if (!outer_) return;
    tDirect.active = false;
    // Each write may queue nothing further (no broker call happens here), so one pass suffices.
    auto pending = std::move(tDirect.pending);
    for (auto& c : pending) c->writeDirect();
    pending.clear();
    if (tDirect.pending.empty()) tDirect.pending = std::move(pending);  // keep the capacity
  }
  DirectWrites(const DirectWrites&) = delete;
  DirectWrites& operator=(const DirectWrites&) = delete;

 private:
  bool outer_;
};

}  // namespace

/// The broker, the mutex and strand that serialise it, and the listeners; shared with every connection.
struct MqttServer::Impl : std::enable_shared_from_this<MqttServer::Impl> {
  net::io_context& ioc;
  MqttConfig config;
  // Every call into `broker` holds brokerMutex. Connections call it directly when the mutex is
  // free; work that must not block a thread, or must queue behind a connection's earlier batches,
  // goes through the strand, whose handlers take the mutex.
  std::mutex brokerMutex;
  net::strand<net::io_context::executor_type> strand;
  Broker broker;
  std::atomic<ConnectionId> nextId{1};
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors;
  std::vector<std::shared_ptr<ssl::context>> tlsContexts;
  std::mutex liveMutex;
  SweptConnection* live = nullptr;  // the list of live connections, under liveMutex
  std::unique_ptr<net::steady_timer> sweepTimer;  // armed by the first listener
  std::atomic<bool> stopping{false};
  LogLimiter acceptWarnings{std::chrono::seconds(5)};
  mqtt::ServerSessionOptions sessionOptions;  // shared by every connection's ServerSession

  Impl(net::io_context& io, const MqttConfig& cfg, AccessPolicy& access, storage::BrokerStore* store,
       BrokerObserver* observer)
      : ioc(io),
        config(cfg),
        strand(net::make_strand(io)),
        broker(BrokerOptions{cfg.maxInflight, cfg.maxQueued, cfg.maxOutboundBytes}, access, store,
               [this](std::function<void()> fn) { onStrand(std::move(fn)); }, observer) {
    sessionOptions.connectTimeout = std::chrono::milliseconds(cfg.connectTimeoutMs);
    sessionOptions.limits.maxPacket = cfg.maxPacketSize;
    sessionOptions.rules = [&access](const mqtt::Connect& c) { return access.connectionRules(c); };
  }

  /// Runs `fn` with the broker held, later, on the broker strand.
  void onStrand(std::function<void()> fn) {
    net::post(strand, [this, fn = std::move(fn)] {
      DirectWrites direct;
      std::lock_guard lock(brokerMutex);
      fn();
    });
  }

  template <class Stream>
  void accept(std::shared_ptr<tcp::acceptor> acceptor, std::shared_ptr<ssl::context> tls);

  /// Under liveMutex.
  void link(SweptConnection* c) {
    c->prevLive = nullptr;
    c->nextLive = live;
    if (live) live->prevLive = c;
    live = c;
    c->linked = true;
  }
  void unlink(SweptConnection* c) {
    if (!c->linked) return;
    if (c->prevLive) c->prevLive->nextLive = c->nextLive;
    else live = c->nextLive;
    if (c->nextLive) c->nextLive->prevLive = c->prevLive;
    c->prevLive = c->nextLive = nullptr;
    c->linked = false;
  }

  /// The live connections for which `pick(connection)` is true and that are not being destroyed.
  /// A connection unlinks itself under liveMutex before it is freed, so the list's pointers are
  /// valid while it is held; the references are returned so that none is dropped (possibly the
  /// last, whose destructor takes liveMutex) while it is held.
  template <class Pick>
  std::vector<std::shared_ptr<SweptConnection>> liveConnections(Pick&& pick) {
    std::vector<std::shared_ptr<SweptConnection>> out;
    std::lock_guard lock(liveMutex);
    for (SweptConnection* c = live; c; c = c->nextLive)
      if (pick(*c))
        if (auto sp = c->weak_from_this().lock()) out.push_back(std::move(sp));
    return out;
  }

  void startSweep() {
    if (sweepTimer) return;
    sweepTimer = std::make_unique<net::steady_timer>(ioc);
    armSweep();
  }

  void armSweep() {
    sweepTimer->expires_after(kSweepInterval);
    sweepTimer->async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->stopping) return;
      self->sweep();
      self->armSweep();
    });
  }

  /// Hands every connection whose deadline passed to its own strand (once: the deadline is cleared).
  void sweep() {
    const auto now = Clock::now().time_since_epoch().count();
    const auto expired = liveConnections([now](SweptConnection& c) {
      auto d = c.deadline.load(std::memory_order_relaxed);
      return d != 0 && d <= now && c.deadline.compare_exchange_strong(d, 0, std::memory_order_relaxed);
    });
    for (const auto& c : expired) c->expire();
  }
};

namespace {

/// One client connection. `Stream` is Socket or ssl::stream<Socket>.
template <class Stream>
class Connection final : public SweptConnection {
  static constexpr bool kPlain = std::is_same_v<Stream, Socket>;

 public:
  Connection(std::shared_ptr<MqttServer::Impl> server, ConnectionId id, Stream stream, bool tls)
      : server_(std::move(server)),
        id_(id),
        stream_(std::move(stream)),
        tls_(tls),
        remote_(describe(lowest(stream_))),
        session_(server_->sessionOptions, Clock::now()) {}

  ~Connection() override {
    // Normally unlinked by finish(); not when the io_context is torn down with handlers pending.
    std::lock_guard lock(server_->liveMutex);
    server_->unlink(this);
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = self()] { self->begin(); });
  }

  // --- ConnectionPort (called by the broker, from any thread) ---

  void send(Frame frame) override {
    pending_.fetch_add(frame.size(), std::memory_order_relaxed);
    bool post = false, direct = false;
    {
      std::lock_guard lock(sendMutex_);
      outbox_.push_back(std::move(frame));
      if (!writeScheduled_) {
        // Whoever finds the queue idle owns writing it until it is empty again: the connection
        // handling its input on this thread, when it is done; a plain TCP connection, the thread
        // running the broker, when it releases it; otherwise the connection's strand.
        writeScheduled_ = true;
        if (tHandling == this) ownFlush_ = true;
        else if (kPlain && tDirect.active) direct = true;
        else post = true;
      }
    }
    if (direct) tDirect.pending.push_back(shared_from_this());
    else if (post) net::post(stream_.get_executor(), [self = self()] { self->flush(); });
  }

  /// Under sendMutex_: `n` more bytes of the queue's front went out.
  void dropWritten(std::size_t n) {
    pending_.fetch_sub(n, std::memory_order_relaxed);
    std::size_t done = 0;
    n += outboxSkip_;
    while (done < outbox_.size() && n >= outbox_[done].size()) n -= outbox_[done++].size();
    outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(done));
    outboxSkip_ = n;
  }

  void writeDirect() override {
    if constexpr (kPlain) {
      std::lock_guard lock(sendMutex_);
      // The socket is used under sendMutex_ only while socketOpen_: finish() clears it under the
      // same mutex before it closes the descriptor, which could otherwise be reused meanwhile.
      while (socketOpen_ && !outbox_.empty()) {
        iovec iov[kMaxDirectFrames * 3];
        std::size_t count = 0, want = 0, skip = outboxSkip_, frames = 0;
        for (const auto& f : outbox_) {
          if (frames++ == kMaxDirectFrames) break;
          f.pieces([&](std::span<const std::uint8_t> p) {
            if (skip >= p.size()) {
              skip -= p.size();
              return;
            }
            iov[count++] = iovec{const_cast<std::uint8_t*>(p.data() + skip), p.size() - skip};
            want += p.size() - skip;
            skip = 0;
          });
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = count;
        const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) break;  // full (EAGAIN) or failed: the strand finds out and carries on
        dropWritten(static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(n) < want) break;  // the socket buffer is full
      }
      if (socketOpen_ && outbox_.empty() && !closeRequested_) {
        writeScheduled_ = false;
        return;
      }
      if (!socketOpen_) return;  // closed: finish() dropped the queue and keeps writeScheduled_
    }
    // Something is left, or a close waits for the queue to drain: the strand takes over.
    net::post(stream_.get_executor(), [self = self()] { self->flush(); });
  }

  void close(std::string reason) override {
    net::post(stream_.get_executor(), [self = self(), reason = std::move(reason)]() mutable {
      self->closeAfterWrites(std::move(reason));
    });
  }

  std::size_t pendingBytes() const noexcept override { return pending_.load(std::memory_order_relaxed); }

  void expire() override {
    net::post(stream_.get_executor(), [self = self()] { self->onExpired(); });
  }

 private:
  std::shared_ptr<Connection> self() { return std::static_pointer_cast<Connection>(shared_from_this()); }

  void begin() {
    updateDeadline();
    if constexpr (kPlain) {
      // Reads happen after a readiness wait and must return would_block rather than wait.
      error_code ec;
      stream_.non_blocking(true, ec);
      if (ec) return closeNow("cannot make the socket non-blocking: " + ec.message(), spdlog::level::warn);
      {
        std::lock_guard lock(sendMutex_);
        fd_ = stream_.native_handle();
        socketOpen_ = true;
      }
      doRead();
    } else {
      stream_.async_handshake(ssl::stream_base::server, [self = self()](error_code ec) {
        if (ec) return self->closeNow("TLS handshake failed: " + ec.message(), spdlog::level::info);
        self->tlsBuf_.certSubject = peerSubject(self->stream_);
        self->doRead();
      });
    }
  }

  // --- reading and framing ---

  void doRead() {
    if (closing_ || closed_ || reading_) return;
    if (batchesInFlight_ >= kMaxBatchesInFlight) return;  // resumed by onBatchDone
    reading_ = true;
    if constexpr (kPlain) {
      stream_.async_wait(Socket::wait_read, [self = self()](error_code ec) {
        self->onReadable(ec);
      });
    } else {
      if (tlsBuf_.readLen == tlsBuf_.read.size()) {
        // A read filled the buffer: double it (the decoder's maxPacket check bounds a packet).
        const std::size_t cap = server_->config.maxPacketSize + 8;
        auto& buf = tlsBuf_.read;
        buf.resize(std::max(tlsBuf_.readLen + 1, std::min(std::max(buf.size() * 2, kInitialTlsBuffer), cap)));
      }
      auto& buf = tlsBuf_.read;
      stream_.async_read_some(net::buffer(buf.data() + tlsBuf_.readLen, buf.size() - tlsBuf_.readLen),
                              [self = self()](error_code ec, std::size_t n) { self->onRead(ec, n); });
    }
  }

  void readFailed(const error_code& ec) {
    const bool quiet = ec == net::error::eof || ec == net::error::connection_reset ||
                       ec == net::error::operation_aborted || ec == ssl::error::stream_truncated;
    closeNow(quiet ? "connection closed by client" : "read failed: " + ec.message(),
             quiet ? spdlog::level::debug : spdlog::level::info);
  }

  /// Plain TCP: the socket is readable; read until it is drained (or reading must pause).
  void onReadable(error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      readFailed(ec);
      return;
    }
    {
      HandlingScope handling(this);
      auto& buf = scratch().read;
      for (;;) {
        const std::size_t n = stream_.read_some(net::buffer(buf), ec);
        if (ec == net::error::would_block || ec == net::error::try_again) break;
        if (ec) {
          readFailed(ec);
          break;
        }
        if (!consumePlain(std::span<const std::uint8_t>(buf.data(), n), Clock::now())) break;
        if (n < buf.size() || closing_ || batchesInFlight_ >= kMaxBatchesInFlight) break;
      }
    }
    afterInput();
  }

  /// Frames what was read after the leftover of an incomplete packet; keeps the new leftover.
  bool consumePlain(std::span<const std::uint8_t> bytes, Clock::time_point now) {
    if (partial_.empty()) {
      const std::size_t used = consume(bytes, now);
      if (used == kClosed) return false;
      if (used < bytes.size()) partial_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end());
      return true;
    }
    partial_.insert(partial_.end(), bytes.begin(), bytes.end());
    const std::size_t used = consume(partial_, now);
    if (used == kClosed) return false;
    if (used == partial_.size()) std::vector<std::uint8_t>().swap(partial_);  // idle connections hold nothing
    else partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    return true;
  }

  /// TLS: `n` more bytes arrived in tlsBuf_.read.
  void onRead(error_code ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec) {
      readFailed(ec);
      return;
    }
    tlsBuf_.readLen += n;
    {
      HandlingScope handling(this);
      const std::size_t used =
          consume(std::span<const std::uint8_t>(tlsBuf_.read.data(), tlsBuf_.readLen), Clock::now());
      if (used != kClosed && used > 0) {
        std::memmove(tlsBuf_.read.data(), tlsBuf_.read.data() + used, tlsBuf_.readLen - used);
        tlsBuf_.readLen -= used;
      }
    }
    afterInput();
  }

  /// Writes what the input produced (replies queued while handling it), then reads on.
  void afterInput() {
    if (ownFlush_) {
      ownFlush_ = false;
      flush();
    }
    doRead();
  }

  static constexpr std::size_t kClosed = static_cast<std::size_t>(-1);

  /// What the session asks for while it reads one batch of input (or on a timer).
  class SessionOutput final : public mqtt::ServerSessionHandler {
   public:
    SessionOutput(Connection& c, std::vector<Inbound>& batch) : c_(c), batch_(batch) {}
    void deliver(mqtt::Packet&& packet, std::span<const std::uint8_t> bytes) override {
      batch_.emplace_back(std::move(packet), bytes);
    }
    void send(const mqtt::Packet& packet) override { c_.send(Frame::of(packet)); }
    void close(mqtt::CloseReason reason, std::string_view message) override {
      closed = true;
      closeReason = reason;
      closeMessage = message;
    }

    bool closed = false;
    mqtt::CloseReason closeReason{};
    std::string closeMessage;

   private:
    Connection& c_;
    std::vector<Inbound>& batch_;
  };

  static spdlog::level::level_enum logLevel(mqtt::CloseReason reason) {
    switch (reason) {
      case mqtt::CloseReason::NotConnect:
      case mqtt::CloseReason::Malformed:
      case mqtt::CloseReason::TooManyPings:
        return spdlog::level::warn;
      case mqtt::CloseReason::ConnectTimeout:
      case mqtt::CloseReason::KeepaliveTimeout:
        break;
    }
    return spdlog::level::info;
  }

  /// Hands `in` (received at `now`) to the session and the packets it decodes to the broker;
  /// returns the bytes used, or kClosed when the connection was closed.
  std::size_t consume(std::span<const std::uint8_t> in, Clock::time_point now) {
    if (closing_) return 0;
    auto& batch = scratch().packets;
    batch.clear();
    const bool connectFirst = session_.state() == mqtt::ServerSession::State::AwaitingConnect;
    SessionOutput out(*this, batch);
    const std::size_t used = session_.onBytes(in, now, out);
    if (session_.state() == mqtt::ServerSession::State::Disconnected) closing_ = true;  // reads nothing more
    updateDeadline();
    forward(connectFirst, batch);  // the packets before malformed bytes count
    if (out.closed) {
      closeNow(std::move(out.closeMessage), logLevel(out.closeReason));
      return kClosed;
    }
    return closed_ ? kClosed : used;
  }

  std::string certSubject() const {
    if constexpr (kPlain) return {};
    else return tlsBuf_.certSubject;
  }

  /// `connectFirst`: the batch's first packet is the session's CONNECT.
  void toBroker(bool connectFirst, std::vector<Inbound>& batch) {
    auto& broker = server_->broker;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Inbound& in = batch[i];
      if (i == 0 && connectFirst)
        broker.onConnect(id_, self(), std::get<mqtt::Connect>(std::move(in.packet)),
                         ConnectionInfo{remote_, tls_, certSubject()}, in.bytes);
      else
        broker.onPacket(id_, std::move(in.packet), in.bytes);
    }
  }

  /// Hands a batch to the broker: at once when it is free and none of our batches waits on its
  /// strand, else through the strand (reading pauses while too many batches wait there).
  void forward(bool connectFirst, std::vector<Inbound>& batch) {
    if (batch.empty()) return;
    if (batchesInFlight_ == 0 && server_->brokerMutex.try_lock()) {
      DirectWrites direct;  // writes to the connections the broker sent to, once the lock is released
      std::lock_guard lock(server_->brokerMutex, std::adopt_lock);
      toBroker(connectFirst, batch);
      batch.clear();
      return;
    }
    ++batchesInFlight_;
    // The packets' bytes are views into the input, which the next read reuses: the batch takes
    // one copy of the stretch they lie in (consecutive packets of one buffer).
    const std::uint8_t* base = batch.front().bytes.data();
    std::vector<std::uint8_t> bytes(base, batch.back().bytes.data() + batch.back().bytes.size());
    for (auto& in : batch) in.bytes = {bytes.data() + (in.bytes.data() - base), in.bytes.size()};
    net::post(server_->strand, [self = self(), connectFirst, batch = std::move(batch),
                                bytes = std::move(bytes)]() mutable {
      {
        DirectWrites direct;
        std::lock_guard lock(self->server_->brokerMutex);
        self->toBroker(connectFirst, batch);
      }
      net::post(self->stream_.get_executor(), [self] { self->onBatchDone(); });
    });
    batch = {};
  }

  void onBatchDone() {
    --batchesInFlight_;
    doRead();
  }

  // --- timers ---

  /// Publishes the session's deadline to the sweep (0: none).
  void updateDeadline() {
    const auto d = session_.deadline();
    deadline.store(d ? d->time_since_epoch().count() : 0, std::memory_order_relaxed);
  }

  /// The sweep found the deadline passed; bytes may have arrived since, so the session checks again.
  void onExpired() {
    if (closed_) return;
    auto& batch = scratch().packets;
    batch.clear();
    SessionOutput out(*this, batch);
    session_.onTimer(Clock::now(), out);
    if (out.closed) return closeNow(std::move(out.closeMessage), logLevel(out.closeReason));
    updateDeadline();
  }

  // --- writing ---

  /// Writes everything queued, until the queue stays empty (writeScheduled_ is ours until then).
  void flush() {
    if (closed_) return;
    if constexpr (kPlain) {
      auto& s = scratch();
      std::size_t skip = 0;
      for (;;) {
        s.frames.clear();
        {
          std::lock_guard lock(sendMutex_);
          if (outbox_.empty()) {
            writeScheduled_ = false;
            break;
          }
          s.frames.assign(std::make_move_iterator(outbox_.begin()), std::make_move_iterator(outbox_.end()));
          if (outbox_.capacity() > kKeptQueueCapacity) outbox_ = {};
          else outbox_.clear();
          skip = std::exchange(outboxSkip_, 0);
        }
        if (!writeNow(s, skip)) return;  // the rest goes asynchronously, or the connection closed
      }
      s.frames.clear();
    } else {
      auto& out = tlsBuf_.out;
      out.clear();
      {
        std::lock_guard lock(sendMutex_);
        if (outbox_.empty()) writeScheduled_ = false;
        // One contiguous buffer, so that OpenSSL makes full records rather than one per packet.
        for (const auto& f : outbox_)
          f.pieces([&out](std::span<const std::uint8_t> p) { out.insert(out.end(), p.begin(), p.end()); });
        outbox_.clear();
      }
      if (!out.empty()) {
        net::async_write(stream_, net::buffer(tlsBuf_.out),
                         [self = self(), total = tlsBuf_.out.size()](error_code ec, std::size_t) {
                           self->onAsyncWrite(ec, total);
                         });
        return;
      }
    }
    if (closing_) finish();
  }

  /// Plain TCP: a non-blocking gather-write of s.frames. True when all went out; otherwise the
  /// rest was handed to async_write (or the connection closed) and the caller stops.
  bool writeNow(ThreadScratch& s, std::size_t skip) {
    s.buffers.clear();
    std::size_t total = 0;
    for (const auto& f : s.frames) {
      total += f.size();
      f.pieces([&s](std::span<const std::uint8_t> p) { s.buffers.emplace_back(p.data(), p.size()); });
    }
    // The first `skip` bytes went out already (a direct write the socket took only part of).
    const std::size_t already = skip;
    total -= skip;
    while (skip > 0) {
      auto& b = s.buffers.front();
      if (skip < b.size()) {
        b += skip;
        break;
      }
      skip -= b.size();
      s.buffers.erase(s.buffers.begin());
    }
    error_code ec;
    const std::size_t written = net::write(stream_, s.buffers, ec);
    if (written == total) {
      pending_.fetch_sub(total, std::memory_order_relaxed);
      return true;
    }
    if (ec && ec != net::error::would_block && ec != net::error::try_again) {
      pending_.fetch_sub(total, std::memory_order_relaxed);
      closeNow("write failed: " + ec.message(), spdlog::level::info);
      return false;
    }
    // The socket buffer is full: keep the unwritten frames until the socket takes them.
    pending_.fetch_sub(written, std::memory_order_relaxed);
    skip = already + written;
    std::size_t first = 0;
    while (skip >= s.frames[first].size()) skip -= s.frames[first++].size();
    backlog_ = std::make_unique<Backlog>();
    backlog_->frames.assign(std::make_move_iterator(s.frames.begin() + static_cast<std::ptrdiff_t>(first)),
                            std::make_move_iterator(s.frames.end()));
    s.frames.clear();
    auto& buffers = backlog_->buffers;
    for (const auto& f : backlog_->frames)
      f.pieces([&buffers, &skip](std::span<const std::uint8_t> p) {
        if (skip >= p.size()) {
          skip -= p.size();
          return;
        }
        buffers.emplace_back(p.data() + skip, p.size() - skip);
        skip = 0;
      });
    net::async_write(stream_, buffers,
                     [self = self(), rest = total - written](error_code ec, std::size_t) {
                       self->onAsyncWrite(ec, rest);
                     });
    return false;
  }

  void onAsyncWrite(error_code ec, std::size_t bytes) {
    pending_.fetch_sub(bytes, std::memory_order_relaxed);
    // A slow reader's backlog should not stay allocated once it has caught up.
    backlog_.reset();
    if constexpr (!kPlain) tlsBuf_.out = {};
    if (closed_) return;
    if (ec) return closeNow("write failed: " + ec.message(), spdlog::level::info);
    flush();
  }

  // --- closing ---

  void closeAfterWrites(std::string reason) {
    if (closed_) return;
    if (reason_.empty()) reason_ = std::move(reason);
    closing_ = true;
    bool idle;
    {
      std::lock_guard lock(sendMutex_);
      idle = !writeScheduled_;
      closeRequested_ = !idle;  // a direct writer that empties the queue hands it back to the strand
    }
    if (idle) finish();
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
    const std::string& clientId = session_.clientId();
    const std::string who = clientId.empty() ? remote_ : "'" + clientId + "' (" + remote_ + ")";
    const bool disconnected = session_.state() == mqtt::ServerSession::State::Disconnected;
    const auto level = disconnected && logLevel_ == spdlog::level::info ? spdlog::level::debug : logLevel_;
    spdlog::log(level, "mqtt: closed {}: {}", who, reason_);
    deadline.store(0, std::memory_order_relaxed);
    {
      std::lock_guard lock(sendMutex_);
      socketOpen_ = false;  // before the descriptor closes: no direct write may use it any more
      std::size_t dropped = 0;
      for (const auto& f : outbox_) dropped += f.size();
      pending_.fetch_sub(dropped - outboxSkip_, std::memory_order_relaxed);
      outbox_ = {};
      outboxSkip_ = 0;
      writeScheduled_ = true;  // nothing will be written any more: later sends are dropped here, unposted
    }
    error_code ignored;
    lowest(stream_).shutdown(Socket::shutdown_both, ignored);
    lowest(stream_).close(ignored);
    {
      std::lock_guard lock(server_->liveMutex);
      server_->unlink(this);
    }
    // After our batches: directly when none waits on the broker strand, else behind them.
    if (batchesInFlight_ == 0) {
      DirectWrites direct;
      std::lock_guard lock(server_->brokerMutex);
      server_->broker.onClosed(id_, reason_);
    } else {
      server_->onStrand([c = self()] { c->server_->broker.onClosed(c->id_, c->reason_); });
    }
  }

  std::shared_ptr<MqttServer::Impl> server_;
  ConnectionId id_;
  Stream stream_;
  bool tls_;
  std::string remote_;
  mqtt::ServerSession session_;  // strand only

  // Reading (strand only). Plain TCP: the leftover of an incomplete packet.
  std::vector<std::uint8_t> partial_;
  bool reading_ = false;
  int batchesInFlight_ = 0;

  // Writing. outbox_ and writeScheduled_ under sendMutex_: writeScheduled_ is true from the send
  // that found the queue idle until the flush that finds it empty, so only that send posts.
  std::mutex sendMutex_;
  std::vector<Frame> outbox_;
  std::size_t outboxSkip_ = 0;     // bytes of outbox_.front() a direct write already sent
  bool writeScheduled_ = false;
  bool closeRequested_ = false;    // the strand waits for the queue to drain to close
  bool socketOpen_ = false;        // plain TCP: fd_ may be written to by a direct write
  int fd_ = -1;
  bool ownFlush_ = false;                     // strand only: a send while handling our input
  // Strand only, plain TCP: what the socket did not take at once, for async_write.
  struct Backlog {
    std::vector<Frame> frames;
    std::vector<net::const_buffer> buffers;
  };
  std::unique_ptr<Backlog> backlog_;
  std::atomic<std::size_t> pending_{0};

  // TLS only: the read buffer, the bytes of the write in progress, the client certificate's subject.
  struct TlsBuffers {
    std::vector<std::uint8_t> read;
    std::size_t readLen = 0;
    std::vector<std::uint8_t> out;
    std::string certSubject;
  };
  struct NoTlsBuffers {};
  [[no_unique_address]] std::conditional_t<kPlain, NoTlsBuffers, TlsBuffers> tlsBuf_;

  bool closing_ = false;
  bool closed_ = false;
  std::string reason_;
  spdlog::level::level_enum logLevel_ = spdlog::level::info;
};

}  // namespace

template <class Stream>
void MqttServer::Impl::accept(std::shared_ptr<tcp::acceptor> acceptor, std::shared_ptr<ssl::context> tls) {
  auto peer = std::make_shared<Socket>(net::make_strand(ioc));
  acceptor->async_accept(*peer, [self = shared_from_this(), acceptor, tls, peer](error_code ec) {
    Socket& socket = *peer;
    if (ec == net::error::operation_aborted || self->stopping) return;
    if (ec && acceptShouldBackOff(ec)) {
      // Out of descriptors or memory: accepting again at once would fail again, in a busy loop.
      std::uint64_t held = 0;
      if (self->acceptWarnings.allow(held))
        spdlog::warn("mqtt: accept failed: {}; retrying every {} ms ({} more failures since the last warning)",
                     ec.message(), kAcceptBackoff.count(), held);
      acceptLater(acceptor, [self, acceptor, tls] {
        if (!self->stopping) self->accept<Stream>(acceptor, tls);
      });
      return;
    }
    if (ec) {
      spdlog::warn("mqtt: accept failed: {}", ec.message());
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      const auto id = self->nextId++;
      std::shared_ptr<Connection<Stream>> conn;
      if constexpr (std::is_same_v<Stream, Socket>)
        conn = std::make_shared<Connection<Socket>>(self, id, std::move(socket), false);
      else
        conn = std::make_shared<Connection<Stream>>(self, id, Stream(std::move(socket), *tls), true);
      {
        std::lock_guard lock(self->liveMutex);
        self->link(conn.get());
      }
      conn->start();
    }
    self->accept<Stream>(acceptor, tls);
  });
}

MqttServer::MqttServer(net::io_context& ioc, const MqttConfig& config, AccessPolicy& access,
                       storage::BrokerStore* store, BrokerObserver* observer)
    : impl_(std::make_shared<Impl>(ioc, config, access, store, observer)) {}

MqttServer::~MqttServer() { stop(); }

void MqttServer::restore(const storage::BrokerSnapshot& snapshot) {
  std::lock_guard lock(impl_->brokerMutex);
  impl_->broker.restore(snapshot);
}

std::uint16_t MqttServer::listenTcp(const std::string& address, std::uint16_t port) {
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->accept<Socket>(acceptor, nullptr);
  impl_->startSweep();
  return acceptor->local_endpoint().port();
}

std::uint16_t MqttServer::listenTls(const std::string& address, std::uint16_t port, const TlsFiles& tls) {
  auto ctx = makeServerTlsContext(tls);
  auto acceptor = server::bindAcceptor(impl_->ioc, address, port);
  impl_->acceptors.push_back(acceptor);
  impl_->tlsContexts.push_back(ctx);
  impl_->accept<ssl::stream<Socket>>(acceptor, ctx);
  impl_->startSweep();
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
  const auto conns = impl_->liveConnections([](SweptConnection&) { return true; });
  for (const auto& c : conns) c->close("server shutting down");
}

void MqttServer::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain) {
  net::post(impl_->strand, [impl = impl_, topic = std::move(topic), payload = std::move(payload), qos, retain]() mutable {
    std::lock_guard lock(impl->brokerMutex);
    impl->broker.publish(std::move(topic), std::move(payload), qos, retain);
  });
}

void MqttServer::stats(std::function<void(BrokerStats)> done) {
  net::post(impl_->strand, [impl = impl_, done = std::move(done)] {
    BrokerStats stats;
    {
      std::lock_guard lock(impl->brokerMutex);
      stats = impl->broker.stats();
    }
    done(stats);
  });
}

void MqttServer::reset() {
  net::post(impl_->strand, [impl = impl_] {
    std::lock_guard lock(impl->brokerMutex);
    impl->broker.reset();
  });
}

void MqttServer::publishFor(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, std::string clientId,
                            AckToken ack) {
  net::post(impl_->strand, [impl = impl_, topic = std::move(topic), payload = std::move(payload), qos,
                            clientId = std::move(clientId), ack = std::move(ack)]() mutable {
    std::lock_guard lock(impl->brokerMutex);
    impl->broker.publishFor(std::move(topic), std::move(payload), qos, std::move(clientId), std::move(ack));
  });
}

}  // namespace fc::server::broker
