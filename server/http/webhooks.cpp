// Webhook delivery on Beast: per-URL FIFO queues on one strand; each attempt resolves, connects,
// (handshakes,) writes one POST and reads the answer under one deadline.
#include "server/http/webhooks.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/spdlog.h>

#include <openssl/ssl.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <set>

namespace fc::server::http {

Expected<HttpUrl, std::string> parseHttpUrl(std::string_view url) {
  HttpUrl out;
  auto lower = [](std::string_view s) {
    std::string r(s);
    for (auto& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return r;
  };
  const auto schemeEnd = url.find("://");
  if (schemeEnd == std::string_view::npos) return Unexpected(std::string("not an absolute URL (http://… or https://…)"));
  const auto scheme = lower(url.substr(0, schemeEnd));
  if (scheme == "https") out.tls = true;
  else if (scheme != "http") return Unexpected(std::string("scheme '" + scheme + "' is not http or https"));
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return Unexpected(std::string("contains spaces or control characters"));
  if (url.find('#') != std::string_view::npos) return Unexpected(std::string("has a fragment (#…)"));
  auto rest = url.substr(schemeEnd + 3);
  const auto pathStart = rest.find_first_of("/?");
  auto authority = rest.substr(0, pathStart);
  out.target = pathStart == std::string_view::npos ? "/" : std::string(rest.substr(pathStart));
  if (out.target.front() == '?') out.target.insert(out.target.begin(), '/');
  if (authority.find('@') != std::string_view::npos) return Unexpected(std::string("user info (user@host) is not supported"));
  std::string_view portText;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return Unexpected(std::string("unclosed '[' in the host"));
    out.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Unexpected(std::string("junk after the IPv6 address"));
      portText = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) portText = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Unexpected(std::string("has no host"));
  out.port = out.tls ? 443 : 80;
  if (!portText.empty()) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || end != portText.data() + portText.size() || port == 0 || port > 65535)
      return Unexpected(std::string("port '" + std::string(portText) + "' is not 1..65535"));
    out.port = static_cast<std::uint16_t>(port);
  }
  return out;
}

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

constexpr std::size_t kMaxAnswerBody = 64 * 1024;

/// One attempt: resolve → connect → (TLS) → write → read; `done(ok, why)` once, on the strand.
template <class Stream>
class Attempt : public std::enable_shared_from_this<Attempt<Stream>> {
 public:
  using Done = std::function<void(bool ok, std::string why)>;
  using std::enable_shared_from_this<Attempt<Stream>>::shared_from_this;

  Attempt(net::strand<net::io_context::executor_type> strand, Stream stream, HttpUrl url, const std::string& body,
          std::chrono::milliseconds timeout, Done done)
      : resolver_(strand), stream_(std::move(stream)), url_(std::move(url)), timeout_(timeout), done_(std::move(done)) {
    request_.method(bhttp::verb::post);
    request_.target(url_.target);
    request_.version(11);
    const bool defaultPort = url_.port == (url_.tls ? 443 : 80);
    const auto host = url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host;
    request_.set(bhttp::field::host, defaultPort ? host : host + ":" + std::to_string(url_.port));
    request_.set(bhttp::field::user_agent, "fakecloud");
    request_.set(bhttp::field::content_type, "application/json");
    request_.set(bhttp::field::connection, "close");
    request_.body() = body;
    request_.prepare_payload();
    parser_.body_limit(kMaxAnswerBody);
  }

  void run() {
    lowest().expires_after(timeout_);
    resolver_.async_resolve(url_.host, std::to_string(url_.port),
                            [self = shared_from_this()](error_code ec, tcp::resolver::results_type results) {
                              if (ec) return self->finish(false, "cannot resolve " + self->url_.host + ": " + ec.message());
                              self->lowest().async_connect(results, [self](error_code ec, const tcp::endpoint&) {
                                if (ec) return self->finish(false, "cannot connect: " + ec.message());
                                self->connected();
                              });
                            });
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void connected() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      SSL_set_tlsext_host_name(stream_.native_handle(), url_.host.c_str());
      stream_.set_verify_callback(ssl::host_name_verification(url_.host));
      stream_.async_handshake(ssl::stream_base::client, [self = shared_from_this()](error_code ec) {
        if (ec) return self->finish(false, "TLS handshake failed: " + ec.message());
        self->write();
      });
    } else {
      write();
    }
  }

  void write() {
    bhttp::async_write(stream_, request_, [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->finish(false, "cannot send: " + ec.message());
      bhttp::async_read(self->stream_, self->buffer_, self->parser_, [self](error_code ec, std::size_t) {
        if (ec) return self->finish(false, "no answer: " + ec.message());
        const auto status = self->parser_.get().result_int();
        if (status >= 200 && status < 300) return self->finish(true, {});
        self->finish(false, "answered " + std::to_string(status));
      });
    });
  }

  void finish(bool ok, std::string why) {
    error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest().close();
    if (done_) std::exchange(done_, nullptr)(ok, std::move(why));
  }

  tcp::resolver resolver_;
  Stream stream_;
  HttpUrl url_;
  std::chrono::milliseconds timeout_;
  Done done_;
  bhttp::request<bhttp::string_body> request_;
  bhttp::response_parser<bhttp::string_body> parser_;
  beast::flat_buffer buffer_;
};

}  // namespace

