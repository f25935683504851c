// The fleet engine. Each I/O thread runs its own io_context and owns the connections placed on it,
// so a connection's handlers never run concurrently and need no strand. A connection is a socket,
// a read buffer and two write buffers (one filling, one being written): packets are encoded by
// protocols/mqtt straight into the filling buffer and leave in one write, which keeps 20k+
// connections cheap. The few things shared across threads are atomics: per-publisher counters that
// the receivers update (the end-to-end window) and per-worker counters the controller reads.
#include "loadtest/fleet.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "loadtest/payload.hpp"
#include "loadtest/sequence.hpp"
#include "protocols/mqtt/codec.hpp"

namespace fc::loadtest {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMaxOutBytes = 64 * 1024;        // a publisher stops encoding here until its write completes
constexpr std::size_t kPublisherReadBuffer = 256;      // publishers only read acks
constexpr std::size_t kSubscriberReadBuffer = 1024;    // grows ×2 whenever a read fills it
constexpr std::size_t kMaxReadBuffer = 256 * 1024;
constexpr std::uint64_t kMaxUnacked = 32768;           // QoS 1/2 ids are seq % 65535 + 1, so they never collide
constexpr auto kSweepEvery = 250ms;                    // timeouts, keepalive, stalled windows
constexpr auto kDisconnectGrace = 2s;

std::uint64_t nowNs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

double secondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void atomicMax(std::atomic<std::uint64_t>& a, std::uint64_t v) {
  auto cur = a.load(std::memory_order_relaxed);
  while (cur < v && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

enum class Role : std::uint8_t { Publisher, Subscriber };
enum class State : std::uint8_t { Connecting, Handshaking, WaitConnack, WaitSuback, Ready, Disconnecting, Closed };

struct Worker;
class ConnectionBase;

/// One publisher as every thread sees it. Receivers add to `delivered` (unique deliveries across
/// all its subscribers); the publisher adds to `sent`. In max-rate mode a publisher keeps at most
/// `window` messages per subscriber outstanding, and a receiver that sees the window half empty
/// wakes it (the publisher sets `blocked` first, then re-checks, so no wake-up is lost).
struct alignas(64) PublisherShared {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> writtenOff{0};  // deliveries given up on by a window timeout
  std::atomic<bool> blocked{false};
  std::uint64_t fanout = 0;  // subscribers that hear it; fixed before publishing starts
  Worker* worker = nullptr;
  ConnectionBase* conn = nullptr;

  std::uint64_t outstanding() const noexcept {
    const auto total = sent.load() * fanout;
    const auto done = delivered.load() + writtenOff.load();
    return total > done ? total - done : 0;
  }
};

/// Written by one worker, read by the controller for progress.
struct alignas(64) WorkerCounters {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> outOfOrder{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> lastDeliveryNs{0};
};

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void start() = 0;
  virtual void startPublishing() = 0;
  virtual void stopPublishing() = 0;
  virtual void resume() = 0;  // the window reopened
  virtual void sweep(Clock::time_point now) = 0;
  virtual void disconnect() = 0;
  virtual void abort() = 0;
};

struct Fleet;

struct Worker {
  Worker(Fleet& f, unsigned i) : fleet(f), index(i), sweepTimer(ioc), rng(0x5eed0000u + i) {}

  Fleet& fleet;
  unsigned index;
  net::io_context ioc{1};  // one thread runs it: no locking of its own state needed
  net::steady_timer sweepTimer;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::vector<std::unique_ptr<ConnectionBase>> conns;  // destroyed before ioc (declared after it)
  std::vector<std::uint8_t> payload;                   // template: magic and padding in place
  Histogram latency;
  Histogram connectLatency;
  std::map<std::string, std::uint64_t> errors;
  WorkerCounters counters;
  std::mt19937_64 rng;
  bool sweeping = true;
  std::thread thread;

  void error(const std::string& kind) {
    ++errors[kind];
    counters.errors.fetch_add(1, std::memory_order_relaxed);
  }

  void create(Role role, std::uint32_t index, std::uint64_t ordinal);
  void startSweeping();
};

struct Fleet {
  explicit Fleet(const Scenario& sc);

  const Scenario& s;
  bool maxRate;
  tcp::endpoint target;
  std::vector<net::ip::address_v4> sources;
  std::optional<ssl::context> tls;
  mqtt::Limits limits;
  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<PublisherShared[]> pubs;
  std::unique_ptr<std::atomic<std::uint8_t>[]> subOk;

  std::atomic<std::uint64_t> connectSettled{0};  // CONNACK accepted, or failed before it
  std::atomic<std::uint64_t> setupSettled{0};    // ready (subscribers: SUBACK), or failed
  std::atomic<std::uint64_t> connected{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> subscribed{0};
  std::atomic<std::uint64_t> closed{0};
  std::atomic<std::uint64_t> publishersDone{0};
  std::atomic<std::uint64_t> lastSetupNs{0};
  std::atomic<unsigned> acks{0};  // workers that have run a controller request

  Worker& workerFor(Role role, std::uint32_t index) const {
    // A p2p publisher shares its worker with its subscribers, so waking it is a local post.
    std::uint32_t key = index;
    if (role == Role::Subscriber && s.topology == Topology::PointToPoint && s.publishers > 0)
      key = index / s.subsPerTopic;
    return *workers[key % workers.size()];
  }

  /// Runs `fn(worker)` on every worker's thread and waits until all have run it.
  template <class Fn>
  void onEveryWorker(Fn fn) {
    acks = 0;
    for (auto& w : workers)
      net::post(w->ioc, [this, &w, fn] {
        fn(*w);
        acks.fetch_add(1);
      });
    while (acks.load() < workers.size()) std::this_thread::sleep_for(1ms);
  }
};

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Worker& w, Role role, std::uint32_t index, std::uint64_t ordinal)
      : w_(w), f_(w.fleet), s_(w.fleet.s), role_(role), index_(index), ordinal_(ordinal), stream_(makeStream(w)) {}

  void start() override {
    auto& sock = lowest();
    error_code ec;
    sock.open(tcp::v4(), ec);
    if (!ec && !f_.sources.empty()) {
      sock.set_option(tcp::socket::reuse_address(true), ec);
      // Let connect() pick the port per destination rather than bind() per address: without it one
      // source address is limited to one ephemeral range in total, whatever the targets.
      int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (!ec) sock.bind(tcp::endpoint(f_.sources[ordinal_ % f_.sources.size()], 0), ec);
    }
    if (ec) return fail("socket: " + ec.message());
    if constexpr (kTls) {
      if (!s_.caFile.empty()) stream_.set_verify_callback(ssl::host_name_verification(s_.host), ec);
    }
    started_ = Clock::now();
    deadline_ = started_ + std::chrono::milliseconds(s_.connectTimeoutMs);
    state_ = State::Connecting;
    sock.async_connect(f_.target, [this](error_code e) { onConnect(e); });
  }

  void startPublishing() override {
    if (role_ != Role::Publisher) return;
    if (state_ != State::Ready) return reportDone();
    topic_ = publishTopic(s_, index_);
    publishing_ = true;
    if (f_.maxRate) return pump();
    timer_.emplace(w_.ioc);
    const auto interval = intervalNs();
    std::uniform_int_distribution<std::int64_t> phase(0, interval);
    nextAt_ = Clock::now() + std::chrono::nanoseconds(phase(w_.rng));  // spread the fleet over one interval
    armTick();
  }

  void stopPublishing() override {
    if (role_ != Role::Publisher || !publishing_) return;
    if (timer_) timer_->cancel();
    reportDone();
  }

  void resume() override {
    if (publishing_) pump();
  }

  void sweep(Clock::time_point now) override {
    switch (state_) {
      case State::Connecting:
      case State::Handshaking:
      case State::WaitConnack:
        if (now >= deadline_) fail("connect timeout");
        break;
      case State::WaitSuback:
        if (now >= deadline_) {
          w_.error("subscribe timeout");
          state_ = State::Ready;
          settleSetup();
        }
        break;
      case State::Ready:
        if (s_.keepAlive > 0 && now - lastSend_ >= std::chrono::milliseconds(s_.keepAlive * 500)) {
          put(mqtt::Pingreq{});
          flush();
        }
        if (publishing_ && f_.maxRate && role_ == Role::Publisher) checkStall(now);
        break;
      case State::Disconnecting:
        if (now >= deadline_) closeSocket();
        break;
      case State::Closed:
        break;
    }
  }

  void disconnect() override {
    switch (state_) {
      case State::Closed:
      case State::Disconnecting:
        return;
      case State::Ready:
      case State::WaitSuback:
        publishing_ = false;
        put(mqtt::Disconnect{});
        state_ = State::Disconnecting;
        deadline_ = Clock::now() + kDisconnectGrace;
        flush();  // the server closes after DISCONNECT; so do we once it is written
        return;
      default:
        closeSocket();
    }
  }

  void abort() override { closeSocket(); }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, ssl::stream<tcp::socket>>;

  static Stream makeStream(Worker& w) {
    if constexpr (kTls) return Stream(w.ioc, *w.fleet.tls);
    else return Stream(w.ioc);
  }

  tcp::socket& lowest() {
    if constexpr (kTls) return stream_.next_layer();
    else return stream_;
  }

  PublisherShared& shared() { return f_.pubs[index_]; }

  std::int64_t intervalNs() const { return static_cast<std::int64_t>(s_.intervalMs * 1e6); }

  // --- connecting ----------------------------------------------------------------------------

  void onConnect(error_code ec) {
    if (state_ == State::Closed) return;
    if (ec) return fail("connect: " + ec.message());
    lowest().set_option(tcp::no_delay(true), ec);
    if constexpr (kTls) {
      state_ = State::Handshaking;
      stream_.async_handshake(ssl::stream_base::client, [this](error_code e) {
        if (state_ == State::Closed) return;
        if (e) return fail("TLS handshake: " + e.message());
        sendConnect();
      });
    } else {
      sendConnect();
    }
  }

  /// Appends `p` to the output; the scenario's limits keep every packet representable, and one that
  /// is not is counted as an error rather than sent corrupt.
  void put(const mqtt::Packet& p) {
    if (auto r = mqtt::encode(p, out_); !r) w_.error(make_error_code(r.error()).message());
  }

  void sendConnect() {
    mqtt::Connect c;
    c.clientId = s_.clientIdPrefix + (role_ == Role::Publisher ? "-p" : "-s") + std::to_string(index_);
    c.cleanSession = true;
    c.keepAlive = s_.keepAlive;
    put(c);
    state_ = State::WaitConnack;
    rbuf_.resize(role_ == Role::Publisher ? kPublisherReadBuffer : kSubscriberReadBuffer);
    flush();
    doRead();
  }

  void settleConnect(bool ok) {
    if (connectSettled_) return;
    connectSettled_ = true;
    (ok ? f_.connected : f_.failed).fetch_add(1);
    f_.connectSettled.fetch_add(1);
  }

  void settleSetup() {
    if (setupSettled_) return;
    setupSettled_ = true;
    atomicMax(f_.lastSetupNs, nowNs());
    f_.setupSettled.fetch_add(1);
  }

  void fail(const std::string& kind) {
    if (state_ == State::Closed) return;
    w_.error(kind);
    settleConnect(false);
    settleSetup();
    closeSocket();
  }

  // --- reading -------------------------------------------------------------------------------

  void doRead() {
    if (state_ == State::Closed || reading_) return;
    if (rlen_ == rbuf_.size()) rbuf_.resize(std::max<std::size_t>(rbuf_.size() * 2, 256));
    reading_ = true;
    stream_.async_read_some(net::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                            [this](error_code ec, std::size_t n) { onRead(ec, n); });
  }

  void onRead(error_code ec, std::size_t n) {
    reading_ = false;
    if (state_ == State::Closed) return;
    if (ec) return onReadError(ec);
    const bool filled = rlen_ + n == rbuf_.size();
    rlen_ += n;
    std::size_t offset = 0;
    while (state_ != State::Closed) {
      auto r = mqtt::decode(std::span<const std::uint8_t>(rbuf_.data() + offset, rlen_ - offset), f_.limits);
      if (!r) {
        if (r.error() == mqtt::DecodeError::Incomplete) break;
        w_.error(std::string("malformed packet from the server: ") + mqtt::make_error_code(r.error()).message());
        settleConnect(false);
        settleSetup();
        return closeSocket();
      }
      offset += r->consumed;
      handle(r->value);
    }
    if (state_ == State::Closed) return;
    if (offset > 0) {
      std::memmove(rbuf_.data(), rbuf_.data() + offset, rlen_ - offset);
      rlen_ -= offset;
    }
    // A busy subscriber gets a bigger buffer, so it reads many deliveries per system call.
    if (filled && rbuf_.size() < kMaxReadBuffer) rbuf_.resize(rbuf_.size() * 2);
    flush();  // acknowledgements queued by handle()
    doRead();
  }

  void onReadError(error_code ec) {
    if (state_ == State::Disconnecting) return closeSocket();  // the server closing after DISCONNECT
    const std::string why = ec == net::error::eof ? "closed by the server" : ec.message();
    if (state_ == State::Ready) w_.error("connection lost: " + why);
    else if (state_ == State::WaitSuback) w_.error("connection lost while subscribing: " + why);
    else w_.error("connect: " + why);
    settleConnect(false);
    settleSetup();
    closeSocket();
  }

  void handle(mqtt::Packet& p) {
    if (auto* pub = std::get_if<mqtt::Publish>(&p)) return onPublish(*pub);
    if (auto* ack = std::get_if<mqtt::Puback>(&p)) return onAcked(ack->packetId);
    if (auto* comp = std::get_if<mqtt::Pubcomp>(&p)) return onAcked(comp->packetId);
    if (auto* rec = std::get_if<mqtt::Pubrec>(&p)) return put(mqtt::Pubrel{rec->packetId});
    if (auto* rel = std::get_if<mqtt::Pubrel>(&p)) return put(mqtt::Pubcomp{rel->packetId});
    if (std::holds_alternative<mqtt::Pingresp>(p)) return;
    if (auto* ca = std::get_if<mqtt::Connack>(&p); ca && state_ == State::WaitConnack) return onConnack(*ca);
    if (auto* sa = std::get_if<mqtt::Suback>(&p); sa && state_ == State::WaitSuback) return onSuback(*sa);
    w_.error(std::string("unexpected ") + mqtt::packetName(p) + " from the server");
  }

  void onConnack(const mqtt::Connack& ca) {
    if (ca.returnCode != mqtt::ConnectReturn::Accepted) {
      return fail("CONNACK refused with code " + std::to_string(static_cast<int>(ca.returnCode)));
    }
    w_.connectLatency.record(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count()));
    settleConnect(true);
    if (role_ == Role::Publisher) {
      state_ = State::Ready;
      return settleSetup();
    }
    const auto source = soleSource(s_, index_);
    trackers_.resize(source ? 1 : s_.publishers);
    mqtt::Subscribe sub;
    sub.packetId = 1;
    sub.subscriptions.push_back({subscribeFilter(s_, index_), static_cast<mqtt::QoS>(s_.qos)});
    put(sub);
    state_ = State::WaitSuback;
    deadline_ = Clock::now() + std::chrono::milliseconds(s_.connectTimeoutMs);
  }

  void onSuback(const mqtt::Suback& sa) {
    state_ = State::Ready;
    if (sa.returnCodes.empty() || sa.returnCodes[0] == mqtt::kSubackFailure) {
      w_.error("subscription refused");
    } else {
      f_.subOk[index_].store(1);
      f_.subscribed.fetch_add(1);
    }
    settleSetup();
  }

  // --- receiving messages ----------------------------------------------------------------------

  void onPublish(const mqtt::Publish& p) {
    const auto now = nowNs();
    if (p.qos == mqtt::QoS::AtLeastOnce)
      put(mqtt::Puback{p.packetId});
    else if (p.qos == mqtt::QoS::ExactlyOnce)
      put(mqtt::Pubrec{p.packetId});
    if (role_ != Role::Subscriber) return w_.error("PUBLISH to a publisher");
    const auto h = readHeader(p.payload);
    if (!h) return w_.error("payload without a load-test header");
    if (!hears(s_, index_, h->publisher)) return w_.error("message from a publisher this subscriber does not hear");
    SequenceTracker& t = trackers_.size() == 1 ? trackers_[0] : trackers_[h->publisher];
    const auto outcome = t.add(h->seq);
    auto& c = w_.counters;
    if (outcome == SeqOutcome::Duplicate) {
      c.duplicates.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (outcome == SeqOutcome::Late || outcome == SeqOutcome::TooOld) c.outOfOrder.fetch_add(1, std::memory_order_relaxed);
    c.delivered.fetch_add(1, std::memory_order_relaxed);
    c.lastDeliveryNs.store(now, std::memory_order_relaxed);
    w_.latency.record(now > h->sentNs ? now - h->sentNs : 0);

    auto& ps = f_.pubs[h->publisher];
    ps.delivered.fetch_add(1);
    if (f_.maxRate && ps.blocked.load() && ps.outstanding() <= std::uint64_t{s_.window / 2} * ps.fanout && ps.blocked.exchange(false))
      net::post(ps.worker->ioc, [conn = ps.conn] { conn->resume(); });
  }

  // --- publishing ------------------------------------------------------------------------------

  void onAcked(std::uint16_t) {
    ++acked_;
    w_.counters.acked.fetch_add(1, std::memory_order_relaxed);
    if (publishing_ && f_.maxRate && waitingForIds_) {
      waitingForIds_ = false;
      pump();
    }
  }

  bool countReached() const { return s_.count && seq_ >= *s_.count; }

  void publishOne() {
    const std::uint64_t seq = seq_++;
    writeHeader(w_.payload, PayloadHeader{index_, seq, nowNs()});
    const auto id = s_.qos > 0 ? static_cast<std::uint16_t>(seq % 65535 + 1) : std::uint16_t{0};
    if (auto r = mqtt::encodePublish(topic_, w_.payload, static_cast<mqtt::QoS>(s_.qos), false, false, id, out_); !r)
      return w_.error(make_error_code(r.error()).message());  // the scenario's limits keep this from happening
    shared().sent.store(seq_);
    w_.counters.sent.fetch_add(1, std::memory_order_relaxed);
  }

  bool windowAllows() {
    auto& ps = shared();
    return ps.fanout == 0 || ps.outstanding() < std::uint64_t{s_.window} * ps.fanout;
  }

  /// The window is full: park until a receiver wakes us. Returns true if it reopened meanwhile.
  bool block() {
    auto& ps = shared();
    ps.blocked.store(true);
    if (windowAllows()) return ps.blocked.exchange(false);  // false: a receiver cleared it and posted resume()
    blockedSince_ = Clock::now();
    return false;
  }

  /// Max-rate mode: publish while the window, the ids and the write buffer allow.
  void pump() {
    while (publishing_ && state_ == State::Ready) {
      if (countReached()) {
        reportDone();
        break;
      }
      if (out_.size() >= kMaxOutBytes) break;  // onWrite pumps again
      if (s_.qos > 0 && seq_ - acked_ >= kMaxUnacked) {
        waitingForIds_ = true;
        break;
      }
      if (!windowAllows() && !block()) break;
      publishOne();
    }
    flush();
  }

  /// A window that has not moved for windowTimeoutMs is written off: its messages are lost.
  void checkStall(Clock::time_point now) {
    auto& ps = shared();
    if (!ps.blocked.load() || now - blockedSince_ < std::chrono::milliseconds(s_.windowTimeoutMs)) return;
    if (!ps.blocked.exchange(false)) return;  // a resume is on its way
    ps.writtenOff.fetch_add(ps.outstanding());
    w_.error("window timeout (outstanding messages written off)");
    pump();
  }

  void armTick() {
    timer_->expires_at(nextAt_);
    timer_->async_wait([this](error_code ec) {
      if (ec || !publishing_ || state_ != State::Ready) return;
      tick();
    });
  }

  /// Paced mode: one message per interval ± jitter. A late timer catches up rather than skipping,
  /// so a slow broker shows as latency, not as a lower offered rate.
  void tick() {
    if (countReached()) return reportDone();
    if (out_.size() >= kMaxOutBytes || (s_.qos > 0 && seq_ - acked_ >= kMaxUnacked)) {
      w_.error("publisher backlog (message not sent)");
    } else {
      publishOne();
      flush();
    }
    std::uniform_real_distribution<double> u(-s_.jitter, s_.jitter);
    nextAt_ += std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(intervalNs()) * (1.0 + u(w_.rng))));
    armTick();
  }

