// fc::client firmware downloads (issue 14): an HTTP/1.1 or HTTPS GET of a firmware URL that resumes
// with `Range: bytes=N-` (and `If-Range` with the ETag, RFC 9110 §13.1.5, §14.2) after the
// connection is cut or stalls, verifies MD5 and SHA-256 as the bytes arrive, and reports progress.
// Asynchronous on an io_context the caller runs (no thread of its own), with a blocking facade.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "client/error.hpp"
#include "client/mqtt_options.hpp"
#include "protocols/common/expected.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::client {

struct DownloadOptions {
  std::string url;     ///< http://host[:port]/path or https://…
  TlsOptions tls;      ///< for https: the CA (empty: the system's), serverName (empty: the URL's host), verifyPeer
  std::string md5;     ///< expected, hex (either case); empty: not checked
  std::string sha256;  ///< expected, hex (either case); empty: not checked
  std::uint32_t maxConnections = 8;               ///< connections tried in all, resumes included
  std::chrono::milliseconds retryDelay{100};      ///< before reconnecting after a cut
  std::chrono::milliseconds idleTimeout{10'000};  ///< no byte for this long: cut, then resume
  std::uint64_t maxBytes = 512ull << 20;          ///< a larger image is Error::TooLarge
};

struct DownloadResult {
  std::vector<std::uint8_t> data;
  std::string md5, sha256;        ///< of `data`, lower-case hex
  std::uint32_t connections = 0;  ///< connections made
  std::uint32_t resumes = 0;      ///< 206 answers that continued past byte 0
  int status = 0;                 ///< of the last response
};

/// Bytes so far and the image's size (0 while unknown); on the io_context's thread.
using DownloadProgress = std::function<void(std::uint64_t received, std::uint64_t total)>;
using DownloadDone = std::function<void(std::error_code, DownloadResult)>;

/// Starts a download on `ioc`; `done` runs once, on the io_context's thread. Errors: InvalidArgument
/// (URL), HttpStatus (an answer other than 200/206, e.g. 404; not retried), BadResponse (not HTTP,
/// a Content-Range that does not continue the bytes so far), TooLarge, DigestMismatch (the image
/// does not match md5/sha256), DownloadIncomplete (maxConnections used up), TlsSetup.
void downloadFirmware(boost::asio::io_context& ioc, DownloadOptions options, DownloadProgress progress,
                      DownloadDone done);

/// The same, blocking: runs a private io_context on the calling thread.
Expected<DownloadResult, std::error_code> downloadFirmware(DownloadOptions options, DownloadProgress progress = {});

}  // namespace fc::client
