// Firmware downloads: one DownloadOp per download, its handlers on a strand of the caller's
// io_context. The HTTP it needs is small (one GET, Connection: close, a body of Content-Length
// bytes), so it is parsed here rather than through Beast.
#include "client/firmware_download.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <memory>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

namespace fc::client {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string hex(const unsigned char* p, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

/// MD5 and SHA-256 of the bytes so far.
class Digests {
 public:
  Digests() { restart(); }
  ~Digests() {
    EVP_MD_CTX_free(md5_);
    EVP_MD_CTX_free(sha256_);
  }
  Digests(const Digests&) = delete;
  Digests& operator=(const Digests&) = delete;
  void restart() {
    if (!md5_) md5_ = EVP_MD_CTX_new();
    if (!sha256_) sha256_ = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md5_, EVP_md5(), nullptr);
    EVP_DigestInit_ex(sha256_, EVP_sha256(), nullptr);
  }
  void update(const std::uint8_t* p, std::size_t n) {
    EVP_DigestUpdate(md5_, p, n);
    EVP_DigestUpdate(sha256_, p, n);
  }
  std::pair<std::string, std::string> finish() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    unsigned n = 0;
    EVP_DigestFinal_ex(md5_, out.data(), &n);
    std::string md5 = hex(out.data(), n);
    EVP_DigestFinal_ex(sha256_, out.data(), &n);
    return {md5, hex(out.data(), n)};
  }

 private:
  EVP_MD_CTX* md5_ = nullptr;
  EVP_MD_CTX* sha256_ = nullptr;
};

struct Url {
  bool tls = false;
  std::string host, port, target;
};

std::optional<Url> parseUrl(const std::string& url) {
  Url u;
  std::string rest;
  if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else if (url.rfind("https://", 0) == 0)
    rest = url.substr(8), u.tls = true;
  else
    return std::nullopt;
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (authority.empty()) return std::nullopt;
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      u.port = authority.substr(close + 2);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    u.host = authority.substr(0, colon);
    u.port = authority.substr(colon + 1);
  } else {
    u.host = authority;
  }
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  if (u.host.empty()) return std::nullopt;
  return u;
}

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

class DownloadOp : public std::enable_shared_from_this<DownloadOp> {
 public:
  DownloadOp(net::io_context& ioc, DownloadOptions options, DownloadProgress progress, DownloadDone done)
      : options_(std::move(options)),
        progress_(std::move(progress)),
        done_(std::move(done)),
        strand_(net::make_strand(ioc)),
        resolver_(strand_),
        idle_(strand_),
        retry_(strand_) {}

  void start() {
    net::post(strand_, [self = shared_from_this()] { self->begin(); });
  }

 private:
  void begin() {
    auto url = parseUrl(options_.url);
    if (!url) return finish(Error::InvalidArgument);
    url_ = std::move(*url);
    if (url_.tls) {
      sslContext_.emplace(ssl::context::tls_client);
      boost::system::error_code ec;
      if (options_.tls.caFile.empty())
        sslContext_->set_default_verify_paths(ec);
      else
        sslContext_->load_verify_file(options_.tls.caFile, ec);
      if (!ec && !options_.tls.certFile.empty()) sslContext_->use_certificate_chain_file(options_.tls.certFile, ec);
      if (!ec && !options_.tls.keyFile.empty())
        sslContext_->use_private_key_file(options_.tls.keyFile, ssl::context::pem, ec);
      if (ec) return finish(Error::TlsSetup);
      sslContext_->set_verify_mode(options_.tls.verifyPeer ? ssl::verify_peer : ssl::verify_none);
    }
    connect();
  }

  tcp::socket& lowest() { return tls_ ? tls_->next_layer() : *plain_; }

  void armIdle() {
    idle_.expires_after(options_.idleTimeout);
    idle_.async_wait([self = shared_from_this(), gen = generation_](const boost::system::error_code& ec) {
      if (ec || gen != self->generation_) return;
      boost::system::error_code ignored;
      self->lowest().close(ignored);  // the pending operation fails, and the download resumes
    });
  }

