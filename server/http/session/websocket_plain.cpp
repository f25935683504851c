// The event stream's WebSocket over plain TCP: the only translation unit that instantiates
// WebSocket reads and writes over a bare TCP stream.
#include "server/http/session/websocket_session.hpp"

namespace fc::server::http::session {

void startWebSocket(boost::beast::tcp_stream stream, StringRequest request, std::size_t maxBacklog,
                    WebSocketOpened opened) {
  startWebSocketSession(std::move(stream), std::move(request), maxBacklog, opened);
}

}  // namespace fc::server::http::session