  void reportDone() {
    publishing_ = false;
    if (doneReported_) return;
    doneReported_ = true;
    f_.publishersDone.fetch_add(1);
  }

  // --- writing and closing ---------------------------------------------------------------------

  void flush() {
    if (writing_ || out_.empty() || state_ == State::Closed) return;
    std::swap(out_, wbuf_);
    writing_ = true;
    lastSend_ = Clock::now();
    net::async_write(stream_, net::buffer(wbuf_), [this](error_code ec, std::size_t) { onWrite(ec); });
  }

  void onWrite(error_code ec) {
    writing_ = false;
    wbuf_.clear();
    if (state_ == State::Closed) return;
    if (ec) {
      if (state_ != State::Disconnecting) w_.error("write: " + ec.message());
      settleConnect(false);
      settleSetup();
      return closeSocket();
    }
    if (state_ == State::Disconnecting && out_.empty()) return closeSocket();
    if (publishing_ && f_.maxRate) return pump();
    flush();
  }

  void closeSocket() {
    if (state_ == State::Closed) return;
    state_ = State::Closed;
    if (publishing_) reportDone();
    if (timer_) timer_->cancel();
    error_code ignored;
    lowest().close(ignored);
    f_.closed.fetch_add(1);
  }

  Worker& w_;
  Fleet& f_;
  const Scenario& s_;
  Role role_;
  std::uint32_t index_;
  std::uint64_t ordinal_;
  State state_ = State::Connecting;
  Stream stream_;

