// Outbound webhooks: JSON POSTed to URLs that API users hand in (a command's callbackUrl; later the
// OceanConnect subscriptions). A slow or dead receiver must never hold up the platform, so posts are
// queued and sent on the I/O threads; deliveries to one URL go out one at a time, in order, so a
// receiver sees a command's statuses in the order they happened.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/common/expected.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::server::http {

/// An absolute http:// or https:// URL split for a client: host (brackets removed from IPv6),
/// port (80/443 when absent) and target (path and query, "/" when absent).
struct HttpUrl {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string target;
};

/// Parses `url`; the error says what is wrong with it (scheme, host, port, fragment, spaces).
Expected<HttpUrl, std::string> parseHttpUrl(std::string_view url);

struct WebhookLimits {
  std::chrono::milliseconds timeout{5000};      // per attempt: resolve, connect, TLS, send, answer
  unsigned attempts = 3;                        // a 2xx answer ends them; anything else tries again
  std::chrono::milliseconds firstRetry{1000};   // then ×4 per further attempt (real time)
  std::size_t maxBacklog = 10'000;              // posts waiting, all URLs together; beyond: dropped, logged
};

struct WebhookStats {
  std::uint64_t delivered = 0;  // answered 2xx
  std::uint64_t failed = 0;     // gave up after every attempt
  std::uint64_t dropped = 0;    // refused for a full backlog or an unusable URL
};

class WebhookSender {
 public:
  /// `caFile` (may be empty) is trusted for https:// receivers besides the system's CAs, so a
  /// receiver using a certificate of fakecloud's local CA works too.
  WebhookSender(boost::asio::io_context& ioc, const std::string& caFile, WebhookLimits limits = {});
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  /// Queues a POST of `json` to `url`; safe from any thread.
  void post(std::string url, std::string json);
  /// Stops retry timers and forgets what is queued (shutdown).
  void stop();
  /// Counters so far, from any thread.
  WebhookStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::http
