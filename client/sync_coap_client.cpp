#include "client/sync_coap_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace fc::client {

struct SyncCoapClient::Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Notification> notifications;
};

struct SyncCoapClient::Io {
  boost::asio::io_context ioc{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
};

namespace {

template <class T>
std::optional<T> await(std::future<T>& f, std::chrono::milliseconds timeout) {
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

}  // namespace

SyncCoapClient::SyncCoapClient(CoapOptions options)
    : shared_(std::make_shared<Shared>()), io_(std::make_unique<Io>()) {
  client_ = std::make_unique<CoapClient>(io_->ioc, std::move(options));
  io_->thread = std::thread([io = io_.get()] { io->ioc.run(); });
}

SyncCoapClient::~SyncCoapClient() {
  // The client's destructor posts the close (socket and timer cancelled); then nothing keeps the
  // io_context busy and the thread ends.
  client_.reset();
  io_->work.reset();
  io_->thread.join();
}

fc::coap::Message SyncCoapClient::makeRequest(fc::coap::Code code, std::string_view path) {
  fc::coap::Message m;
  m.type = fc::coap::Type::Confirmable;
  m.code = code;
  const auto q = path.find('?');
  m.setUriPath(path.substr(0, q));
  if (q != std::string_view::npos) {
    auto query = path.substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      m.addString(fc::coap::option::kUriQuery, query.substr(0, amp));
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
  }
  return m;
}

Expected<fc::coap::Message, std::error_code> SyncCoapClient::request(fc::coap::Message request,
                                                                     fc::coap::RequestOptions options,
                                                                     std::chrono::milliseconds timeout) {
  using Result = Expected<fc::coap::Message, std::error_code>;
  auto p = std::make_shared<std::promise<Result>>();
  auto f = p->get_future();
  auto id = std::make_shared<std::promise<std::optional<CoapClient::RequestId>>>();
  auto idFuture = id->get_future();
  client_->request(
      std::move(request), [p](Result r) { p->set_value(std::move(r)); }, options,
      [id](Expected<CoapClient::RequestId, fc::coap::RequestError> started) {
        id->set_value(started ? std::optional<CoapClient::RequestId>(*started) : std::nullopt);
      });
  auto r = await(f, timeout);
  if (r) return std::move(*r);
  // Give up on it, so that a late answer finds nobody waiting.
  if (auto started = await(idFuture, std::chrono::milliseconds(100)); started && *started) client_->cancel(**started);
  return Unexpected(make_error_code(Error::Timeout));
}

SyncCoapClient::Download SyncCoapClient::download(std::string_view path, BlockDownloadOptions options,
                                                  std::chrono::milliseconds timeout) {
  struct State {
    std::mutex mutex;
    std::vector<std::uint8_t> bytes;
    std::promise<BlockDownloadResult> done;
  };
  auto state = std::make_shared<State>();
  auto f = state->done.get_future();
  client_->download(
      makeRequest(fc::coap::code::kGet, path), std::move(options),
      [state](std::uint64_t, std::span<const std::uint8_t> b) {
        std::lock_guard lock(state->mutex);
        state->bytes.insert(state->bytes.end(), b.begin(), b.end());
      },
      [state](BlockDownloadResult r) { state->done.set_value(std::move(r)); });
  Download out;
  auto r = await(f, timeout);
  if (r) {
    out.result = std::move(*r);
  } else {
    out.result.error = make_error_code(Error::Timeout);
  }
  std::lock_guard lock(state->mutex);
  out.bytes = state->bytes;
  return out;
}

Expected<fc::coap::Message, std::error_code> SyncCoapClient::get(std::string_view path,
                                                                 fc::coap::RequestOptions options,
                                                                 std::chrono::milliseconds timeout) {
  return request(makeRequest(fc::coap::code::kGet, path), options, timeout);
}

Expected<fc::coap::Message, std::error_code> SyncCoapClient::post(std::string_view path, std::string_view payload,
                                                                  std::uint16_t contentFormat,
                                                                  fc::coap::RequestOptions options,
                                                                  std::chrono::milliseconds timeout) {
  auto m = makeRequest(fc::coap::code::kPost, path);
  m.setUint(fc::coap::option::kContentFormat, contentFormat);
  m.setPayload(payload);
  return request(std::move(m), options, timeout);
}

Expected<CoapClient::RequestId, std::error_code> SyncCoapClient::observe(fc::coap::Message request,
                                                                         std::chrono::milliseconds timeout) {
  using Started = Expected<CoapClient::RequestId, fc::coap::RequestError>;
  auto p = std::make_shared<std::promise<Started>>();
  auto f = p->get_future();
  client_->observe(
      std::move(request),
      [s = shared_](Expected<fc::coap::Message, std::error_code> n, bool last) {
        {
          std::lock_guard lock(s->mutex);
          if (n) s->notifications.push_back({std::move(*n), {}, last});
          else s->notifications.push_back({std::nullopt, n.error(), last});
        }
        s->changed.notify_all();
      },
      [p](Started started) { p->set_value(std::move(started)); });
  auto r = await(f, timeout);
  if (!r) return Unexpected(make_error_code(Error::Timeout));
  if (!*r) return Unexpected(make_error_code(r->error()));
  return **r;
}

std::optional<SyncCoapClient::Notification> SyncCoapClient::nextNotification(std::chrono::milliseconds timeout) {
  std::unique_lock lock(shared_->mutex);
  if (!shared_->changed.wait_for(lock, timeout, [this] { return !shared_->notifications.empty(); }))
    return std::nullopt;
  auto n = std::move(shared_->notifications.front());
  shared_->notifications.pop_front();
  return n;
}

void SyncCoapClient::cancel(CoapClient::RequestId id, bool deregister) { client_->cancel(id, deregister); }

std::error_code SyncCoapClient::sendRaw(std::vector<std::uint8_t> datagram, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  client_->sendRaw(std::move(datagram), [p](std::error_code ec) { p->set_value(ec); });
  auto r = await(f, timeout);
  return r ? *r : make_error_code(Error::Timeout);
}

}  // namespace fc::client