  std::vector<std::uint8_t> rbuf_;
  std::size_t rlen_ = 0;
  bool reading_ = false;
  std::vector<std::uint8_t> out_;   // filling
  std::vector<std::uint8_t> wbuf_;  // being written
  bool writing_ = false;

  Clock::time_point started_;
  Clock::time_point deadline_;
  Clock::time_point lastSend_ = Clock::now();
  bool connectSettled_ = false;
  bool setupSettled_ = false;

  // publisher
  std::string topic_;
  std::optional<net::steady_timer> timer_;
  Clock::time_point nextAt_;
  Clock::time_point blockedSince_;
  std::uint64_t seq_ = 0;
  std::uint64_t acked_ = 0;
  bool publishing_ = false;
  bool doneReported_ = false;
  bool waitingForIds_ = false;

  // subscriber: one tracker (p2p) or one per publisher (fan-in/out)
  std::vector<SequenceTracker> trackers_;
};

void Worker::create(Role role, std::uint32_t idx, std::uint64_t ordinal) {
  std::unique_ptr<ConnectionBase> c;
  if (fleet.tls) c = std::make_unique<Connection<ssl::stream<tcp::socket>>>(*this, role, idx, ordinal);
  else c = std::make_unique<Connection<tcp::socket>>(*this, role, idx, ordinal);
  if (role == Role::Publisher) {
    fleet.pubs[idx].worker = this;
    fleet.pubs[idx].conn = c.get();
  }
  conns.push_back(std::move(c));
  conns.back()->start();
}

