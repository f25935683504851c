// What the HTTP listener's translation units share (server/http/session/): the session set-up each
// of them exports, and the conversion of a Beast request to the Router's plain ApiRequest. Only
// the .cpp files of the HTTP listener include this header; it keeps each composed operation
// (HTTP read/write over TCP, over TLS, WebSocket over either) instantiated in one file of its own,
// so the four compile in parallel (docs/benchmarks.md, "Compile time").
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/http/http_server.hpp"

namespace boost::asio::ssl {
class context;
}

namespace fc::server::http::session {

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
using StringRequest = boost::beast::http::request<boost::beast::http::string_body>;

/// What every session of one listener shares.
struct SessionContext {
  std::shared_ptr<const Router> router;
  std::shared_ptr<const std::vector<WebSocketRoute>> webSockets;
  HttpLimits limits;
};

/// Starts an HTTP/1.1 session on an accepted socket (its executor is the session's strand).
void startPlain(boost::asio::ip::tcp::socket socket, const SessionContext& context);  // session_plain.cpp
void startTls(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& tls,
              const SessionContext& context);  // session_tls.cpp

/// Subscribes, returns the unsubscribe function; called with the function that queues a text frame.
using WebSocketOpened = std::function<std::function<void()>(std::function<void(std::string)>)>;
/// Hands the session's stream to a WebSocket session that completes the upgrade of `request`.
void startWebSocket(boost::beast::tcp_stream stream, StringRequest request, std::size_t maxBacklog,
                    WebSocketOpened opened);  // websocket_plain.cpp
void startWebSocket(TlsStream stream, StringRequest request, std::size_t maxBacklog,
                    WebSocketOpened opened);  // websocket_tls.cpp

/// The request as the Router sees it (lower-case header names, path and query split).
ApiRequest toApiRequest(const StringRequest& request, bool tls);  // message.cpp
/// The same from the headers alone (a streamed upload's body is not in it).
ApiRequest toApiRequest(const boost::beast::http::request_header<>& header, bool tls);
/// The status line and headers of a response whose body is streamed (Content-Length from the
/// source; `Connection` as HTTP/`version` needs it to say `keepAlive`).
std::string streamedHead(const ApiResponse& response, bool keepAlive, unsigned version);
/// The Router's answer as a Beast response, prepared (Content-Length set).
std::shared_ptr<boost::beast::http::response<boost::beast::http::string_body>> toBeastResponse(ApiResponse response,
                                                                                               bool keepAlive,
                                                                                               unsigned version);

}  // namespace fc::server::http::session
