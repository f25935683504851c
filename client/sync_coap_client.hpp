// fc::client::SyncCoapClient — a blocking facade over CoapClient for tests. It owns an io_context
// and the thread that runs it; every call waits at most its timeout and reports failure as a value.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "client/coap_client.hpp"
#include "client/error.hpp"
#include "protocols/coap/endpoint.hpp"
#include "protocols/common/expected.hpp"

namespace fc::client {

/// Long enough for a few CoAP retransmissions (2 s, 4 s …) on a lossy loopback.
inline constexpr std::chrono::milliseconds kCoapTimeout{10'000};

class SyncCoapClient {
 public:
  /// One notification of an observation (RFC 7641), or its end.
  struct Notification {
    std::optional<fc::coap::Message> message;  ///< nullopt when the observation ended with an error
    std::error_code error;
    bool last = false;
  };

  explicit SyncCoapClient(CoapOptions options);
  ~SyncCoapClient();
  SyncCoapClient(const SyncCoapClient&) = delete;
  SyncCoapClient& operator=(const SyncCoapClient&) = delete;

  /// The response (any code), or the error: Error::Timeout when none came within `timeout`,
  /// fc::coap::RequestError::Timeout/Reset when the exchange failed.
  Expected<fc::coap::Message, std::error_code> request(fc::coap::Message request, fc::coap::RequestOptions options = {},
                                                       std::chrono::milliseconds timeout = kCoapTimeout);
  /// CON GET of `path` ("/.well-known/core" or "rd/5a3f"; a query after '?' becomes Uri-Query).
  Expected<fc::coap::Message, std::error_code> get(std::string_view path, fc::coap::RequestOptions options = {},
                                                   std::chrono::milliseconds timeout = kCoapTimeout);
  /// CON POST of `payload` to `path` with a Content-Format.
  Expected<fc::coap::Message, std::error_code> post(std::string_view path, std::string_view payload,
                                                    std::uint16_t contentFormat, fc::coap::RequestOptions options = {},
                                                    std::chrono::milliseconds timeout = kCoapTimeout);

  /// A block-wise download's bytes and how it ended.
  struct Download {
    BlockDownloadResult result;
    std::vector<std::uint8_t> bytes;  ///< the blocks received by this call, from the first one's offset
  };
  /// CoapClient::download of `path`, waiting for its end; result.error is Error::Timeout when it did
  /// not end within `timeout`.
  Download download(std::string_view path, BlockDownloadOptions options = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(120));

  /// Registers an observation; notifications queue up for nextNotification().
  Expected<CoapClient::RequestId, std::error_code> observe(fc::coap::Message request,
                                                           std::chrono::milliseconds timeout = kCoapTimeout);
  std::optional<Notification> nextNotification(std::chrono::milliseconds timeout = kCoapTimeout);
  void cancel(CoapClient::RequestId id, bool deregister = true);

  /// Sends one datagram as given; returns once it is sent.
  std::error_code sendRaw(std::vector<std::uint8_t> datagram, std::chrono::milliseconds timeout = kCoapTimeout);

  /// The asynchronous client underneath.
  [[nodiscard]] CoapClient& async() noexcept { return *client_; }

  /// A Message with `code` and the Uri-Path/Uri-Query of `path`.
  static fc::coap::Message makeRequest(fc::coap::Code code, std::string_view path);

 private:
  struct Shared;
  struct Io;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Io> io_;
  std::unique_ptr<CoapClient> client_;
};

}  // namespace fc::client
