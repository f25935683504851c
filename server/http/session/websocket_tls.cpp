// The event stream's WebSocket over TLS: the only translation unit that instantiates WebSocket
// reads and writes over TLS.
#include "server/http/session/websocket_session.hpp"

namespace fc::server::http::session {

void startWebSocket(TlsStream stream, StringRequest request, std::size_t maxBacklog, WebSocketOpened opened) {
  startWebSocketSession(std::move(stream), std::move(request), maxBacklog, opened);
}

}  // namespace fc::server::http::session
