// fc::client::CoapClient — an asynchronous CoAP client (RFC 7252) over UDP on an io_context the
// caller runs. The protocol rules live in the sans-I/O fc::coap::Endpoint (retransmission, token
// matching, separate responses, block-wise transfers per RFC 7959, observe per RFC 7641); this
// class is the Asio binding: it owns one connected UDP socket and a timer, on its own strand.
//
// DTLS-PSK (coaps, RFC 7252 §9.1.3.1) when CoapOptions::dtls is set: a fc::dtls::DtlsClient sits
// between the socket and the endpoint, which still sees plaintext datagrams for peer "server". The
// handshake starts with the first datagram the endpoint sends; what the endpoint sends meanwhile
// waits and goes out once the session is established. A failed handshake fails every pending
// request with fc::client::Error::DtlsHandshakeFailed; after the session closes (close_notify,
// failure) the next datagram starts a new handshake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "protocols/common/expected.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::client {

/// DTLS-PSK credentials and suites for coaps (docs/dtls.md).
struct CoapDtlsOptions {
  std::string identity;
  std::vector<std::uint8_t> key;
  std::vector<std::string> ciphers;  ///< IANA or OpenSSL names; empty: the four fc::dtls::defaultCiphers()
  std::chrono::milliseconds handshakeTimeout{30'000};
  std::chrono::milliseconds retransmitInitial{1000};  ///< first handshake retransmission (RFC 6347 §4.2.4.1)
};

struct CoapOptions {
  std::string host = "127.0.0.1";             ///< an address or a name to resolve
  std::uint16_t port = 5683;                  ///< 5684 for coaps
  fc::coap::TransmissionParams transmission;  ///< RFC 7252 §4.8 (defaults: the RFC's)
  fc::coap::EndpointLimits limits;            ///< responseTimeout, maxSzx …
  std::optional<CoapDtlsOptions> dtls;        ///< set: coaps (DTLS-PSK); unset: plain UDP
};

/// Where the coaps session stands (all empty for plain UDP).
struct CoapDtlsStatus {
  bool established = false;
  std::string cipher;            ///< IANA name of the suite the last handshake negotiated
  std::string lastFailure;       ///< why the last handshake failed or the last session closed
  std::uint64_t handshakes = 0;  ///< handshakes completed so far
};

/// A block-wise download's choices (RFC 7959 §2.4).
struct BlockDownloadOptions {
  std::uint8_t szx = fc::coap::kMaxSzx;  ///< blocks of 2^(szx+4) bytes asked for (the server may answer smaller)
  std::uint32_t fromBlock = 0;           ///< resume: the first block to fetch, in blocks of `szx`
  /// The ETag of the blocks fetched before (a resume): a block with another ETag ends the download
  /// with RequestError::BlockMismatch — the representation changed, start again from block 0.
  std::optional<std::vector<std::uint8_t>> etag;
};

/// How a block-wise download ended, and where to resume it.
struct BlockDownloadResult {
  /// Empty once the last block (M clear) came; else fc::coap::RequestError (Timeout, Reset,
  /// BlockMismatch: another ETag, a block out of sequence or short), Error::ErrorResponse (`code`
  /// says which), or a transport error.
  std::error_code error;
  std::optional<fc::coap::Code> code;  ///< the error response's code (4.04, 5.03 …)
  std::uint64_t offset = 0;            ///< bytes through the last block received: the resume offset
  std::uint8_t szx = fc::coap::kMaxSzx;  ///< the block size in use (the server's, when it chose smaller)
  std::uint32_t nextBlock = 0;          ///< the block to resume from, in blocks of `szx`
  std::vector<std::uint8_t> etag;       ///< the blocks' ETag (pass it back as BlockDownloadOptions::etag)
  std::optional<std::uint64_t> size;    ///< Size2, when the server sent it (RFC 7959 §4)
  std::uint32_t blocks = 0;             ///< blocks received by this call
};

/// A block's bytes as they arrive, in order: `offset` is where they start in the representation.
using BlockHandler = std::function<void(std::uint64_t offset, std::span<const std::uint8_t> bytes)>;

namespace detail {
class CoapConnection;
}

/// Every member function may be called from any thread; handlers run on the client's strand and
/// are not called once the destructor has started.
class CoapClient {
 public:
  using RequestId = fc::coap::Endpoint::RequestId;
  using Started = std::function<void(Expected<RequestId, fc::coap::RequestError>)>;
  using CompletionHandler = std::function<void(std::error_code)>;

  /// Resolves the host and opens the socket (failures are reported by each request as the
  /// transport's error code).
  CoapClient(boost::asio::io_context& ioc, CoapOptions options);
  ~CoapClient();
  CoapClient(const CoapClient&) = delete;
  CoapClient& operator=(const CoapClient&) = delete;

  /// Sends `request` (CON unless its type is NON; code, options, payload) and calls `done` once with
  /// the response — Block2 bodies reassembled, large payloads uploaded with Block1 — or the error
  /// (fc::coap::RequestError::Timeout, Reset …, or a transport error).
  void request(fc::coap::Message request, fc::coap::ResponseHandler done, fc::coap::RequestOptions options = {},
               Started started = {});
  /// RFC 7959 §2.4 block-wise GET of `request` (a GET; its Block2 is set here), one request per
  /// block from BlockDownloadOptions::fromBlock, each block handed to `onBlock` as it comes (nothing
  /// is accumulated here, so a firmware image need not fit in memory). The ETag must stay the same
  /// across blocks. `done` is called once with how it ended and where to resume.
  void download(fc::coap::Message request, BlockDownloadOptions options, BlockHandler onBlock,
                std::function<void(BlockDownloadResult)> done);
  /// RFC 7641: registers with Observe = 0 and calls `notify` with every fresh notification.
  void observe(fc::coap::Message request, fc::coap::NotificationHandler notify, Started started = {});
  /// Ends a request or observation (for an observation, `deregister` sends Observe = 1, RFC 7641 §3.6).
  void cancel(RequestId id, bool deregister = true);
  /// Serves `resource` to the server (requests the server sends this client, as an LwM2M server
  /// does); the handler runs on the client's strand and must not block.
  void addResource(fc::coap::Resource resource);
  /// RFC 7641 §4.2, the observed side: sends a notification (a 2.xx response with the observer's
  /// token and an Observe option; CON unless NON) with a fresh message id; `done` gets an error
  /// only when it cannot be encoded. A CON is retransmitted until acknowledged.
  void notify(fc::coap::Message notification, CompletionHandler done = {});
  /// Sends arbitrary bytes as one datagram (tests of malformed input); completes once sent.
  void sendRaw(std::vector<std::uint8_t> datagram, CompletionHandler done = {});

  [[nodiscard]] const CoapOptions& options() const noexcept;
  /// The coaps session's state; from any thread.
  [[nodiscard]] CoapDtlsStatus dtlsStatus() const;

 private:
  std::shared_ptr<detail::CoapConnection> impl_;
};

}  // namespace fc::client