void Worker::startSweeping() {
  sweepTimer.expires_after(kSweepEvery);
  sweepTimer.async_wait([this](error_code ec) {
    if (ec || !sweeping) return;
    const auto now = Clock::now();
    for (auto& c : conns) c->sweep(now);
    startSweeping();
  });
}

Fleet::Fleet(const Scenario& sc) : s(sc), maxRate(sc.intervalMs <= 0) {
  target = tcp::endpoint(net::ip::make_address_v4(s.host), s.targetPort());
  for (const auto& a : s.sourceAddresses) sources.push_back(net::ip::make_address_v4(a));
  if (s.tls) {
    tls.emplace(ssl::context::tls_client);
    error_code ec;
    if (s.caFile.empty()) {
      tls->set_verify_mode(ssl::verify_none, ec);
    } else {
      tls->load_verify_file(s.caFile, ec);
      if (ec) throw std::runtime_error("caFile: cannot load " + s.caFile + ": " + ec.message());
      tls->set_verify_mode(ssl::verify_peer, ec);
    }
  }
  limits.maxPacket = std::max<std::size_t>(64 * 1024, s.payloadSize + s.topicPrefix.size() + 64);
  const unsigned n = s.threads ? s.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    workers.push_back(std::make_unique<Worker>(*this, i));
    workers.back()->payload = makePayloadTemplate(s.payloadSize);
  }
  pubs = std::make_unique<PublisherShared[]>(s.publishers);
  subOk = std::make_unique<std::atomic<std::uint8_t>[]>(s.subscribers);
  for (std::uint32_t j = 0; j < s.subscribers; ++j) subOk[j].store(0);
}