struct WebhookSender::Impl : std::enable_shared_from_this<WebhookSender::Impl> {
  struct Queue {
    std::deque<std::string> bodies;
    bool busy = false;
  };

  net::io_context& ioc;
  net::strand<net::io_context::executor_type> strand;
  ssl::context tls{ssl::context::tls_client};
  WebhookLimits limits;
  std::map<std::string, Queue> queues;  // url → what waits for it (strand only)
  std::size_t backlog = 0;
  std::set<std::shared_ptr<net::steady_timer>> timers;
  bool stopped = false;
  std::atomic<std::uint64_t> delivered{0}, failed{0}, dropped{0};

  Impl(net::io_context& io, const std::string& caFile, WebhookLimits l) : ioc(io), strand(net::make_strand(io)), limits(l) {
    tls.set_default_verify_paths();
    if (!caFile.empty()) {
      error_code ec;
      tls.load_verify_file(caFile, ec);
      if (ec) spdlog::warn("webhooks: cannot trust {}: {}", caFile, ec.message());
    }
    tls.set_verify_mode(ssl::verify_peer);
  }

  void enqueue(std::string url, std::string body) {
    if (stopped) return;
    if (backlog >= limits.maxBacklog) {
      ++dropped;
      // One line per hundred drops: a dead receiver under load must not flood the log.
      if (dropped % 100 == 1) spdlog::warn("webhooks: {} posts waiting; dropped one to {} ({} dropped so far)", backlog, url, dropped.load());
      return;
    }
    auto& q = queues[url];
    q.bodies.push_back(std::move(body));
    ++backlog;
    if (!q.busy) next(url);
  }

  void next(const std::string& url) {
    auto it = queues.find(url);
    if (it == queues.end()) return;
    if (it->second.bodies.empty()) {
      queues.erase(it);
      return;
    }
    it->second.busy = true;
    attempt(url, 1);
  }

  void attempt(const std::string& url, unsigned n) {
    if (stopped) return;
    auto parsed = parseHttpUrl(url);
    auto& body = queues[url].bodies.front();
    auto done = [self = shared_from_this(), url, n](bool ok, std::string why) {
      net::post(self->strand, [self, url, n, ok, why = std::move(why)] { self->attempted(url, n, ok, why); });
    };
    if (!parsed) return done(false, "unusable URL: " + parsed.error());
    if (parsed->tls)
      std::make_shared<Attempt<TlsStream>>(strand, TlsStream(beast::tcp_stream(strand), tls), *parsed, body,
                                           limits.timeout, std::move(done))
          ->run();
    else
      std::make_shared<Attempt<beast::tcp_stream>>(strand, beast::tcp_stream(strand), *parsed, body, limits.timeout,
                                                   std::move(done))
          ->run();
  }

  void attempted(const std::string& url, unsigned n, bool ok, const std::string& why) {
    if (stopped) return;
    if (!ok && n < limits.attempts && parseHttpUrl(url)) {
      spdlog::info("webhooks: POST {} failed ({}); attempt {} of {} follows", url, why, n + 1, limits.attempts);
      auto delay = limits.firstRetry;
      for (unsigned i = 1; i < n; ++i) delay *= 4;
      auto timer = std::make_shared<net::steady_timer>(strand, delay);
      timers.insert(timer);
      return timer->async_wait([self = shared_from_this(), timer, url, n](error_code ec) {
        self->timers.erase(timer);
        if (!ec) self->attempt(url, n + 1);
      });
    }
    if (ok) {
      ++delivered;
      spdlog::debug("webhooks: POST {} delivered", url);
    } else {
      ++failed;
      spdlog::warn("webhooks: POST {} failed after {} attempt(s): {}", url, n, why);
    }
    auto& q = queues[url];
    q.bodies.pop_front();
    --backlog;
    q.busy = false;
    next(url);
  }
};

WebhookSender::WebhookSender(net::io_context& ioc, const std::string& caFile, WebhookLimits limits)
    : impl_(std::make_shared<Impl>(ioc, caFile, limits)) {}

WebhookSender::~WebhookSender() { stop(); }

void WebhookSender::post(std::string url, std::string json) {
  net::post(impl_->strand, [impl = impl_, url = std::move(url), json = std::move(json)]() mutable {
    impl->enqueue(std::move(url), std::move(json));
  });
}

void WebhookSender::stop() {
  net::post(impl_->strand, [impl = impl_] {
    impl->stopped = true;
    for (const auto& t : impl->timers) t->cancel();
    impl->timers.clear();
    impl->queues.clear();
    impl->backlog = 0;
  });
}

WebhookStats WebhookSender::stats() const {
  return {impl_->delivered.load(), impl_->failed.load(), impl_->dropped.load()};
}

}  // namespace fc::server::http
