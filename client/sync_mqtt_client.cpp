#include "client/sync_mqtt_client.hpp"

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace fc::client {

struct SyncMqttClient::Shared {
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::deque<Message> messages;
  bool connected = false;
  std::error_code closeReason;
};

struct SyncMqttClient::Io {
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
};

boost::asio::io_context& SyncMqttClient::context() noexcept { return io_->ioc; }

namespace {

/// Waits for a handler's result; the promise lives in the handler, so a handler that runs after the
/// caller gave up just sets a value nobody reads.
template <class T>
std::optional<T> await(std::future<T>& f, std::chrono::milliseconds timeout) {
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

}  // namespace

SyncMqttClient::SyncMqttClient(MqttOptions options) : shared_(std::make_shared<Shared>()), io_(std::make_unique<Io>()) {
  client_ = std::make_unique<MqttClient>(io_->ioc, std::move(options));
  client_->onMessage([s = shared_](Message m) {
    {
      std::lock_guard lock(s->mutex);
      s->messages.push_back(std::move(m));
    }
    s->changed.notify_all();
  });
  client_->onConnected([s = shared_](const mqtt::Connack&) {
    {
      std::lock_guard lock(s->mutex);
      s->connected = true;
    }
    s->changed.notify_all();
  });
  client_->onClose([s = shared_](std::error_code reason) {
    {
      std::lock_guard lock(s->mutex);
      s->connected = false;
      s->closeReason = reason;
    }
    s->changed.notify_all();
  });
  io_->thread = std::thread([io = io_.get()] { io->ioc.run(); });
}

SyncMqttClient::~SyncMqttClient() {
  // The client's destructor posts its shutdown (close the socket, cancel the timer); once that has run
  // nothing keeps the io_context busy and the thread ends.
  client_.reset();
  io_->work.reset();
  io_->thread.join();
}

Expected<mqtt::Connack, std::error_code> SyncMqttClient::connect(std::chrono::milliseconds timeout) {
  using Result = std::pair<std::error_code, mqtt::Connack>;
  auto p = std::make_shared<std::promise<Result>>();
  auto f = p->get_future();
  client_->connect([p](std::error_code ec, const mqtt::Connack& c) { p->set_value({ec, c}); });
  auto r = await(f, timeout);
  // The client's own connectTimeout normally answers first; this bound is for a caller's shorter one.
  if (!r) {
    client_->abort();
    return Unexpected(make_error_code(Error::Timeout));
  }
  // A refusing CONNACK is an answer, not a failure of the exchange.
  if (r->first == make_error_code(Error::ConnectionRefused)) return r->second;
  if (r->first) return Unexpected(r->first);
  return r->second;
}

std::error_code SyncMqttClient::publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos,
                                        bool retain, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->publish(std::move(topic), std::move(payload), qos, retain, [p](std::error_code ec) { p->set_value(ec); });
  auto r = await(f, timeout);
  return r ? *r : make_error_code(Error::Timeout);
}

std::error_code SyncMqttClient::publish(std::string topic, std::string_view payload, mqtt::QoS qos, bool retain,
                                        std::chrono::milliseconds timeout) {
  return publish(std::move(topic), std::vector<std::uint8_t>(payload.begin(), payload.end()), qos, retain, timeout);
}

Expected<std::vector<std::uint8_t>, std::error_code> SyncMqttClient::subscribe(
    std::vector<mqtt::Subscription> subscriptions, std::chrono::milliseconds timeout) {
  using Result = std::pair<std::error_code, std::vector<std::uint8_t>>;
  auto p = std::make_shared<std::promise<Result>>();
  auto f = p->get_future();
  client_->subscribe(std::move(subscriptions),
                     [p](std::error_code ec, std::vector<std::uint8_t> codes) { p->set_value({ec, std::move(codes)}); });
  auto r = await(f, timeout);
  if (!r) return Unexpected(make_error_code(Error::Timeout));
  if (r->first) return Unexpected(r->first);
  return std::move(r->second);
}

Expected<std::vector<std::uint8_t>, std::error_code> SyncMqttClient::subscribe(std::string filter, mqtt::QoS qos,
                                                                               std::chrono::milliseconds timeout) {
  auto r = subscribe(std::vector<mqtt::Subscription>{{std::move(filter), qos}}, timeout);
  if (r && (r->empty() || r->front() == mqtt::kSubackFailure))
    return Unexpected(make_error_code(Error::SubscriptionRefused));
  return r;
}

std::error_code SyncMqttClient::unsubscribe(std::vector<std::string> filters, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->unsubscribe(std::move(filters), [p](std::error_code ec) { p->set_value(ec); });
  auto r = await(f, timeout);
  return r ? *r : make_error_code(Error::Timeout);
}

std::optional<Message> SyncMqttClient::receive(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  if (!shared_->changed.wait_for(lock, timeout, [&] { return !shared_->messages.empty(); })) return std::nullopt;
  Message m = std::move(shared_->messages.front());
  shared_->messages.pop_front();
  return m;
}

std::vector<Message> SyncMqttClient::receiveAll(std::chrono::milliseconds quiet) {
  std::vector<Message> out;
  while (auto m = receive(quiet)) out.push_back(std::move(*m));
  return out;
}

void SyncMqttClient::ack(std::uint16_t packetId) { client_->ack(packetId); }

void SyncMqttClient::disconnect() {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->disconnect([p](std::error_code ec) { p->set_value(ec); });
  (void)await(f, kDefaultTimeout);
}

void SyncMqttClient::abort() {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->abort([p](std::error_code ec) { p->set_value(ec); });
  (void)await(f, kDefaultTimeout);
}

bool SyncMqttClient::waitClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  return shared_->changed.wait_for(lock, timeout, [&] { return !shared_->connected; });
}

bool SyncMqttClient::waitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  return shared_->changed.wait_for(lock, timeout, [&] { return shared_->connected; });
}

bool SyncMqttClient::connected() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->connected;
}

std::error_code SyncMqttClient::closeReason() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->closeReason;
}

std::error_code SyncMqttClient::sendRaw(std::vector<std::uint8_t> bytes, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->sendRaw(std::move(bytes), [p](std::error_code ec) { p->set_value(ec); });
  auto r = await(f, timeout);
  return r ? *r : make_error_code(Error::Timeout);
}

}  // namespace fc::client