// --- /proc sampling of the broker under test -------------------------------------------------------

std::uint64_t rssKb(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

double cpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The controller: drives the phases from the calling thread and reports progress once a second.
class Controller {
 public:
  Controller(Fleet& f, const FleetHooks& hooks) : f_(f), s_(f.s), hooks_(hooks), t0_(Clock::now()) {}

  RunResults run() {
    RunResults r;
    r.scenario = s_;
    r.threads = static_cast<unsigned>(f_.workers.size());
    r.connectionsTarget = s_.connections();
    if (s_.serverPid > 0) {
      r.server.emplace();
      r.server->pid = s_.serverPid;
      r.server->rssBeforeKb = rssKb(s_.serverPid);
    }
    for (auto& w : f_.workers) {
      Worker* wp = w.get();
      w->guard.emplace(w->ioc.get_executor());
      w->startSweeping();
      w->thread = std::thread([wp] {
        for (;;) {
          try {
            wp->ioc.run();
            break;
          } catch (const std::exception& e) {
            wp->error(std::string("internal: ") + e.what());
          }
        }
      });
    }

    r.connectSubscribersS = connectPhase(Role::Subscriber, s_.subscribers, "subscribers");
    r.connectPublishersS = connectPhase(Role::Publisher, s_.publishers, "publishers");
    computeFanout();
    if (r.server) {
      std::this_thread::sleep_for(200ms);  // let the broker finish what the last SUBACK started
      r.server->rssConnectedKb = rssKb(s_.serverPid);
    }

    // Publish.
    const double cpu0 = r.server ? cpuSeconds(s_.serverPid) : 0;
    const auto publishStart = Clock::now();
    publishStartNs_ = nowNs();
    r.stopReason = "duration";
    if (!interrupted()) {
      f_.onEveryWorker([](Worker& w) {
        for (auto& c : w.conns) c->startPublishing();
      });
      while (true) {
        if (interrupted()) {
          r.stopReason = "interrupted";
          break;
        }
        if (secondsSince(publishStart) >= s_.durationS) break;
        if (s_.publishers > 0 && f_.publishersDone.load() >= s_.publishers) {
          r.stopReason = s_.count ? "count" : "publishers gone";
          break;
        }
        tick("publish");
        std::this_thread::sleep_for(5ms);
      }
    } else {
      r.stopReason = "interrupted";
    }
    f_.onEveryWorker([](Worker& w) {
      for (auto& c : w.conns) c->stopPublishing();
    });
    r.publishS = secondsSince(publishStart);
    if (r.server) r.server->rssEndKb = rssKb(s_.serverPid);

    // Drain: whatever is still on its way.
    for (std::uint32_t i = 0; i < s_.publishers; ++i) {
      r.sent += f_.pubs[i].sent.load();
      r.expected += f_.pubs[i].sent.load() * f_.pubs[i].fanout;
    }
    drain(r);
    if (r.server) {
      r.server->cpuPublishS = cpuSeconds(s_.serverPid) - cpu0;
      r.server->rssPeakKb = std::max({peakRss_, r.server->rssConnectedKb, r.server->rssEndKb});
    }

    // Disconnect, then stop the threads.
    f_.onEveryWorker([](Worker& w) {
      for (auto& c : w.conns) c->disconnect();
    });
    const auto closing = Clock::now();
    while (f_.closed.load() < created_ && Clock::now() - closing < kDisconnectGrace + 1s) {
      tick("disconnect");
      std::this_thread::sleep_for(5ms);
    }
    f_.onEveryWorker([](Worker& w) {
      w.sweeping = false;
      w.sweepTimer.cancel();
      for (auto& c : w.conns) c->abort();
      w.guard.reset();
    });
    for (auto& w : f_.workers) {
      w->ioc.stop();
      w->thread.join();
    }

    collect(r);
    r.elapsedS = secondsSince(t0_);
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    r.clientCpuS = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                   static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    r.clientMaxRssKb = static_cast<std::uint64_t>(ru.ru_maxrss);
    return r;
  }

 private:
  bool interrupted() const { return hooks_.interrupted && hooks_.interrupted->load(); }

  /// Opens `n` connections of one role at the ramp rate, at most connectConcurrency at a time, and
  /// waits until each is set up or has failed. Returns first attempt → last set-up, in seconds.
  double connectPhase(Role role, std::uint32_t n, const char* phase) {
    if (n == 0) return 0;
    const auto start = Clock::now();
    const auto startNs = nowNs();
    const auto settledBase = f_.connectSettled.load();
    const auto setupBase = f_.setupSettled.load();
    std::uint64_t launched = 0;
    while (true) {
      if (interrupted()) break;
      const double elapsed = secondsSince(start);
      std::uint64_t allowed = n;
      if (s_.rampPerSec > 0) allowed = std::min<std::uint64_t>(n, static_cast<std::uint64_t>(s_.rampPerSec * elapsed) + 1);
      const std::uint64_t pending = launched - (f_.connectSettled.load() - settledBase);
      const std::uint64_t room = pending >= s_.connectConcurrency ? 0 : s_.connectConcurrency - pending;
      const std::uint64_t k = std::min(allowed > launched ? allowed - launched : 0, room);
      if (k > 0) launch(role, launched, k);
      launched += k;
      if (launched == n && f_.setupSettled.load() - setupBase >= n) break;
      tick(phase);
      std::this_thread::sleep_for(1ms);
    }
    // Interrupted: wait for the attempts in progress, so that counts add up.
    while (f_.setupSettled.load() - setupBase < launched) std::this_thread::sleep_for(1ms);
    const auto last = f_.lastSetupNs.load();
    return last > startNs ? static_cast<double>(last - startNs) / 1e9 : 0;
  }

  void launch(Role role, std::uint64_t first, std::uint64_t k) {
    std::vector<std::vector<std::pair<std::uint32_t, std::uint64_t>>> batches(f_.workers.size());
    for (std::uint64_t i = first; i < first + k; ++i) {
      const auto idx = static_cast<std::uint32_t>(i);
      batches[f_.workerFor(role, idx).index].emplace_back(idx, created_++);
    }
    for (std::size_t w = 0; w < batches.size(); ++w) {
      if (batches[w].empty()) continue;
      Worker* wp = f_.workers[w].get();
      net::post(wp->ioc, [wp, role, batch = std::move(batches[w])] {
        for (auto [idx, ordinal] : batch) wp->create(role, idx, ordinal);
      });
    }
  }

  void computeFanout() {
    if (s_.topology == Topology::PointToPoint) {
      for (std::uint32_t j = 0; j < s_.subscribers; ++j)
        if (f_.subOk[j].load())
          if (auto src = soleSource(s_, j)) ++f_.pubs[*src].fanout;
    } else {
      const auto n = f_.subscribed.load();
      for (std::uint32_t i = 0; i < s_.publishers; ++i) f_.pubs[i].fanout = n;
    }
  }

  std::uint64_t sum(std::atomic<std::uint64_t> WorkerCounters::*field) const {
    std::uint64_t n = 0;
    for (const auto& w : f_.workers) n += (w->counters.*field).load(std::memory_order_relaxed);
    return n;
  }

  void drain(RunResults& r) {
    const auto start = Clock::now();
    auto lastMove = start;
    std::uint64_t lastSeen = 0;
    while (true) {
      const auto delivered = sum(&WorkerCounters::delivered);
      const auto acked = sum(&WorkerCounters::acked);
      if (delivered >= r.expected && (s_.qos == 0 || acked >= r.sent)) break;
      if (delivered + acked != lastSeen) {
        lastSeen = delivered + acked;
        lastMove = Clock::now();
      }
      if (Clock::now() - start >= std::chrono::milliseconds(s_.drainTimeoutMs)) break;
      if (Clock::now() - lastMove >= 1s) break;
      if (interrupted() && Clock::now() - start >= 1s) break;
      tick("drain");
      std::this_thread::sleep_for(2ms);
    }
  }

  void collect(RunResults& r) {
    r.connected = f_.connected.load();
    r.connectFailed = f_.failed.load();
    r.subscribed = f_.subscribed.load();
    r.acked = sum(&WorkerCounters::acked);
    r.delivered = sum(&WorkerCounters::delivered);
    r.duplicates = sum(&WorkerCounters::duplicates);
    r.outOfOrder = sum(&WorkerCounters::outOfOrder);
    r.lost = r.expected > r.delivered ? r.expected - r.delivered : 0;
    std::uint64_t last = 0;
    for (auto& w : f_.workers) {
      r.latency.merge(w->latency);
      r.connectLatency.merge(w->connectLatency);
      for (const auto& [k, v] : w->errors) r.errors[k] += v;
      last = std::max(last, w->counters.lastDeliveryNs.load());
    }
    // At least the publishing time: a broker that stops delivering early must not look fast.
    const double untilLast = last > publishStartNs_ ? static_cast<double>(last - publishStartNs_) / 1e9 : 0;
    r.deliveryS = r.delivered > 0 ? std::max(r.publishS, untilLast) : 0;
  }

  /// Progress, about once a second.
  void tick(const char* phase) {
    const auto now = Clock::now();
    if (now < nextProgress_) return;
    const double dt = std::chrono::duration<double>(now - lastProgress_).count();
    lastProgress_ = now;
    nextProgress_ = now + 1s;
    if (s_.serverPid > 0) peakRss_ = std::max(peakRss_, rssKb(s_.serverPid));
    Progress p;
    p.elapsedS = secondsSince(t0_);
    p.phase = phase;
    p.target = s_.connections();
    p.connected = f_.connected.load();
    p.failed = f_.failed.load();
    p.sent = sum(&WorkerCounters::sent);
    p.delivered = sum(&WorkerCounters::delivered);
    p.sentPerSec = static_cast<double>(p.sent - lastSent_) / dt;
    p.deliveredPerSec = static_cast<double>(p.delivered - lastDelivered_) / dt;
    p.errors = sum(&WorkerCounters::errors);
    lastSent_ = p.sent;
    lastDelivered_ = p.delivered;
    if (hooks_.onProgress) hooks_.onProgress(p);
  }

  Fleet& f_;
  const Scenario& s_;
  const FleetHooks& hooks_;
  Clock::time_point t0_;
  std::uint64_t created_ = 0;
  std::uint64_t publishStartNs_ = 0;
  Clock::time_point nextProgress_ = t0_ + 1s;
  Clock::time_point lastProgress_ = t0_;
  std::uint64_t lastSent_ = 0;
  std::uint64_t lastDelivered_ = 0;
  std::uint64_t peakRss_ = 0;
};

}  // namespace

RunResults runFleet(const Scenario& scenario, const FleetHooks& hooks) {
  Fleet fleet(scenario);
  Controller controller(fleet, hooks);
  return controller.run();
}

}  // namespace fc::loadtest
