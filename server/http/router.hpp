// HTTP routing on plain request/response structs, so handlers compile fast and test without Beast.
// Paths are patterns whose `{name}` segments bind parameters, and whose last segment may be
// `{name*}` to bind the rest of the path (one or more segments, joined with '/'); handlers answer
// synchronously or later through a Respond callback (when the work runs on another strand).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fc::server::core {
struct Failure;
}  // namespace fc::server::core

namespace fc::server::http {

struct ApiRequest {
  std::string method;  // "GET", "POST", …
  std::string path;    // without the query string
  std::string query;   // after '?', undecoded
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::map<std::string, std::string> params;   // bound `{name}` segments, percent-decoded
  bool tls = false;                            // came over the HTTPS listener

  /// A query parameter, percent-decoded ("a=1&b=x%20y" → queryParam("b") == "x y").
  std::optional<std::string> queryParam(std::string_view name) const;
};

/// A response body too large to hold in memory (a firmware image), read piece by piece on the
/// connection's strand while the listener writes it. It is also the download path's fault seam:
/// a wrapper may rewrite the bytes of a piece, hold a piece back (`delay`), or end the response
/// early (`close`), without the listener knowing why.
class BodySource {
 public:
  struct Piece {
    std::size_t bytes = 0;                  // filled at the front of the buffer; 0 without close or delay: the source failed
                                            // 0 with a delay and no close: nothing yet, read() is asked again after it
    std::chrono::milliseconds delay{0};     // wait this long before writing the piece
    bool close = false;                     // after writing the piece (if any), drop the connection
  };
  virtual ~BodySource() = default;
  /// The exact Content-Length.
  virtual std::uint64_t size() const = 0;
  /// The next bytes, at most `buffer.size()`.
  virtual Piece read(std::span<std::uint8_t> buffer) = 0;
  /// Called once when the response ends: `sent` body bytes were written, `complete` when all of
  /// size() were. Not called for HEAD, whose body is never read.
  virtual void finished(std::uint64_t sent, bool complete) = 0;
};

struct ApiResponse {
  int status = 200;
  std::string contentType = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers = {};
  /// When set, the body comes from here (`body` is ignored) with Content-Length = stream->size().
  std::shared_ptr<BodySource> stream = {};
  /// The listener writes the status line, headers and body as one buffer in one write, for
  /// devices that read a whole response with a single recv() (Gizwits GAgent).
  bool singleWrite = false;
};

/// Where a streamed request body goes (a firmware upload), piece by piece as it arrives.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  /// The next bytes of the body; an answer ends the upload with it (the rest of the body is read
  /// and discarded, then the connection closes).
  virtual std::optional<ApiResponse> write(std::span<const std::uint8_t> bytes) = 0;
  /// The body is complete: answer once, maybe later, from any thread.
  virtual void finish(std::function<void(ApiResponse)> respond) = 0;
  /// The connection ended before the body did.
  virtual void abort() = 0;
};

/// An upload route's look at a request whose headers have arrived: `answer` refuses it at once,
/// `sink` takes the body as it arrives; with neither, the body is read whole (within the usual
/// limit) and the route's ordinary handler for the method answers.
struct UploadStart {
  std::optional<ApiResponse> answer;
  std::shared_ptr<UploadSink> sink;
};

/// `{"error":{"code":…,"message":…}}` with the given status.
ApiResponse errorResponse(int status, const std::string& code, const std::string& message);
/// A platform failure as the REST API answers it: not_found 404, conflict 409, invalid 422,
/// too_many_commands 429 (a limit), internal 500.
ApiResponse failureResponse(const core::Failure& failure);
ApiResponse jsonResponse(int status, const std::string& json);

/// The request as HTTP/1.1 text, rebuilt from the parsed fields for a device's journal: request
/// line, headers (lower-case names, in name order, as they are kept), empty line, body.
std::vector<std::uint8_t> wireBytes(const ApiRequest& request);
/// The response likewise: status line, content-type, the handler's headers, content-length, body
/// (the listener adds `Server` and the connection headers when it writes it).
std::vector<std::uint8_t> wireBytes(const ApiResponse& response);

/// Decodes %XX and '+' (as space, in queries only); malformed escapes are kept as they are.
std::string percentDecode(std::string_view s, bool plusIsSpace);

/// RFC 9110 §15's reason phrase of a status the API answers with ("" for others).
std::string_view reasonPhrase(int status);

using Respond = std::function<void(ApiResponse)>;
using Handler = std::function<ApiResponse(const ApiRequest&)>;
using AsyncHandler = std::function<void(ApiRequest, Respond)>;
/// Looks at a request before any route does; an answer refuses it (e.g. 401 without a token).
using Guard = std::function<std::optional<ApiResponse>(const ApiRequest&)>;
/// Sees the headers of a request (its body empty) and decides how the body is taken.
using UploadHandler = std::function<UploadStart(const ApiRequest& headers)>;

struct RouteInfo {
  std::string method;
  std::string pattern;
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  void addAsync(std::string method, std::string pattern, AsyncHandler handler);
  /// Lets `method pattern` stream its request body (see UploadStart); the route still needs an
  /// ordinary handler for the bodies it does not stream.
  void addUpload(std::string method, std::string pattern, UploadHandler handler);
  /// For a request whose headers have arrived: the upload route's decision (a guard refusal is an
  /// answer), or nothing when the request's route does not stream bodies.
  std::optional<UploadStart> startUpload(const ApiRequest& headers) const;
  /// Every request (routes and WebSocket upgrades alike) passes the guard first.
  void setGuard(Guard guard);
  /// The guard's refusal, if it refuses the request.
  std::optional<ApiResponse> admit(const ApiRequest& request) const;

  /// Finds the route and runs it; `respond` is called exactly once, maybe later, maybe on another
  /// thread. 404 for an unknown path, 405 (with Allow) for a known path and another method; a
  /// literal segment wins over a `{parameter}` one, and an exact-length pattern over a `{rest*}`
  /// one with as many literals. Whatever a handler throws becomes a 500.
  void dispatch(ApiRequest request, Respond respond) const;
  /// For synchronous routes (tests, health): dispatch and return the response.
  ApiResponse handle(const ApiRequest& request) const;

  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string pattern;
    std::vector<std::string> segments;
    std::map<std::string, AsyncHandler> handlers;  // method → handler
    std::map<std::string, UploadHandler> uploads;  // method → upload handler
  };
  const Route* match(std::string_view path, std::map<std::string, std::string>& params) const;

  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace fc::server::http