  void connect() {
    ++generation_;
    ++result_.connections;
    plain_.reset();
    tls_.reset();
    if (url_.tls) {
      tls_.emplace(strand_, *sslContext_);
      const std::string& name = options_.tls.serverName.empty() ? url_.host : options_.tls.serverName;
      SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
      if (options_.tls.verifyPeer) tls_->set_verify_callback(ssl::host_name_verification(name));
    } else {
      plain_.emplace(strand_);
    }
    armIdle();
    resolver_.async_resolve(
        url_.host, url_.port,
        [self = shared_from_this()](const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
          if (ec) return self->cut(ec);
          net::async_connect(self->lowest(), results,
                             [self](const boost::system::error_code& ec, const tcp::endpoint&) {
                               if (ec) return self->cut(ec);
                               self->onConnected();
                             });
        });
  }

  void onConnected() {
    if (!tls_) return sendRequest();
    armIdle();
    tls_->async_handshake(ssl::stream_base::client, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->cut(ec);
      self->sendRequest();
    });
  }

  template <class F>
  void withStream(F&& f) {
    if (tls_)
      f(*tls_);
    else
      f(*plain_);
  }

  void sendRequest() {
    request_ = "GET " + url_.target + " HTTP/1.1\r\nHost: " + url_.host + ":" + url_.port +
               "\r\nUser-Agent: fakecloud-client\r\nConnection: close\r\n";
    if (received_ > 0) {
      request_ += "Range: bytes=" + std::to_string(received_) + "-\r\n";
      if (!etag_.empty()) request_ += "If-Range: " + etag_ + "\r\n";
    }
    request_ += "\r\n";
    armIdle();
    withStream([this](auto& s) {
      net::async_write(s, net::buffer(request_),
                       [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                         if (ec) return self->cut(ec);
                         self->readHead();
                       });
    });
  }

  void readHead() {
    head_.clear();
    armIdle();
    withStream([this](auto& s) {
      net::async_read_until(s, net::dynamic_buffer(head_, 64 * 1024), "\r\n\r\n",
                            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                              if (ec) return self->cut(ec);
                              self->onHead(n);
                            });
    });
  }

  void onHead(std::size_t headLength) {
    const std::string head = head_.substr(0, headLength);
    const std::string leftover = head_.substr(headLength);
    const auto lineEnd = head.find("\r\n");
    const std::string statusLine = head.substr(0, lineEnd);
    if (statusLine.rfind("HTTP/1.", 0) != 0 || statusLine.size() < 12) return finish(Error::BadResponse);
    const auto status = number(std::string_view(statusLine).substr(9, 3));
    if (!status) return finish(Error::BadResponse);
    result_.status = static_cast<int>(*status);
    std::optional<std::uint64_t> length;
    std::string contentRange;
    for (std::size_t pos = lineEnd + 2; pos < head.size();) {
      const auto end = head.find("\r\n", pos);
      const std::string line = head.substr(pos, end - pos);
      pos = end == std::string::npos ? head.size() : end + 2;
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string name = lower(line.substr(0, colon));
      const std::string value = trim(std::string_view(line).substr(colon + 1));
      if (name == "content-length")
        length = number(value);
      else if (name == "content-range")
        contentRange = value;
      else if (name == "etag")
        etag_ = value;
    }
    if (!length) return finish(Error::BadResponse);
    if (*status == 200) {
      if (received_ > 0) {  // the server ignored the range (or If-Range no longer matched): start over
        data_.clear();
        received_ = 0;
        digests_.restart();
      }
      total_ = *length;
    } else if (*status == 206) {
      // "bytes first-last/total": it must continue exactly where the bytes so far end.
      std::uint64_t first = 0, last = 0, total = 0;
      const auto dash = contentRange.find('-'), slash = contentRange.find('/');
      if (contentRange.rfind("bytes ", 0) != 0 || dash == std::string::npos || slash == std::string::npos)
        return finish(Error::BadResponse);
      const auto f = number(std::string_view(contentRange).substr(6, dash - 6));
      const auto l = number(std::string_view(contentRange).substr(dash + 1, slash - dash - 1));
      const auto t = number(std::string_view(contentRange).substr(slash + 1));
      if (!f || !l || !t) return finish(Error::BadResponse);
      first = *f, last = *l, total = *t;
      if (first != received_ || last + 1 - first != *length || last + 1 != total) return finish(Error::BadResponse);
      if (first > 0) ++result_.resumes;
      total_ = total;
    } else if (*status >= 500 && *status < 600) {
      return cut(make_error_code(Error::HttpStatus));  // a server error may pass: try again
    } else {
      return finish(Error::HttpStatus);
    }
    if (total_ > options_.maxBytes) return finish(Error::TooLarge);
    remaining_ = *length;
    if (progress_) progress_(received_, total_);
    consume(reinterpret_cast<const std::uint8_t*>(leftover.data()), std::min<std::size_t>(leftover.size(), remaining_));
    readBody();
  }

  void consume(const std::uint8_t* p, std::size_t n) {
    if (n == 0) return;
    data_.insert(data_.end(), p, p + n);
    digests_.update(p, n);
    received_ += n;
    remaining_ -= n;
    if (progress_) progress_(received_, total_);
  }

  void readBody() {
    if (remaining_ == 0) return complete();
    armIdle();
    withStream([this](auto& s) {
      s.async_read_some(net::buffer(buffer_),
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                          self->consume(self->buffer_.data(), std::min<std::uint64_t>(n, self->remaining_));
                          if (self->remaining_ == 0) return self->complete();
                          if (ec) return self->cut(ec);
                          self->readBody();
                        });
    });
  }

  void close() {
    ++generation_;
    idle_.cancel();
    boost::system::error_code ignored;
    if (plain_ || tls_) lowest().close(ignored);
  }

  /// The connection failed or ended early: resume after a pause, while connections remain.
  void cut(std::error_code why) {
    close();
    lastCut_ = why;
    if (result_.connections >= options_.maxConnections) return finish(Error::DownloadIncomplete);
    retry_.expires_after(options_.retryDelay);
    retry_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->connect();
    });
  }
  void cut(const boost::system::error_code& ec) { cut(std::error_code(ec.value(), std::system_category())); }

  void complete() {
    close();
    auto [md5, sha256] = digests_.finish();
    result_.md5 = md5;
    result_.sha256 = sha256;
    if ((!options_.md5.empty() && lower(options_.md5) != md5) ||
        (!options_.sha256.empty() && lower(options_.sha256) != sha256)) {
      result_.data = std::move(data_);
      return finish(Error::DigestMismatch);
    }
    result_.data = std::move(data_);
    finish(std::error_code{});
  }

  void finish(std::error_code ec) {
    close();
    resolver_.cancel();
    retry_.cancel();
    if (auto done = std::move(done_)) {
      done_ = nullptr;
      done(ec, std::move(result_));
    }
  }
  void finish(Error e) { finish(make_error_code(e)); }

  DownloadOptions options_;
  DownloadProgress progress_;
  DownloadDone done_;
  net::strand<net::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  net::steady_timer idle_;
  net::steady_timer retry_;
  std::optional<ssl::context> sslContext_;
  std::optional<tcp::socket> plain_;
  std::optional<ssl::stream<tcp::socket>> tls_;
  std::uint64_t generation_ = 0;  // bumped per connection and close, so a stale idle timer does nothing

  Url url_;
  std::string request_;
  std::string head_;
  std::string etag_;
  std::array<std::uint8_t, 64 * 1024> buffer_{};
  std::vector<std::uint8_t> data_;
  Digests digests_;
  std::uint64_t received_ = 0, total_ = 0, remaining_ = 0;
  std::error_code lastCut_;
  DownloadResult result_;
};

}  // namespace

void downloadFirmware(net::io_context& ioc, DownloadOptions options, DownloadProgress progress, DownloadDone done) {
  std::make_shared<DownloadOp>(ioc, std::move(options), std::move(progress), std::move(done))->start();
}

Expected<DownloadResult, std::error_code> downloadFirmware(DownloadOptions options, DownloadProgress progress) {
  net::io_context ioc{1};
  std::error_code error;
  DownloadResult result;
  downloadFirmware(ioc, std::move(options), std::move(progress), [&](std::error_code ec, DownloadResult r) {
    error = ec;
    result = std::move(r);
  });
  ioc.run();
  if (error) return Unexpected(error);
  return result;
}

}  // namespace fc::client
