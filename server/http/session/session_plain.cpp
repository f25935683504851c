// The plain-HTTP session: the only translation unit that instantiates HTTP reads and writes over
// a bare TCP stream.
#include "server/http/session/http_session.hpp"

namespace fc::server::http::session {

void startPlain(boost::asio::ip::tcp::socket socket, const SessionContext& context) {
  std::make_shared<Session<boost::beast::tcp_stream>>(boost::beast::tcp_stream(std::move(socket)), context)->start();
}

}  // namespace fc::server::http::session
